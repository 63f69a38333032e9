"""Objective adapters and hardware models for moo studies.

Adapters are loaded by dotted name from the study YAML (``objectives.tinyml:Classifier``),
so this package depends on nothing in ``moo``.
"""

from objectives.protocol import Adapter, EvalContext, Sibling, TrialResult

__all__ = ["Adapter", "EvalContext", "Sibling", "TrialResult"]
