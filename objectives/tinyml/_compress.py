"""From a trained network to the deployed one: prune, fine-tune, fold, quantize.

The default order is the usual one for integer deployment: prune the network with batch
norm in place and fine-tune it (batch norm helps it recover), fold batch norm into the
convolutions (what the exported graph and a Cortex-M runtime run), then insert fake
quantizers, calibrate, fine-tune with quantization in the loop (QAT) and calibrate again
on the final weights, as onnxruntime's static quantization will. A config may choose
post-training quantization instead of QAT (``quant: ptq``: no training under
quantization), the other order (``pipeline: quantize_then_prune``) and knowledge
distillation in every fine-tune (``distill: logits``, ``_distill.py``); each stage's
fine-tune budget is a ``FineTunes`` setting of the adapter. None of these choices changes
the exported graph's shape, only its weights: ``shaped_chain`` takes the bits and pruning
steps without data or training, to give an untrained network of the same final shape.
Its graph statistics (``_built.built_graph_stats``) are the reference that
``_plan.planned_graph_stats``, which ``check()`` and ``known_metrics()`` use because it
builds nothing, is tested against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from torch import nn

from objectives.tinyml._arch import ArchSpec
from objectives.tinyml._data import TaskData, TaskSpec
from objectives.tinyml._distill import Distillation
from objectives.tinyml._models import build_model
from objectives.tinyml._prune import fold_batchnorm, freeze_zeros, prune, pruned_counts
from objectives.tinyml._quant import add_fake_quant, bake_weights, calibrate, strip_act_quant
from objectives.tinyml._settings import Compression, FineTunes, PruneKind, TrainSettings
from objectives.tinyml._train import fit

__all__ = ["Compressed", "calibration_set", "compress", "shaped_chain"]

#: Seed of the untrained network ``shaped_chain`` builds; its weights never matter.
_SHAPE_SEED = 0


def _prune_in_place(
    model: nn.Sequential, compression: Compression, task: TaskSpec
) -> nn.Sequential:
    if compression.prune_kind == "none":
        return model
    kind: PruneKind = "structured" if compression.prune_kind == "structured" else "unstructured"
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
    finetunes: FineTunes,
    *,
    calibration: np.ndarray,
    seed: int,
    teacher_logits: np.ndarray | None = None,
) -> Compressed:
    """Prune and quantize a trained network in the config's order (``model`` is consumed).

    ``prune_then_quantize``: prune with batch norm in place, fine-tune, fold, add fake
    quantizers, calibrate, QAT fine-tune (``qat``). ``quantize_then_prune``: fold, add
    fake quantizers, calibrate, QAT fine-tune (``qat``), round the weights, prune that
    network and fine-tune it (under fake quantization with ``qat``, in float with
    ``ptq``). Both end the same way: calibrate on ``calibration`` and round the weights
    to the ``bits`` grid, so the exported graph is the same for the same bits and pruning.

    Args:
        model: The trained network, batch norm unfolded.
        data: Task arrays for the fine-tunes.
        task: The task's shapes and loss.
        compression: The compression of the config.
        finetunes: Budget of each fine-tune stage.
        calibration: Inputs that set the activation ranges.
        seed: Trial seed; each fine-tune derives its batch order from it.
        teacher_logits: The teacher's training-set logits; needed when ``compression``
            distils.

    Returns:
        The compressed network.
    """
    kd = None
    if compression.distill != "none":
        if teacher_logits is None:
            raise ValueError("`teacher_logits` are needed when the compression distils.")
        kd = Distillation(teacher_logits, compression.kd_temperature, compression.kd_alpha)
    seconds = {"prune": 0.0, "quant": 0.0}

    def fine_tune(net: nn.Module, settings: TrainSettings, seed_offset: int, what: str) -> None:
        if settings.epochs > 0:
            fit(net, data, task.kind, settings, seed=seed + seed_offset, what=what, distill=kd)

    def prune_step(net: nn.Sequential, *, train: bool) -> nn.Sequential:
        """Prune, and fine-tune in float if ``train``."""
        start = time.perf_counter()
        net = _prune_in_place(net, compression, task)
        if train and compression.prune_kind != "none":
            fine_tune(net, finetunes.prune, 1, "pruning fine-tune")
        seconds["prune"] += time.perf_counter() - start
        return net

    def quantize_step(chain: nn.Sequential, *, train: bool) -> nn.Sequential:
        """Fake quantizers on a folded chain, calibrated; with ``train`` QAT follows and a
        second calibration on the final weights, as onnxruntime's will be."""
        start = time.perf_counter()
        scored = add_fake_quant(chain, compression.bits)
        if scored is not chain:
            calibrate(scored, calibration)
            if train:
                fine_tune(scored, finetunes.quantize, 2, "QAT fine-tune")
                calibrate(scored, calibration)
        seconds["quant"] += time.perf_counter() - start
        return scored

    qat = compression.quant == "qat"
    if compression.pipeline == "prune_then_quantize":
        model = prune_step(model, train=True)
        pruned = pruned_counts(model)
        chain = fold_batchnorm(model)
        if compression.prune_kind == "unstructured":
            freeze_zeros(chain)  # folding rebuilt the layers without their masks
        scored = quantize_step(chain, train=qat)
    else:
        scored = quantize_step(fold_batchnorm(model), train=qat)
        bake_weights(scored)
        chain = prune_step(strip_act_quant(scored), train=not qat)
        pruned = pruned_counts(chain)
        scored = quantize_step(chain, train=False)
        if qat:  # the pruning fine-tune, under the quantizers
            start = time.perf_counter()
            fine_tune(scored, finetunes.prune, 1, "pruning fine-tune under QAT")
            calibrate(scored, calibration)
            seconds["prune"] += time.perf_counter() - start
    bake_weights(scored)
    exported = strip_act_quant(scored)
    return Compressed(scored.eval(), exported, pruned, seconds["prune"], seconds["quant"])
