"""Every config of the reduced digits space, trained and costed: the suite's ``digits`` table.

Command (writes experiments/benchmarks/results/digits_table.csv and digits_table.md)::

    OMP_NUM_THREADS=1 nice -n 5 python -m experiments.benchmarks.digits_table
        [--workdir /tmp/moo-digits-table] [--limit N]

The digits study (``experiments/quickstart.yaml``: ``objectives.tinyml:Classifier`` on
scikit-learn's 8x8 digits, three Cortex-M cores) on ``search_spaces/digits_reduced.yaml``:
arch x width_mult x bits x prune_ratio x prune_kind x device, 1080 configs. The size
parameters the reduced space leaves out are fixed (``FIXED``). Each model (a config
without its device, 360 of them) is evaluated once with the real adapter at seed 0 on the
first core; the adapter costs it on the other two as siblings, so it is trained once for
all three. At ``prune_ratio`` 0 both prune kinds are the same model (a cache hit).
The adapter's cache lives in ``--workdir``, so a rerun reuses the trained models. The
full table took 4.1 min on 2 shared cores (0.68 s per model: 9 trainings, the rest
compressions of a cached network), so the grid was not shrunk.

``--limit N`` evaluates N models spread over the grid, prints their mean time and the
estimated total, and writes nothing. The CSV has one row per config: the parameters,
``accuracy``, ``latency_ms``, ``energy_mJ``, ``flash_kB``, ``sram_kB`` and ``feasible``
(flash and SRAM fit the core; every config of this grid does).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from moo.space import SearchSpace
from objectives.protocol import EvalContext, TrialResult
from objectives.tinyml import Classifier

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "search_spaces" / "digits_reduced.yaml"
RESULTS = ROOT / "experiments" / "benchmarks" / "results"
COMMAND = "OMP_NUM_THREADS=1 nice -n 5 python -m experiments.benchmarks.digits_table"
DEFAULT_WORKDIR = Path("/tmp/moo-digits-table")
SEED = 0
#: tinyml_digits.yaml's size parameters at a mid value of their ranges.
FIXED: dict[str, Any] = {"depth": 2, "width": 64, "blocks": 2, "channels": 16, "kernel": 3}
METRICS = ("accuracy", "latency_ms", "energy_mJ", "flash_kB", "sram_kB")


def _rows(config: dict[str, Any], result: TrialResult) -> list[dict[str, Any]]:
    """One row per device: the evaluated config and its siblings."""
    variants = [(config, result.metrics, result.constraints)]
    variants += [({**config, **s.overrides}, s.metrics, s.constraints) for s in result.siblings]
    return [
        {
            **{name: params[name] for name in config if name not in FIXED},
            **{name: metrics[name] for name in METRICS},
            "feasible": all(value <= 0 for value in constraints.values()),
        }
        for params, metrics, constraints in variants
    ]


def evaluate_models(
    adapter: Classifier, models: list[dict[str, Any]], workdir: Path
) -> tuple[list[dict[str, Any]], list[float], dict[str, int]]:
    """Evaluate each model config; returns the rows, seconds per model and cache levels."""
    context = EvalContext(seed=SEED, workdir=workdir)
    rows, seconds, levels = [], [], {}
    start = time.perf_counter()
    for k, model in enumerate(models, 1):
        config = {**FIXED, **model}
        tick = time.perf_counter()
        result = adapter.evaluate(config, context)
        seconds.append(time.perf_counter() - tick)
        level = result.attrs["cache"]
        levels[level] = levels.get(level, 0) + 1
        rows += _rows(config, result)
        eta = (time.perf_counter() - start) / k * (len(models) - k)
        params = " ".join(f"{name}={value}" for name, value in model.items() if name != "device")
        print(
            f"[{k}/{len(models)}] {params}: accuracy {result.metrics['accuracy']:.3f}, "
            f"{seconds[-1]:.1f} s ({level}), eta {eta / 60:.1f} min",
            flush=True,
        )
    return rows, seconds, levels


def _report(command: str, frame: pd.DataFrame, seconds: list[float], levels: dict[str, int]) -> str:
    # Imported here: the problem reads the CSV this script has just written.
    from experiments.benchmarks.suite.problems import get_problem

    problem = get_problem("digits")
    feasible = int(frame["feasible"].sum())
    ref = ", ".join(f"{v:.4f}" for v in problem.reference_point)
    return "\n".join(
        [
            "# Digits table: the reduced digits space, every config evaluated",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs), "
            f"torch {torch.__version__}, 1 torch thread. Seed {SEED}; fixed {FIXED}.",
            "",
            f"- configs: {len(frame)} ({feasible} feasible, {len(frame) - feasible} infeasible)",
            f"- models evaluated: {len(seconds)} (cache levels {levels}), "
            f"{sum(seconds) / 60:.1f} min in all, mean {statistics.mean(seconds):.2f} s, "
            f"median {statistics.median(seconds):.2f} s, max {max(seconds):.1f} s per model",
            f"- accuracy {frame['accuracy'].min():.3f} .. {frame['accuracy'].max():.3f}, "
            f"latency {frame['latency_ms'].min():.3g} .. {frame['latency_ms'].max():.3g} ms, "
            f"energy {frame['energy_mJ'].min():.3g} .. {frame['energy_mJ'].max():.3g} mJ",
            f"- suite problem `digits` ({', '.join(problem.objective_names)}, minimized): "
            f"reference point ({ref}), max HV {problem.max_hv:.6f}",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="adapter cache")
    parser.add_argument("--limit", type=int, help="time N spread-out models, write nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    space = SearchSpace.from_yaml(SPACE)
    devices = space.parameters["device"].choices  # type: ignore[union-attr]
    adapter = Classifier(task="digits", devices=devices)
    configs = space.decode(space.grid_points())
    models = [config for config in configs if config["device"] == devices[0]]
    if args.limit:
        picked = models[:: max(1, len(models) // args.limit)][: args.limit]
        _, seconds, _ = evaluate_models(adapter, picked, args.workdir)
        mean = statistics.mean(seconds)
        print(f"{mean:.2f} s per model: about {mean * len(models) / 60:.0f} min for all")
        return
    rows, seconds, levels = evaluate_models(adapter, models, args.workdir)
    frame = pd.DataFrame(rows)
    command = " ".join([COMMAND, *argv])
    csv_path = RESULTS / "digits_table.csv"
    with csv_path.open("w", newline="") as f:
        f.write(f"# command: {command}\n")
        frame.to_csv(f, index=False)
    (RESULTS / "digits_table.md").write_text(_report(command, frame, seconds, levels))
    print(f"wrote {csv_path} ({len(frame)} rows)", file=sys.stderr)


if __name__ == "__main__":
    main()
