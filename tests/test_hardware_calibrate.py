"""Calibration: few rows shrink toward the profile, many rows recover constants, bad rows are
refused one line each; the roofline (NPU) and SoC fits recover known constants."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from objectives.hardware import (
    GraphStats,
    HardwareError,
    calibrate_device,
    cost_on_device,
    load_device,
    reference_graph,
)
from objectives.hardware.calibrate import fit_few_shot, fit_profile, predict
from objectives.hardware.fewshot import few_shot
from objectives.hardware.measurements import Measurement
from objectives.hardware.profile import DeviceProfile, PowerLaw
from objectives.hardware.runtime_model import PARAMETERS, KindConstants, graph_features

MLPERF_V11 = Path(__file__).resolve().parents[2] / "shared/data/mlperf_tiny/results_v1.1.csv"
BENCHMARKS = ("ic", "kws", "vww", "ad")


def scaled(graph: GraphStats, channels: float) -> GraphStats:
    return GraphStats(
        tuple(
            dataclasses.replace(
                x,
                macs=int(x.macs * channels),
                params=int(x.params * channels),
                output_elements=int(x.output_elements * channels) or 1,
            )
            for x in graph.layers
        )
    )


def with_constants(profile: DeviceProfile, factors: dict[str, float]) -> DeviceProfile:
    """The profile with each of the six constants multiplied by ``factors`` (default 1)."""
    theta = profile.kind_constants().as_log() + np.log([factors.get(p, 1.0) for p in PARAMETERS])
    return profile.with_kind_constants(KindConstants.from_log(theta))


def rows_of(truth: DeviceProfile, graphs: list[GraphStats], **extra: object) -> list[Measurement]:
    rows = []
    for graph in graphs:
        latency, energy = predict(truth, Measurement(graph, 1.0))
        rows.append(Measurement(graph, latency, energy, **extra))  # type: ignore[arg-type]
    return rows


def test_many_rows_recover_every_constant() -> None:
    m4 = load_device("cortex_m4")
    factors = {"conv": 1.3, "depthwise_conv": 0.7, "dense": 1.4, "output": 0.6, "layer": 1.5}
    truth = with_constants(m4, factors).model_copy(update={"active_power_mW": 100.0})
    graphs = [scaled(reference_graph(b), c) for b in BENCHMARKS for c in (1.0, 0.5, 0.25)]
    fitted, result = fit_few_shot(m4, rows_of(truth, graphs))
    assert result.choice == "every constant"
    for name in ("conv", "depthwise_conv", "dense"):
        expected = truth.compute.cycles_per_mac[name]
        assert fitted.compute.cycles_per_mac[name] == pytest.approx(expected, rel=0.05)
    assert fitted.compute.cycles_per_output == pytest.approx(
        truth.compute.cycles_per_output, rel=0.1
    )
    assert fitted.active_power_mW == pytest.approx(100.0, rel=0.1)
    assert result.latency_after.p90 < 0.02 < result.latency_before.median


def test_one_row_moves_only_a_shrunk_board_factor() -> None:
    m4 = load_device("cortex_m4")
    slower = with_constants(m4, dict.fromkeys(PARAMETERS, 1.3))  # a board 30 % slower
    fitted, result = fit_few_shot(m4, rows_of(slower, [reference_graph("kws")]))
    ratio = np.exp(fitted.kind_constants().as_log() - m4.kind_constants().as_log())
    assert np.allclose(ratio, ratio[0])  # one factor: the kinds keep their ratios
    assert 1.0 < ratio[0] < 1.3  # shrunk toward the profile
    assert result.choice == "board factor, shrunk"
    assert result.expected_after == pytest.approx(result.expected_before)  # no gain claimed


def test_three_rows_of_a_slower_board_predict_the_fourth() -> None:
    m7 = load_device("cortex_m7/plumerai")
    board = with_constants(m7, {**dict.fromkeys(PARAMETERS, 1.25), "depthwise_conv": 1.4})
    rows = rows_of(board, [reference_graph(b) for b in ("ic", "kws", "ad")])
    fitted, result = fit_few_shot(m7, rows)
    vww = reference_graph("vww")
    truth = cost_on_device(vww, board).latency_ms
    before = abs(cost_on_device(vww, m7).latency_ms / truth - 1)
    after = abs(cost_on_device(vww, fitted).latency_ms / truth - 1)
    assert before > 0.2
    assert after < 0.08
    assert result.choice != "profile"
    assert len(result.residuals) == 3
    assert all(r.left_out_ms is not None for r in result.residuals)


def test_noise_does_not_buy_kind_corrections() -> None:
    # three rows scattered +-8 % around the profile: leave-one-out sees no structure to fit
    m4 = load_device("cortex_m4")
    graphs = [reference_graph(b) for b in ("ic", "kws", "ad")]
    clean = rows_of(m4, graphs)
    noisy = [
        dataclasses.replace(m, latency_ms=m.latency_ms * f)
        for m, f in zip(clean, (1.08, 0.93, 1.02), strict=True)
    ]
    _, result = fit_few_shot(m4, noisy)
    assert result.choice in ("profile", "board factor, shrunk", "board factor")


def test_few_shot_expected_error_is_bounded_by_the_profile_spread() -> None:
    m4 = load_device("cortex_m4")
    constants = m4.kind_constants()
    features = np.array([graph_features(reference_graph(b)) for b in ("ic", "kws", "vww")])
    cycles = np.log(features @ np.exp(constants.as_log()))  # the profile is exact here
    fit = few_shot(constants, features, cycles, prior_log_sd=0.2)
    assert fit.choice == "profile"
    # three perfect rows do not promise more than four rows' worth of the prior allows
    assert 0.1 <= fit.expected_log_sd < 0.2
    assert np.allclose(fit.fitted_log_errors, 0.0, atol=1e-9)


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text(text)
    return path


def test_rows_at_another_clock_or_runtime_are_refused_one_line_each(tmp_path: Path) -> None:
    m4 = load_device("cortex_m4")
    ms = {b: predict(m4, Measurement(reference_graph(b), 1.0))[0] for b in BENCHMARKS}
    csv = write_csv(
        tmp_path,
        "benchmark,latency_ms,clock_mhz,runtime\n"
        f"ic,{ms['ic']},120,x_cube_ai\n"
        f"kws,{ms['kws']},80,x_cube_ai\n"
        f"vww,{ms['vww']},120,plumerai\n"
        f"ad,{ms['ad']},120,X-CUBE-AI v8.1.0\n"
        f"kws,{ms['kws']},120,X-CUBE-AI v7.3.0\n",
    )
    result = calibrate_device("cortex_m4", csv, tmp_path / "mine.yaml")
    assert result.n_rows == 2
    assert len(result.refused) == 3
    row3, row4, row6 = result.refused
    assert row3.startswith("row 3: measured at 80 MHz, the calibration is at 120 MHz")
    assert "--clock-mhz 80" in row3
    assert row4.startswith(
        "row 4: runtime 'plumerai' (plumerai 2023) is not the device's x_cube_ai"
    )
    assert row6.startswith("row 6: runtime 'X-CUBE-AI v7.3.0' (x_cube_ai 7.3)")
    summary = result.summary()
    assert all(f"refused {line}" in summary for line in result.refused)
    assert summary.count("\n  row ") == 2  # a residual line per used row
    assert "expected |rel error| on a new model" in summary


def test_every_row_refused_is_an_error_that_says_why(tmp_path: Path) -> None:
    csv = write_csv(tmp_path, "benchmark,latency_ms,clock_mhz\nkws,50,80\n")
    with pytest.raises(HardwareError, match=r"every row was refused; row 2: measured at 80 MHz"):
        calibrate_device("cortex_m4", csv, tmp_path / "out.yaml")
    assert not (tmp_path / "out.yaml").exists()
    # at the rows' own clock the same row is used
    result = calibrate_device("cortex_m4", csv, tmp_path / "out.yaml", clock_mhz=80)
    assert result.n_rows == 1
    assert load_device(str(tmp_path / "out.yaml")).clock_mhz == 80


def test_calibrate_device_writes_a_loadable_profile(tmp_path: Path) -> None:
    m7 = load_device("cortex_m7/plumerai")
    slower = with_constants(m7, dict.fromkeys(PARAMETERS, 1.2))
    records = []
    for benchmark in ("ic", "kws", "vww"):
        t, e = predict(slower, Measurement(reference_graph(benchmark), 1.0))
        records.append({"benchmark": benchmark, "latency_ms": t, "energy_uJ": e * 1e3})
    csv = tmp_path / "m7_rows.csv"
    pd.DataFrame(records).to_csv(csv, index=False)
    out = tmp_path / "my_m7.yaml"
    result = calibrate_device("cortex_m7/plumerai", csv, out)
    assert result.out_path == out
    mine = load_device(str(out))
    assert mine.name == "my_m7"
    assert mine.runtime == "plumerai"
    assert mine.idle_power_mW == m7.idle_power_mW  # not fitted, kept
    assert mine.uncertainty.note.startswith("calibrated on 3 rows")
    ad = reference_graph("ad")
    truth = cost_on_device(ad, slower).latency_ms
    assert abs(cost_on_device(ad, mine).latency_ms / truth - 1) < 0.05
    text = out.read_text()
    assert text.startswith("# Calibrated from profile 'cortex_m7/plumerai'")
    assert "calibrated cortex_m7/plumerai on 3 rows" in result.summary()
    assert "compute.cycles_per_mac.conv" in result.summary()


@pytest.mark.skipif(not MLPERF_V11.is_file(), reason=f"MLPerf Tiny rows not at {MLPERF_V11}")
def test_three_public_rows_of_another_board_calibrate_the_fourth(tmp_path: Path) -> None:
    # Plumerai 2023.05 on the CY8CPROTO-062 (PSoC 62, 150 MHz, v1.1) starting from the
    # cortex_m4/plumerai profile of the NUCLEO-L4R5ZI: the PSoC is 20-35 % slower per cycle
    frame = pd.read_csv(MLPERF_V11).rename(columns={"framework": "runtime"})
    board = frame[(frame["board"] == "CY8CPROTO-062-4343W")]
    before, after = [], []
    for held in ("ic", "kws", "ad"):
        rows = board[board["benchmark"] != held][
            ["benchmark", "clock_mhz", "runtime", "latency_ms"]
        ]
        rows.to_csv(tmp_path / "psoc.csv", index=False)
        out = tmp_path / "psoc.yaml"
        result = calibrate_device("cortex_m4/plumerai", tmp_path / "psoc.csv", out, clock_mhz=150)
        assert result.n_rows == 3 and not result.refused
        measured = board[board["benchmark"] == held]["latency_ms"].iloc[0]
        profile = load_device("cortex_m4/plumerai").model_copy(update={"clock_mhz": 150.0})
        before.append(abs(cost_on_device(reference_graph(held), profile).latency_ms / measured - 1))
        after.append(abs(cost_on_device(reference_graph(held), str(out)).latency_ms / measured - 1))
    assert min(before) > 0.2
    assert all(a < 0.7 * b for a, b in zip(after, before, strict=True))


# --- the roofline (NPU) and SoC fits --------------------------------------------------------


def roofline_m4() -> DeviceProfile:
    """The M4 profile without fitted per-kind constants: the roofline model."""
    m4 = load_device("cortex_m4")
    compute = m4.compute.model_copy(update={"cycles_per_mac": None, "cycles_per_element": None})
    return m4.model_copy(update={"compute": compute})


def test_fit_recovers_known_roofline_constants() -> None:
    start = roofline_m4()
    truth = start.model_copy(
        update={
            "compute": start.compute.model_copy(
                update={
                    "macs_per_cycle": {k: v * 1.5 for k, v in start.compute.macs_per_cycle.items()},
                    "bytes_per_cycle": 1.5,
                    "cycles_per_output": 40.0,
                }
            ),
            "active_power_mW": 100.0,
        }
    )
    rows = []
    for benchmark in BENCHMARKS:
        for channels, clock in ((1.0, 120.0), (0.5, 80.0), (0.25, 160.0)):
            graph = scaled(reference_graph(benchmark), channels)
            latency, energy = predict(truth, Measurement(graph, 1.0, clock_mhz=clock))
            rows.append(Measurement(graph, latency, energy, clock_mhz=clock))
    fitted, result = fit_profile(start, rows)
    expected = truth.compute.macs_per_cycle["int8"]
    assert fitted.compute.macs_per_cycle["int8"] == pytest.approx(expected, rel=0.02)
    assert fitted.compute.bytes_per_cycle == pytest.approx(1.5, rel=0.02)
    assert fitted.compute.cycles_per_output == pytest.approx(40.0, rel=0.05)
    assert fitted.active_power_mW == pytest.approx(100.0, rel=1e-6)
    rates = fitted.compute.macs_per_cycle
    assert rates["fp32"] / rates["int8"] == pytest.approx(1 / 3, rel=1e-3)  # ratios kept
    assert result.latency_after.p90 < 0.01 < result.latency_before.median


def test_fit_recovers_a_soc_power_law() -> None:
    soc = load_device("edge_soc")
    truth = PowerLaw(a=3.0e-4, b=0.42)
    rows = []
    for macs in (1e5, 1e6, 1e7, 3e7, 1e8):
        graph = scaled(reference_graph("kws"), macs / reference_graph("kws").macs)
        works = [x.macs + x.input_elements + x.output_elements for x in graph.layers]
        rows.append(
            Measurement(graph, sum(truth(w) for w in works), 2 * sum(map(truth, works)), unit="npu")
        )
    fitted, result = fit_profile(soc, rows)
    npu = fitted.units["npu"]
    assert (npu.latency_ms.a, npu.latency_ms.b) == (
        pytest.approx(3.0e-4, rel=1e-3),
        pytest.approx(0.42, rel=1e-3),
    )
    assert (npu.energy_mJ.a, npu.energy_mJ.b) == (
        pytest.approx(6.0e-4, rel=1e-3),
        pytest.approx(0.42, rel=1e-3),
    )
    assert fitted.units["gpu"] == soc.units["gpu"]  # no rows, left as it was
    assert result.latency_after.median < 1e-6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("benchmark,energy_mJ\nkws,1.0\n", r"rows\.csv: column 'latency_ms' is required"),
        ("latency_ms\n3.0\n", r"rows\.csv: name each row's model"),
        (
            "benchmark,latency_ms\nkws,3.0\nkws,-1\n",
            r"rows\.csv, row 3: column 'latency_ms' must be > 0",
        ),
        ("benchmark,latency_ms\nresnet50,3.0\n", r"row 2: column 'benchmark': .* got 'resnet50'"),
        ("macs,latency_ms\n1000,3.0\n", r"row 2: columns 'macs' and 'params' are both required"),
        ("onnx_path,latency_ms\nmissing.onnx,3.0\n", r"row 2: column 'onnx_path': .*missing\.onnx"),
    ],
)
def test_bad_measurement_csv_names_file_row_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(HardwareError, match=message):
        calibrate_device("cortex_m4", write_csv(tmp_path, text), tmp_path / "out.yaml")
    assert not (tmp_path / "out.yaml").exists()


def test_host_has_nothing_to_calibrate(tmp_path: Path) -> None:
    csv = write_csv(tmp_path, "benchmark,latency_ms\nkws,3.0\n")
    with pytest.raises(HardwareError, match="nothing to calibrate"):
        calibrate_device("host", csv, tmp_path / "out.yaml")


def test_soc_rows_must_name_a_unit_of_the_soc(tmp_path: Path) -> None:
    csv = write_csv(tmp_path, "macs,params,latency_ms,unit\n1000000,1000,0.2,tpu\n")
    with pytest.raises(
        HardwareError, match=r"column 'unit' must name one of \['cpu', 'gpu', 'npu'\]"
    ):
        calibrate_device("edge_soc", csv, tmp_path / "out.yaml")


def test_expected_error_is_stated_in_percent() -> None:
    # a log-normal error of spread s: median |error| exp(0.674 s) - 1, p90 exp(1.645 s) - 1
    from objectives.hardware.calibrate import _quantiles

    assert _quantiles(0.1) == f"median {math.exp(0.06745) - 1:.1%}, p90 {math.exp(0.16449) - 1:.1%}"
