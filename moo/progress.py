"""What a running study shows: a rich progress bar on a terminal, plain lines elsewhere.

A study runs for minutes to hours, often under ``nohup``, in CI or into a log file, where
a progress bar prints nothing until it ends. So the display depends on where stdout goes:

- a terminal gets the bar (trials n/max, hypervolume, front size, failures, ETA) with log
  lines above it;
- anything else gets one line per finished trial (``quickstart: trial 17/60  HV 1.0234
  front 12  4.3 s  elapsed 1:02``) and one line before every step that can take a while
  (loading the adapter and its data, the first model fit, starting Dask workers), which
  the engine and the adapters log at INFO on the ``moo`` and ``objectives`` loggers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from moo.history import RunStatus

__all__ = ["configure_logging", "live_progress", "plain_line"]

_LOGGERS = ("moo", "objectives")


class _ConsoleLines(logging.Handler):
    """Log records as single unwrapped lines on the console (warnings say so)."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        self.console.out(prefix + record.getMessage(), highlight=False)


def configure_logging(console: Console) -> None:
    """INFO lines of the engine and the adapters on ``console``: above the bar on a
    terminal, plain lines elsewhere."""
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, level=logging.INFO)
    else:
        handler = _ConsoleLines(console)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def plain_line(title: str, status: RunStatus) -> str:
    """One line per finished trial: trial n/max, HV, front size, the trial's seconds."""
    hv = "-" if status.hypervolume is None else f"{status.hypervolume:.4f}"
    parts = [
        f"{title}: trial {status.n_trials}/{status.max_trials}",
        f"HV {hv}",
        f"front {status.front_size}",
    ]
    last = status.last
    if last is not None and last.datetime_start and last.datetime_complete:
        seconds = (last.datetime_complete - last.datetime_start).total_seconds()
        parts.append(f"{seconds:.1f} s {last.state.name.lower()}")
    if status.n_failed or status.n_infeasible:
        parts.append(f"{status.n_failed} failed, {status.n_infeasible} infeasible")
    minutes, seconds = divmod(int(status.elapsed_s), 60)
    parts.append(f"elapsed {minutes}:{seconds:02d}")
    return "  ".join(parts)


@contextmanager
def live_progress(
    console: Console, title: str, max_trials: int, done: int
) -> Iterator[Callable[[RunStatus], None]]:
    """Yields the callback a ``StudyRun`` calls after every trial."""
    configure_logging(console)
    if not console.is_terminal:
        yield lambda status: console.out(plain_line(title, status), highlight=False)
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("HV {task.fields[hv]}"),
        TextColumn("front {task.fields[front]}"),
        TextColumn("{task.fields[issues]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task(title, total=max_trials, completed=done, hv="-", front=0, issues="")

    def update(status: RunStatus) -> None:
        issues = []
        if status.n_failed:
            issues.append(f"[red]{status.n_failed} failed[/]")
        if status.n_infeasible:
            issues.append(f"[yellow]{status.n_infeasible} infeasible[/]")
        progress.update(
            task,
            completed=status.n_trials,
            hv="-" if status.hypervolume is None else f"{status.hypervolume:.4f}",
            front=status.front_size,
            issues=" ".join(issues),
        )

    with progress:
        yield update
