"""From a trained network to the deployed one: prune, fine-tune, fold, quantize.

The order is the usual one for integer deployment: prune the network with batch norm in
place and fine-tune it (batch norm helps it recover), fold batch norm into the
convolutions (what the exported graph and a Cortex-M runtime run), then insert fake
quantizers, calibrate, fine-tune with quantization in the loop (QAT) and calibrate again
on the final weights, as onnxruntime's static quantization will. ``shaped_chain`` takes
the same steps without data or training, to give an untrained network of the same final
shape for the graph statistics of ``check()`` and ``known_metrics()``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from torch import nn

from objectives.tinyml._data import TaskData, TaskSpec
from objectives.tinyml._errors import ArchitectureError
from objectives.tinyml._models import ArchSpec, build_model
from objectives.tinyml._prune import PRUNE_KINDS, fold_batchnorm, freeze_zeros, prune, pruned_counts
from objectives.tinyml._quant import (
    BITS,
    activation_bits,
    add_fake_quant,
    bake_weights,
    calibrate,
    strip_act_quant,
)
from objectives.tinyml._train import TrainSettings, fit

__all__ = ["Compressed", "Compression", "calibration_set", "compress", "shaped_chain"]

#: Pruning ratios at or above this leave too little of a layer to be worth a trial.
_MAX_PRUNE_RATIO = 0.95
#: Seed of the untrained network ``shaped_chain`` builds; its weights never matter.
_SHAPE_SEED = 0


@dataclass(frozen=True)
class Compression:
    """The compression part of a config, canonical (no pruning kind without pruning).

    Attributes:
        bits: Weight bit width, one of ``BITS``; 32 is the float model.
        prune_ratio: Share of channels (structured) or weights (unstructured) removed.
        prune_kind: ``structured``, ``unstructured``, or ``none`` when the ratio is 0.
    """

    bits: int = 32
    prune_ratio: float = 0.0
    prune_kind: str = "none"

    PARAMETERS: ClassVar[tuple[str, ...]] = ("bits", "prune_ratio", "prune_kind")
    """The config keys ``from_config`` reads."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Compression:
        """Read ``bits``, ``prune_ratio`` and ``prune_kind`` (each optional).

        Raises:
            ArchitectureError: A value outside its range.
        """
        bits = int(config.get("bits", 32))
        ratio = float(config.get("prune_ratio", 0.0))
        kind = str(config.get("prune_kind", "structured"))
        if bits not in BITS:
            raise ArchitectureError(f"`bits` must be one of {list(BITS)}, got {bits}.")
        if not 0.0 <= ratio < _MAX_PRUNE_RATIO:
            raise ArchitectureError(
                f"`prune_ratio` must be in [0, {_MAX_PRUNE_RATIO}), got {ratio}."
            )
        if kind not in PRUNE_KINDS:
            raise ArchitectureError(
                f"`prune_kind` must be one of {list(PRUNE_KINDS)}, got {kind!r}."
            )
        return cls(bits, ratio, kind if ratio > 0 else "none")

    @property
    def bit_widths(self) -> tuple[int, int]:
        """Weight and run-time activation bit widths."""
        return self.bits, activation_bits(self.bits)


def _prune_in_place(
    model: nn.Sequential, compression: Compression, task: TaskSpec
) -> nn.Sequential:
    if compression.prune_kind == "none":
        return model
    kind = "structured" if compression.prune_kind == "structured" else "unstructured"
    return prune(model, kind, compression.prune_ratio, task.input_shape)


def shaped_chain(
    spec: ArchSpec, task: TaskSpec, compression: Compression
) -> tuple[nn.Sequential, list[int]]:
    """An untrained network of the config's final shape and its pruned weight counts.

    The same builder, pruning and folding as a trial, on random weights: channel counts
    and masked weight counts depend on the ratio only, never on the weights' values.

    Raises:
        ArchitectureError: The architecture cannot be built for the task's input.
    """
    model = build_model(spec, task, seed=_SHAPE_SEED).eval()
    model = _prune_in_place(model, compression, task)
    return fold_batchnorm(model), pruned_counts(model)


@dataclass
class Compressed:
    """A compressed network and what its compression recorded.

    Attributes:
        scored: The network as it is scored (fake quantizers on, weights baked).
        exported: The float chain that is exported (weights on the ``bits`` grid).
        pruned: Weights removed by pruning, per conv or dense layer.
        prune_s: Seconds spent pruning and fine-tuning.
        quant_s: Seconds spent folding, calibrating and in QAT.
    """

    scored: nn.Sequential
    exported: nn.Sequential
    pruned: list[int]
    prune_s: float
    quant_s: float


def calibration_set(data: TaskData, size: int) -> np.ndarray:
    """``size`` training rows evenly spread over the training set (never test rows).

    Fixed rows, so fake quantization and onnxruntime calibrate on the same inputs; spread
    out, because FSDD's training rows are sorted by digit.
    """
    n = len(data.x_train)
    index = np.unique(np.linspace(0, n - 1, min(size, n)).round().astype(int))
    return data.x_train[index]


def compress(
    model: nn.Sequential,
    data: TaskData,
    task: TaskSpec,
    compression: Compression,
    finetune: TrainSettings,
    *,
    calibration: np.ndarray,
    seed: int,
) -> Compressed:
    """Prune, fine-tune, fold and quantize a trained network (``model`` is consumed).

    Args:
        model: The trained network, batch norm unfolded.
        data: Task arrays for the fine-tunes.
        task: The task's shapes and loss.
        compression: Bits and pruning of the config.
        finetune: Settings of each fine-tune (after pruning, under QAT).
        calibration: Inputs that set the activation ranges.
        seed: Trial seed; each fine-tune derives its batch order from it.

    Returns:
        The compressed network.
    """
    start = time.perf_counter()
    model = _prune_in_place(model, compression, task)
    if compression.prune_kind != "none" and finetune.epochs > 0:
        fit(model, data, task.kind, finetune, seed=seed + 1, what="pruning fine-tune")
    pruned = pruned_counts(model)
    folded = time.perf_counter()
    chain = fold_batchnorm(model)
    if compression.prune_kind == "unstructured":
        freeze_zeros(chain)
    scored = add_fake_quant(chain, compression.bits)
    if scored is not chain:
        calibrate(scored, calibration)
        if finetune.epochs > 0:
            fit(scored, data, task.kind, finetune, seed=seed + 2, what="QAT fine-tune")
        calibrate(scored, calibration)
    bake_weights(scored)
    done = time.perf_counter()
    return Compressed(scored.eval(), strip_act_quant(scored), pruned, folded - start, done - folded)
