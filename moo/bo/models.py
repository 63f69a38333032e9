r"""Model fitting for a proposal: GPs for what must be learned, exact models for the rest.

The model is a ``ModelList`` of (i) one batched GP over the objectives that must be
learned, (ii) an exact deterministic model for objectives the adapter knows as functions
of the config (latency or energy from a hardware model, a table lookup), and (iii) one
batched GP over the constraint values. Learning a known function wastes trials; giving it
exactly lets the acquisition spend them on what is unknown (usually accuracy).

Fits may start warm, from the previous proposal's hyperparameters (kept in the study's
storage, so a resumed study fits as the uninterrupted one did): see
``ProposalSettings.warm_start_after`` and ``warm_start_max_abs``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from botorch.exceptions.warnings import InputDataWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import (
    GenericDeterministicModel,
    MixedSingleTaskGP,
    ModelList,
    ModelListGP,
    SingleTaskGP,
)
from botorch.models.model import Model
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from moo.bo.features import KnownFeatures
from moo.bo.problem import Hyperparameters, ProposalProblem
from moo.bo.settings import ProposalSettings
from moo.bo.warp import YeoJohnson

__all__ = [
    "FitGP",
    "fit_gp",
    "fit_hyperparameters",
    "fit_model",
    "hyperparameters",
    "load_hyperparameters",
]

# Observation noise variance, as a share of the outcome's variance, of a GP over
# deterministic objectives: just above GPyTorch's floor of 1e-6 (below it, it warns and
# rounds up); a learned level settles near 1e-3 even on noiseless data.
_DETERMINISTIC_NOISE = 1.01e-6

FitGP = Callable[..., Model]
"""``fit_gp(X, Y, categorical_dims, warm_start, *, deterministic, settings,
input_transform) -> Model``: the signature a sampler's ``_fit_gp`` hook keeps when it
swaps the GP."""


def fit_gp(
    X: Tensor,
    Y: Tensor,
    categorical_dims: Sequence[int],
    warm_start: dict[str, list] | None = None,
    *,
    deterministic: bool = False,
    settings: ProposalSettings | None = None,
    input_transform: InputTransform | None = None,
) -> Model:
    """A batched GP with one output per column of ``Y``, outcomes warped
    (``settings.outcome_warp``) or standardized.

    Categorical dimensions get MixedSingleTaskGP's categorical kernel instead of being
    treated as numbers; everything else is already scaled to ``[0, 1]`` by the encoding.
    A warm start (the previous proposal's optimum, one point less) puts L-BFGS next to
    the new optimum: the fit takes ``warm_fit_maxiter`` steps instead of
    ``fit_maxiter``. Parameters whose shape changed (another number of outputs) start
    from the defaults, and a warm start with any raw parameter beyond
    ``warm_start_max_abs`` is dropped: a chain of warm starts can drift where the
    likelihood is flat, and a fit started there stays there or fails every retry.
    ``deterministic`` fixes the noise at ``_DETERMINISTIC_NOISE`` of each outcome's
    variance. ``input_transform`` maps candidates to the GP's inputs (``KnownFeatures``:
    ``X`` arrives already augmented, its last columns continuous).
    """
    settings = settings or ProposalSettings()
    if warm_start and not _plausible(warm_start, settings.warm_start_max_abs):
        warm_start = None
    noise = {}
    if deterministic:
        variance = Y.var(dim=0).clamp_min(1e-12)
        noise["train_Yvar"] = (_DETERMINISTIC_NOISE * variance).expand_as(Y).clone()
    with warnings.catch_warnings():
        # Categorical indices lie outside [0, 1] by design.
        warnings.simplefilter("ignore", InputDataWarning)
        m = Y.shape[-1]
        outcome_transform = YeoJohnson(m) if settings.outcome_warp else Standardize(m=m)
        if categorical_dims:
            gp: Model = MixedSingleTaskGP(
                X,
                Y,
                cat_dims=list(categorical_dims),
                outcome_transform=outcome_transform,
                input_transform=input_transform,
                **noise,
            )
        else:
            gp = SingleTaskGP(
                X,
                Y,
                outcome_transform=outcome_transform,
                input_transform=input_transform,
                **noise,
            )
        fit_hyperparameters(gp, warm_start, settings)
    return gp


def fit_hyperparameters(
    gp: Model, warm_start: dict[str, list] | None, settings: ProposalSettings
) -> None:
    """Maximize ``gp``'s marginal likelihood, from ``warm_start`` when given: then for
    ``warm_fit_maxiter`` L-BFGS steps (its optimum moved little), else ``fit_maxiter``.

    Past ``hold_after`` observations a warm start is only refit when the number of
    observations is a multiple of ``refit_every``; in between the GP keeps it as it is
    (conditioned on every observation, only its hyperparameters a proposal old).
    """
    load_hyperparameters(gp, warm_start or {})
    if warm_start and _held(int(gp.train_inputs[0].shape[-2]), settings):
        gp.eval()
        return
    maxiter = settings.warm_fit_maxiter if warm_start else settings.fit_maxiter
    fit_gpytorch_mll(
        ExactMarginalLogLikelihood(gp.likelihood, gp),
        optimizer_kwargs={"options": {"maxiter": maxiter}},
    )


def _held(n: int, settings: ProposalSettings) -> bool:
    """Whether a warm-started fit of ``n`` observations keeps its hyperparameters."""
    hold = settings.hold_after
    return hold is not None and n > hold and n % settings.refit_every != 0


def _plausible(values: dict[str, list], max_abs: float) -> bool:
    """Whether every raw hyperparameter of a warm start lies within ``max_abs``."""
    return all(
        bool((torch.tensor(v, dtype=torch.double).abs() <= max_abs).all()) for v in values.values()
    )


def load_hyperparameters(gp: Model, values: dict[str, list]) -> None:
    """Copy ``values`` into ``gp``'s parameters of the same name, shape and finiteness."""
    with torch.no_grad():
        for name, parameter in gp.named_parameters():
            if name in values:
                value = torch.tensor(values[name], dtype=parameter.dtype)
                if value.shape == parameter.shape and bool(torch.isfinite(value).all()):
                    parameter.copy_(value)


def _parameters(gp: Model) -> dict[str, list]:
    """JSON-ready parameters; a split GP's as those of the batched GP it came from, so a
    warm start finds them whether or not the last proposal split its model."""
    if isinstance(gp, ModelListGP):
        singles = [dict(g.named_parameters()) for g in gp.models]
        return {
            name: torch.stack([s[name] for s in singles]).detach().tolist() for name in singles[0]
        }
    return {name: p.detach().tolist() for name, p in gp.named_parameters()}


def split_outputs(gp: Model) -> Model:
    """``gp`` as a ``ModelListGP`` of one single-output GP per output, with the fitted
    hyperparameters: the same model and predictions (to rounding), but scoring ``b``
    candidates costs one ``b x n`` by ``n x n`` product per output. The batched GP's
    posterior broadcasts its ``m x n x n`` cache against the ``b x m`` candidates, and
    torch copies it once per candidate: 6.5 s against 0.07 s for 256 candidates at 500
    observations and 3 outputs. A GP that cannot be subset (BoTorch's
    MixedSingleTaskGP has no ``subset_output``) or has one output is returned as it is.
    """
    m = gp.num_outputs
    if m == 1:
        return gp
    try:
        return ModelListGP(*[gp.subset_output([i]) for i in range(m)])  # type: ignore[operator]
    except NotImplementedError:
        return gp


def _as_fitted(gp: Model) -> Model:
    return gp


def hyperparameters(model: Model, problem: ProposalProblem) -> Hyperparameters:
    """The fitted GP parameters of ``fit_model(problem)``'s model, for the next warm start."""
    # A split GP is a ModelList too, but one member of the model, not the list of them.
    is_list = isinstance(model, ModelList) and not isinstance(model, ModelListGP)
    members = list(model.models) if is_list else [model]
    gps = [g for g in members if not isinstance(g, GenericDeterministicModel)]
    learned = len(problem.known) < problem.num_objectives
    names = (["objectives"] if learned else []) + ["constraints"]
    return {name: _parameters(gp) for name, gp in zip(names, gps, strict=False)}


def fit_model(
    problem: ProposalProblem,
    settings: ProposalSettings | None = None,
    *,
    gp: FitGP = fit_gp,
) -> tuple[Model, list[int]]:
    """Fit the model list; return it and the objective order of its outputs.

    Args:
        problem: The proposal's data.
        settings: Warm-start threshold and fit lengths; moo's defaults if ``None``.
        gp: Fits one batched GP (``fit_gp``'s signature); a sampler hook may swap it.

    Returns:
        The model, whose outputs are ``[learned objectives, known objectives,
        constraints]``, and ``order`` such that output ``j`` is objective ``order[j]``.
    """
    settings = settings or ProposalSettings()
    warm: Hyperparameters = {}
    after = settings.warm_start_after
    if problem.warm_start and after is not None and len(problem.X) > after:
        warm = problem.warm_start
    m = problem.num_objectives
    learned = [i for i in range(m) if i not in problem.known]
    known = [i for i in range(m) if i in problem.known]
    cat_dims = list(problem.categorical_dims)
    models: list[Model] = []
    split = settings.split_after is not None and len(problem.X) > settings.split_after
    finish = split_outputs if split else _as_fitted
    # One transform per GP: a fitted GP leaves its transform in eval mode, where it would
    # augment the next GP's (already augmented) training inputs again.
    features = _known_features(problem, known, settings)
    if learned:
        fitted = gp(
            features.augment(problem.X, problem.Y[:, known]) if features else problem.X,
            problem.Y[:, learned],
            cat_dims,
            warm.get("objectives"),
            deterministic=problem.deterministic,
            settings=settings,
            input_transform=features,
        )
        models.append(finish(fitted))
    if known:
        functions = [problem.known[i] for i in known]

        def exact(X: Tensor) -> Tensor:
            flat = X.reshape(-1, X.shape[-1])
            values = torch.stack([f(flat) for f in functions], dim=-1)
            return values.reshape(*X.shape[:-1], len(functions)).to(X)

        models.append(GenericDeterministicModel(exact, num_outputs=len(known)))
    if problem.C is not None and problem.X_constraints is not None and problem.C.numel():
        X_c = problem.X_constraints
        features = _known_features(problem, known, settings)
        fitted = gp(
            features.transform(X_c) if features else X_c,
            problem.C,
            cat_dims,
            warm.get("constraints"),
            settings=settings,
            input_transform=features,
        )
        models.append(finish(fitted))
    model = models[0] if len(models) == 1 else ModelList(*models)
    return model, learned + known


def _known_features(
    problem: ProposalProblem, known: list[int], settings: ProposalSettings
) -> KnownFeatures | None:
    """The known objectives as GP inputs, when ``settings.known_features`` asks for them
    and the study has both known objectives and something to learn."""
    if not (settings.known_features and known):
        return None
    return KnownFeatures([problem.known[i] for i in known], problem.Y[:, known])
