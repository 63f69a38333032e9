"""Edge SoC (QEIL): power laws per unit and greedy per-layer placement across CPU/GPU/NPU."""

from __future__ import annotations

import itertools

import pytest

from objectives.hardware import (
    GraphStats,
    HardwareError,
    LayerStats,
    UnknownOpWarning,
    cost_on_device,
    load_device,
    place_layers,
    placement_cost,
    reference_graph,
)


def layer(name: str, macs: int, kind: str = "conv", bits: int = 8) -> LayerStats:
    return LayerStats(name, "Conv", kind, macs, macs // 100, 4096, 4096, bits, bits)


def mixed_graph() -> GraphStats:
    """Big int8 convolutions (NPU work), an fp32 block the NPU cannot run, and an op only
    the CPU knows."""
    return GraphStats(
        (
            layer("conv0", 20_000_000),
            layer("conv1", 20_000_000),
            layer("fp32_head", 8_000_000, bits=32),
            LayerStats("erf", "Erf", "other", 0, 0, 4096, 4096),
            layer("conv2", 20_000_000),
        )
    )


@pytest.mark.parametrize("objective", ["latency", "energy"])
def test_placement_beats_the_best_single_unit_on_a_mixed_graph(objective: str) -> None:
    with pytest.warns(UnknownOpWarning, match=r"erf .*Erf.*on the units that list `other`"):
        placement = place_layers(mixed_graph(), load_device("edge_soc"), objective=objective)
    assert placement.best_single_unit == "cpu"  # the only unit that runs every layer
    assert len(set(placement.units)) >= 2
    assert placement.units[0] == "npu" and placement.units[3] == "cpu"
    gain = placement.latency_gain if objective == "latency" else placement.energy_gain
    assert gain > 0.3


def test_placement_cost_is_the_power_laws_plus_transfers() -> None:
    soc = load_device("edge_soc")
    graph = GraphStats((layer("a", 30_000_000), layer("b", 30_000_000)))
    placement = place_layers(graph, soc)
    assert placement.units == ("npu", "npu")
    work = 30_000_000 + 4096 + 4096
    kb = 4096 / 1024  # int8 activations in, and back to the CPU at the end
    hop = soc.transfer.fixed_ms + soc.transfer.ms_per_kB * kb
    assert placement.latency_ms == pytest.approx(2 * soc.units["npu"].latency_ms(work) + 2 * hop)
    assert placement.best_single_unit == "npu"
    assert placement.single_latency_ms == pytest.approx(placement.latency_ms)


@pytest.mark.parametrize("objective", ["latency", "energy"])
def test_placement_is_the_best_of_all_assignments_of_a_small_graph(objective: str) -> None:
    soc, graph = load_device("edge_soc"), mixed_graph()
    pick = 0 if objective == "latency" else 1
    runnable = [
        [
            name
            for name, unit in soc.units.items()
            if layer.kind in unit.kinds and (layer.weight_bits != 32 or "fp32" in unit.precisions)
        ]
        for layer in graph.layers
    ]
    with pytest.warns(UnknownOpWarning):
        brute = min(
            placement_cost(graph, soc, list(units))[pick] for units in itertools.product(*runnable)
        )
        placement = place_layers(graph, soc, objective=objective)
    assert (placement.latency_ms, placement.energy_mJ)[pick] == pytest.approx(brute)


@pytest.mark.parametrize("benchmark", ["ic", "kws", "vww", "ad"])
def test_placement_is_never_worse_than_a_single_unit(benchmark: str) -> None:
    placement = place_layers(reference_graph(benchmark), load_device("edge_soc"))
    assert placement.latency_ms <= placement.single_latency_ms * (1 + 1e-12)


def test_small_layers_stay_on_the_cpu_where_transfers_would_cost_more() -> None:
    graph = GraphStats(tuple(layer(f"l{i}", 2_000) for i in range(4)))
    assert set(place_layers(graph, load_device("edge_soc")).units) == {"cpu"}


def test_soc_cost_reports_the_placement_and_gain() -> None:
    cost = cost_on_device(reference_graph("ic"), "edge_soc")
    assert len(cost.detail["placement"]) == len(reference_graph("ic").layers)
    assert cost.detail["latency_gain"] >= -1e-12
    assert cost.latency_ms > 0 and cost.energy_mJ > 0


def test_a_layer_no_unit_runs_is_an_error() -> None:
    soc = load_device("edge_soc")
    units = {name: unit.model_copy(update={"kinds": ("conv",)}) for name, unit in soc.units.items()}
    narrow = soc.model_copy(update={"units": units})
    graph = GraphStats((LayerStats("fc", "Gemm", "dense", 100, 100, 10, 10),))
    with pytest.raises(HardwareError, match=r"no unit runs layer 'fc' \(dense, 8-bit weights"):
        place_layers(graph, narrow)
