"""The Free Spoken Digit Dataset as MFCC images, cached on disk.

3000 recordings ``{digit}_{speaker}_{index}.wav`` (8 kHz mono int16); the dataset's
official split puts indices 0-4 in the test set (300 clips) and 5-49 in training (2700).
Features are normalized per coefficient with training-set statistics.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from objectives.tinyml._arrays import TaskData
from objectives.tinyml._audio import MfccSettings, mfcc
from objectives.tinyml._errors import DataError

__all__ = ["check_fsdd_dir", "load_fsdd"]

#: Recordings with an index below this are the official test split (FSDD README).
_TEST_INDEX_LIMIT = 5
#: Number of recordings FSDD v1.0.9 ships; fewer means a partial copy.
_EXPECTED_RECORDINGS = 3000


def check_fsdd_dir(data_dir: Path) -> Path:
    """``data_dir`` if it holds a ``recordings`` folder, else a ``DataError`` saying where."""
    folder = Path(data_dir) / "recordings"
    if not folder.is_dir():
        raise DataError(
            f"FSDD: no folder {folder.resolve()}; the Free Spoken Digit Dataset is expected "
            f"as <data_dir>/recordings/*.wav (set objective.options.data_dir, e.g. "
            f"../shared/data/fsdd)."
        )
    return Path(data_dir)


def _recordings(data_dir: Path) -> list[Path]:
    folder = check_fsdd_dir(data_dir) / "recordings"
    files = sorted(folder.glob("*.wav"))
    if len(files) != _EXPECTED_RECORDINGS:
        raise DataError(
            f"FSDD: expected {_EXPECTED_RECORDINGS} WAV files in {folder.resolve()}, found "
            f"{len(files)}; a partial copy would change the official split."
        )
    return files


def _read(path: Path, settings: MfccSettings) -> np.ndarray:
    rate, samples = wavfile.read(path)
    if rate != settings.sample_rate or samples.ndim != 1:
        raise DataError(
            f"FSDD: {path} is {samples.ndim}-channel at {rate} Hz; expected mono "
            f"{settings.sample_rate} Hz."
        )
    return samples.astype(np.float64) / np.iinfo(samples.dtype).max


def _cache_key(files: list[Path], settings: MfccSettings) -> str:
    listing = [(f.name, f.stat().st_size) for f in files]
    payload = json.dumps([listing, dataclasses.asdict(settings)]).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def _compute(files: list[Path], settings: MfccSettings) -> TaskData:
    features = np.stack([mfcc(_read(f, settings), settings) for f in files])[:, None]
    parts = [f.stem.split("_") for f in files]
    labels = np.array([int(p[0]) for p in parts], dtype=np.int64)
    is_test = np.array([int(p[2]) < _TEST_INDEX_LIMIT for p in parts])
    mean = features[~is_test].mean(axis=(0, 1, 2))
    std = features[~is_test].std(axis=(0, 1, 2)) + 1e-6
    features = ((features - mean) / std).astype(np.float32)
    return TaskData(features[~is_test], labels[~is_test], features[is_test], labels[is_test])


def load_fsdd(data_dir: Path, cache_dir: Path, settings: MfccSettings | None = None) -> TaskData:
    """MFCC features of FSDD, from ``cache_dir`` when computed before.

    Args:
        data_dir: Folder holding ``recordings/``.
        cache_dir: Folder for the ``.npz`` feature cache.
        settings: Front-end constants; the MLPerf-Tiny-like defaults when ``None``.

    Returns:
        ``n x 1 x 49 x 10`` features with the official split.
    """
    settings = settings or MfccSettings()
    files = _recordings(Path(data_dir))
    path = Path(cache_dir) / f"fsdd-mfcc-{_cache_key(files, settings)}.npz"
    if not path.exists():
        data = _compute(files, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            x_train=data.x_train,
            y_train=data.y_train,
            x_test=data.x_test,
            y_test=data.y_test,
        )
        tmp.replace(path)
    with np.load(path) as cached:
        return TaskData(cached["x_train"], cached["y_train"], cached["x_test"], cached["y_test"])
