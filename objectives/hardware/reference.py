"""Graph statistics of the four MLPerf Tiny reference models, built layer by layer.

The published architectures (mlcommons/tiny ``benchmark/training``) are rebuilt here as
``GraphStats`` so that the hardware models can be checked against the measured MLPerf Tiny
rows without a deep-learning framework. Batch norm is folded into the convolutions, as in
the int8 reference models. The totals match the MACs and parameters listed in
``../shared/reference/devices.md`` section 3 (Vela's ``nn_macs`` also counts the pooling
and residual-add elements, so it is 0.03-0.3 % higher).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from objectives.hardware.stats import GraphStats, LayerStats

__all__ = ["REFERENCE_MODELS", "reference_graph"]


def _conv(
    name: str, hw_in: tuple[int, int], c_in: int, c_out: int, kernel: tuple[int, int], stride: int
) -> LayerStats:
    """A 'same'-padded convolution with bias."""
    h_out, w_out = -(-hw_in[0] // stride), -(-hw_in[1] // stride)
    taps = kernel[0] * kernel[1] * c_in
    return LayerStats(
        name=name,
        op_type="Conv",
        kind="conv",
        macs=h_out * w_out * c_out * taps,
        params=taps * c_out + c_out,
        input_elements=hw_in[0] * hw_in[1] * c_in,
        output_elements=h_out * w_out * c_out,
    )


def _depthwise(name: str, hw_in: tuple[int, int], channels: int, stride: int) -> LayerStats:
    """A 'same'-padded 3x3 depthwise convolution with bias."""
    h_out, w_out = -(-hw_in[0] // stride), -(-hw_in[1] // stride)
    return LayerStats(
        name=name,
        op_type="Conv",
        kind="depthwise_conv",
        macs=h_out * w_out * channels * 9,
        params=10 * channels,
        input_elements=hw_in[0] * hw_in[1] * channels,
        output_elements=h_out * w_out * channels,
    )


def _dense(name: str, n_in: int, n_out: int) -> LayerStats:
    return LayerStats(
        name=name,
        op_type="Gemm",
        kind="dense",
        macs=n_in * n_out,
        params=n_in * n_out + n_out,
        input_elements=n_in,
        output_elements=n_out,
    )


def _avgpool(name: str, hw: tuple[int, int], channels: int) -> LayerStats:
    return LayerStats(
        name=name,
        op_type="GlobalAveragePool",
        kind="pool",
        macs=0,
        params=0,
        input_elements=hw[0] * hw[1] * channels,
        output_elements=channels,
    )


def _add(name: str, elements: int) -> LayerStats:
    return LayerStats(
        name=name,
        op_type="Add",
        kind="elementwise",
        macs=0,
        params=0,
        input_elements=2 * elements,
        output_elements=elements,
    )


def resnet8() -> GraphStats:
    """IC: ResNet-8 on 32x32x3 CIFAR-10 (three residual stacks of 16/32/64 filters)."""
    layers = [_conv("conv0", (32, 32), 3, 16, (3, 3), 1)]
    hw, c_in = (32, 32), 16
    for stack, c_out in enumerate((16, 32, 64)):
        stride = 1 if stack == 0 else 2
        layers.append(_conv(f"s{stack}.conv1", hw, c_in, c_out, (3, 3), stride))
        hw_out = (-(-hw[0] // stride), -(-hw[1] // stride))
        layers.append(_conv(f"s{stack}.conv2", hw_out, c_out, c_out, (3, 3), 1))
        if stride != 1:
            layers.append(_conv(f"s{stack}.shortcut", hw, c_in, c_out, (1, 1), stride))
        layers.append(_add(f"s{stack}.add", hw_out[0] * hw_out[1] * c_out))
        hw, c_in = hw_out, c_out
    layers += [_avgpool("pool", hw, 64), _dense("fc", 64, 10)]
    return GraphStats(tuple(layers))


def ds_cnn() -> GraphStats:
    """KWS: DS-CNN on 49x10 MFCC (10x4 stride-2 conv, four 64-channel DS blocks)."""
    layers = [_conv("conv0", (49, 10), 1, 64, (10, 4), 2)]
    hw = (25, 5)
    for block in range(4):
        layers.append(_depthwise(f"b{block}.dw", hw, 64, 1))
        layers.append(_conv(f"b{block}.pw", hw, 64, 64, (1, 1), 1))
    layers += [_avgpool("pool", hw, 64), _dense("fc", 64, 12)]
    return GraphStats(tuple(layers))


def mobilenet_v1_025() -> GraphStats:
    """VWW: MobileNetV1 with width 0.25 on 96x96x3, two classes."""
    layers = [_conv("conv0", (96, 96), 3, 8, (3, 3), 2)]
    hw, c_in = (48, 48), 8
    blocks = (
        (16, 1),
        (32, 2),
        (32, 1),
        (64, 2),
        (64, 1),
        (128, 2),
        (128, 1),
        (128, 1),
        (128, 1),
        (128, 1),
        (128, 1),
        (256, 2),
        (256, 1),
    )
    for i, (c_out, stride) in enumerate(blocks):
        layers.append(_depthwise(f"b{i}.dw", hw, c_in, stride))
        hw = (-(-hw[0] // stride), -(-hw[1] // stride))
        layers.append(_conv(f"b{i}.pw", hw, c_in, c_out, (1, 1), 1))
        c_in = c_out
    layers += [_avgpool("pool", hw, c_in), _dense("fc", c_in, 2)]
    return GraphStats(tuple(layers))


def fc_autoencoder() -> GraphStats:
    """AD: the ToyADMOS fully connected autoencoder 640-128x4-8-128x4-640."""
    widths = (640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640)
    layers = [
        _dense(f"fc{i}", n_in, n_out) for i, (n_in, n_out) in enumerate(itertools.pairwise(widths))
    ]
    return GraphStats(tuple(layers))


REFERENCE_MODELS: dict[str, Callable[[], GraphStats]] = {
    "ic": resnet8,
    "kws": ds_cnn,
    "vww": mobilenet_v1_025,
    "ad": fc_autoencoder,
}
"""MLPerf Tiny benchmark code -> builder of its reference model's graph statistics."""


def reference_graph(benchmark: str) -> GraphStats:
    """Graph statistics of one MLPerf Tiny reference model (``ic``, ``kws``, ``vww``, ``ad``).

    Example:
        >>> reference_graph("ad").macs
        264192
    """
    try:
        return REFERENCE_MODELS[benchmark]()
    except KeyError:
        raise ValueError(
            f"`benchmark` must be one of {sorted(REFERENCE_MODELS)}, got {benchmark!r}."
        ) from None
