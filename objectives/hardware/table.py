"""Key numbers of every shipped profile and of every runtime per core, for ``moo devices``."""

from __future__ import annotations

import warnings

from objectives.hardware.errors import RuntimeEstimateWarning
from objectives.hardware.profile import known_devices, load_device
from objectives.hardware.runtime_model import runtime_model
from objectives.hardware.runtimes import catalogue

__all__ = ["DEVICE_TABLE_COLUMNS", "RUNTIME_TABLE_COLUMNS", "device_table", "runtime_table"]

DEVICE_TABLE_COLUMNS: dict[str, str] = {
    "device": "device",
    "kind": "kind",
    "core": "core",
    "runtime": "default runtime",
    "clock_mhz": "clock MHz",
    "flash_kB": "flash kB",
    "sram_kB": "SRAM kB",
    "active_power_mW": "active mW",
    "idle_power_mW": "idle mW",
    "int8_macs_per_cycle": "int8 MACs/cycle",
    "latency_log_sd": "latency log sd",
    "description": "description",
}
"""Row key -> column title with unit, in display order (``moo devices``)."""

RUNTIME_TABLE_COLUMNS: dict[str, str] = {
    "device": "device",
    "generations": "fitted generations",
    "rows": "rows",
    "latency_log_sd": "latency log sd",
    "status": "status",
    "title": "runtime",
    "boards": "boards of the rows",
    "note": "why estimated",
}
"""Row key -> column title of ``runtime_table`` (``moo devices``; the last three with
``--verbose``)."""


def _quietly(name: str):  # type: ignore[no-untyped-def]
    """Load a device without repeating estimate warnings: the tables say it in a column."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeEstimateWarning)
        return load_device(name)


def device_table() -> list[dict[str, object]]:
    """One row per shipped profile (with its default runtime): kind, core, clock, memories,
    powers, int8 throughput (of a conv layer) and the held-out latency spread.

    Keys and their titles are ``DEVICE_TABLE_COLUMNS``. ``int8_macs_per_cycle`` is that of
    the main compute unit; it is ``None`` for the SoC (power laws) and the host (measured).

    Example:
        >>> rows = device_table()
        >>> {row["device"] for row in rows} >= {"cortex_m4", "host"}
        True
    """
    rows: list[dict[str, object]] = []
    for name in known_devices():
        profile = _quietly(name)
        rows.append(
            {
                "device": name,
                "kind": profile.kind,
                "core": profile.core,
                "runtime": profile.runtime,
                "clock_mhz": profile.clock_mhz,
                "flash_kB": profile.flash_kB,
                "sram_kB": profile.sram_kB,
                "active_power_mW": profile.active_power_mW,
                "idle_power_mW": profile.idle_power_mW,
                "int8_macs_per_cycle": (
                    profile.compute.macs_per_cycle["int8"] if profile.compute is not None else None
                ),
                "latency_log_sd": (
                    profile.uncertainty.latency_log_sd if profile.uncertainty is not None else None
                ),
                "description": profile.description,
            }
        )
    return rows


def runtime_table() -> list[dict[str, object]]:
    """One row per (shipped microcontroller, runtime that runs on its core): the generations
    and rows it was fitted on, the boards of those rows, its held-out spread, and whether it
    is fitted or estimated from neighbours (and why).

    Example:
        >>> rows = runtime_table()
        >>> next(r for r in rows if r["device"] == "cortex_m7/plumerai")["status"]
        'fitted'
    """
    model, cat = runtime_model(), catalogue()
    rows: list[dict[str, object]] = []
    for name in known_devices():
        base = _quietly(name)
        if base.kind != "mcu" or base.runtime is None:
            continue
        for family in cat.families_for(base.core):
            device = f"{name}/{family}"
            profile = _quietly(device)
            pair = model.pairs.get((base.core, family))
            note = profile.uncertainty.note if profile.uncertainty is not None else ""
            rows.append(
                {
                    "device": device,
                    "generations": ", ".join(model.fitted_generations(family)) or "-",
                    "rows": pair.rows if pair is not None else 0,
                    "latency_log_sd": (
                        profile.uncertainty.latency_log_sd if profile.uncertainty else None
                    ),
                    "status": "estimated" if note else "fitted",
                    "title": cat.families[family].title,
                    "boards": ", ".join(pair.boards) if pair is not None else "-",
                    "note": note or "-",
                }
            )
    return rows
