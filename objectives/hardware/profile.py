"""Device profiles: the data a hardware model needs about one chip, validated.

A profile is a YAML file in ``objectives/hardware/profiles/`` (one per device). Every number
in it carries its source in a comment; this module only checks that the numbers are
present, positive and consistent, and turns a bad file into one error naming the file and
the field.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from objectives.hardware.errors import ProfileError, UnknownDeviceError

__all__ = [
    "ComputeModel",
    "DeviceProfile",
    "HostSettings",
    "MemoryModel",
    "PowerLaw",
    "SocUnit",
    "TransferCost",
    "known_devices",
    "load_device",
    "load_profile_file",
]

Precision = Literal["int2", "int4", "int8", "int16", "fp32"]
"""Precision keys of ``macs_per_cycle``; ``int2``/``int4`` present means sub-byte kernels."""

_PROFILE_PACKAGE = "objectives.hardware.profiles"
_REQUIRED_PRECISIONS = ("int8",)


class _Strict(BaseModel):
    """Base of all profile sections: unknown keys are typos, so they are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ComputeModel(_Strict):
    """How fast one compute unit (a CPU core or an NPU) runs a layer.

    Attributes:
        macs_per_cycle: Sustained multiply-accumulates per cycle by precision, for layers
            with high data reuse (convolutions). A sub-byte key (``int4``) means the unit
            has kernels for it; without one, sub-byte weights run at the ``int8`` rate.
        bytes_per_cycle: Bytes per cycle the unit streams through its load path; layers
            with little reuse (dense, depthwise) are bound by it.
        cycles_per_output: Cycles to finish one output element (bias, requantize, clamp,
            store); what makes layers with short dot products (1x1, small dense) slow.
        layer_overhead_cycles: Fixed cost of launching one layer (call, setup, requantize).
        overlap_memory: True where memory traffic runs in parallel with compute (an NPU's
            DMA), so a layer costs ``max(compute, memory)``; a CPU core pays the sum.
        sparse_kernels: True where the unit skips zero weights (unstructured sparsity
            then removes MACs and weight traffic); otherwise sparsity only saves flash.
        energy_pJ_per_byte: Energy of moving one byte, added to active power x time.
    """

    macs_per_cycle: dict[Precision, float]
    bytes_per_cycle: float = Field(gt=0)
    cycles_per_output: float = Field(ge=0)
    layer_overhead_cycles: float = Field(ge=0)
    overlap_memory: bool = False
    sparse_kernels: bool = False
    energy_pJ_per_byte: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _check_rates(self) -> ComputeModel:
        for key in _REQUIRED_PRECISIONS:
            if key not in self.macs_per_cycle:
                raise ValueError(f"macs_per_cycle needs an '{key}' entry")
        for key, rate in self.macs_per_cycle.items():
            if not rate > 0 or not math.isfinite(rate):
                raise ValueError(f"macs_per_cycle.{key} must be > 0, got {rate}")
        return self


class MemoryModel(_Strict):
    """What the runtime itself takes, on top of the network's weights and activations.

    Attributes:
        runtime_flash_kB: Code of the inference runtime and its kernels, in KiB.
        runtime_sram_kB: Stack, heap and kernel scratch buffers, in KiB.
    """

    runtime_flash_kB: float = Field(ge=0)
    runtime_sram_kB: float = Field(ge=0)


class PowerLaw(_Strict):
    """``y = a * x ** b`` (QEIL): x is a layer's work (MACs + activation elements)."""

    a: float = Field(gt=0)
    b: float = Field(gt=0)

    def __call__(self, x: float) -> float:
        return self.a * x**self.b


class SocUnit(_Strict):
    """One compute unit of an edge SoC, described by QEIL power laws.

    Attributes:
        latency_ms: Latency of one layer in ms as a power law of its work.
        energy_mJ: Energy of one layer in mJ as a power law of its work.
        precisions: Precisions the unit runs; other layers cannot be placed on it.
        kinds: Layer kinds the unit runs (an NPU runs no ``other`` ops).
        sparse: True where the unit skips zero weights, so pruned MACs are not work.
    """

    latency_ms: PowerLaw
    energy_mJ: PowerLaw
    precisions: tuple[Precision, ...]
    kinds: tuple[str, ...]
    sparse: bool = False


class TransferCost(_Strict):
    """Cost of handing an activation tensor from one SoC unit to another."""

    fixed_ms: float = Field(ge=0)
    ms_per_kB: float = Field(ge=0)
    mJ_per_kB: float = Field(ge=0)


class HostSettings(_Strict):
    """How the ``host`` device is measured with onnxruntime."""

    warmup: int = Field(ge=0)
    repeats: int = Field(ge=1)
    threads: int = Field(ge=1)


class DeviceProfile(_Strict):
    """One device: a microcontroller, an MCU with an NPU, an edge SoC, or the host.

    Attributes:
        name: Profile name (the file stem), as used in study YAML files.
        kind: ``mcu`` and ``npu`` use the analytic layer model, ``soc`` the QEIL power
            laws with per-layer placement, ``host`` is measured with onnxruntime.
        description: The chip/board the numbers describe.
        core: Core class (``cortex-m4``); profiles of one class share fitted constants.
        clock_mhz: Clock the latency and active power refer to.
        flash_kB: Non-volatile memory for weights and code, KiB.
        sram_kB: RAM for activations and runtime, KiB.
        supply_V: Supply voltage the powers refer to.
        active_power_mW: Power while running inference at ``clock_mhz``.
        idle_power_mW: Power between inferences (the low-power state the board idles in).
        compute: Main compute unit (``mcu``, ``npu``).
        fallback: Unit that runs what ``compute`` cannot (an NPU's host CPU).
        memory: Runtime flash and SRAM overhead.
        units: Compute units of a ``soc``.
        transfer: Cost of moving activations between ``units``.
        measure: onnxruntime settings of the ``host``.
    """

    name: str
    kind: Literal["mcu", "npu", "soc", "host"]
    description: str
    core: str
    clock_mhz: float = Field(gt=0)
    flash_kB: float = Field(gt=0)
    sram_kB: float = Field(gt=0)
    supply_V: float = Field(gt=0)
    active_power_mW: float = Field(gt=0)
    idle_power_mW: float = Field(gt=0)
    memory: MemoryModel
    compute: ComputeModel | None = None
    fallback: ComputeModel | None = None
    units: dict[str, SocUnit] | None = None
    transfer: TransferCost | None = None
    measure: HostSettings | None = None

    @model_validator(mode="after")
    def _check_sections(self) -> DeviceProfile:
        needed = {
            "mcu": ("compute",),
            "npu": ("compute", "fallback"),
            "soc": ("units", "transfer"),
            "host": ("measure",),
        }[self.kind]
        for section in needed:
            if getattr(self, section) is None:
                raise ValueError(f"a '{self.kind}' profile needs a '{section}' section")
        return self


def known_devices() -> list[str]:
    """Names of the profiles shipped with the package, sorted.

    Example:
        >>> "cortex_m4" in known_devices()
        True
    """
    folder = resources.files(_PROFILE_PACKAGE)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_device(name: str) -> DeviceProfile:
    """Load a shipped profile by name, or any profile YAML by path (a calibrated one).

    Args:
        name: A name from ``known_devices()`` or a path ending in ``.yaml``.

    Returns:
        The validated profile. Shipped profiles are cached: they are immutable.

    Raises:
        UnknownDeviceError: ``name`` is neither a shipped profile nor a YAML path.
        ProfileError: The file misses a field or holds an invalid value.

    Example:
        >>> load_device("cortex_m7").clock_mhz
        280.0
    """
    if name.endswith((".yaml", ".yml")):
        return load_profile_file(Path(name))
    if name not in known_devices():
        raise UnknownDeviceError(
            f"Unknown device {name!r}; known devices: {', '.join(known_devices())} "
            "(or pass the path of a profile .yaml)."
        )
    return _load_shipped(name)


@cache
def _load_shipped(name: str) -> DeviceProfile:
    path = resources.files(_PROFILE_PACKAGE).joinpath(f"{name}.yaml")
    return _parse(path.read_text(encoding="utf-8"), where=f"profiles/{name}.yaml")


def load_profile_file(path: Path) -> DeviceProfile:
    """Load and validate one profile YAML file (see ``load_device``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ProfileError(f"{path}: cannot read device profile ({e.strerror}).") from e
    return _parse(text, where=str(path))


def _parse(text: str, *, where: str) -> DeviceProfile:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ProfileError(f"{where}: not valid YAML ({e}).") from e
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: a device profile must be a mapping of fields.")
    try:
        return DeviceProfile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(profile)"
        raise ProfileError(
            f"{where}: field '{field}': {first['msg']} (got {first.get('input')!r})."
        ) from e
