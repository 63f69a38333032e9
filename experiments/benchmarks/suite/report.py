"""Summary table (markdown) and plots (PNG) of a results CSV.

The summary answers the two quality bars of DESIGN.md per problem and method: the final
log10 hypervolume gap (mean and spread over seeds, lower is better) and the median
optimizer seconds per model-based proposal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import pandas as pd

from experiments.benchmarks.suite.findings import (
    STOP_METHOD,
    STOP_SETTINGS,
    share_table,
    stop_table,
    variant_table,
)
from experiments.benchmarks.suite.runner import commands, read_results

__all__ = ["AS_MOO_RUN", "PEERS", "as_moo_run", "final_gaps", "summary_markdown", "write_report"]

_PANEL_COLUMNS = 4


def final_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """Final log10 HV gap per run: columns ``method, problem, seed, log10_hv_gap``."""
    last = frame.loc[frame.groupby(["method", "problem", "seed"])["trial"].idxmax()]
    return last[["method", "problem", "seed", "log10_hv_gap"]].reset_index(drop=True)


def _ordered(frame: pd.DataFrame, column: str) -> list[str]:
    return list(dict.fromkeys(frame[column]))


def _gap_table(frame: pd.DataFrame) -> str:
    gaps = final_gaps(frame).groupby(["problem", "method"])["log10_hv_gap"]
    stats = pd.DataFrame({"mean": gaps.mean(), "sd": gaps.std(ddof=1), "n": gaps.size()})
    problems, methods = _ordered(frame, "problem"), _ordered(frame, "method")
    budgets = frame.groupby("problem")["trial"].max() + 1
    ranks = stats["mean"].groupby(level="problem").rank(method="min")
    mean_rank = ranks.groupby(level="method").mean()
    n_max = stats["n"].max()
    header = [f"{p} ({budgets[p]})" for p in problems]
    lines = [
        "| method | " + " | ".join(header) + " | mean rank |",
        "|---" * (len(problems) + 2) + "|",
    ]
    for method in methods:
        cells = []
        for problem in problems:
            if (problem, method) not in stats.index:
                cells.append("-")
                continue
            row = stats.loc[(problem, method)]
            sd = "" if math.isnan(row["sd"]) else f" ± {row['sd']:.2f}"
            cell = f"{row['mean']:.2f}{sd}" + ("" if row["n"] == n_max else f" (n={int(row['n'])})")
            best = row["mean"] == stats.loc[problem, "mean"].min()
            cells.append(f"**{cell}**" if best else cell)
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {mean_rank[method]:.1f} |")
    return "\n".join(lines)


PEERS = ("random", "nsga2", "tpe", "gp", "botorch-loop", "botorch-sampler")
"""The methods moo's default is compared with: Optuna's samplers, the BoTorch loop and
optuna-integration's BoTorchSampler."""
AS_MOO_RUN = "moo default, as `moo run`"


def as_moo_run(frame: pd.DataFrame) -> pd.DataFrame:
    """The peers' rows plus moo's default as ``moo run`` runs it: told the objectives the
    adapter knows exactly where the problem has them (the ``-known`` rows), else the plain
    ``moo-qlognehvi`` rows; renamed ``AS_MOO_RUN``."""
    parts = [frame[frame["method"].isin(PEERS)]]
    for _, rows in frame.groupby("problem", sort=False):
        known = rows[rows["method"] == "moo-qlognehvi-known"]
        chosen = known if len(known) else rows[rows["method"] == "moo-qlognehvi"]
        parts.append(chosen.assign(method=AS_MOO_RUN))
    return pd.concat(parts, ignore_index=True)


def _seconds_table(frame: pd.DataFrame) -> str:
    model = frame[~frame["initial"]]
    medians = model.groupby(["method", "problem"])["propose_s"].median()
    problems, methods = _ordered(frame, "problem"), _ordered(frame, "method")
    lines = ["| method | " + " | ".join(problems) + " |", "|---" * (len(problems) + 1) + "|"]
    for method in methods:
        cells = [
            f"{medians[(method, p)]:.3g}" if (method, p) in medians.index else "-" for p in problems
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_markdown(frame: pd.DataFrame, source: Path, figures: list[Path]) -> str:
    """The summary page of the runs in ``frame``, read from ``source``."""
    runs = "\n".join(f"    {command}" for command in commands(source))
    seeds = frame.groupby(["method", "problem"])["seed"].nunique().max()
    images = "\n".join(f"![{f.stem}]({f.name})" for f in figures)
    return f"""# Sampler benchmark summary

Results: `{source.name}` (up to {seeds} seeds per cell), written by:

{runs}

## Final log10 hypervolume gap to the true front (mean ± sd over seeds, lower is better)

Column headers give the trial budget; the best mean per problem is bold, `(n=k)` marks
cells with fewer seeds than the others, and the mean rank is over the problems a method ran.

{_gap_table(frame)}

## moo's default as `moo run` runs it, against the peers

The same runs: moo's row takes the `-known` runs where the problem has objectives the
adapter knows exactly (NAS-Bench-201's latency, digits' latency and energy), as `moo run`
gives them, and the plain runs elsewhere; ranks are among these methods only.

{_gap_table(as_moo_run(frame))}

## Final hypervolume as a share of the true maximum (mean over seeds)

{share_table(frame)}

## Median optimizer seconds per proposal (model-based proposals only)

{_seconds_table(frame)}

## Variants: final HV gap of a variant over its base (below 1: better)

`-known` models the latency (NAS-Bench-201; on digits, latency and energy) exactly, as
the lookup it is, instead of by a GP; `-ref` is told the problem's reference point;
`-q4` asks 4 trials before telling any (the others pending), as 4 parallel workers would.

{variant_table(frame)}

## Convergence stop (`HypervolumeStall`) on {STOP_METHOD}'s runs

The trial at which the rule would have stopped (the budget when it never fires), judging
by the hypervolume a study records (normalized by the initial design's ideal and inferred
reference point: the rule does not know the true front), and the share of the full-budget
true hypervolume reached there. The first row of each problem is the engine's default
(window {STOP_SETTINGS[0][0]}, tol {STOP_SETTINGS[0][1]:g}); min_trials = initial design
+ 2 windows.

{stop_table(frame)}

{images}
"""


def _panels(n: int) -> tuple[plt.Figure, list[plt.Axes]]:
    rows = math.ceil(n / _PANEL_COLUMNS)
    cols = min(n, _PANEL_COLUMNS)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _style(methods: list[str]) -> dict[str, dict[str, Any]]:
    """A fixed colour per method and solid lines for moo, so panels read alike."""
    cmap = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")
    return {
        m: {"color": cmap(i), "linestyle": "-" if m.startswith("moo") else "--"}
        for i, m in enumerate(methods)
    }


def _legend(fig: plt.Figure, axes: list[plt.Axes]) -> None:
    """One legend for the figure: every method, whichever panels it appears in."""
    labelled = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labelled.setdefault(label, handle)
    fig.legend(labelled.values(), labelled.keys(), loc="lower center", ncol=6, fontsize=8)


DrawPanel = Callable[[plt.Axes, pd.DataFrame, dict[str, dict[str, Any]]], None]
"""Draws one problem's runs (all methods) on its axes, in the methods' styles."""


def _figure(frame: pd.DataFrame, draw: DrawPanel, title: str, path: Path, command: str) -> None:
    """One panel per problem, one legend for all; the command is saved in the PNG."""
    problems, methods = _ordered(frame, "problem"), _ordered(frame, "method")
    style = _style(methods)
    fig, axes = _panels(len(problems))
    for ax, problem in zip(axes, problems, strict=True):
        draw(ax, frame[frame["problem"] == problem], style)
        ax.set_title(problem)
    _legend(fig, axes)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))  # room for the figure legend below
    fig.savefig(path, dpi=110, metadata={"Description": command})
    plt.close(fig)


def _draw_gaps(ax: plt.Axes, runs: pd.DataFrame, style: dict[str, dict[str, Any]]) -> None:
    for method, by_method in runs.groupby("method", sort=False):
        gap = by_method.groupby("trial")["log10_hv_gap"]
        mean, sd = gap.mean(), gap.std(ddof=1).fillna(0.0)
        ax.plot(mean.index + 1, mean, label=method, **style[method])
        ax.fill_between(
            mean.index + 1, mean - sd, mean + sd, alpha=0.12, color=style[method]["color"]
        )
    ax.set_xlabel("trials")
    ax.set_ylabel("log10 HV gap")


def _draw_seconds(ax: plt.Axes, runs: pd.DataFrame, style: dict[str, dict[str, Any]]) -> None:
    for method, by_method in runs[~runs["initial"]].groupby("method", sort=False):
        seconds = by_method.groupby("trial")["propose_s"].median()
        ax.plot(seconds.index, seconds, label=method, **style[method])
    ax.set_yscale("log")
    ax.set_xlabel("observations")
    ax.set_ylabel("seconds per proposal")


def write_report(results: Path) -> list[Path]:
    """Write the summary and plots next to ``results``; returns the files written."""
    frame = read_results(results)
    command = " && ".join(commands(results))
    out = results.parent
    figures = [out / "sampler_hv_gap.png", out / "sampler_propose_seconds.png"]
    _figure(
        frame,
        _draw_gaps,
        "Hypervolume gap to the true front (mean ± sd over seeds)",
        figures[0],
        command,
    )
    _figure(
        frame,
        _draw_seconds,
        "Optimizer seconds per proposal (median over seeds)",
        figures[1],
        command,
    )
    summary = out / "sampler_summary.md"
    summary.write_text(summary_markdown(frame, results, figures))
    return [summary, *figures]
