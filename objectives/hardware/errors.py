"""Exceptions and warnings of the hardware models.

Each error also inherits ``ValueError`` (the BoTorch pattern), so callers that only know the
builtin still catch it, and the protocol's ``AdapterError``, so the command line shows it
as one line without importing this package.
"""

from __future__ import annotations

from moo.protocol import AdapterError

__all__ = [
    "HardwareError",
    "ProfileError",
    "RuntimeEstimateWarning",
    "UnknownDeviceError",
    "UnknownOpWarning",
]


class HardwareError(AdapterError, ValueError):
    """Base class of every error raised by ``objectives.hardware``."""


class UnknownDeviceError(HardwareError):
    """A device name that has no profile; the message lists the known ones."""


class ProfileError(HardwareError):
    """A device profile file that is missing a field or holds an invalid value."""


class UnknownOpWarning(UserWarning):
    """A graph layer whose op the latency model does not know; a fallback cost is used."""


class RuntimeEstimateWarning(UserWarning):
    """A device whose runtime has no measured rows on its core (or a version newer than the
    fitted ones): its constants are estimated from neighbours, with a wider spread."""
