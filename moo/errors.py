"""moo's exceptions: one base class, each subclass also a builtin so callers can catch either."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EvaluationError",
    "MooError",
    "StorageError",
    "StudyNotFoundError",
    "one_line",
    "printable",
]


class MooError(Exception):
    """Base class of every error moo raises on purpose."""


class ConfigError(MooError, ValueError):
    """A study or search-space definition is invalid; the message names the file and key."""


class EvaluationError(MooError, RuntimeError):
    """An objective evaluation failed; the trial fails and the study goes on."""


class StudyNotFoundError(MooError, LookupError):
    """No study of that name exists in the given storage."""


class StorageError(MooError, RuntimeError):
    """The study's storage cannot be opened, read or written (the message masks passwords)."""


def one_line(error: BaseException) -> str:
    """``Type: first line of the message``: how a failure is shown and stored."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def printable(text: str) -> str:
    """``text`` with control characters escaped: a value from a file or a storage
    (``type: "\\x1e"``, a name with a newline) must not break the line that reports it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
