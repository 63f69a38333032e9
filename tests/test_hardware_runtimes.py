"""The runtime as part of the device: names, estimates from neighbours, spreads, bad input."""

from __future__ import annotations

import math
import warnings

import pytest

from objectives.hardware import (
    HardwareCost,
    RuntimeEstimateWarning,
    UnknownDeviceError,
    UnknownRuntimeError,
    average_power_mW,
    battery_life_h,
    cost_on_device,
    cost_on_devices,
    known_runtimes,
    load_device,
    memory_footprint,
    reference_graph,
    runtime_table,
)
from objectives.hardware.runtime_model import runtime_model
from objectives.hardware.runtimes import (
    core_class_of,
    identify_runtime,
    parse_device_name,
    resolve_runtime,
)

KWS = reference_graph("kws")


def latency(device: str, benchmark: str = "kws") -> float:
    return cost_on_device(reference_graph(benchmark), device).latency_ms


def test_a_device_name_carries_runtime_and_version() -> None:
    assert parse_device_name("cortex_m7") == parse_device_name("cortex_m7")
    parsed = parse_device_name("cortex_m7/x_cube_ai@7.3")
    assert (parsed.profile, parsed.runtime, parsed.version) == ("cortex_m7", "x_cube_ai", (7, 3))
    assert load_device("cortex_m7/x_cube_ai@7.3").runtime == "x_cube_ai@7.3"
    assert load_device("cortex_m7").runtime == "x_cube_ai"  # the documented default


def test_the_same_core_and_clock_runs_runtimes_apart() -> None:
    # v1.1 on the same NUCLEO-L4R5ZI: MobileNet 98.8 ms (Plumerai 2023) vs 301 ms (microTVM)
    fast, slow = latency("cortex_m4/plumerai", "vww"), latency("cortex_m4/microtvm", "vww")
    assert 2.0 < slow / fast < 4.0
    assert load_device("cortex_m4/plumerai").clock_mhz == load_device("cortex_m4").clock_mhz


def test_generations_of_a_runtime_differ_where_the_rows_do() -> None:
    # X-CUBE-AI 8.1 brought faster depthwise/pointwise kernels: MobileNet ran 1.9x faster
    assert latency("cortex_m7/x_cube_ai@8.1", "vww") < 0.8 * latency(
        "cortex_m7/x_cube_ai@7.3", "vww"
    )
    assert (
        load_device("cortex_m7/x_cube_ai@8.0").compute
        == load_device("cortex_m7/x_cube_ai@7.3").compute
    )  # 8.0 measured as 7.3: one generation


def test_an_unknown_runtime_lists_the_runtimes_of_that_core() -> None:
    with pytest.raises(UnknownRuntimeError) as info:
        load_device("cortex_m4/tensorrt")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Unknown runtime 'tensorrt'; runtimes for cortex-m4: x_cube_ai")
    assert "plumerai" in message and "vela" not in message


def test_a_runtime_of_another_core_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownRuntimeError, match=r"'vela' does not run on cortex-m4; runtimes"):
        load_device("cortex_m4/vela")
    with pytest.raises(UnknownDeviceError, match=r"ethos_u55 runs vela, not 'plumerai'"):
        load_device("ethos_u55/plumerai")
    with pytest.raises(UnknownDeviceError, match=r"Unknown device 'cortex_m99'"):
        load_device("cortex_m99/plumerai")


def test_a_pair_without_rows_is_estimated_with_a_wider_spread_and_one_warning() -> None:
    with pytest.warns(RuntimeEstimateWarning, match=r"no rows for plumerai on cortex-m0plus"):
        estimated = load_device("cortex_m0plus/plumerai")
    fitted = load_device("cortex_m0plus")  # HALE: measured on this board in v1.1
    assert estimated.uncertainty.latency_log_sd > 1.5 * fitted.uncertainty.latency_log_sd
    assert "estimated from neighbours" in estimated.uncertainty.note
    assert fitted.uncertainty.note == ""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("default")  # Python's own filter: once per place that asks
        for _ in range(3):
            load_device("cortex_m0plus/plumerai")
    assert len(said) == 1


def test_a_version_newer_than_the_fitted_ones_is_the_latest_plus_the_step() -> None:
    model = runtime_model()
    assert model.generation_step < 0
    with pytest.warns(RuntimeEstimateWarning, match=r"newer than the fitted 8\.1"):
        newer = load_device("cortex_m7/x_cube_ai@9.0")
    ratio = latency("cortex_m7/x_cube_ai@9.0") / latency("cortex_m7/x_cube_ai")
    assert ratio == pytest.approx(math.exp(model.generation_step), rel=0.05)
    assert newer.uncertainty.latency_log_sd > load_device("cortex_m7").uncertainty.latency_log_sd


def test_a_derived_runtime_is_its_parent_times_the_published_factor() -> None:
    with pytest.warns(RuntimeEstimateWarning, match=r"tflm_reference is tflm x 4\.6"):
        reference = latency("cortex_m4/tflm_reference")
    assert reference / latency("cortex_m4/tflm") == pytest.approx(4.6, rel=0.02)


def test_the_m0plus_profile_follows_its_v1_1_rows() -> None:
    # Bosch HALE v1.0 on NUCLEO-G0B1RE at 64 MHz (results_v1.1.csv)
    measured = {"ic": 1669.4, "kws": 679.3, "vww": 1869.2, "ad": 46.5}
    for benchmark, ms in measured.items():
        assert latency("cortex_m0plus", benchmark) == pytest.approx(ms, rel=0.3)


def test_the_accelerator_assisted_mcu_is_its_own_device() -> None:
    # the MVP runs ResNet-8 in 121 ms at 78 MHz; an M33 class profile at 78 MHz needs 2-3x more
    mvp = latency("efr32mg24", "ic")
    assert mvp == pytest.approx(120.9, rel=0.2)
    m33 = load_device("cortex_m33/tflm")
    at_78 = cost_on_device(
        reference_graph("ic"), m33.model_copy(update={"clock_mhz": 78})
    ).latency_ms
    assert at_78 > 1.5 * mvp


def test_known_runtimes_start_with_the_default() -> None:
    assert known_runtimes("cortex_m0plus")[0] == "hale"
    assert set(known_runtimes("cortex_m7")) >= {"x_cube_ai", "plumerai", "hale", "tflm"}
    assert known_runtimes("ethos_u55") == ["vela"]
    assert known_runtimes("host") == []


def test_runtime_names_work_in_every_public_function() -> None:
    name = "cortex_m7/plumerai"
    costs = cost_on_devices(KWS, [name, "cortex_m7"])
    cost = costs[name]
    assert cost.device == name
    assert cost_on_device(KWS, name) == cost
    assert memory_footprint(KWS, name).fits()
    profile = load_device(name)
    assert profile.idle_power_mW == load_device("cortex_m7").idle_power_mW > 0
    power = average_power_mW(cost, name, 1.0)
    expected = (cost.energy_mJ + profile.idle_power_mW * (1.0 - cost.latency_ms / 1e3)) / 1.0
    assert power == pytest.approx(expected)
    assert battery_life_h(cost, name, 1.0, 220.0) == pytest.approx(220.0 * 3.3 / power)


def test_the_runtime_changes_the_active_power_where_the_rows_show_it() -> None:
    # X-CUBE-AI 8.1 ran the H7A3 at 122 mW, 7.3 at 139-160 mW (energy rows, 3.0-3.3 V SMPS)
    assert (
        load_device("cortex_m7").active_power_mW
        < load_device("cortex_m7/x_cube_ai@7.3").active_power_mW
    )


def test_p90_bounds_come_from_the_held_out_spread() -> None:
    cost = cost_on_device(KWS, "cortex_m4")
    metrics = cost.as_metrics()
    sd = load_device("cortex_m4").uncertainty.latency_log_sd
    assert metrics["latency_ms_p90"] == pytest.approx(
        cost.latency_ms * math.exp(1.2816 * sd), rel=1e-4
    )
    assert metrics["energy_mJ_p90"] > cost.energy_mJ
    assert cost.upper(0.5)[0] == pytest.approx(cost.latency_ms)
    measured = HardwareCost("host", 2.0, 1.0, 0.0, 0.0, 0.0, 0.0)  # no spread known: no widening
    assert measured.as_metrics()["latency_ms_p90"] == 2.0


def test_mlperf_strings_name_runtimes_and_cores() -> None:
    assert identify_runtime("X-CUBE-AI v8.0.0", "cortex-m4").generation == "7.3"
    assert identify_runtime("X-CUBE-AI v8.1.0", "cortex-m4").generation == "8.1"
    edge = identify_runtime("ST Edge AI Core v2.0", "cortex-m33")
    assert (edge.family, edge.version) == ("x_cube_ai", (10, 0))
    assert (
        identify_runtime("Plumerai Inference Engine", "cortex-m7", round_="v1.0").generation
        == "2021"
    )
    assert identify_runtime("Plumerai Inference Engine 2023.05", "cortex-m7").generation == "2023"
    native = identify_runtime("microTVM", "cortex-m4", system_id="NUCLEO-L4R5ZI_MICROTVM-NATIVE")
    assert native.family == "microtvm_native"
    assert identify_runtime("microTVM", "cortex-m4", system_id="microtvm_cmsis_nn/x").family == (
        "microtvm"
    )
    assert identify_runtime("tflite-micro", "efr32mg24", round_="v1.0").family == "silabs_mvp"
    assert identify_runtime("tflite-micro", "cortex-m33").family == "tflm"
    # TFLM inside a TensorFlow 2.x release (v0.5's reference) vs the standalone tflite-micro
    bundled = identify_runtime("TensorFlow Lite for Microcontrollers v2.3.1", "cortex-m4")
    assert (bundled.generation, bundled.version) == ("2020", (2, 3, 1))
    assert identify_runtime("tflite-micro", "cortex-m33").generation == "2021"
    assert identify_runtime("Some New Engine 1.0", "cortex-m4") is None
    assert core_class_of("Cortex-M33 + Silicon Labs MVP") == "efr32mg24"
    assert core_class_of("Cortex-M0+") == "cortex-m0plus"
    assert core_class_of("Cortex-M85") == "cortex-m85"
    assert core_class_of("RISC-V AndesCore D45") is None
    assert resolve_runtime("cortex-m7", "plumerai").generation == "2023"  # no version: latest


def test_the_runtime_table_lists_every_runtime_of_every_core_with_its_rows() -> None:
    rows = {row["device"]: row for row in runtime_table()}
    assert rows["cortex_m7/plumerai"]["rows"] == 16
    assert rows["cortex_m7/plumerai"]["status"] == "fitted"
    assert "NUCLEO-H7A3ZI" in rows["cortex_m7/plumerai"]["boards"]
    assert rows["cortex_m0plus/plumerai"]["status"] == "estimated"
    assert rows["cortex_m0plus/plumerai"]["rows"] == 0
    assert "cortex_m4/vela" not in rows
