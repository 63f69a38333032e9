"""Device profiles: the data a hardware model needs about one chip, validated.

A profile is a YAML file in ``objectives/hardware/profiles/`` (one per device). Every number
in it carries its source in a comment; this module checks that the numbers are present,
positive and consistent, and turns a bad file into one error naming the file and the field.

A microcontroller profile names its board and a default runtime; ``load_device`` completes
it with the constants of the fitted runtime model (``runtime_model.py``) for the runtime the
device name asks for: ``cortex_m7`` (the default), ``cortex_m7/plumerai``,
``cortex_m7/x_cube_ai@7.3``. A pair of core and runtime without measured rows is estimated
from its neighbours, with a wider spread and a ``RuntimeEstimateWarning`` (once per name).
"""

from __future__ import annotations

import math
import warnings
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from objectives.hardware.errors import (
    HardwareError,
    ProfileError,
    RuntimeEstimateWarning,
    UnknownDeviceError,
)
from objectives.hardware.runtime_model import MAC_KINDS, KindConstants, MacKind, runtime_model
from objectives.hardware.runtimes import parse_device_name, resolve_runtime

__all__ = [
    "ComputeModel",
    "DeviceProfile",
    "HostSettings",
    "MemoryModel",
    "PowerLaw",
    "SocUnit",
    "TransferCost",
    "Uncertainty",
    "known_devices",
    "known_runtimes",
    "load_device",
    "load_profile_file",
    "with_runtime",
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
        cycles_per_mac: Cycles per int8 MAC by layer kind (``conv``, ``depthwise_conv``,
            ``dense``), fitted per core and runtime; where present the layer model is the
            fitted one (``analytic.py``) and ``macs_per_cycle`` only scales precisions.
        cycles_per_element: Cycles per input element of a MAC-free layer (pooling, adds)
            in the fitted model.
    """

    macs_per_cycle: dict[Precision, float]
    bytes_per_cycle: float = Field(gt=0)
    cycles_per_output: float = Field(ge=0)
    layer_overhead_cycles: float = Field(ge=0)
    overlap_memory: bool = False
    sparse_kernels: bool = False
    energy_pJ_per_byte: float = Field(default=0.0, ge=0)
    cycles_per_mac: dict[MacKind, float] | None = None
    cycles_per_element: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_rates(self) -> ComputeModel:
        for key in _REQUIRED_PRECISIONS:
            if key not in self.macs_per_cycle:
                raise ValueError(f"macs_per_cycle needs an '{key}' entry")
        for key, rate in self.macs_per_cycle.items():
            if not rate > 0 or not math.isfinite(rate):
                raise ValueError(f"macs_per_cycle.{key} must be > 0, got {rate}")
        if self.cycles_per_mac is not None:
            if set(self.cycles_per_mac) != set(MAC_KINDS) or self.cycles_per_element is None:
                raise ValueError(
                    f"cycles_per_mac needs {', '.join(MAC_KINDS)} and cycles_per_element"
                )
            for key, cycles in self.cycles_per_mac.items():
                if not cycles > 0 or not math.isfinite(cycles):
                    raise ValueError(f"cycles_per_mac.{key} must be > 0, got {cycles}")
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


class Uncertainty(_Strict):
    """How far a profile's predictions are from measurements it was not fitted to.

    Attributes:
        latency_log_sd: Spread of ``log(measured / predicted)`` latency over held-out rows.
        energy_log_sd: The same for energy per inference (latency and power spreads).
        note: Why a device is estimated rather than fitted (no rows of its runtime on its
            core, a version newer than the fitted ones); empty when fitted.
    """

    latency_log_sd: float = Field(ge=0)
    energy_log_sd: float = Field(ge=0)
    note: str = ""


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
        board: The board the numbers describe, as the runtime model spells it
            (``NUCLEO-L4R5ZI``): its fitted speed and active current apply.
        runtime: The runtime the compute constants belong to (``x_cube_ai``,
            ``plumerai@2023.5``); in a shipped profile, the default of the device.
        uncertainty: Spread of the predictions (``latency_ms_p90`` and friends).
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
    board: str | None = None
    runtime: str | None = None
    uncertainty: Uncertainty | None = None

    def kind_constants(self) -> KindConstants:
        """The fitted per-kind constants of the main unit.

        Raises:
            HardwareError: The profile has none (a roofline unit, an SoC, the host).
        """
        c = self.compute
        if c is None or c.cycles_per_mac is None or c.cycles_per_element is None:
            raise HardwareError(f"Device '{self.name}' has no fitted per-kind constants.")
        return KindConstants(
            dict(c.cycles_per_mac),
            c.cycles_per_output,
            c.cycles_per_element,
            c.layer_overhead_cycles,
        )

    def with_kind_constants(self, constants: KindConstants) -> DeviceProfile:
        """The profile with these per-kind constants; the int8 rate follows the conv
        constant and the other precisions keep their ratios to it."""
        assert self.compute is not None
        rate = 1.0 / constants.cycles_per_mac["conv"] / self.compute.macs_per_cycle["int8"]
        compute = self.compute.model_copy(
            update={
                "macs_per_cycle": {k: v * rate for k, v in self.compute.macs_per_cycle.items()},
                "cycles_per_mac": dict(constants.cycles_per_mac),
                "cycles_per_output": constants.cycles_per_output,
                "cycles_per_element": constants.cycles_per_element,
                "layer_overhead_cycles": constants.layer_overhead_cycles,
            }
        )
        return self.model_copy(update={"compute": compute})

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
    """Names of the profiles shipped with the package, sorted (each with its default runtime;
    ``known_runtimes`` lists the others).

    Example:
        >>> "cortex_m4" in known_devices()
        True
    """
    folder = resources.files(_PROFILE_PACKAGE)
    return sorted(
        p.name.removesuffix(".yaml")
        for p in folder.iterdir()
        if p.name.endswith(".yaml") and p.name not in _DATA_FILES
    )


_DATA_FILES = frozenset({"runtimes.yaml", "runtime_model.yaml"})
"""Files of the profiles folder that are model data, not devices."""


def known_runtimes(device: str) -> list[str]:
    """Runtimes a shipped device can be named with (``device/runtime``), default first.

    Raises:
        UnknownDeviceError: ``device`` is not a shipped profile.

    Example:
        >>> known_runtimes("cortex_m7")[0]
        'x_cube_ai'
    """
    from objectives.hardware.runtimes import catalogue

    base = load_device(parse_device_name(device).profile)
    if base.runtime is None:
        return []
    others = [r for r in catalogue().families_for(base.core) if r != base.runtime]
    return [base.runtime, *others]


def load_device(name: str) -> DeviceProfile:
    """Load a shipped profile by name, with a runtime, or any profile YAML by path.

    Args:
        name: A name from ``known_devices()``, optionally with a runtime and version
            (``cortex_m7/plumerai``, ``cortex_m7/x_cube_ai@7.3``), or a path ending in
            ``.yaml`` (a calibrated profile).

    Returns:
        The validated profile, named ``name``. Shipped devices are cached: they are
        immutable, and an estimated pair warns once.

    Raises:
        UnknownDeviceError: ``name`` is neither a shipped profile nor a YAML path, or names
            a runtime that does not run on the device (the message lists those that do).
        ProfileError: The file misses a field or holds an invalid value.

    Example:
        >>> load_device("cortex_m7").clock_mhz
        280.0
        >>> load_device("cortex_m7/plumerai").runtime
        'plumerai'
    """
    if name.endswith((".yaml", ".yml")):
        return load_profile_file(Path(name))
    parsed = parse_device_name(name)
    if parsed.profile not in known_devices():
        raise UnknownDeviceError(
            f"Unknown device {parsed.profile!r}; known devices: {', '.join(known_devices())} "
            "(or pass the path of a profile .yaml)."
        )
    profile = _load_named(name)
    if profile.uncertainty is not None and profile.uncertainty.note:
        # Python shows a warning once per place that asks, so a study that costs thousands
        # of configs says it once
        warnings.warn(
            f"Device {name!r}: {profile.uncertainty.note}.", RuntimeEstimateWarning, stacklevel=2
        )
    return profile


@cache
def _load_named(name: str) -> DeviceProfile:
    parsed = parse_device_name(name)
    base = _load_shipped(parsed.profile)
    if base.runtime is None or base.kind != "mcu":
        if parsed.runtime is not None and parsed.runtime != base.runtime:
            known = base.runtime or "none (it has no runtime choice)"
            raise UnknownDeviceError(
                f"Device {name!r}: {parsed.profile} runs {known}, not {parsed.runtime!r}."
            )
        return base.model_copy(update={"name": name})
    return with_runtime(base, parsed.runtime or base.runtime, parsed.version, name=name)


def with_runtime(
    base: DeviceProfile, runtime: str, version: tuple[int, ...] | None = None, *, name: str
) -> DeviceProfile:
    """A microcontroller profile with the fitted constants of one runtime on its core.

    Raises:
        UnknownRuntimeError: The runtime does not run on the profile's core.
    """
    assert base.compute is not None
    ref = resolve_runtime(base.core, runtime, version)
    model = runtime_model()
    prediction = model.predict(base.core, ref, base.board)
    power = model.active_power_mW(
        base.core, ref, base.board, base.clock_mhz, base.supply_V, base.active_power_mW
    )
    power_sd = model.power_log_sd if base.board in model.board_power else 2 * model.power_log_sd
    uncertainty = Uncertainty(
        latency_log_sd=prediction.latency_log_sd,
        energy_log_sd=math.hypot(prediction.latency_log_sd, power_sd),
        note=prediction.note or "",
    )
    return base.with_kind_constants(prediction.constants).model_copy(
        update={
            "name": name,
            "active_power_mW": power,
            "runtime": str(ref),
            "uncertainty": uncertainty,
        }
    )


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
