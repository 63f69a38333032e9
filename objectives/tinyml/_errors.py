"""The exceptions of the TinyML adapters.

Each one carries a single line that names the config (or the setting) and the cause, so
the engine can fail the trial with that message and go on with the study.
"""

from __future__ import annotations

from moo.protocol import AdapterError

__all__ = [
    "ArchitectureError",
    "DataError",
    "OptionsError",
    "TinyMLError",
    "TrainingError",
]


class TinyMLError(AdapterError):
    """Base class of every error the TinyML adapters raise on purpose."""


class OptionsError(TinyMLError, ValueError):
    """An adapter option from the study YAML is invalid (unknown task, empty devices)."""


class ArchitectureError(TinyMLError, ValueError):
    """The config describes a network that cannot be built for the task's input."""


class TrainingError(TinyMLError, RuntimeError):
    """Training, fine-tuning or export of a config failed (NaN loss, backend error)."""


class DataError(TinyMLError, FileNotFoundError):
    """A dataset is missing or malformed; the message says where it was expected."""
