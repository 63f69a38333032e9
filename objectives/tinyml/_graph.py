"""Graph statistics of an exported chain: from its ONNX file, or from the module itself.

A trial is costed from its ONNX file, read by the hardware package's ``graph_from_onnx``:
what is costed is what is deployed. ``check()`` and ``known_metrics()`` need the same
numbers for every candidate the sampler scores, in milliseconds and before training, so
``module_graph_stats`` computes them from an untrained network of the config's final shape
by the rules of ``graph_from_onnx`` (batch 1, ReLU fused, Flatten a view, a conv with one
input channel per group depthwise, pooling without MACs at the activations' width) and
names layers as the exporter does (``/<index>/<OpType>``). For one config the two are
equal field by field; the adapter checks that on every trial.

The exported file carries what its float graph cannot say as metadata: the bit widths the
weights were fake-quantized to and the weights pruning removed. Sparsity is that count
over the layer's parameters, not the share of zeros in the file: zeros that quantization
happens to round to are not encoded by the deployment's bitmask, and counting them would
make flash and latency depend on the trained weights instead of the config.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path

import onnx
import torch
from torch import nn

from objectives.hardware import GraphStats, LayerStats, graph_from_onnx
from objectives.hardware.stats import LayerKind
from objectives.tinyml._errors import TinyMLError

__all__ = ["describe", "graph_metadata", "module_graph_stats", "onnx_graph_stats"]

_WEIGHT_BITS = "moo.weight_bits"
_ACTIVATION_BITS = "moo.activation_bits"
_PRUNED = "moo.pruned_weights"
_WEIGHTED_KINDS = ("conv", "depthwise_conv", "dense")


def graph_metadata(weight_bits: int, activation_bits: int, pruned: Sequence[int]) -> dict[str, str]:
    """The metadata ``onnx_graph_stats`` reads, for ``export_onnx``."""
    return {
        _WEIGHT_BITS: str(weight_bits),
        _ACTIVATION_BITS: str(activation_bits),
        _PRUNED: json.dumps(list(pruned)),
    }


def _with_pruning(layers: Sequence[LayerStats], pruned: Sequence[int]) -> GraphStats:
    """Set each conv or dense layer's sparsity to its pruned weights over its params."""
    counts = iter(pruned)
    out = []
    for layer in layers:
        if layer.kind in _WEIGHTED_KINDS:
            layer = dataclasses.replace(layer, sparsity=next(counts) / layer.params)
        out.append(layer)
    return GraphStats(tuple(out))


def onnx_graph_stats(path: Path) -> GraphStats:
    """Statistics of an exported model, with the bit widths and pruning of its metadata.

    A file without the metadata is read as ``graph_from_onnx`` reads any model.
    """
    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    if _PRUNED not in meta:
        return graph_from_onnx(path)
    graph = graph_from_onnx(
        path, weight_bits=int(meta[_WEIGHT_BITS]), activation_bits=int(meta[_ACTIVATION_BITS])
    )
    return _with_pruning(graph.layers, json.loads(meta[_PRUNED]))


def _module_layer(
    index: int, module: nn.Module, shapes: tuple[torch.Size, torch.Size], bits: tuple[int, int]
) -> LayerStats:
    n_in, n_out = math.prod(shapes[0]), math.prod(shapes[1])
    kind: LayerKind
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        op_type, taps = "Conv", module.in_channels // module.groups * math.prod(module.kernel_size)
        depthwise = module.groups > 1 and module.in_channels == module.groups
        kind, macs = ("depthwise_conv" if depthwise else "conv"), n_out * taps
    elif isinstance(module, nn.Linear):
        op_type, kind, macs = "Gemm", "dense", n_out * module.in_features
    elif isinstance(module, nn.MaxPool1d | nn.MaxPool2d):
        op_type, kind, macs = "MaxPool", "pool", 0
    elif isinstance(module, nn.AdaptiveAvgPool1d | nn.AdaptiveAvgPool2d):
        op_type, kind, macs = "GlobalAveragePool", "pool", 0
    else:
        raise TinyMLError(f"No ONNX op known for a {type(module).__name__} in a chain.")
    params = sum(p.numel() for p in module.parameters())
    return LayerStats(
        name=f"/{index}/{op_type}",
        op_type=op_type,
        kind=kind,
        macs=macs,
        params=params,
        input_elements=n_in,
        output_elements=n_out,
        weight_bits=bits[0] if params else bits[1],
        activation_bits=bits[1],
    )


@torch.no_grad()
def module_graph_stats(
    chain: nn.Sequential,
    input_shape: tuple[int, ...],
    bits: tuple[int, int],
    pruned: Sequence[int],
) -> GraphStats:
    """Statistics of a BN-folded chain, as ``onnx_graph_stats`` gives them for its export.

    Args:
        chain: A flat chain without batch norm (``fold_batchnorm``).
        input_shape: ``C x ...`` of one sample.
        bits: Weight and activation bit widths.
        pruned: Weights removed by pruning, per conv or dense layer in order.
    """
    layers = []
    x = torch.zeros(1, *input_shape)
    for index, module in enumerate(chain):
        y = module(x)
        if not isinstance(module, nn.ReLU | nn.Flatten):  # fused / a view
            layers.append(_module_layer(index, module, (x.shape[1:], y.shape[1:]), bits))
        x = y
    return _with_pruning(layers, pruned)


def describe(graph: GraphStats) -> dict[str, float]:
    """Totals of a graph for a trial's metrics: MACs, params and pruned sparsity."""
    params = graph.params
    removed = sum(layer.sparsity * layer.params for layer in graph.layers)
    return {"macs": graph.macs, "params": params, "sparsity": removed / params if params else 0.0}
