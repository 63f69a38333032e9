r"""The fitted per-runtime cost model of Cortex-M class cores: structure, prior and composition.

A layer's int8 cycles on core class ``c`` under runtime ``r`` are

    cycles_l = MACs_l * cpm[kind_l] + outputs_l * cpo + elements_l * cpe + overhead

(``cpm`` per kind: conv, depthwise_conv, dense; ``cpo`` per output element: bias, requantize,
store, what makes short dot products slow; ``cpe`` per input element of a MAC-free layer:
pooling, residual adds; ``overhead`` per layer). Each of the six constants is, in log space, a
sum of effects shrunk toward zero by a Gaussian prior:

    log theta_p = mean_p + sum over c and its parent classes (core_c + core_{c,p})
                  + family_f + family_{f,p} + generation_{f,g} + generation_{f,g,p}
                  + core_family_{c,f} + core_family_{c,f,p} + board_b

so a runtime is mostly one speed factor with a few kind-specific corrections, a core class is
the same across runtimes, and a (core, runtime) pair without rows is estimated from its
neighbours (the runtime on other cores, other runtimes on this core) with the interaction at
its prior mean of zero. A core class without rows (Cortex-M55, M85) is its parent times a
physical ratio (``runtimes.yaml``). ``fit.py`` finds the effects (maximum a posteriori) on the
public MLPerf Tiny rows; ``runtime_model.yaml`` ships them with the held-out spread of each
pair, the step between consecutive generations and the active power per board and runtime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Literal, TypeAlias, get_args

import numpy as np
import yaml

from objectives.hardware.runtimes import RuntimeRef, Version, catalogue, parse_version

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from objectives.hardware.stats import GraphStats, LayerStats

__all__ = [
    "LOOSENESS",
    "MAC_KINDS",
    "PARAMETERS",
    "STAND_INS",
    "BoardPower",
    "KindConstants",
    "MacKind",
    "PairFit",
    "Prediction",
    "RuntimeModel",
    "effect_keys",
    "graph_features",
    "layer_features",
    "prior_mean",
    "prior_sd",
    "runtime_model",
]

PARAMETERS = ("conv", "depthwise_conv", "dense", "output", "element", "layer")
"""The six constants of a (core, runtime): cycles per MAC of three kinds, per output element,
per element of a MAC-free layer, per layer."""
MacKind: TypeAlias = Literal["conv", "depthwise_conv", "dense"]
"""A layer kind with its own cycles-per-MAC constant."""
MAC_KINDS: tuple[MacKind, ...] = get_args(MacKind)
FREE_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
"""Ops that only relabel a tensor: runtimes alias them, so they cost nothing."""

PRIOR_MEAN = {
    "conv": math.log(2.0),
    "depthwise_conv": math.log(3.0),
    "dense": math.log(3.0),
    "output": math.log(12.0),
    "element": math.log(4.0),
    "layer": math.log(1000.0),
}
"""Prior centre of each constant [EST], about an M4 under CMSIS-NN: 2 cycles per conv MAC (the
DSP's SMLAD does 2 per cycle, loads cost the rest), 12 per output (a fixed-point requantize),
4 per element of an add or pool, 1000 per operator call."""
PRIOR_SD = {
    "mean": 2.0,
    "core": 1.0,
    "core/p": 0.3,
    "family": 0.7,
    "family/p": 0.3,
    "generation": 0.3,
    "generation/p": 0.2,
    "core_family": 0.15,
    "core_family/p": 0.1,
    "board": 0.15,
}
"""Log-scale prior spread of each level: a core class or a runtime changes speed by up to 2x, a
generation by 30 %, a board by 15 %, a kind-specific correction by 10-30 %."""
LOOSENESS = {
    "conv": 1.0,
    "depthwise_conv": 1.0,
    "dense": 1.0,
    "output": 2.0,
    "element": 0.1,
    "layer": 0.25,
}
"""Scale of the prior spreads of each constant. The four MLPerf models mix the layer kinds in
only three ways (ResNet: 3x3 convs of 144-576 MACs per output; DS-CNN and MobileNet: 1x1 convs
of 8-256 MACs per output with depthwise; the autoencoder: dense), so what separates ResNet from
the others is the per-output cost: it is left loose. Per-element and per-layer costs are
barely identified: left loose, the fit makes a residual add cost 200 cycles per element to
explain ResNet; they are held near their physical prior (pooling layers of small models
depend on it)."""

EffectKey = tuple[str, ...]

STAND_INS = ("fastest", "median", "average")
"""How a runtime without any fitted rows (an MLPerf row of a new runtime) is predicted on its
core: as the fitted runtime that runs the four reference models fastest, as the median fitted
runtime, or as the average runtime (its family effects at their prior centre of zero). Which
one a model uses is chosen by leave-one-round-out on earlier rounds (``fit.choose_rules``)."""


def prior_mean(key: EffectKey) -> float:
    """Prior centre of one effect: the constants' centre, a derived core's log ratio, else 0."""
    level = key[0]
    if level == "mean":
        return PRIOR_MEAN[key[1]]
    if level == "core" and len(key) == 2:
        core = catalogue().cores[key[1]]
        return math.log(core.factor) if core.parent is not None else 0.0
    return 0.0


def prior_sd(key: EffectKey) -> float:
    """Prior spread of one effect (``PRIOR_SD`` x ``LOOSENESS``; a derived core's own)."""
    level = key[0]
    if level == "mean":
        return PRIOR_SD["mean"] * LOOSENESS[key[1]]
    if level == "core" and len(key) == 2:
        core = catalogue().cores[key[1]]
        return core.log_sd if core.parent is not None else PRIOR_SD["core"]
    if key[-1] in PARAMETERS and level != "board":
        return PRIOR_SD[f"{level}/p"] * LOOSENESS[key[-1]]
    return PRIOR_SD[level]


def effect_keys(
    core: str, family: str, generation: str, board: str | None, parameter: str
) -> Iterator[EffectKey]:
    """The effects whose sum is ``log theta`` of one parameter (module docstring)."""
    yield ("mean", parameter)
    for c in catalogue().ancestry(core):
        yield ("core", c)
        yield ("core", c, parameter)
    yield ("family", family)
    yield ("family", family, parameter)
    yield ("generation", family, generation)
    yield ("generation", family, generation, parameter)
    yield ("core_family", core, family)
    yield ("core_family", core, family, parameter)
    if board is not None:
        yield ("board", board)


def layer_features(layer: LayerStats) -> dict[str, float]:
    """What one int8 layer contributes to each of the six constants' multipliers.

    A layer of kind ``other`` (an op the model does not know) is costed like a convolution
    with its MACs, outputs and input traffic: never as zero.
    """
    if layer.op_type in FREE_OPS:
        return {}
    features = {"layer": 1.0}
    kind = layer.kind
    if kind in MAC_KINDS or kind == "other":
        features["conv" if kind == "other" else kind] = float(layer.macs)
        features["output"] = float(layer.output_elements)
    if kind in ("pool", "elementwise", "other"):
        features["element"] = float(layer.input_elements)
    return features


def graph_features(graph: GraphStats) -> np.ndarray:
    """Sum of ``layer_features`` over a graph, in ``PARAMETERS`` order."""
    total = dict.fromkeys(PARAMETERS, 0.0)
    for layer in graph.layers:
        for name, value in layer_features(layer).items():
            total[name] += value
    return np.array([total[p] for p in PARAMETERS])


@dataclass(frozen=True)
class KindConstants:
    """The six int8 constants of one (core, runtime, board), in cycles."""

    cycles_per_mac: Mapping[MacKind, float]
    cycles_per_output: float
    cycles_per_element: float
    layer_overhead_cycles: float

    @classmethod
    def from_log(cls, theta: np.ndarray) -> KindConstants:
        values = dict(zip(PARAMETERS, np.exp(theta).tolist(), strict=True))
        return cls(
            {k: values[k] for k in MAC_KINDS},
            values["output"],
            values["element"],
            values["layer"],
        )

    def as_log(self) -> np.ndarray:
        values = [*(self.cycles_per_mac[k] for k in MAC_KINDS)]
        values += [self.cycles_per_output, self.cycles_per_element, self.layer_overhead_cycles]
        return np.log(values)


@dataclass(frozen=True)
class PairFit:
    """What the rows say about one (core class, runtime family) pair."""

    rows: int
    boards: tuple[str, ...]
    generations: Mapping[str, int]
    latency_log_sd: float


@dataclass(frozen=True)
class BoardPower:
    """Active current of a board, measured in MLPerf Tiny's energy mode.

    Attributes:
        mA_per_MHz: Supply current per MHz of core clock at ``supply_V`` (typical runtime).
        regulator: ``ldo``: the current does not depend on the supply, so power scales with
            it; ``smps``: a switching regulator converts, so power does not.
        supply_V: The supply the rows were measured at (median).
        rows: Rows with energy behind the figure.
    """

    mA_per_MHz: float
    regulator: str
    supply_V: float
    rows: int


@dataclass(frozen=True)
class Prediction:
    """The constants of a device, how uncertain they are, and why (if estimated)."""

    constants: KindConstants
    latency_log_sd: float
    note: str | None = None


@dataclass(frozen=True)
class RuntimeModel:
    """Fitted effects and spreads (``fit.py`` makes it, ``runtime_model.yaml`` ships it).

    Attributes:
        effects: Effect key -> value (log scale); a missing key is at its prior mean.
        generation_step: Log change of cycles from one generation of a runtime to the next;
            a generation without rows is predicted as the nearest fitted generation of its
            family plus this step per generation between them (newer: faster, older:
            slower), a version newer than every fitted one as the latest plus one step.
        pooled_log_sd: Held-out (leave-one-system-out) log-scale spread over all pairs.
        neighbour_log_sd: Held-out spread of a pair predicted without any of its rows.
        pairs: What was fitted, by ``(core, family)``.
        versions: Newest version per family among the fitted rows.
        board_power: Active current per board (rows with energy).
        core_power: Geometric mean mA/MHz of the boards of a core class.
        family_power: Log factor of the active power of a runtime family.
        power_log_sd: Held-out spread of log power (per row, given its latency).
        source: How the model was made (the command and the rows).
        stand_in: How a runtime without rows is predicted (``STAND_INS``).
    """

    effects: Mapping[EffectKey, float]
    generation_step: float
    pooled_log_sd: float
    neighbour_log_sd: float
    pairs: Mapping[tuple[str, str], PairFit]
    versions: Mapping[str, Version] = field(default_factory=dict)
    board_power: Mapping[str, BoardPower] = field(default_factory=dict)
    core_power: Mapping[str, float] = field(default_factory=dict)
    family_power: Mapping[str, float] = field(default_factory=dict)
    power_log_sd: float = 0.0
    source: str = ""
    stand_in: str = "fastest"

    def log_parameters(
        self, core: str, runtime: RuntimeRef, board: str | None = None
    ) -> np.ndarray:
        """``log theta`` of the six constants (a derived runtime: its parent's times a factor)."""
        family, generation, offset = runtime.family, runtime.generation, 0.0
        derived = catalogue().families[family].derived_from
        if derived is not None:
            family, factor, _ = derived
            generation = catalogue().families[family].latest.label
            offset = math.log(factor)
            runtime = RuntimeRef(family, generation)
        generation, steps = self.generation_shift(runtime)
        if board is not None and ("board", board) not in self.effects:
            board = None
        theta = np.array(
            [
                sum(
                    self.effects.get(key, prior_mean(key))
                    for key in effect_keys(core, family, generation, board, p)
                )
                for p in PARAMETERS
            ]
        )
        return theta + offset + steps * self.generation_step

    def generation_shift(self, runtime: RuntimeRef) -> tuple[str, int]:
        """The fitted generation that predicts a runtime, and how many generation steps away
        it is (positive: newer than it).

        A generation with rows is itself (plus one step for a version newer than every
        fitted one); one without is the nearest fitted generation of its family (the older
        one on a tie) plus the catalogue generations between them. A family without fitted
        generations is at its prior (no shift).
        """
        fitted = self.fitted_generations(runtime.family)
        if not fitted:
            return runtime.generation, 0
        order = [g.label for g in catalogue().families[runtime.family].generations]
        wanted = order.index(runtime.generation)
        nearest = min(fitted, key=lambda g: (abs(order.index(g) - wanted), order.index(g)))
        steps = wanted - order.index(nearest)
        newest = self.versions.get(runtime.family)
        if steps == 0 and runtime.version is not None and newest is not None:
            steps = int(runtime.version > newest)
        return nearest, steps

    def fitted_generations(self, family: str) -> list[str]:
        """Generations of a family that rows were fitted on, oldest first."""
        generations = catalogue().families[family].generations
        return [g.label for g in generations if ("generation", family, g.label) in self.effects]

    def stand_in_family(self, core: str) -> RuntimeRef | None:
        """The runtime that predicts a runtime without rows on a core class (``stand_in``),
        or None when no runtime was fitted on the core.

        ``fastest`` and ``median`` rank the fitted runtimes (latest generation) of the core
        by the geometric mean of their cycles on the four MLPerf Tiny models; ``average``
        is the unrecognized runtime itself, whose family effects sit at their prior centre.
        """
        from objectives.hardware.reference import REFERENCE_MODELS

        features = np.array([graph_features(build()) for build in REFERENCE_MODELS.values()])
        scored = []
        for pair_core, family in sorted(self.pairs or self._fitted_pairs()):
            if pair_core != core:
                continue
            ref = RuntimeRef(family, self.fitted_generations(family)[-1])
            cycles = features @ np.exp(self.log_parameters(core, ref))
            scored.append((float(np.mean(np.log(cycles))), ref))
        if not scored:
            return None
        if self.stand_in == "average":
            return RuntimeRef("unrecognized", "0")
        scored.sort(key=lambda item: item[0])
        if self.stand_in == "median":
            return scored[(len(scored) - 1) // 2][1]
        return scored[0][1]

    def _fitted_pairs(self) -> set[tuple[str, str]]:
        """(core, family) pairs with an interaction effect: the pairs rows were fitted on."""
        return {(k[1], k[2]) for k in self.effects if k[0] == "core_family" and len(k) == 3}

    def predict(self, core: str, runtime: RuntimeRef, board: str | None = None) -> Prediction:
        """Constants, spread and (for estimated pairs) the reason, of one device."""
        constants = KindConstants.from_log(self.log_parameters(core, runtime, board))
        cat = catalogue()
        family = cat.families[runtime.family]
        pair = self.pairs.get((core, runtime.family))
        variance, notes = 0.0, []
        if pair is not None:
            variance = pair.latency_log_sd**2
        else:
            variance = self.neighbour_log_sd**2
            notes.append(f"no rows for {runtime.family} on {core}")
        if family.derived_from is not None:
            parent, factor, log_sd = family.derived_from
            variance += log_sd**2
            notes.append(f"{runtime.family} is {parent} x {factor:g}")
        for c in cat.ancestry(core):
            if not any(k == c for k, _ in self.pairs):
                variance += cat.cores[c].log_sd ** 2
        fitted_generation, steps = self.generation_shift(runtime)
        if steps:
            variance += (steps * self.generation_step) ** 2
            newest = ".".join(map(str, self.versions[runtime.family]))
            what = "newer" if steps > 0 else "older"
            notes.append(
                f"{runtime} is {what} than the fitted {newest if steps > 0 else fitted_generation}"
                f": {fitted_generation} x {math.exp(steps * self.generation_step):.2f} "
                f"({abs(steps)} typical step{'s' if abs(steps) > 1 else ''} between generations)"
            )
        note = None
        if notes:
            note = (
                "; ".join(notes) + f"; estimated from neighbours, log sd {math.sqrt(variance):.2f}"
            )
        return Prediction(constants, math.sqrt(variance), note)

    def active_power_mW(
        self,
        core: str,
        runtime: RuntimeRef,
        board: str | None,
        clock_mhz: float,
        supply_V: float | None,
        fallback_mW: float,
    ) -> float:
        """Active power of a device: the board's current per MHz (its class's, else
        ``fallback_mW``) at this clock and supply, times the runtime's factor.

        ``supply_V=None`` means the supply the board's energy rows were measured at (3.3 V
        for a board without them).
        """
        generation = f"{runtime.family}/{runtime.generation}"
        factor = math.exp(
            self.family_power.get(runtime.family, 0.0) + self.family_power.get(generation, 0.0)
        )
        power = self.board_power.get(board or "")
        if power is not None:
            volts = power.supply_V if supply_V is None or power.regulator == "smps" else supply_V
            return power.mA_per_MHz * clock_mhz * volts * factor
        if core in self.core_power:
            return self.core_power[core] * clock_mhz * (supply_V or 3.3) * factor
        return fallback_mW * factor

    # -- serialization ----------------------------------------------------------------

    def to_yaml(self) -> str:
        data = {
            "source": self.source,
            "parameters": list(PARAMETERS),
            "generation_step": round(self.generation_step, 5),
            "stand_in": self.stand_in,
            "pooled_log_sd": round(self.pooled_log_sd, 5),
            "neighbour_log_sd": round(self.neighbour_log_sd, 5),
            "versions": {f: ".".join(map(str, v)) for f, v in sorted(self.versions.items())},
            "pairs": {
                f"{core}/{family}": {
                    "rows": p.rows,
                    "boards": list(p.boards),
                    "generations": dict(p.generations),
                    "latency_log_sd": round(p.latency_log_sd, 5),
                }
                for (core, family), p in sorted(self.pairs.items())
            },
            "power": {
                "log_sd": round(self.power_log_sd, 5),
                "boards": {
                    b: {
                        "mA_per_MHz": round(p.mA_per_MHz, 6),
                        "regulator": p.regulator,
                        "supply_V": p.supply_V,
                        "rows": p.rows,
                    }
                    for b, p in sorted(self.board_power.items())
                },
                "cores": {c: round(v, 6) for c, v in sorted(self.core_power.items())},
                "families": {f: round(v, 5) for f, v in sorted(self.family_power.items())},
            },
            "effects": {"/".join(k): round(v, 6) for k, v in sorted(self.effects.items())},
        }
        header = "".join(f"# {line}\n" for line in self.source.splitlines())
        return header + yaml.safe_dump(data, sort_keys=False, width=100)

    @classmethod
    def from_yaml(cls, text: str) -> RuntimeModel:
        data = yaml.safe_load(text)
        power = data.get("power", {})
        return cls(
            effects={tuple(k.split("/")): float(v) for k, v in data["effects"].items()},
            generation_step=float(data["generation_step"]),
            stand_in=str(data.get("stand_in", "fastest")),
            pooled_log_sd=float(data["pooled_log_sd"]),
            neighbour_log_sd=float(data["neighbour_log_sd"]),
            pairs={
                tuple(key.split("/")): PairFit(
                    rows=int(p["rows"]),
                    boards=tuple(p["boards"]),
                    generations={str(g): int(n) for g, n in p["generations"].items()},
                    latency_log_sd=float(p["latency_log_sd"]),
                )
                for key, p in data["pairs"].items()
            },
            versions={f: parse_version(str(v)) for f, v in data.get("versions", {}).items()},
            board_power={
                b: BoardPower(
                    float(p["mA_per_MHz"]), p["regulator"], float(p["supply_V"]), p["rows"]
                )
                for b, p in power.get("boards", {}).items()
            },
            core_power={c: float(v) for c, v in power.get("cores", {}).items()},
            family_power={f: float(v) for f, v in power.get("families", {}).items()},
            power_log_sd=float(power.get("log_sd", 0.0)),
            source=str(data.get("source", "")),
        )


@cache
def runtime_model() -> RuntimeModel:
    """The shipped model (``profiles/runtime_model.yaml``)."""
    path = resources.files("objectives.hardware.profiles").joinpath("runtime_model.yaml")
    return RuntimeModel.from_yaml(path.read_text(encoding="utf-8"))
