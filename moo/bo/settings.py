"""Every heuristic of a proposal, with its default, in one place.

A proposal is a chain of choices that no paper fixes: how many restarts, when a GP fit
may start from the last one, when a discrete space is small enough to score whole, when
qLogNEHVI gives way to the cheaper qLogEHVI. Each is a field here, so a study, a test
or a benchmark sets it (``QNEHVISampler(settings=ProposalSettings(screen_size=None))``)
instead of patching module globals, and an ablation switches it off by name. The figures
behind each default are in ``experiments/benchmarks/results/sampler_notes.md``.

The module is plain Python (no torch), so a study's YAML can be checked against it
without loading BoTorch.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from moo.pareto import REFERENCE_MARGIN

__all__ = ["ProposalSettings"]


@dataclass(frozen=True)
class ProposalSettings:
    """Knobs of one BO proposal; the defaults are moo's.

    A heuristic whose field is ``None`` (or ``0`` for counts of extra work) is off.

    Attributes:
        num_restarts: L-BFGS / mixed-optimizer restarts (non-enumerated spaces).
        raw_samples: Random points the restarts are picked from.
        front_starts: Add up to ``num_restarts`` observed front points (nudged) as
            L-BFGS starts on continuous spaces: random restarts rarely land next to the
            front, where improvements are small but likely.
        front_start_jitter: Standard deviation of that nudge on the ``[0, 1]`` encoding:
            at an observed point the improvement's gradient is nearly flat.
        mc_samples: MC samples of the posterior for the noisy acquisitions.
        ehvi_after: Past this many observations ``qlognehvi`` is replaced by qLogEHVI on
            the posterior-mean front (one box decomposition instead of one per MC
            sample; the baseline's posterior is nearly certain by then). ``None``: never.
        ehvi_mc_samples: MC samples of that qLogEHVI (it only has to rank candidates).
        max_enumeration: Discrete spaces up to this many configs are scored exhaustively.
        screen_size: Enumerated spaces larger than this keep only the candidates whose
            optimistic point (mean + ``screen_beta`` sd) adds the most hypervolume to the
            mean front before the MC acquisition scores them. ``None``: score all.
        screen_beta: Standard deviations of optimism in that screen.
        local_pool: Random configs scored per proposal on discrete spaces too large to
            enumerate (plus the observed front's neighbours).
        local_steps: Hill-climbing steps from the best of that pool.
        dedupe_pool: Random configs scored when the optimizer lands on an evaluated one.
        warm_start_after: Past this many observations a GP fit starts from the last
            proposal's hyperparameters; below it early hyperparameters are poorly
            determined and a cold fit is cheap. ``None``: always cold.
        warm_start_max_abs: A warm start with a raw hyperparameter beyond this has
            drifted (a flat likelihood far from the defaults) and is dropped.
        split_after: Past this many observations a fitted multi-output GP is split into
            one GP per output (same hyperparameters, same predictions): gpytorch copies a
            batched ``n x n`` cache for every candidate it scores, where one GP per
            output needs one matrix product. Below it the batched GP is cheaper (one
            posterior call instead of one per output). ``None``: never split.
        hold_after: Past this many observations a warm-started GP keeps the last
            proposal's hyperparameters unless the number of observations is a multiple
            of ``refit_every``: one observation more barely moves the optimum of a
            likelihood of hundreds, and the fit is the largest part of such a proposal.
            ``None``: refit at every proposal.
        refit_every: See ``hold_after``.
        fit_maxiter: L-BFGS steps of a cold hyperparameter fit.
        warm_fit_maxiter: L-BFGS steps of a warm-started fit (its optimum moved little).
        reference_margin: The inferred reference point lies this share of each
            objective's observed range beyond its worst value.
        threads: torch intra-op threads of a proposal; more OpenMP threads than free
            cores spin instead of working on GPs of a few hundred points.
        known_features: The GPs of the learned objectives and constraints also see the
            known objectives' values (``moo.bo.features``): accuracy tracks the model
            size that latency and energy measure, and a GP over the config's encoding
            alone cannot see that. Off by default: it sharpens the GP's ranking of
            held-out configs, but in hypervolume it lost on two of three tables (paired
            seeds; ``results/sampler_notes.md``).
        outcome_warp: The GPs are fitted on a Yeo-Johnson warp of each outcome and
            their posteriors mapped back (``moo.bo.warp``): errors that cluster near the
            best with a few far off leave a GP on the raw values a flat landscape with
            spikes. Off by default: as a study closes in on its front, the trials pile
            up near the best and the fitted warp bends smooth objectives too (zdt1,
            vehicle safety); see ``results/sampler_notes.md``.
    """

    num_restarts: int = 8
    raw_samples: int = 256
    front_starts: bool = True
    front_start_jitter: float = 0.01
    mc_samples: int = 64
    ehvi_after: int | None = 32
    ehvi_mc_samples: int = 32
    max_enumeration: int = 20_000
    screen_size: int | None = 512
    screen_beta: float = 2.0
    local_pool: int = 256
    local_steps: int = 4
    dedupe_pool: int = 2048
    warm_start_after: int | None = 48
    warm_start_max_abs: float = 1e3
    split_after: int | None = 200
    hold_after: int | None = 200
    refit_every: int = 2
    fit_maxiter: int = 100
    warm_fit_maxiter: int = 20
    reference_margin: float = REFERENCE_MARGIN
    threads: int = 1
    known_features: bool = False
    outcome_warp: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not isinstance(value, int | float):
                raise TypeError(f"ProposalSettings.{f.name} must be a number, got {value!r}.")
            if value is not None and value < 0:
                raise ValueError(f"ProposalSettings.{f.name} must be >= 0, got {value}.")
        for name in _AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise ValueError(
                    f"ProposalSettings.{name} must be >= 1, got {getattr(self, name)}."
                )


# Counts without which a proposal cannot run at all.
_AT_LEAST_ONE = (
    "num_restarts",
    "raw_samples",
    "mc_samples",
    "ehvi_mc_samples",
    "refit_every",
    "threads",
)
