"""``LookupTable``: any measured table of configs and metrics as an objective.

A HW-NAS-Bench-style benchmark, or a team's own measurements (boards x runtimes x models),
is one file: some columns describe a config (categorical or numeric), the others are its
metrics. The study YAML names which columns are the config and which metrics are
``learned`` (the sampler fits a GP: accuracy, error) or ``exact`` (the sampler gets the
looked-up value as a known function of the config: a measured latency or energy), so such
a study needs no code.

A config is found by the exact values of its config columns. The table decides what a
study may propose, with one line for each way a study file can disagree with it:

- a space parameter that is not a config column, or a config column the space lacks,
  and a value the column never holds, refuse the study before any trial runs
  (``check_space``); continuous ranges too, as a lookup needs listed values
  (``moo table-space``, over ``space_from_table``, prints the space the table spans);
- a table with holes (a combination of values never measured, or a row missing one of the
  study's metrics, which cannot be evaluated either):
  ``check`` marks such configs infeasible (constraint ``missing_from_table``), so they
  are never evaluated and the sampler learns where the holes are. Its ``exact`` metrics
  are learned too then: the acquisition scores configs the table lacks, and a lookup
  has nothing to give it there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from objectives.protocol import AdapterError, Domain, EvalContext, TrialResult, space_problems

__all__ = ["LookupTable", "TableError", "space_from_table"]

_logger = logging.getLogger(__name__)

Duplicates = Literal["error", "mean", "min", "max"]
_PARQUET = (".parquet", ".pq")
_MISSING = "missing_from_table"
"""The constraint of a config the table lacks (Optuna's convention: > 0 is infeasible)."""


class TableError(AdapterError, ValueError):
    """A table, or a study's use of it, that cannot serve: one line naming the column."""


def _cell(value: Any) -> Any:
    """A config value as a lookup key: YAML's ``8`` and a CSV's ``8.0`` are one value."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return str(value)


@lru_cache(maxsize=8)
def _read(path: Path, mtime: float) -> pd.DataFrame:
    """The table at ``path`` (CSV, or Parquet by its suffix), read once per file version
    (``mtime``): every worker and every resume builds its adapter again."""
    try:
        if path.suffix.lower() in _PARQUET:
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except ImportError as e:  # Parquet needs pyarrow or fastparquet
        raise TableError(f"table {str(path)!r}: {e}".splitlines()[0]) from e
    except (ValueError, pd.errors.ParserError) as e:
        raise TableError(f"table {str(path)!r} cannot be read: {str(e).splitlines()[0]}") from e


def _select(
    path: Path,
    config: Sequence[str],
    metrics: Sequence[str],
    where: Mapping[str, Any],
    duplicates: Duplicates,
) -> pd.DataFrame:
    """The table's rows with ``where`` values, one per config, every cell filled."""
    if not path.is_file():
        raise FileNotFoundError(f"table {str(path)!r} does not exist; check `path`.")
    frame = _read(path, path.stat().st_mtime)
    wanted = [*config, *metrics, *where]
    absent = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if absent:
        raise TableError(
            f"table {path.name} has no column {', '.join(map(repr, absent))}; "
            f"its columns are {list(frame.columns)}."
        )
    named = [*config, *metrics]
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        raise TableError(f"columns {twice} are named twice (config, learned, exact); once each.")
    for column, value in where.items():
        frame = frame[frame[column].map(_cell) == _cell(value)]
    frame = frame.loc[:, [*config, *metrics]].dropna()
    non_numeric = [m for m in metrics if not pd.api.types.is_numeric_dtype(frame[m])]
    if non_numeric:
        raise TableError(f"metric columns {non_numeric} of {path.name} are not numbers.")
    if frame.empty:
        raise TableError(
            f"table {path.name} has no row with every config and metric value"
            + (f" where {dict(where)}" if where else "")
            + "; check `where` and the column names."
        )
    keys = frame[list(config)].map(_cell)
    repeated = keys.duplicated(keep=False)
    if repeated.any() and duplicates == "error":
        first = dict(zip(config, keys[repeated].iloc[0], strict=True))
        raise TableError(
            f"table {path.name}: {int(repeated.sum())} rows repeat a config (first {first}); "
            "set `duplicates: mean` (or min, max) to combine repeated measurements."
        )
    if repeated.any():
        frame = frame.assign(**{c: keys[c] for c in config})
        frame = frame.groupby(list(config), sort=False, as_index=False).agg(duplicates)
    return frame.reset_index(drop=True)


def space_from_table(
    path: str | Path,
    config: Sequence[str],
    *,
    metrics: Sequence[str] = (),
    where: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The search space a table spans, for the study YAML's ``space:`` (``moo table-space``).

    Text columns become ``categorical`` parameters and numeric ones ``ordinal`` (their
    order means something to the GP), each with every value of the rows that have every
    one of ``metrics`` (a row without them cannot be evaluated).

    Example:
        >>> yaml.safe_dump(space_from_table("boards.csv", ["board", "runtime"]))
    """
    frame = _select(Path(path), config, metrics, where or {}, "mean")
    parameters: dict[str, Any] = {}
    for column in config:
        values = sorted(set(frame[column].map(_cell)))
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        if numeric:
            values = [int(v) if float(v).is_integer() else v for v in values]
        kind = "ordinal" if numeric and len(values) > 1 else "categorical"
        parameters[column] = {"type": kind, "values" if kind == "ordinal" else "choices": values}
    return {"parameters": parameters}


class LookupTable:
    """Adapter: a config is looked up in a table of measured metrics.

    Args:
        path: The table, CSV or Parquet (``.parquet``, needs pyarrow). A relative path is
            read from the working directory, as ``moo run`` and ``moo resume`` are run.
        config: The columns that describe a config: the study's space parameters.
        learned: Metric columns the sampler models with a GP (accuracy, error).
        exact: Metric columns that are exact functions of the config (measured latency,
            energy): the sampler is given the looked-up value instead of learning it.
        where: Only rows with these column values (``{benchmark: kws}``).
        duplicates: Rows that repeat a config: ``error`` (the default: say so), or
            combine their metrics with ``mean``, ``min`` or ``max``.

    Example:
        >>> table = LookupTable(path="boards.csv", config=["board", "runtime"],
        ...                     learned=["accuracy"], exact=["latency_ms"])
        >>> table.evaluate({"board": "nucleo_h7", "runtime": "tflm"}, context).metrics
    """

    def __init__(
        self,
        *,
        path: str | Path,
        config: Sequence[str],
        learned: Sequence[str] = (),
        exact: Sequence[str] = (),
        where: Mapping[str, Any] | None = None,
        duplicates: Duplicates = "error",
    ) -> None:
        if not config:
            raise TableError("`config` must name the table's config columns; got none.")
        if not learned and not exact:
            raise TableError("name the metric columns in `learned` and/or `exact`; got none.")
        if duplicates not in ("error", "mean", "min", "max"):
            raise TableError(f"`duplicates` must be error, mean, min or max, got {duplicates!r}.")
        self.path = Path(path).resolve()
        self.config_columns = tuple(config)
        self.metric_names = (*learned, *exact)
        frame = _select(self.path, self.config_columns, self.metric_names, where or {}, duplicates)
        keys = frame[list(self.config_columns)].map(_cell)
        self._row_of = {tuple(k): i for i, k in enumerate(keys.itertuples(index=False))}
        self._values = frame[list(self.metric_names)].to_numpy(dtype=float)
        self._column_values = {c: frozenset(keys[c]) for c in self.config_columns}
        grid = int(np.prod([len(v) for v in self._column_values.values()]))
        # Every combination of the columns' values is a row: no holes (module docstring).
        self.complete = grid == len(self._row_of)
        self._exact = frozenset(exact) if self.complete else frozenset()
        if exact and not self.complete:
            _logger.info(
                "table %s lacks %d of %d configs: exact metrics %s are learned",
                self.path.name,
                grid - len(self._row_of),
                grid,
                list(exact),
            )

    @property
    def n_rows(self) -> int:
        """Configs the table holds (after ``where`` and combining duplicates)."""
        return len(self._row_of)

    def _key(self, config: Mapping[str, Any]) -> tuple[Any, ...]:
        missing = [c for c in self.config_columns if c not in config]
        if missing:
            raise KeyError(f"config lacks {missing} (table columns); got keys {sorted(config)}.")
        return tuple(_cell(config[c]) for c in self.config_columns)

    def _row(self, config: Mapping[str, Any]) -> np.ndarray | None:
        index = self._row_of.get(self._key(config))
        return None if index is None else self._values[index]

    def _accept(self, name: str, value: Any) -> None:
        if _cell(value) not in self._column_values[name]:
            shown = sorted(map(str, self._column_values[name]))[:8]
            raise TableError(f"column {name!r} of {self.path.name} holds only {shown}")

    def check_space(self, space: Mapping[str, Domain]) -> dict[str, str]:
        """Parameters are the config columns, with listed values the table holds."""
        name = f"LookupTable({self.path.name})"
        problems = space_problems(
            name, space, reads=self.config_columns, needs=self.config_columns, accept=self._accept
        )
        for column, domain in space.items():
            if column in self.config_columns and domain.values is None:
                problems[column] = (
                    f"{name} looks configs up by exact value, so a range proposes configs it "
                    "lacks; list the values (`moo table-space` prints the space)."
                )
        return problems

    def check(self, config: Mapping[str, Any]) -> dict[str, float]:
        """``missing_from_table > 0`` for a config the table lacks; nothing without holes."""
        if self.complete:
            return {}
        return {_MISSING: -1.0 if self._row(config) is not None else 1.0}

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        row = self._row(config)
        if row is None:
            shown = {c: config[c] for c in self.config_columns}
            raise TableError(f"{shown} is not a row of {self.path.name} ({self.n_rows} rows).")
        return TrialResult(metrics=dict(zip(self.metric_names, map(float, row), strict=True)))

    def known_metrics(self, config: Mapping[str, Any]) -> dict[str, float]:
        """The ``exact`` metrics, on a table without holes (see the module docstring)."""
        row = self._row(config) if self._exact else None
        if row is None:
            return {}
        return {
            n: float(v) for n, v in zip(self.metric_names, row, strict=True) if n in self._exact
        }
