"""Calibration: known constants are recovered from synthetic rows; public MLPerf rows fit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
import yaml

from objectives.hardware import (
    GraphStats,
    HardwareError,
    calibrate_device,
    load_device,
    reference_graph,
)
from objectives.hardware.calibrate import fit_profile, predict
from objectives.hardware.measurements import Measurement
from objectives.hardware.profile import DeviceProfile, PowerLaw

MLPERF_CSV = Path(__file__).resolve().parents[2] / "shared/data/mlperf_tiny/results_v0.5-v1.0.csv"
BENCHMARKS = ("ic", "kws", "vww", "ad")


def true_m4() -> DeviceProfile:
    """An M4 whose constants differ from the shipped ones by 30-100 %."""
    m4 = load_device("cortex_m4")
    compute = m4.compute.model_copy(
        update={
            "macs_per_cycle": {k: v * 0.7 / 0.48 for k, v in m4.compute.macs_per_cycle.items()},
            "bytes_per_cycle": 1.5,
            "cycles_per_output": 40.0,
        }
    )
    return m4.model_copy(update={"compute": compute, "active_power_mW": 100.0})


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


def synthetic_rows(truth: DeviceProfile) -> list[Measurement]:
    rows = []
    for benchmark in BENCHMARKS:
        for channels, clock in ((1.0, 120.0), (0.5, 80.0), (0.25, 160.0)):
            graph = scaled(reference_graph(benchmark), channels)
            probe = Measurement(graph, 1.0, clock_mhz=clock)
            latency, energy = predict(truth, probe)
            rows.append(Measurement(graph, latency, energy, clock_mhz=clock))
    return rows


def test_fit_recovers_known_analytic_constants() -> None:
    truth = true_m4()
    fitted, result = fit_profile(load_device("cortex_m4"), synthetic_rows(truth))
    assert fitted.compute.macs_per_cycle["int8"] == pytest.approx(0.7, rel=0.02)
    assert fitted.compute.bytes_per_cycle == pytest.approx(1.5, rel=0.02)
    assert fitted.compute.cycles_per_output == pytest.approx(40.0, rel=0.05)
    assert fitted.active_power_mW == pytest.approx(100.0, rel=1e-6)
    # precision ratios of the profile are kept: fp32 stays a third of int8
    rates = fitted.compute.macs_per_cycle
    assert rates["fp32"] / rates["int8"] == pytest.approx(1 / 3, rel=1e-3)
    assert result.latency_before.median > 0.2
    assert result.latency_after.p90 < 0.01
    assert result.energy_after.p90 < 0.01


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


def test_calibrate_device_writes_a_loadable_profile(tmp_path: Path) -> None:
    truth = true_m4()
    records = []
    for benchmark in BENCHMARKS:
        for clock in (80.0, 120.0):
            t, e = predict(truth, Measurement(reference_graph(benchmark), 1.0, clock_mhz=clock))
            records.append(
                {"benchmark": benchmark, "clock_mhz": clock, "latency_ms": t, "energy_uJ": e * 1e3}
            )
    csv = tmp_path / "m4_rows.csv"
    pd.DataFrame(records).to_csv(csv, index=False)
    out = tmp_path / "my_m4.yaml"
    result = calibrate_device("cortex_m4", csv, out)
    assert result.out_path == out
    mine = load_device(str(out))
    assert mine.name == "my_m4"
    assert mine.compute.macs_per_cycle["int8"] == pytest.approx(0.7, rel=0.05)
    assert mine.idle_power_mW == load_device("cortex_m4").idle_power_mW  # not fitted, kept
    text = out.read_text()
    assert text.startswith("# Calibrated from profile 'cortex_m4'")
    summary = result.summary()
    assert "calibrated cortex_m4 on 8 rows" in summary
    assert "compute.macs_per_cycle.int8: 0.48 -> 0.7" in summary
    assert "latency |rel error| median" in summary and "energy |rel error|" in summary
    assert result.latency_after.median < result.latency_before.median


@pytest.mark.skipif(not MLPERF_CSV.is_file(), reason=f"MLPerf Tiny rows not at {MLPERF_CSV}")
@pytest.mark.parametrize(
    ("core", "device"), [("Cortex-M4", "cortex_m4"), ("Cortex-M7", "cortex_m7")]
)
def test_calibration_on_the_public_mlperf_rows(tmp_path: Path, core: str, device: str) -> None:
    frame = pd.read_csv(MLPERF_CSV)
    rows = frame[frame["processor_core"] == core][["benchmark", "clock_mhz", "latency_ms"]]
    csv = tmp_path / "mlperf.csv"
    rows.to_csv(csv, index=False)
    # start far from the shipped constants: the fit must find its way back
    start = load_device(device)
    far = start.model_copy(
        update={
            "compute": start.compute.model_copy(
                update={
                    "macs_per_cycle": {k: v / 5 for k, v in start.compute.macs_per_cycle.items()},
                    "bytes_per_cycle": 5.0,
                }
            )
        }
    )
    far_path = tmp_path / "far.yaml"
    far_path.write_text(yaml.safe_dump(far.model_dump(mode="json", exclude_none=True)))
    result = calibrate_device(str(far_path), csv, tmp_path / "fitted.yaml")
    assert result.n_rows == len(rows) >= 16
    assert result.latency_before.median > 1.0
    assert result.latency_after.median < 0.25
    fitted = load_device(str(tmp_path / "fitted.yaml")).compute.macs_per_cycle["int8"]
    assert fitted == pytest.approx(start.compute.macs_per_cycle["int8"], rel=0.1)


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text(text)
    return path


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
