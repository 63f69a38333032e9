"""Key numbers of every shipped profile, for ``moo devices``."""

from __future__ import annotations

from objectives.hardware.profile import known_devices, load_device

__all__ = ["DEVICE_TABLE_COLUMNS", "device_table"]

DEVICE_TABLE_COLUMNS: dict[str, str] = {
    "device": "device",
    "kind": "kind",
    "core": "core",
    "clock_mhz": "clock MHz",
    "flash_kB": "flash kB",
    "sram_kB": "SRAM kB",
    "active_power_mW": "active mW",
    "idle_power_mW": "idle mW",
    "int8_macs_per_cycle": "int8 MACs/cycle",
    "description": "description",
}
"""Row key -> column title with unit, in display order (``moo devices``)."""


def device_table() -> list[dict[str, object]]:
    """One row per shipped profile: kind, core, clock, memories, powers, int8 throughput.

    Keys and their titles are ``DEVICE_TABLE_COLUMNS``. ``int8_macs_per_cycle`` is that of
    the main compute unit; it is ``None`` for the SoC (power laws) and the host (measured).

    Example:
        >>> rows = device_table()
        >>> {row["device"] for row in rows} >= {"cortex_m4", "host"}
        True
    """
    rows: list[dict[str, object]] = []
    for name in known_devices():
        profile = load_device(name)
        rows.append(
            {
                "device": name,
                "kind": profile.kind,
                "core": profile.core,
                "clock_mhz": profile.clock_mhz,
                "flash_kB": profile.flash_kB,
                "sram_kB": profile.sram_kB,
                "active_power_mW": profile.active_power_mW,
                "idle_power_mW": profile.idle_power_mW,
                "int8_macs_per_cycle": (
                    profile.compute.macs_per_cycle["int8"] if profile.compute is not None else None
                ),
                "description": profile.description,
            }
        )
    return rows
