"""A study's worker loops on Dask: one ask-evaluate-tell loop per Dask worker.

Every worker runs its own loop against the shared storage and sees the others' running
trials as pending points, which is also how Optuna distributes a study. Without a
scheduler address moo starts a ``LocalCluster`` for the run and closes it after; that
cluster is set up for loops that last the whole study (see ``run_on_dask``).

Imported only by runs with ``executor: dask``: importing ``distributed`` costs every
other command about half a second.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import dask
from distributed import Client, LocalCluster, wait
from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["run_on_dask"]

#: Settings of the cluster moo starts. Workers are not daemonic, so that an evaluation
#: with a timeout can start its own child process. The statistical profiler is off: it
#: samples the running task's stack every 10 ms on the worker's event loop, which for a
#: BoTorch proposal (deep stacks) cost 5% of a core per worker and interrupted the loop
#: to take the GIL, and nobody reads it (the cluster has no dashboard).
_LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.daemon": False,
    "distributed.worker.profile.enabled": False,
}


class FreezeHeapAtClose(WorkerPlugin):
    """Freeze the worker's heap when it closes, so that its process exits in time.

    A worker that ran a study holds about 300,000 objects of some 2,500 modules (torch,
    BoTorch, SciPy, SQLAlchemy). When its process ends, Python's finalization walks them
    in several full garbage collections: 1.2-1.4 s of CPU, and more than 4 s of wall
    time for two workers exiting at once on a busy 2-core machine, after which the nanny
    kills the process ("Worker process still alive after 4.0 seconds, killing").
    ``gc.freeze()`` moves every object to the permanent generation that those
    collections skip (0.2 s of CPU to exit); objects are still freed by their reference
    counts. Registered only on the cluster moo starts, whose workers close for good.
    """

    idempotent = True

    def teardown(self, worker: Any) -> None:
        gc.freeze()


def run_on_dask(
    worker: Callable[[], str],
    *,
    n_workers: int,
    scheduler_address: str | None,
    poll: Callable[[], None],
    poll_interval: float = 1.0,
) -> list[str]:
    """Run ``worker`` once on each of ``n_workers`` Dask workers; ``poll`` while waiting.

    Without ``scheduler_address`` a ``LocalCluster`` of single-threaded worker processes
    is started for the run and closed after; every one of its processes exits by itself
    (``FreezeHeapAtClose``).
    """
    with dask.config.set(_LOCAL_CLUSTER_CONFIG), ExitStack() as stack:
        # Entered cluster first, client second: the client is closed before the cluster
        # shuts its workers down, not while it still holds their futures.
        cluster = (
            None
            if scheduler_address
            else stack.enter_context(
                LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
        )
        client = stack.enter_context(Client(scheduler_address or cluster))
        if cluster is not None:
            client.register_plugin(FreezeHeapAtClose(), name="moo-freeze-heap-at-close")
        futures = [client.submit(worker, pure=False) for _ in range(n_workers)]
        while True:
            try:
                wait(futures, timeout=poll_interval)
                break
            except TimeoutError:
                poll()
        poll()
        return client.gather(futures)
