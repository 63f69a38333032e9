"""Graph statistics of an exported chain: from its ONNX file, or from the module itself.

A trial is costed from its ONNX file, read by the hardware package's ``graph_from_onnx``:
what is costed is what is deployed. ``check()`` and ``known_metrics()`` need the same
numbers for every candidate the sampler scores, before training: ``_plan.py`` computes
them by arithmetic, and ``module_graph_stats`` from an untrained network of the config's
final shape (``built_graph_stats``), the reference the plan is tested against. Both follow the
rules of ``graph_from_onnx`` (batch 1, ReLU fused, Flatten a view, a conv with one input
channel per group depthwise, pooling without MACs at the activations' width) and name
layers as the exporter does (``/<index>/<OpType>``), through ``_layer_stats``. For one
config they are equal field by field; the adapter checks the plan against the export on
every trial.

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
from typing import TYPE_CHECKING

import onnx
import torch
from torch import nn

from objectives.hardware import GraphStats, LayerStats, graph_from_onnx
from objectives.hardware.stats import LayerKind
from objectives.tinyml._compress import shaped_chain
from objectives.tinyml._errors import TinyMLError

if TYPE_CHECKING:
    from objectives.tinyml._compress import Compression
    from objectives.tinyml._data import TaskSpec
    from objectives.tinyml._models import ArchSpec

__all__ = [
    "built_graph_stats",
    "describe",
    "graph_metadata",
    "module_graph_stats",
    "onnx_graph_stats",
]

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


def _conv_kind(in_channels: int, groups: int) -> LayerKind:
    """A conv is depthwise when every group has one input channel, as ONNX reads it (a
    depthwise conv pruned to one channel is a plain conv)."""
    return "depthwise_conv" if groups > 1 and in_channels == groups else "conv"


def _layer_stats(
    index: int,
    op_type: str,
    kind: LayerKind,
    *,
    macs: int,
    params: int,
    elements: tuple[int, int],
    bits: tuple[int, int],
) -> LayerStats:
    """Module ``index`` of a BN-folded chain as ``graph_from_onnx`` reads its export: named
    ``/<index>/<OpType>`` like the exporter's node, ``elements`` in and out, a layer with
    weights at the weight width and one without (a pool) at the activations' width."""
    return LayerStats(
        name=f"/{index}/{op_type}",
        op_type=op_type,
        kind=kind,
        macs=macs,
        params=params,
        input_elements=elements[0],
        output_elements=elements[1],
        weight_bits=bits[0] if params else bits[1],
        activation_bits=bits[1],
    )


def _module_layer(
    index: int, module: nn.Module, shapes: tuple[torch.Size, torch.Size], bits: tuple[int, int]
) -> LayerStats:
    n_in, n_out = math.prod(shapes[0]), math.prod(shapes[1])
    kind: LayerKind
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        op_type, taps = "Conv", module.in_channels // module.groups * math.prod(module.kernel_size)
        kind, macs = _conv_kind(module.in_channels, module.groups), n_out * taps
    elif isinstance(module, nn.Linear):
        op_type, kind, macs = "Gemm", "dense", n_out * module.in_features
    elif isinstance(module, nn.MaxPool1d | nn.MaxPool2d):
        op_type, kind, macs = "MaxPool", "pool", 0
    elif isinstance(module, nn.AdaptiveAvgPool1d | nn.AdaptiveAvgPool2d):
        op_type, kind, macs = "GlobalAveragePool", "pool", 0
    else:
        raise TinyMLError(f"No ONNX op known for a {type(module).__name__} in a chain.")
    params = sum(p.numel() for p in module.parameters())
    return _layer_stats(
        index, op_type, kind, macs=macs, params=params, elements=(n_in, n_out), bits=bits
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


def built_graph_stats(spec: ArchSpec, task: TaskSpec, compression: Compression) -> GraphStats:
    """Statistics of a config's graph from its network built, pruned and folded as torch
    modules (``shaped_chain``): the reference ``_plan.planned_graph_stats`` is tested and
    benchmarked against (15-70 ms a config against the plan's 0.1 ms).

    Raises:
        ArchitectureError: The architecture cannot be built for the task's input.
    """
    chain, pruned = shaped_chain(spec, task, compression)
    return module_graph_stats(chain, task.input_shape, compression.bit_widths, pruned)


def describe(graph: GraphStats) -> dict[str, float]:
    """Totals of a graph for a trial's metrics: MACs, params and pruned sparsity."""
    params = graph.params
    removed = sum(layer.sparsity * layer.params for layer in graph.layers)
    return {"macs": graph.macs, "params": params, "sparsity": removed / params if params else 0.0}
