"""`moo devices` lists runtimes per core; `moo calibrate` prints residuals, refusals and the
expected error; bad device names end in one line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from moo.cli import app
from objectives.hardware import load_device, reference_graph
from objectives.hardware.calibrate import predict
from objectives.hardware.measurements import Measurement


def test_devices_lists_the_runtimes_of_each_core_with_their_rows() -> None:
    result = CliRunner().invoke(app, ["devices"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    out = result.output
    assert "default runtime" in out
    line = next(row for row in out.splitlines() if "cortex_m7/plumerai" in row)
    assert "2021, 2023" in line and "16" in line and "fitted" in line
    estimated = next(row for row in out.splitlines() if "cortex_m0plus/plumerai" in row)
    assert "estimated" in estimated
    verbose = CliRunner().invoke(app, ["devices", "--verbose"], env={"COLUMNS": "400"})
    assert "NUCLEO-H7A3ZI" in verbose.output and "no rows for plumerai on" in verbose.output


def test_calibrate_prints_residuals_refusals_and_the_expected_error(tmp_path: Path) -> None:
    m7 = load_device("cortex_m7/hale")
    times = {b: 1.1 * predict(m7, Measurement(reference_graph(b), 1.0))[0] for b in ("ic", "kws")}
    csv = tmp_path / "rows.csv"
    csv.write_text(
        "benchmark,latency_ms,clock_mhz,runtime\n"
        f"ic,{times['ic']},280,hale\n"
        f"kws,{times['kws']},280,hale\n"
        f"kws,{times['kws']},216,hale\n"
    )
    out = tmp_path / "mine.yaml"
    result = CliRunner().invoke(
        app, ["calibrate", "cortex_m7/hale", str(csv), "--out", str(out)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "calibrated cortex_m7/hale on 2 rows" in text
    assert "refused row 4: measured at 216 MHz" in text
    assert "row 2: measured" in text and "row 3: measured" in text
    assert "expected |rel error| on a new model" in text
    assert f"wrote {out}" in text
    assert load_device(str(out)).runtime == "hale"


def test_a_bad_runtime_name_ends_in_one_line(tmp_path: Path) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text("benchmark,latency_ms\nkws,10\n")
    result = CliRunner().invoke(
        app, ["calibrate", "cortex_m4/tvm", str(csv), "--out", str(tmp_path / "x.yaml")]
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "Unknown runtime 'tvm'; runtimes for cortex-m4: x_cube_ai" in lines[0]
