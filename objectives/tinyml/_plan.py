"""Graph statistics of a config by arithmetic, without building a network.

The sampler asks ``known_metrics`` for the hardware cost of every candidate it scores,
hundreds per proposal, nearly all of distinct shapes. Building each one as torch modules
(``shaped_chain``: build, prune, fold batch norm) and walking it (``module_graph_stats``)
took 15-70 ms a config (by machine load), most of a quickstart proposal; the same numbers
follow from the architecture and the pruning ratio in about 0.1 ms, because nothing in them
depends on weight values:

- the folded chain is ``_chain``'s without batch norm, every conv followed by batch norm
  and so given a bias by folding;
- a conv's output is ``(s + 2 * (k // 2) - k) // stride + 1`` per spatial axis ('same'
  padding), a 2x max-pool's ``s // 2``, a global average pool's 1;
- structured pruning keeps ``_keep_count(n, ratio)`` outputs of every conv or dense layer
  but the last, a depthwise conv as many as its input keeps;
- unstructured pruning masks ``_masked_count(n, ratio)`` of each such layer's weights.

The pruning counts are the ones ``_prune`` uses (``_settings``) and the layer records
``_graph``'s, so those rules live in one place, and none of them imports torch; the
chain's layout is ``_models``' repeated here as shapes. ``tests/test_tinyml_plan.py``
compares ``planned_graph_stats`` field by field with ``_built.built_graph_stats`` (the
network built, pruned and folded in torch) on random
configs of every architecture, task and pruning, and every trial compares it with the
statistics of its exported ONNX file (``Classifier.evaluate``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from objectives.tinyml._arch import _check_poolable
from objectives.tinyml._graph import _conv_kind, _layer_stats, _with_pruning
from objectives.tinyml._settings import _keep_count, _masked_count

if TYPE_CHECKING:
    from objectives.hardware import GraphStats, LayerStats
    from objectives.tinyml._arch import ArchSpec
    from objectives.tinyml._data import TaskSpec
    from objectives.tinyml._settings import Compression

__all__ = ["planned_graph_stats"]


@dataclass(frozen=True)
class _Op:
    """One module of a BN-folded chain, by what shapes its output.

    Attributes:
        kind: The module's role.
        out: Output channels or units (conv, dense) before pruning; a depthwise conv has
            as many as its input.
        kernel: Conv kernel size along every spatial axis.
        stride: Conv stride.
        depthwise: One group per input channel.
    """

    kind: Literal["conv", "dense", "relu", "maxpool", "avgpool", "flatten"]
    out: int = 0
    kernel: int = 1
    stride: int = 1
    depthwise: bool = False


_RELU = _Op("relu")


def _conv(out: int, kernel: int, *, stride: int = 1, depthwise: bool = False) -> list[_Op]:
    return [_Op("conv", out, kernel, stride, depthwise), _RELU]


def _dense_stack(width: int, depth: int) -> list[_Op]:
    return [_Op("dense", width), _RELU] * depth


def _folded_ops(spec: ArchSpec, task: TaskSpec) -> list[_Op]:
    """``_models._chain`` of ``spec`` for ``task`` after batch-norm folding.

    Raises:
        ArchitectureError: A CNN pools its input below 1 element (as ``build_model``).
    """
    n_in = math.prod(task.input_shape)
    if spec.arch == "mlp":
        ops = [_Op("flatten"), *_dense_stack(spec.width, spec.depth)]
    elif spec.arch == "cnn":
        ops, spatial = [], list(task.input_shape[1:])
        for block in range(spec.depth):
            _check_poolable(spec, task, block, spatial)
            ops += [*_conv(spec.width, spec.kernel), _Op("maxpool")]
            spatial = [s // 2 for s in spatial]
        ops.append(_Op("flatten"))
    else:
        ops = _conv(spec.width, spec.kernel, stride=task.stem_stride)
        for _ in range(spec.depth):
            ops += [*_conv(spec.width, spec.kernel, depthwise=True), *_conv(spec.width, 1)]
        if task.kind == "classify":
            ops.append(_Op("avgpool"))
        ops.append(_Op("flatten"))
    if task.kind == "classify":
        return [*ops, _Op("dense", task.n_classes)]
    decoder_depth = spec.depth if spec.arch == "mlp" else 1
    return [
        *ops,
        _Op("dense", task.bottleneck),
        _RELU,
        *_dense_stack(spec.width, decoder_depth),
        _Op("dense", n_in),
    ]


def _out_shape(op: _Op, shape: list[int], n_out: int) -> list[int]:
    """Activations after ``op``: a conv pads 'same' (``k // 2``) and strides, a dense
    layer has no spatial axes, a max-pool halves them and a global pool ends them at 1."""
    spatial = shape[1:]
    if op.kind == "conv":
        spatial = [(s + 2 * (op.kernel // 2) - op.kernel) // op.stride + 1 for s in spatial]
    elif op.kind in ("maxpool", "avgpool"):
        spatial = [s // 2 if op.kind == "maxpool" else 1 for s in spatial]
    return [n_out, *spatial]


def planned_graph_stats(spec: ArchSpec, task: TaskSpec, compression: Compression) -> GraphStats:
    """Statistics of the config's deployed graph, equal field by field to
    ``module_graph_stats`` of ``shaped_chain`` (and so to its export's).

    Args:
        spec: Architecture of the config.
        task: Input shape and output of the task.
        compression: Bits and pruning of the config (how the weights were found does not
            matter: ``Compression.shape`` gives the same graph).

    Raises:
        ArchitectureError: The architecture cannot be built for the task's input.
    """
    ops = _folded_ops(spec, task)
    last = max(i for i, op in enumerate(ops) if op.kind in ("conv", "dense"))
    ratio, bits = compression.prune_ratio, compression.bit_widths
    structured = compression.prune_kind == "structured"
    unstructured = compression.prune_kind == "unstructured"
    shape = list(task.input_shape)
    layers: list[LayerStats] = []
    pruned: list[int] = []
    for index, op in enumerate(ops):
        before = math.prod(shape)
        if op.kind == "flatten":  # a view, as ReLU is fused: neither is a layer
            shape = [before]
        if op.kind in ("flatten", "relu"):
            continue
        n_in = n_out = shape[0]
        if op.kind in ("conv", "dense") and not op.depthwise:
            n_out = op.out if index == last or not structured else _keep_count(op.out, ratio)
        shape = _out_shape(op, shape, n_out)
        elements = (before, math.prod(shape))
        if op.kind in ("maxpool", "avgpool"):
            op_type = "MaxPool" if op.kind == "maxpool" else "GlobalAveragePool"
            layer = _layer_stats(
                index, op_type, "pool", macs=0, params=0, elements=elements, bits=bits
            )
        else:
            groups = n_in if op.depthwise else 1
            taps = n_in // groups * op.kernel ** (len(shape) - 1)
            weights = n_out * taps
            pruned.append(_masked_count(weights, ratio) if unstructured else 0)
            kind, op_type = (
                (_conv_kind(n_in, groups), "Conv") if op.kind == "conv" else ("dense", "Gemm")
            )
            layer = _layer_stats(
                index,
                op_type,
                kind,
                macs=elements[1] * taps,
                params=weights + n_out,
                elements=elements,
                bits=bits,
            )
        layers.append(layer)
    return _with_pruning(layers, pruned)
