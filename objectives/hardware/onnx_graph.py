"""Graph statistics read from an exported ONNX model.

The ONNX file is what gets deployed, so its graph is what the hardware models cost. Nodes
are read in the file's (topological) order, batch 1, shapes from ONNX shape inference:

- ``Conv`` is a convolution, or a depthwise convolution when every group has one input
  channel; ``MACs = output elements x input channels per group x kernel area``.
- ``Gemm`` and ``MatMul`` are dense layers; ``MACs = output elements x K``.
- Pooling ops are ``pool`` and ``Add``/``Mul``/``Softmax``-like ops ``elementwise``
  (no MACs; their activation traffic still costs).
- Activations that runtimes fuse into the previous layer (``Relu``, ``Clip``...) and
  ``BatchNormalization`` (folded into the previous layer's weights when converting to int8)
  are not layers; neither are ops that only relabel a tensor (``Reshape``, ``Flatten``...),
  nor nodes that only compute on constants and shapes.
- Any other op becomes a layer of kind ``other`` (no MACs, its traffic and parameters
  kept), which the latency model warns about and costs like a convolution.

Bit widths: weights and activations stored as int8/int4 behind ``DequantizeLinear`` (the
QDQ format of onnxruntime's quantizer) take their stored width; float tensors are 32-bit
unless ``weight_bits``/``activation_bits`` say otherwise (a float export of a model trained
with fake quantization at those widths). Sparsity is the fraction of exact zeros in each
weight tensor (bias excluded).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import numpy_helper

from objectives.hardware.errors import HardwareError
from objectives.hardware.stats import GraphStats, LayerKind, LayerStats

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["graph_from_onnx"]

POOL_OPS = frozenset(
    {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "ReduceMean"}
)
ELEMENTWISE_OPS = frozenset(
    {"Add", "Sub", "Mul", "Div", "Softmax", "LogSoftmax", "Sigmoid", "Tanh", "Concat", "Pad"}
)
FUSED_OPS = frozenset(
    {"Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "BatchNormalization"}
)
"""Folded or fused into the previous layer by int8 converters (TFLM, CMSIS-NN, Vela)."""
RELABEL_OPS = frozenset(
    {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Transpose"}
)
"""Only change how a tensor is indexed; runtimes alias the buffer (NHWC makes the usual
NCHW<->NHWC transposes disappear)."""
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})

_BITS_OF_DTYPE = {
    onnx.TensorProto.INT8: 8,
    onnx.TensorProto.UINT8: 8,
    onnx.TensorProto.INT16: 16,
    onnx.TensorProto.UINT16: 16,
    onnx.TensorProto.INT4: 4,
    onnx.TensorProto.UINT4: 4,
}
"""Stored width of quantized tensors; anything else is a float (32-bit)."""


@dataclass(frozen=True)
class _Weight:
    values: np.ndarray
    bits: int


class _Graph:
    """Shapes, constants and quantized widths of one ONNX graph, by tensor name."""

    def __init__(self, model: onnx.ModelProto) -> None:
        graph = model.graph
        self.shapes: dict[str, tuple[int, ...]] = {}
        for info in [*graph.input, *graph.value_info, *graph.output]:
            dims = info.type.tensor_type.shape.dim
            self.shapes[info.name] = tuple(d.dim_value if d.dim_value > 0 else 1 for d in dims)
        self.weights: dict[str, _Weight] = {
            t.name: _Weight(numpy_helper.to_array(t), _BITS_OF_DTYPE.get(t.data_type, 32))
            for t in graph.initializer
        }
        self.static: set[str] = set(self.weights)
        self.act_bits: dict[str, int] = {}

    def is_static(self, name: str) -> bool:
        return name == "" or name in self.static

    def follow(self, node: onnx.NodeProto) -> None:
        """Record what a skipped node passes on: constants, widths of Q/DQ activations."""
        if node.op_type == "Constant":
            self.weights[node.output[0]] = _Weight(numpy_helper.to_array(node.attribute[0].t), 32)
        if node.op_type in RELABEL_OPS | {"DequantizeLinear"} and node.input[0] in self.weights:
            # the exporter shares equal initializers through Identity nodes; a relabelled
            # weight keeps its values (the element count is what is costed)
            self.weights[node.output[0]] = self.weights[node.input[0]]
        elif node.op_type in QDQ_OPS and len(node.input) > 2:
            bits = self._zero_point_bits(node.input[2])
            self.act_bits[node.output[0]] = bits
        elif node.input and node.input[0] in self.act_bits:
            self.act_bits[node.output[0]] = self.act_bits[node.input[0]]

    def _zero_point_bits(self, name: str) -> int:
        return self.weights[name].bits if name in self.weights else 8

    def elements(self, name: str) -> int:
        return prod(self.shapes.get(name, ()))


def _kind(node: onnx.NodeProto, g: _Graph) -> LayerKind:
    if node.op_type == "Conv":
        w = g.weights.get(node.input[1])
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        return (
            "depthwise_conv" if group > 1 and w is not None and w.values.shape[1] == 1 else "conv"
        )
    if node.op_type in ("Gemm", "MatMul"):
        return "dense"
    if node.op_type in POOL_OPS:
        return "pool"
    if node.op_type in ELEMENTWISE_OPS:
        return "elementwise"
    return "other"


def _macs(node: onnx.NodeProto, kind: LayerKind, g: _Graph) -> int:
    out = g.elements(node.output[0])
    if kind in ("conv", "depthwise_conv"):
        w = g.weights[node.input[1]].values
        return out * prod(w.shape[1:])
    if kind == "dense":
        k = g.shapes.get(node.input[0], (1,))[-1]
        transposed = any(a.name == "transA" and a.i for a in node.attribute)
        if transposed:
            k = g.shapes.get(node.input[0], (1,))[0]
        return out * k
    return 0


def _layer(
    node: onnx.NodeProto, g: _Graph, weight_bits: int | None, activation_bits: int | None
) -> LayerStats:
    kind = _kind(node, g)
    weights = [g.weights[name] for name in node.input if name in g.weights]
    main = weights[0] if kind in ("conv", "depthwise_conv", "dense") and weights else None
    params = sum(w.values.size for w in weights)
    sparsity = float(np.mean(main.values == 0)) if main is not None and main.values.size else 0.0
    act_bits = activation_bits or (g.act_bits.get(node.input[0], 32) if node.input else 32)
    # a layer without weights runs at its activations' width
    w_bits = act_bits if main is None else weight_bits or main.bits
    return LayerStats(
        name=node.name or node.output[0],
        op_type=node.op_type,
        kind=kind,
        macs=_macs(node, kind, g),
        params=int(params),
        input_elements=sum(g.elements(n) for n in node.input if not g.is_static(n)),
        output_elements=g.elements(node.output[0]),
        weight_bits=w_bits,
        activation_bits=act_bits,
        sparsity=sparsity,
    )


def graph_from_onnx(
    path: Path, *, weight_bits: int | None = None, activation_bits: int | None = None
) -> GraphStats:
    """Per-layer statistics of an ONNX model, batch 1 (rules in the module docstring).

    Args:
        path: The ONNX file.
        weight_bits: Width the weights are deployed at, overriding the stored width
            (a float export of a fake-quantized model); ``None`` keeps the stored width.
        activation_bits: The same for activations.

    Raises:
        HardwareError: The file is not a readable ONNX model, or shape inference fails.
    """
    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), strict_mode=True)
    except Exception as e:  # OSError, protobuf's DecodeError, onnx's InferenceError...
        raise HardwareError(f"{path}: cannot read the ONNX graph ({type(e).__name__}: {e}).") from e
    g = _Graph(model)
    layers = []
    for node in model.graph.node:
        if all(g.is_static(name) for name in node.input) or node.op_type == "Shape":
            g.static.update(node.output)
            g.follow(node)
            continue
        if node.op_type in QDQ_OPS | FUSED_OPS | RELABEL_OPS:
            g.follow(node)
            continue
        layers.append(_layer(node, g, weight_bits, activation_bits))
    return GraphStats(tuple(layers))
