r"""Duty cycle: average power and battery life when inference runs every ``T`` seconds.

    P_avg = (E_inf + P_idle * (T - t_inf)) / T

The central finding of the Cortex-M paper (arXiv 2602.17508) follows from it: a fast core
with high idle power wins when inference is frequent (the active term dominates), a slow
core with low idle power wins when it is rare (the idle term dominates).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from objectives.hardware.errors import HardwareError
from objectives.hardware.profile import DeviceProfile, load_device

if TYPE_CHECKING:
    from objectives.hardware.cost import HardwareCost

__all__ = ["average_power_mW", "battery_life_h"]


def average_power_mW(cost: HardwareCost, device: DeviceProfile | str, period_s: float) -> float:
    """Average power in mW of one inference every ``period_s`` seconds, idling in between.

    Raises:
        HardwareError: The period is shorter than one inference.

    Example:
        >>> from objectives.hardware.cost import HardwareCost
        >>> cost = HardwareCost("cortex_m4", 100.0, 5.0, 0.0, 0.0, 0.0, 0.0)
        >>> round(average_power_mW(cost, "cortex_m4", 1.0), 3)  # 5 mJ/s + 0.99 mW * 0.9
        5.891
    """
    profile = device if isinstance(device, DeviceProfile) else load_device(device)
    latency_s = cost.latency_ms / 1e3
    if not period_s >= latency_s:
        raise HardwareError(
            f"`period_s` must be at least the inference latency on {profile.name} "
            f"({latency_s:.4g} s), got {period_s}."
        )
    return (cost.energy_mJ + profile.idle_power_mW * (period_s - latency_s)) / period_s


def battery_life_h(
    cost: HardwareCost,
    device: DeviceProfile | str,
    period_s: float,
    battery_mAh: float,
    voltage: float = 3.3,
) -> float:
    """Hours a battery of ``battery_mAh`` at ``voltage`` lasts at this duty cycle.

    Example:
        >>> from objectives.hardware.cost import HardwareCost
        >>> cost = HardwareCost("cortex_m4", 100.0, 5.0, 0.0, 0.0, 0.0, 0.0)
        >>> round(battery_life_h(cost, "cortex_m4", 1.0, 220.0), 1)  # 726 mWh / 5.891 mW
        123.2
    """
    if not battery_mAh > 0 or not voltage > 0:
        raise HardwareError(
            f"`battery_mAh` and `voltage` must be > 0, got {battery_mAh} and {voltage}."
        )
    return battery_mAh * voltage / average_power_mW(cost, device, period_s)
