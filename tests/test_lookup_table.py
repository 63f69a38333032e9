"""``LookupTable`` on real tables: NAS-Bench-201 rows and MLPerf Tiny results."""

from __future__ import annotations

import itertools
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState
from typer.testing import CliRunner

from moo.cli import app
from moo.config import load_study_config
from moo.keys import INFEASIBLE_KEY, METRICS_KEY
from moo.study import build_adapter, load_study
from objectives.protocol import Domain, EvalContext
from objectives.tables import DEFAULT_DATA_DIR, LookupTable, NasBench201, space_from_table

optuna.logging.set_verbosity(optuna.logging.WARNING)
REPO = Path(__file__).resolve().parents[1]
MLPERF = REPO.parent / "shared" / "data" / "mlperf_tiny" / "results_v1.1.csv"
needs_data = pytest.mark.skipif(
    not (DEFAULT_DATA_DIR.is_dir() and MLPERF.is_file()), reason="../shared/data is not there"
)
CONTEXT = EvalContext(seed=0, workdir=Path("."))
OPS = ("skip_connect", "nor_conv_3x3")
EDGES = [f"op_{i}" for i in range(6)]


@pytest.fixture(scope="module")
def nb201_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 64 NAS-Bench-201 cells built from two operations, as a user's own CSV: one
    column per edge, the CIFAR-10 error and two measured latencies."""
    accuracy = pd.read_csv(DEFAULT_DATA_DIR / "nb201_nats_tss_acc200.csv")
    latency = pd.read_csv(DEFAULT_DATA_DIR / "nb201_latency_help.csv")
    frame = pd.DataFrame(
        {
            "arch": latency["arch_str"],
            "err_cifar10_pct": 100.0 - accuracy["CIFAR10TestAccuracy200Epochs"],
            "lat_ms_raspi4": latency["lat_ms_raspi4"],
            "lat_ms_pixel3": latency["lat_ms_pixel3"],
        }
    )
    ops = frame["arch"].str.findall(r"\|([a-z_0-9]+)~\d")
    frame[EDGES] = pd.DataFrame(ops.tolist(), index=frame.index)
    frame = frame[frame[EDGES].isin(OPS).all(axis=1)].drop(columns="arch")
    path = tmp_path_factory.mktemp("table") / "nb201_two_ops.csv"
    frame.sample(frac=1.0, random_state=0).to_csv(path, index=False)  # any row order
    return path


@needs_data
def test_lookups_match_the_nas_bench_201_adapter(nb201_table: Path) -> None:
    table = LookupTable(
        path=nb201_table, config=EDGES, learned=["err_cifar10_pct"], exact=["lat_ms_raspi4"]
    )
    reference = NasBench201()
    assert table.n_rows == 64 and table.complete
    for ops in itertools.product(OPS, repeat=6):
        config = dict(zip(EDGES, ops, strict=True))
        expected = reference.evaluate(config, CONTEXT).metrics
        metrics = table.evaluate(config, CONTEXT).metrics
        assert metrics == {n: pytest.approx(expected[n], rel=1e-9) for n in metrics}
        assert table.known_metrics(config) == {"lat_ms_raspi4": metrics["lat_ms_raspi4"]}
        assert table.check(config) == {}


@needs_data
def test_a_parquet_table_reads_as_its_csv(nb201_table: Path) -> None:
    parquet = nb201_table.with_suffix(".parquet")
    pd.read_csv(nb201_table).to_parquet(parquet)
    tables = [
        LookupTable(path=p, config=EDGES, learned=["err_cifar10_pct"], exact=["lat_ms_pixel3"])
        for p in (nb201_table, parquet)
    ]
    config = dict.fromkeys(EDGES, "nor_conv_3x3")
    csv, par = (t.evaluate(config, CONTEXT).metrics for t in tables)
    assert csv == par and tables[1].n_rows == 64


@needs_data
def test_the_space_is_checked_against_the_table(nb201_table: Path) -> None:
    table = LookupTable(path=nb201_table, config=EDGES, learned=["err_cifar10_pct"])
    space = space_from_table(nb201_table, EDGES)
    assert space["parameters"]["op_0"] == {"type": "categorical", "choices": sorted(OPS)}
    listed = {e: p["choices"] for e, p in space["parameters"].items()}
    domains = {e: Domain(tuple(v)) for e, v in listed.items()}
    assert table.check_space(domains) == {}
    domains["op_0"] = Domain(("skip_connect", "avg_pool_3x3"))
    domains["width"] = Domain(None, 1.0, 8.0)
    problems = table.check_space(domains)
    assert "holds only ['nor_conv_3x3', 'skip_connect']" in problems["op_0"]
    assert "does not read" in problems["width"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"config": ["board"], "exact": ["speed"]}, "no column 'speed'"),
        ({"config": ["board"], "exact": ["board"]}, "named twice"),
        ({"config": ["board"], "exact": ["latency_ms"]}, "rows repeat a config"),
        ({"config": ["board", "framework"], "exact": ["accuracy"]}, "not numbers"),
        ({"config": ["board"]}, "learned"),
    ],
    ids=["no-column", "twice", "duplicates", "text-metric", "no-metric"],
)
@needs_data
def test_a_table_that_cannot_serve_is_a_one_line_error(
    options: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as error:
        LookupTable(path=MLPERF, **options)  # type: ignore[arg-type]
    assert "\n" not in str(error.value)


@needs_data
def test_table_space_prints_the_example_studys_space() -> None:
    args = ["table-space", str(MLPERF), "--config", "board,framework"]
    args += ["--metrics", "latency_ms,energy_uJ", "--where", "benchmark=kws"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    example = load_study_config(REPO / "experiments" / "table_mlperf_kws.yaml")
    assert yaml.safe_load(result.output) == example.space
    bad = CliRunner().invoke(app, [*args[:4], "--where", "benchmark"])
    assert bad.exit_code == 2 and "expected column=value" in bad.output


@needs_data
def test_the_example_study_runs_and_never_evaluates_a_missing_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``experiments/table_mlperf_kws.yaml`` through ``moo run``: the board x runtime
    pairs nobody submitted are infeasible, the others are the table's best runs."""
    monkeypatch.chdir(REPO)  # the example's data path is relative to the repository
    path = REPO / "experiments" / "table_mlperf_kws.yaml"
    config = load_study_config(path)
    table = build_adapter(config, source=str(path))
    assert isinstance(table, LookupTable) and table.n_rows == 8 and not table.complete
    assert table.known_metrics({"board": "NUCLEO-L4R5ZI", "framework": "ONNC"}) == {}

    storage = f"sqlite:///{tmp_path}/table.db"
    result = CliRunner().invoke(app, ["run", str(path), "--storage", storage, "--max-trials", "6"])
    assert result.exit_code == 0, result.output
    study, _ = load_study("table_mlperf_kws", storage=storage)
    rows = pd.read_csv(MLPERF).query("benchmark == 'kws'").dropna(subset=["energy_uJ"])
    best = rows.groupby(["board", "framework"])[["latency_ms", "energy_uJ"]].min()
    trials = study.get_trials()
    assert len(trials) == 6
    for trial in trials:
        pair = (trial.params["board"], trial.params["framework"])
        if pair in best.index:
            assert trial.state == TrialState.COMPLETE
            assert trial.user_attrs[METRICS_KEY] == pytest.approx(best.loc[pair].to_dict())
        else:
            assert trial.state == TrialState.PRUNED
            assert "missing_from_table" in trial.user_attrs[INFEASIBLE_KEY]
