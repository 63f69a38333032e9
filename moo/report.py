"""Study reports: one self-contained HTML page and PNGs of the front and its history.

People judge a trade-off by looking at it. The page (``report.html``) works offline: the
plotly library is inlined once, no script is fetched from the network. It holds every
pair of objectives and, for three or more, a 3-D front (configs coloured by device,
dominated ones faded, log axes where declared, thresholds dashed), the normalized
hypervolume after each proposed trial with the initial design and the stop marked,
parallel coordinates of the front, the average power against the inference period per
device when the adapter can compute it, and a table of the front with every metric on
every device. The PNGs (``pareto.png``, ``hv_history.png``, ``duty_cycle.png``) carry
the same pictures into documents and pull requests.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import optuna
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from moo import figures, plots
from moo.config import StudyConfig, load_adapter
from moo.errors import MooError
from moo.history import StudyHistory, n_initial
from moo.keys import STOP_REASON_KEY
from moo.recommend import Recommendation, recommend
from moo.results import trials_frame

__all__ = ["front_table", "write_report"]

_logger = logging.getLogger("moo")
# No workload in the study: the duty-cycle curves still show, for a CR2032 coin cell.
_DEFAULT_BATTERY = (220.0, 3.0)
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
tr.front td { background: #eef6ee; font-weight: 600; }
tr.first td { border-top: 2px solid #888; }
.note { color: #555; }
"""


def write_report(study: optuna.Study, config: StudyConfig, out: Path) -> list[Path]:
    """Write ``report.html`` and the PNGs into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    frame = trials_frame(study, config)
    done = frame[frame["feasible"]] if len(frame) else frame
    front = done[done["on_front"]] if len(done) else done
    history = StudyHistory(study, config).hypervolume_history(study.get_trials(deepcopy=False))
    reason = study.user_attrs.get(STOP_REASON_KEY)
    colour = _colour_column(config)
    duty, duty_note = _duty_cycle(study, config)

    paths = [out / "report.html"]
    if len(done):
        paths.append(plots.pairs_png(done, config, colour, out / "pareto.png"))
    paths.append(plots.history_png(history, n_initial(config), reason, out / "hv_history.png"))
    if duty is not None:
        paths.append(
            plots.duty_cycle_png(
                duty, out / "duty_cycle.png", mark_period=config.workload is not None
            )
        )

    sections: list[tuple[str, list[go.Figure] | str]] = []
    if len(done):
        pairs = figures.pairs_figures(done, config, colour)
        if len(config.objectives) >= 3:
            pairs.append(figures.front_3d_figure(done, config, colour))
        sections.append(("Pareto front", pairs))
    sections.append(
        ("Hypervolume history", [figures.history_figure(history, n_initial(config), reason)])
    )
    if len(front) > 1:
        sections.append(("Configs on the front", [figures.parallel_figure(front, config)]))
    if duty is not None:
        figure = figures.duty_cycle_figure(duty, mark_period=config.workload is not None)
        sections.append(("Which chip at which inference rate", [figure]))
    elif duty_note:
        sections.append(("Which chip at which inference rate", duty_note))
    table = front_table(frame, config)
    sections.append(
        (
            "The front on every device",
            "<p class='note'>Each front config with the same trained model on every other "
            "device of the study (highlighted rows are on the front).</p>" + _table_html(table),
        )
    )
    paths[0].write_text(_page(study, config, frame, front, reason, sections), encoding="utf-8")
    return paths


def _colour_column(config: StudyConfig) -> str | None:
    space = config.search_space()
    names = [n for i, n in enumerate(space.names) if i in space.categorical_dims]
    return "device" if "device" in names else (names[0] if names else None)


def _duty_cycle(study: optuna.Study, config: StudyConfig) -> tuple[Recommendation | None, str]:
    """The power-vs-period sweep, or why there is none (the adapter cannot say)."""
    workload = config.workload
    try:
        adapter = load_adapter(config.objective)
        if not hasattr(adapter, "workload_metrics"):
            return None, ""
        battery = (workload.battery_mAh, workload.voltage) if workload else _DEFAULT_BATTERY
        rec = recommend(
            study,
            config,
            adapter,
            period_s=workload.periods[0] if workload else 1.0,
            battery_mAh=battery[0] or _DEFAULT_BATTERY[0],
            voltage=battery[1],
        )
    except (MooError, KeyError, ValueError) as e:  # e.g. trials without a latency
        _logger.warning("report: no duty-cycle plot (%s)", e)
        return None, f"<p class='note'>No duty-cycle plot: {html.escape(str(e))}</p>"
    if not rec.curves:
        return None, "<p class='note'>No duty-cycle plot: no usable config yet.</p>"
    return rec, ""


def front_table(frame: pd.DataFrame, config: StudyConfig) -> pd.DataFrame:
    """The front's configs with their siblings (the same model on every device), every
    metric as a column, grouped by model; ``on_front`` marks the front's own rows."""
    if not len(frame):
        return frame
    root = frame["sibling_of"].fillna(frame["trial"]).astype(int)
    models = set(root[frame["on_front"]])
    table = frame[root.isin(models) & (frame["state"] == "COMPLETE")].assign(model=root)
    params = [n for n in config.search_space().names if n in table.columns]
    fixed = {"trial", "state", "sibling_of", "feasible", "on_front", "hv", "model", *params}
    metrics = [
        *config.objective_names,
        *sorted(set(table.columns) - fixed - set(config.objective_names)),
    ]
    columns = ["model", "trial", *params, "feasible", "on_front", *metrics]
    return table.sort_values(["model", "trial"]).loc[:, [c for c in columns if c in table.columns]]


def _table_html(table: pd.DataFrame) -> str:
    if not len(table):
        return "<p class='note'>No feasible config yet.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    rows, previous = [], None
    for _, row in table.iterrows():
        classes = [
            c for c, on in (("front", row["on_front"]), ("first", row["model"] != previous)) if on
        ]
        previous = row["model"]
        cells = "".join(f"<td>{_cell(row[c])}</td>" for c in table.columns)
        rows.append(f"<tr class='{' '.join(classes)}'>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}"
    if isinstance(value, bool):
        return "✓" if value else ""
    return html.escape(str(value))


def _page(
    study: optuna.Study,
    config: StudyConfig,
    frame: pd.DataFrame,
    front: pd.DataFrame,
    reason: str | None,
    sections: list[tuple[str, list[go.Figure] | str]],
) -> str:
    name = html.escape(config.study.name)
    marks = [
        f"{o.name} {'&gt;' if o.direction == 'maximize' else '&lt;'} {o.threshold:g}"
        for o in config.objectives
        if o.threshold is not None
    ]
    facts = [
        f"{len(frame)} trials ({int(frame['sibling_of'].isna().sum()) if len(frame) else 0} "
        f"proposed, the rest the same models on the other devices), {len(front)} on the front",
        f"stopped: {html.escape(reason or 'no (or running)')}",
    ]
    if marks:
        facts.append("thresholds: " + ", ".join(marks))
    if config.constraints:
        facts.append("constraints: " + html.escape(", ".join(config.constraints)))
    if config.workload is not None:
        w = config.workload
        periods = ", ".join(f"{p:g} s" for p in w.periods)
        battery = f", {w.battery_mAh:g} mAh at {w.voltage:g} V" if w.battery_mAh else ""
        facts.append(f"workload: one inference every {periods}{battery}")
    body = []
    for title, content in sections:
        body.append(f"<h2>{html.escape(title)}</h2>")
        if isinstance(content, str):
            body.append(content)
        else:
            body += [f.to_html(full_html=False, include_plotlyjs=False) for f in content]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{name}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<h1>Study {name}</h1><ul>{''.join(f'<li>{f}</li>' for f in facts)}</ul>"
        + "".join(body)
        + "</body></html>"
    )
