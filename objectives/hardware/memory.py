r"""Flash and peak SRAM of a network on a device.

    flash = sum_l stored_weight_bits(l) / 8 + runtime_flash
    sram  = max_l (input_l + output_l) * activation_bytes_l + runtime_sram

Weights are stored at their bit width; a pruned layer is stored with a bitmask encoding
(one bit per weight plus the non-zero values) when that is smaller than the dense
encoding, on every device (the runtime decodes it). Peak SRAM is the largest set of live
activations along the chain of layers, as in a TFLM-style arena that ping-pongs between
each layer's input and output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from objectives.hardware.profile import DeviceProfile
    from objectives.hardware.stats import GraphStats, LayerStats

__all__ = ["activation_bytes", "flash_kB", "peak_sram_kB", "stored_weight_bits"]

KIB = 1024.0
"""Bytes per kB: memory sizes follow the MCU datasheets, where 1 KB = 1024 bytes."""


def stored_weight_bits(layer: LayerStats) -> float:
    """Bits that a layer's weights take in flash, with the sparse encoding where it pays.

    Example:
        >>> from objectives.hardware.stats import LayerStats
        >>> dense = LayerStats("fc", "Gemm", "dense", 100, 100, 10, 10, weight_bits=4)
        >>> stored_weight_bits(dense)
        400.0
    """
    dense = float(layer.params * layer.weight_bits)
    nonzero = (1.0 - layer.sparsity) * layer.params
    bitmask = nonzero * layer.weight_bits + layer.params
    return min(dense, bitmask)


def activation_bytes(bits: int) -> int:
    """Bytes one activation element occupies in RAM: sub-byte values are not packed."""
    if bits <= 8:
        return 1
    if bits <= 16:
        return 2
    return 4


def flash_kB(graph: GraphStats, profile: DeviceProfile) -> float:
    """Weights at their stored width plus the runtime's code, in KiB."""
    weights = sum(stored_weight_bits(layer) for layer in graph.layers) / 8.0
    return weights / KIB + profile.memory.runtime_flash_kB


def peak_sram_kB(graph: GraphStats, profile: DeviceProfile) -> float:
    """Largest live activation set (one layer's input + output) plus runtime RAM, in KiB."""
    live = max(
        (
            (layer.input_elements + layer.output_elements) * activation_bytes(layer.activation_bits)
            for layer in graph.layers
        ),
        default=0,
    )
    return live / KIB + profile.memory.runtime_sram_kB
