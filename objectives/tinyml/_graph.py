"""Graph statistics of an exported chain, from its ONNX file, and the layer records of
every other way to get them.

A trial is costed from its ONNX file, read by the hardware package's ``graph_from_onnx``:
what is costed is what is deployed. ``check()`` and ``known_metrics()`` need the same
numbers for every candidate the sampler scores, before training: ``_plan.py`` computes
them by arithmetic, and ``_built.module_graph_stats`` from an untrained network of the
config's final shape (``_built.built_graph_stats``), the reference the plan is tested
against. This module imports no torch, so neither does the plan. Both follow the
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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from objectives.hardware import GraphStats, LayerStats

if TYPE_CHECKING:
    from objectives.hardware.stats import LayerKind

__all__ = ["describe", "graph_metadata", "onnx_graph_stats"]

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

    A file without the metadata is read as ``graph_from_onnx`` reads any model. ``onnx``
    is imported here, not with the module: reading a study's costs never opens a model.
    """
    import onnx

    from objectives.hardware.onnx_graph import graph_from_onnx

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


def describe(graph: GraphStats) -> dict[str, float]:
    """Totals of a graph for a trial's metrics: MACs, params and pruned sparsity."""
    params = graph.params
    removed = sum(layer.sparsity * layer.params for layer in graph.layers)
    return {"macs": graph.macs, "params": params, "sparsity": removed / params if params else 0.0}
