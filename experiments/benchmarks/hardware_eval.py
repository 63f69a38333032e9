"""Held-out protocols for the runtime-aware hardware model on the MLPerf Tiny rows.

Every protocol fits ``objectives.hardware.fit`` on some rows and predicts others the way a user
predicts a row: from its core class, runtime, board (its fitted effect where the board was
seen), clock and the model's graph statistics. What the fit never saw (a runtime without rows,
a generation without rows) follows the fit's rules, which every fit chooses by
leave-one-round-out on its own training rows (``fit.choose_rules``): nested in the outer
protocol, never informed by the rows it predicts. The report (``hardware_mlperf.py``) turns the
numbers into tables and sentences.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from objectives.hardware.fewshot import few_shot
from objectives.hardware.fit import fit_runtime_model, predict_frame, row_features, row_runtime
from objectives.hardware.runtime_model import KindConstants, RuntimeModel

__all__ = [
    "Errors",
    "FewShot",
    "few_shot_table",
    "held_out",
    "kendall_by_benchmark",
    "predict_energy",
    "repeatability",
]

Z90 = 1.2816
"""Standard normal quantile of 0.9: the ``*_p90`` bound is the prediction x exp(Z90 sd)."""


@dataclass(frozen=True)
class Errors:
    """``|predicted / measured - 1|`` over some rows: median, p90, count."""

    median: float
    p90: float
    n: int

    @classmethod
    def of(cls, predicted: Iterable[float], measured: Iterable[float]) -> Errors:
        p, m = np.asarray(list(predicted), float), np.asarray(list(measured), float)
        keep = np.isfinite(p) & np.isfinite(m)
        if not keep.any():
            return cls(math.nan, math.nan, 0)
        rel = np.abs(p[keep] / m[keep] - 1.0)
        return cls(float(np.median(rel)), float(np.quantile(rel, 0.9)), int(keep.sum()))

    def cells(self) -> str:
        if not self.n:
            return "0 | n/a | n/a"
        return f"{self.n} | {self.median:.1%} | {self.p90:.1%}"


def fit(frame: pd.DataFrame) -> RuntimeModel:
    """A model of these rows with in-sample spreads and rules chosen on these rows alone
    (the protocols refit it many times)."""
    return fit_runtime_model(frame, held_out=False)


def predict_energy(model: RuntimeModel, frame: pd.DataFrame, latency_ms: np.ndarray) -> np.ndarray:
    """Energy (mJ) of each row: the model's active power for its board, runtime, clock and
    supply (stated, else the one the board's fitted energy rows were measured at) x the
    predicted latency; NaN where the model knows no power for the board's class."""
    out = np.full(len(frame), math.nan)
    for i, row in enumerate(frame.itertuples()):
        core, ref = row_runtime(model, row)
        supply = row.supply_V if math.isfinite(row.supply_V) else None
        power = model.active_power_mW(core, ref, row.board_id, row.clock_mhz, supply, math.nan)
        out[i] = power * latency_ms[i] / 1e3
    return out


def held_out(
    frame: pd.DataFrame,
    groups: pd.Series,
    *,
    keep_board: bool = True,
    models: dict[str, RuntimeModel] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Latency and energy of every row predicted by a fit without its group.

    Args:
        frame: Normalized rows (``read_mlperf``), index 0..n-1.
        groups: Group label per row (system, board, runtime, pair, round).
        keep_board: Use the board's fitted effect when other groups saw the board.
        models: Filled with the fit of each group's complement, by group label.
    """
    latency = np.empty(len(frame))
    energy = np.empty(len(frame))
    for label, members in frame.groupby(groups).groups.items():
        rest = frame.drop(index=members)
        model = fit(rest)
        if models is not None:
            models[str(label)] = model
        held = frame.loc[members]
        if not keep_board:
            held = held.assign(board_id="(unseen board)")
        positions = frame.index.get_indexer(members)
        latency[positions] = predict_frame(model, held)
        energy[positions] = predict_energy(model, held, latency[positions])
    return latency, energy


def kendall_by_benchmark(
    frame: pd.DataFrame, predicted: np.ndarray, *, apart: float = 1.0, tie: float = 1.0
) -> dict[str, tuple[float, int]]:
    """Kendall tau between measured and predicted latency of the systems of each benchmark
    (how well the model ranks board + runtime choices), and how many systems.

    ``tie > 1`` counts measured latencies within that factor of each other as tied (tau-b:
    a tied pair is neither concordant nor discordant, and the measured side's normalization
    drops it), the reading of two systems that one rerun of the measurement could swap.
    ``apart > 1`` counts only the pairs whose measured latencies differ by more than that
    factor (a predicted tie among them counts as discordant).
    """
    out = {}
    for bench, members in frame.assign(pred=predicted).groupby("benchmark"):
        measured = np.log(members["latency_ms"].to_numpy())
        model = np.log(members["pred"].to_numpy())
        i, j = np.triu_indices(len(measured), k=1)
        dx, dy = measured[i] - measured[j], model[i] - model[j]
        if apart > 1.0:
            far = np.abs(dx) > math.log(apart)
            agree = np.sign(dx) == np.sign(dy)
            tau = float(np.mean(np.where(agree[far], 1.0, -1.0))) if far.any() else math.nan
        else:
            sx = np.where(np.abs(dx) <= math.log(tie), 0.0, np.sign(dx))
            sy = np.sign(dy)
            norm = math.sqrt(np.count_nonzero(sx) * np.count_nonzero(sy))
            tau = float(np.sum(sx * sy) / norm) if norm else math.nan
        out[str(bench)] = (tau, len(members))
    return out


def repeatability(frame: pd.DataFrame, quantile: float = 0.9) -> float:
    """How far two measurements of one system differ: the ``quantile`` of ``|log ratio|``
    between rows of the same board, clock, runtime generation and benchmark submitted more
    than once (rounds, submitters, runtime versions of one generation), as a factor."""
    keys = ["board_id", "clock_mhz", "family", "generation", "benchmark"]
    gaps = [
        abs(math.log(a / b))
        for _, group in frame.groupby(keys)
        for a, b in itertools.combinations(group["latency_ms"], 2)
    ]
    return math.exp(float(np.quantile(gaps, quantile))) if gaps else 1.0


@dataclass
class FewShot:
    """Errors of the k-row calibrations of every system, against two baselines."""

    calibrated: list[float] = field(default_factory=list)
    scale_factor: list[float] = field(default_factory=list)
    uncalibrated: list[float] = field(default_factory=list)
    choices: dict[str, int] = field(default_factory=dict)

    def stats(self) -> tuple[Errors, Errors, Errors]:
        def errors(values: list[float]) -> Errors:
            rel = np.asarray(values)
            if not len(rel):
                return Errors(math.nan, math.nan, 0)
            return Errors(float(np.median(rel)), float(np.quantile(rel, 0.9)), len(rel))

        return errors(self.calibrated), errors(self.scale_factor), errors(self.uncalibrated)


def _system_prior(model: RuntimeModel, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Log constants the model gives each row of one system, and the rows' features."""
    base = []
    for row in rows.itertuples():
        core, ref = row_runtime(model, row)
        base.append(model.log_parameters(core, ref, row.board_id))
    return np.array(base), row_features(rows)


def few_shot_table(
    frame: pd.DataFrame,
    systems: Iterable[str],
    prior_for: Callable[[str], RuntimeModel],
    ks: Iterable[int] = (1, 2, 3),
) -> dict[int, FewShot]:
    """k-row calibration (``objectives.hardware.fewshot``) of each system with four rows.

    For every system and every choice of k of its rows, the prior (``prior_for(system)``,
    fitted without that system) is calibrated on the k rows and predicts each other row of
    the system; the baselines are the prior alone and the prior times one scale factor (the
    geometric mean ratio of the k rows).
    """
    out = {k: FewShot() for k in ks}
    for system in systems:
        rows = frame[frame["system"] == system]
        if rows["benchmark"].nunique() < 4:
            continue
        rows = rows.drop_duplicates("benchmark")
        base, features = _system_prior(prior_for(system), rows)
        # one system = one core, runtime and board: the constants are the same on every row
        constants = KindConstants.from_log(base[0])
        cycles = np.log(rows["latency_ms"].to_numpy() * rows["clock_mhz"].to_numpy() * 1e3)
        prior = np.log(features @ np.exp(base[0]))
        for k in ks:
            for train in itertools.combinations(range(len(rows)), k):
                idx = list(train)
                calibration = few_shot(constants, features[idx], cycles[idx], 0.17)
                scale = float(np.mean(cycles[idx] - prior[idx]))
                theta = calibration.constants.as_log()
                name = calibration.choice
                out[k].choices[name] = out[k].choices.get(name, 0) + 1
                for test in set(range(len(rows))) - set(train):
                    predicted = math.log(float(features[test] @ np.exp(theta)))
                    out[k].calibrated.append(abs(math.exp(predicted - cycles[test]) - 1))
                    out[k].scale_factor.append(
                        abs(math.exp(prior[test] + scale - cycles[test]) - 1)
                    )
                    out[k].uncalibrated.append(abs(math.exp(prior[test] - cycles[test]) - 1))
    return out
