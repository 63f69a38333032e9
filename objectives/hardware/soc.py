r"""Edge SoC with CPU, GPU and NPU: QEIL power laws and per-layer placement.

QEIL (arXiv 2602.06057) finds that the latency and energy of each device class follow
power laws in the work done, ``y = a * x**b``. Here each layer's work is

    x_l = MACs_l + input_elements_l + output_elements_l

so that MAC-free layers (pooling, adds) still cost something; on a unit that skips zero
weights, MACs_l counts only the non-zero ones. Every unit has its own
laws; a unit with a launch overhead (a GPU) has a small exponent ``b`` and a large ``a``,
so it wins only on big layers. A transfer between units costs a fixed latency plus the
layer's input activation bytes over the link; the input arrives on, and the output returns
to, the first unit listed in the profile (the CPU).

QEIL places layers greedily, each on the unit minimizing ``cost(layer, unit) +
transfer(previous unit -> unit)``. Greedy cannot see that leaving a unit now forces a
transfer back later, and on a residual network it can lose to running everything on the
NPU. Since a graph here is a chain, the placement minimizing the summed cost is found
exactly by dynamic programming over (layer, unit) states, O(layers x units^2); it is never
worse than greedy nor than any single unit. The placement is reported with its gain over
the best single unit that can run every layer. A layer of kind ``other`` (an op the model
does not know) runs only on units listing ``other`` in their kinds, and is warned about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from objectives.hardware.analytic import layer_precision, warn_unknown_ops
from objectives.hardware.errors import HardwareError
from objectives.hardware.memory import KIB, activation_bytes

if TYPE_CHECKING:
    from objectives.hardware.profile import DeviceProfile, SocUnit, TransferCost
    from objectives.hardware.stats import GraphStats, LayerStats

__all__ = ["Placement", "layer_work", "place_layers", "placement_cost"]

Objective = Literal["latency", "energy"]

ON_UNITS_THAT_RUN_OTHER = (
    "on the units that list `other` in their kinds (the CPU), by the power law of their "
    "MACs and activation elements"
)


@dataclass(frozen=True)
class Placement:
    """A per-layer assignment of a graph to SoC units, and what it costs.

    Attributes:
        units: Unit name per layer, in execution order.
        latency_ms: End-to-end latency including transfers.
        energy_mJ: Energy including transfers.
        best_single_unit: The single unit (able to run every layer) with the lowest
            objective, or ``""`` when no unit runs every layer.
        single_latency_ms: Latency of that single unit.
        single_energy_mJ: Energy of that single unit.
    """

    units: tuple[str, ...]
    latency_ms: float
    energy_mJ: float
    best_single_unit: str
    single_latency_ms: float
    single_energy_mJ: float

    @property
    def latency_gain(self) -> float:
        """Fraction of the best single unit's latency saved by the placement."""
        return 1.0 - self.latency_ms / self.single_latency_ms

    @property
    def energy_gain(self) -> float:
        """Fraction of the best single unit's energy saved by the placement."""
        return 1.0 - self.energy_mJ / self.single_energy_mJ


def layer_work(layer: LayerStats, unit: SocUnit) -> float:
    """The QEIL power-law argument of one layer on one unit (see the module docstring)."""
    macs = layer.macs * (1.0 - layer.sparsity) if unit.sparse else float(layer.macs)
    return macs + layer.input_elements + layer.output_elements


def _runs(unit: SocUnit, layer: LayerStats) -> bool:
    return layer.kind in unit.kinds and layer_precision(layer, unit.precisions) in unit.precisions


def _transfer(link: TransferCost, elements: int, bits: int) -> tuple[float, float]:
    kb = elements * activation_bytes(bits) / KIB
    return link.fixed_ms + link.ms_per_kB * kb, link.mJ_per_kB * kb


def placement_cost(
    graph: GraphStats, profile: DeviceProfile, units: list[str]
) -> tuple[float, float]:
    """Latency (ms) and energy (mJ) of a given unit per layer, transfers included."""
    assert profile.units is not None and profile.transfer is not None
    home = next(iter(profile.units))
    latency = energy = 0.0
    previous = home
    for layer, name in zip(graph.layers, units, strict=True):
        unit = profile.units[name]
        latency += unit.latency_ms(layer_work(layer, unit))
        energy += unit.energy_mJ(layer_work(layer, unit))
        if name != previous:
            t, e = _transfer(profile.transfer, layer.input_elements, layer.activation_bits)
            latency, energy = latency + t, energy + e
        previous = name
    if graph.layers and previous != home:
        last = graph.layers[-1]
        t, e = _transfer(profile.transfer, last.output_elements, last.activation_bits)
        latency, energy = latency + t, energy + e
    return latency, energy


def place_layers(
    graph: GraphStats, profile: DeviceProfile, *, objective: Objective = "latency"
) -> Placement:
    """Per-layer placement of a graph on a ``soc`` profile minimizing one objective.

    Args:
        graph: The network.
        profile: A profile of kind ``soc``.
        objective: What the placement minimizes (transfers included).

    Returns:
        The placement, its cost, and the best single unit for comparison.

    Raises:
        HardwareError: A layer that no unit of the SoC can run.
    """
    assert profile.units is not None and profile.transfer is not None
    warn_unknown_ops(graph, ON_UNITS_THAT_RUN_OTHER)
    pick = 0 if objective == "latency" else 1
    home = next(iter(profile.units))
    # best[u] = (cost of the best placement of the layers so far ending on u, its units)
    best: dict[str, tuple[float, list[str]]] = {home: (0.0, [])}
    for layer in graph.layers:
        step: dict[str, tuple[float, list[str]]] = {}
        for name, unit in profile.units.items():
            if not _runs(unit, layer):
                continue
            own = (unit.latency_ms, unit.energy_mJ)[pick](layer_work(layer, unit))
            hop = _transfer(profile.transfer, layer.input_elements, layer.activation_bits)[pick]
            step[name] = min(
                (cost + own + (hop if prev != name else 0.0), [*units, name])
                for prev, (cost, units) in best.items()
            )
        if not step:
            raise HardwareError(
                f"Device '{profile.name}': no unit runs layer '{layer.name}' "
                f"({layer.kind}, {layer.weight_bits}-bit weights, "
                f"{layer.activation_bits}-bit activations)."
            )
        best = step
    last = graph.layers[-1] if graph.layers else None
    back = (
        _transfer(profile.transfer, last.output_elements, last.activation_bits)[pick]
        if last is not None
        else 0.0
    )
    _, chosen = min(
        (cost + (back if name != home else 0.0), units) for name, (cost, units) in best.items()
    )
    latency, energy = placement_cost(graph, profile, chosen)
    singles = [
        (placement_cost(graph, profile, [name] * len(graph.layers)), name)
        for name, unit in profile.units.items()
        if all(_runs(unit, layer) for layer in graph.layers)
    ]
    if singles:
        (single_latency, single_energy), best_unit = min(singles, key=lambda s: s[0][pick])
    else:
        (single_latency, single_energy), best_unit = (float("nan"), float("nan")), ""
    return Placement(tuple(chosen), latency, energy, best_unit, single_latency, single_energy)
