"""The soft-target distillation loss against its closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from objectives.tinyml._distill import Distillation, distillation_loss

STUDENT = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]], dtype=torch.float64)
TEACHER = torch.tensor([[1.0, 1.0, 0.0], [-1.0, 0.0, 2.0]], dtype=torch.float64)
LABELS = torch.tensor([0, 2])


def _kd(temperature: float, alpha: float) -> Distillation:
    return Distillation(np.zeros((0, 3)), temperature, alpha)


def _closed_form(temperature: float, alpha: float) -> float:
    s = STUDENT.numpy() / temperature
    t = TEACHER.numpy() / temperature
    log_p = s - np.log(np.exp(s).sum(1, keepdims=True))
    log_q = t - np.log(np.exp(t).sum(1, keepdims=True))
    kl = (np.exp(log_q) * (log_q - log_p)).sum(1).mean()
    raw = STUDENT.numpy()
    ce = -(raw - np.log(np.exp(raw).sum(1, keepdims=True)))[[0, 1], LABELS.numpy()].mean()
    return float((1 - alpha) * ce + alpha * temperature**2 * kl)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 8.0])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_the_loss_is_hintons(temperature: float, alpha: float) -> None:
    loss = distillation_loss(STUDENT, LABELS, TEACHER, _kd(temperature, alpha))
    assert loss.item() == pytest.approx(_closed_form(temperature, alpha), rel=1e-9)


def test_a_student_that_matches_its_teacher_has_no_soft_loss() -> None:
    loss = distillation_loss(STUDENT, LABELS, STUDENT.clone(), _kd(4.0, 1.0))
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
