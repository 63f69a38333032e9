"""How fast the TinyML adapter's ``known_metrics`` is, with the graph planned by arithmetic
and with the graph built as torch modules, in one run.

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.known_metrics_speed

The sampler calls ``known_metrics`` for every candidate it scores. Two adapters of the
quickstart (``experiments/quickstart.yaml``) answer it: the adapter as it is, whose graph
statistics come from ``_plan.planned_graph_stats``, and one whose graph is built and
walked as before (``_built.built_graph_stats``). Both time the same
``--configs`` Sobol configs of the quickstart's space from an empty cache, alternating,
``--repeats`` times each (the median is reported), and every metric of every config must
be equal between them or the run fails. Then each adapter drives one BO proposal of the
quickstart's sampler on the same 41-trial history (``quickstart_wall_time.history_study``),
which must propose the same config. Writes ``results/known_metrics_speed.md``.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from experiments.benchmarks.quickstart_wall_time import history_study
from moo.config import load_study_config
from objectives.hardware import GraphStats
from objectives.tinyml import Classifier
from objectives.tinyml._arch import ArchSpec
from objectives.tinyml._built import built_graph_stats
from objectives.tinyml._settings import Compression

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "results" / "known_metrics_speed.md"
_SOBOL_SEED = 1  # not the study's seed 0: other configs than the proposal's history
_ROWS = ("torch_ms", "planned_ms", "torch_proposal_s", "planned_proposal_s")


class TorchBuiltGraphs(Classifier):
    """The quickstart's adapter with the graph statistics of the previous release: each
    config's pruned network built as torch modules and walked."""

    def _graph_uncached(self, arch: ArchSpec, compression: Compression) -> GraphStats:
        return built_graph_stats(arch, self.task, compression)


def _adapter(cls: type[Classifier]) -> Classifier:
    options = load_study_config(ROOT / "experiments" / "quickstart.yaml").objective.options
    return cls(**options)


def time_known_metrics(
    cls: type[Classifier], configs: list[dict[str, Any]]
) -> tuple[float, list[dict[str, float]]]:
    """Seconds per config of a fresh adapter's ``known_metrics`` over ``configs``, and
    the metrics."""
    adapter = _adapter(cls)
    started = time.perf_counter()
    metrics = [adapter.known_metrics(config) for config in configs]
    return (time.perf_counter() - started) / len(configs), metrics


def time_proposal(cls: type[Classifier]) -> tuple[float, dict[str, Any]]:
    """Seconds of one BO proposal of the quickstart's sampler with a fresh adapter, and
    the config it proposes."""
    study, distributions = history_study(_adapter(cls))
    started = time.perf_counter()
    trial = study.ask(distributions)
    return time.perf_counter() - started, trial.params


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial otherwise
    warnings.simplefilter("ignore")  # BoTorch's and the sampler's, repeated every proposal
    space = load_study_config(ROOT / "experiments" / "quickstart.yaml").search_space()
    configs = space.sobol(args.configs, _SOBOL_SEED)
    seconds: dict[str, list[float]] = {name: [] for name in _ROWS}
    for _ in range(args.repeats):
        torch_s, torch_metrics = time_known_metrics(TorchBuiltGraphs, configs)
        planned_s, planned_metrics = time_known_metrics(Classifier, configs)
        if torch_metrics != planned_metrics:
            raise SystemExit("known_metrics differ between the planned and the torch-built graph")
        torch_proposal, torch_params = time_proposal(TorchBuiltGraphs)
        planned_proposal, planned_params = time_proposal(Classifier)
        if torch_params != planned_params:
            raise SystemExit(f"the proposals differ: {torch_params} and {planned_params}")
        seconds["torch_ms"].append(1e3 * torch_s)
        seconds["planned_ms"].append(1e3 * planned_s)
        seconds["torch_proposal_s"].append(torch_proposal)
        seconds["planned_proposal_s"].append(planned_proposal)
    figures = {name: statistics.median(values) for name, values in seconds.items()}
    command = shlex.join(
        [
            "OMP_NUM_THREADS=1",
            "python",
            "-m",
            "experiments.benchmarks.known_metrics_speed",
            f"--configs={args.configs}",
            f"--repeats={args.repeats}",
        ]
    )
    OUT.write_text(_markdown(figures, args.configs, args.repeats, command))
    print(OUT.read_text())
    return figures


def _markdown(figures: dict[str, float], n: int, repeats: int, command: str) -> str:
    rows = "\n".join(
        f"| {what} | {figures[f'torch_{unit}']:.2f} | {figures[f'planned_{unit}']:.2f} | "
        f"{figures[f'torch_{unit}'] / figures[f'planned_{unit}']:.1f}x |"
        for what, unit in (
            ("`known_metrics`, ms per config", "ms"),
            ("one BO proposal, s", "proposal_s"),
        )
    )
    return f"""# TinyML `known_metrics`: graph planned by arithmetic vs built as torch modules

Command (from the repository root, on the shared 2-core machine):

    {command}

The quickstart's adapter (`experiments/quickstart.yaml`: digits, Cortex-M0+/M4/M7), from an
empty cache, over {n} Sobol configs of its space; every metric of every config was equal
between the two. "torch-built" builds, prunes and folds each config's network and walks it
(`shaped_chain` + `module_graph_stats`, the path before this change); "planned" is
`_plan.planned_graph_stats`. Both load each device profile once per adapter (also part of
this change), so the torch-built figure is a little below the old adapter's. The proposal
is one BO proposal of the quickstart's sampler on the same 41-trial history, with a fresh
adapter; both proposed the same config. Medians of {repeats} alternating passes; timings
share the machine with other jobs: read the ratios.

| | torch-built | planned | ratio |
|---|---|---|---|
{rows}
"""


if __name__ == "__main__":
    main()
