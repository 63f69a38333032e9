"""Network builders: MLP, CNN and DS-CNN as flat ``nn.Sequential`` chains, in torch.

A config's architecture is parsed into an ``ArchSpec`` (``_arch.py``, without torch); this
module builds its network.

A flat chain (no nesting, no skip connections) is what pruning, quantization and the
hardware models all want: channel surgery walks it in order, and its ONNX graph is the
ordered layer list a Cortex-M runtime executes.

- MLP: ``[Linear(width) ReLU] x depth``.
- CNN: ``[Conv(kernel, width) BN ReLU MaxPool(2)] x depth``, then flatten.
- DS-CNN (MLPerf Tiny KWS [Zhang2017hello]): a ``Conv(kernel, width, stem_stride)`` stem,
  ``[DepthwiseConv(kernel) BN ReLU Conv1x1(width) BN ReLU] x depth``, then global average
  pooling. ``width`` is the channel count of every layer (MLPerf's DS-CNN is width 64,
  depth 4); ``width_mult`` in a config scales it.

Classifiers end in ``Linear(n_classes)``. Autoencoders flatten the encoder's output and
add ``Linear(bottleneck) ReLU [Linear(width) ReLU] x depth Linear(input size)``; a conv
encoder keeps all positions (no global pooling) so the code can place the waveform.

.. [Zhang2017hello] Y. Zhang et al. Hello Edge: Keyword Spotting on Microcontrollers.
   arXiv:1711.07128, 2017.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from objectives.tinyml._arch import ArchSpec, _check_poolable
from objectives.tinyml._data import TaskSpec

__all__ = ["build_model", "initialize", "seeded", "uninitialized"]

M = TypeVar("M", bound=nn.Module)


def _conv(
    ndim: int, c_in: int, c_out: int, kernel: int, *, stride: int = 1, groups: int = 1
) -> nn.Module:
    cls = nn.Conv1d if ndim == 1 else nn.Conv2d
    return cls(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False)


def _conv_block(
    ndim: int, c_in: int, c_out: int, kernel: int, *, stride: int = 1, groups: int = 1
) -> list[nn.Module]:
    norm = nn.BatchNorm1d(c_out) if ndim == 1 else nn.BatchNorm2d(c_out)
    return [_conv(ndim, c_in, c_out, kernel, stride=stride, groups=groups), norm, nn.ReLU()]


def _cnn(spec: ArchSpec, task: TaskSpec) -> tuple[list[nn.Module], list[int]]:
    channels, *spatial = task.input_shape
    ndim = len(spatial)
    layers: list[nn.Module] = []
    for block in range(spec.depth):
        _check_poolable(spec, task, block, spatial)
        pool = nn.MaxPool1d(2) if ndim == 1 else nn.MaxPool2d(2)
        layers += [*_conv_block(ndim, channels, spec.width, spec.kernel), pool]
        channels, spatial = spec.width, [s // 2 for s in spatial]
    return layers, [channels, *spatial]


def _dscnn(spec: ArchSpec, task: TaskSpec) -> tuple[list[nn.Module], list[int]]:
    _, *spatial = task.input_shape
    ndim = len(spatial)
    stride = task.stem_stride
    layers = _conv_block(ndim, task.input_shape[0], spec.width, spec.kernel, stride=stride)
    for _ in range(spec.depth):
        layers += _conv_block(ndim, spec.width, spec.width, spec.kernel, groups=spec.width)
        layers += _conv_block(ndim, spec.width, spec.width, 1)
    spatial = [(s - 1) // stride + 1 for s in spatial]
    return layers, [spec.width, *spatial]


def _dense_stack(n_in: int, width: int, depth: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return layers


def build_model(spec: ArchSpec, task: TaskSpec, *, seed: int) -> nn.Sequential:
    """The untrained network of ``spec`` for ``task``, its weights drawn with ``seed``.

    PyTorch's layer constructors draw their initial weights from torch's global RNG,
    which every thread of the process shares (a study's other workers propose and train
    meanwhile). The layers are therefore built on the meta device, where nothing is
    drawn, and then initialized from a generator of their own (``initialize``): PyTorch's
    default distributions, and the very weights ``torch.manual_seed(seed)`` before the
    constructors gave, since the layers draw in the order they were built.

    Args:
        spec: Architecture parameters of the config.
        task: Input shape and output of the task.
        seed: Seed of the initial weights.

    Returns:
        A flat ``nn.Sequential`` mapping ``n x input_shape`` to ``n x n_classes`` logits
        (classify) or ``n x prod(input_shape)`` reconstructions (reconstruct).

    Raises:
        ArchitectureError: If the input is too small for the requested pooling.
    """
    return seeded(lambda: _chain(spec, task), seed)


def seeded(layers: Callable[[], M], seed: int) -> M:
    """The module ``layers()`` constructs, its weights drawn from a generator seeded with
    ``seed`` (``initialize``) instead of torch's global RNG.

    """
    module = uninitialized(layers)
    initialize(module, torch.Generator().manual_seed(seed))
    return module


def uninitialized(layers: Callable[[], M]) -> M:
    """The module ``layers()`` constructs, allocated on the CPU but never initialized.

    ``layers`` runs on the meta device, where the constructors' own initialization draws
    nothing from torch's global RNG. For layers whose every parameter and buffer the
    caller then sets (``seeded``, or a pruned copy of a trained layer).
    """
    with torch.device("meta"):
        module = layers()
    return module.to_empty(device="cpu")


def initialize(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialization of every layer of ``model``, drawn from ``generator``.

    Linear and conv layers: weights ``kaiming_uniform_(a=sqrt(5))``, biases uniform in
    ``+-1/sqrt(fan_in)``, as their ``reset_parameters``; batch norms: unit scale, zero
    shift, fresh running statistics (nothing random). A layer of any other kind that holds
    parameters or buffers is an error rather than a network left with uninitialized memory.

    Raises:
        TypeError: A layer this function does not know how to initialize.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                if module.bias is not None:
                    fan_in = math.prod(module.weight.shape[1:])
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
                module.reset_parameters()
            elif any(True for _ in module.parameters(recurse=False)) or any(
                True for _ in module.buffers(recurse=False)
            ):
                raise TypeError(f"no seeded initialization for {type(module).__name__} layers")


def _chain(spec: ArchSpec, task: TaskSpec) -> nn.Sequential:
    """The layers of ``spec`` for ``task``, as PyTorch constructs them."""
    n_in = math.prod(task.input_shape)
    if spec.arch == "mlp":
        layers: list[nn.Module] = [nn.Flatten(), *_dense_stack(n_in, spec.width, spec.depth)]
        n_features = spec.width
    else:
        body, out_shape = (_cnn if spec.arch == "cnn" else _dscnn)(spec, task)
        layers = body
        if spec.arch == "dscnn" and task.kind == "classify":
            pool = nn.AdaptiveAvgPool1d(1) if len(out_shape) == 2 else nn.AdaptiveAvgPool2d(1)
            layers.append(pool)
            out_shape = out_shape[:1]
        layers.append(nn.Flatten())
        n_features = math.prod(out_shape)
    if task.kind == "classify":
        return nn.Sequential(*layers, nn.Linear(n_features, task.n_classes))
    decoder_depth = spec.depth if spec.arch == "mlp" else 1
    return nn.Sequential(
        *layers,
        nn.Linear(n_features, task.bottleneck),
        nn.ReLU(),
        *_dense_stack(task.bottleneck, spec.width, decoder_depth),
        nn.Linear(spec.width, n_in),
    )
