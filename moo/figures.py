"""Interactive figures of a study (plotly), for the HTML report.

The same pictures as the PNGs of ``moo.plots`` plus what only a browser does well: hover
for a config's trial number and parameters, a rotatable 3-D front, and parallel
coordinates to see which parameters the front's configs share. Objectives declared
``scale: log`` get log axes, thresholds are drawn as dashed lines, dominated configs are
faded behind the front, and colours follow the device as in the PNGs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from moo.config import ObjectiveSpec, StudyConfig
from moo.plots import colours
from moo.recommend import Recommendation, format_period

__all__ = [
    "duty_cycle_figure",
    "front_3d_figure",
    "history_figure",
    "pairs_figures",
    "parallel_figure",
]

_FADED = 0.3


def _groups(done: pd.DataFrame, colour: str | None) -> list[tuple[str, pd.DataFrame]]:
    return [(str(k), g) for k, g in done.groupby(colour)] if colour else [("trials", done)]


def _hover(frame: pd.DataFrame, names: Sequence[str]) -> list[str]:
    columns = [c for c in ["trial", *names] if c in frame.columns]
    return [
        "<br>".join(
            f"{c}={row[c]:.4g}" if isinstance(row[c], float) else f"{c}={row[c]}" for c in columns
        )
        for _, row in frame.iterrows()
    ]


def _axis(spec: ObjectiveSpec) -> dict[str, object]:
    better = "higher" if spec.direction == "maximize" else "lower"
    return {"title": f"{spec.name} ({better} is better)", "type": spec.scale}


def _scatter(
    done: pd.DataFrame,
    config: StudyConfig,
    colour: str | None,
    axes: Sequence[ObjectiveSpec],
) -> go.Figure:
    """Configs by device on ``axes`` (2 or 3 objectives): front solid, dominated faded."""
    hover = [*config.search_space().names, *config.objective_names]
    palette = colours([k for k, _ in _groups(done, colour)])
    trace = go.Scatter3d if len(axes) == 3 else go.Scatter
    figure = go.Figure()
    for label, group in _groups(done, colour):
        for on_front in (False, True):
            part = group[group["on_front"] == on_front]
            marker: dict[str, object] = {"color": palette[label]}
            if len(axes) == 3:
                marker["size"] = 5 if on_front else 3
            else:
                marker["size"] = 10 if on_front else 7
                marker["line"] = {"width": 1 if on_front else 0, "color": "black"}
            figure.add_trace(
                trace(
                    **{a: part[spec.name] for a, spec in zip("xyz", axes, strict=False)},
                    mode="markers",
                    name=f"{label} ({'front' if on_front else 'dominated'})",
                    legendgroup=label,
                    opacity=1.0 if on_front else _FADED,
                    marker=marker,
                    hovertext=_hover(part, hover),
                    hoverinfo="text",
                )
            )
    return figure


def pairs_figures(done: pd.DataFrame, config: StudyConfig, colour: str | None) -> list[go.Figure]:
    """One 2-D scatter per pair of objectives: front solid, dominated faded."""
    figures = []
    for x, y in itertools.combinations(config.objectives, 2):
        figure = _scatter(done, config, colour, (x, y))
        for spec, axis in ((x, "x"), (y, "y")):
            if spec.threshold is not None:
                line = figure.add_vline if axis == "x" else figure.add_hline
                line(
                    spec.threshold,
                    line_dash="dash",
                    line_color="grey",
                    annotation_text=f"threshold {spec.threshold:g}",
                )
        figure.update_layout(
            title=f"{x.name} vs {y.name}", xaxis=_axis(x), yaxis=_axis(y), height=480
        )
        figures.append(figure)
    return figures


def front_3d_figure(done: pd.DataFrame, config: StudyConfig, colour: str | None) -> go.Figure:
    """The first three objectives in 3-D: the front solid, dominated configs faded."""
    x, y, z = config.objectives[:3]
    figure = _scatter(done, config, colour, (x, y, z))
    figure.update_layout(
        title="Pareto front in 3-D (drag to rotate)",
        scene={"xaxis": _axis(x), "yaxis": _axis(y), "zaxis": _axis(z)},
        height=620,
    )
    return figure


def history_figure(history: Sequence[float], n_initial: int, stop_reason: str | None) -> go.Figure:
    """Normalized hypervolume after each proposed trial; design and stop marked."""
    trials = list(range(1, len(history) + 1))
    figure = go.Figure(go.Scatter(x=trials, y=list(history), mode="lines+markers", name="HV"))
    if n_initial < len(history):
        figure.add_vline(
            n_initial + 0.5,
            line_dash="dot",
            line_color="grey",
            annotation_text="initial design | model-based",
        )
    if stop_reason and history:
        figure.add_trace(
            go.Scatter(
                x=[len(history)],
                y=[history[-1]],
                mode="markers",
                marker={"size": 14, "color": "crimson", "symbol": "x"},
                name=f"stopped: {stop_reason}",
            )
        )
    return figure.update_layout(
        title="Normalized hypervolume after each proposed trial",
        xaxis_title="proposed trials",
        yaxis_title="normalized HV (reference frozen after the initial design)",
        height=420,
    )


def parallel_figure(front: pd.DataFrame, config: StudyConfig) -> go.Figure:
    """The front's configs across every parameter and objective (categories as ticks)."""
    dimensions = []
    for column in [*config.search_space().names, *config.objective_names]:
        if column not in front.columns:
            continue
        values = front[column]
        if pd.api.types.is_numeric_dtype(values):
            log = any(o.name == column and o.scale == "log" for o in config.objectives)
            dimensions.append(
                {
                    "label": column + (" (log10)" if log else ""),
                    "values": values.map(_log10) if log else values,
                }
            )
        else:
            labels = sorted(values.astype(str).unique())
            codes = values.astype(str).map({v: i for i, v in enumerate(labels)})
            dimensions.append(
                {
                    "label": column,
                    "values": codes,
                    "tickvals": list(range(len(labels))),
                    "ticktext": labels,
                }
            )
    first = config.objectives[0]
    figure = go.Figure(
        go.Parcoords(
            dimensions=dimensions,
            line={
                "color": front[first.name],
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": first.name},
            },
        )
    )
    return figure.update_layout(title=f"The {len(front)} configs on the front", height=480)


def _log10(value: float) -> float:
    return math.log10(value) if value > 0 else math.nan


def duty_cycle_figure(rec: Recommendation, *, mark_period: bool = True) -> go.Figure:
    """Least average power per device against the period, crossovers marked."""
    palette = colours(list(rec.curves))
    figure = go.Figure()
    for device, curve in rec.curves.items():
        figure.add_trace(
            go.Scatter(
                x=rec.grid_s,
                y=curve,
                mode="lines",
                name=device,
                line={"color": palette[device], "width": 2.5},
            )
        )
    for c in rec.crossovers:
        figure.add_vline(
            c.period_s,
            line_dash="dot",
            annotation_text=f"{format_period(c.period_s)}: {c.before.device} → {c.after.device}",
        )
    if mark_period and rec.winner is not None:
        figure.add_trace(
            go.Scatter(
                x=[rec.period_s],
                y=[rec.winner.power_mW],
                mode="markers",
                marker={"size": 12, "color": "black"},
                name=f"T = {format_period(rec.period_s)}: trial {rec.winner.candidate.trial} "
                f"on {rec.winner.candidate.device}",
            )
        )
    floors = f" ({', '.join(rec.floors)})" if rec.floors else ""
    return figure.update_layout(
        title=f"Average power vs inference period, best config per device{floors}",
        xaxis={"title": "inference period T (s)", "type": "log"},
        yaxis={"title": "average power (mW)", "type": "log"},
        height=480,
    )
