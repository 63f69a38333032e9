"""The on-disk cache of trained and compressed models, shared by trials and resumes.

Training is the expensive, device-independent step, so trained weights are cached by
(task data, architecture, training settings, seed), with the seconds their training took,
and compressed models by that plus (the compression, fine-tune and calibration settings,
and the teacher where one distils). An entry that cannot be read (a truncated file, a
disk error) is trained again and replaced, with a warning. Keys are hashes of those settings as
JSON, with a version that changes whenever the pipeline would produce different weights
from the same settings. Every write goes to a temporary name first and is renamed into
place, so a crash or a second worker never leaves a half-written entry.

Only the two functions that write and read weights import torch: the adapter computes
cache keys without it, as ``moo report`` and ``moo recommend`` do not train.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = ["cache_key", "load_trained", "publish_folder", "save_trained", "scratch_folder"]

_logger = logging.getLogger(__name__)

#: Bump when the training or compression code changes the weights it makes (2: the
#: trained entries record their training seconds).
CACHE_VERSION = 2


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


def _seconds_path(path: Path) -> Path:
    return path.with_suffix(".json")


def save_trained(model: nn.Module, path: Path, seconds: float) -> None:
    """Write ``model``'s state dict to ``path`` and its training ``seconds`` beside it,
    each atomically (the seconds last: an entry without them is incomplete)."""
    import torch

    tmp = _tmp_name(path)
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)
    tmp = _tmp_name(_seconds_path(path))
    tmp.write_text(json.dumps({"train_seconds": seconds}))
    tmp.replace(_seconds_path(path))


def load_trained(model: nn.Module, path: Path) -> float | None:
    """Load the cached state dict at ``path`` into ``model`` and return its training
    seconds; ``None`` if there is no complete entry.

    An entry that cannot be read, or does not fit the architecture, is reported as a
    warning naming the file and treated as missing: the caller trains a fresh network
    (``model`` may be partly overwritten) and replaces the entry.
    """
    if not path.exists():
        return None
    import torch

    try:
        model.load_state_dict(torch.load(path, weights_only=True))
        return float(json.loads(_seconds_path(path).read_text())["train_seconds"])
    except Exception as e:  # any unreadable entry is rebuilt, whatever broke it
        _logger.warning(
            "cached model %s is unreadable (%s: %s); training it again", path, type(e).__name__, e
        )
        return None


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
