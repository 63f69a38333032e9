r"""Quantization-aware fake quantization at 2, 4, 8, 16 or 32 bits.

Weights: per-output-channel symmetric, ``q = clamp(round(w / s), -Q, Q)`` with
``Q = 2^(b-1) - 1`` and ``s = max|w_c| / Q`` (the grid onnxruntime uses for int8
weights, so 8-bit fake quantization and the ORT int8 model share their weights).
Activations: per-tensor asymmetric on ``2^a`` levels over a calibrated ``[min, max]``
that includes 0 (onnxruntime's MinMax calibration), with ``a = 8`` for ``b <= 8`` (W2A8
and W4A8 as CMSIS-NN runs sub-byte weights), ``a = 16`` for ``b = 16`` and no activation
quantization at 32 bits. Gradients pass straight through the rounding (STE) [Jacob2018].

Activation quantizers sit where onnxruntime's static quantizer puts them: on the input, after
every ReLU, after global average pooling and on the output. Max pooling and flatten keep
their input's grid, so they get none.

.. [Jacob2018] B. Jacob et al. Quantization and Training of Neural Networks for Efficient
   Integer-Arithmetic-Only Inference. CVPR 2018.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from objectives.tinyml._prune import weighted_layers
from objectives.tinyml._settings import _FLOAT_BITS, activation_bits

__all__ = ["ActQuant", "add_fake_quant", "bake_weights", "calibrate", "strip_act_quant"]


class _WeightQuant(nn.Module):
    """Parametrization: per-output-channel symmetric fake quantization with STE."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.q_max = 2 ** (bits - 1) - 1

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, weight.dim()))
        scale = weight.detach().abs().amax(dim=dims, keepdim=True).clamp_min(1e-12) / self.q_max
        quantized = torch.clamp(torch.round(weight / scale), -self.q_max, self.q_max) * scale
        return weight + (quantized - weight).detach()


class ActQuant(nn.Module):
    """Per-tensor asymmetric activation fake quantizer with a calibrated range.

    ``calibrating`` collects the running min and max (quantization off); otherwise the
    input is snapped to ``2^bits`` levels between them, with a straight-through gradient.
    """

    # Buffers (registered in __init__), so the range travels with state_dict and .to().
    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.levels = 2**bits - 1
        self.calibrating = True
        self.register_buffer("low", torch.tensor(0.0))
        self.register_buffer("high", torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.calibrating:
            self.low = torch.minimum(self.low, x.detach().min())
            self.high = torch.maximum(self.high, x.detach().max())
            return x
        scale = torch.clamp((self.high - self.low) / self.levels, min=1e-12)
        zero_point = torch.round(-self.low / scale)
        q = torch.clamp(torch.round(x / scale) + zero_point, 0, self.levels)
        return x + ((q - zero_point) * scale - x).detach()


def add_fake_quant(model: nn.Sequential, bits: int) -> nn.Sequential:
    """``model`` with weight quantizers registered and activation quantizers inserted.

    Args:
        model: A BN-folded chain (possibly with pruning masks, which stay innermost).
        bits: Weight bit width, one of ``BITS``.

    Returns:
        A new chain sharing ``model``'s layers; unchanged at 32 bits. Its activation
        quantizers are calibrating until ``calibrate`` has run.
    """
    if bits >= _FLOAT_BITS:
        return model
    for layer in weighted_layers(model):
        parametrize.register_parametrization(layer, "weight", _WeightQuant(bits))
    a_bits = activation_bits(bits)
    layers: list[nn.Module] = [ActQuant(a_bits)]
    for module in model:
        layers.append(module)
        if isinstance(module, nn.ReLU | nn.AdaptiveAvgPool1d | nn.AdaptiveAvgPool2d):
            layers.append(ActQuant(a_bits))
    layers.append(ActQuant(a_bits))
    return nn.Sequential(*layers)


@torch.no_grad()
def calibrate(model: nn.Sequential, x: np.ndarray) -> None:
    """Set every activation range to the min/max over ``x`` of the float activations.

    The whole calibration set runs with quantization off, as onnxruntime's MinMax
    calibrator sees the float model; afterwards the quantizers are on.
    """
    quantizers = [m for m in model if isinstance(m, ActQuant)]
    for q in quantizers:
        q.calibrating = True
        q.low.zero_()
        q.high.zero_()
    model.eval()
    model(torch.from_numpy(x))
    for q in quantizers:
        q.calibrating = False


def bake_weights(model: nn.Sequential) -> None:
    """Replace every weight parametrization (masks, quantizers) by its current value."""
    for layer in weighted_layers(model):
        if parametrize.is_parametrized(layer, "weight"):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)


def strip_act_quant(model: nn.Sequential) -> nn.Sequential:
    """The chain without activation quantizers: the float graph that is exported."""
    return nn.Sequential(*(m for m in model if not isinstance(m, ActQuant))).eval()
