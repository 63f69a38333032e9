r"""Analytic latency and energy of a network on a microcontroller or micro-NPU.

A unit with fitted per-kind constants (a Cortex-M core under a runtime, ``runtime_model.py``)
costs a layer as

    cycles_l = s_prec * (MACs_l * cpm[kind_l] + out_l * cpo + elements_l * cpe)
               - saved_weight_bytes_l / bytes_per_cycle + overhead

where ``s_prec`` is the unit's int8 MAC rate over the layer precision's (fp32 on an FPU core:
3) and ``saved_weight_bytes`` what sub-byte kernels or zero-skipping stream less than int8
weights (never more than half the layer's cycles). Other units (an NPU and its fallback CPU)
use the roofline below. Per layer ``l`` on compute unit ``u`` (the core, or the NPU with the
core as fallback):

    compute_l = MACs_l / macs_per_cycle_u[precision_l] + out_l * cycles_per_output_u
    memory_l  = (weight_bytes_l + (in_l + out_l) * act_bytes_l
                 + [depthwise] MACs_l * act_bytes_l) / bytes_per_cycle_u
    cycles_l  = compute_l + memory_l + overhead_u        (CPU: loads and MACs share the pipe)
    cycles_l  = max(compute_l, memory_l) + overhead_u    (NPU: DMA overlaps compute)
    latency   = sum_l cycles_l / clock
    energy    = P_active * latency + sum_l traffic_l * energy_per_byte_u

The output term (bias, requantize, clamp, store of each output element) makes layers with
short dot products (1x1 convolutions, small dense layers) cost more per MAC than 3x3
convolutions, as the MLPerf Tiny rows show. The memory term is what makes layers with
little data reuse slow: a dense layer reads each weight once per MAC (batch 1), a
depthwise layer reads one input and one weight per MAC (no reuse across output channels),
while a convolution reuses both from registers. The levers of the Arm
TinyML talk show up as: precision (``macs_per_cycle`` by precision, bytes per element),
data reuse (the memory term), weight compression (sub-byte weights stream fewer bytes
where the unit has kernels for them) and sparsity (zero weights are skipped, MACs and
bytes, only where ``sparse_kernels``). Structured pruning reaches the model as fewer MACs.

A layer of kind ``other`` is an op this model does not know: it is costed like a
convolution with its MACs and traffic (never as zero), on the fallback unit where the
profile has one, and an ``UnknownOpWarning`` names it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from objectives.hardware.errors import HardwareError, UnknownOpWarning
from objectives.hardware.memory import activation_bytes, stored_weight_bits
from objectives.hardware.runtime_model import FREE_OPS, MAC_KINDS, PARAMETERS, layer_features

if TYPE_CHECKING:
    from collections.abc import Collection

    from objectives.hardware.profile import ComputeModel, DeviceProfile, Precision
    from objectives.hardware.stats import GraphStats, LayerStats

__all__ = [
    "LayerTiming",
    "analytic_cost",
    "fitted_terms",
    "layer_precision",
    "warn_unknown_ops",
]

_UNKNOWN_OP_WARNING = (
    "Layer(s) {layers} have op type(s) {ops} that the hardware model does not know; they "
    "are costed {fallback}. Give them a known `kind` in the graph statistics to silence "
    "this warning."
)
AS_CONVOLUTION = "like a convolution with their MACs and activation traffic"
#: Sub-byte precisions and their weight widths, narrowest first.
_SUB_BYTE: tuple[tuple[Precision, int], ...] = (("int2", 2), ("int4", 4))


@dataclass(frozen=True)
class LayerTiming:
    """Where one layer ran, and what it cost."""

    name: str
    unit: str
    cycles: float
    traffic_bytes: float


def layer_precision(layer: LayerStats, available: Collection[str]) -> Precision:
    """The precision key a layer runs at on a unit that has kernels for ``available``.

    Sub-byte weights run at their own rate only where the unit has kernels for them,
    otherwise they are unpacked to int8; anything above 8 bits is int16 up to 16 bits and
    fp32 beyond.
    """
    bits = max(layer.weight_bits, layer.activation_bits)
    if bits > 16:
        return "fp32"
    if bits > 8:
        return "int16"
    for key, width in _SUB_BYTE:
        if layer.weight_bits <= width and layer.activation_bits <= 8 and key in available:
            return key
    return "int8"


def _weight_bits_at_runtime(layer: LayerStats, precision: Precision) -> float:
    """Bits per weight the kernel streams: sub-byte kernels read packed weights, int8
    kernels read sub-byte weights unpacked to 8 bits."""
    if precision == "fp32":
        return 32.0
    if precision in ("int2", "int4"):
        return float(precision.removeprefix("int"))
    return 8.0 if layer.weight_bits <= 8 else 16.0


def _fitted_layer_terms(
    layer: LayerStats, unit: ComputeModel, precision: Precision, saved: float
) -> tuple[dict[str, float], float]:
    """Multipliers of the six fitted constants for one layer, and a constant term (cycles):
    ``cycles = sum_p multiplier_p * constant_p + constant`` (module docstring);
    ``saved``: weight bytes streamed less than at int8."""
    assert unit.cycles_per_mac is not None and unit.cycles_per_element is not None
    features = layer_features(layer)
    slower = unit.macs_per_cycle["int8"] / unit.macs_per_cycle[precision]
    kept = 1.0 - (layer.sparsity if unit.sparse_kernels else 0.0)
    weights = {
        name: value * slower * (kept if name in MAC_KINDS else 1.0)
        for name, value in features.items()
        if name != "layer"
    }
    work = sum(weights[k] * unit.cycles_per_mac[k] for k in MAC_KINDS if k in weights)
    work += weights.get("output", 0.0) * unit.cycles_per_output
    work += weights.get("element", 0.0) * unit.cycles_per_element
    weights["layer"] = features.get("layer", 0.0)
    return weights, -min(saved / unit.bytes_per_cycle, 0.5 * work)


def fitted_terms(graph: GraphStats, profile: DeviceProfile) -> tuple[np.ndarray, float]:
    """``(multipliers of runtime_model.PARAMETERS, constant cycles)`` of a graph on a profile
    with fitted per-kind constants: its cycles are ``multipliers @ constants + constant``.
    Calibration fits the constants through this, so it sees what ``analytic_cost`` costs
    (precision, sparsity, sub-byte weights)."""
    assert profile.compute is not None
    total = dict.fromkeys(PARAMETERS, 0.0)
    constant = 0.0
    for layer in graph.layers:
        if layer.op_type in FREE_OPS:
            continue
        precision = layer_precision(layer, profile.compute.macs_per_cycle)
        weights, extra = _fitted_layer_terms(
            layer,
            profile.compute,
            precision,
            _saved_weight_bytes(layer, profile.compute, precision),
        )
        for name, value in weights.items():
            total[name] += value
        constant += extra
    return np.array([total[p] for p in PARAMETERS]), constant


def _saved_weight_bytes(layer: LayerStats, unit: ComputeModel, precision: Precision) -> float:
    """Weight bytes a layer streams less than at int8 (sub-byte kernels, zero-skipping)."""
    streamed = layer.params * _weight_bits_at_runtime(layer, precision) / 8.0
    if unit.sparse_kernels and layer.sparsity > 0:
        streamed = stored_weight_bits(layer) / 8.0
    return max(0.0, float(layer.params) - streamed)


def _layer_cycles(
    layer: LayerStats, unit: ComputeModel, precision: Precision
) -> tuple[float, float]:
    """Cycles and bytes moved of one layer on one unit at one precision."""
    macs = float(layer.macs)
    weight_bytes = layer.params * _weight_bits_at_runtime(layer, precision) / 8.0
    if unit.sparse_kernels and layer.sparsity > 0:
        macs *= 1.0 - layer.sparsity
        weight_bytes = stored_weight_bits(layer) / 8.0
    act = activation_bytes(layer.activation_bits)
    traffic = weight_bytes + (layer.input_elements + layer.output_elements) * act
    if layer.kind == "depthwise_conv":
        traffic += macs * (act + _weight_bits_at_runtime(layer, precision) / 8.0)
    if unit.cycles_per_mac is not None:
        assert unit.cycles_per_element is not None  # ComputeModel: they come together
        constants = unit.cycles_per_mac | {
            "output": unit.cycles_per_output,
            "element": unit.cycles_per_element,
            "layer": unit.layer_overhead_cycles,
        }
        saved = _saved_weight_bytes(layer, unit, precision)
        weights, extra = _fitted_layer_terms(layer, unit, precision, saved)
        return sum(w * constants[name] for name, w in weights.items()) + extra, traffic
    compute = macs / unit.macs_per_cycle[precision] + layer.output_elements * unit.cycles_per_output
    memory = traffic / unit.bytes_per_cycle
    busy = max(compute, memory) if unit.overlap_memory else compute + memory
    return busy + unit.layer_overhead_cycles, traffic


def _unit_for(layer: LayerStats, profile: DeviceProfile) -> tuple[str, ComputeModel, Precision]:
    """Pick the unit that runs ``layer``: the main one unless it lacks the op or precision."""
    assert profile.compute is not None
    main = profile.compute
    precision = layer_precision(layer, main.macs_per_cycle)
    runs_on_main = precision in main.macs_per_cycle and not (
        layer.kind == "other" and profile.fallback is not None
    )
    if runs_on_main:
        return "compute", main, precision
    if profile.fallback is None:
        raise HardwareError(
            f"Device '{profile.name}' has no {precision} kernels for layer '{layer.name}' "
            f"and no fallback unit; add compute.macs_per_cycle.{precision} to its profile."
        )
    fallback_precision = layer_precision(layer, profile.fallback.macs_per_cycle)
    if fallback_precision not in profile.fallback.macs_per_cycle:
        raise HardwareError(
            f"Device '{profile.name}' cannot run layer '{layer.name}' at {fallback_precision}."
        )
    return "fallback", profile.fallback, fallback_precision


def warn_unknown_ops(graph: GraphStats, fallback: str) -> None:
    """Warn about layers of kind ``other``, saying how the caller costs them instead."""
    unknown = [
        layer for layer in graph.layers if layer.kind == "other" and layer.op_type not in FREE_OPS
    ]
    if unknown:
        warnings.warn(
            _UNKNOWN_OP_WARNING.format(
                layers=", ".join(layer.name for layer in unknown),
                ops=", ".join(sorted({layer.op_type for layer in unknown})),
                fallback=fallback,
            ),
            UnknownOpWarning,
            stacklevel=3,
        )


def analytic_cost(
    graph: GraphStats, profile: DeviceProfile
) -> tuple[float, float, list[LayerTiming]]:
    """Latency (ms), energy (mJ) and per-layer timings of a graph on an MCU or NPU profile.

    Raises:
        HardwareError: A layer needs a precision that no unit of the device runs.
    """
    warn_unknown_ops(graph, AS_CONVOLUTION)
    timings = []
    energy_pJ = 0.0
    for layer in graph.layers:
        if layer.op_type in FREE_OPS:
            timings.append(LayerTiming(layer.name, "compute", 0.0, 0.0))
            continue
        unit_name, unit, precision = _unit_for(layer, profile)
        cycles, traffic = _layer_cycles(layer, unit, precision)
        timings.append(LayerTiming(layer.name, unit_name, cycles, traffic))
        energy_pJ += traffic * unit.energy_pJ_per_byte
    latency_ms = sum(t.cycles for t in timings) / (profile.clock_mhz * 1e3)
    energy_mJ = profile.active_power_mW * latency_ms / 1e3 + energy_pJ * 1e-9
    return latency_ms, energy_mJ, timings
