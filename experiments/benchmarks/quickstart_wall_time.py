"""Where the quickstart's wall time goes: training, the rest of each evaluation, the
sampler's proposals, and the engine and storage around them.

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.quickstart_wall_time

Runs ``experiments/quickstart.yaml`` as ``moo run`` does (SQLite in a temporary folder,
its own stop rule) and splits the wall time from what each proposed trial stored: the
adapter's ``train_s``, ``prune_s``, ``quant_s``, ``export_s``, ``cost_s`` and the
sampler's ``moo:propose_s`` (Sobol and BO proposals apart). What the trials' own spans
(``datetime_start`` to ``datetime_complete``) do not cover, and what they cover beyond
those parts, is the engine: storage writes, siblings, hypervolume, the stop rule.
Writes ``results/quickstart_wall_time.md``.

``--profile-proposal`` instead profiles one BO proposal of the quickstart's sampler (its
known latency and energy included) on 41 Sobol configs whose accuracy is drawn at random
(no training), and prints cProfile's top entries by cumulative time.
"""

from __future__ import annotations

import cProfile
import logging
import pstats
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution

from moo.config import StudyConfig, load_study_config
from moo.keys import PROPOSE_SECONDS_KEY, SIBLING_KEY
from moo.study import StudyRun, build_adapter, build_sampler, create_study

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
OUT = Path(__file__).resolve().parent / "results" / "quickstart_wall_time.md"
_ADAPTER_PARTS = ("train_s", "prune_s", "quant_s", "export_s", "cost_s")


def run_quickstart(
    folder: Path, config: StudyConfig | None = None
) -> tuple[optuna.Study, float, str]:
    """The quickstart study (or ``config``, a variant of it) run to its stop rule in
    ``folder``; its wall seconds and why it stopped."""
    config = config or load_study_config(QUICKSTART)
    study = create_study(config, storage=f"sqlite:///{folder}/quickstart.db")
    started = time.perf_counter()
    reason = StudyRun(study, config).run()
    return study, time.perf_counter() - started, reason


def breakdown(study: optuna.Study, wall_s: float) -> dict[str, float]:
    """Seconds per part of the run (see the module docstring)."""
    own = [t for t in study.get_trials(deepcopy=False) if SIBLING_KEY not in t.user_attrs]
    parts = {name: sum(float(t.user_attrs.get(name, 0.0)) for t in own) for name in _ADAPTER_PARTS}
    kind = [t.system_attrs.get("moo:proposal") for t in own]
    propose = [float(t.system_attrs.get(PROPOSE_SECONDS_KEY, 0.0)) for t in own]
    spans = sum(
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in own
        if t.datetime_complete and t.datetime_start
    )
    parts["propose_sobol_s"] = sum(s for s, k in zip(propose, kind, strict=True) if k == "sobol")
    parts["propose_bo_s"] = sum(s for s, k in zip(propose, kind, strict=True) if k == "bo")
    parts["engine_in_trials_s"] = spans - sum(parts.values())
    parts["engine_between_trials_s"] = wall_s - spans
    parts["trials"] = len(own)
    parts["bo_proposals"] = sum(k == "bo" for k in kind)
    return parts


def history_study(
    adapter: Any = None, n_history: int = 41
) -> tuple[optuna.Study, dict[str, BaseDistribution]]:
    """A study of the quickstart's sampler, one BO proposal away: ``n_history`` Sobol
    configs whose accuracy is drawn at random (no training) and whose latency and energy
    come from ``adapter`` (default: the quickstart's own); and its distributions."""
    config = load_study_config(QUICKSTART)
    adapter = adapter or build_adapter(config, source="quickstart")
    space = config.search_space()
    study = optuna.create_study(
        directions=config.directions, sampler=build_sampler(config, space, adapter)
    )
    distributions = space.to_optuna()
    rng = np.random.default_rng(0)
    for params in space.sobol(n_history, config.study.seed):
        metrics = adapter.known_metrics(params)
        values = [float(rng.uniform(0.6, 0.99)), metrics["latency_ms"], metrics["energy_mJ"]]
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, values=values)
        )
    return study, distributions


def profile_proposal() -> None:
    """Print where one BO proposal of the quickstart's sampler spends its time."""
    study, distributions = history_study()
    profiler = cProfile.Profile()
    profiler.enable()
    study.ask(distributions)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> dict[str, float]:
    argv = sys.argv[1:] if argv is None else argv
    if "--profile-proposal" in argv:
        profile_proposal()
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        study, wall_s, _ = run_quickstart(Path(tmp))
        parts = breakdown(study, wall_s)
    command = shlex.join(
        ["OMP_NUM_THREADS=1", "python", "-m", "experiments.benchmarks.quickstart_wall_time"]
    )
    OUT.write_text(_markdown(parts, wall_s, command))
    print(OUT.read_text())
    return parts


def _markdown(parts: dict[str, float], wall_s: float, command: str) -> str:
    seconds = {k: v for k, v in parts.items() if k.endswith("_s")}
    rows = "\n".join(
        f"| {name[:-2]} | {s:.1f} | {100 * s / wall_s:.0f}% |" for name, s in seconds.items()
    )
    return f"""# Quickstart: where the wall time goes

Command (from the repository root, on the shared 2-core machine):

    {command}

`experiments/quickstart.yaml` run to its stop rule: {parts["trials"]:.0f} proposed trials
({parts["bo_proposals"]:.0f} BO proposals), {wall_s:.1f} s of wall time. Parts are sums
over the proposed trials (siblings come free with them); `engine_in_trials` is the rest
of the trials' own spans (suggesting, checking, storing metrics and siblings),
`engine_between_trials` the time outside them (hypervolume, stop rule, storage reads).
Machine load from other jobs is in every figure.

| part | seconds | share of wall time |
|---|---|---|
{rows}
"""


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    main()
