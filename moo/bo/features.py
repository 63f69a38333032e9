r"""Known objectives as extra inputs of the GPs that learn the rest.

What a study must learn (accuracy) tracks what the adapter knows exactly (latency,
energy: model size through a hardware model). A GP over the config's encoding alone
cannot see that: on NAS-Bench-201 it ranks held-out errors with Spearman 0.42 from 60
configs of the cell's six operations, and 0.59 when it also sees each config's log
latency on the Raspberry Pi 4 (``experiments/benchmarks/known_features.py``). The known
values are exact for every config the acquisition scores, so they are coordinates the
GP may use at no cost in trials, and its ARD lengthscale turns one away if it does not
help.

Off by default (``ProposalSettings.known_features``): the sharper ranking did not turn
into hypervolume on the suite's tables. Paired with the same seeds, the final gap was level
on NAS-Bench-201 pi4 and worse on pixel3 and digits; on the quickstart, one seed, the front
grew further (``results/sampler_notes.md``). Not yet known why; one guess is that the
feature pulls configs of similar latency together, and the acquisition then trusts the GP
where their accuracies differ.

A metric of one sign (a latency, an energy, a size) enters as the log of its magnitude,
as a study with ``scale: log`` gives it: hardware costs are multiplicative and span
decades across configs, and on NAS-Bench-201 the log ranks errors better than the value
(Spearman 0.59 against 0.51 at 60 configs).

The features enter as a BoTorch input transform applied at evaluation only: the training
inputs are augmented once, from the trials' recorded values, and candidates are augmented
from the same exact functions the acquisition uses (memoized per config). Both go through
one affine map fixed at fit time, so a candidate's feature means what a trial's did.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.models.transforms.input import InputTransform
from torch import Tensor

from moo.bo.problem import KnownObjective

__all__ = ["KnownFeatures"]

# A config whose known metric cannot be computed scores far below every observation
# (``moo.bo.known.unusable_value``); as a coordinate it is clipped to this range of the
# training features' unit interval, so it lies beyond the data without dominating the
# kernel's distances.
_FEATURE_RANGE = (-1.0, 2.0)


class KnownFeatures(InputTransform, torch.nn.Module):
    """``X -> [X, (f_j(X) - low_j) / span_j]``: the encoding plus each known objective,
    scaled so the trials' values span ``[0, 1]``.

    Args:
        functions: The exact objectives (``batch x d`` encoded points -> ``batch``); an
            ``ExactObjective`` whose scale is already log is taken as it is.
        observed: ``n x k`` values of those objectives at the training trials, on the
            functions' scale; they fix the affine map.
    """

    def __init__(self, functions: Sequence[KnownObjective], observed: Tensor) -> None:
        super().__init__()
        if observed.shape[-1] != len(functions):
            raise ValueError(
                f"KnownFeatures: {len(functions)} functions but {observed.shape[-1]} columns "
                "of observed values."
            )
        # Training inputs arrive augmented (``augment``); only candidates need the map.
        self.transform_on_train = False
        self.transform_on_eval = True
        self.transform_on_fantasize = True
        self._functions = list(functions)
        one_sign = ((observed > 0).all(dim=0) | (observed < 0).all(dim=0)).tolist()
        self._log = [
            sign and not getattr(f, "log", False)
            for f, sign in zip(self._functions, one_sign, strict=True)
        ]
        observed = self._scale(observed)
        low = observed.min(dim=0).values
        self.register_buffer("low", low)
        self.register_buffer("span", (observed.max(dim=0).values - low).clamp_min(1e-12))

    @property
    def num_features(self) -> int:
        return len(self._functions)

    def _scale(self, values: Tensor) -> Tensor:
        """``log10 |value|`` for the columns taken in log, the values for the others."""
        logged = values.abs().clamp_min(1e-300).log10()
        return torch.where(torch.tensor(self._log, dtype=torch.bool), logged, values)

    def augment(self, X: Tensor, values: Tensor) -> Tensor:
        """``X`` (``... x d``) with ``values`` (``... x k``, the known objectives' values
        at ``X``) appended as scaled columns."""
        features = self._scale(values.to(X))
        scaled = ((features - self.low) / self.span).clamp(*_FEATURE_RANGE)
        return torch.cat([X, scaled], dim=-1)

    def transform(self, X: Tensor) -> Tensor:
        """Append the features of every point of ``X`` (``batch_shape x q x d``).

        The features are piecewise constant in ``X`` (each is a function of the decoded
        config), so the gradient an optimizer follows comes from the encoding's columns.
        """
        flat = X.detach().reshape(-1, X.shape[-1])
        values = torch.stack([f(flat) for f in self._functions], dim=-1)
        return self.augment(X, values.reshape(*X.shape[:-1], self.num_features))

    def equals(self, other: InputTransform) -> bool:
        return (
            isinstance(other, KnownFeatures)
            and self._functions == other._functions
            and bool(torch.equal(self.low, other.low))
            and bool(torch.equal(self.span, other.span))
        )
