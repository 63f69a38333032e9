"""The one entry point adapters call: a graph's cost on every device of a study.

``cost_on_devices`` dispatches on the profile kind: the analytic layer model for MCUs and
micro-NPUs, QEIL placement for an edge SoC, an onnxruntime measurement for the host.
Flash and SRAM come from the same memory model on every device, so ``memory_footprint``
can decide feasibility before anything is trained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from objectives.hardware.analytic import analytic_cost
from objectives.hardware.errors import HardwareError
from objectives.hardware.host import measure_latency_ms
from objectives.hardware.memory import flash_kB, peak_sram_kB
from objectives.hardware.profile import DeviceProfile, load_device
from objectives.hardware.soc import place_layers

if TYPE_CHECKING:
    from pathlib import Path

    from objectives.hardware.stats import GraphStats

__all__ = [
    "HardwareCost",
    "MemoryFootprint",
    "cost_on_device",
    "cost_on_devices",
    "memory_footprint",
]


class _FitsMixin:
    """``fits``/``explain``/``as_constraints`` shared by footprints and full costs."""

    device: str
    flash_kB: float
    sram_kB: float
    flash_excess_kB: float
    sram_excess_kB: float

    def fits(self) -> bool:
        """True when both flash and SRAM needs are within the device's capacity."""
        return self.flash_excess_kB <= 0 and self.sram_excess_kB <= 0

    def explain(self) -> str:
        """One line saying whether the model fits, and which limit it exceeds by how much."""
        over = [
            f"{what} needs {need:.1f} kB, {excess:.1f} kB over the {need - excess:.1f} kB limit"
            for what, need, excess in (
                ("flash", self.flash_kB, self.flash_excess_kB),
                ("SRAM", self.sram_kB, self.sram_excess_kB),
            )
            if excess > 0
        ]
        if not over:
            return (
                f"fits on {self.device} (flash {self.flash_kB:.1f} kB, SRAM {self.sram_kB:.1f} kB)"
            )
        return f"does not fit on {self.device}: " + "; ".join(over)

    def as_constraints(self) -> dict[str, float]:
        """Optuna-style constraints: ``> 0`` means infeasible by that many kB."""
        return {"flash_excess_kB": self.flash_excess_kB, "sram_excess_kB": self.sram_excess_kB}


@dataclass(frozen=True)
class MemoryFootprint(_FitsMixin):
    """Flash and peak SRAM of a graph on one device (no latency: cheap, before training)."""

    device: str
    flash_kB: float
    sram_kB: float
    flash_excess_kB: float
    sram_excess_kB: float


@dataclass(frozen=True)
class HardwareCost(_FitsMixin):
    """Latency, energy and memory of one inference of a graph on one device.

    Attributes:
        device: Profile name.
        latency_ms: Latency of one batch-1 inference.
        energy_mJ: Energy of one inference (active power x latency + memory traffic).
        flash_kB: Weights plus runtime code, KiB.
        sram_kB: Peak activations plus runtime RAM, KiB.
        flash_excess_kB: ``flash_kB`` minus capacity; ``> 0`` does not fit.
        sram_excess_kB: ``sram_kB`` minus capacity; ``> 0`` does not fit.
        detail: Extras by device kind (the SoC placement and its gain, host repeats).
        latency_log_sd: Spread of ``log(measured / predicted)`` latency on rows the
            profile was not fitted to (0: measured, or no spread known).
        energy_log_sd: The same for energy.
    """

    device: str
    latency_ms: float
    energy_mJ: float
    flash_kB: float
    sram_kB: float
    flash_excess_kB: float
    sram_excess_kB: float
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False)
    latency_log_sd: float = 0.0
    energy_log_sd: float = 0.0

    def upper(self, quantile: float = 0.9) -> tuple[float, float]:
        """Latency (ms) and energy (mJ) that the measurement stays below with probability
        ``quantile`` (log-normal error of the profile's held-out spread).

        Example:
            >>> cost = HardwareCost("d", 10.0, 1.0, 0.0, 0.0, 0.0, 0.0, latency_log_sd=0.2)
            >>> round(cost.upper(0.9)[0], 2)  # 10 ms x exp(1.2816 x 0.2)
            12.92
        """
        if not 0.0 < quantile < 1.0:
            raise HardwareError(f"`quantile` must be in (0, 1), got {quantile}.")
        z = NormalDist().inv_cdf(quantile)
        return (
            self.latency_ms * math.exp(z * self.latency_log_sd),
            self.energy_mJ * math.exp(z * self.energy_log_sd),
        )

    def as_metrics(self) -> dict[str, float]:
        """The objective-type numbers, by metric name; ``*_p90`` are the upper 90 % bounds."""
        latency_p90, energy_p90 = self.upper(0.9)
        return {
            "latency_ms": self.latency_ms,
            "energy_mJ": self.energy_mJ,
            "flash_kB": self.flash_kB,
            "sram_kB": self.sram_kB,
            "latency_ms_p90": latency_p90,
            "energy_mJ_p90": energy_p90,
        }


def _profile(device: str | DeviceProfile) -> DeviceProfile:
    return device if isinstance(device, DeviceProfile) else load_device(device)


def memory_footprint(graph: GraphStats, device: str | DeviceProfile) -> MemoryFootprint:
    """Flash and SRAM need of a graph on a device, and by how much each limit is exceeded.

    Example:
        >>> from objectives.hardware.reference import reference_graph
        >>> memory_footprint(reference_graph("kws"), "cortex_m0plus").fits()
        True
    """
    profile = _profile(device)
    flash, sram = flash_kB(graph, profile), peak_sram_kB(graph, profile)
    return MemoryFootprint(
        profile.name, flash, sram, flash - profile.flash_kB, sram - profile.sram_kB
    )


def cost_on_device(
    graph: GraphStats, device: str | DeviceProfile, onnx_path: Path | None = None
) -> HardwareCost:
    """Latency, energy, flash and SRAM of a graph on one device (see ``cost_on_devices``)."""
    profile = _profile(device)
    memory = memory_footprint(graph, profile)
    detail: dict[str, Any] = {}
    if profile.kind in ("mcu", "npu"):
        latency, energy, timings = analytic_cost(graph, profile)
        detail["fallback_layers"] = [t.name for t in timings if t.unit == "fallback"]
    elif profile.kind == "soc":
        placement = place_layers(graph, profile)
        latency, energy = placement.latency_ms, placement.energy_mJ
        detail.update(
            placement=list(placement.units),
            best_single_unit=placement.best_single_unit,
            latency_gain=placement.latency_gain,
            energy_gain=placement.energy_gain,
        )
    else:
        if onnx_path is None:
            raise HardwareError(
                f"Device '{profile.name}' is measured with onnxruntime: pass `onnx_path`."
            )
        assert profile.measure is not None
        latency = measure_latency_ms(onnx_path, profile.measure)
        energy = profile.active_power_mW * latency / 1e3
        detail.update(repeats=profile.measure.repeats, warmup=profile.measure.warmup)
    spread = profile.uncertainty
    return HardwareCost(
        device=profile.name,
        latency_ms=latency,
        energy_mJ=energy,
        flash_kB=memory.flash_kB,
        sram_kB=memory.sram_kB,
        flash_excess_kB=memory.flash_excess_kB,
        sram_excess_kB=memory.sram_excess_kB,
        detail=detail,
        latency_log_sd=spread.latency_log_sd if spread is not None else 0.0,
        energy_log_sd=spread.energy_log_sd if spread is not None else 0.0,
    )


def cost_on_devices(
    graph: GraphStats, devices: Sequence[str], onnx_path: Path | None = None
) -> dict[str, HardwareCost]:
    """Cost one trained graph on every device of a study.

    Training is device-independent, so an adapter trains once and costs the result
    everywhere (the siblings of DESIGN.md's data flow).

    Args:
        graph: Graph statistics of the exported model.
        devices: Profile names (``known_devices()``) or profile YAML paths.
        onnx_path: The exported model; needed only for the ``host`` device.

    Returns:
        Device name as given -> its cost.

    Raises:
        UnknownDeviceError: A name without a profile.
        HardwareError: ``host`` without ``onnx_path``, or a layer no unit can run.

    Example:
        >>> from objectives.hardware.reference import reference_graph
        >>> costs = cost_on_devices(reference_graph("kws"), ["cortex_m4", "cortex_m7"])
        >>> costs["cortex_m7"].latency_ms < costs["cortex_m4"].latency_ms
        True
    """
    return {name: cost_on_device(graph, name, onnx_path) for name in devices}
