"""Random numbers for proposals: explicit generators, seeded by the study and the trial.

A proposal must be a function of the study seed, its index among the sampler's trials and
the history it sees, whichever thread or process makes it. moo's own draws (Sobol
designs, candidate pools, restart picks, nudges, scalarization weights) therefore come
from generators made here. Some BoTorch internals take no generator and draw from
torch's global RNG: the seed of the sampler that prunes the NEHVI baseline, the mixed
optimizer's restarts and spray points, and the prior draws of a model fit's retry. They
run inside ``seeded_global_rng``, which also holds a process-wide lock: two worker
threads that propose at once then neither reseed nor consume each other's stream.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["derive_seed", "seeded_global_rng", "torch_generator"]

_GLOBAL_RNG_LOCK = threading.RLock()


def derive_seed(seed: int, *keys: int) -> int:
    """A 32-bit seed for ``keys`` (a trial index, a purpose) under the master ``seed``.

    ``SeedSequence`` hashes the whole tuple, so nearby seeds and indices give unrelated
    streams (``seed + index`` would make study 0's trial 1 study 1's trial 0).
    """
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def torch_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Run BoTorch code that draws from the global RNGs on a stream of its own.

    Holds a process-wide lock, saves torch's and Python's global RNG states, seeds both
    with ``seed`` and restores them on exit. Code in another thread that uses the global
    RNGs without this lock could still interleave with it; moo's own code and its
    adapters draw from explicit generators only (the TinyML networks are built on the
    meta device and initialized from a generator: ``objectives.tinyml._models.seeded``).
    """
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        state = random.getstate()
        torch.manual_seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            random.setstate(state)
