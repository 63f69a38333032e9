r"""A GP's outcomes on a warped scale: one Yeo-Johnson transform per output, fitted to the
trials, undone on the posterior.

A GP expects outcomes spread the way a Gaussian process draws them. Errors of neural
networks are not: most configs sit near the best and a few (a NAS-Bench-201 cell whose
``none`` edges cut the input from the output) sit at chance level, stretch the
standardized scale, and leave the GP a flat landscape with spikes. On NAS-Bench-201 the
GP ranks held-out errors with Spearman 0.42 from 60 configs on the raw error and 0.61
after the warp, 0.69 with the known latency as an input too
(``experiments/benchmarks/known_features.py``); HEBO (Cowen-Rivers et al.,
JAIR 2022) found such power transforms among the choices that matter most on Bayesmark.

The warp is an outcome transform, as BoTorch's ``Log`` and ``Power`` are: the GP is
fitted on the warped values and its posterior is mapped back, samples exactly (the MC
acquisition's hypervolume is measured on the objectives' own scale, the scale the study
reports) and mean and variance to first order (what the screen reads). The exponent is
bounded to ``[0, 2]``, where the transform maps the real line onto itself, so every
posterior sample has a value to map back to.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from botorch.models.transforms.outcome import OutcomeTransform
from botorch.posteriors import Posterior, TransformedPosterior
from scipy import stats
from torch import Tensor

__all__ = ["YeoJohnson"]

_EXPONENT_RANGE = (0.0, 2.0)
_EPS = 1e-9  # below it an exponent counts as the log case of its side


class YeoJohnson(OutcomeTransform):
    """Standardize, Yeo-Johnson, standardize again; each output fitted on its own.

    Fitted on the training outcomes in train mode (as ``Standardize`` is), so units and
    offsets of an objective do not change the warp. Supports ``n x m`` outcomes (no batch
    of training sets). An observation noise keeps its share of the outcome's variance
    (moo passes one only to interpolating GPs, a fixed share just above GPyTorch's floor;
    the warp's slope would push it below in the compressed tail).

    Args:
        m: Number of outputs.
    """

    def __init__(self, m: int) -> None:
        super().__init__()
        self._m = m
        for name in ("mean", "sd", "exponent", "center", "scale"):
            self.register_buffer(name, torch.zeros(m))

    def forward(
        self, Y: Tensor, Yvar: Tensor | None = None, X: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        if self.training:
            self._fit(Y)
        Yvar_tf = None if Yvar is None else Yvar / self.sd**2
        return self._warp(Y), Yvar_tf

    def untransform(
        self, Y: Tensor, Yvar: Tensor | None = None, X: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        return self._unwarp(Y), None if Yvar is None else Yvar * self.sd**2

    def untransform_posterior(self, posterior: Posterior, X: Tensor | None = None) -> Posterior:
        return TransformedPosterior(
            posterior=posterior,
            sample_transform=self._unwarp,
            mean_transform=lambda mean, variance: self._unwarp(mean),
            variance_transform=lambda mean, variance: (
                variance / self._slope(self._unwarp(mean)) ** 2
            ),
        )

    def subset_output(self, idcs: list[int]) -> OutcomeTransform:
        subset = YeoJohnson(len(idcs))
        for name, buffer in self.named_buffers():
            setattr(subset, name, buffer[idcs].clone())
        subset.train(self.training)
        return subset

    @property
    def _is_linear(self) -> bool:
        return False

    # ------------------------------------------------------------------ the map
    def _fit(self, Y: Tensor) -> None:
        if Y.dim() != 2 or Y.shape[-1] != self._m:
            raise ValueError(
                f"YeoJohnson({self._m}) fits n x {self._m} outcomes, got {tuple(Y.shape)}."
            )
        values = Y.detach().cpu().numpy()
        mean, sd = values.mean(axis=0), values.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        z = (values - mean) / sd
        exponents = np.ones(self._m)
        for i in range(self._m):
            if np.ptp(z[:, i]) > 0:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # overflow probes
                    exponents[i] = np.clip(stats.yeojohnson_normmax(z[:, i]), *_EXPONENT_RANGE)
        warped = np.column_stack([stats.yeojohnson(z[:, i], exponents[i]) for i in range(self._m)])
        scale = warped.std(axis=0)
        for name, value in (
            ("mean", mean),
            ("sd", sd),
            ("exponent", exponents),
            ("center", warped.mean(axis=0)),
            ("scale", np.where(scale > 0, scale, 1.0)),
        ):
            setattr(self, name, torch.as_tensor(value, dtype=Y.dtype))

    def _warp(self, Y: Tensor) -> Tensor:
        z = (Y - self.mean) / self.sd
        lam = self.exponent
        positive = z >= 0
        up = torch.where(
            lam.abs() > _EPS,
            (torch.where(positive, z, 0.0) + 1).pow(lam).sub(1) / lam.clamp_min(_EPS),
            torch.log1p(torch.where(positive, z, 0.0)),
        )
        two = 2 - lam
        down = torch.where(
            two.abs() > _EPS,
            -((1 - torch.where(positive, 0.0, z)).pow(two).sub(1)) / two.clamp_min(_EPS),
            -torch.log1p(-torch.where(positive, 0.0, z)),
        )
        return (torch.where(positive, up, down) - self.center) / self.scale

    def _unwarp(self, W: Tensor) -> Tensor:
        w = W * self.scale + self.center
        lam = self.exponent
        positive = w >= 0
        wp = torch.where(positive, w, 0.0)
        wn = torch.where(positive, 0.0, w)
        up = torch.where(
            lam.abs() > _EPS,
            (lam * wp + 1).pow(1 / lam.clamp_min(_EPS)) - 1,
            torch.expm1(wp),
        )
        two = 2 - lam
        down = torch.where(
            two.abs() > _EPS,
            1 - (1 - two * wn).pow(1 / two.clamp_min(_EPS)),
            -torch.expm1(-wn),
        )
        return torch.where(positive, up, down) * self.sd + self.mean

    def _slope(self, Y: Tensor) -> Tensor:
        """``d warp / d y`` at ``Y``."""
        z = (Y - self.mean) / self.sd
        lam = self.exponent
        slope = torch.where(
            z >= 0, (z.clamp_min(0) + 1).pow(lam - 1), (1 - z.clamp_max(0)).pow(1 - lam)
        )
        return slope / (self.sd * self.scale)
