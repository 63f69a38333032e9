"""The arrays of a task, in a module of their own.

Each loader (``_data`` for the tasks that ship with a package, ``_fsdd`` for recordings on
disk) returns a ``TaskData``; with the class here, ``_data`` can dispatch to ``_fsdd``
without ``_fsdd`` importing ``_data`` back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["TaskData"]


@dataclass(frozen=True)
class TaskData:
    """Train and test arrays of a task.

    For ``reconstruct`` tasks ``y_train`` is all zeros (only normal samples are trained
    on) and ``y_test`` is 1 for an anomaly.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def fingerprint(self) -> str:
        """Hash of the arrays: part of every cache key, so changed data never hits."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]
