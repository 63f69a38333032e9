r"""Fit the per-runtime cost model (``runtime_model.py``) to measured MLPerf Tiny rows.

Latency: maximum a posteriori in log space,

    min_e  sum_i ((log t_model_i(e) - log t_i) / sigma)^2 + sum_k ((e_k - m_k) / s_k)^2,

where ``e`` are the effects, ``m_k``/``s_k`` their prior centres and spreads
(``runtime_model.PRIOR_MEAN``/``PRIOR_SD``) and ``sigma`` the spread of a row around its
system. The ridge terms are what let 200 rows inform a few hundred effects: a pair of core
and runtime with four rows moves its interaction only as far as the four rows insist.

Spread: every pair's ``latency_log_sd`` is the root mean square of its held-out log
residuals (each system predicted by a fit without it), shrunk toward the pooled value by
``SD_PRIOR_ROWS`` rows' worth; ``neighbour_log_sd`` is the same for pairs predicted with all of
their rows left out. Power: ``log(E / (t f V))`` per row is a board current plus a runtime
factor (ridge, linear), the supply counting only where the regulator is linear (``ldo``).

Rules: what the rows never showed (a runtime without rows, a generation or version newer
than the fitted ones) is predicted by rules that are chosen, not assumed: every candidate of
``CANDIDATE_RULES`` predicts each round from the rounds before it, and the one with the
smallest error wins (``choose_rules``). A fit on v0.5-v1.0 chooses on v1.0 alone, so its
predictions of v1.1 use rules that never saw v1.1.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from objectives.hardware.reference import reference_graph
from objectives.hardware.runtime_model import (
    PARAMETERS,
    STAND_INS,
    BoardPower,
    PairFit,
    RuntimeModel,
    effect_keys,
    graph_features,
    prior_mean,
    prior_sd,
)
from objectives.hardware.runtimes import RuntimeRef, catalogue
from objectives.hardware.solver import penalized_log_fit

if TYPE_CHECKING:
    from collections.abc import Mapping

    from objectives.hardware.runtime_model import EffectKey

__all__ = [
    "CANDIDATE_RULES",
    "DEFAULT_RULES",
    "ROW_SIGMA",
    "SD_PRIOR_ROWS",
    "PowerFit",
    "RuleChoice",
    "Rules",
    "choose_rules",
    "fit_effects",
    "fit_power",
    "fit_runtime_model",
    "mean_generation_step",
    "predict_frame",
    "row_features",
    "row_runtime",
]

ROW_SIGMA = 0.1
"""Log-scale spread of one row around its system's prediction (the weight of the data term)."""
SD_PRIOR_ROWS = 8
"""Rows' worth of the pooled spread that a pair's own held-out spread is shrunk toward."""
POWER_SIGMA = 0.08
POWER_PRIOR_SD = {"core": 1.0, "board": 0.3, "family": 0.15, "generation": 0.1}
"""Log-scale prior spreads of the power effects: boards of a class differ by about 30 %, runtimes
by 10-15 %."""


def row_features(frame: pd.DataFrame) -> np.ndarray:
    """Graph features (``runtime_model.graph_features``) of each row's reference model."""
    cache = {b: graph_features(reference_graph(b)) for b in frame["benchmark"].unique()}
    return np.array([cache[b] for b in frame["benchmark"]])


def _keys(row: pd.Series | tuple, parameter: str, boards: bool) -> list[EffectKey]:
    return list(
        effect_keys(
            row.core,  # type: ignore[union-attr]
            row.family,  # type: ignore[union-attr]
            row.generation,  # type: ignore[union-attr]
            row.board_id if boards else None,  # type: ignore[union-attr]
            parameter,
        )
    )


def fit_effects(frame: pd.DataFrame, *, boards: bool = True) -> dict[EffectKey, float]:
    """MAP effects of the latency rows in ``frame`` (module docstring)."""
    index: dict[EffectKey, int] = {}
    rows = list(frame.itertuples())
    key_lists = [[_keys(r, p, boards) for p in PARAMETERS] for r in rows]
    for per_row in key_lists:
        for keys in per_row:
            for key in keys:
                index.setdefault(key, len(index))
    design = np.zeros((len(rows), len(PARAMETERS), len(index)))
    for i, per_row in enumerate(key_lists):
        for j, keys in enumerate(per_row):
            for key in keys:
                design[i, j, index[key]] = 1.0
    features = row_features(frame)
    target = np.log(frame["latency_ms"].to_numpy() * frame["clock_mhz"].to_numpy() * 1e3)
    mean = np.array([prior_mean(k) for k in index])
    spread = np.array([prior_sd(k) for k in index])
    solution = penalized_log_fit(features, design, target, ROW_SIGMA, mean, spread)
    return {key: float(solution[i]) for key, i in index.items()}


def _versions(frame: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    """Newest version per family in the rows (an unversioned row: its generation's start)."""
    cat = catalogue()
    newest: dict[str, tuple[int, ...]] = {}
    for row in frame.itertuples():
        version = row.version or cat.families[row.family].generation(row.generation).since
        newest[row.family] = max(newest.get(row.family, version), version)
    return newest


STEP_SHARES = (0.0, 0.5, 1.0)
"""Candidate shares of the mean step between consecutive fitted generations that a generation
without rows is expected to bring (not every new version is a faster one: X-CUBE-AI 8.0
measured as 7.3)."""


@dataclass(frozen=True)
class Rules:
    """How a model predicts what its rows never showed it.

    Attributes:
        stand_in: A runtime without rows (``runtime_model.STAND_INS``).
        step_share: Share of the mean step between consecutive fitted generations that one
            generation (or a version newer than every fitted one) brings.
    """

    stand_in: str
    step_share: float

    def __str__(self) -> str:
        return f"{self.stand_in} runtime, {self.step_share:g} x the generation step"


CANDIDATE_RULES = tuple(Rules(s, k) for s in STAND_INS for k in STEP_SHARES)
"""Every rule a fit chooses from, in the order ties are broken."""
DEFAULT_RULES = Rules("average", 0.0)
"""Without a round to validate on: a new runtime is an average one, a new version is as fast
as the latest fitted one (the assumption that claims nothing)."""
MIN_EARLIER_ROUNDS = 2
"""A round validates the rules only when at least this many earlier rounds have rows: a fit on
one round (v0.5: one system) knows one runtime, and says little about how to extrapolate."""


def mean_generation_step(effects: Mapping[EffectKey, float]) -> float:
    """Mean log change of cycles between consecutive fitted generations of a family (<= 0;
    0 without two fitted generations of any family)."""

    def level(family: str, label: str) -> float:
        scalar = effects[("generation", family, label)]
        per = [effects.get(("generation", family, label, p), 0.0) for p in PARAMETERS]
        return scalar + float(np.mean(per))

    steps = []
    for name, family in catalogue().families.items():
        fitted = [g.label for g in family.generations if ("generation", name, g.label) in effects]
        steps += [level(name, new) - level(name, old) for old, new in itertools.pairwise(fitted)]
    return min(0.0, float(np.mean(steps))) if steps else 0.0


def _bare_model(
    effects: Mapping[EffectKey, float], frame: pd.DataFrame, rules: Rules = DEFAULT_RULES
) -> RuntimeModel:
    """A model with these effects and rules and no spreads: what predictions during a fit
    use."""
    return RuntimeModel(
        effects=effects,
        generation_step=rules.step_share * mean_generation_step(effects),
        pooled_log_sd=0.0,
        neighbour_log_sd=0.0,
        pairs={},
        versions=_versions(frame),
        stand_in=rules.stand_in,
    )


def row_runtime(model: RuntimeModel, row: tuple) -> tuple[str, RuntimeRef]:
    """The core class and runtime a model predicts an MLPerf row with.

    A runtime family without fitted rows is replaced by the model's stand-in on the row's
    core (``RuntimeModel.stand_in_family``; the nearest parent class with rows for a class
    without); a generation without rows is the nearest fitted one plus generation steps
    (``RuntimeModel.generation_shift``).
    """
    core, family = row.core, row.family  # type: ignore[attr-defined]
    if model.fitted_generations(family):
        return core, RuntimeRef(family, row.generation, row.version)  # type: ignore[attr-defined]
    for candidate in catalogue().ancestry(core):
        stand_in = model.stand_in_family(candidate)
        if stand_in is not None:
            return core, stand_in
    return core, RuntimeRef(family, row.generation, row.version)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RuleChoice:
    """The rules a fit chose, and the validation error of every candidate.

    Attributes:
        rules: The chosen candidate.
        rounds: The rounds it was validated on (each predicted from the rounds before it).
        log_errors: ``log(predicted / measured)`` of the validation rows, per candidate.
    """

    rules: Rules
    rounds: tuple[str, ...]
    log_errors: Mapping[Rules, np.ndarray]

    def score(self, rules: Rules) -> float:
        """Root mean square log error of a candidate on the validation rows."""
        return _rms(self.log_errors[rules])


def _rms(log_errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(log_errors**2)))


def choose_rules(frame: pd.DataFrame) -> RuleChoice:
    """Rules chosen by leave-one-round-out on the rows' own rounds (nested in any outer
    protocol): every round with at least ``MIN_EARLIER_ROUNDS`` earlier rounds is predicted by
    a fit on the earlier rounds under each of ``CANDIDATE_RULES``; the candidate with the
    smallest root mean square log error over all these rows wins (a tie: the earlier one).
    Without such a round: ``DEFAULT_RULES``."""
    order = sorted(frame["round_index"].unique()) if "round_index" in frame else []
    errors: dict[Rules, list[np.ndarray]] = {r: [] for r in CANDIDATE_RULES}
    rounds = []
    for position, index in enumerate(order):
        if position < MIN_EARLIER_ROUNDS:
            continue
        train = frame[frame["round_index"] < index]
        test = frame[frame["round_index"] == index]
        effects = fit_effects(train)
        measured = test["latency_ms"].to_numpy()
        for rules in CANDIDATE_RULES:
            predicted = predict_frame(_bare_model(effects, train, rules), test)
            errors[rules].append(np.log(predicted / measured))
        rounds.append(str(test["round"].iloc[0]))
    if not rounds:
        return RuleChoice(DEFAULT_RULES, (), {})
    pooled = {r: np.concatenate(e) for r, e in errors.items()}
    best = min(CANDIDATE_RULES, key=lambda r: round(_rms(pooled[r]), 12))
    return RuleChoice(best, tuple(rounds), pooled)


def predict_frame(model: RuntimeModel, frame: pd.DataFrame) -> np.ndarray:
    """Predicted latency (ms) of every row from its core, runtime, version, board and clock."""
    features = row_features(frame)
    out = np.empty(len(frame))
    for i, row in enumerate(frame.itertuples()):
        core, ref = row_runtime(model, row)
        theta = model.log_parameters(core, ref, row.board_id)
        out[i] = float(features[i] @ np.exp(theta)) / (row.clock_mhz * 1e3)
    return out


def _held_out(frame: pd.DataFrame, groups: pd.Series, rules: Rules) -> np.ndarray:
    """Log residual of every row predicted by a fit without its group."""
    residual = np.empty(len(frame))
    for _, members in frame.groupby(groups).groups.items():
        rest = frame.drop(index=members)
        model = _bare_model(fit_effects(rest), rest, rules)
        held = frame.loc[members]
        positions = frame.index.get_indexer(members)
        residual[positions] = np.log(predict_frame(model, held) / held["latency_ms"].to_numpy())
    return residual


@dataclass(frozen=True)
class PowerFit:
    """Board currents, class currents and runtime factors of the active power."""

    boards: dict[str, BoardPower]
    cores: dict[str, float]
    families: dict[str, float]
    log_sd: float


def _usual_supply(frame: pd.DataFrame, by: str) -> pd.Series:
    """Per row, the supply most of its group's energy rows state (the lower one on a tie)."""
    stated = frame[frame["energy_mJ"].notna() & frame["supply_V"].notna()]
    usual = stated.groupby(by)["supply_V"].agg(lambda v: v.mode().min())
    return frame[by].map(usual)


def _supplies(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Supply of each row (stated, else the one its board's energy rows state most, else its
    class's, else 3.3 V) and its board's usual supply."""
    board_v = _usual_supply(frame, "board_id")
    stated = frame["supply_V"].fillna(board_v).fillna(_usual_supply(frame, "core")).fillna(3.3)
    return stated, board_v.fillna(stated)


def _power_keys(r: tuple) -> list[tuple[str, ...]]:
    return [
        ("core", r.core),  # type: ignore[attr-defined]
        ("board", r.board_id),  # type: ignore[attr-defined]
        ("family", r.family),  # type: ignore[attr-defined]
        ("generation", f"{r.family}/{r.generation}"),  # type: ignore[attr-defined]
    ]


def _power_coefficients(rows: pd.DataFrame, target: np.ndarray) -> dict[tuple[str, ...], float]:
    keys: dict[tuple[str, ...], int] = {}
    for r in rows.itertuples():
        for key in _power_keys(r):
            keys.setdefault(key, len(keys))
    design = np.zeros((len(rows), len(keys)))
    for i, r in enumerate(rows.itertuples()):
        for key in _power_keys(r):
            design[i, keys[key]] = 1.0
    spread = np.array([POWER_PRIOR_SD[k[0]] for k in keys])
    a = np.vstack([design / POWER_SIGMA, np.diag(1.0 / spread)])
    b = np.concatenate([target / POWER_SIGMA, np.zeros(len(keys))])
    return dict(zip(keys, np.linalg.lstsq(a, b, rcond=None)[0].tolist(), strict=True))


def fit_power(frame: pd.DataFrame) -> PowerFit:
    """Ridge fit of ``log(P / (f V)) = core + board + family + generation`` on the rows with
    energy; ``V`` is the row's supply behind a linear regulator, the board's usual supply
    behind a switching one (whose input power does not follow its input voltage)."""
    stated, board_v = _supplies(frame)
    rows = frame[frame["energy_mJ"].notna()]
    volts = np.where(rows["regulator"] == "ldo", stated[rows.index], board_v[rows.index])
    power_mW = rows["energy_mJ"] / rows["energy_latency_ms"] * 1e3
    target = np.log(power_mW.to_numpy() / (rows["clock_mhz"].to_numpy() * volts))
    coef = _power_coefficients(rows, target)
    residual = []
    for system in rows["system"].unique():
        mine = (rows["system"] == system).to_numpy()
        if mine.all():
            break
        held = _power_coefficients(rows[~mine], target[~mine])
        for r, t in zip(rows[mine].itertuples(), target[mine], strict=True):
            residual.append(sum(held.get(k, 0.0) for k in _power_keys(r)) - t)
    boards = {
        str(board): BoardPower(
            mA_per_MHz=math.exp(coef[("core", members["core"].iloc[0])] + coef[("board", board)]),
            regulator=str(members["regulator"].mode().iloc[0]),
            supply_V=float(board_v[members.index].median()),
            rows=len(members),
        )
        for board, members in rows.groupby("board_id")
    }
    return PowerFit(
        boards=boards,
        cores={k[1]: math.exp(v) for k, v in coef.items() if k[0] == "core"},
        families={k[1]: v for k, v in coef.items() if k[0] in ("family", "generation")},
        log_sd=float(np.sqrt(np.mean(np.square(residual)))) if residual else 0.0,
    )


def fit_runtime_model(
    frame: pd.DataFrame, *, source: str = "", held_out: bool = True, rules: Rules | None = None
) -> RuntimeModel:
    """Effects, spreads, rules and powers of the rows in ``frame`` (``mlperf.read_mlperf``).

    Args:
        frame: Normalized rows.
        source: Provenance written at the top of the YAML (command, data, date).
        held_out: Estimate the spreads from held-out fits (one per system and one per
            pair: a minute or two); ``False`` uses in-sample residuals (tests, quick looks).
        rules: How to predict what the rows never showed; ``None`` chooses them by
            leave-one-round-out on the rows' own rounds (``choose_rules``).
    """
    frame = frame.reset_index(drop=True)
    if rules is None:
        rules = choose_rules(frame).rules
    effects = fit_effects(frame)
    model = _bare_model(effects, frame, rules)
    if held_out:
        residual = _held_out(frame, frame["system"], rules)
        pair_groups = frame["core"] + "/" + frame["family"]
        neighbour = _held_out(frame, pair_groups, rules)
    else:
        residual = np.log(predict_frame(model, frame) / frame["latency_ms"].to_numpy())
        neighbour = residual * 2.0
    pooled = float(np.sqrt(np.mean(residual**2)))
    pairs = {}
    for (core, family), members in frame.groupby(["core", "family"]):
        r = residual[members.index]
        sd = math.sqrt((np.sum(r**2) + SD_PRIOR_ROWS * pooled**2) / (len(r) + SD_PRIOR_ROWS))
        pairs[(str(core), str(family))] = PairFit(
            rows=len(members),
            boards=tuple(sorted(members["board_id"].unique())),
            generations=members["generation"].value_counts().sort_index().to_dict(),
            latency_log_sd=sd,
        )
    power = fit_power(frame)
    return RuntimeModel(
        effects=effects,
        generation_step=model.generation_step,
        pooled_log_sd=pooled,
        neighbour_log_sd=float(np.sqrt(np.mean(neighbour**2))),
        pairs=pairs,
        versions=model.versions,
        board_power=power.boards,
        core_power=power.cores,
        family_power=power.families,
        power_log_sd=power.log_sd,
        source=source,
        stand_in=rules.stand_in,
    )
