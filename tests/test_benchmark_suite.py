"""The sampler benchmark suite on a tiny cell: real problems, real samplers, real CSV."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from experiments.benchmarks.suite.hypervolume import hypervolume_trace, log10_gap
from experiments.benchmarks.suite.methods import METHODS
from experiments.benchmarks.suite.problems import get_problem
from experiments.benchmarks.suite.report import write_report
from experiments.benchmarks.suite.runner import (
    COLUMNS,
    ResultsFile,
    commands,
    read_results,
    run_one,
)


def test_hypervolume_trace_matches_boxes_by_hand() -> None:
    # Minimization, reference (4, 4): (1, 3) covers 3x1; (5, 0) lies beyond the reference;
    # (3, 1) covers 1x3, sharing the square (3,3)-(4,4): 5; (2, 2) adds (2,2)-(3,3): 6;
    # (3, 3) is dominated.
    trace = hypervolume_trace([(1, 3), (5, 0), (3, 1), (2, 2), (3, 3)], (4, 4))
    assert trace == pytest.approx([3.0, 3.0, 5.0, 6.0, 6.0])
    assert log10_gap(6.0, 7.0) == pytest.approx(0.0)
    assert log10_gap(7.0, 7.0) == pytest.approx(math.log10(7e-9))


@pytest.mark.slow
def test_quick_cell_writes_complete_rows(tmp_path: Path) -> None:
    problem = get_problem("branin_currin")
    budget = problem.n_initial + 2  # two model-based proposals after the shared design
    results = ResultsFile(tmp_path / "sampler_results.csv", "pytest quick cell")
    results.append(run_one(problem, METHODS["moo-qlognehvi"], seed=0, budget=budget))
    # A second process writes its own file; its runs are merged in once, not twice.
    other = ResultsFile(tmp_path / "other" / "sampler_results.csv", "pytest other")
    other.append(run_one(problem, METHODS["random"], seed=0, budget=budget))
    assert results.merge(other.path) == 1
    assert results.merge(other.path) == 0
    assert commands(results.path) == ["pytest quick cell", "pytest other"]  # each once

    frame = read_results(results.path)
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == 2 * budget
    assert results.done() == {("moo-qlognehvi", "branin_currin", 0), ("random", "branin_currin", 0)}
    for _, run in frame.groupby("method"):
        assert list(run["trial"]) == list(range(budget))
        assert list(run["initial"]) == [t < problem.n_initial for t in range(budget)]
        assert run["hypervolume"].is_monotonic_increasing
        assert (run["hypervolume"] <= problem.max_hv).all()
        expected = [log10_gap(hv, problem.max_hv) for hv in run["hypervolume"]]
        assert list(run["log10_hv_gap"]) == pytest.approx(expected)
    # Both methods evaluate the same Sobol design first.
    design = frame[frame["initial"]].groupby("method")["values"].apply(list)
    assert design["moo-qlognehvi"] == design["random"]
    # moo reports its own time for its proposals; the enqueued design is not its proposal.
    moo = frame[(frame["method"] == "moo-qlognehvi") & ~frame["initial"]]
    assert moo["reported_s"].notna().all()
    assert (moo["propose_s"] >= moo["reported_s"]).all()

    written = write_report(results.path)
    assert [p.name for p in written] == [
        "sampler_summary.md",
        "sampler_hv_gap.png",
        "sampler_propose_seconds.png",
    ]
    summary = written[0].read_text()
    assert "pytest quick cell" in summary and "pytest other" in summary
    assert "| moo-qlognehvi |" in summary and "| random |" in summary
