"""Graph statistics of an exported chain: from its ONNX file, or from the module itself.

A trial is costed from its ONNX file (``onnx_graph_stats``): what is costed is what is
deployed. ``check()`` and ``known_metrics()`` need the same numbers for every candidate the
sampler scores, in milliseconds and before training, so ``module_graph_stats`` computes
them from an untrained network of the config's final shape. Both walk the same chain by
the same rules and name layers as the exporter does (``/<index>/<OpType>``), so for one
config the two are equal field by field; the adapter checks that on every trial.

Rules (those of TFLite Micro / CMSIS-NN, which the device profiles describe):

- batch 1; a ReLU right after a layer is fused into it; Flatten and Reshape are views
  and no layer;
- conv ``MACs = output elements x C_in / groups x prod(kernel)``, dense ``MACs = in x out``,
  pooling 0 MACs; params include the bias;
- a conv with one input channel per group and as many groups as outputs is depthwise;
- bit widths and the weights removed by pruning come from the file's metadata
  (``moo.weight_bits``, ``moo.activation_bits``, ``moo.pruned_weights``); a file without
  them is float, and its sparsity is its share of zero weights.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from objectives.hardware import GraphStats, LayerStats
from objectives.hardware.stats import LayerKind
from objectives.tinyml._errors import TinyMLError

__all__ = ["describe", "graph_metadata", "module_graph_stats", "onnx_graph_stats"]

_WEIGHT_BITS = "moo.weight_bits"
_ACTIVATION_BITS = "moo.activation_bits"
_PRUNED = "moo.pruned_weights"
#: Bit width of a graph whose file does not say: float32.
_FLOAT_BITS = 32
_FUSED = frozenset({"Relu"})
_VIEWS = frozenset({"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity"})
_POOLS = frozenset({"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"})
_WEIGHTED = frozenset({"Conv", "Gemm", "MatMul"})
_ELEMENTWISE = frozenset({"Relu", "Add", "Mul", "Sigmoid", "Clip"})


def graph_metadata(weight_bits: int, activation_bits: int, pruned: Sequence[int]) -> dict[str, str]:
    """The metadata ``onnx_graph_stats`` reads, for ``export_onnx``."""
    return {
        _WEIGHT_BITS: str(weight_bits),
        _ACTIVATION_BITS: str(activation_bits),
        _PRUNED: json.dumps(list(pruned)),
    }


def _layer(
    name: str,
    op_type: str,
    shapes: tuple[Sequence[int], Sequence[int]],
    weights: tuple[tuple[int, ...], int, int] | None,
    bits: tuple[int, int],
    pruned: int,
) -> LayerStats:
    """One layer by the module docstring's rules.

    ``weights`` is (weight shape, bias size, groups) for a conv or dense layer.
    """
    n_in, n_out = math.prod(shapes[0]), math.prod(shapes[1])
    kind: LayerKind
    if weights is None:
        macs = params = 0
        kind = (
            "pool" if op_type in _POOLS else "elementwise" if op_type in _ELEMENTWISE else "other"
        )
    else:
        shape, n_bias, groups = weights
        params = math.prod(shape) + n_bias
        if op_type == "Conv":
            macs = n_out * math.prod(shape[1:])
            kind = (
                "depthwise_conv" if groups > 1 and groups == shape[0] and shape[1] == 1 else "conv"
            )
        else:
            macs, kind = math.prod(shape), "dense"
    return LayerStats(
        name=name,
        op_type=op_type,
        kind=kind,
        macs=macs,
        params=params,
        input_elements=n_in,
        output_elements=n_out,
        weight_bits=bits[0],
        activation_bits=bits[1],
        sparsity=pruned / params if params else 0.0,
    )


def _dims(value: onnx.ValueInfoProto) -> list[int]:
    """Static shape with symbolic (batch) axes as 1."""
    return [d.dim_value if d.HasField("dim_value") else 1 for d in value.type.tensor_type.shape.dim]


def onnx_graph_stats(path: Path) -> GraphStats:
    """Statistics of the chain in the ONNX file at ``path`` (nodes in file order).

    Raises:
        TinyMLError: A node's input shape cannot be inferred.
    """
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    shapes = {v.name: _dims(v) for v in [*graph.input, *graph.value_info, *graph.output]}
    initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:  # the exporter shares equal tensors (zero biases) via Identity
        if node.op_type == "Identity" and node.input[0] in initializers:
            initializers[node.output[0]] = initializers[node.input[0]]
    meta = {p.key: p.value for p in model.metadata_props}
    bits = (int(meta.get(_WEIGHT_BITS, _FLOAT_BITS)), int(meta.get(_ACTIVATION_BITS, _FLOAT_BITS)))
    pruned: Iterator[int] | None = iter(json.loads(meta[_PRUNED])) if _PRUNED in meta else None
    layers: list[LayerStats] = []
    last_output = None
    for node in graph.node:
        if node.op_type in _VIEWS or (node.op_type in _FUSED and node.input[0] == last_output):
            last_output = node.output[0] if node.op_type in _FUSED else last_output
            continue
        if node.input[0] not in shapes or node.output[0] not in shapes:
            raise TinyMLError(f"{path}: no inferred shape for node {node.name!r}.")
        weights, zeros = None, 0
        if node.op_type in _WEIGHTED and node.input[1] in initializers:
            weight = initializers[node.input[1]]
            bias = initializers.get(node.input[2]) if len(node.input) > 2 else None
            groups = next((a.i for a in node.attribute if a.name == "group"), 1)
            weights = (weight.shape, 0 if bias is None else bias.size, groups)
            zeros = next(pruned) if pruned is not None else int(np.sum(weight == 0))
        layers.append(
            _layer(
                node.name,
                node.op_type,
                (shapes[node.input[0]], shapes[node.output[0]]),
                weights,
                bits,
                zeros,
            )
        )
        last_output = node.output[0]
    return GraphStats(tuple(layers))


def _op_type(module: nn.Module) -> str:
    """The ONNX op the TorchScript exporter makes of a module of a chain."""
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        return "Conv"
    if isinstance(module, nn.Linear):
        return "Gemm"
    if isinstance(module, nn.MaxPool1d | nn.MaxPool2d):
        return "MaxPool"
    if isinstance(module, nn.AdaptiveAvgPool1d | nn.AdaptiveAvgPool2d):
        return "GlobalAveragePool"
    if isinstance(module, nn.ReLU):
        return "Relu"
    if isinstance(module, nn.Flatten):
        return "Flatten"
    raise TinyMLError(f"No ONNX op known for a {type(module).__name__} in a chain.")


@torch.no_grad()
def module_graph_stats(
    chain: nn.Sequential,
    input_shape: tuple[int, ...],
    bits: tuple[int, int],
    pruned: Sequence[int],
) -> GraphStats:
    """Statistics of a BN-folded chain, as ``onnx_graph_stats`` would give for its export.

    Args:
        chain: A flat chain without batch norm (``fold_batchnorm``).
        input_shape: ``C x ...`` of one sample.
        bits: Weight and activation bit widths.
        pruned: Weights removed by pruning, per conv or dense layer in order.
    """
    counts = iter(pruned)
    layers: list[LayerStats] = []
    x = torch.zeros(1, *input_shape)
    last_emitted = -2
    for index, module in enumerate(chain):
        y = module(x)
        op_type = _op_type(module)
        if op_type in _VIEWS or (op_type in _FUSED and last_emitted == index - 1):
            last_emitted = index if op_type in _FUSED else last_emitted
            x = y
            continue
        weights, zeros = None, 0
        if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Linear):
            groups = getattr(module, "groups", 1)
            bias = module.bias
            weights = (tuple(module.weight.shape), 0 if bias is None else bias.numel(), groups)
            zeros = next(counts)
        layers.append(
            _layer(f"/{index}/{op_type}", op_type, (x.shape[1:], y.shape[1:]), weights, bits, zeros)
        )
        last_emitted = index
        x = y
    return GraphStats(tuple(layers))


def describe(graph: GraphStats) -> Mapping[str, float]:
    """Totals of a graph for a trial's metrics: MACs, params and pruned sparsity."""
    params = graph.params
    removed = sum(layer.sparsity * layer.params for layer in graph.layers)
    return {"macs": graph.macs, "params": params, "sparsity": removed / params if params else 0.0}
