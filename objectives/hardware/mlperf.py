"""Public MLPerf Tiny result rows, read into what the hardware model is fitted on.

A row of ``../shared/data/mlperf_tiny/results_*.csv`` becomes: core class (``runtimes.yaml``
maps ``processor_core``), runtime family and generation (from ``framework`` and
``system_id``), board (spelled one way: ``Nucleo-L4R5ZI`` and ``NUCLEO_L4R5ZI`` are one
board), clock, benchmark, latency, energy per inference with the latency of the energy run,
and the supply voltage and regulator of the energy run parsed from the hardware notes
("Operating at 3.0V with SMPS"). Rows on cores the model does not cover (RISC-V, DSPs,
NPUs of other vendors) or of a benchmark without a reference graph are dropped; ``skipped``
lists them. A framework no runtime pattern recognizes is kept as runtime ``unrecognized``
(predicted with the fastest fitted runtime of its core, ``fit.row_runtime``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from objectives.hardware.reference import REFERENCE_MODELS
from objectives.hardware.runtimes import RuntimeRef, core_class_of, identify_runtime

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["MlperfRows", "board_id", "read_mlperf"]

ROUNDS = ("v0.5", "v0.7", "v1.0", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5")
"""Published MLPerf Tiny rounds, oldest first (later ones sort after these)."""
OPTIONAL = (
    "submitter",
    "system_id",
    "round",
    "hardware_notes",
    "energy_uJ",
    "energy_run_latency_ms",
)
"""Columns a results file may lack (read as empty): a later round's file still predicts."""


def board_id(board: str) -> str:
    """One spelling per board: upper case, ``-`` separators, no ``-Q`` package suffix.

    Example:
        >>> board_id("Nucleo-L4R5ZI"), board_id("NUCLEO_H7A3ZI_Q"), board_id("nRF5340 DK")
        ('NUCLEO-L4R5ZI', 'NUCLEO-H7A3ZI', 'NRF5340-DK')
    """
    spelled = re.sub(r"[\s_]+", "-", board.strip().upper())
    return re.sub(r"-Q$", "", spelled)


@dataclass(frozen=True)
class MlperfRows:
    """Rows the model covers (``frame``) and the processor cores it does not (``skipped``)."""

    frame: pd.DataFrame
    skipped: dict[str, int]


def read_mlperf(paths: Sequence[Path]) -> MlperfRows:
    """Read and normalize MLPerf Tiny result CSVs (module docstring).

    Columns of ``frame``: the CSV's, plus ``core``, ``family``, ``generation``, ``version``
    (tuple or None), ``board_id``, ``system`` (one submission: round, submitter, system,
    framework), ``energy_mJ``, ``energy_latency_ms``, ``supply_V`` (NaN where not stated),
    ``regulator`` (``smps`` where the notes say so, else ``ldo``) and ``round_index``.
    """
    raw = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    raw = raw.reindex(columns=[*raw.columns, *(c for c in OPTIONAL if c not in raw.columns)])
    cores = raw["processor_core"].astype(str).map(core_class_of)
    skipped = raw.loc[cores.isna(), "processor_core"].astype(str).value_counts().to_dict()
    known = raw["benchmark"].isin(list(REFERENCE_MODELS))
    for bench, n in raw.loc[cores.notna() & ~known, "benchmark"].value_counts().items():
        skipped[f"benchmark {bench!r} (no reference graph)"] = int(n)
    keep = cores.notna() & known
    frame = raw[keep].assign(core=cores[keep]).reset_index(drop=True)
    refs = [
        identify_runtime(str(r.framework), r.core, system_id=str(r.system_id), round_=str(r.round))
        or RuntimeRef("unrecognized", "0")
        for r in frame.itertuples()
    ]
    notes = frame["hardware_notes"].map(lambda v: v if isinstance(v, str) else "")
    energy_latency = frame["energy_run_latency_ms"].fillna(frame["latency_ms"])
    frame = frame.assign(
        family=[r.family for r in refs],
        generation=[r.generation for r in refs],
        version=[r.version for r in refs],
        board_id=frame["board"].astype(str).map(board_id),
        system=frame["round"].astype(str)
        + "|"
        + frame["submitter"].astype(str)
        + "|"
        + frame["system_id"].astype(str)
        + "|"
        + frame["framework"].astype(str),
        energy_mJ=frame["energy_uJ"] / 1e3,
        energy_latency_ms=energy_latency,
        supply_V=notes.str.extract(r"at ([0-9.]+) ?V", expand=False).astype(float),
        regulator=notes.str.contains("SMPS", case=False).map({True: "smps", False: "ldo"}),
        round_index=frame["round"].map(lambda r: ROUNDS.index(r) if r in ROUNDS else len(ROUNDS)),
    )
    return MlperfRows(frame, skipped)
