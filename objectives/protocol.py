"""The adapter protocol, re-exported where adapters have always imported it.

The protocol is the engine's (``moo.protocol``); this module keeps ``from
objectives.protocol import TrialResult`` working for every adapter written against it.
"""

from moo.protocol import (
    Adapter,
    AdapterError,
    Config,
    Domain,
    EvalContext,
    Sibling,
    TrialResult,
    Workload,
    space_problems,
)

__all__ = [
    "Adapter",
    "AdapterError",
    "Config",
    "Domain",
    "EvalContext",
    "Sibling",
    "TrialResult",
    "Workload",
    "space_problems",
]
