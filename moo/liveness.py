"""Whether a study is running, and how its runs ended: interrupted, crashed, killed.

A study's storage outlives the processes that run it, so ``moo status`` cannot ask them.
Each run (``StudyRun.run``) therefore keeps a record in the study: the host and process,
when it started, a heartbeat refreshed by a background thread every
``execution.heartbeat_interval`` seconds, and, when it ends, how: ``stopped``,
``interrupted`` (Ctrl-C, SIGTERM) or ``crashed`` with the error's one line. A record
still ``running`` whose heartbeat is stale, or whose process is gone from this host, is a
run that was killed (kill -9, out of memory, a machine that went down).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

import optuna

from moo.errors import one_line
from moo.keys import RUN_KEY_PREFIX, STOP_REASON_KEY

__all__ = ["RunRecord", "describe_runs", "recorded_run", "run_records"]

_logger = logging.getLogger("moo")

State = Literal["running", "stopped", "interrupted", "crashed"]
#: A heartbeat older than this many intervals (plus a margin for a busy machine or a
#: locked SQLite file) means the process no longer beats.
_STALE_BEATS = 3
_STALE_MARGIN_S = 5.0


@dataclass(frozen=True)
class RunRecord:
    """One process's run of a study, as stored (``moo:run:<host>:<pid>:<start>``).

    Attributes:
        host: Machine name.
        pid: Process id on that machine.
        started: Start, seconds since the epoch.
        last_seen: Last heartbeat (or the end), seconds since the epoch.
        beat_s: Heartbeat interval.
        state: ``running``, ``stopped``, ``interrupted`` or ``crashed``.
        detail: How it ended: the stop reason, or the crash's one line.
    """

    host: str
    pid: int
    started: float
    last_seen: float
    beat_s: float
    state: State = "running"
    detail: str = ""

    @property
    def key(self) -> str:
        return f"{RUN_KEY_PREFIX}{self.host}:{self.pid}:{self.started:.6f}"

    @property
    def where(self) -> str:
        return f"{self.host} pid {self.pid}"

    def beating(self, now: float) -> bool:
        """Whether the run still looks alive: fresh heartbeat, process not gone."""
        if self.state != "running":
            return False
        if self.host == socket.gethostname() and not _process_exists(self.pid):
            return False
        return now - self.last_seen <= _STALE_BEATS * self.beat_s + _STALE_MARGIN_S


def run_records(user_attrs: Mapping[str, Any]) -> list[RunRecord]:
    """The study's run records, oldest first (malformed ones are skipped)."""
    records = []
    for key, value in user_attrs.items():
        if key.startswith(RUN_KEY_PREFIX) and isinstance(value, dict):
            try:
                records.append(RunRecord(**value))
            except TypeError:
                continue
    return sorted(records, key=lambda r: r.started)


def describe_runs(study: optuna.Study, *, now: float | None = None) -> tuple[str, str]:
    """``(stopped, last run)``: the two lines ``moo status`` shows about the study's runs."""
    now = time.time() if now is None else now
    records = run_records(study.user_attrs)
    reason = study.user_attrs.get(STOP_REASON_KEY)
    live = [r for r in records if r.beating(now)]
    if live:
        newest = live[-1]
        others = f" and {len(live) - 1} more" if len(live) > 1 else ""
        return (
            f"no: running on {newest.where}{others}, heartbeat {_age(now - newest.last_seen)} ago",
            _describe(newest, now),
        )
    if not records:
        return str(reason or "no stop recorded"), "-"
    last = records[-1]
    if last.state == "running":  # never ended, and no longer beats: killed
        return (
            f"no stop recorded: the run on {last.where} {_gone(last, now)}; "
            f"`moo resume {study.study_name}` continues the study",
            _describe(last, now),
        )
    return str(reason or last.detail or last.state), _describe(last, now)


@contextmanager
def recorded_run(study: optuna.Study, *, beat_s: float) -> Iterator[RunRecord]:
    """Record this process's run of ``study`` while the block runs, then how it ended.

    ``KeyboardInterrupt`` (Ctrl-C, and SIGTERM where the CLI maps it) is recorded as
    ``interrupted``, any other exception as ``crashed: <one line>``; both are re-raised.
    The study's stop reason is set to the same text unless another run of the study is
    still beating (it would read the reason as a signal to stop).
    """
    now = time.time()
    record = RunRecord(socket.gethostname(), os.getpid(), now, now, float(beat_s))
    _write(study, record)
    stop = threading.Event()
    beat = threading.Thread(
        target=_beat, args=(study, record, stop), name="moo-run-heartbeat", daemon=True
    )
    beat.start()
    state: State = "stopped"
    detail = ""
    try:
        yield record
    except KeyboardInterrupt:
        state, detail = "interrupted", "interrupted"
        raise
    except BaseException as e:
        state, detail = "crashed", f"crashed: {one_line(e)}"
        raise
    finally:
        stop.set()
        beat.join()
        _end(study, record, state, detail)


def _beat(study: optuna.Study, record: RunRecord, stop: threading.Event) -> None:
    while not stop.wait(record.beat_s):
        try:
            _write(study, replace(record, last_seen=time.time()))
        except Exception as e:  # a busy or lost storage: the run itself will say so
            _logger.debug("run heartbeat not written: %s", e)


def _end(study: optuna.Study, record: RunRecord, state: State, detail: str) -> None:
    """Store how the run ended; best effort, since the storage may be what failed."""
    if state == "stopped":
        detail = str(study.user_attrs.get(STOP_REASON_KEY) or "stopped")
    try:
        _write(study, replace(record, last_seen=time.time(), state=state, detail=detail))
        if state != "stopped":
            others = [r for r in run_records(study.user_attrs) if r.key != record.key]
            if not any(r.beating(time.time()) for r in others):
                study.set_user_attr(STOP_REASON_KEY, detail)
    except Exception as e:
        _logger.warning("could not record that the run %s: %s", state, one_line(e))


def _write(study: optuna.Study, record: RunRecord) -> None:
    study.set_user_attr(record.key, asdict(record))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _describe(record: RunRecord, now: float) -> str:
    started = _clock(record.started)
    if record.state == "running":
        beat = f"last heartbeat {_age(now - record.last_seen)} ago"
        return f"{record.where}, started {started}, {beat}"
    return f"{record.where}, started {started}, {record.state} {_clock(record.last_seen)}"


def _gone(record: RunRecord, now: float) -> str:
    if record.host == socket.gethostname() and not _process_exists(record.pid):
        return "is gone (killed, or it died)"
    return f"was last seen {_age(now - record.last_seen)} ago (killed, or its machine is down)"


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).isoformat(sep=" ", timespec="seconds")


def _age(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
