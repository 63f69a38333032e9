"""Predict the public MLPerf Tiny rows from a board's core class, clock and model statistics.

Every Cortex-M row of ``../shared/data/mlperf_tiny/results_v0.5-v1.0.csv`` is predicted by
the hardware model from (core class, clock, supply voltage of the energy run, the model's
graph statistics). Profiles hold a few constants per core class, not one per board or row:
the error tables say how far that gets a board, and the leave-one-board-out table how far it
gets a board the constants never saw. Graph statistics come from three sources: the
reference models rebuilt layer by layer (``objectives/hardware/reference.py``), the four
reference architectures built in PyTorch, exported to ONNX and read by ``graph_from_onnx``,
and the MACs and parameter count alone. ``--fit`` prints the class constants the shipped
profiles carry (and the Ethos-U55 fit to Vela estimates).

Command (writes experiments/benchmarks/results/hardware_mlperf.md):

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/hardware_mlperf.py
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from objectives.hardware import cost_on_devices, graph_from_onnx, load_device, reference_graph
from objectives.hardware.calibrate import ErrorStats, fit_profile, predict
from objectives.hardware.measurements import Measurement, coarse_graph
from objectives.hardware.power import average_power_mW
from objectives.hardware.profile import DeviceProfile
from objectives.hardware.stats import GraphStats

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "mlperf_tiny"
RESULTS = ROOT / "experiments" / "benchmarks" / "results" / "hardware_mlperf.md"
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/hardware_mlperf.py"
BENCHMARKS = ("ic", "kws", "vww", "ad")

CORE_CLASSES = {"Cortex-M4": "cortex_m4", "Cortex-M7": "cortex_m7", "Cortex-M33": "cortex_m33"}
"""MLPerf ``processor_core`` -> profile whose class constants predict it."""

UNSEEN_CORES = {"Cortex-M33 + Silicon Labs MVP": "cortex_m33"}
"""Cores predicted with the class of their CPU although an accelerator helps them: a test
of what a class profile says about a board it was not fitted to."""

NEUTRAL_START = {"int8": 0.5, "bytes_per_cycle": 1.0, "cycles_per_output": 10.0}
"""Start of every class fit, so that the fit does not lean on the shipped values."""

GraphFn = Callable[[pd.Series], GraphStats]


# --- the four MLPerf Tiny reference architectures in PyTorch (mlcommons/tiny training code) --


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Module:
    """Conv + BN + ReLU with 'same' output size (BN folds into the conv at export)."""
    conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU())


class _ResidualStack(nn.Module):
    """Two 3x3 convs and a shortcut (a strided 1x1 conv where the shape changes), added."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(c_in, c_out, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride) if stride != 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return torch.relu(y + self.shortcut(x))


def torch_resnet8() -> nn.Module:
    return nn.Sequential(
        _conv_bn(3, 16, 3),
        _ResidualStack(16, 16, 1),
        _ResidualStack(16, 32, 2),
        _ResidualStack(32, 64, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def torch_ds_cnn() -> nn.Module:
    stem = nn.Sequential(
        nn.Conv2d(1, 64, (10, 4), 2, (5, 1), bias=False), nn.BatchNorm2d(64), nn.ReLU()
    )
    blocks = [nn.Sequential(_conv_bn(64, 64, 3, groups=64), _conv_bn(64, 64, 1)) for _ in range(4)]
    return nn.Sequential(stem, *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 12))


def torch_mobilenet_v1_025() -> nn.Module:
    widths = (16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256)
    strides = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
    layers, c_in = [_conv_bn(3, 8, 3, 2)], 8
    for c_out, stride in zip(widths, strides, strict=True):
        layers += [_conv_bn(c_in, c_in, 3, stride, groups=c_in), _conv_bn(c_in, c_out, 1)]
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 2))


def torch_fc_autoencoder() -> nn.Module:
    widths = (640, 128, 128, 128, 128, 8, 128, 128, 128, 128)
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(widths):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(128, 640))


TORCH_MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "ic": (torch_resnet8, (3, 32, 32)),
    "kws": (torch_ds_cnn, (1, 49, 10)),
    "vww": (torch_mobilenet_v1_025, (3, 96, 96)),
    "ad": (torch_fc_autoencoder, (640,)),
}


@cache
def onnx_graph(benchmark: str) -> GraphStats:
    """The PyTorch model exported to ONNX, read back as int8 graph statistics."""
    build, shape = TORCH_MODELS[benchmark]
    model = build().eval()
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(folder) / f"{benchmark}.onnx"
        torch.onnx.export(model, (torch.zeros(1, *shape),), str(path), dynamo=False)
        return graph_from_onnx(path, weight_bits=8, activation_bits=8)


# --- rows, fits and error tables --------------------------------------------------------


def per_layer(row: pd.Series) -> GraphStats:
    """The reference model rebuilt layer by layer (objectives.hardware.reference)."""
    return reference_graph(row["benchmark"])


def from_onnx(row: pd.Series) -> GraphStats:
    """The PyTorch reference architecture, exported to ONNX and read by graph_from_onnx."""
    return onnx_graph(row["benchmark"])


def macs_params(row: pd.Series) -> GraphStats:
    """Only the model's MACs and parameter count, as the CSV lists them."""
    return coarse_graph(int(row["model_macs"]), int(row["model_params"]))


GRAPH_SOURCES: dict[str, GraphFn] = {
    "per-layer, reference.py": per_layer,
    "per-layer, PyTorch -> ONNX": from_onnx,
    "MACs + params only": macs_params,
}


def load_rows() -> pd.DataFrame:
    """MLPerf rows with the supply voltage of the energy run parsed from the notes."""
    frame = pd.read_csv(DATA / "results_v0.5-v1.0.csv")
    stated = frame["hardware_notes"].str.extract(r"at ([0-9.]+) ?V", expand=False).astype(float)
    frame["supply_stated"] = stated.notna()
    frame["board_id"] = frame["board"].str.upper()
    frame["profile"] = frame["processor_core"].map(CORE_CLASSES | UNSEEN_CORES)
    class_median = stated.groupby(frame["profile"]).transform("median")
    frame["supply_V"] = stated.fillna(class_median)
    return frame


def measurements(
    rows: pd.DataFrame, graph: GraphFn, *, energy_needs_supply: bool
) -> list[Measurement]:
    """Rows as calibration measurements; energy kept only where the supply is stated."""
    out = []
    for _, row in rows.iterrows():
        keep_energy = not math.isnan(row["energy_uJ"]) and (
            row["supply_stated"] or not energy_needs_supply
        )
        out.append(
            Measurement(
                graph=graph(row),
                latency_ms=float(row["latency_ms"]),
                energy_mJ=float(row["energy_uJ"]) / 1e3 if keep_energy else None,
                clock_mhz=float(row["clock_mhz"]),
                supply_V=float(row["supply_V"]),
            )
        )
    return out


def neutral(profile: DeviceProfile) -> DeviceProfile:
    """The profile with its fitted compute constants reset to ``NEUTRAL_START``."""
    assert profile.compute is not None
    scale = NEUTRAL_START["int8"] / profile.compute.macs_per_cycle["int8"]
    compute = profile.compute.model_copy(
        update={
            "macs_per_cycle": {k: v * scale for k, v in profile.compute.macs_per_cycle.items()},
            "bytes_per_cycle": NEUTRAL_START["bytes_per_cycle"],
            "cycles_per_output": NEUTRAL_START["cycles_per_output"],
        }
    )
    return profile.model_copy(update={"compute": compute})


def class_fit(profile: DeviceProfile, rows: pd.DataFrame, graph: GraphFn) -> DeviceProfile:
    """Class constants fitted to all given rows (latency) and rows with a stated supply (power)."""
    fitted, _ = fit_profile(neutral(profile), measurements(rows, graph, energy_needs_supply=True))
    return fitted


def fit_all(frame: pd.DataFrame, graph: GraphFn) -> dict[str, DeviceProfile]:
    return {
        name: class_fit(load_device(name), frame[frame["processor_core"] == core], graph)
        for core, name in CORE_CLASSES.items()
    }


def predictions(
    profile: DeviceProfile, rows: pd.DataFrame, graph: GraphFn
) -> tuple[list[float], list[float]]:
    """Predicted latency and energy (NaN where the row has no energy) for every row."""
    lat, energy = [], []
    for m in measurements(rows, graph, energy_needs_supply=False):
        t, e = predict(profile, m)
        lat.append(t)
        energy.append(e if m.energy_mJ is not None else float("nan"))
    return lat, energy


def error_stats(
    rows: pd.DataFrame, lat: Sequence[float], energy: Sequence[float]
) -> tuple[ErrorStats, ErrorStats]:
    measured_e = rows["energy_uJ"].to_numpy() / 1e3
    has_e = ~np.isnan(np.asarray(energy)) & ~np.isnan(measured_e)
    lat_s = ErrorStats.of(list(lat), list(rows["latency_ms"]))
    e_s = ErrorStats.of(list(np.asarray(energy)[has_e]), list(measured_e[has_e]))
    return lat_s, e_s


def cells(stats: ErrorStats) -> str:
    if not stats.n:
        return "0 | n/a | n/a"
    return f"{stats.n} | {stats.median:.1%} | {stats.p90:.1%}"


def stats_row(label: str, rows: pd.DataFrame, lat: Sequence[float], energy: Sequence[float]) -> str:
    lat_s, e_s = error_stats(rows, lat, energy)
    return f"| {label} | {cells(lat_s)} | {cells(e_s)} |"


TABLE_HEAD = (
    "| core | latency rows | latency median | latency p90 | energy rows | energy median "
    "| energy p90 |\n|---|---|---|---|---|---|---|"
)


def core_label(core: str) -> str:
    return core if core in CORE_CLASSES else f"{core} (as {UNSEEN_CORES[core]}, not fitted)"


def all_rows_table(
    frame: pd.DataFrame, graph: GraphFn, profiles: dict[str, DeviceProfile]
) -> tuple[str, pd.DataFrame]:
    """Error per core with class profiles fitted on all rows of the class."""
    lines, per_row = [TABLE_HEAD], []
    for core in [*CORE_CLASSES, *UNSEEN_CORES]:
        rows = frame[frame["processor_core"] == core]
        lat, energy = predictions(profiles[(CORE_CLASSES | UNSEEN_CORES)[core]], rows, graph)
        lines.append(stats_row(core_label(core), rows, lat, energy))
        per_row.append(rows.assign(pred_latency_ms=lat, pred_energy_mJ=energy))
    predicted = pd.concat(per_row)
    fitted = predicted[predicted["processor_core"].isin(list(CORE_CLASSES))]
    label = "all rows of the three fitted classes"
    lines.append(stats_row(label, fitted, fitted["pred_latency_ms"], fitted["pred_energy_mJ"]))
    return "\n".join(lines), predicted


def lobo_table(frame: pd.DataFrame, graph: GraphFn) -> str:
    """Error per core when each board is predicted by constants fitted to the other boards."""
    lines = [TABLE_HEAD]
    for core, name in CORE_CLASSES.items():
        rows = frame[frame["processor_core"] == core]
        lat_all, e_all, order = [], [], []
        for board, held in rows.groupby("board_id"):
            others = rows[rows["board_id"] != board]
            if others.empty:
                continue
            fitted = class_fit(load_device(name), others, graph)
            lat, energy = predictions(fitted, held, graph)
            if not any(others["supply_stated"] & others["energy_uJ"].notna()):
                energy = [float("nan")] * len(held)  # no other board of the class has energy
            lat_all += lat
            e_all += energy
            order.append(held)
        lines.append(stats_row(core, pd.concat(order), lat_all, e_all))
    return "\n".join(lines)


def summary_table(frame: pd.DataFrame) -> str:
    """Median and p90 |error| per core class for every graph source: the shipped profiles
    for per-layer graphs, a class fit of their own for MACs + params only."""
    lines = [
        "| core | graph statistics | latency rows | latency median | latency p90 "
        "| energy rows | energy median | energy p90 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    shipped = {name: load_device(name) for name in CORE_CLASSES.values()}
    for source, graph in GRAPH_SOURCES.items():
        profiles = shipped if graph is not macs_params else fit_all(frame, graph)
        for core, name in CORE_CLASSES.items():
            rows = frame[frame["processor_core"] == core]
            lat_s, e_s = error_stats(rows, *predictions(profiles[name], rows, graph))
            lines.append(f"| {core} | {source} | {cells(lat_s)} | {cells(e_s)} |")
    return "\n".join(lines)


def onnx_stats_table() -> str:
    """Totals of the three graph sources against devices.md section 3."""
    published = {
        "ic": (12_505_748, 77_708),
        "kws": (2_664_792, 22_606),
        "vww": (7_491_972, 210_852),
        "ad": (264_192, 265_864),
    }
    lines = [
        "| model | MACs devices.md §3 (Vela) | MACs reference.py | MACs ONNX | params §3 "
        "| params reference.py | params ONNX | layers reference.py / ONNX |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bench in BENCHMARKS:
        ref, onnx = reference_graph(bench), onnx_graph(bench)
        macs, params = published[bench]
        lines.append(
            f"| {bench} | {macs:,} | {ref.macs:,} | {onnx.macs:,} | {params:,} | {ref.params:,} "
            f"| {onnx.params:,} | {len(ref.layers)} / {len(onnx.layers)} |"
        )
    return "\n".join(lines)


def constants_table(profiles: dict[str, DeviceProfile], frame: pd.DataFrame) -> str:
    lines = [
        "| profile | int8 MACs/cycle | bytes/cycle | cycles/output | mA/MHz | latency rows "
        "| energy rows (stated supply) |",
        "|---|---|---|---|---|---|---|",
    ]
    for core, name in CORE_CLASSES.items():
        p = profiles[name]
        assert p.compute is not None
        rows = frame[frame["processor_core"] == core]
        n_energy = int((rows["energy_uJ"].notna() & rows["supply_stated"]).sum())
        ma_per_mhz = p.active_power_mW / p.supply_V / p.clock_mhz
        lines.append(
            f"| {name} | {p.compute.macs_per_cycle['int8']:.4g} | {p.compute.bytes_per_cycle:.4g} "
            f"| {p.compute.cycles_per_output:.4g} | {ma_per_mhz:.4g} "
            f"| {len(rows)} | {n_energy} |"
        )
    return "\n".join(lines)


def crossover_s(device_a: str, device_b: str, graph: GraphStats) -> float:
    """Period where both devices draw the same average power (the duty-cycle equation)."""
    a, b = load_device(device_a), load_device(device_b)
    costs = cost_on_devices(graph, [device_a, device_b])
    fixed = [
        costs[p.name].energy_mJ - p.idle_power_mW * costs[p.name].latency_ms / 1e3 for p in (a, b)
    ]
    return (fixed[0] - fixed[1]) / (b.idle_power_mW - a.idle_power_mW)


def duty_cycle_table() -> str:
    """M4 vs M7 profiles: average power at 0.5 s and 2.5 s, and the crossover period."""
    lines = [
        "| model | M4 t (ms) | M4 E (mJ) | M7 t (ms) | M7 E (mJ) | P_avg @0.5 s M4 / M7 (mW) "
        "| P_avg @2.5 s M4 / M7 (mW) | crossover T* (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bench in BENCHMARKS:
        costs = cost_on_devices(reference_graph(bench), ["cortex_m4", "cortex_m7"])
        c4, c7 = costs["cortex_m4"], costs["cortex_m7"]
        p = {
            t: (average_power_mW(c4, "cortex_m4", t), average_power_mW(c7, "cortex_m7", t))
            for t in (0.5, 2.5)
        }
        lines.append(
            f"| {bench} | {c4.latency_ms:.1f} | {c4.energy_mJ:.2f} | {c7.latency_ms:.1f} | "
            f"{c7.energy_mJ:.2f} | {p[0.5][0]:.2f} / {p[0.5][1]:.2f} | "
            f"{p[2.5][0]:.2f} / {p[2.5][1]:.2f} | "
            f"{crossover_s('cortex_m4', 'cortex_m7', reference_graph(bench)):.2f} |"
        )
    return "\n".join(lines)


def vela_rows() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "ethos_u55_vela_estimates.csv")
    keep = (frame["accelerator"] == "Ethos_U55_128") & (
        frame["system_config"] == "RTSS_HE_SRAM_MRAM"
    )
    return frame[keep]


def vela_fit() -> tuple[DeviceProfile, str]:
    """Fit the Ethos-U55-128 constants to Vela's Alif RTSS-HE estimates (4 rows)."""
    rows = vela_rows()
    ms = [
        Measurement(
            reference_graph(r["benchmark"]),
            float(r["est_latency_ms"]),
            clock_mhz=float(r["npu_clock_mhz"]),
        )
        for _, r in rows.iterrows()
    ]
    shipped = load_device("ethos_u55")
    fitted, result = fit_profile(neutral(shipped), ms)
    lines = ["| model | Vela estimate (ms) | shipped profile (ms) |", "|---|---|---|"]
    for (_, r), m in zip(rows.iterrows(), ms, strict=True):
        predicted = predict(shipped, m)[0]
        lines.append(f"| {r['benchmark']} | {r['est_latency_ms']:.3f} | {predicted:.3f} |")
    return fitted, "\n".join(lines) + "\n\n" + result.summary().replace("\n", "  \n")


def every_row_table(per_row: pd.DataFrame) -> str:
    lines = [
        "| board | core | MHz | framework | model | latency ms (meas / pred) "
        "| energy mJ (meas / pred) |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in per_row.iterrows():
        energy = "-"
        if not math.isnan(r["energy_uJ"]):
            energy = f"{r['energy_uJ'] / 1e3:.3f} / {r['pred_energy_mJ']:.3f}"
        lines.append(
            f"| {r['board']} | {r['processor_core']} | {r['clock_mhz']:g} "
            f"| {str(r['framework'])[:40]} | {r['benchmark']} "
            f"| {r['latency_ms']:.2f} / {r['pred_latency_ms']:.2f} | {energy} |"
        )
    return "\n".join(lines)


def report(frame: pd.DataFrame) -> str:
    shipped = {name: load_device(name) for name in CORE_CLASSES.values()}
    layer_table, per_row = all_rows_table(frame, per_layer, shipped)
    coarse_table, _ = all_rows_table(frame, macs_params, fit_all(frame, macs_params))
    skipped = frame[frame["profile"].isna()]["processor_core"].value_counts()
    n_predicted = int(frame["profile"].notna().sum())
    _, vela_table = vela_fit()
    return f"""# Hardware model vs. the public MLPerf Tiny rows

Command: `{COMMAND}`

Data: `../shared/data/mlperf_tiny/results_v0.5-v1.0.csv` ({len(frame)} rows; the {n_predicted}
on Cortex-M cores are predicted), `ethos_u55_vela_estimates.csv`.
Error = |predicted / measured - 1|. A row is predicted from its core class only (the
cortex_m4 / cortex_m7 / cortex_m33 profile: 3 compute constants and 1 active current per
MHz, fitted once per class over all boards and frameworks of the class, never per row), the
row's clock, and the model's statistics. Energy = class current per MHz x the row's clock x
the supply stated in the row's hardware notes (class median where none is stated) x the
predicted latency, so it carries the latency error too.

## Summary: |error| per core class and source of the model statistics

Per-layer graphs are predicted by the shipped profiles (which carry the per-layer class fit);
MACs + params only has a class fit of its own (its constants absorb the activation terms the
one-layer stand-in leaves out).

{summary_table(frame)}

## 1. Shipped profiles, per-layer reference graphs

{layer_table}

The spread within a class is mostly the runtime: on the same NUCLEO-L4R5ZI at 120 MHz, IC takes
704 ms with TFLM v2.3.1 (v0.5 reference) and 173 ms with the Plumerai engine, a 4x range that
no per-class constant can follow. The MVP rows show what a class profile says about a board
whose accelerator it does not know: it is off by 2-3x, as it should be told by a calibration.

## 2. A board the constants never saw (leave one board out, per-layer graphs)

For each board of a class, the class constants are fitted to the other boards of the class
only, then the held-out board is predicted. Energy is n/a where no other board of the class
has an energy measurement with a stated supply.

{lobo_table(frame, per_layer)}

## 3. From MACs and parameters only (no layer structure)

Each model is one layer: dense if it has about as many parameters as MACs (AD), else a
convolution. Constants refitted per class on these coarse graphs.

{coarse_table}

Leave one board out, coarse graphs:

{lobo_table(frame, macs_params)}

## 4. Graph statistics: PyTorch -> ONNX vs reference.py vs devices.md §3

The four architectures built in PyTorch (this script), exported with torch.onnx and read by
`objectives.hardware.graph_from_onnx` (BN folded, ReLU fused, batch 1). Vela's `nn_macs`
also counts pooling and residual-add elements, hence 0.03-0.3 % more MACs.

{onnx_stats_table()}

## 5. Class constants

Fitted here on the per-layer graphs (`--fit` prints them); the shipped profiles carry these
values (rounded), and the M0+ and M55 profiles derive theirs from the M4 row.

{constants_table(fit_all(frame, per_layer), frame)}

Rows not predicted (no Cortex-M class profile):
{", ".join(f"{k} ({v})" for k, v in skipped.items())}.

## 6. Duty cycle: the Cortex-M paper's M7/M4 crossover

Shipped cortex_m4 and cortex_m7 profiles (3.3 V; idle 0.30 mA and 1.60 mA from the paper).
Average power P = (E + P_idle (T - t)) / T. The M7 has the lower average power below T*, the
M4 above it.

{duty_cycle_table()}

For DS-CNN (KWS) the M7 wins at T = 0.5 s and the M4 at T = 2.5 s, the finding of the
Cortex-M paper (tested in `tests/test_hardware_power.py`). The crossover moves with the model:
it scales with the model's energy, from 0.1 s for the 0.26 M-MAC autoencoder to about 3 s for
the 12.5 M-MAC ResNet-8.

## 7. Ethos-U55-128 (Alif RTSS-HE, 160 MHz) vs. Vela estimates

Not measurements: Arm Vela 5.2.0 static estimates. The shipped ethos_u55 profile carries the
fit below (from a neutral start).

{vela_table}

## 8. Every predicted row (shipped profiles, per-layer graphs)

{every_row_table(per_row)}
"""


def print_fit(frame: pd.DataFrame) -> None:
    for name, p in fit_all(frame, per_layer).items():
        assert p.compute is not None
        print(
            f"{name}: int8 MACs/cycle {p.compute.macs_per_cycle['int8']:.4g}, bytes/cycle "
            f"{p.compute.bytes_per_cycle:.4g}, cycles/output {p.compute.cycles_per_output:.4g}, "
            f"mA/MHz {p.active_power_mW / p.supply_V / p.clock_mhz:.4g}"
        )
    fitted, _ = vela_fit()
    assert fitted.compute is not None
    print(
        f"ethos_u55 (Vela RTSS-HE): int8 MACs/cycle {fitted.compute.macs_per_cycle['int8']:.4g}, "
        f"bytes/cycle {fitted.compute.bytes_per_cycle:.4g}, cycles/output "
        f"{fitted.compute.cycles_per_output:.4g}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="print the class constants and exit")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file to write")
    args = parser.parse_args(argv)
    frame = load_rows()
    if args.fit:
        print_fit(frame)
        return
    text = report(frame)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
