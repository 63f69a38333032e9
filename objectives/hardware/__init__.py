"""Hardware models: latency, energy, flash and SRAM of a network on real chips.

Adapters call one function, ``cost_on_devices(graph, devices, onnx_path)``, with the graph
from ``graph_from_onnx``. Devices are YAML profiles (``known_devices()``, ``load_device``,
``device_table`` for ``moo devices``) plus a runtime: ``cortex_m7`` runs the profile's
default runtime, ``cortex_m7/plumerai`` another (``known_runtimes``, ``runtime_table``), with
constants fitted per core, runtime and board on the public MLPerf Tiny rows and a held-out
spread (``HardwareCost.upper``, the ``*_p90`` metrics). ``memory_footprint`` answers the
feasibility question before training; ``average_power_mW`` and ``battery_life_h`` turn a cost
into a duty cycle; ``calibrate_device`` fits a profile to measurements (``moo calibrate``),
few-shot with shrinkage for a core under a runtime.

``graph_from_onnx`` is imported on first use (PEP 562): ``onnx`` takes over a second to
import, and reading a study's costs (``moo report``, ``moo recommend``) never reads a model.
"""

from typing import Any

from objectives.hardware.calibrate import CalibrationResult, calibrate_device
from objectives.hardware.cost import (
    HardwareCost,
    MemoryFootprint,
    cost_on_device,
    cost_on_devices,
    memory_footprint,
)
from objectives.hardware.errors import (
    HardwareError,
    ProfileError,
    RuntimeEstimateWarning,
    UnknownDeviceError,
    UnknownOpWarning,
)
from objectives.hardware.power import average_power_mW, battery_life_h
from objectives.hardware.profile import (
    DeviceProfile,
    Uncertainty,
    known_devices,
    known_runtimes,
    load_device,
)
from objectives.hardware.reference import reference_graph
from objectives.hardware.runtimes import UnknownRuntimeError
from objectives.hardware.soc import Placement, place_layers, placement_cost
from objectives.hardware.stats import GraphStats, LayerKind, LayerStats
from objectives.hardware.table import (
    DEVICE_TABLE_COLUMNS,
    RUNTIME_TABLE_COLUMNS,
    device_table,
    runtime_table,
)

__all__ = [
    "DEVICE_TABLE_COLUMNS",
    "RUNTIME_TABLE_COLUMNS",
    "CalibrationResult",
    "DeviceProfile",
    "GraphStats",
    "HardwareCost",
    "HardwareError",
    "LayerKind",
    "LayerStats",
    "MemoryFootprint",
    "Placement",
    "ProfileError",
    "RuntimeEstimateWarning",
    "Uncertainty",
    "UnknownDeviceError",
    "UnknownOpWarning",
    "UnknownRuntimeError",
    "average_power_mW",
    "battery_life_h",
    "calibrate_device",
    "cost_on_device",
    "cost_on_devices",
    "device_table",
    "graph_from_onnx",
    "known_devices",
    "known_runtimes",
    "load_device",
    "memory_footprint",
    "place_layers",
    "placement_cost",
    "reference_graph",
    "runtime_table",
]


def __getattr__(name: str) -> Any:
    if name == "graph_from_onnx":
        from objectives.hardware.onnx_graph import graph_from_onnx

        return graph_from_onnx
    raise AttributeError(f"module 'objectives.hardware' has no attribute {name!r}")
