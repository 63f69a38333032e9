"""Graph statistics: the only thing hardware models know about a network.

They are computed from the exported ONNX graph (``objectives.tinyml``) or built by hand
from published figures (the MLPerf Tiny reference models), so the hardware models never
import a deep-learning framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GraphStats", "LayerKind", "LayerStats"]

LayerKind = Literal["conv", "depthwise_conv", "dense", "pool", "elementwise", "other"]


@dataclass(frozen=True)
class LayerStats:
    """One compute node of the graph, as a hardware model sees it.

    Attributes:
        name: Node name in the ONNX graph.
        op_type: ONNX op type (``Conv``, ``Gemm``, ``MatMul``, ``MaxPool``...).
        kind: What the op costs like; depthwise and dense layers have little data reuse
            and are memory-bound on most cores.
        macs: Multiply-accumulates of one inference (after structured pruning).
        params: Number of weights incl. bias.
        input_elements: Elements of the input activation tensor(s).
        output_elements: Elements of the output activation tensor.
        weight_bits: Bit width the weights are stored at.
        activation_bits: Bit width of activations at run time.
        sparsity: Fraction of weights that are exactly zero (unstructured pruning).
    """

    name: str
    op_type: str
    kind: LayerKind
    macs: int
    params: int
    input_elements: int
    output_elements: int
    weight_bits: int = 8
    activation_bits: int = 8
    sparsity: float = 0.0


@dataclass(frozen=True)
class GraphStats:
    """A network as an ordered chain of layers (execution order of the ONNX graph)."""

    layers: tuple[LayerStats, ...]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)
