"""Issue-16 figures: distillation, QAT vs PTQ and the order of compression.

Usage (from the repository root, FSDD in ``../shared/data/fsdd``)::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.compression_pipeline
        [--seeds 0 1 2] [--tasks digits fsdd] [--study-budget 12] [--part all|grid|studies]

Part 1, the grid: on each task one student architecture is trained per seed (and the
task's teacher once per seed), then compressed at every bits x prune ratio x prune kind
of the issue four ways, one choice changed at a time from the default (QAT, prune then
quantize, no distillation): with distillation (``T = 4``, ``alpha = 0.5``), with PTQ,
and quantized before pruning. Everything goes through ``objectives.tinyml.Classifier``
(real training, ONNX export, hardware costs), and the script asserts that the four
variants of a compression export the same graph: the same MACs, parameters, sparsity,
flash, SRAM, latency and energy on every device. Accuracy is the test accuracy of the
deployed (fake-quantized) model.

Part 2, the studies: the quickstart (digits) and KWS (FSDD) studies with a budget stop
rule, run per seed with the issue's new parameters in the space (``quant``,
``pipeline``, ``distill``, ``kd_temperature``, ``kd_alpha``) and without them (the
defaults), on one Sobol design size, sharing one model cache. Hypervolume after n
proposed trials, both arms of a seed on one scale (as ``known_objectives_digits``).

Writes ``results/compression_pipeline.md`` and ``results/compression_pipeline.png``
(``--part studies`` adds its rows to the part-2 table of an existing results file, so the
parts and the tasks can run as separate processes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import optuna
import torch

from experiments.benchmarks.known_objectives_digits import common_scale, hv_after
from moo.config import load_study_config, validate_study_config
from moo.study import StudyRun, create_study
from objectives.protocol import EvalContext
from objectives.tinyml import Classifier

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "benchmarks" / "results"
OUT = RESULTS / "compression_pipeline.md"
PLOT = RESULTS / "compression_pipeline.png"
COMMAND = "OMP_NUM_THREADS=1 python -m experiments.benchmarks.compression_pipeline"
FSDD_DIR = ROOT.parent / "shared" / "data" / "fsdd"

BITS = (2, 4, 8)
RATIOS = (0.5, 0.75)
KINDS = ("structured", "unstructured")
DEVICES = ("cortex_m0plus", "cortex_m4", "cortex_m7", "cortex_m55", "ethos_u55")
#: One student per task: a small CNN of the task's space, where compression costs accuracy.
STUDENTS: dict[str, dict[str, Any]] = {
    "digits": {"arch": "cnn", "blocks": 2, "channels": 8, "kernel": 3},
    "fsdd": {"arch": "cnn", "blocks": 2, "channels": 16, "kernel": 3},
}
#: Per-task training: the digits defaults; fewer FSDD epochs than its default (8 and 2)
#: to fit the shared 2-core machine.
OPTIONS: dict[str, dict[str, Any]] = {
    "digits": {"task": "digits"},
    "fsdd": {"task": "fsdd", "data_dir": str(FSDD_DIR), "epochs": 6, "finetune_epochs": 2},
}
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "distilled": {"distill": "logits", "kd_temperature": 4.0, "kd_alpha": 0.5},
    "ptq": {"quant": "ptq"},
    "quantize_then_prune": {"pipeline": "quantize_then_prune"},
}
#: Metrics that depend on the exported graph alone; equal across variants or a bug.
SHAPE_METRICS = ("macs", "params", "sparsity", "flash_kB", "sram_kB", "latency_ms", "energy_mJ")
#: The new parameters of part 2, as a study space writes them.
NEW_PARAMETERS: dict[str, dict[str, Any]] = {
    "quant": {"type": "categorical", "choices": ["qat", "ptq"]},
    "pipeline": {"type": "categorical", "choices": ["prune_then_quantize", "quantize_then_prune"]},
    "distill": {"type": "categorical", "choices": ["none", "logits"]},
    "kd_temperature": {"type": "ordinal", "values": [2.0, 4.0, 8.0]},
    "kd_alpha": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.1},
}
STUDIES = {"digits": "quickstart.yaml", "fsdd": "kws_fsdd.yaml"}
#: Sobol design of both arms of part 2 (the YAMLs' 16 and 12 leave few BO steps).
STUDY_INITIAL = 6
#: FSDD study training, reduced more than in part 1 to fit the machine.
STUDY_OPTIONS = {"fsdd": {"epochs": 3, "finetune_epochs": 1}}
PART_2 = "## Part 2"


def _shape(metrics: dict[str, float], siblings: Sequence[Any]) -> list[tuple[float, ...]]:
    rows = [tuple(metrics[k] for k in SHAPE_METRICS)]
    rows += [tuple(s.metrics[k] for k in SHAPE_METRICS) for s in siblings]
    return rows


def grid(task: str, seed: int, workdir: Path) -> list[dict[str, Any]]:
    """Every compression x variant of one task and seed; asserts equal exported graphs."""
    adapter = Classifier(devices=list(DEVICES), **OPTIONS[task])
    context = EvalContext(seed=seed, workdir=workdir)
    rows = []
    for bits in BITS:
        for ratio in RATIOS:
            for kind in KINDS:
                compression = {"bits": bits, "prune_ratio": ratio, "prune_kind": kind}
                base = {**STUDENTS[task], **compression, "device": DEVICES[0]}
                shapes = {}
                for variant, change in VARIANTS.items():
                    result = adapter.evaluate({**base, **change}, context)
                    shapes[variant] = _shape(result.metrics, result.siblings)
                    rows.append(
                        {
                            "task": task,
                            "seed": seed,
                            **compression,
                            "variant": variant,
                            "accuracy": result.metrics["accuracy"],
                            "trained": result.metrics["accuracy_trained"],
                            "train_seconds": result.metrics["train_seconds"],
                        }
                    )
                assert all(s == shapes["default"] for s in shapes.values()), (task, compression)
                print(
                    f"{task} seed {seed} {bits}-bit {ratio} {kind}: "
                    + ", ".join(f"{r['variant']} {r['accuracy']:.3f}" for r in rows[-4:]),
                    flush=True,
                )
    return rows


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def grid_table(rows: list[dict[str, Any]], task: str) -> list[str]:
    """Mean accuracy of the default and each variant's change in points, per compression."""
    lines = [
        f"### {task}",
        "",
        "| bits | prune | kind | default acc | distilled (pts) | PTQ (pts) | "
        "quantize then prune (pts) |",
        "|---|---|---|---|---|---|---|",
    ]
    deltas: dict[str, list[float]] = {v: [] for v in VARIANTS if v != "default"}
    for bits in BITS:
        for ratio in RATIOS:
            for kind in KINDS:
                cell = [
                    r
                    for r in rows
                    if (r["task"], r["bits"], r["prune_ratio"], r["prune_kind"])
                    == (task, bits, ratio, kind)
                ]
                by_seed: dict[int, dict[str, float]] = {}
                for r in cell:
                    by_seed.setdefault(r["seed"], {})[r["variant"]] = r["accuracy"]
                default = _mean([v["default"] for v in by_seed.values()])
                text = []
                for variant, collected in deltas.items():
                    diffs = [100 * (v[variant] - v["default"]) for v in by_seed.values()]
                    collected.extend(diffs)
                    spread = np.std(diffs) if len(diffs) > 1 else 0.0
                    text.append(f"{_mean(diffs):+.1f} +- {spread:.1f}")
                cells = " | ".join(text)
                lines.append(f"| {bits} | {ratio} | {kind} | {default:.3f} | {cells} |")
    own = [r for r in rows if r["task"] == task]
    default_mean = _mean([r["accuracy"] for r in own if r["variant"] == "default"])
    means = " | ".join(f"**{_mean(d):+.2f}**" for d in deltas.values())
    lines += [f"| **all** | | | {default_mean:.3f} | {means} |", ""]
    seconds = {v: _mean([r["train_seconds"] for r in own if r["variant"] == v]) for v in VARIANTS}
    trained = _mean([r["trained"] for r in own])
    lines += [
        f"Float accuracy of the student before compression: {trained:.3f}. Mean `train_seconds` "
        "(student training + fine-tunes, + the teacher's training when distilled): "
        + ", ".join(f"{v} {s:.1f} s" for v, s in seconds.items())
        + ".",
        "",
    ]
    return lines


def plot(rows: list[dict[str, Any]], tasks: Sequence[str]) -> None:
    fig, axes = plt.subplots(len(tasks), 1, figsize=(12, 3.6 * len(tasks)), squeeze=False)
    labels = [f"{b}b {r} {k[:5]}" for b in BITS for r in RATIOS for k in KINDS]
    width = 0.8 / len(VARIANTS)
    for ax, task in zip(axes[:, 0], tasks, strict=True):
        for i, variant in enumerate(VARIANTS):
            means = [
                _mean(
                    [
                        r["accuracy"]
                        for r in rows
                        if (r["task"], r["variant"], r["bits"], r["prune_ratio"], r["prune_kind"])
                        == (task, variant, b, ratio, k)
                    ]
                )
                for b in BITS
                for ratio in RATIOS
                for k in KINDS
            ]
            ax.bar(np.arange(len(labels)) + (i - 1.5) * width, means, width, label=variant)
        ax.set_xticks(np.arange(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{task}: same exported model, four ways to get its weights (seed mean)")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, ncols=4, loc="lower left")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def study(task: str, seed: int, budget: int, new: bool, storage: str) -> optuna.Study:
    config = load_study_config(ROOT / "experiments" / STUDIES[task])
    data = config.model_dump(mode="json")
    name = f"{task}_{'new' if new else 'old'}_{seed}"
    data["study"] = {**data["study"], "name": name, "seed": seed}
    data["objective"]["options"] = {**data["objective"]["options"], **STUDY_OPTIONS.get(task, {})}
    if task == "fsdd":
        data["objective"]["options"]["data_dir"] = str(FSDD_DIR)
    if new:
        data["space"]["parameters"] = {**data["space"]["parameters"], **NEW_PARAMETERS}
    data["sampler"] = {**data.get("sampler", {}), "n_initial": STUDY_INITIAL}
    data["stop"] = {**data.get("stop", {}), "rule": "budget", "max_trials": budget}
    validated = validate_study_config(data, source=f"{task} study")
    created = create_study(validated, storage=storage)
    StudyRun(created, validated).run()
    return created


def studies(
    tasks: Sequence[str], seeds: Sequence[int], budget: int, tmp: Path
) -> tuple[list[str], list[str]]:
    """The header and the rows of part 2's table."""
    points = sorted({n for n in (STUDY_INITIAL, 12, 16, 20, budget) if n <= budget})
    header = [
        f"{PART_2}: does the front move with the new parameters in the space?",
        "",
        f"Budget stop rule, {budget} proposed trials (+ their device siblings), Sobol design "
        f"of {STUDY_INITIAL} for both arms; FSDD trials train {STUDY_OPTIONS['fsdd']} epochs. "
        "Normalized hypervolume after n proposed trials (latency and energy in log10; both "
        "arms of a seed on one scale); higher is better.",
        "",
        "| task | seed | space | " + " | ".join(f"HV @ {n}" for n in points) + " |",
        "|---|---|---|" + "---|" * len(points),
    ]
    lines: list[str] = []
    for task in tasks:
        log = load_study_config(ROOT / "experiments" / STUDIES[task]).log_objectives
        gains = []
        for seed in seeds:
            storage = f"sqlite:///{tmp}/{task}_{seed}.db"
            arms = {new: study(task, seed, budget, new, storage) for new in (False, True)}
            scale = common_scale(list(arms.values()), log)
            hv = {new: [hv_after(s, n, scale, log) for n in points] for new, s in arms.items()}
            for new in (False, True):
                name = "with quant/pipeline/distill" if new else "bits and pruning only"
                values = " | ".join(f"{v:.4f}" for v in hv[new])
                lines.append(f"| {task} | {seed} | {name} | {values} |")
                print(lines[-1], flush=True)
            gains.append(hv[True][-1] - hv[False][-1])
        lines.append(
            f"| {task} | mean | new - old at {budget} | {_mean(gains):+.4f} (per seed: "
            + ", ".join(f"{g:+.4f}" for g in gains)
            + ") |"
        )
    return header, lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", default=["digits", "fsdd"], choices=list(STUDENTS))
    parser.add_argument("--study-budget", type=int, default=12)
    parser.add_argument("--part", choices=["all", "grid", "studies"], default="all")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    command = " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])])
    start = time.perf_counter()
    header = [
        "# Distillation, QAT vs PTQ and the order of compression",
        "",
        f"Command: `{command}` (2-core machine shared with other jobs).",
        "",
        "## Part 1: the same exported model, four ways to get its weights",
        "",
        f"Students: {STUDENTS}; teachers: `objectives.tinyml._arch.TEACHERS`. Training: "
        f"{OPTIONS} (FSDD epochs reduced from its defaults 8 and 2 to fit the machine). "
        f"Seeds {args.seeds}. Each row: the default (QAT, prune then quantize, no "
        "distillation) mean test accuracy, and each variant's change in accuracy points "
        "(variant - default, mean +- std over seeds). For every compression and seed the "
        "four variants export the same graph: asserted equal MACs, parameters, sparsity, "
        f"flash, SRAM, latency and energy on {list(DEVICES)}.",
        "",
    ]
    rows: list[dict[str, Any]] = []
    lines = list(header)
    with tempfile.TemporaryDirectory() as tmp:
        if args.part != "studies":
            for task in args.tasks:
                for seed in args.seeds:
                    rows += grid(task, seed, Path(tmp) / "grid")
                lines += grid_table(rows, task)
                OUT.write_text("\n".join(lines) + "\n")
            plot(rows, args.tasks)
            lines += [f"![accuracy per compression and variant]({PLOT.name})", ""]
            OUT.write_text("\n".join(lines) + "\n")
        if args.part != "grid":
            header, rows_2 = studies(args.tasks, args.seeds, args.study_budget, Path(tmp))
            if args.part == "studies":  # keep what the results file has, add these rows
                lines = OUT.read_text().rstrip("\n").split("\n")
                if not any(line.startswith(PART_2) for line in lines):
                    lines += ["", *header]
            else:
                lines += header
            lines += rows_2
    elapsed = f"{time.perf_counter() - start:.0f} s"
    if args.part == "studies":
        lines.append(f"| | | `{command}` took {elapsed} |")
    else:
        lines += ["", f"Time of this command: {elapsed}."]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
