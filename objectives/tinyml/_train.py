"""Training, fine-tuning and scoring, seeded and single-process.

Classifiers learn with cross-entropy (or, distilled, with a teacher's soft targets as
well: ``_distill.py``) and are scored by accuracy; autoencoders learn to reconstruct
normal samples (mean squared error) and are scored by the ROC AUC of their reconstruction
error on the test set, where anomalies should reconstruct worse.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from objectives.tinyml._data import TaskData
from objectives.tinyml._distill import Distillation, distillation_loss
from objectives.tinyml._errors import TrainingError
from objectives.tinyml._settings import TrainSettings

__all__ = ["fit", "predict", "score"]

#: Rows per forward pass when predicting; bounds peak memory on the larger inputs.
_PREDICT_BATCH = 512


def _loss(
    kind: Literal["classify", "reconstruct"], out: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    if kind == "classify":
        return nn.functional.cross_entropy(out, y)
    return nn.functional.mse_loss(out, x.flatten(1))


def _check_distillation(
    kd: Distillation, kind: Literal["classify", "reconstruct"], n: int
) -> torch.Tensor:
    if kind != "classify" or len(kd.teacher_logits) != n:
        raise ValueError(
            f"distillation needs a classifier and one row of teacher logits per training row, "
            f"got kind {kind!r} and {len(kd.teacher_logits)} rows for {n}."
        )
    return torch.from_numpy(kd.teacher_logits)


def fit(
    model: nn.Module,
    data: TaskData,
    kind: Literal["classify", "reconstruct"],
    settings: TrainSettings,
    *,
    seed: int,
    what: str,
    distill: Distillation | None = None,
) -> float:
    """Train ``model`` in place on ``data``'s training split.

    Args:
        model: The network; its parametrizations (pruning masks, fake quantizers) are
            trained through.
        data: Task arrays.
        kind: ``classify`` or ``reconstruct``.
        settings: Optimizer settings.
        seed: Seed of the batch order.
        what: The config and phase, for error messages.
        distill: The teacher's soft targets; ``None`` trains on the labels alone.

    Returns:
        The mean loss of the last epoch.

    Raises:
        TrainingError: If the loss stops being finite.
    """
    x_all = torch.from_numpy(data.x_train)
    y_all = torch.from_numpy(data.y_train)
    n = len(x_all)
    teacher = None if distill is None else _check_distillation(distill, kind, n)
    steps_per_epoch = math.ceil(n / settings.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(1, settings.epochs * steps_per_epoch)
    )
    generator = torch.Generator().manual_seed(seed)
    model.train()
    epoch_loss = math.nan
    for epoch in range(settings.epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, settings.batch_size):
            idx = order[start : start + settings.batch_size]
            x, y = x_all[idx], y_all[idx]
            out = model(x)
            if distill is None or teacher is None:
                loss = _loss(kind, out, x, y)
            else:
                loss = distillation_loss(out, y, teacher[idx], distill)
            if not torch.isfinite(loss):
                raise TrainingError(f"{what}: loss became {loss.item()} in epoch {epoch + 1}.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(idx)
        epoch_loss = total / n
    model.eval()
    return epoch_loss


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Outputs of ``model`` (eval mode) on ``x``, batched, as a numpy array."""
    model.eval()
    parts = [
        model(torch.from_numpy(x[i : i + _PREDICT_BATCH])).numpy()
        for i in range(0, len(x), _PREDICT_BATCH)
    ]
    return np.concatenate(parts)


def score(kind: Literal["classify", "reconstruct"], outputs: np.ndarray, data: TaskData) -> float:
    """Accuracy (classify) or ROC AUC of the reconstruction error (reconstruct) on test.

    Args:
        kind: ``classify`` or ``reconstruct``.
        outputs: ``n_test x n_classes`` logits or ``n_test x prod(input_shape)``
            reconstructions, from PyTorch or onnxruntime alike.
        data: Task arrays (the test split is used).

    Returns:
        The score, higher is better.
    """
    if kind == "classify":
        return float(np.mean(outputs.argmax(axis=1) == data.y_test))
    error = np.mean((outputs - data.x_test.reshape(len(outputs), -1)) ** 2, axis=1)
    return float(roc_auc_score(data.y_test, error))
