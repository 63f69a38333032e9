"""Graph statistics of a network built as torch modules: the reference of the plan.

``_plan.planned_graph_stats`` gives a config's graph statistics by arithmetic; this module
gives them from the network itself, built, pruned and folded in torch (``shaped_chain``)
and walked module by module with the rules of ``graph_from_onnx`` (``_graph._layer_stats``).
Tests and the ``known_metrics_speed`` benchmark compare the two; nothing that reads or
scores configs imports this module, so they stay free of torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from objectives.hardware import GraphStats, LayerStats
from objectives.hardware.stats import LayerKind
from objectives.tinyml._compress import shaped_chain
from objectives.tinyml._errors import TinyMLError
from objectives.tinyml._graph import _conv_kind, _layer_stats, _with_pruning

if TYPE_CHECKING:
    from objectives.tinyml._arch import ArchSpec
    from objectives.tinyml._data import TaskSpec
    from objectives.tinyml._settings import Compression

__all__ = ["built_graph_stats", "module_graph_stats"]


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
