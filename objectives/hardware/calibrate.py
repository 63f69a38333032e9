r"""Fit a profile's free constants to measured rows, and write the calibrated profile.

Microcontrollers and NPUs (the analytic model) have three free constants: the int8 MAC
rate (every precision's rate scales with it, keeping the profile's ratios), the bytes per
cycle of the load path and the cycles per output element. They are fitted by least
squares on log latency,

    min_theta  sum_i (log t_model(g_i, f_i; theta) - log t_i)^2
               + LAMBDA^2 * sum_k (log theta_k - log theta_k0)^2,

where the small pull toward the profile's values ``theta_k0`` keeps constants that the
rows do not inform where they were. Active power scales with clock and supply voltage
(``P = I(f) * V``, the current linear in the clock), and is fitted as the geometric mean
of the measured ``E / t`` rescaled to the profile's clock and voltage.

An edge SoC's units are fitted to the QEIL power law ``y = a * x^b`` (latency and energy),
each from the rows measured on that unit. The host is measured and has nothing to fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from scipy.optimize import least_squares

from objectives.hardware.analytic import analytic_cost
from objectives.hardware.errors import HardwareError
from objectives.hardware.profile import DeviceProfile, load_device
from objectives.hardware.reference import reference_graph
from objectives.hardware.soc import layer_work
from objectives.hardware.stats import GraphStats, LayerStats

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

__all__ = [
    "CalibrationReport",
    "ConstantFit",
    "ErrorStats",
    "Measurement",
    "calibrate",
    "coarse_graph",
    "fit_profile",
    "read_measurements",
]

LAMBDA = 0.01
"""Weight of the pull toward the profile's constants, per constant, in log space: small
enough not to bias well-determined constants, large enough to pin undetermined ones."""


@dataclass(frozen=True)
class Measurement:
    """One measured inference: the graph, where it ran, and what it cost.

    Attributes:
        graph: Graph statistics of the measured model.
        latency_ms: Measured latency.
        energy_mJ: Measured energy per inference, if known.
        clock_mhz: Clock of the measurement; ``None`` means the profile's clock.
        supply_V: Supply of the energy measurement; ``None`` means the profile's supply.
        unit: For an edge SoC, the unit that ran the whole graph.
    """

    graph: GraphStats
    latency_ms: float
    energy_mJ: float | None = None
    clock_mhz: float | None = None
    supply_V: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class ErrorStats:
    """Median and 90th percentile of ``|predicted / measured - 1|`` over ``n`` rows."""

    median: float
    p90: float
    n: int

    @classmethod
    def of(cls, predicted: Sequence[float], measured: Sequence[float]) -> ErrorStats:
        """Error statistics of predictions against measurements (NaN when empty)."""
        if not measured:
            return cls(float("nan"), float("nan"), 0)
        rel = np.abs(np.asarray(predicted) / np.asarray(measured) - 1.0)
        return cls(float(np.median(rel)), float(np.quantile(rel, 0.9)), len(rel))


@dataclass(frozen=True)
class ConstantFit:
    """One fitted constant: its dotted field name in the profile, before and after."""

    name: str
    before: float
    after: float


@dataclass(frozen=True)
class CalibrationReport:
    """What ``calibrate`` changed and how well the profile now predicts the rows."""

    device: str
    n_rows: int
    constants: tuple[ConstantFit, ...]
    latency_before: ErrorStats
    latency_after: ErrorStats
    energy_before: ErrorStats
    energy_after: ErrorStats
    out_path: Path | None = None

    def summary(self) -> str:
        """A few lines for the console and the header of the written profile."""
        lines = [f"calibrated {self.device} on {self.n_rows} rows"]
        lines += [f"  {c.name}: {c.before:.6g} -> {c.after:.6g}" for c in self.constants]
        for what, before, after in (
            ("latency", self.latency_before, self.latency_after),
            ("energy", self.energy_before, self.energy_after),
        ):
            if after.n:
                lines.append(
                    f"  {what} |rel error| median {before.median:.1%} -> {after.median:.1%}, "
                    f"p90 {before.p90:.1%} -> {after.p90:.1%} ({after.n} rows)"
                )
        return "\n".join(lines)


def coarse_graph(macs: int, params: int) -> GraphStats:
    """A one-layer graph from a model's MACs and parameters alone.

    A model with about as many parameters as MACs uses each weight about once: it is
    costed as a dense layer; otherwise as a convolution. Activation sizes are unknown
    and taken as zero, so only the MAC and weight terms of the model apply.
    """
    kind = "dense" if 2 * params >= macs else "conv"
    layer = LayerStats("model", "Gemm" if kind == "dense" else "Conv", kind, macs, params, 0, 0)
    return GraphStats((layer,))


def read_measurements(
    path: Path, graph_loader: Callable[[Path], GraphStats] | None = None
) -> list[Measurement]:
    """Read a measurements CSV.

    Columns: ``latency_ms`` (required); the model as ``onnx_path``, ``benchmark`` (an
    MLPerf Tiny reference model: ic, kws, vww, ad) or ``macs`` and ``params``; optional
    ``energy_mJ`` (or ``energy_uJ``), ``clock_mhz``, ``supply_V`` and, for an edge SoC,
    ``unit``.

    Args:
        path: The CSV file.
        graph_loader: Turns an ONNX path into graph statistics (the adapters' own
            function); needed only when the CSV has an ``onnx_path`` column.

    Raises:
        HardwareError: A missing column or a bad value, naming the file, row and column.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise HardwareError(f"{path}: cannot read measurements CSV ({e}).") from e
    if "latency_ms" not in frame.columns:
        raise HardwareError(f"{path}: column 'latency_ms' is required.")
    if not {"onnx_path", "benchmark", "macs"} & set(frame.columns):
        raise HardwareError(
            f"{path}: name each row's model with an 'onnx_path', 'benchmark' or "
            "'macs' and 'params' column."
        )
    rows = []
    for index, row in frame.iterrows():
        where = f"{path}, row {int(index) + 2}"  # 1-based, after the header line
        rows.append(_measurement(row.to_dict(), where, path, graph_loader))
    return rows


def _present(row: dict[str, Any], column: str) -> bool:
    value = row.get(column)
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _positive(row: dict[str, Any], column: str, where: str) -> float | None:
    if not _present(row, column):
        return None
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0:
        raise HardwareError(f"{where}: column '{column}' must be > 0, got {row[column]!r}.")
    return value


def _measurement(
    row: dict[str, Any],
    where: str,
    path: Path,
    graph_loader: Callable[[Path], GraphStats] | None,
) -> Measurement:
    if _present(row, "onnx_path"):
        if graph_loader is None:
            raise HardwareError(
                f"{where}: 'onnx_path' rows need a `graph_loader` (ONNX -> GraphStats)."
            )
        graph = graph_loader(path.parent / str(row["onnx_path"]))
    elif _present(row, "benchmark"):
        try:
            graph = reference_graph(str(row["benchmark"]))
        except ValueError as e:
            raise HardwareError(f"{where}: column 'benchmark': {e}") from e
    else:
        macs, params = _positive(row, "macs", where), _positive(row, "params", where)
        if macs is None or params is None:
            raise HardwareError(f"{where}: columns 'macs' and 'params' are both required.")
        graph = coarse_graph(int(macs), int(params))
    latency = _positive(row, "latency_ms", where)
    if latency is None:
        raise HardwareError(f"{where}: column 'latency_ms' is empty.")
    energy = _positive(row, "energy_mJ", where)
    energy_uJ = _positive(row, "energy_uJ", where)
    if energy is None and energy_uJ is not None:
        energy = energy_uJ / 1e3
    return Measurement(
        graph=graph,
        latency_ms=latency,
        energy_mJ=energy,
        clock_mhz=_positive(row, "clock_mhz", where),
        supply_V=_positive(row, "supply_V", where),
        unit=str(row["unit"]) if _present(row, "unit") else None,
    )


def _power_scale(profile: DeviceProfile, m: Measurement) -> float:
    """Active power of a row relative to the profile's: linear in clock and supply."""
    clock = m.clock_mhz or profile.clock_mhz
    supply = m.supply_V or profile.supply_V
    return (clock / profile.clock_mhz) * (supply / profile.supply_V)


def predict(profile: DeviceProfile, m: Measurement) -> tuple[float, float]:
    """Latency (ms) and energy (mJ) the profile predicts for one measured row."""
    if profile.kind == "soc":
        assert profile.units is not None
        unit = profile.units[m.unit or next(iter(profile.units))]
        works = [layer_work(layer, unit) for layer in m.graph.layers]
        return sum(map(unit.latency_ms, works)), sum(map(unit.energy_mJ, works))
    at_clock = profile.model_copy(update={"clock_mhz": m.clock_mhz or profile.clock_mhz})
    latency, _, _ = analytic_cost(m.graph, at_clock)
    return latency, profile.active_power_mW * _power_scale(profile, m) * latency / 1e3


def _with_compute(profile: DeviceProfile, theta: np.ndarray) -> DeviceProfile:
    """The profile with the three analytic constants set from ``theta`` (log values)."""
    assert profile.compute is not None
    rate, bpc, cpo = np.exp(theta)
    base = profile.compute.macs_per_cycle["int8"]
    compute = profile.compute.model_copy(
        update={
            "macs_per_cycle": {
                k: v * rate / base for k, v in profile.compute.macs_per_cycle.items()
            },
            "bytes_per_cycle": float(bpc),
            "cycles_per_output": float(cpo),
        }
    )
    return profile.model_copy(update={"compute": compute})


_ANALYTIC_CONSTANTS = (
    "compute.macs_per_cycle.int8",
    "compute.bytes_per_cycle",
    "compute.cycles_per_output",
)
_CPO_FLOOR = 1e-3
"""``cycles_per_output`` may be zero in a profile; the log-space fit starts from this."""


def _fit_analytic(
    profile: DeviceProfile, rows: Sequence[Measurement]
) -> tuple[DeviceProfile, list[ConstantFit]]:
    assert profile.compute is not None
    c = profile.compute
    theta0 = np.log(
        [c.macs_per_cycle["int8"], c.bytes_per_cycle, max(c.cycles_per_output, _CPO_FLOOR)]
    )
    measured = np.log([m.latency_ms for m in rows])

    def residuals(theta: np.ndarray) -> np.ndarray:
        candidate = _with_compute(profile, theta)
        predicted = np.log([predict(candidate, m)[0] for m in rows])
        return np.concatenate([predicted - measured, LAMBDA * (theta - theta0)])

    solution = least_squares(residuals, theta0, method="lm" if len(rows) >= 3 else "trf")
    fitted = _with_compute(profile, solution.x)
    fits = [
        ConstantFit(name, float(before), float(after))
        for name, before, after in zip(
            _ANALYTIC_CONSTANTS,
            (c.macs_per_cycle["int8"], c.bytes_per_cycle, c.cycles_per_output),
            np.exp(solution.x),
            strict=True,
        )
    ]
    return fitted, fits


def _fit_power_law(
    x: Sequence[GraphStats], y: Sequence[float], unit_name: str, profile: DeviceProfile, what: str
) -> tuple[float, float]:
    """Fit ``a, b`` of one unit's law so that the per-layer sum matches each row."""
    assert profile.units is not None
    unit = profile.units[unit_name]
    law = getattr(unit, what)
    works = [np.array([layer_work(layer, unit) for layer in g.layers]) for g in x]
    target = np.log(y)

    def residuals(theta: np.ndarray) -> np.ndarray:
        a, b = np.exp(theta[0]), theta[1]
        predicted = np.log([a * np.sum(w**b) for w in works])
        return predicted - target

    solution = least_squares(residuals, [math.log(law.a), law.b])
    return float(np.exp(solution.x[0])), float(solution.x[1])


def _fit_soc(
    profile: DeviceProfile, rows: Sequence[Measurement]
) -> tuple[DeviceProfile, list[ConstantFit]]:
    assert profile.units is not None
    units = dict(profile.units)
    fits: list[ConstantFit] = []
    for name, unit in profile.units.items():
        mine = [m for m in rows if m.unit == name]
        if not mine:
            continue
        update = {}
        for what, values in (
            ("latency_ms", [m.latency_ms for m in mine]),
            ("energy_mJ", [m.energy_mJ for m in mine if m.energy_mJ is not None]),
        ):
            graphs = [m.graph for m in mine if what == "latency_ms" or m.energy_mJ is not None]
            if len(values) < 2:
                continue
            a, b = _fit_power_law(graphs, values, name, profile, what)
            law = getattr(unit, what)
            fits += [
                ConstantFit(f"units.{name}.{what}.a", law.a, a),
                ConstantFit(f"units.{name}.{what}.b", law.b, b),
            ]
            update[what] = law.model_copy(update={"a": a, "b": b})
        units[name] = unit.model_copy(update=update)
    return profile.model_copy(update={"units": units}), fits


def _fit_active_power(
    profile: DeviceProfile, rows: Sequence[Measurement]
) -> tuple[DeviceProfile, list[ConstantFit]]:
    with_energy = [m for m in rows if m.energy_mJ is not None]
    if not with_energy or profile.kind == "soc":
        return profile, []
    logs = [
        math.log(m.energy_mJ * 1e3 / m.latency_ms / _power_scale(profile, m))  # type: ignore[operator]
        for m in with_energy
    ]
    power = math.exp(sum(logs) / len(logs))
    fit = ConstantFit("active_power_mW", profile.active_power_mW, power)
    return profile.model_copy(update={"active_power_mW": power}), [fit]


def fit_profile(
    profile: DeviceProfile, rows: Sequence[Measurement]
) -> tuple[DeviceProfile, CalibrationReport]:
    """Fit a profile's free constants to measured rows (see the module docstring).

    Returns:
        The calibrated profile and a report of the constants and the fit error.

    Raises:
        HardwareError: No rows, a ``host`` profile, or SoC rows without a known unit.
    """
    if not rows:
        raise HardwareError(f"calibrate {profile.name}: no measured rows.")
    if profile.kind == "host":
        raise HardwareError("Device 'host' is measured on this machine; nothing to calibrate.")
    if profile.kind == "soc":
        assert profile.units is not None
        unknown = {m.unit for m in rows} - set(profile.units)
        if unknown:
            raise HardwareError(
                f"calibrate {profile.name}: column 'unit' must name one of "
                f"{sorted(profile.units)}, got {sorted(map(str, unknown))}."
            )
        fitted, fits = _fit_soc(profile, rows)
    else:
        fitted, fits = _fit_analytic(profile, rows)
    fitted, power_fits = _fit_active_power(fitted, rows)
    before = [predict(profile, m) for m in rows]
    after = [predict(fitted, m) for m in rows]
    energy_rows = [i for i, m in enumerate(rows) if m.energy_mJ is not None]
    energies = [rows[i].energy_mJ for i in energy_rows]
    report = CalibrationReport(
        device=profile.name,
        n_rows=len(rows),
        constants=tuple(fits + power_fits),
        latency_before=ErrorStats.of([p[0] for p in before], [m.latency_ms for m in rows]),
        latency_after=ErrorStats.of([p[0] for p in after], [m.latency_ms for m in rows]),
        energy_before=ErrorStats.of([before[i][1] for i in energy_rows], energies),
        energy_after=ErrorStats.of([after[i][1] for i in energy_rows], energies),
    )
    return fitted, report


def calibrate(
    device: str,
    measurements_csv: Path,
    out_path: Path,
    graph_loader: Callable[[Path], GraphStats] | None = None,
) -> CalibrationReport:
    """Fit a device profile to the user's measurements and write the calibrated profile.

    Args:
        device: A known device name or a profile YAML path (the starting point).
        measurements_csv: Measured rows (see ``read_measurements`` for the columns).
        out_path: Where to write the calibrated profile YAML; its stem becomes the new
            profile's name, so ``load_device(str(out_path))`` loads it.
        graph_loader: ONNX path -> graph statistics, for CSVs with an ``onnx_path`` column.

    Returns:
        The report: constants before/after, and latency/energy error before/after.

    Example:
        >>> report = calibrate("cortex_m4", Path("m4.csv"), Path("m4_mine.yaml"))  # doctest: +SKIP
    """
    profile = load_device(device)
    rows = read_measurements(measurements_csv, graph_loader)
    fitted, report = fit_profile(profile, rows)
    fitted = fitted.model_copy(update={"name": out_path.stem})
    header = [
        f"# Calibrated from profile '{profile.name}' by `moo calibrate` on "
        f"{datetime.now(UTC):%Y-%m-%d}, measurements: {measurements_csv}",
        *(f"# {line}" for line in report.summary().splitlines()),
    ]
    body = yaml.safe_dump(fitted.model_dump(mode="json", exclude_none=True), sort_keys=False)
    out_path.write_text("\n".join(header) + "\n" + body, encoding="utf-8")
    return replace(report, out_path=out_path)
