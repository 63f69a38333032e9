"""Study reports: an interactive HTML page and PNGs of the front and its history.

People judge a trade-off by looking at it: the page shows the Pareto front (2-D, or 3-D
for three objectives) with every evaluated config behind it, coloured by the first
categorical parameter (the device, in the TinyML studies), the normalized hypervolume
after each proposed trial, a parallel-coordinates view of the front's configs, and the
front as a table. The PNGs carry the first two for documents and pull requests.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are written on servers and in CI: no display
import matplotlib.pyplot as plt
import optuna
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from moo.config import StudyConfig
from moo.history import StudyHistory
from moo.results import trials_frame

__all__ = ["write_report"]


def write_report(study: optuna.Study, config: StudyConfig, out: Path) -> list[Path]:
    """Write ``report.html``, ``pareto.png`` and ``hv_history.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    frame = trials_frame(study, config)
    done = frame[frame["feasible"]] if len(frame) else frame
    history = StudyHistory(study, config).hypervolume_history(study.get_trials(deepcopy=False))
    colour = _colour_column(config)
    figures = [
        _pareto_figure(done, config, colour),
        _history_figure(history),
    ]
    front = done[done["on_front"]]
    if len(front) > 1:
        figures.append(_parallel_figure(front, config))
    html = out / "report.html"
    parts = [
        f.to_html(full_html=False, include_plotlyjs="cdn" if i == 0 else False)
        for i, f in enumerate(figures)
    ]
    columns = ["trial", *config.search_space().names, *config.objective_names]
    table = front.loc[:, [c for c in columns if c in front.columns]].to_html(
        index=False, float_format=lambda v: f"{v:.4g}"
    )
    html.write_text(
        f"<html><head><meta charset='utf-8'><title>{config.study.name}</title></head><body>"
        f"<h1>Study {config.study.name}</h1>"
        f"<p>{len(frame)} trials, {len(front)} on the front. Stopped: "
        f"{study.user_attrs.get('moo:stop_reason') or 'no (or running)'}.</p>"
        + "".join(parts)
        + f"<h2>Pareto front</h2>{table}</body></html>"
    )
    return [html, _pareto_png(done, config, colour, out), _history_png(history, out)]


def _colour_column(config: StudyConfig) -> str | None:
    space = config.search_space()
    names = [n for i, n in enumerate(space.names) if i in space.categorical_dims]
    return "device" if "device" in names else (names[0] if names else None)


def _pareto_figure(done: pd.DataFrame, config: StudyConfig, colour: str | None) -> go.Figure:
    names = config.objective_names
    symbol = done["on_front"].map({True: "front", False: "dominated"}) if len(done) else None
    kwargs = {"color": colour, "symbol": symbol, "hover_data": ["trial"]}
    if len(names) >= 3:
        figure = px.scatter_3d(done, x=names[0], y=names[1], z=names[2], **kwargs)
    else:
        figure = px.scatter(done, x=names[0], y=names[1], **kwargs)
    return figure.update_layout(title="Evaluated configs and the Pareto front")


def _history_figure(history: list[float]) -> go.Figure:
    figure = go.Figure(go.Scatter(y=history, mode="lines+markers"))
    return figure.update_layout(
        title="Normalized hypervolume after each proposed trial",
        xaxis_title="proposed trials (after the initial design froze the reference)",
        yaxis_title="normalized HV",
    )


def _parallel_figure(front: pd.DataFrame, config: StudyConfig) -> go.Figure:
    numeric = [
        c
        for c in [*config.search_space().names, *config.objective_names]
        if c in front.columns and pd.api.types.is_numeric_dtype(front[c])
    ]
    figure = px.parallel_coordinates(front, dimensions=numeric)
    return figure.update_layout(title="Configs on the front")


def _pareto_png(done: pd.DataFrame, config: StudyConfig, colour: str | None, out: Path) -> Path:
    x, y = config.objective_names[:2]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    groups = done.groupby(colour) if colour else [("trials", done)]
    for label, group in groups:
        ax.scatter(group[x], group[y], s=14, alpha=0.45, label=str(label))
    front = done[done["on_front"]].sort_values(x)
    ax.scatter(front[x], front[y], s=40, facecolors="none", edgecolors="black", label="front")
    ax.set(xlabel=x, ylabel=y, title=f"{config.study.name}: {x} vs {y}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "pareto.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _history_png(history: list[float], out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(history) + 1), history, marker=".")
    ax.set(xlabel="proposed trials", ylabel="normalized HV", title="Hypervolume history")
    fig.tight_layout()
    path = out / "hv_history.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
