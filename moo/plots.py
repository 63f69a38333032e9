"""PNG pictures of a study (matplotlib), for documents, pull requests and terminals.

The same pictures as the HTML report, drawn for paper: every pair of objectives with the
front on top of the faded dominated configs (log axes where the objective is declared
``scale: log``, thresholds dashed), the hypervolume history with the initial design and
the stop marked, and the average power against the inference period per device with the
crossovers marked. Colours follow the device (or the first categorical parameter) and
are the same in every picture.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")  # reports are written on servers and in CI: no display
import matplotlib.pyplot as plt
import pandas as pd

from moo.config import StudyConfig
from moo.recommend import Recommendation, format_period

__all__ = ["colours", "duty_cycle_png", "history_png", "pairs_plot", "pairs_png"]

_DPI = 120


def colours(values: Sequence[object]) -> dict[str, str]:
    """One colour per distinct value (sorted), from matplotlib's ``tab10``."""
    cmap = plt.get_cmap("tab10")
    assert isinstance(cmap, matplotlib.colors.ListedColormap)  # tab10 is a fixed list
    palette = cast(Sequence[Any], cmap.colors)  # of RGB tuples; the stubs say "array-like"
    names = sorted({str(v) for v in values})
    return {
        name: matplotlib.colors.to_hex(palette[i % len(palette)]) for i, name in enumerate(names)
    }


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def pairs_png(done: pd.DataFrame, config: StudyConfig, colour: str | None, path: Path) -> Path:
    """``pairs_plot`` as a PNG."""
    fig = pairs_plot(done, config, colour)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def pairs_plot(done: pd.DataFrame, config: StudyConfig, colour: str | None) -> plt.Figure:
    """Every pair of objectives: configs faded, the front solid, thresholds dashed."""
    pairs = list(itertools.combinations(config.objectives, 2))
    columns = min(len(pairs), 3)
    rows = -(-len(pairs) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 4.0 * rows), squeeze=False)
    groups = [(str(k), g) for k, g in done.groupby(colour)] if colour else [("trials", done)]
    palette = colours([k for k, _ in groups])
    for ax, (x, y) in zip(axes.flat, pairs, strict=False):
        for label, group in groups:
            front = group[group["on_front"]]
            rest = group[~group["on_front"]]
            ax.scatter(rest[x.name], rest[y.name], s=12, alpha=0.3, color=palette[label])
            ax.scatter(
                front[x.name],
                front[y.name],
                s=36,
                color=palette[label],
                edgecolors="black",
                linewidths=0.6,
                label=f"{label} (front {len(front)})",
            )
        for spec, axis in ((x, "x"), (y, "y")):
            if spec.scale == "log":
                _log_axis(ax, axis, done[spec.name])
            if spec.threshold is not None:
                line = ax.axvline if axis == "x" else ax.axhline
                line(spec.threshold, color="grey", linestyle="--", linewidth=1)
        ax.set(xlabel=_label(x.name, x.direction), ylabel=_label(y.name, y.direction))
        ax.grid(alpha=0.3, which="both", linewidth=0.4)
    for ax in axes.flat[len(pairs) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8)
    fig.suptitle(
        f"{config.study.name}: Pareto front (solid) over {len(done)} feasible configs (faded)"
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _log_axis(ax: plt.Axes, letter: str, values: pd.Series) -> None:
    """A log axis labelled in plain numbers (0.5, 2, 20), not ``2 x 10^0``; the ticks
    between powers of ten get labels only when the data span less than two decades."""
    getattr(ax, f"set_{letter}scale")("log")
    axis = getattr(ax, f"{letter}axis")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(plain)
    positive = values[values > 0]
    narrow = len(positive) and positive.max() / positive.min() < 100
    if narrow:
        axis.set_minor_locator(matplotlib.ticker.LogLocator(subs=(2.0, 5.0)))
    axis.set_minor_formatter(plain if narrow else matplotlib.ticker.NullFormatter())


def _label(name: str, direction: str) -> str:
    return f"{name} ({'higher' if direction == 'maximize' else 'lower'} is better)"


def history_png(
    history: Sequence[float], n_initial: int, stop_reason: str | None, path: Path
) -> Path:
    """Normalized hypervolume after each proposed trial; design and stop marked."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    trials = range(1, len(history) + 1)
    ax.plot(trials, history, marker=".", color="tab:blue")
    if n_initial < len(history):
        ax.axvline(n_initial + 0.5, color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            "initial design | model-based",
            (n_initial + 0.5, 0.02),
            xycoords=("data", "axes fraction"),
            ha="center",
            fontsize=8,
            color="grey",
            backgroundcolor="white",
        )
    if stop_reason and history:
        ax.scatter([len(history)], [history[-1]], s=60, color="tab:red", zorder=3)
        ax.annotate(
            f"stopped: {stop_reason.split(':')[0]}",
            (len(history), history[-1]),
            xytext=(-8, -22),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="tab:red",
        )
    ax.set(xlabel="proposed trials", ylabel="normalized hypervolume", title="Hypervolume history")
    ax.grid(alpha=0.3, linewidth=0.4)
    return _save(fig, path)


def duty_cycle_png(recommendation: Recommendation, path: Path, *, mark_period: bool = True) -> Path:
    """Least average power per device against the period; crossovers and (with
    ``mark_period``) the period asked for marked."""
    rec = recommendation
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    palette = colours(list(rec.curves))
    for device, curve in rec.curves.items():
        ax.plot(rec.grid_s, curve, color=palette[device], label=device, linewidth=1.8)
    for crossover in rec.crossovers:
        ax.axvline(crossover.period_s, color="black", linestyle=":", linewidth=1)
        ax.annotate(
            f"{format_period(crossover.period_s)}\n{crossover.before.device} → "
            f"{crossover.after.device}",
            (crossover.period_s, 1),
            xycoords=("data", "axes fraction"),
            xytext=(4, -4),
            textcoords="offset points",
            va="top",
            fontsize=8,
        )
    if mark_period and rec.winner is not None:
        ax.axvline(rec.period_s, color="grey", linewidth=4, alpha=0.25)
        ax.scatter([rec.period_s], [rec.winner.power_mW], s=50, color="black", zorder=3)
        ax.annotate(
            f"T = {format_period(rec.period_s)}: trial {rec.winner.candidate.trial} on "
            f"{rec.winner.candidate.device}, {rec.winner.power_mW:.3g} mW",
            (rec.period_s, rec.winner.power_mW),
            xytext=(6, 8),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    floors = ", ".join(rec.floors) or "no floor"
    ax.set(xlabel="inference period T (s)", ylabel="average power (mW), best config per device")
    ax.set_title(f"{rec.study}: which chip at which inference rate\n{floors}", fontsize=10)
    ax.grid(alpha=0.3, which="both", linewidth=0.4)
    ax.legend(fontsize=8)
    return _save(fig, path)
