"""Per-trial timings and peak memory of the TinyML adapters on this machine.

Each workload is one trial of ``objectives.tinyml`` end to end (train, prune + fine-tune,
QAT + calibration + onnxruntime int8, ONNX export, graph statistics + cost on every
device), repeated with fresh caches and different seeds; the medians are reported. FSDD
features are computed once before the timed trials (they are cached on disk in a study).
Each workload runs in its own process, so its peak resident memory (``ru_maxrss``) is its
own. A last row times a repeated trial, served from the model cache.

Command (writes experiments/benchmarks/results/tinyml_timings.md):

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/tinyml_timings.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from objectives.protocol import EvalContext
from objectives.tinyml import Classifier
from objectives.tinyml._data import load_task

ROOT = Path(__file__).resolve().parents[2]
FSDD = ROOT.parent / "shared" / "data" / "fsdd"
RESULTS = ROOT / "experiments" / "benchmarks" / "results" / "tinyml_timings.md"
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/tinyml_timings.py"
PHASES = ("train_s", "prune_s", "quant_s", "export_s", "cost_s")
COMPRESSION = {"bits": 8, "prune_ratio": 0.25, "prune_kind": "structured"}

WORKLOADS: dict[str, dict[str, Any]] = {
    "digits_cnn": {
        "label": "digits CNN (2 blocks x 16 ch, 3x3)",
        "options": {"task": "digits"},
        "config": {"arch": "cnn", "blocks": 2, "channels": 16, "kernel": 3},
        "devices": ["cortex_m0plus", "cortex_m4", "cortex_m7"],
    },
    "fsdd_dscnn": {
        "label": "FSDD DS-CNN (3 blocks x 32 ch, 3x3)",
        "options": {"task": "fsdd", "data_dir": str(FSDD)},
        "config": {"arch": "dscnn", "blocks": 3, "channels": 32, "kernel": 3},
        "devices": ["cortex_m4", "cortex_m7", "cortex_m33", "cortex_m55", "ethos_u55"],
    },
    "fsdd_dscnn_mlperf": {
        "label": "FSDD DS-CNN, MLPerf Tiny size (4 blocks x 64 ch)",
        "options": {"task": "fsdd", "data_dir": str(FSDD)},
        "config": {"arch": "dscnn", "blocks": 4, "channels": 64, "kernel": 3},
        "devices": ["cortex_m4", "cortex_m7", "cortex_m33", "cortex_m55", "ethos_u55"],
    },
}


def run_workload(name: str, repeats: int) -> dict[str, Any]:
    """Time ``repeats`` trials of one workload in this process (seeds 0.., so no cache hits)."""
    torch.set_num_threads(1)
    spec = WORKLOADS[name]
    devices = spec["devices"]
    config = {**spec["config"], **COMPRESSION, "device": devices[1]}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        start = time.perf_counter()
        load_task(spec["options"]["task"], data_dir=FSDD, cache_dir=cache / "features")
        setup_s = time.perf_counter() - start  # feature extraction, once per study
        adapter = Classifier(devices=devices, cache_dir=cache, **spec["options"])
        trials = []
        for seed in range(repeats):
            start = time.perf_counter()
            result = adapter.evaluate(config, EvalContext(seed=seed, workdir=cache))
            total = time.perf_counter() - start
            assert result.attrs["cache"] == "none"
            trials.append(
                {"total_s": total, **{p: result.attrs[p] for p in PHASES}, **result.metrics}
            )
        start = time.perf_counter()
        adapter.evaluate(config, EvalContext(seed=0, workdir=cache))
        cached_s = time.perf_counter() - start
    rss_MiB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"setup_s": setup_s, "trials": trials, "cached_s": cached_s, "peak_rss_MiB": rss_MiB}


def _median(trials: list[dict[str, Any]], key: str) -> float:
    return statistics.median(t[key] for t in trials if key in t)


def _table(results: dict[str, dict[str, Any]]) -> list[str]:
    head = "| workload | trials | " + " | ".join(PHASES) + " | total_s | cached trial_s | "
    head += "peak RSS (MiB) | accuracy | accuracy_ort_int8 | MACs |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, res in results.items():
        trials = res["trials"]
        phases = " | ".join(f"{_median(trials, p):.2f}" for p in PHASES)
        lines.append(
            f"| {WORKLOADS[name]['label']} | {len(trials)} | {phases} | "
            f"{_median(trials, 'total_s'):.2f} | {res['cached_s']:.3f} | "
            f"{res['peak_rss_MiB']:.0f} | "
            f"{_median(trials, 'accuracy'):.3f} | {_median(trials, 'accuracy_ort_int8'):.3f} | "
            f"{_median(trials, 'macs'):.0f} |"
        )
    return lines


def write_report(results: dict[str, dict[str, Any]], repeats: dict[str, int]) -> str:
    lines = [
        "# TinyML adapter: per-trial timings and peak memory",
        "",
        f"Command: `{COMMAND}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        "(shared with other jobs while measured, so times are upper bounds); torch "
        f"{torch.__version__}, 1 torch thread.",
        "",
        "One trial = train (task default epochs) + structured pruning at 25 % and its "
        "fine-tune + 8-bit QAT with calibration + onnxruntime static int8 quantization and "
        "scoring + ONNX export + graph statistics and cost on every device of the study. "
        "Fresh caches and a different seed per trial; medians over trials, seconds. "
        "`cached trial_s`: the same trial again, served from the model cache. "
        "FSDD MFCC features are computed once before the timed trials "
        + ", ".join(
            f"({results[n]['setup_s']:.1f} s for {n})" for n in results if n.startswith("fsdd")
        )
        + ".",
        "",
        *_table(results),
        "",
        "Per-trial values:",
        "",
    ]
    for name, res in results.items():
        totals = ", ".join(f"{t['total_s']:.1f}" for t in res["trials"])
        lines.append(f"- {name} ({repeats[name]} trials): total_s {totals}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", choices=sorted(WORKLOADS), help="run one workload, print JSON")
    parser.add_argument("--repeats", type=int, default=0, help="trials per workload")
    parser.add_argument("--workloads", nargs="*", default=sorted(WORKLOADS))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_workload(args.one, args.repeats)))
        return
    repeats = {name: args.repeats or (5 if name == "digits_cnn" else 3) for name in args.workloads}
    results = {}
    for name in args.workloads:
        cmd = [sys.executable, __file__, "--one", name, "--repeats", str(repeats[name])]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
        print(name, json.dumps({k: v for k, v in results[name].items() if k != "trials"}))
    report = write_report(results, repeats)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
