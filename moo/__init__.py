"""moo: multi-objective Bayesian optimization of edge-AI deployments.

The public API is re-exported here; the modules that implement it are the engine's own
layout and may move. Each name is imported on first use (PEP 562), not with the package:
every ``moo.*`` module runs this file first, and the commands that only read a study
(``moo status``, ``pareto``, ``export``) must not pay for torch and BoTorch, which the
sampler needs. A name is never also a submodule's (``moo.recommend`` is the module), so
``import moo.x`` cannot shadow it.

Example:
    >>> import moo
    >>> config = moo.load_study_config("experiments/synthetic_branincurrin.yaml")
    >>> study = moo.create_study(config)
    >>> moo.StudyRun(study, config).run()
"""

from __future__ import annotations

import importlib
from typing import Any

from moo import protocol

_HOMES = {
    "moo.config": ("StudyConfig", "load_study_config"),
    "moo.bo.settings": ("ProposalSettings",),
    "moo.convergence": ("AnyOf", "HypervolumeStall", "MaxTime", "MaxTrials", "StopRule"),
    "moo.errors": (
        "ConfigError",
        "EvaluationError",
        "MooError",
        "StorageError",
        "StudyNotFoundError",
    ),
    "moo.export": ("export_trial",),
    "moo.pareto": ("hypervolume", "non_dominated_mask"),
    "moo.protocol": tuple(protocol.__all__),  # standard library only: cheap
    "moo.report": ("write_report",),
    "moo.results": ("pick_trial", "trials_frame"),
    "moo.sampler": ("QNEHVISampler",),
    "moo.space": ("SearchSpace", "default_n_initial"),
    "moo.study": ("StudyRun", "create_study", "load_study"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_HOME_OF)


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'moo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
