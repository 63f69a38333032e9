"""The torch side of a TinyML trial: train, distil, compress and export into the cache.

The adapter (``_adapter.py``) parses configs, plans their graphs and costs them without
torch; only a trial whose model is not in the cache yet needs a network. The adapter
imports this module when it first builds one, so that ``moo report`` and ``moo recommend``
on a stored study, which only read configs and metrics, never import torch (seconds).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from moo.threads import torch_threads
from objectives.tinyml._cache import load_trained, publish_folder, save_trained, scratch_folder
from objectives.tinyml._compress import calibration_set, compress
from objectives.tinyml._graph import graph_metadata
from objectives.tinyml._models import build_model
from objectives.tinyml._onnx import export_onnx, quantize_int8, run_onnx
from objectives.tinyml._train import fit, predict, score

if TYPE_CHECKING:
    from torch import nn

    from objectives.tinyml._arch import ArchSpec
    from objectives.tinyml._data import TaskData, TaskSpec
    from objectives.tinyml._settings import Compression, FineTunes, TrainSettings

__all__ = ["ModelBuilder"]


class ModelBuilder:
    """Fills the adapter's cache entries: one per trained network and per compressed
    model, with the task's teachers' logits kept in memory across trials."""

    def __init__(
        self,
        *,
        task: TaskSpec,
        score_name: str,
        train_settings: TrainSettings,
        finetunes: FineTunes,
        calibration_size: int,
        threads: int | None,
    ) -> None:
        """Keep the adapter's settings (see ``_TinyMLAdapter.__init__``)."""
        self.task = task
        self.score_name = score_name
        self.train_settings = train_settings
        self.finetunes = finetunes
        self.calibration_size = calibration_size
        self.threads = threads
        self._teachers: dict[Path, tuple[np.ndarray, float]] = {}

    def build(
        self,
        arch: ArchSpec,
        compression: Compression,
        data: TaskData,
        *,
        weights: Path,
        teacher: tuple[ArchSpec, Path] | None,
        folder: Path,
        seed: int,
        timings: dict[str, float],
    ) -> str:
        """Fill the cache entry ``folder`` (ONNX models and ``scores.json``) under torch's
        ``threads``; returns the cache level that was hit.

        Args:
            arch: The trial's architecture.
            compression: The trial's compression.
            data: The task's data.
            weights: Cache path of the trained float network of ``arch``.
            teacher: The teacher's architecture and the cache path of its weights, when
                the compression distils.
            folder: The compressed model's cache entry.
            seed: Seed of the initial weights and of training.
            timings: Filled with ``train_s``, ``prune_s``, ``quant_s``, ``export_s``.
        """
        with torch_threads(self.threads):
            start = time.perf_counter()
            model, train_seconds, was_cached = self._trained(arch, data, weights, seed)
            teacher_logits = None
            if teacher is not None:
                teacher_logits, teacher_seconds = self._teacher(*teacher, data, seed)
                train_seconds += teacher_seconds
            timings["train_s"] = time.perf_counter() - start
            kind, name = self.task.kind, self.score_name
            scores = {f"{name}_trained": score(kind, predict(model, data.x_test), data)}
            calibration = calibration_set(data, self.calibration_size)
            compressed = compress(
                model,
                data,
                self.task,
                compression,
                self.finetunes,
                calibration=calibration,
                seed=seed,
                teacher_logits=teacher_logits,
            )
            scores[name] = score(kind, predict(compressed.scored, data.x_test), data)
            timings["prune_s"], timings["quant_s"] = compressed.prune_s, compressed.quant_s
            scores["train_seconds"] = train_seconds + compressed.prune_s + compressed.quant_s
            tmp = scratch_folder(folder)
            start = time.perf_counter()
            metadata = graph_metadata(*compression.bit_widths, compressed.pruned)
            export_onnx(compressed.exported, self.task.input_shape, tmp / "model.onnx", metadata)
            timings["export_s"] = time.perf_counter() - start
            if compression.bits == 8:
                start = time.perf_counter()
                quantize_int8(tmp / "model.onnx", tmp / "model_int8.onnx", calibration)
                outputs = run_onnx(tmp / "model_int8.onnx", data.x_test)
                scores[f"{name}_ort_int8"] = score(kind, outputs, data)
                timings["quant_s"] += time.perf_counter() - start
            (tmp / "scores.json").write_text(json.dumps(scores, sort_keys=True))
            publish_folder(tmp, folder)
            return "trained" if was_cached else "none"

    def _trained(
        self, arch: ArchSpec, data: TaskData, path: Path, seed: int
    ) -> tuple[nn.Sequential, float, bool]:
        """The trained float network of ``arch``, its training seconds and whether it
        came from the cache (an unreadable entry is trained again)."""
        model = build_model(arch, self.task, seed=seed)
        seconds = load_trained(model, path)
        if seconds is not None:
            return model.eval(), seconds, True
        model = build_model(arch, self.task, seed=seed)  # a failed load may have written
        start = time.perf_counter()
        fit(model, data, self.task.kind, self.train_settings, seed=seed, what="training")
        seconds = time.perf_counter() - start
        save_trained(model, path, seconds)
        return model, seconds, False

    def _teacher(
        self, arch: ArchSpec, path: Path, data: TaskData, seed: int
    ) -> tuple[np.ndarray, float]:
        """The teacher's training-set logits and training seconds: trained once per task,
        data, training settings and seed, and cached on disk like every trained network
        (a student of the same architecture is the same network)."""
        if path not in self._teachers:
            model, seconds, _ = self._trained(arch, data, path, seed)
            self._teachers[path] = (predict(model, data.x_train), seconds)
        return self._teachers[path]
