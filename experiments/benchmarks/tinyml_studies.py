"""Issue-5 figures from finished TinyML studies: timings, best models, front, int8 check.

Usage (after the studies ran with their default storage, from the repository root)::

    OMP_NUM_THREADS=1 moo run experiments/quickstart.yaml
    OMP_NUM_THREADS=1 moo run experiments/kws_fsdd.yaml
    OMP_NUM_THREADS=1 moo run experiments/anomaly_gunpoint.yaml
    python -m experiments.benchmarks.tinyml_studies quickstart kws_fsdd anomaly_gunpoint

For each study: why and when it stopped, median seconds per phase of an evaluated trial,
the best quality (accuracy or AUC) after training and after compression, the ends and the
knee of the front, and how far the fake-quantized accuracy of the 8-bit models is from
the same model quantized to int8 by onnxruntime and run there. Writes
``results/tinyml_studies.md``.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from moo.keys import METRICS_KEY, SIBLING_KEY, STOP_REASON_KEY
from moo.results import front_trials, pick_trial
from moo.study import load_study

OUT = Path(__file__).resolve().parent / "results" / "tinyml_studies.md"
PHASES = ("train_s", "prune_s", "quant_s", "export_s", "cost_s")


def _metrics(trial: FrozenTrial) -> dict[str, float]:
    return dict(trial.user_attrs.get(METRICS_KEY, {}))


def _describe(trial: FrozenTrial, quality: str) -> str:
    p, m = trial.params, _metrics(trial)
    arch = p["arch"] + (f" x{p['width_mult']}" if "width_mult" in p else "")
    return (
        f"#{trial.number} {arch} {p['bits']}-bit, {p['prune_ratio']:.2f} "
        f"{p.get('prune_kind', '')} pruned, {p['device']}: {quality} {m[quality]:.3f}, "
        f"{m['latency_ms']:.3g} ms, {m['energy_mJ']:.3g} mJ, flash {m['flash_kB']:.1f} kB"
    )


def summarize(name: str) -> list[str]:
    study, config = load_study(name)
    quality = config.objective_names[0]
    trials = study.get_trials(deepcopy=False)
    own = [t for t in trials if SIBLING_KEY not in t.user_attrs]
    evaluated = [t for t in own if t.state.name == "COMPLETE" and "train_s" in t.user_attrs]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    lines = [
        f"## {name}",
        "",
        f"- stop: {study.user_attrs.get(STOP_REASON_KEY)} after {len(own)} proposed trials "
        f"({len(complete)} complete with siblings, "
        f"{sum(t.state.name == 'PRUNED' for t in own)} infeasible, "
        f"{sum(t.state.name == 'FAIL' for t in own)} failed)",
    ]
    fresh = [t for t in evaluated if t.user_attrs.get("cache") == "none"]
    if fresh:
        medians = ", ".join(
            f"{p} {statistics.median(t.user_attrs[p] for t in fresh):.2f}" for p in PHASES
        )
        lines.append(f"- median seconds per freshly trained trial (n={len(fresh)}): {medians}")
    best_trained = max(_metrics(t).get(f"{quality}_trained", np.nan) for t in complete)
    front = front_trials(study, config)
    energy = config.objective_names.index("energy_mJ")
    lines += [
        f"- best {quality} after training (float): {best_trained:.3f}",
        f"- front: {len(front)} trials",
        f"  - most {quality}: {_describe(max(front, key=lambda t: _metrics(t)[quality]), quality)}",
        f"  - knee: {_describe(pick_trial(study, config, 'knee'), quality)}",
        f"  - least energy: {_describe(min(front, key=lambda t: t.values[energy]), quality)}",
    ]
    pairs = [
        (_metrics(t)[quality], _metrics(t)[f"{quality}_ort_int8"])
        for t in evaluated
        if f"{quality}_ort_int8" in _metrics(t)
    ]
    if pairs:
        diff = np.array([abs(a - b) for a, b in pairs])
        lines.append(
            f"- int8: fake-quant vs onnxruntime int8 {quality} on {len(pairs)} 8-bit trials: "
            f"median |diff| {np.median(diff):.4f}, max {diff.max():.4f}, "
            f"identical in {int((diff == 0).sum())}"
        )
    return [*lines, ""]


def main(names: list[str]) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lines = [
        "# TinyML studies: what they found",
        "",
        "Command: `python -m experiments.benchmarks.tinyml_studies " + " ".join(names) + "`",
        "(after `moo run experiments/<study>.yaml` for each, seed 0, 2-core machine shared",
        "with a benchmark job, `OMP_NUM_THREADS=1`).",
        "",
    ]
    for name in names:
        lines += summarize(name)
        print("\n".join(lines[-9:]), flush=True)
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
