"""Pruning of a flat chain: structured (channels/units by L1 norm) and unstructured.

Importance is measured on the BN-folded weights (``w * gamma / sqrt(var + eps)``), so a
channel that batch norm scales down counts as small, but the surgery is done on the
unfolded chain: batch norm stays in place for the fine-tune, which is what lets a deep,
narrow DS-CNN recover from losing half its channels in a few epochs.

Structured pruning rebuilds the network smaller: every hidden conv or dense layer keeps
the ``round(n * (1 - ratio))`` outputs with the largest L1 norm (at least one), and the
layers after it lose the matching inputs (batch norm and a depthwise conv lose the same
channels, a dense layer after ``Flatten`` the matching block of features). MACs, params
and activations really drop. The output layer is never pruned.

Unstructured pruning zeroes the ``round(n * ratio)`` smallest-magnitude weights of every
conv and dense layer and keeps them at zero through fine-tuning (a parametrization
multiplies the weight by a fixed mask). Shapes and MACs stay; only sparsity grows.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import torch
from torch import nn
from torch.nn.utils import parametrize

from objectives.tinyml._models import uninitialized
from objectives.tinyml._settings import PruneKind, _keep_count, _masked_count

__all__ = [
    "fold_batchnorm",
    "freeze_zeros",
    "prune",
    "pruned_counts",
    "weighted_layers",
]

_Conv: TypeAlias = nn.Conv1d | nn.Conv2d
_Norm: TypeAlias = nn.BatchNorm1d | nn.BatchNorm2d


def weighted_layers(model: nn.Sequential) -> list[nn.Module]:
    """The conv and dense layers of ``model``, in order."""
    return [m for m in model if isinstance(m, _Conv | nn.Linear)]


def _new_conv(like: _Conv, c_in: int, c_out: int, groups: int, bias: bool) -> _Conv:
    # Not type(like): a masked layer's type is a parametrized subclass made for that layer.
    # Uninitialized: the caller copies every weight in, and PyTorch's initialization
    # would draw from the global RNG that other threads use.
    cls = nn.Conv1d if isinstance(like, nn.Conv1d) else nn.Conv2d
    return uninitialized(
        lambda: cls(
            c_in,
            c_out,
            like.kernel_size,
            stride=like.stride,
            padding=like.padding,
            groups=groups,
            bias=bias,
        )
    )


@torch.no_grad()
def fold_batchnorm(model: nn.Sequential) -> nn.Sequential:
    """A copy of ``model`` (eval mode) with every BN merged into the conv before it.

    ``w' = w * gamma / sqrt(var + eps)`` per output channel and
    ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``: the same function in eval mode,
    one layer less to run, and the layout the ONNX export and a Cortex-M runtime use.
    """
    layers: list[nn.Module] = []
    for module in model:
        if not isinstance(module, _Norm):
            layers.append(module)
            continue
        conv = layers[-1]
        assert isinstance(conv, _Conv), "batch norm must follow a conv"
        scale = module.weight / torch.sqrt(module.running_var + module.eps)
        bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
        fused = _new_conv(conv, conv.in_channels, conv.out_channels, conv.groups, bias=True)
        fused.weight.copy_(conv.weight * scale.view(-1, *[1] * (conv.weight.dim() - 1)))
        fused.bias.copy_((bias - module.running_mean) * scale + module.bias)
        layers[-1] = fused
    return nn.Sequential(*layers).eval()


def _slice_conv(conv: _Conv, keep_in: torch.Tensor | None, keep_out: torch.Tensor | None) -> _Conv:
    weight, bias = conv.weight, conv.bias
    depthwise = conv.groups > 1
    if depthwise and keep_in is not None:
        keep_out = keep_in
    elif keep_in is not None:
        weight = weight[:, keep_in]
    if keep_out is not None:
        weight = weight[keep_out]
        bias = None if bias is None else bias[keep_out]
    c_out = weight.shape[0]
    groups = c_out if depthwise else 1
    sliced = _new_conv(conv, weight.shape[1] * groups, c_out, groups, bias=bias is not None)
    sliced.weight.data.copy_(weight)
    if bias is not None:
        sliced.bias.data.copy_(bias)
    return sliced


def _slice_linear(
    layer: nn.Linear, keep_in: torch.Tensor | None, keep_out: torch.Tensor | None
) -> nn.Linear:
    weight, bias = layer.weight, layer.bias
    if keep_in is not None:
        weight = weight[:, keep_in]
    if keep_out is not None:
        weight, bias = weight[keep_out], bias[keep_out]
    sliced = uninitialized(lambda: nn.Linear(weight.shape[1], weight.shape[0]))
    sliced.weight.data.copy_(weight)
    sliced.bias.data.copy_(bias)
    return sliced


def _slice_norm(norm: _Norm, keep: torch.Tensor) -> _Norm:
    sliced = type(norm)(len(keep), eps=norm.eps, momentum=norm.momentum)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(sliced, name).data.copy_(getattr(norm, name)[keep])
    return sliced


def _top_l1(weight: torch.Tensor, ratio: float) -> torch.Tensor:
    norms = weight.abs().flatten(1).sum(dim=1)
    keep = torch.topk(norms, _keep_count(len(norms), ratio)).indices
    return torch.sort(keep).values


@torch.no_grad()
def _structured(model: nn.Sequential, ratio: float, input_shape: tuple[int, ...]) -> nn.Sequential:
    folded = iter(weighted_layers(fold_batchnorm(model)))
    last = weighted_layers(model)[-1]
    keep: torch.Tensor | None = None
    shape = list(input_shape)
    layers: list[nn.Module] = []
    for module in model:
        out_shape = list(module.eval()(torch.zeros(1, *shape)).shape[1:])
        if isinstance(module, nn.Flatten) and keep is not None:
            per_channel = math.prod(shape[1:])
            keep = (keep[:, None] * per_channel + torch.arange(per_channel)).flatten()
        elif isinstance(module, _Norm) and keep is not None:
            module = _slice_norm(module, keep)
        elif isinstance(module, _Conv) and module.groups > 1:
            next(folded)
            module = _slice_conv(module, keep, None)
        elif isinstance(module, _Conv | nn.Linear):
            importance = next(folded).weight
            keep_out = None if module is last else _top_l1(importance, ratio)
            slicer = _slice_conv if isinstance(module, _Conv) else _slice_linear
            module = slicer(module, keep, keep_out)
            keep = keep_out
        layers.append(module)
        shape = out_shape
    return nn.Sequential(*layers)


class _Mask(nn.Module):
    """Parametrization ``w -> w * mask`` that keeps pruned weights at zero."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


def _register_mask(layer: nn.Module, mask: torch.Tensor) -> None:
    parametrize.register_parametrization(layer, "weight", _Mask(mask.to(layer.weight.dtype)))


def freeze_zeros(model: nn.Sequential) -> nn.Sequential:
    """Keep every weight that is exactly zero at zero through further training.

    Used after batch norm folding, which rebuilds the layers it merges (and so drops their
    masks) but keeps pruned weights at exactly zero; layers that kept a mask are skipped.
    """
    for layer in weighted_layers(model):
        if not parametrize.is_parametrized(layer, "weight"):
            _register_mask(layer, layer.weight.detach() != 0)
    return model


def pruned_counts(model: nn.Sequential) -> list[int]:
    """Weights of each conv or dense layer that a pruning mask removes, in layer order.

    This is the sparsity a deployment encodes (the bitmask of kept weights), so it is what
    the hardware models see; zeros that quantization happens to round to are not counted,
    which keeps flash and latency exact functions of the config.
    """
    counts = []
    for layer in weighted_layers(model):
        chain = layer.parametrizations["weight"] if parametrize.is_parametrized(layer) else []
        counts.append(sum(int((m.mask == 0).sum()) for m in chain if isinstance(m, _Mask)))
    return counts


@torch.no_grad()
def _unstructured(model: nn.Sequential, ratio: float) -> nn.Sequential:
    for layer, folded in zip(
        weighted_layers(model), weighted_layers(fold_batchnorm(model)), strict=True
    ):
        mask = torch.ones(layer.weight.numel())
        mask[torch.argsort(folded.weight.abs().flatten())[: _masked_count(mask.numel(), ratio)]] = (
            0.0
        )
        _register_mask(layer, mask.view_as(layer.weight))
    return model


def prune(
    model: nn.Sequential,
    kind: PruneKind,
    ratio: float,
    input_shape: tuple[int, ...],
) -> nn.Sequential:
    """Prune a chain at ``ratio`` (share of channels or of weights removed).

    Args:
        model: A flat chain, batch norm folded or not; ``structured`` leaves it intact,
            ``unstructured`` zeroes its weights in place.
        kind: ``structured`` or ``unstructured``.
        ratio: In ``[0, 1)``.
        input_shape: ``C x ...`` of one sample, to map channels through ``Flatten``.

    Returns:
        The pruned chain. For ``unstructured`` it is ``model`` itself with mask
        parametrizations; ``quant.bake_weights`` removes them, keeping the zeros.
    """
    if kind == "structured":
        return _structured(model, ratio, input_shape)
    return _unstructured(model, ratio)
