"""The compression and training settings of a trial, parsed and canonical, without torch.

A config's compression (``Compression``: bits, pruning, quantization mode, order,
distillation) and the adapter's training budgets (``TrainSettings``, ``FineTunes``) are
plain values: what they mean, and how many channels or weights a pruning ratio keeps, is
arithmetic. They live apart from the torch code that trains and compresses
(``_train.py``, ``_compress.py``, ``_prune.py``, ``_quant.py``) so that everything that
only reads configs (``check``, ``known_metrics``, ``workload_metrics``: ``moo report`` and
``moo recommend`` on a stored study) runs without importing torch, which takes seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias, get_args

from objectives.tinyml._errors import ArchitectureError

__all__ = [
    "BITS",
    "DISTILL_MODES",
    "PIPELINES",
    "PRUNE_KINDS",
    "QUANT_MODES",
    "Compression",
    "FineTunes",
    "PruneKind",
    "TrainSettings",
    "activation_bits",
]

#: Weight bit widths (``_quant.py`` fake-quantizes to them; 32 is the float model).
BITS = (2, 4, 8, 16, 32)
#: A pruning kind (``_prune.py``): whole channels or single weights.
PruneKind: TypeAlias = Literal["structured", "unstructured"]
#: The pruning kinds a config may name.
PRUNE_KINDS: tuple[PruneKind, ...] = get_args(PruneKind)
#: Distillation modes (``_distill.py``).
DISTILL_MODES = ("none", "logits")
#: Quantization modes: quantization-aware training or post-training quantization.
QUANT_MODES = ("qat", "ptq")
#: Orders of the two compression steps.
PIPELINES = ("prune_then_quantize", "quantize_then_prune")
#: Pruning ratios at or above this leave too little of a layer to be worth a trial.
_MAX_PRUNE_RATIO = 0.95
#: Weight bit width of the float model (no quantization step).
_FLOAT_BITS = 32
#: Distillation defaults: a common middle of the temperatures Hinton et al. used, and
#: equal weight on labels and soft targets.
DEFAULT_KD_TEMPERATURE = 4.0
DEFAULT_KD_ALPHA = 0.5


def activation_bits(bits: int) -> int:
    """Run-time activation width of a model whose weights have ``bits`` bits."""
    return 8 if bits <= 8 else bits


def _keep_count(n: int, ratio: float) -> int:
    """Outputs a structured pruning at ``ratio`` keeps of a layer's ``n`` (at least one)."""
    return max(1, round(n * (1.0 - ratio)))


def _masked_count(n: int, ratio: float) -> int:
    """Weights an unstructured pruning at ``ratio`` zeroes of a layer's ``n``."""
    return round(n * ratio)


@dataclass(frozen=True)
class TrainSettings:
    """Optimizer settings of one training phase; part of the cache keys.

    Attributes:
        epochs: Passes over the training set.
        batch_size: Samples per step.
        lr: Peak Adam learning rate, annealed to 0 with a cosine schedule.
    """

    epochs: int
    batch_size: int = 64
    lr: float = 3e-3


@dataclass(frozen=True)
class Compression:
    """The compression part of a config, canonical: a choice that changes nothing is
    dropped (no pruning kind without pruning, no quantization mode at 32 bits, no order
    without both steps, no distillation without a fine-tune to distil in), so configs
    that make the same model share one cache entry.

    Attributes:
        bits: Weight bit width, one of ``BITS``; 32 is the float model.
        prune_ratio: Share of channels (structured) or weights (unstructured) removed.
        prune_kind: ``structured``, ``unstructured``, or ``none`` when the ratio is 0.
        quant: ``qat`` (fine-tune with fake quantizers in the loop) or ``ptq`` (round the
            trained weights and calibrate the activations on training rows, no training
            under quantization); canonical ``none`` at 32 bits.
        pipeline: ``prune_then_quantize`` or ``quantize_then_prune``.
        distill: ``logits`` (every fine-tune learns the teacher's soft targets as well)
            or ``none``.
        kd_temperature: Softmax temperature of distillation, ``> 0``.
        kd_alpha: Weight of the teacher's soft targets, in ``[0, 1]``.
    """

    bits: int = 32
    prune_ratio: float = 0.0
    prune_kind: str = "none"
    quant: str = "qat"
    pipeline: str = "prune_then_quantize"
    distill: str = "none"
    kd_temperature: float = DEFAULT_KD_TEMPERATURE
    kd_alpha: float = DEFAULT_KD_ALPHA

    PARAMETERS: ClassVar[tuple[str, ...]] = (
        "bits",
        "prune_ratio",
        "prune_kind",
        "quant",
        "pipeline",
        "distill",
        "kd_temperature",
        "kd_alpha",
    )
    """The config keys ``from_config`` reads."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, can_distill: bool = True) -> Compression:
        """Read the compression keys of a config (each optional; defaults: 32 bits, no
        pruning, ``qat``, ``prune_then_quantize``, no distillation).

        Args:
            config: The config.
            can_distill: Whether the task has a teacher; ``distill: logits`` is refused
                on a task without one, even where it would change nothing.

        Raises:
            ArchitectureError: A value outside its range.
        """
        bits = int(config.get("bits", 32))
        ratio = float(config.get("prune_ratio", 0.0))
        kind = str(config.get("prune_kind", "structured"))
        quant = str(config.get("quant", "qat"))
        pipeline = str(config.get("pipeline", PIPELINES[0]))
        distill = str(config.get("distill", "none"))
        temperature = float(config.get("kd_temperature", DEFAULT_KD_TEMPERATURE))
        alpha = float(config.get("kd_alpha", DEFAULT_KD_ALPHA))
        if bits not in BITS:
            raise ArchitectureError(f"`bits` must be one of {list(BITS)}, got {bits}.")
        if not 0.0 <= ratio < _MAX_PRUNE_RATIO:
            raise ArchitectureError(
                f"`prune_ratio` must be in [0, {_MAX_PRUNE_RATIO}), got {ratio}."
            )
        for name, value, allowed in (
            ("prune_kind", kind, PRUNE_KINDS),
            ("quant", quant, QUANT_MODES),
            ("pipeline", pipeline, PIPELINES),
            ("distill", distill, DISTILL_MODES),
        ):
            if value not in allowed:
                raise ArchitectureError(f"`{name}` must be one of {list(allowed)}, got {value!r}.")
        if not temperature > 0:
            raise ArchitectureError(f"`kd_temperature` must be > 0, got {temperature}.")
        if not 0.0 <= alpha <= 1.0:
            raise ArchitectureError(f"`kd_alpha` must be in [0, 1], got {alpha}.")
        if distill != "none" and not can_distill:
            raise ArchitectureError(
                "`distill` must be 'none': the task has no teacher (only classifiers have "
                "one; an autoencoder's reconstruction is not distilled)."
            )
        kind = kind if ratio > 0 else "none"
        quant = quant if bits < _FLOAT_BITS else "none"
        if kind == "none" or quant == "none":
            pipeline = PIPELINES[0]
        if kind == "none" and quant in ("none", "ptq"):  # no fine-tune to distil in
            distill = "none"
        if distill == "none":
            temperature, alpha = DEFAULT_KD_TEMPERATURE, DEFAULT_KD_ALPHA
        return cls(bits, ratio, kind, quant, pipeline, distill, temperature, alpha)

    @property
    def bit_widths(self) -> tuple[int, int]:
        """Weight and run-time activation bit widths."""
        return self.bits, activation_bits(self.bits)

    @property
    def shape(self) -> Compression:
        """The part that shapes the exported graph (bits and pruning): the hardware cost
        depends on it alone, never on how the weights were found."""
        return Compression(self.bits, self.prune_ratio, self.prune_kind)


@dataclass(frozen=True)
class FineTunes:
    """The training budget of each compression stage; part of the cache keys.

    Attributes:
        prune: The fine-tune after pruning (under fake quantization when it follows QAT).
        quantize: The quantization-aware fine-tune (``qat`` only; ``ptq`` trains nothing).
    """

    prune: TrainSettings
    quantize: TrainSettings
