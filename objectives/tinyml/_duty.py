"""Duty-cycle metrics of a costed model under a study's workload.

A deployed keyword spotter does not run back to back: it wakes up every ``T`` seconds,
infers, and idles. What the battery sees is the average power over a period (DESIGN.md,
"Duty cycle"), so a fast core with a high idle current wins frequent inference and a slow
one with a low idle current wins rare inference. Metrics, at each period ``T`` of the
workload (the first also without suffix):

- ``avg_power_mW@<T>s``: ``objectives.hardware.average_power_mW``;
- ``battery_life_h@<T>s``: ``objectives.hardware.battery_life_h`` (with a battery);

and the constraint ``period_excess_ms``: the inference latency minus the shortest period,
``> 0`` when the model cannot keep up. Such a model is costed as running back to back
(its period is its latency), so its metrics stay finite and physical.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from objectives.hardware import (
    DeviceProfile,
    HardwareCost,
    average_power_mW,
    battery_life_h,
    load_device,
)
from objectives.protocol import Workload

__all__ = ["PERIOD_EXCESS", "duty_cycle", "stored_cost"]

PERIOD_EXCESS = "period_excess_ms"
"""Constraint: inference latency beyond the shortest period (``> 0``: cannot keep up)."""


@cache
def _profile(device: str) -> DeviceProfile:
    return load_device(device)  # profiles are immutable; this is called per trial x period


def duty_cycle(cost: HardwareCost, workload: Workload) -> tuple[dict[str, float], dict[str, float]]:
    """Metrics and constraints of ``cost`` (one inference on ``cost.device``) under
    ``workload``; see the module docstring for the names."""
    profile = _profile(cost.device)
    latency_s = cost.latency_ms / 1e3
    several = len(workload.periods_s) > 1
    metrics: dict[str, float] = {}
    for i, period in enumerate(workload.periods_s):
        effective = max(period, latency_s)
        values = {"avg_power_mW": average_power_mW(cost, profile, effective)}
        if workload.battery_mAh:
            values["battery_life_h"] = battery_life_h(
                cost, profile, effective, workload.battery_mAh, workload.voltage
            )
        if i == 0:
            metrics.update(values)
        if several:
            metrics.update({f"{name}@{period:g}s": v for name, v in values.items()})
    excess = cost.latency_ms - 1e3 * min(workload.periods_s)
    return metrics, {PERIOD_EXCESS: excess}


def stored_cost(device: str, metrics: Mapping[str, float]) -> HardwareCost:
    """The per-inference cost recorded in a trial's metrics (memory excess unknown)."""
    nan = float("nan")
    return HardwareCost(
        device=device,
        latency_ms=float(metrics["latency_ms"]),
        energy_mJ=float(metrics["energy_mJ"]),
        flash_kB=float(metrics.get("flash_kB", nan)),
        sram_kB=float(metrics.get("sram_kB", nan)),
        flash_excess_kB=nan,
        sram_excess_kB=nan,
    )
