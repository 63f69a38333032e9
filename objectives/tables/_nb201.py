"""NAS-Bench-201 as an objective: accuracy and measured latency of 15625 cells.

NAS-Bench-201 [Dong2020nb201]_ trained every architecture of a small cell space (6 edges,
5 operations: 15625 cells) to convergence; HW-NAS-Bench [Li2021hwnas]_ and HELP
[Lee2021help]_ measured or estimated their latency on real devices. An evaluation is a
table lookup, so the true Pareto front is known and a sampler's hypervolume gap is exact.
That makes these tables the benchmark between the synthetic functions and a real training
study. The files and their provenance are described in ``SOURCES.md`` of the data folder.

All metrics are *minimized*: ``err_<dataset>_pct = 100 - test accuracy (%)`` after 200
epochs (mean over seeds) and ``lat_ms_<device>`` in milliseconds.

.. [Dong2020nb201] X. Dong, Y. Yang. NAS-Bench-201: Extending the Scope of Reproducible
   Neural Architecture Search. ICLR 2020.
.. [Li2021hwnas] C. Li et al. HW-NAS-Bench: Hardware-Aware Neural Architecture Search
   Benchmark. ICLR 2021.
.. [Lee2021help] H. Lee et al. HELP: Hardware-Adaptive Efficient Latency Prediction for NAS
   via Meta-Learning. NeurIPS 2021.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from objectives.protocol import Domain, EvalContext, TrialResult, space_problems

__all__ = [
    "DEFAULT_DATA_DIR",
    "NB201_OPS",
    "NasBench201",
    "ReferenceFront",
    "arch_string",
    "reference_front",
]

# ``../shared/data/nas`` beside the repository root: the data may not be copied into the
# repository or the package (see SOURCES.md), so an installed package must be given a path.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "nas"

NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
NUM_EDGES = 6
_EDGES = tuple(f"op_{i}" for i in range(NUM_EDGES))

_ACCURACY_FILE = "nb201_nats_tss_acc200.csv"
_LATENCY_FILE = "nb201_latency_help.csv"
_FRONTS_FILE = "reference_fronts.json"
# Accuracy columns of the NATS-Bench file -> dataset part of the metric name.
_ACCURACY_COLUMNS = {
    "CIFAR10TestAccuracy200Epochs": "cifar10",
    "CIFAR100TestAccuracy200Epochs": "cifar100",
    "ImageNetTestAccuracy200Epochs": "imagenet16",
}


def arch_string(config: Mapping[str, Any]) -> str:
    """The NAS-Bench-201 architecture string of ``config = {op_0: ..., ..., op_5: ...}``.

    The cell has nodes 0..3; ``op_0`` is edge 0->1, ``op_1``/``op_2`` are 0->2/1->2 and
    ``op_3``/``op_4``/``op_5`` are 0->3/1->3/2->3, the order of the benchmark's strings.

    Example:
        >>> arch_string({f"op_{i}": "nor_conv_3x3" for i in range(6)})[:30]
        '|nor_conv_3x3~0|+|nor_conv_3x3'
    """
    missing = [edge for edge in _EDGES if edge not in config]
    if missing:
        raise KeyError(f"NAS-Bench-201 config lacks {missing}; got keys {sorted(config)}.")
    op = [config[f"op_{i}"] for i in range(NUM_EDGES)]
    return f"|{op[0]}~0|+|{op[1]}~0|{op[2]}~1|+|{op[3]}~0|{op[4]}~1|{op[5]}~2|"


def _check_op(name: str, value: Any) -> None:
    if value not in NB201_OPS:
        raise ValueError(f"every op_i must be one of {list(NB201_OPS)}, got {value!r}.")


@dataclass(frozen=True)
class _Tables:
    """The 15625-row tables, row ``i`` = NAS-Bench-201 architecture index ``i``."""

    row_of: Mapping[str, int]
    metric_names: tuple[str, ...]
    values: np.ndarray  # `n x k`, columns in the order of ``metric_names``
    known: frozenset[str]


def _check_dir(data_dir: Path) -> None:
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"NAS-Bench-201 data directory {str(data_dir)!r} does not exist; pass "
            f"`data_dir` pointing at the folder with {_ACCURACY_FILE} and {_LATENCY_FILE}."
        )


@lru_cache(maxsize=4)
def _load_tables(data_dir: Path) -> _Tables:
    """Read and join the accuracy and latency files once per folder (they take ~0.2 s)."""
    _check_dir(data_dir)
    accuracy = pd.read_csv(data_dir / _ACCURACY_FILE)
    latency = pd.read_csv(data_dir / _LATENCY_FILE)
    archs = accuracy["ArchitectureString"].to_numpy()
    if not np.array_equal(archs, latency["arch_str"].to_numpy()):
        raise ValueError(
            f"{_ACCURACY_FILE} and {_LATENCY_FILE} in {str(data_dir)!r} list the "
            "architectures in different orders; expected the NAS-Bench-201 index order."
        )
    errors = {f"err_{name}_pct": 100.0 - accuracy[col] for col, name in _ACCURACY_COLUMNS.items()}
    latencies = {col: latency[col] for col in latency.columns if col.startswith("lat_ms_")}
    frame = pd.DataFrame({**errors, **latencies})
    return _Tables(
        row_of={arch: i for i, arch in enumerate(archs)},
        metric_names=tuple(frame.columns),
        values=frame.to_numpy(dtype=float),
        known=frozenset(latencies),
    )


class NasBench201:
    """Adapter: the 6 cell operations ``op_0 .. op_5`` -> error and latency metrics.

    Every metric of the tables is returned (``err_cifar10_pct``, ``err_cifar100_pct``,
    ``err_imagenet16_pct`` and ``lat_ms_<device>`` for Raspberry Pi 4, Pixel 3, Eyeriss,
    FPGA and 23 more devices); the study YAML picks its objectives among them.

    Args:
        data_dir: Folder holding the NAS-Bench-201 CSV files (default ``DEFAULT_DATA_DIR``).

    Example:
        >>> adapter = NasBench201()
        >>> config = {f"op_{i}": "nor_conv_3x3" for i in range(6)}
        >>> adapter.evaluate(config, EvalContext(0, Path("."))).metrics["lat_ms_raspi4"]
    """

    def __init__(self, *, data_dir: str | Path | None = None) -> None:
        self._tables = _load_tables(Path(data_dir or DEFAULT_DATA_DIR).resolve())

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric an evaluation returns, errors first."""
        return self._tables.metric_names

    def arch_index(self, config: Mapping[str, Any]) -> int:
        """The NAS-Bench-201 index (0..15624) of the architecture ``config`` describes."""
        arch = arch_string(config)
        try:
            return self._tables.row_of[arch]
        except KeyError:
            raise ValueError(
                f"Unknown NAS-Bench-201 architecture {arch!r}; every op_i must be one of "
                f"{list(NB201_OPS)}."
            ) from None

    def check_space(self, space: Mapping[str, Domain]) -> dict[str, str]:
        """Every ``op_i`` must be in the space, and only with operations of the benchmark."""
        return space_problems(
            type(self).__name__, space, reads=_EDGES, needs=_EDGES, accept=_check_op
        )

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        index = self.arch_index(config)
        return TrialResult(metrics=self._row(index), attrs={"nb201_index": index})

    def known_metrics(self, config: Mapping[str, Any]) -> dict[str, float]:
        """The latencies: exact lookups the sampler need not learn (errors are learned)."""
        metrics = self._row(self.arch_index(config))
        return {name: value for name, value in metrics.items() if name in self._tables.known}

    def _row(self, index: int) -> dict[str, float]:
        row = self._tables.values[index]
        return dict(zip(self.metric_names, map(float, row), strict=True))


@dataclass(frozen=True)
class ReferenceFront:
    """The true Pareto front of a NAS-Bench-201 problem over all 15625 architectures.

    Attributes:
        objective_names: Metric names of the adapter, all minimized.
        reference_point: Per-objective maximum over all architectures, in the metrics' own
            units (error in %, latency in ms) and minimization direction.
        max_hv: Hypervolume of the true front w.r.t. ``reference_point`` (minimization).
        front: The distinct non-dominated objective vectors, `n x m`.
        pareto_arch_idx: Every architecture index on the front (ties kept).
    """

    objective_names: tuple[str, ...]
    reference_point: tuple[float, ...]
    max_hv: float
    front: tuple[tuple[float, ...], ...]
    pareto_arch_idx: tuple[int, ...]


def reference_front(problem: str, *, data_dir: str | Path | None = None) -> ReferenceFront:
    """The true front, reference point and max hypervolume of ``problem``.

    Args:
        problem: A key of ``reference_fronts.json``: ``nb201_c10_raspi4``,
            ``nb201_c10_pixel3`` or ``nb201_c10_eyeriss_fpga``.
        data_dir: Folder holding ``reference_fronts.json`` (default ``DEFAULT_DATA_DIR``).
    """
    folder = Path(data_dir or DEFAULT_DATA_DIR)
    _check_dir(folder)
    problems = json.loads((folder / _FRONTS_FILE).read_text())["problems"]
    if problem not in problems:
        raise ValueError(
            f"Unknown NAS-Bench-201 problem {problem!r}; expected one of {sorted(problems)}."
        )
    entry = problems[problem]
    return ReferenceFront(
        objective_names=tuple(entry["objectives"]),
        reference_point=tuple(entry["ref_point"]),
        max_hv=float(entry["hv"]),
        front=tuple(tuple(v) for v in entry["front_vectors"]),
        pareto_arch_idx=tuple(entry["pareto_arch_idx"]),
    )
