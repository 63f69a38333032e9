"""Flash, peak SRAM, and fits / does-not-fit with the limit and excess named."""

from __future__ import annotations

import dataclasses

import pytest

from objectives.hardware import (
    GraphStats,
    LayerStats,
    cost_on_device,
    load_device,
    memory_footprint,
    reference_graph,
)


def dense(n_in: int, n_out: int, **kw: object) -> LayerStats:
    return LayerStats("fc", "Gemm", "dense", n_in * n_out, n_in * n_out + n_out, n_in, n_out, **kw)


def test_flash_is_weights_at_their_width_plus_runtime() -> None:
    graph = GraphStats((dense(1000, 1000, weight_bits=4),))
    runtime = load_device("cortex_m4").memory.runtime_flash_kB
    expected = 1_001_000 * 4 / 8 / 1024 + runtime
    assert memory_footprint(graph, "cortex_m4").flash_kB == pytest.approx(expected)


def test_sparse_weights_are_stored_with_a_bitmask_when_it_pays() -> None:
    layer = dense(100, 100, sparsity=0.75)  # 25 % of 8-bit values + 1 bit per weight
    graph, runtime = GraphStats((layer,)), load_device("cortex_m4").memory.runtime_flash_kB
    expected = (0.25 * 10_100 * 8 + 10_100) / 8 / 1024 + runtime
    assert memory_footprint(graph, "cortex_m4").flash_kB == pytest.approx(expected)
    barely = GraphStats((dataclasses.replace(layer, sparsity=0.05),))  # bitmask would not pay
    dense_kB = 10_100 / 1024 + runtime
    assert memory_footprint(barely, "cortex_m4").flash_kB == pytest.approx(dense_kB)


def test_peak_sram_is_the_largest_live_pair_plus_runtime() -> None:
    graph = reference_graph("kws")
    runtime = load_device("cortex_m7").memory.runtime_sram_kB
    # a depthwise or pointwise layer: 25x5x64 in and out, int8 (conv0 has only 49x10x1 in)
    expected = (2 * 25 * 5 * 64) / 1024 + runtime
    assert memory_footprint(graph, "cortex_m7").sram_kB == pytest.approx(expected)


def test_reference_models_fit_the_m4() -> None:
    for benchmark in ("ic", "kws", "vww", "ad"):
        footprint = memory_footprint(reference_graph(benchmark), "cortex_m4")
        assert footprint.fits()
        assert footprint.explain().startswith("fits on cortex_m4 (flash ")
        assert all(v <= 0 for v in footprint.as_constraints().values())


def test_too_many_weights_names_flash_and_the_excess() -> None:
    big = GraphStats((dense(1000, 600),))  # 600 600 bytes = 586.5 kB + 22 kB runtime
    footprint = memory_footprint(big, "cortex_m0plus")
    assert not footprint.fits()
    need = 600_600 / 1024 + 22
    assert footprint.flash_excess_kB == pytest.approx(need - 512)
    assert footprint.explain() == (
        f"does not fit on cortex_m0plus: flash needs {need:.1f} kB, "
        f"{need - 512:.1f} kB over the 512.0 kB limit"
    )
    assert footprint.as_constraints()["flash_excess_kB"] > 0
    assert footprint.as_constraints()["sram_excess_kB"] < 0


def test_too_large_activations_name_sram_and_the_excess() -> None:
    wide = GraphStats((LayerStats("conv", "Conv", "conv", 10**6, 100, 100_000, 100_000),))
    footprint = memory_footprint(wide, "cortex_m0plus")
    need = 200_000 / 1024 + 8
    assert footprint.sram_excess_kB == pytest.approx(need - 144)
    assert "SRAM needs" in footprint.explain()
    assert f"{need - 144:.1f} kB over the 144.0 kB limit" in footprint.explain()
    assert "flash" not in footprint.explain().split(":")[1]


def test_a_model_can_exceed_both_limits_and_both_are_named() -> None:
    fp32 = GraphStats(
        tuple(
            dataclasses.replace(x, weight_bits=32, activation_bits=32)
            for x in reference_graph("vww").layers
        )
    )
    text = memory_footprint(fp32, "cortex_m0plus").explain()
    assert "flash needs" in text and "SRAM needs" in text


def test_quantizing_makes_a_model_fit() -> None:
    fp32 = GraphStats((dense(1000, 200, weight_bits=32),))
    assert not memory_footprint(fp32, "cortex_m0plus").fits()
    int8 = GraphStats((dense(1000, 200, weight_bits=8),))
    assert memory_footprint(int8, "cortex_m0plus").fits()


def test_full_cost_carries_the_same_memory_verdict() -> None:
    big = GraphStats((dense(1000, 600),))
    cost = cost_on_device(big, "cortex_m0plus")
    footprint = memory_footprint(big, "cortex_m0plus")
    assert (cost.flash_kB, cost.sram_kB, cost.fits()) == (
        footprint.flash_kB,
        footprint.sram_kB,
        False,
    )
    assert set(cost.as_metrics()) == {
        "latency_ms",
        "energy_mJ",
        "flash_kB",
        "sram_kB",
        "latency_ms_p90",
        "energy_mJ_p90",
    }
