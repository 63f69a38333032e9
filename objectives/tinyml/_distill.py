r"""Knowledge distillation: a fixed strong teacher per task guides the compressed student.

The teacher is the float model of a fixed, larger architecture (``_arch.TEACHERS``),
trained once per task, data and seed (the adapter caches it like any trained model). Its
logits on the training set are computed once; every fine-tune of a compression that
distils then minimizes the soft-target loss of [Hinton2015]

    L = (1 - alpha) * CE(s, y) + alpha * T^2 * KL(softmax(t / T) || softmax(s / T))

with student logits ``s``, teacher logits ``t``, temperature ``T > 0`` and weight
``alpha`` in ``[0, 1]`` (``T^2`` keeps the soft term's gradients on the scale of the hard
one as ``T`` grows). Only classifiers have teachers: an autoencoder has no logits, and
distilling its reconstruction is not supported (``check()`` says so).

.. [Hinton2015] G. Hinton, O. Vinyals, J. Dean. Distilling the Knowledge in a Neural
   Network. arXiv:1503.02531, 2015.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["Distillation", "distillation_loss"]


@dataclass(frozen=True)
class Distillation:
    """The soft targets of one fine-tune.

    Attributes:
        teacher_logits: ``n_train x n_classes`` logits of the teacher on the training
            split, in its row order.
        temperature: Softmax temperature ``T > 0``.
        alpha: Weight of the soft term, in ``[0, 1]`` (0 is plain cross-entropy).
    """

    teacher_logits: np.ndarray
    temperature: float
    alpha: float


def distillation_loss(
    student: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor, kd: Distillation
) -> torch.Tensor:
    """The soft-target loss ``L`` of the module docstring, averaged over the batch.

    Args:
        student: ``n x n_classes`` student logits.
        labels: ``n`` class indices.
        teacher: ``n x n_classes`` teacher logits of the same rows.
        kd: Temperature and weight.
    """
    hard = nn.functional.cross_entropy(student, labels)
    t = kd.temperature
    soft = nn.functional.kl_div(
        nn.functional.log_softmax(student / t, dim=1),
        nn.functional.log_softmax(teacher / t, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return (1.0 - kd.alpha) * hard + kd.alpha * t * t * soft
