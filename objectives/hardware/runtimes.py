"""Inference runtimes: which exist, how a device name or an MLPerf row names one, and generations.

The same core at the same clock runs a network 2-4x apart under different runtimes, so a device
is a core class plus a runtime. Device names carry the runtime after a slash and, optionally, a
version after an ``@``: ``cortex_m7`` (the profile's documented default runtime),
``cortex_m7/plumerai`` (the runtime's latest fitted generation), ``cortex_m7/x_cube_ai@7.3``
(the generation that version belongs to). The catalogue is data
(``profiles/runtimes.yaml``): families with the regexes that recognize them in an MLPerf Tiny
``framework`` string, their generations, the cores they run on, and the core classes with the
physical ratios that relate a class without rows to its parent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from objectives.hardware.errors import UnknownDeviceError

__all__ = [
    "CoreClass",
    "DeviceName",
    "Family",
    "RuntimeRef",
    "UnknownRuntimeError",
    "catalogue",
    "core_class_of",
    "identify_runtime",
    "parse_device_name",
    "parse_version",
    "resolve_runtime",
    "runtime_of_text",
]

Version = tuple[int, ...]


class UnknownRuntimeError(UnknownDeviceError):
    """A runtime name that no family has, or one that does not run on the device's core."""


def parse_version(text: str) -> Version:
    """``'8.1.0'`` -> ``(8, 1, 0)``; ``'2023.05'`` -> ``(2023, 5)``.

    Raises:
        ValueError: ``text`` is not dot-separated integers.
    """
    if not re.fullmatch(r"\d+(\.\d+)*", text.strip()):
        raise ValueError(f"a version is dot-separated integers such as 8.1, got {text!r}")
    return tuple(int(part) for part in text.strip().split("."))


@dataclass(frozen=True)
class Generation:
    """Releases of a runtime from version ``since`` on (until the next generation)."""

    label: str
    since: Version


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    major_offset: int = 0


@dataclass(frozen=True)
class Family:
    """One runtime (all its versions).

    Attributes:
        name: Name used in device names (``plumerai``).
        title: What it is, for tables.
        cores: Core classes it runs on; another core is an error, not a guess.
        generations: Oldest first; a version belongs to the last one it has reached.
        patterns: Regexes that recognize it in an MLPerf ``framework`` string (group 1 the
            version, if any).
        unversioned: Generation of a framework string that names no version.
        by_round: Generation of an unversioned row, by MLPerf round (a commit hash dates
            nothing, the round does).
        derived_from: ``(family, factor, log_sd)`` of a runtime without rows whose cycles
            are a known multiple of another's.
        listed: False for ``unrecognized``, the family of MLPerf rows whose framework no
            pattern matches: predicted, never named by a user.
    """

    name: str
    title: str
    cores: tuple[str, ...]
    generations: tuple[Generation, ...]
    patterns: tuple[_Pattern, ...] = ()
    unversioned: str | None = None
    by_round: tuple[tuple[str, str], ...] = ()
    derived_from: tuple[str, float, float] | None = None
    listed: bool = True

    @property
    def latest(self) -> Generation:
        return self.generations[-1]

    def generation_of(self, version: Version | None) -> Generation:
        """The generation a version belongs to; no version: the latest."""
        if version is None:
            return self.latest
        reached = [g for g in self.generations if version >= g.since]
        return reached[-1] if reached else self.generations[0]

    def generation_of_row(self, version: Version | None, round_: str | None) -> Generation:
        """The generation of an MLPerf row: by its version, else by its round, else the
        family's ``unversioned`` generation, else the latest."""
        if version is not None:
            return self.generation_of(version)
        label = dict(self.by_round).get(round_ or "", self.unversioned)
        return self.latest if label is None else self.generation(label)

    def generation(self, label: str) -> Generation:
        for g in self.generations:
            if g.label == label:
                return g
        raise KeyError(label)


@dataclass(frozen=True)
class CoreClass:
    """A core class (``cortex-m4``) and, where it has no rows, how it relates to its parent."""

    name: str
    regex: re.Pattern[str]
    parent: str | None = None
    factor: float = 1.0
    log_sd: float = 0.0


@dataclass(frozen=True)
class Catalogue:
    families: dict[str, Family]
    cores: dict[str, CoreClass]

    def families_for(self, core: str) -> list[str]:
        """Runtime names a device on a core class can be named with, in catalogue order."""
        return [name for name, f in self.families.items() if core in f.cores and f.listed]

    def ancestry(self, core: str) -> list[str]:
        """The core and its parents up to a root class, nearest first."""
        chain = [core]
        while (parent := self.cores[chain[-1]].parent) is not None:
            chain.append(parent)
        return chain


@cache
def catalogue() -> Catalogue:
    """The runtime families and core classes of ``profiles/runtimes.yaml``."""
    text = resources.files("objectives.hardware.profiles").joinpath("runtimes.yaml").read_text()
    data = yaml.safe_load(text)
    families = {}
    for name, f in data["families"].items():
        derived = f.get("derived_from")
        families[name] = Family(
            name=name,
            title=f["title"],
            cores=tuple(f["cores"]),
            generations=tuple(
                Generation(str(g["label"]), parse_version(str(g["since"])))
                for g in f["generations"]
            ),
            patterns=tuple(
                _Pattern(re.compile(p["regex"], re.IGNORECASE), int(p.get("major_offset", 0)))
                for p in f.get("patterns", [])
            ),
            unversioned=f.get("unversioned"),
            by_round=tuple((str(k), str(v)) for k, v in (f.get("by_round") or {}).items()),
            derived_from=(
                (derived["family"], float(derived["factor"]), float(derived["log_sd"]))
                if derived
                else None
            ),
            listed=bool(f.get("listed", True)),
        )
    cores = {
        name: CoreClass(
            name=name,
            regex=re.compile(c["regex"], re.IGNORECASE),
            parent=c.get("parent"),
            factor=float(c.get("factor", 1.0)),
            log_sd=float(c.get("log_sd", 0.0)),
        )
        for name, c in data["cores"].items()
    }
    return Catalogue(families, cores)


@dataclass(frozen=True)
class RuntimeRef:
    """A runtime family at one generation; ``version`` is what was asked for, if anything."""

    family: str
    generation: str
    version: Version | None = None

    def __str__(self) -> str:
        if self.version is None:
            return self.family
        return f"{self.family}@{'.'.join(map(str, self.version))}"


@dataclass(frozen=True)
class DeviceName:
    """A device name split into its profile and runtime parts."""

    profile: str
    runtime: str | None = None
    version: Version | None = None


def parse_device_name(name: str) -> DeviceName:
    """Split ``cortex_m7/x_cube_ai@8.1`` into profile, runtime and version.

    A path to a profile YAML is returned whole (a calibrated profile names its own runtime).

    Raises:
        UnknownRuntimeError: A version that is not dot-separated integers.

    Example:
        >>> parse_device_name("cortex_m7/x_cube_ai@8.1")
        DeviceName(profile='cortex_m7', runtime='x_cube_ai', version=(8, 1))
    """
    if name.endswith((".yaml", ".yml")) or "/" not in name:
        return DeviceName(name)
    profile, _, runtime = name.partition("/")
    runtime, _, version = runtime.partition("@")
    if not version:
        return DeviceName(profile, runtime)
    try:
        return DeviceName(profile, runtime, parse_version(version))
    except ValueError as e:
        raise UnknownRuntimeError(f"Device {name!r}: {e}.") from None


def runtime_of_text(text: str, core: str) -> RuntimeRef | None:
    """A runtime stated as a device-name runtime (``x_cube_ai@8.1``) or an MLPerf framework
    string (``X-CUBE-AI v8.1.0``) on a core class; None when neither recognizes it."""
    name, _, version = text.strip().partition("@")
    family = catalogue().families.get(name)
    if family is not None and family.listed and core in family.cores:
        try:
            parsed = parse_version(version) if version else None
        except ValueError:
            return None
        return RuntimeRef(name, family.generation_of(parsed).label, parsed)
    return identify_runtime(text, core)


def resolve_runtime(core: str, runtime: str, version: Version | None = None) -> RuntimeRef:
    """The family and generation a runtime name means on a core class.

    Raises:
        UnknownRuntimeError: The family is unknown or does not run on ``core``; the message
            lists the runtimes that do.
    """
    cat = catalogue()
    family = cat.families.get(runtime)
    if family is None or not family.listed:
        family = None
    if family is None or core not in family.cores:
        known = ", ".join(cat.families_for(core)) or "none"
        what = "Unknown runtime" if family is None else "Runtime"
        where = "" if family is None else f" does not run on {core}"
        raise UnknownRuntimeError(f"{what} {runtime!r}{where}; runtimes for {core}: {known}.")
    return RuntimeRef(runtime, family.generation_of(version).label, version)


def core_class_of(processor_core: str) -> str | None:
    """The core class of an MLPerf ``processor_core`` string, or None (not a modelled core)."""
    for name, core in catalogue().cores.items():
        if core.regex.search(processor_core):
            return name
    return None


def identify_runtime(
    framework: str, core: str, *, system_id: str = "", round_: str | None = None
) -> RuntimeRef | None:
    """The runtime an MLPerf row names in its ``framework`` (and ``system_id``) on a core.

    Returns None when no family that runs on ``core`` recognizes the string
    (``read_mlperf`` then files the row under ``unrecognized``).

    Example:
        >>> identify_runtime("X-CUBE-AI v8.0.0", "cortex-m4")
        RuntimeRef(family='x_cube_ai', generation='7.3', version=(8, 0, 0))
    """
    text = f"{framework} {system_id}".lower()
    for name, family in catalogue().families.items():
        if core not in family.cores:
            continue
        for pattern in family.patterns:
            match = pattern.regex.search(text)
            if match is None:
                continue
            raw = match.group(1) if match.re.groups else None
            version = None
            if raw:
                parts = parse_version(raw)
                version = (parts[0] + pattern.major_offset, *parts[1:])
            return RuntimeRef(name, family.generation_of_row(version, round_).label, version)
    return None
