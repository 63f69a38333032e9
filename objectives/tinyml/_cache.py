"""The on-disk cache of trained and compressed models, shared by trials and resumes.

Training is the expensive, device-independent step, so trained weights are cached by
(task data, architecture, training settings, seed) and compressed models by that plus
(bits, pruning, fine-tune and calibration settings). Keys are hashes of those settings as
JSON, with a version that changes whenever the pipeline would produce different weights
from the same settings. Every write goes to a temporary name first and is renamed into
place, so a crash or a second worker never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from objectives.tinyml._errors import TinyMLError

__all__ = ["cache_key", "load_weights", "publish_folder", "save_weights", "scratch_folder"]

#: Bump when the training or compression code changes the weights it makes.
CACHE_VERSION = 1


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def cache_key(**parts: Any) -> str:
    """A short stable hash of keyword parts (dataclasses, numbers, strings)."""
    payload = {"version": CACHE_VERSION, **{k: _plain(v) for k, v in parts.items()}}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _tmp_name(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def save_weights(model: nn.Module, path: Path) -> None:
    """Write ``model``'s state dict to ``path`` atomically."""
    tmp = _tmp_name(path)
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a cached state dict into ``model`` (built with the same architecture).

    Raises:
        TinyMLError: The file is unreadable or does not fit the architecture; the
            message names the file so that it can be deleted.
    """
    try:
        model.load_state_dict(torch.load(path, weights_only=True))
    except Exception as e:
        raise TinyMLError(
            f"cached weights {path} are unreadable ({type(e).__name__}: {e}); delete the file."
        ) from e


def publish_folder(tmp: Path, final: Path) -> Path:
    """Move a fully written folder into place; if another worker was first, keep theirs."""
    try:
        tmp.replace(final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def scratch_folder(final: Path) -> Path:
    """An empty temporary folder next to ``final``, for ``publish_folder``."""
    tmp = _tmp_name(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp
