r"""Fit a profile's free constants to measured rows, and write the calibrated profile.

A microcontroller under a runtime (a profile with per-kind constants, ``runtime_model.py``) is
calibrated few-shot (``fewshot.py``): one to a few rows move the shipped constants only as
far as leave-one-out on those rows supports, and the result states the error to expect on a
model that was not measured and every row's residual. Rows that would silently mislead are
refused, one line each: a row measured at another clock than the calibration's (flash wait
states and bus ratios change with it) or under another runtime or generation than the
device's.

Other microcontroller and NPU profiles (the roofline model) have three free constants: the int8 MAC
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

from objectives.hardware.analytic import analytic_cost, fitted_terms
from objectives.hardware.errors import HardwareError
from objectives.hardware.fewshot import few_shot
from objectives.hardware.measurements import read_measurements
from objectives.hardware.profile import DeviceProfile, Uncertainty, load_device
from objectives.hardware.runtime_model import MAC_KINDS, PARAMETERS
from objectives.hardware.runtimes import RuntimeRef, parse_device_name, runtime_of_text
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
    "RowResidual",
    "calibrate_device",
    "fit_few_shot",
    "fit_profile",
    "predict",
    "refuse_mismatched",
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
class RowResidual:
    """One measured row against the profile before and after calibration.

    Attributes:
        line: Line of the row in its CSV (None for rows given in code).
        measured_ms: Measured latency.
        before_ms: The starting profile's prediction.
        after_ms: The calibrated profile's prediction.
        left_out_ms: The prediction of a calibration on the other rows (None with one row).
    """

    line: int | None
    measured_ms: float
    before_ms: float
    after_ms: float
    left_out_ms: float | None = None

    def describe(self) -> str:
        def pct(predicted: float) -> str:
            return f"{predicted:.4g} ms ({predicted / self.measured_ms - 1:+.1%})"

        where = f"row {self.line}" if self.line is not None else "row"
        text = f"  {where}: measured {self.measured_ms:.4g} ms, profile {pct(self.before_ms)}, "
        text += f"calibrated {pct(self.after_ms)}"
        if self.left_out_ms is not None:
            text += f", left out {pct(self.left_out_ms)}"
        return text


def _quantiles(log_sd: float) -> str:
    """Median and p90 of ``|predicted / measured - 1|`` for a log-normal error of this spread."""
    return f"median {math.exp(0.6745 * log_sd) - 1:.1%}, p90 {math.exp(1.6449 * log_sd) - 1:.1%}"


@dataclass(frozen=True)
class CalibrationResult:
    """What ``calibrate_device`` changed and how well the profile now predicts the rows.

    Attributes:
        device: The profile calibrated from.
        n_rows: Rows used (refused ones excluded).
        constants: Fitted constants, before and after.
        latency_before: Error of the starting profile on the rows.
        latency_after: Error of the calibrated profile on the rows (in-sample).
        energy_before: As ``latency_before``, rows with energy.
        energy_after: As ``latency_after``, rows with energy.
        out_path: Where the calibrated profile was written.
        refused: One line per refused row.
        residuals: Per-row residuals (few-shot calibration).
        choice: The shrinkage leave-one-out chose (few-shot calibration).
        expected_before: Log spread to expect on a new model before calibration.
        expected_after: The same after calibration.
    """

    device: str
    n_rows: int
    constants: tuple[ConstantFit, ...]
    latency_before: ErrorStats
    latency_after: ErrorStats
    energy_before: ErrorStats
    energy_after: ErrorStats
    out_path: Path | None = None
    refused: tuple[str, ...] = ()
    residuals: tuple[RowResidual, ...] = ()
    choice: str = ""
    expected_before: float | None = None
    expected_after: float | None = None

    def summary(self) -> str:
        """A few lines for the console and the header of the written profile."""
        lines = [f"calibrated {self.device} on {self.n_rows} rows"]
        lines += [f"  refused {line}" for line in self.refused]
        if self.choice:
            lines.append(f"  shrinkage (leave-one-out over the rows): {self.choice}")
        lines += [f"  {c.name}: {c.before:.6g} -> {c.after:.6g}" for c in self.constants]
        lines += [r.describe() for r in self.residuals]
        if self.expected_before is not None and self.expected_after is not None:
            lines.append(
                f"  expected |rel error| on a new model: {_quantiles(self.expected_before)}"
                f" -> {_quantiles(self.expected_after)}"
            )
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

    from scipy.optimize import least_squares  # 0.7 s to import; only a fit needs it

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

    from scipy.optimize import least_squares

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
    profile: DeviceProfile, rows: Sequence[Measurement], *, prior_rows: float = 0.0
) -> tuple[DeviceProfile, list[ConstantFit]]:
    """Active power as the geometric mean of ``E / t`` rescaled to the profile's clock and
    supply, shrunk toward the profile's by ``prior_rows`` rows' worth."""
    with_energy = [m for m in rows if m.energy_mJ is not None]
    if not with_energy or profile.kind == "soc":
        return profile, []
    logs = [
        math.log(m.energy_mJ * 1e3 / m.latency_ms / _power_scale(profile, m))  # type: ignore[operator]
        for m in with_energy
    ]
    total = sum(logs) + prior_rows * math.log(profile.active_power_mW)
    power = math.exp(total / (len(logs) + prior_rows))
    fit = ConstantFit("active_power_mW", profile.active_power_mW, power)
    return profile.model_copy(update={"active_power_mW": power}), [fit]


def _profile_runtime(profile: DeviceProfile) -> RuntimeRef | None:
    if profile.runtime is None:
        return None
    return runtime_of_text(profile.runtime, profile.core)


def refuse_mismatched(
    profile: DeviceProfile, rows: Sequence[Measurement], clock_mhz: float
) -> tuple[list[Measurement], list[str]]:
    """Rows measured at ``clock_mhz`` under the profile's runtime, and one line per other row.

    A row without a clock is taken at ``clock_mhz``; a row without a runtime at the
    profile's.
    """
    own = _profile_runtime(profile)
    kept, refused = [], []
    for m in rows:
        where = f"row {m.line}" if m.line is not None else "a row"
        if m.clock_mhz is not None and not math.isclose(m.clock_mhz, clock_mhz, rel_tol=5e-3):
            refused.append(
                f"{where}: measured at {m.clock_mhz:g} MHz, the calibration is at "
                f"{clock_mhz:g} MHz (cycles per layer change with the flash wait states; "
                f"calibrate at {m.clock_mhz:g} MHz with --clock-mhz {m.clock_mhz:g})"
            )
            continue
        if m.runtime is not None and own is not None:
            theirs = runtime_of_text(m.runtime, profile.core)
            if theirs is None or (theirs.family, theirs.generation) != (own.family, own.generation):
                said = "unknown" if theirs is None else f"{theirs.family} {theirs.generation}"
                base = parse_device_name(profile.name).profile
                refused.append(
                    f"{where}: runtime {m.runtime!r} ({said}) is not the device's "
                    f"{own.family} {own.generation} (calibrate {base}/{m.runtime} for it)"
                )
                continue
        kept.append(m)
    return kept, refused


ENERGY_PRIOR_ROWS = 0.25
"""Rows' worth of prior on the active power: a measured energy row moves it most of the way."""


def fit_few_shot(
    profile: DeviceProfile, rows: Sequence[Measurement]
) -> tuple[DeviceProfile, CalibrationResult]:
    """Few-shot calibration of a profile with per-kind constants (``fewshot.py``).

    Every row is at the profile's clock (``refuse_mismatched`` first). Energy rows move the
    active power by the shrunk geometric mean of ``E / (t P)``.
    """
    if not rows:
        raise HardwareError(f"calibrate {profile.name}: no measured rows to calibrate on.")
    before_constants = profile.kind_constants()
    terms = [fitted_terms(m.graph, profile) for m in rows]
    features = np.array([t[0] for t in terms])
    # the constant part (cycles saved by sub-byte kernels) moves to the measured side
    measured = [
        m.latency_ms * profile.clock_mhz * 1e3 - t[1] for m, t in zip(rows, terms, strict=True)
    ]
    cycles = np.log(measured)
    prior_sd = profile.uncertainty.latency_log_sd if profile.uncertainty else 0.2
    fit = few_shot(before_constants, features, cycles, prior_sd)
    fitted = profile.with_kind_constants(fit.constants)
    fitted, power_fits = _fit_active_power(fitted, rows, prior_rows=ENERGY_PRIOR_ROWS)
    uncertainty = Uncertainty(
        latency_log_sd=fit.expected_log_sd,
        energy_log_sd=fit.expected_log_sd,
        note=f"calibrated on {len(rows)} rows ({fit.choice})",
    )
    fitted = fitted.model_copy(update={"uncertainty": uncertainty})
    before = [predict(profile, m) for m in rows]
    after = [predict(fitted, m) for m in rows]
    left_out: list[float | None] = [None] * len(rows)
    if len(fit.loo_log_errors):
        left_out = [
            m.latency_ms * math.exp(e) for m, e in zip(rows, fit.loo_log_errors, strict=True)
        ]
    residuals = tuple(
        RowResidual(m.line, m.latency_ms, b[0], a[0], lo)
        for m, b, a, lo in zip(rows, before, after, left_out, strict=True)
    )
    names = [f"compute.cycles_per_mac.{k}" for k in MAC_KINDS]
    names += ["compute.cycles_per_output", "compute.cycles_per_element"]
    names += ["compute.layer_overhead_cycles"]
    constants = tuple(
        ConstantFit(name, float(b), float(a))
        for name, b, a in zip(
            names,
            np.exp(before_constants.as_log()),
            np.exp(fit.constants.as_log()),
            strict=True,
        )
    )
    assert len(names) == len(PARAMETERS)
    energy_rows = [i for i, m in enumerate(rows) if m.energy_mJ is not None]
    energies = [m.energy_mJ for m in rows if m.energy_mJ is not None]  # energy_rows' order
    report = CalibrationResult(
        device=profile.name,
        n_rows=len(rows),
        constants=constants + tuple(power_fits),
        latency_before=ErrorStats.of([p[0] for p in before], [m.latency_ms for m in rows]),
        latency_after=ErrorStats.of([p[0] for p in after], [m.latency_ms for m in rows]),
        energy_before=ErrorStats.of([before[i][1] for i in energy_rows], energies),
        energy_after=ErrorStats.of([after[i][1] for i in energy_rows], energies),
        residuals=residuals,
        choice=fit.choice,
        expected_before=prior_sd,
        expected_after=fit.expected_log_sd,
    )
    return fitted, report


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
    energies = [m.energy_mJ for m in rows if m.energy_mJ is not None]  # energy_rows' order
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
    clock_mhz: float | None = None,
) -> CalibrationResult:
    """Fit a device profile to measured rows and write the calibrated profile (``moo calibrate``).

    Args:
        device: A device name (``cortex_m4``, ``cortex_m4/plumerai``) or a profile YAML path
            (the starting point).
        measurements_csv: Measured rows (columns in ``read_measurements``).
        out: Where to write the calibrated profile YAML; its stem becomes the new profile's
            name, so ``load_device(str(out))`` loads it and studies can list it as a device.
        graph_loader: ONNX path -> graph statistics for ``onnx_path`` rows; defaults to
            ``graph_from_onnx``.
        clock_mhz: Clock of the calibration (a profile with per-kind constants refuses rows
            at other clocks); default: the profile's.

    Returns:
        Constants before/after, the error before/after, refused rows and, for a few-shot
        calibration, every row's residual and the error to expect on a new model;
        ``summary()`` is the text to print.

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
    refused: list[str] = []
    few_shot_profile = profile.compute is not None and profile.compute.cycles_per_mac is not None
    if few_shot_profile:
        clock = float(profile.clock_mhz if clock_mhz is None else clock_mhz)
        profile = profile.model_copy(update={"clock_mhz": clock})
        rows, refused = refuse_mismatched(profile, rows, clock)
        if not rows:
            raise HardwareError(
                f"calibrate {device}: every row was refused; " + "; ".join(refused) + "."
            )
        fitted, result = fit_few_shot(profile, rows)
    else:
        fitted, result = fit_profile(profile, rows)
    fitted = fitted.model_copy(update={"name": out.stem, "board": None})
    result = replace(result, refused=tuple(refused))
    header = [
        f"# Calibrated from profile '{profile.name}' by `moo calibrate` on "
        f"{datetime.now(UTC):%Y-%m-%d}, measurements: {measurements_csv}",
        "# Fields not listed as fitted below keep the values (and sources) of that profile.",
        *(f"# {line}" for line in result.summary().splitlines()),
    ]
    body = yaml.safe_dump(fitted.model_dump(mode="json", exclude_none=True), sort_keys=False)
    out.write_text("\n".join(header) + "\n" + body, encoding="utf-8")
    return replace(result, out_path=out)
