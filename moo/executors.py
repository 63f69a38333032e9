"""Where evaluations run: in this process, or in a child process that can be killed.

A Python thread cannot be stopped, so an evaluation that may hang (a training loop stuck
on a bad config, a deadlocked native library) must run in a process of its own: with
``execution.trial_timeout`` or ``executor: process`` each worker thread of the study owns
one child process, which is killed when the evaluation overruns and restarted for the
next trial. The child builds its own adapter from the YAML section, so nothing but the
config and the context crosses the process boundary.

Several machines are Dask's job: ``moo.cluster`` runs one ask-evaluate-tell loop per Dask
worker.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Protocol

from moo.config import AdapterSection, load_adapter
from moo.errors import EvaluationError
from moo.protocol import EvalContext, TrialResult, Workload

if TYPE_CHECKING:
    from moo.config import StudyConfig

__all__ = [
    "Evaluator",
    "InProcessEvaluator",
    "SubprocessEvaluator",
    "make_evaluator",
]


class Evaluator(Protocol):
    def __call__(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult: ...

    def close(self) -> None: ...


class InProcessEvaluator:
    """The cheapest way: call the adapter directly (no timeout possible)."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def __call__(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        return self.adapter.evaluate(dict(config), context)

    def close(self) -> None:
        return None


class SubprocessEvaluator:
    """One child process per calling thread; an overrunning evaluation is killed."""

    def __init__(
        self, section: AdapterSection, timeout: float | None, workload: Workload | None = None
    ) -> None:
        self._section = section.model_dump()
        self._workload = workload
        self._timeout = timeout
        self._local = threading.local()
        self._pools: list[ProcessPoolExecutor] = []

    def _pool(self) -> ProcessPoolExecutor:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_child,
                initargs=(self._section, self._workload),
            )
            # Start the child and build its adapter now: the timeout is for the evaluation,
            # not for importing torch in a fresh interpreter.
            pool.submit(_ready).result()
            self._local.pool = pool
            self._pools.append(pool)
        return pool

    def __call__(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        future = self._pool().submit(_evaluate_in_child, dict(config), context)
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout:
            self._discard(kill=True)
            raise EvaluationError(
                f"timed out after {self._timeout:g} s (execution.trial_timeout)"
            ) from None
        except BrokenProcessPool:
            self._discard(kill=False)
            raise EvaluationError(
                "the evaluation process died (out of memory, or a crash in native code)"
            ) from None

    def _discard(self, *, kill: bool) -> None:
        pool: ProcessPoolExecutor = self._local.pool
        self._local.pool = None
        if kill:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()


_CHILD_ADAPTER: Any = None


def _init_child(section: dict[str, Any], workload: Workload | None) -> None:
    global _CHILD_ADAPTER
    _CHILD_ADAPTER = load_adapter(AdapterSection.model_validate(section), workload)


def _ready() -> bool:
    return _CHILD_ADAPTER is not None


def _evaluate_in_child(config: dict[str, Any], context: EvalContext) -> TrialResult:
    return _CHILD_ADAPTER.evaluate(config, context)


def make_evaluator(config: StudyConfig, adapter: Any) -> Evaluator:
    execution = config.execution
    if execution.executor == "process" or execution.trial_timeout is not None:
        return SubprocessEvaluator(
            config.objective, execution.trial_timeout, config.workload_spec()
        )
    return InProcessEvaluator(adapter)
