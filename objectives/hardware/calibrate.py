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
from typing import TYPE_CHECKING

import numpy as np
import yaml
from scipy.optimize import least_squares

from objectives.hardware.analytic import analytic_cost
from objectives.hardware.errors import HardwareError
from objectives.hardware.measurements import read_measurements
from objectives.hardware.profile import DeviceProfile, load_device
from objectives.hardware.soc import layer_work

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from objectives.hardware.measurements import Measurement
    from objectives.hardware.stats import GraphStats

__all__ = [
    "CalibrationResult",
    "ConstantFit",
    "ErrorStats",
    "calibrate_device",
    "fit_profile",
    "predict",
]

LAMBDA = 0.01
"""Weight of the pull toward the profile's constants, per constant, in log space: small
enough not to bias well-determined constants, large enough to pin undetermined ones."""


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
class CalibrationResult:
    """What ``calibrate_device`` changed and how well the profile now predicts the rows."""

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
) -> tuple[DeviceProfile, CalibrationResult]:
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
    report = CalibrationResult(
        device=profile.name,
        n_rows=len(rows),
        constants=tuple(fits + power_fits),
        latency_before=ErrorStats.of([p[0] for p in before], [m.latency_ms for m in rows]),
        latency_after=ErrorStats.of([p[0] for p in after], [m.latency_ms for m in rows]),
        energy_before=ErrorStats.of([before[i][1] for i in energy_rows], energies),
        energy_after=ErrorStats.of([after[i][1] for i in energy_rows], energies),
    )
    return fitted, report


def calibrate_device(
    device: str,
    measurements_csv: Path,
    out: Path,
    *,
    graph_loader: Callable[[Path], GraphStats] | None = None,
) -> CalibrationResult:
    """Fit a device profile to measured rows and write the calibrated profile (``moo calibrate``).

    Args:
        device: A known device name or a profile YAML path (the starting point).
        measurements_csv: Measured rows (columns in ``read_measurements``).
        out: Where to write the calibrated profile YAML; its stem becomes the new profile's
            name, so ``load_device(str(out))`` loads it and studies can list it as a device.
        graph_loader: ONNX path -> graph statistics for ``onnx_path`` rows; defaults to
            ``graph_from_onnx``.

    Returns:
        Constants before/after and the latency/energy error before/after; ``summary()``
        is the text to print.

    Raises:
        UnknownDeviceError: ``device`` has no profile.
        HardwareError: A bad CSV (naming file, row and column) or nothing to fit.

    Example:
        >>> from pathlib import Path
        >>> csv, out = Path("m4.csv"), Path("m4.yaml")
        >>> print(calibrate_device("cortex_m4", csv, out).summary())  # doctest: +SKIP
    """
    profile = load_device(device)
    rows = read_measurements(measurements_csv, graph_loader)
    fitted, result = fit_profile(profile, rows)
    fitted = fitted.model_copy(update={"name": out.stem})
    header = [
        f"# Calibrated from profile '{profile.name}' by `moo calibrate` on "
        f"{datetime.now(UTC):%Y-%m-%d}, measurements: {measurements_csv}",
        "# Fields not listed as fitted below keep the values (and sources) of that profile.",
        *(f"# {line}" for line in result.summary().splitlines()),
    ]
    body = yaml.safe_dump(fitted.model_dump(mode="json", exclude_none=True), sort_keys=False)
    out.write_text("\n".join(header) + "\n" + body, encoding="utf-8")
    return replace(result, out_path=out)
