"""The ``moo`` command line: run, resume, inspect and export studies.

Every command reads the study from its storage; only ``moo run`` reads a YAML file.
Mistakes (a bad YAML key, an unknown study or device) end the command with one line that
says what and where, and exit code 2; nothing in the storage is touched by them.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import optuna
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from moo.config import Override, apply_overrides, load_study_config, validate_study_config
from moo.errors import ConfigError, MooError, printable
from moo.history import RunStatus, StudyHistory, proposed
from moo.liveness import describe_runs
from moo.progress import configure_logging, live_progress
from moo.protocol import AdapterError
from moo.storage_errors import STORAGE_FAILURES, storage_cause
from moo.study import StudyRun, build_adapter, create_study, load_study

app = typer.Typer(
    name="moo",
    help="Multi-objective Bayesian optimization of edge-AI deployments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# soft_wrap: a long line (a path, a config) stays one line in a log or a pipe, where
# Rich would otherwise break it at 80 columns; a terminal still wraps it for the eye.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

Storage = Annotated[
    str | None,
    typer.Option(help="SQLAlchemy URL of the storage; default sqlite:///studies/<study>.db."),
]
F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(command: F) -> F:
    """User mistakes and failures of files or storage end in one red line and exit code 2,
    not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (MooError, AdapterError) as e:
            _fail(str(e))
        except OSError as e:  # a file or folder: name it and say why
            _fail(f"{e.filename}: {e.strerror}." if e.filename else f"{type(e).__name__}: {e}")
        except STORAGE_FAILURES as e:  # one the commands did not wrap with its URL
            _fail(f"storage: {storage_cause(e)}.")

    return wrapper  # type: ignore[return-value]


def _fail(message: str) -> NoReturn:
    lines = "\n".join(printable(line) for line in message.split("\n"))  # one per problem
    errors.print(f"[bold red]error:[/] {escape(lines)}", highlight=False)
    raise typer.Exit(2)


def _output_folder(out: Path) -> Path:
    """``out``, created and writable, checked before any work is done."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a folder.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot write into this folder ({e.strerror}).") from e
    return out


def _output_file(out: Path) -> Path:
    """``out``, a file path whose folder exists and is writable, checked before any work."""
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; give the path of the file to write.")
    _output_folder(out.parent)
    return out


@contextmanager
def _interruptible() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM (``kill``, a scheduler's stop) end a run, recorded and resumable.

    Both raise ``KeyboardInterrupt`` at once; as Python drops an exception raised inside a
    finalizer or weakref callback, the returned event also stops the run after its
    current trial.
    """
    requested = threading.Event()

    def interrupt(signum: int, frame: object) -> None:
        requested.set()
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # signals need it
        yield requested
        return
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(run: StudyRun, title: str) -> None:
    done = run.history.progress().n_trials
    name = run.config.study.name
    try:
        with (
            _interruptible() as requested,
            live_progress(console, title, run.config.stop.max_trials, done) as update,
        ):

            def on_trial(status: RunStatus) -> None:
                update(status)
                if requested.is_set():
                    raise KeyboardInterrupt

            run.on_trial = on_trial
            reason = run.run()
    except KeyboardInterrupt:
        n_trials = run.history.progress().n_trials
        errors.print(
            f"{name}: interrupted after {n_trials} trials; `moo resume {name}` continues it.",
            highlight=False,
        )
        raise typer.Exit(130) from None
    status = run.history.status()
    hv = "-" if status.hypervolume is None else f"{status.hypervolume:.4f}"
    console.print(
        f"[bold]{run.config.study.name}[/]: stopped, {reason}. {status.n_trials} trials, "
        f"front of {status.front_size}, normalized HV {hv}. "
        f"See `moo pareto {run.config.study.name}`."
    )


@app.command()
@_one_line_errors
def run(
    study_file: Annotated[Path, typer.Argument(help="Study YAML: experiments/quickstart.yaml")],
    storage: Storage = None,
    max_trials: Annotated[int | None, typer.Option(help="Override stop.max_trials.")] = None,
) -> None:
    """Create a study from a YAML file and run it until its front converges."""
    configure_logging(console)
    config = load_study_config(study_file)
    if max_trials is not None:
        data = apply_overrides(config.model_dump(mode="json"), _max_trials(max_trials))
        config = validate_study_config(data, source=str(study_file))
    # Everything that can refuse the study does so before the storage holds it.
    adapter = build_adapter(config, source=str(study_file))
    study = create_study(config, storage=storage)
    _run(StudyRun(study, config, adapter=adapter), config.study.name)


@app.command()
@_one_line_errors
def resume(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: Storage = None,
    max_trials: Annotated[
        int | None, typer.Option(help="Raise the trial budget (stored in the study).")
    ] = None,
) -> None:
    """Continue a stopped or crashed study from its storage alone."""
    configure_logging(console)
    overrides = _max_trials(max_trials) if max_trials is not None else ()
    optuna_study, config = load_study(study, storage=storage, overrides=overrides)
    _run(StudyRun(optuna_study, config), f"{study} (resumed)")


def _max_trials(value: int) -> tuple[Override]:
    return (Override("stop.max_trials", value, "--max-trials"),)


@app.command()
@_one_line_errors
def status(
    study: Annotated[str, typer.Argument(help="Study name.")], storage: Storage = None
) -> None:
    """Trials by state, hypervolume, front size and why the study stopped."""
    optuna_study, config = load_study(study, storage=storage)
    trials = optuna_study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    hv = StudyHistory(optuna_study, config).hypervolume_history(trials)
    table = Table(title=f"study {study}", show_header=False)
    table.add_row("objectives", ", ".join(f"{o.name} ({o.direction})" for o in config.objectives))
    table.add_row("proposed trials", f"{len(proposed(trials))} of max {config.stop.max_trials}")
    table.add_row("all trials", ", ".join(f"{n} {k.lower()}" for k, n in sorted(counts.items())))
    table.add_row("normalized HV", f"{hv[-1]:.4f}" if hv else "- (initial design running)")
    stopped, last_run = describe_runs(optuna_study)
    table.add_row("stopped", stopped)
    table.add_row("last run", last_run)
    console.print(table)


@app.command()
@_one_line_errors
def pareto(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: Storage = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """The non-dominated feasible trials: config and objectives."""
    from moo.results import trials_frame

    optuna_study, config = load_study(study, storage=storage)
    frame = trials_frame(optuna_study, config)
    front = frame[frame["on_front"]] if len(frame) else frame
    columns = ["trial", *config.search_space().names, *config.objective_names]
    front = front.loc[:, [c for c in columns if c in front.columns]]
    if as_json:
        sys.stdout.write(json.dumps(front.to_dict(orient="records"), indent=2, default=str) + "\n")
        return
    if as_csv:
        sys.stdout.write(front.to_csv(index=False))
        return
    table = Table(
        title=f"Pareto front of {study} ({len(front)} trials)",
        caption=_threshold_caption(frame, config),
    )
    for column in front.columns:
        table.add_column(str(column), justify="right")
    for row in front.itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    _print_table(table)


def _print_table(table: Table) -> None:
    """On a terminal, fit its width; into a pipe or file, never truncate a column."""
    wide = console if console.is_terminal else Console(file=sys.stdout, width=240)
    wide.print(table)


def _threshold_caption(frame: Any, config: Any) -> str | None:
    """``threshold accuracy > 0.9; 12 feasible trials short of it left out``."""
    marks = [
        f"threshold {o.name} {'>' if o.direction == 'maximize' else '<'} {o.threshold:g}"
        for o in config.objectives
        if o.threshold is not None
    ]
    if not marks:
        return None
    feasible = frame[frame["feasible"]] if len(frame) else frame
    short = sum(
        not config.meets_thresholds([row[n] for n in config.objective_names])
        for _, row in feasible.iterrows()
    )
    return f"{', '.join(marks)}; {short} feasible trials short of it left out"


@app.command()
@_one_line_errors
def export(
    study: Annotated[str, typer.Argument(help="Study name.")],
    out: Annotated[Path, typer.Option(help="Folder to write the bundle to.")],
    pick: Annotated[
        str, typer.Option(help="knee | trial:N | a condition such as 'energy_mJ<0.5'.")
    ] = "knee",
    storage: Storage = None,
) -> None:
    """Write a deployment bundle (config, model, metrics, manifest) of one trial."""
    from moo.config import default_storage
    from moo.export import export_trial
    from moo.results import pick_trial

    optuna_study, config = load_study(study, storage=storage)
    _output_folder(out)
    trial = pick_trial(optuna_study, config, pick)
    export_trial(optuna_study, config, trial, out, storage_url=storage or default_storage(study))
    values = ", ".join(
        f"{n}={v:.4g}" for n, v in zip(config.objective_names, trial.values or [], strict=False)
    )
    console.print(f"exported trial {trial.number} ({values}) to {out}")


@app.command()
@_one_line_errors
def report(
    study: Annotated[str, typer.Argument(help="Study name.")],
    out: Annotated[Path | None, typer.Option(help="Folder; default reports/<study>.")] = None,
    storage: Storage = None,
) -> None:
    """HTML page (front, hypervolume history, configs) and PNGs of a study."""
    from moo.report import write_report

    optuna_study, config = load_study(study, storage=storage)
    folder = _output_folder(out or Path("reports") / study)
    for path in write_report(optuna_study, config, folder):
        console.print(f"wrote {path}")


_COIN_CELL = (220.0, 3.0)  # CR2032: the battery of most coin-cell sensor nodes


@app.command()
@_one_line_errors
def recommend(
    study: Annotated[str, typer.Argument(help="Study name.")],
    period: Annotated[
        str | None,
        typer.Option(help="One inference every: 100ms, 2s, 5min, 1h. Default: the study's."),
    ] = None,
    battery_mah: Annotated[
        float | None,
        typer.Option(
            "--battery-mAh", help="Default: the study's, else a CR2032 coin cell (220 mAh)."
        ),
    ] = None,
    voltage: Annotated[
        float | None, typer.Option(help="Battery voltage. Default: the study's, else 3.0 V.")
    ] = None,
    minimum: Annotated[
        list[str] | None,
        typer.Option("--min", help="Floor METRIC=VALUE, e.g. accuracy=0.95 (repeatable)."),
    ] = None,
    maximum: Annotated[
        list[str] | None,
        typer.Option("--max", help="Ceiling METRIC=VALUE, e.g. latency_ms=20 (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Also write average power vs period as this PNG.")
    ] = None,
    storage: Storage = None,
) -> None:
    """Which config on which device draws the least power at an inference period."""
    from moo.config import load_adapter
    from moo.recommend import parse_bound_option, parse_period
    from moo.recommend import recommend as rank

    optuna_study, config = load_study(study, storage=storage)
    workload = config.workload
    if period is None and workload is None:
        raise ConfigError(f"study {study!r} states no workload: pass --period, e.g. --period 2s.")
    study_battery = (workload.battery_mAh, workload.voltage) if workload else (None, None)
    floors = [parse_bound_option(t, ">=", "--min") for t in minimum or []]
    floors += [parse_bound_option(t, "<=", "--max") for t in maximum or []]
    result = rank(
        optuna_study,
        config,
        load_adapter(config.objective),
        period_s=parse_period(period) if period else workload.periods[0],  # type: ignore[union-attr]
        battery_mAh=battery_mah or study_battery[0] or _COIN_CELL[0],
        voltage=voltage or study_battery[1] or _COIN_CELL[1],
        floors=floors,
    )
    if plot is not None:
        from moo.plots import duty_cycle_png

        duty_cycle_png(result, plot)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
        return
    _print_recommendation(result, config)
    if plot is not None:
        console.print(f"wrote {plot}")


def _print_recommendation(result: Any, config: Any) -> None:
    from moo.recommend import BATTERY, POWER, format_period

    workload = result.workload
    say = console.print
    floors = f"; {', '.join(result.floors)}" if result.floors else "; no floor (add --min)"
    title = (
        f"{result.study}: one inference every {format_period(result.period_s)}, "
        f"{workload.battery_mAh:g} mAh at {workload.voltage:g} V{floors}"
    )
    if result.winner is None:
        say(f"{title}\nno evaluated config meets the floors and keeps up with it.")
        return
    shown = [n for n in config.objective_names if "@" not in n and n not in (POWER, BATTERY)]
    table = Table(title=title, padding=(0, 1))
    for column in ["device", "#", "trial", *shown, POWER, BATTERY]:
        if column == "device":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column.replace("_", " "), justify="right", overflow="fold")
    for device, ranked in result.per_device().items():
        for rank, r in enumerate(ranked, start=1):
            c = r.candidate
            table.add_row(
                device if rank == 1 else "",
                str(rank),
                str(c.trial),
                *(f"{c.metrics[n]:.4g}" for n in shown),
                f"{r.duty[POWER]:.4g}",
                f"{r.duty[BATTERY]:.4g}",
            )
    _print_table(table)
    w = result.winner
    hours = w.duty[BATTERY]
    say(
        f"[bold]winner[/]: trial {w.candidate.trial} on {w.candidate.device}, "
        f"{w.power_mW:.4g} mW, battery {hours:.4g} h ({hours / 24:.3g} days): "
        + ", ".join(f"{k}={v}" for k, v in w.candidate.params.items() if k != "device")
    )
    sweep = ", then ".join(
        f"{s.device} (trial {s.trial}) from {format_period(s.from_period_s)}"
        if s.trial is not None
        else f"nothing keeps up below {format_period(s.to_period_s)}"
        for s in result.segments
    )
    say(f"sweep {format_period(result.grid_s[0])} .. {format_period(result.grid_s[-1])}: {sweep}.")
    for c in result.crossovers:
        say(f"crossover at {format_period(c.period_s)}: {c.before.device} -> {c.after.device}")
    if not result.crossovers:
        say("no crossover: one device wins at every period.")
    say(f"export it: moo export {result.study} --pick trial:{w.candidate.trial} --out winner/")


@app.command()
@_one_line_errors
def devices(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Add descriptions.")] = False,
) -> None:
    """The device profiles, and the runtimes of each core with the rows they were fitted on."""
    from objectives.hardware.table import (
        DEVICE_TABLE_COLUMNS,
        RUNTIME_TABLE_COLUMNS,
        device_table,
        runtime_table,
    )

    columns = {k: v for k, v in DEVICE_TABLE_COLUMNS.items() if k != "description"}
    table = Table(title="device profiles (details: `moo devices --verbose`)", padding=(0, 0))
    for key, title in columns.items():
        table.add_column(title, no_wrap=key in ("device", "core"), overflow="fold")
    if verbose:
        table.add_column("description")
    for row in device_table():
        cells = [_cell(row.get(key)) for key in columns]
        table.add_row(*cells, *([_cell(row.get("description"))] if verbose else []))
    console.print(table)
    runtimes = Table(
        title="runtimes per core: name a device `<device>/<runtime>` or "
        "`<device>/<runtime>@<version>`",
        padding=(0, 0),
    )
    detail = ("title", "boards", "note")
    shown = {k: v for k, v in RUNTIME_TABLE_COLUMNS.items() if verbose or k not in detail}
    for key, title in shown.items():
        runtimes.add_column(title, no_wrap=key == "device", overflow="fold")
    for row in runtime_table():
        runtimes.add_row(*(escape(_cell(row.get(key))) for key in shown))
    console.print(runtimes)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


@app.command()
@_one_line_errors
def calibrate(
    device: Annotated[
        str, typer.Argument(help="Device to start from, e.g. cortex_m4 or cortex_m4/plumerai.")
    ],
    measurements: Annotated[Path, typer.Argument(help="CSV of measured latency (and energy).")],
    out: Annotated[Path, typer.Option(help="Where to write the calibrated profile YAML.")],
    clock_mhz: Annotated[
        float | None,
        typer.Option(help="Clock of the rows to calibrate on; default: the device's."),
    ] = None,
) -> None:
    """Calibrate a device profile on a few measured rows; write the new profile.

    A core under a runtime moves from the shipped profile only as far as leave-one-out on
    the rows supports; the output lists every row's residual, the error to expect on a new
    model, and one line per refused row (another clock or runtime).
    """
    from objectives.hardware.calibrate import calibrate_device

    result = calibrate_device(device, measurements, _output_file(out), clock_mhz=clock_mhz)
    console.print(result.summary(), markup=False, highlight=False)
    console.print(f"wrote {out}")


@app.command("table-space")
@_one_line_errors
def table_space(
    table: Annotated[Path, typer.Argument(help="CSV or Parquet table of configs and metrics.")],
    config: Annotated[str, typer.Option(help="Config columns, comma-separated: board,runtime.")],
    metrics: Annotated[
        str, typer.Option(help="Only rows with these metrics, comma-separated: latency_ms.")
    ] = "",
    where: Annotated[
        list[str] | None, typer.Option(help="Only rows with column=value (repeatable).")
    ] = None,
) -> None:
    """Print the search space a measured table spans, for a LookupTable study's `space:`."""
    import yaml

    from objectives.tables import space_from_table

    rows = {}
    for condition in where or []:
        column, sep, value = condition.partition("=")
        if not sep:
            raise ConfigError(f"--where {condition!r}: expected column=value.")
        rows[column.strip()] = yaml.safe_load(value)  # 80 is a number, kws a string
    space = space_from_table(table, _names(config), metrics=_names(metrics), where=rows)
    sys.stdout.write(yaml.safe_dump(space, sort_keys=False, width=100))


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def main() -> None:  # pragma: no cover - the console script
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    app()
