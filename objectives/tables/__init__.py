"""Objective adapters over measured lookup tables.

``LookupTable`` reads any table of configs and metrics named in the study YAML (a
HW-NAS-Bench-style benchmark, a team's own board measurements); ``NasBench201`` reads
NAS-Bench-201's own files, whose true fronts (``reference_front``) make it the benchmark
where a sampler's hypervolume gap is exact.
"""

from objectives.tables._lookup import LookupTable, TableError, space_from_table
from objectives.tables._nb201 import (
    DEFAULT_DATA_DIR,
    NB201_OPS,
    NasBench201,
    ReferenceFront,
    arch_string,
    reference_front,
)

__all__ = [
    "DEFAULT_DATA_DIR",
    "NB201_OPS",
    "LookupTable",
    "NasBench201",
    "ReferenceFront",
    "TableError",
    "arch_string",
    "reference_front",
    "space_from_table",
]
