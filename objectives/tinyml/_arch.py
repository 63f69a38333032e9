"""The architecture part of a config, parsed and canonical, without torch.

What a config's architecture means (``ArchSpec``), which inputs it can pool, and each
task's distillation teacher are plain arithmetic on the config. They live apart from the
torch builders (``_models.py``) so that everything that only reads configs (``check``,
``known_metrics``, ``workload_metrics``: ``moo report`` and ``moo recommend`` on a stored
study) runs without importing torch, which takes seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from objectives.tinyml._errors import ArchitectureError

if TYPE_CHECKING:
    from objectives.tinyml._data import TaskSpec

__all__ = ["ARCHS", "TEACHERS", "ArchSpec"]

ARCHS = ("mlp", "cnn", "dscnn")


@dataclass(frozen=True)
class ArchSpec:
    """The architecture part of a config, canonical: what shapes the trained network.

    Parameters that an architecture does not use are dropped (an MLP has no kernel), so
    configs that differ only in them share one trained model in the cache.

    Attributes:
        arch: ``mlp``, ``cnn`` or ``dscnn``.
        width: Units of every hidden dense layer (MLP) or channels of every conv layer,
            after the width multiplier.
        depth: Hidden dense layers (MLP) or conv blocks (CNN, DS-CNN).
        kernel: Conv kernel size (odd); 1 for the MLP.
    """

    arch: Literal["mlp", "cnn", "dscnn"]
    width: int
    depth: int
    kernel: int = 1

    PARAMETERS: ClassVar[tuple[str, ...]] = (
        "arch",
        "depth",
        "width",
        "blocks",
        "channels",
        "kernel",
        "width_mult",
    )
    """The config keys ``from_config`` reads."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ArchSpec:
        """Read the architecture of a config.

        An MLP reads ``depth`` and ``width``; a CNN or DS-CNN reads ``blocks`` and
        ``channels`` (falling back to ``depth`` and ``width``, for spaces that share one
        size parameter) and ``kernel`` (default 3). ``width_mult`` (default 1) scales the
        width, as the multiplier of MobileNet and MLPerf Tiny's DS-CNN does.

        Raises:
            ArchitectureError: A parameter is missing or out of range.
        """
        arch = str(config.get("arch", ""))
        if arch not in ARCHS:
            raise ArchitectureError(f"`arch` must be one of {list(ARCHS)}, got {arch!r}.")
        conv = arch != "mlp"
        try:
            depth = int(config["blocks"] if conv and "blocks" in config else config["depth"])
            base = int(config["channels"] if conv and "channels" in config else config["width"])
        except KeyError as e:
            raise ArchitectureError(f"{arch} needs parameter {e}.") from None
        kernel = int(config.get("kernel", 3)) if conv else 1
        width_mult = float(config.get("width_mult", 1.0))
        if not width_mult > 0:
            raise ArchitectureError(f"`width_mult` must be > 0, got {width_mult}.")
        width = round(base * width_mult)
        if min(width, depth, kernel) < 1 or kernel % 2 == 0:
            raise ArchitectureError(
                f"width x width_mult and depth must be >= 1 and kernel odd, got "
                f"width={width}, depth={depth}, kernel={kernel}."
            )
        return cls(arch=arch, width=width, depth=depth, kernel=kernel)  # type: ignore[arg-type]


def _shape_text(shape: list[int] | tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _check_poolable(spec: ArchSpec, task: TaskSpec, block: int, spatial: list[int]) -> None:
    """Refuse a CNN block whose ``spatial`` input is too small for its 2x max-pool."""
    if min(spatial) < 2:
        raise ArchitectureError(
            f"a cnn with {spec.depth} blocks max-pools {spec.depth} times, but the "
            f"{_shape_text(task.input_shape[1:])} input of task {task.name!r} is down to "
            f"{_shape_text(spatial)} after {block} pools; lower `blocks`."
        )


#: The teacher of each task that has one: a fixed CNN wider than most students of the
#: task's search space (and as deep as its pooling allows on FSDD's 10 MFCC columns), so
#: that it is a strong float model within the task's default training epochs.
TEACHERS: dict[str, ArchSpec] = {
    "digits": ArchSpec("cnn", width=32, depth=2, kernel=3),
    "fsdd": ArchSpec("cnn", width=32, depth=3, kernel=3),
}
