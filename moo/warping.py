"""Output warping: each learned objective goes through a Yeo-Johnson power transform
before its GP sees it, and the GP's posterior comes back through the inverse.

Objectives of this field are skewed. NAS-Bench-201's CIFAR-10 error is 6-12% for most
cells but 90% for the cells whose operations cut the input off from the output; a
stationary GP on those raw values spends its fit on the jump and ranks the good region
poorly (Spearman rank correlation 0.27 with the truth on cells under 12% error, from 60
random cells; 0.63 once warped). HEBO (Cowen-Rivers et al., JAIR 2022) and Ax's
``PowerTransformY`` warp outputs the same way. Unlike those, the acquisition here stays
in the objectives' own units: posterior samples are mapped back through the inverse warp,
so the hypervolume it improves is the one the study reports.

The power is fitted by maximum likelihood (``scipy.stats.yeojohnson_normmax``) on the
z-scored values, which makes the warp independent of the objective's units and offset.
"""

from __future__ import annotations

import torch
from botorch.models.transforms.outcome import OutcomeTransform
from botorch.posteriors import Posterior
from botorch.posteriors.transformed import TransformedPosterior
from scipy.stats import yeojohnson_normmax
from torch import Tensor

__all__ = ["YeoJohnsonWarp", "fit_power", "inverse_yeo_johnson", "yeo_johnson"]

# Bounds of the fitted power. The transform is symmetric about 1 (identity): the power
# for ``-y`` is ``2 - λ``. A handful of points can ask for an extreme power, under which
# the inverse overflows for posterior samples a little past the data.
_POWER_BOUNDS = (-2.0, 4.0)
# Fewer distinct values than this carry no shape to fit: the column stays linear.
_MIN_DISTINCT = 3
# Smallest base of the inverse's power: samples beyond the range of the warp (possible
# when the power is far from 1) map to a very large finite value instead of NaN.
_MIN_BASE = 1e-9
# Distance kept from the powers 0 and 2 (see ``_regular``).
_SINGULAR_GAP = 1e-3


def _regular(power: Tensor) -> Tensor:
    """``power`` nudged ``_SINGULAR_GAP`` away from 0 and 2, where the transform's
    formulas divide by zero (its limits there are logarithms; the nudged power is within
    1e-3 of them on the z-scored range). Keeping one formula also keeps the gradients of
    the acquisition through the inverse finite: ``torch.where`` between a formula and its
    limit back-propagates the NaN of the branch it did not pick."""
    for singular in (0.0, 2.0):
        near = (power - singular).abs() < _SINGULAR_GAP
        power = torch.where(near, singular + _SINGULAR_GAP, power)
    return power


def yeo_johnson(z: Tensor, power: Tensor) -> Tensor:
    """The Yeo-Johnson transform of ``z`` with one power per last-dimension column."""
    power = _regular(power).expand_as(z)
    up, down = z.clamp_min(0), z.clamp_max(0)
    positive = ((up + 1).pow(power) - 1) / power
    negative = -((1 - down).pow(2 - power) - 1) / (2 - power)
    return torch.where(z >= 0, positive, negative)


def inverse_yeo_johnson(t: Tensor, power: Tensor) -> Tensor:
    """``yeo_johnson``'s inverse, finite everywhere (see ``_MIN_BASE``)."""
    power = _regular(power).expand_as(t)
    up, down = t.clamp_min(0), t.clamp_max(0)
    positive = (power * up + 1).clamp_min(_MIN_BASE).pow(1 / power) - 1
    negative = 1 - (1 - (2 - power) * down).clamp_min(_MIN_BASE).pow(1 / (2 - power))
    return torch.where(t >= 0, positive, negative)


def _slope(z: Tensor, power: Tensor) -> Tensor:
    """d yeo_johnson / dz, for the delta method on observation noise."""
    power = _regular(power).expand_as(z)
    return torch.where(
        z >= 0, (z.clamp_min(0) + 1).pow(power - 1), (1 - z.clamp_max(0)).pow(1 - power)
    )


def fit_power(z: Tensor) -> float:
    """Maximum-likelihood Yeo-Johnson power of one column, within ``_POWER_BOUNDS``."""
    if z.unique().numel() < _MIN_DISTINCT:
        return 1.0
    low, high = _POWER_BOUNDS
    return float(min(max(yeojohnson_normmax(z.detach().cpu().numpy()), low), high))


class YeoJohnsonWarp(OutcomeTransform):
    """Z-score, then Yeo-Johnson, each column with its own fitted power.

    Chain it before ``Standardize``. Fitted on the first call in training mode, like
    ``Standardize``. The posterior it returns is a ``TransformedPosterior`` whose samples
    are exact; its ``mean`` is the inverse warp of the Gaussian mean, i.e. the posterior
    median (the warp is monotone), and its ``variance`` the delta-method one.

    Args:
        m: Number of outputs.
    """

    def __init__(self, m: int) -> None:
        super().__init__()
        self._m = m
        self.register_buffer("power", torch.ones(m))
        self.register_buffer("center", torch.zeros(m))
        self.register_buffer("scale", torch.ones(m))

    def forward(
        self, Y: Tensor, Yvar: Tensor | None = None, X: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        if self.training:
            if Y.dim() != 2 or Y.shape[-1] != self._m:
                raise ValueError(
                    f"YeoJohnsonWarp expects `n x {self._m}` outcomes, got {tuple(Y.shape)}"
                )
            self.center = Y.mean(dim=0)
            self.scale = Y.std(dim=0).clamp_min(1e-12)
            z = (Y - self.center) / self.scale
            self.power = torch.tensor([fit_power(column) for column in z.T], dtype=Y.dtype)
        z = (Y - self.center) / self.scale
        warped = yeo_johnson(z, self.power)
        if Yvar is not None:
            Yvar = Yvar / self.scale**2 * _slope(z, self.power) ** 2
        return warped, Yvar

    def untransform(
        self, Y: Tensor, Yvar: Tensor | None = None, X: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        values = self._inverse(Y)
        if Yvar is not None:
            z = (values - self.center) / self.scale
            Yvar = Yvar * self.scale**2 / _slope(z, self.power) ** 2
        return values, Yvar

    def untransform_posterior(self, posterior: Posterior, X: Tensor | None = None) -> Posterior:
        return TransformedPosterior(
            posterior,
            sample_transform=self._inverse,
            mean_transform=lambda mean, variance: self._inverse(mean),
            variance_transform=self._variance,
        )

    def _inverse(self, warped: Tensor) -> Tensor:
        return self.center + self.scale * inverse_yeo_johnson(warped, self.power)

    def _variance(self, mean: Tensor, variance: Tensor) -> Tensor:
        z = inverse_yeo_johnson(mean, self.power)
        return variance * self.scale**2 / _slope(z, self.power) ** 2
