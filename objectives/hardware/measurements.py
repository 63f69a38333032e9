"""Measured rows for calibration: one inference of a model on a device, read from a CSV.

A row names its model by an ONNX file (graph statistics read from the graph), an MLPerf Tiny
reference model (``benchmark``: ic, kws, vww, ad) or only its MACs and parameter count (a
one-layer stand-in). Every bad value is reported with the file, row and column.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from objectives.hardware.errors import HardwareError
from objectives.hardware.reference import reference_graph
from objectives.hardware.stats import GraphStats, LayerKind, LayerStats

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["Measurement", "coarse_graph", "read_measurements"]


@dataclass(frozen=True)
class Measurement:
    """One measured inference: the graph, where it ran, and what it cost.

    Attributes:
        graph: Graph statistics of the measured model.
        latency_ms: Measured latency.
        energy_mJ: Measured energy per inference, if known.
        clock_mhz: Clock of the measurement; ``None`` means the profile's clock.
        supply_V: Supply of the energy measurement; ``None`` means the profile's supply.
        unit: For an edge SoC, the unit that ran the whole graph.
        runtime: The runtime the row was measured under (``x_cube_ai@8.1`` or a framework
            string such as ``X-CUBE-AI v8.1.0``), if stated.
        line: Line of the row in its CSV file (for messages).
    """

    graph: GraphStats
    latency_ms: float
    energy_mJ: float | None = None
    clock_mhz: float | None = None
    supply_V: float | None = None
    unit: str | None = None
    runtime: str | None = None
    line: int | None = None


def coarse_graph(macs: int, params: int) -> GraphStats:
    """A one-layer graph from a model's MACs and parameters alone.

    A model with about as many parameters as MACs uses each weight about once: it is
    costed as a dense layer; otherwise as a convolution. Activation sizes are unknown
    and taken as zero, so only the MAC and weight terms of the model apply.
    """
    kind: LayerKind = "dense" if 2 * params >= macs else "conv"
    layer = LayerStats("model", "Gemm" if kind == "dense" else "Conv", kind, macs, params, 0, 0)
    return GraphStats((layer,))


def read_measurements(
    path: Path, graph_loader: Callable[[Path], GraphStats] | None = None
) -> list[Measurement]:
    """Read a measurements CSV.

    Columns: ``latency_ms`` (required); the model as ``onnx_path``, ``benchmark`` (an
    MLPerf Tiny reference model: ic, kws, vww, ad) or ``macs`` and ``params``; optional
    ``energy_mJ`` (or ``energy_uJ``), ``clock_mhz``, ``supply_V``, ``runtime`` and, for an
    edge SoC, ``unit``.

    Args:
        path: The CSV file.
        graph_loader: Turns an ONNX path (relative to the CSV's folder) into graph
            statistics; defaults to ``graph_from_onnx``.

    Raises:
        HardwareError: A missing column or a bad value, naming the file, row and column.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise HardwareError(f"{path}: cannot read measurements CSV ({e}).") from e
    if "latency_ms" not in frame.columns:
        raise HardwareError(f"{path}: column 'latency_ms' is required.")
    if not {"onnx_path", "benchmark", "macs"} & set(frame.columns):
        raise HardwareError(
            f"{path}: name each row's model with an 'onnx_path', 'benchmark' or "
            "'macs' and 'params' column."
        )
    rows = []
    for index, row in frame.iterrows():
        line = int(index) + 2  # 1-based, after the header line
        measured = _measurement(row.to_dict(), f"{path}, row {line}", path, graph_loader)
        rows.append(dataclasses.replace(measured, line=line))
    return rows


def _present(row: dict[str, Any], column: str) -> bool:
    value = row.get(column)
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _positive(row: dict[str, Any], column: str, where: str) -> float | None:
    if not _present(row, column):
        return None
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0:
        raise HardwareError(f"{where}: column '{column}' must be > 0, got {row[column]!r}.")
    return value


def _measurement(
    row: dict[str, Any],
    where: str,
    path: Path,
    graph_loader: Callable[[Path], GraphStats] | None,
) -> Measurement:
    if _present(row, "onnx_path"):
        try:
            graph = (graph_loader or _graph_from_onnx)(path.parent / str(row["onnx_path"]))
        except HardwareError as e:
            raise HardwareError(f"{where}: column 'onnx_path': {e}") from e
    elif _present(row, "benchmark"):
        try:
            graph = reference_graph(str(row["benchmark"]))
        except ValueError as e:
            raise HardwareError(f"{where}: column 'benchmark': {e}") from e
    else:
        macs, params = _positive(row, "macs", where), _positive(row, "params", where)
        if macs is None or params is None:
            raise HardwareError(f"{where}: columns 'macs' and 'params' are both required.")
        graph = coarse_graph(int(macs), int(params))
    latency = _positive(row, "latency_ms", where)
    if latency is None:
        raise HardwareError(f"{where}: column 'latency_ms' is empty.")
    energy = _positive(row, "energy_mJ", where)
    energy_uJ = _positive(row, "energy_uJ", where)
    if energy is None and energy_uJ is not None:
        energy = energy_uJ / 1e3
    return Measurement(
        graph=graph,
        latency_ms=latency,
        energy_mJ=energy,
        clock_mhz=_positive(row, "clock_mhz", where),
        supply_V=_positive(row, "supply_V", where),
        unit=str(row["unit"]) if _present(row, "unit") else None,
        runtime=str(row["runtime"]) if _present(row, "runtime") else None,
    )


def _graph_from_onnx(path: Path) -> GraphStats:
    """``graph_from_onnx``, imported when a measurement names a model (``onnx`` is slow
    to import and most calibrations give MACs and parameters instead)."""
    from objectives.hardware.onnx_graph import graph_from_onnx

    return graph_from_onnx(path)
