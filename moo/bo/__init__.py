"""The BO proposal behind ``moo.sampler.QNEHVISampler``, free of Optuna.

``models`` fits the GPs (outcomes warped by ``warp``) and exact models of known
objectives, which ``features`` also hands the GPs as inputs;
``acquisitions`` builds the acquisition with one constructor per kind, ``optimize``
maximizes it by the route the search space calls for, and ``settings`` holds every
heuristic's default. The sampler reads the study, converts directions once and calls
these in that order.

Names are imported on first use (PEP 562): ``moo.bo.settings`` is plain Python, so a
study's YAML can be checked against ``ProposalSettings`` without loading torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Acquisition",
    "Hyperparameters",
    "KnownFeatures",
    "KnownObjective",
    "ProposalProblem",
    "ProposalSettings",
    "acquisition_name",
    "best_of",
    "build_acquisition",
    "fit_gp",
    "fit_model",
    "hyperparameters",
    "maximize",
    "reference_point",
]

_HOME = {
    "Acquisition": "problem",
    "Hyperparameters": "problem",
    "KnownFeatures": "features",
    "KnownObjective": "problem",
    "ProposalProblem": "problem",
    "ProposalSettings": "settings",
    "acquisition_name": "acquisitions",
    "build_acquisition": "acquisitions",
    "reference_point": "acquisitions",
    "fit_gp": "models",
    "fit_model": "models",
    "hyperparameters": "models",
    "best_of": "optimize",
    "maximize": "optimize",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'moo.bo' has no attribute {name!r}")
    return getattr(importlib.import_module(f"moo.bo.{_HOME[name]}"), name)
