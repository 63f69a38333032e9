"""The sampler benchmark suite on a tiny cell: real problems, real samplers, real CSV."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.benchmarks.suite.hypervolume import hypervolume_trace, log10_gap
from experiments.benchmarks.suite.methods import METHODS
from experiments.benchmarks.suite.problems import digits_table, get_problem
from experiments.benchmarks.suite.report import AS_MOO_RUN, as_moo_run, write_report
from experiments.benchmarks.suite.runner import (
    COLUMNS,
    ResultsFile,
    commands,
    read_results,
    run_one,
)
from experiments.benchmarks.suite.variants import paired_summary, read_gaps
from moo.pareto import hypervolume

DIGITS_CSV = Path(__file__).resolve().parents[1] / "experiments/benchmarks/results/digits_table.csv"


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
    # A re-run on newer code supersedes every run of its method on its problem (here seed
    # 0 and an older seed 1), and only those.
    older = run_one(problem, METHODS["random"], seed=1, budget=budget)
    results.append(older)
    rerun = ResultsFile(tmp_path / "rerun" / "sampler_results.csv", "pytest rerun")
    rows = run_one(problem, METHODS["random"], seed=0, budget=budget)
    rerun.append([{**row, "propose_s": -1.0} for row in rows])
    assert results.merge(rerun.path, supersede=True) == 1
    merged = read_results(results.path)
    assert set(merged.loc[merged["method"] == "random", "seed"]) == {0}
    assert (merged.loc[merged["method"] == "random", "propose_s"] == -1.0).all()
    assert (merged["method"] == "moo-qlognehvi").sum() == budget
    assert commands(results.path)[-1] == "pytest rerun"

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


def test_moo_as_run_takes_the_known_runs_where_a_problem_has_them() -> None:
    rows = [
        (method, problem, gap)
        for problem, methods in {
            "nb": {"moo-qlognehvi": 2.0, "moo-qlognehvi-known": 1.0, "gp": 1.5},
            "zdt1": {"moo-qlognehvi": -1.4, "moo-qlognehvi-ref": -1.6, "gp": -0.8},
        }.items()
        for method, gap in methods.items()
    ]
    frame = pd.DataFrame(
        [{"method": m, "problem": p, "seed": 0, "trial": 0, "log10_hv_gap": g} for m, p, g in rows]
    )
    chosen = as_moo_run(frame)
    moo = chosen[chosen["method"] == AS_MOO_RUN].set_index("problem")["log10_hv_gap"]
    assert moo.to_dict() == {"nb": 1.0, "zdt1": -1.4}  # -known on nb, plain on zdt1
    assert set(chosen["method"]) == {AS_MOO_RUN, "gp"}  # variants like -ref are not peers


def test_digits_table_covers_the_space_and_its_front_is_true() -> None:
    table = digits_table()
    frame = pd.read_csv(DIGITS_CSV, comment="#")
    assert len(frame) == table.space.n_configs() == 1080
    # Objectives recomputed from the raw columns: error and log10 hardware costs.
    expected = np.column_stack(
        [1 - frame["accuracy"], np.log10(frame["latency_ms"]), np.log10(frame["energy_mJ"])]
    )
    np.testing.assert_allclose(table.values, expected, rtol=1e-12)
    assert table.reference_point == pytest.approx(tuple(expected.max(axis=0)))
    # Brute force, minimization: a row is on the front iff no row dominates it.
    Y = table.values
    dominated = [bool(((Y <= y).all(axis=1) & (Y < y).any(axis=1)).any()) for y in Y]
    assert sorted(table.front) == [i for i, d in enumerate(dominated) if not d]
    assert 1 < len(table.front) < len(Y)
    # The max HV is the front's, and all rows together add nothing; checked against
    # moo's own (independent) hypervolume.
    front = Y[list(table.front)]
    assert table.max_hv == pytest.approx(hypervolume_trace(Y, table.reference_point)[-1])
    assert table.max_hv == pytest.approx(
        hypervolume(front, ["minimize"] * 3, list(table.reference_point)), rel=1e-9
    )


def test_digits_problem_looks_up_the_table() -> None:
    problem = get_problem("digits")
    frame = pd.read_csv(DIGITS_CSV, comment="#")
    assert problem.objective_names == ("error", "log10_latency_ms", "log10_energy_mJ")
    assert (problem.budget, problem.quick_budget) == (60, 20)
    assert problem.space.n_configs() == len(frame)
    assert problem.reference_point == digits_table().reference_point
    assert problem.max_hv == digits_table().max_hv > 0
    # A config as a sampler gives it (Optuna's types), against the raw CSV row.
    config = {
        "arch": "cnn",
        "width_mult": 2.0,
        "bits": 4,
        "prune_ratio": 0.5,
        "prune_kind": "unstructured",
        "device": "cortex_m4",
    }
    match = (frame[list(config)] == pd.Series(config)).all(axis=1)
    assert match.sum() == 1
    row = frame[match].iloc[0]
    values = problem.evaluate(config)
    expected = (1 - row["accuracy"], math.log10(row["latency_ms"]), math.log10(row["energy_mJ"]))
    assert values == pytest.approx(expected, rel=1e-12)
    # Latency and energy are known exactly; the same model on another core differs there only.
    assert sorted(problem.known) == [1, 2]
    assert [problem.known[i](config) for i in (1, 2)] == pytest.approx(values[1:])
    m7 = problem.evaluate({**config, "device": "cortex_m7"})
    assert m7[0] == values[0] and m7[1] < values[1]
    with pytest.raises(ValueError, match="not one of"):
        problem.evaluate({**config, "bits": 3})


def test_random_run_on_digits_has_finite_gaps() -> None:
    problem = get_problem("digits")
    rows = run_one(problem, METHODS["random"], seed=0, budget=problem.quick_budget)
    assert len(rows) == problem.quick_budget
    hv = [row["hypervolume"] for row in rows]
    assert hv == sorted(hv) and 0 < hv[-1] <= problem.max_hv * (1 + 1e-12)
    assert all(math.isfinite(row["log10_hv_gap"]) for row in rows)
    assert rows[-1]["log10_hv_gap"] < rows[0]["log10_hv_gap"]


def test_paired_summary_pairs_seeds_and_keeps_the_latest_run(tmp_path: Path) -> None:
    page = tmp_path / "variants.md"
    page.write_text(
        "| variant | problem | seed | final log10 HV gap |\n|---|---|---|---|\n"
        "| off | zdt1 | 0 | 9.000 |\n"  # superseded by the re-run below
        "| default | zdt1 | 0 | -1.000 |\n| default | zdt1 | 1 | -2.000 |\n"
        "| off | zdt1 | 0 | 0.500 |\n| off | zdt1 | 1 | -2.500 |\n"
        "| off | dtlz2 | 0 | 1.000 |\n"  # no default on dtlz2: not paired
    )
    gaps = read_gaps(page)
    assert len(gaps) == 5
    lines = paired_summary(gaps, base="default").splitlines()
    assert len(lines) == 3  # header, rule, one paired row
    # changes +1.5 and -0.5: mean +0.50, sd 1.41, worse on one seed of two
    assert lines[2] == "| off | zdt1 | 2 | -1.00 | -1.50 | +0.50 ± 1.41 | 1/2 |"
