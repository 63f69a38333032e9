"""The issue's side questions, answered from a results CSV.

- Known objectives and batches: the final hypervolume gap of a variant (``-known``,
  ``-q4``) over that of its base method, per problem (``10 ** (mean log10 gap)`` ratio:
  below 1 the variant is better).
- Convergence stop: the trial at which moo's ``HypervolumeStall`` rule would have stopped
  each run, and the share of the full-budget hypervolume reached there. The rule sees
  what it sees in a study, the hypervolume normalized by the initial design's ideal and
  inferred reference point; the share is of the problem's true hypervolume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moo.config import StopSection
from moo.convergence import HypervolumeStall, Progress, default_min_trials, hypervolume_history
from moo.history import inferred_scale

__all__ = ["STOP_SETTINGS", "share_table", "stop_table", "variant_table"]

VARIANTS: tuple[tuple[str, str], ...] = (
    ("moo-qlognehvi-known", "moo-qlognehvi"),
    ("moo-qlognehvi-q4", "moo-qlognehvi"),
    ("moo-qlognehvi-ref", "moo-qlognehvi"),
)
"""``(variant, base)`` pairs compared when both are in the results."""
_STOP_DEFAULTS = StopSection()
STOP_SETTINGS: tuple[tuple[int, float], ...] = (
    (_STOP_DEFAULTS.window, _STOP_DEFAULTS.tol),
    (10, 1e-3),
    (_STOP_DEFAULTS.window, 1e-3),
)
"""``(window, tol)`` replayed: the engine's default, the default it had until 2026-11-30,
and the same window with the old, tighter tolerance."""
STOP_METHOD = "moo-qlognehvi"


def _final(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[frame.groupby(["method", "problem", "seed"])["trial"].idxmax()]


def share_table(frame: pd.DataFrame) -> str:
    """Markdown: mean final hypervolume as a share of the true maximum, method x problem.

    The maximum is recovered from the rows themselves (``hv + 10 ** log10_gap``, from the
    row with the largest gap, far above the floor), so no problem needs loading.
    """
    widest = frame.loc[frame.groupby("problem")["log10_hv_gap"].idxmax()].set_index("problem")
    max_hv = widest["hypervolume"] + 10 ** widest["log10_hv_gap"]
    final = _final(frame)
    share = (
        (final["hypervolume"] / final["problem"].map(max_hv))
        .groupby([final["method"], final["problem"]])
        .mean()
    )
    problems = list(dict.fromkeys(frame["problem"]))
    lines = ["| method | " + " | ".join(problems) + " |", "|---" * (len(problems) + 1) + "|"]
    for method in dict.fromkeys(frame["method"]):
        cells = [
            f"{share[(method, p)]:.2%}" if (method, p) in share.index else "-" for p in problems
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def variant_table(frame: pd.DataFrame) -> str:
    """Markdown: per problem, the gap ratio variant / base and the seeds both ran."""
    final = _final(frame).set_index(["method", "problem", "seed"])["log10_hv_gap"]
    lines = ["| variant | base | problem | seeds | gap ratio (variant / base) |", "|---" * 5 + "|"]
    for variant, base in VARIANTS:
        for problem in dict.fromkeys(frame["problem"]):
            try:
                a, b = final.loc[(variant, problem)], final.loc[(base, problem)]
            except KeyError:
                continue
            seeds = a.index.intersection(b.index)
            if len(seeds):
                ratio = 10 ** (a[seeds].mean() - b[seeds].mean())
                lines.append(f"| {variant} | {base} | {problem} | {len(seeds)} | {ratio:.2f} |")
    if len(lines) == 2:
        return "No variant ran on the same problem and seed as its base."
    return "\n".join(lines)


def engine_hypervolume(values: pd.Series, n_initial: int) -> list[float]:
    """The normalized HV history a moo study would record for a run's ``values`` rows."""
    Z = np.array([[float(v) for v in row.split(";")] for row in values])
    ideal, ref = inferred_scale(Z[:n_initial])
    m = Z.shape[1]
    return hypervolume_history((Z - ideal) / (ref - ideal), ["minimize"] * m, [1.0] * m)


def stop_trial(hv: list[float], rule: HypervolumeStall) -> int | None:
    """The 1-based trial after which ``rule`` fires on the trace ``hv``, or ``None``."""
    for t in range(1, len(hv) + 1):
        if rule.update(Progress(n_trials=t, hv_history=hv[:t])) is not None:
            return t
    return None


def stop_table(frame: pd.DataFrame) -> str:
    """Markdown: per problem and ``(window, tol)``, mean stop trial and true HV share kept.

    ``min_trials`` is the engine's default (``default_min_trials``).
    """
    runs = frame[frame["method"] == STOP_METHOD]
    lines = [
        "| problem | budget | window | tol | runs stopped | mean stop trial "
        "| mean (min) HV share at stop |",
        "|---" * 7 + "|",
    ]
    for problem, sub in runs.groupby("problem", sort=False):
        seeds = [r.sort_values("trial") for _, r in sub.groupby("seed")]
        for window, tol in STOP_SETTINGS:
            stops, shares = [], []
            for run in seeds:
                n_initial = int(run["initial"].sum())
                rule = HypervolumeStall(
                    window=window, tol=tol, min_trials=default_min_trials(n_initial, window)
                )
                t = stop_trial(engine_hypervolume(run["values"], n_initial), rule) or len(run)
                true_hv = list(run["hypervolume"])
                stops.append(t)
                shares.append(true_hv[t - 1] / true_hv[-1] if true_hv[-1] > 0 else 1.0)
            fired = sum(t < len(run) for t, run in zip(stops, seeds, strict=True))
            lines.append(
                f"| {problem} | {len(seeds[0])} | {window} | {tol:g} | {fired}/{len(seeds)} | "
                f"{sum(stops) / len(stops):.1f} | {sum(shares) / len(shares):.2%} "
                f"({min(shares):.2%}) |"
            )
    return "\n".join(lines)
