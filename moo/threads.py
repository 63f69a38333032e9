"""torch's intra-op thread count, set for one block of work and restored after.

Both sides of a trial run small tensors: GP fits of a few hundred points in a proposal,
networks of a few thousand weights in the TinyML adapter. With torch's default of one
OpenMP thread per core they spin more than they work when other processes hold the cores
(``experiments/benchmarks/results/dask_throughput.md``), so each sets its own count for
its block. The setting is process-wide: the sampler's proposals already take turns under
``moo.rng.seeded_global_rng``'s lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside the block; ``None`` leaves them."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
