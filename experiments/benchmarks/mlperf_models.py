"""The four MLPerf Tiny reference networks in PyTorch, and their graph statistics via ONNX.

Rebuilt from mlcommons/tiny's training code (ResNet-8 for IC, DS-CNN for KWS, MobileNetV1 0.25
for VWW, the ToyADMOS autoencoder for AD), exported with torch.onnx and read back by
``objectives.hardware.graph_from_onnx``: the benchmark checks that this path gives the same
statistics as the hand-built ``objectives/hardware/reference.py`` that the model is fitted on.
"""

from __future__ import annotations

import itertools
import tempfile
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch
from torch import nn

from objectives.hardware import graph_from_onnx
from objectives.hardware.stats import GraphStats

__all__ = ["TORCH_MODELS", "onnx_graph"]


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Module:
    """Conv + BN + ReLU with 'same' output size (BN folds into the conv at export)."""
    conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU())


class _ResidualStack(nn.Module):
    """Two 3x3 convs and a shortcut (a strided 1x1 conv where the shape changes), added."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(c_in, c_out, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride) if stride != 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return torch.relu(y + self.shortcut(x))


def torch_resnet8() -> nn.Module:
    return nn.Sequential(
        _conv_bn(3, 16, 3),
        _ResidualStack(16, 16, 1),
        _ResidualStack(16, 32, 2),
        _ResidualStack(32, 64, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def torch_ds_cnn() -> nn.Module:
    stem = nn.Sequential(
        nn.Conv2d(1, 64, (10, 4), 2, (5, 1), bias=False), nn.BatchNorm2d(64), nn.ReLU()
    )
    blocks = [nn.Sequential(_conv_bn(64, 64, 3, groups=64), _conv_bn(64, 64, 1)) for _ in range(4)]
    return nn.Sequential(stem, *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 12))


def torch_mobilenet_v1_025() -> nn.Module:
    widths = (16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256)
    strides = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
    layers, c_in = [_conv_bn(3, 8, 3, 2)], 8
    for c_out, stride in zip(widths, strides, strict=True):
        layers += [_conv_bn(c_in, c_in, 3, stride, groups=c_in), _conv_bn(c_in, c_out, 1)]
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 2))


def torch_fc_autoencoder() -> nn.Module:
    widths = (640, 128, 128, 128, 128, 8, 128, 128, 128, 128)
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(widths):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(128, 640))


TORCH_MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "ic": (torch_resnet8, (3, 32, 32)),
    "kws": (torch_ds_cnn, (1, 49, 10)),
    "vww": (torch_mobilenet_v1_025, (3, 96, 96)),
    "ad": (torch_fc_autoencoder, (640,)),
}


@cache
def onnx_graph(benchmark: str) -> GraphStats:
    """The PyTorch model exported to ONNX, read back as int8 graph statistics."""
    build, shape = TORCH_MODELS[benchmark]
    model = build().eval()
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(folder) / f"{benchmark}.onnx"
        torch.onnx.export(model, (torch.zeros(1, *shape),), str(path), dynamo=False)
        return graph_from_onnx(path, weight_bits=8, activation_bits=8)
