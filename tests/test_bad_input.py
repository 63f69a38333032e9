"""Bad input, bad storage and bad files: one line on stderr, exit code 2, nothing lost.

Each case asserts its exact message (``docs/reliability.md`` lists them by guarantee).
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState
from typer.testing import CliRunner

from moo.cli import app
from moo.keys import ARTIFACTS_KEY, CONFIG_KEY, ERROR_KEY
from moo.study import load_study
from tests.conftest import BRANIN_SPACE

REPO = Path(__file__).resolve().parents[1]
BRANIN_X = BRANIN_SPACE["parameters"]["x1"]

WriteStudy = Callable[..., Path]


def fails(*args: str) -> str:
    """Run ``moo *args``; it must exit 2 with one line ``error: ...`` on stderr and no
    traceback anywhere; returns the rest of that line."""
    result = CliRunner().invoke(app, list(args))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("error: "), result.output
    return lines[0].removeprefix("error: ")


def succeeds(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------------- overrides (item 1)
@pytest.mark.parametrize("value", ["0", "-5"])
def test_an_invalid_max_trials_on_run_is_refused_and_creates_nothing(
    write_study: WriteStudy, value: str
) -> None:
    path = write_study("s")
    assert fails("run", str(path), "--max-trials", value) == (
        f"--max-trials {value}: stop.max_trials: Input should be greater than or equal to 1"
    )
    assert not (path.parent / "studies").exists()


def test_an_invalid_max_trials_on_resume_is_refused_and_not_stored(
    write_study: WriteStudy,
) -> None:
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    assert fails("resume", "s", "--max-trials", "-5") == (
        "--max-trials -5: stop.max_trials: Input should be greater than or equal to 1"
    )
    study, config = load_study("s")  # still loads: nothing invalid was stored
    assert config.stop.max_trials == 2 and len(study.trials) == 2


def test_a_study_with_an_invalid_stored_config_is_repaired_by_resume(
    write_study: WriteStudy,
) -> None:
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    # What an older moo stored after `--max-trials -5`: every command refused the study.
    study = optuna.load_study(study_name="s", storage="sqlite:///studies/s.db")
    stored = study.user_attrs[CONFIG_KEY]
    study.set_user_attr(CONFIG_KEY, {**stored, "stop": {**stored["stop"], "max_trials": -5}})
    assert fails("status", "s") == (
        "study s: stop.max_trials: Input should be greater than or equal to 1 "
        "(the stored config is invalid; `moo resume s --max-trials N` repairs it)"
    )
    succeeds("resume", "s", "--max-trials", "3")
    study, config = load_study("s")
    assert config.stop.max_trials == 3 and len(study.trials) == 3
    assert study.user_attrs[CONFIG_KEY]["stop"]["max_trials"] == 3


# ---------------------------------------------------------------------- storage (item 5)
def _optuna_db(path: Path, n_trials: int = 30) -> None:
    """A real Optuna SQLite file with some trials (not a moo study)."""
    study = optuna.create_study(study_name="other", storage=f"sqlite:///{path}")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n_trials)


def test_a_file_that_is_not_a_database_is_one_line(in_tmp: Path) -> None:
    (in_tmp / "s.db").write_text("these are my notes, not a database\n" * 100)
    assert fails("status", "s", "--storage", "sqlite:///s.db") == (
        "storage sqlite:///s.db: file is not a database."
    )


def test_a_truncated_database_is_one_line(in_tmp: Path) -> None:
    _optuna_db(in_tmp / "whole.db")
    data = (in_tmp / "whole.db").read_bytes()
    (in_tmp / "s.db").write_bytes(data[: len(data) // 2])
    assert fails("status", "s", "--storage", "sqlite:///s.db") == (
        "storage sqlite:///s.db: database disk image is malformed."
    )


def test_an_unreachable_postgres_is_one_line_with_the_password_masked(in_tmp: Path) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://moo:s3cret-pw@127.0.0.1:1/db"
    message = fails("status", "s", "--storage", url)
    assert message.startswith(
        "storage postgresql+psycopg://moo:***@127.0.0.1:1/db: connection failed: "
    )
    assert "Connection refused" in message and "s3cret-pw" not in message


@pytest.mark.parametrize(
    ("url", "module", "hint"),
    [
        ("mysql://moo:pw@127.0.0.1/db", "MySQLdb", "install a driver for mysql"),
        (
            "postgresql+psycopg2://moo:pw@127.0.0.1/db",
            "psycopg2",
            "pip install 'moo[postgres]' and use a postgresql+psycopg:// URL",
        ),
    ],
)
def test_a_missing_database_driver_is_one_line(
    in_tmp: Path, url: str, module: str, hint: str
) -> None:
    try:
        __import__(module)
    except ImportError:
        pass
    else:
        pytest.skip(f"{module} is installed here")
    assert fails("status", "s", "--storage", url) == (
        f"storage {url.replace(':pw@', ':***@')}: its database driver is not installed "
        f"(No module named '{module}'); {hint}."
    )


def test_a_storage_folder_that_cannot_be_created_is_one_line(write_study: WriteStudy) -> None:
    path = write_study("s")
    (path.parent / "afile").write_text("a file where the folder should be")
    assert fails("run", str(path), "--storage", "sqlite:///afile/s.db") == (
        "storage sqlite:///afile/s.db: cannot create afile (File exists)."
    )


@pytest.mark.parametrize(
    ("storage", "shown"),
    [("notaurl", "notaurl"), ("postgres:/moo:pw@host/db", "postgres:/moo:***@host/db")],
)
def test_a_storage_that_is_not_a_url_is_one_line(in_tmp: Path, storage: str, shown: str) -> None:
    assert fails("status", "s", "--storage", storage) == (
        f"storage {shown!r} is not a SQLAlchemy URL; expected e.g. "
        "sqlite:///studies/<study>.db or postgresql+psycopg://user@host/db."
    )


def test_resume_on_a_read_only_database_is_one_line(write_study: WriteStudy) -> None:
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    url = "sqlite:///file:studies/s.db?mode=ro&uri=true"
    assert "max_trials (2) reached" in succeeds("status", "s", "--storage", url)  # reads work
    assert fails("resume", "s", "--storage", url, "--max-trials", "3") == (
        f"storage {url}: attempt to write a readonly database."
    )


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` unwritable, even for root (``chattr +i``); skipped where that cannot be done."""
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    immutable = False
    try:
        if _writable(path):
            immutable = (
                subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
            )
            if not immutable or _writable(path):
                pytest.skip("cannot make a path read-only here (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def _writable(path: Path) -> bool:
    try:
        if path.is_dir():
            (path / ".probe").touch()
            (path / ".probe").unlink()
        else:
            path.open("a").close()
    except OSError:
        return False
    return True


def test_resume_of_an_immutable_database_file_is_one_line(write_study: WriteStudy) -> None:
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    with read_only(Path("studies/s.db")):
        assert fails("resume", "s", "--max-trials", "3") == (
            "storage sqlite:///studies/s.db: attempt to write a readonly database."
        )
    assert len(load_study("s")[0].trials) == 2


def test_run_in_a_read_only_working_directory_is_one_line(write_study: WriteStudy) -> None:
    path = write_study("s")
    with read_only(path.parent):
        message = fails("run", str(path))
    assert message.startswith("storage sqlite:///studies/s.db: cannot create studies (")


# ---------------------------------------------------------------------- files (item 5)
@pytest.mark.parametrize("command", ["export", "report"])
def test_out_that_is_a_file_is_one_line(write_study: WriteStudy, command: str) -> None:
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    Path("taken").write_text("not a folder")
    assert fails(command, "s", "--out", "taken") == "--out taken: is a file, not a folder."
    assert fails(command, "s", "--out", "taken/bundle") == (
        "--out taken/bundle: cannot write into this folder (Not a directory)."
    )
    assert Path("taken").read_text() == "not a folder"


def test_out_that_cannot_be_written_is_one_line(write_study: WriteStudy) -> None:
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    Path("locked").mkdir()
    with read_only(Path("locked")):
        message = fails("export", "s", "--out", "locked")
    assert message.startswith("--out locked: cannot write into this folder (")


def test_calibrate_out_that_is_a_folder_or_under_a_file_is_one_line(in_tmp: Path) -> None:
    Path("measured.csv").write_text("model,latency_ms\n")
    Path("afolder").mkdir()
    assert fails("calibrate", "cortex_m4", "measured.csv", "--out", "afolder") == (
        "--out afolder: is a folder; give the path of the file to write."
    )
    Path("afile").write_text("x")
    assert fails("calibrate", "cortex_m4", "measured.csv", "--out", "afile/m4.yaml") == (
        "--out afile: is a file, not a folder."
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "{path}: is a folder, not a study file."),
        (b"\xff\xfe\x00binary", "{path}: not a text file (invalid start byte at byte 0)."),
        (
            b"- just\n- a list\n",
            "{path}: expected a mapping with study, objective, objectives, space.",
        ),
        (
            b"study: {name: s\n",
            "{path}: not valid YAML (line 2, column 1: expected ',' or '}}', "
            "but got '<stream end>').",
        ),
    ],
    ids=["folder", "binary", "list", "syntax"],
)
def test_a_study_file_that_cannot_be_read_is_one_line(
    in_tmp: Path, content: bytes | None, message: str
) -> None:
    path = in_tmp / "s.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    assert fails("run", str(path)) == message.format(path=path)


def test_a_missing_study_or_space_file_is_one_line(write_study: WriteStudy) -> None:
    assert fails("run", "nowhere.yaml") == "nowhere.yaml: study file not found."
    path = write_study("s", space="spaces/nowhere.yaml")
    assert fails("run", str(path)) == (
        f"{path.parent / 'spaces' / 'nowhere.yaml'}: space of {path} not found."
    )


# ---------------------------------------------------------------------- the adapter (items 6, 11)
@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (
            {"adapter": "objectives.nowhere:Thing"},
            "objective.adapter: cannot import module 'objectives.nowhere' "
            "(No module named 'objectives.nowhere').",
        ),
        (
            {"adapter": "objectives.synthetic:Nothing"},
            "objective.adapter: module 'objectives.synthetic' has no 'Nothing'.",
        ),
        (
            {"adapter": "tests.adapters:BrokenInit"},
            "objective.adapter: tests.adapters:BrokenInit(**options) failed "
            "(RuntimeError: licence server unreachable).",
        ),
        (
            {"adapter": "objectives.synthetic:SyntheticProblem", "options": {"problem": "x"}},
            "objective.options: Unknown synthetic problem 'x'; expected one of "
            "['branin_currin', 'dtlz2', 'vehicle_safety', 'zdt1', 'car_side_impact'].",
        ),
        (
            {"adapter": "objectives.synthetic:SyntheticProblem", "options": {"problme": "x"}},
            "objective.options: got an unexpected keyword argument 'problme'",
        ),
        (
            {"adapter": "objectives.protocol:Domain", "options": {"values": [1]}},
            "objective.adapter: objectives.protocol:Domain has no evaluate(config, context).",
        ),
    ],
    ids=[
        "no-module",
        "no-class",
        "constructor-raises",
        "bad-option",
        "unknown-option",
        "no-evaluate",
    ],
)
def test_an_adapter_that_cannot_be_built_leaves_no_study_behind(
    write_study: WriteStudy, objective: dict, message: str
) -> None:
    path = write_study("s", objective=objective)
    assert fails("run", str(path)) == f"{path}: {message}"
    assert not (path.parent / "studies").exists()
    # The fixed file then runs: no half-created study is in the way.
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))


@pytest.mark.parametrize("adapter", ["os:system", "subprocess:getoutput", "builtins:exec"])
def test_an_adapter_off_the_allow_list_is_never_imported(
    write_study: WriteStudy, adapter: str
) -> None:
    marker = Path("pwned").resolve()
    path = write_study("s", objective={"adapter": adapter, "options": {"cmd": f"touch {marker}"}})
    module = adapter.split(":")[0]
    assert fails("run", str(path)) == (
        f"{path}: objective.adapter: {adapter!r} is not an allowed adapter (allowed: objectives, "
        f"tests.adapters); an operator who trusts module {module!r} adds it to MOO_ADAPTER_ALLOW."
    )
    assert not marker.exists() and not Path("studies").exists()


def test_workers_refuse_a_stored_adapter_off_the_allow_list(write_study: WriteStudy) -> None:
    """Whoever can write a shared study cannot make the workers that resume it run code."""
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    study = optuna.load_study(study_name="s", storage="sqlite:///studies/s.db")
    stored = study.user_attrs[CONFIG_KEY]
    hostile = {"adapter": "os:system", "options": {"command": "touch pwned"}}
    study.set_user_attr(CONFIG_KEY, {**stored, "objective": hostile})
    assert fails("resume", "s", "--max-trials", "3") == (
        "study s: objective.adapter: 'os:system' is not an allowed adapter (allowed: objectives, "
        "tests.adapters); an operator who trusts module 'os' adds it to MOO_ADAPTER_ALLOW."
    )
    assert not Path("pwned").exists() and len(load_study("s")[0].trials) == 2


@pytest.mark.parametrize(
    ("allow", "allowed"),
    [
        ("objectives.tinyml", False),
        ("objectives.synthetic:SyntheticProblem", True),
        ("objectives.synth", False),  # a prefix ends at a dot
        ("*", True),
    ],
)
def test_the_allow_list_is_set_by_the_operator(
    write_study: WriteStudy, monkeypatch: pytest.MonkeyPatch, allow: str, allowed: bool
) -> None:
    monkeypatch.setenv("MOO_ADAPTER_ALLOW", allow)
    path = write_study("s", stop={"max_trials": 2, "rule": "budget"})
    if allowed:
        succeeds("run", str(path))
        return
    assert fails("run", str(path)) == (
        f"{path}: objective.adapter: 'objectives.synthetic:SyntheticProblem' is not an allowed "
        f"adapter (allowed: {allow}); an operator who trusts module 'objectives.synthetic' adds "
        "it to MOO_ADAPTER_ALLOW."
    )


# ---------------------------------------------------------------------- the space (item 2)
TINYML = {
    "adapter": "objectives.tinyml:Classifier",
    "options": {"task": "digits", "devices": ["cortex_m0plus", "cortex_m4", "cortex_m7"]},
}
TINYML_OBJECTIVES = [
    {"name": "accuracy", "direction": "maximize"},
    {"name": "latency_ms", "direction": "minimize"},
]
TINYML_SPACE = yaml.safe_load((REPO / "search_spaces" / "tinyml_digits.yaml").read_text())


def _tinyml_space(**changes: dict | None) -> dict:
    parameters = {**TINYML_SPACE["parameters"], **changes}
    return {"parameters": {k: v for k, v in parameters.items() if v is not None}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"bits": {"type": "ordinal", "values": [1, 8, 64]}},
            "bits: Classifier cannot evaluate 1, 64: `bits` must be one of [2, 4, 8, 16, 32], "
            "got 1.",
        ),
        (
            {"prune_ratio": {"type": "float", "low": 0.0, "high": 1.5}},
            "prune_ratio: Classifier cannot evaluate 1.5: `prune_ratio` must be in [0, 0.95), "
            "got 1.5.",
        ),
        (
            {"prune_ratio": {"type": "float", "low": -0.1, "high": 0.5, "step": 0.1}},
            "prune_ratio: Classifier cannot evaluate -0.1: `prune_ratio` must be in [0, 0.95), "
            "got -0.1.",
        ),
        (
            {"prune_ratio": {"type": "ordinal", "values": [0.0, 0.5, 0.95, 0.99, 1.0, 2.0]}},
            "prune_ratio: Classifier cannot evaluate 0.95, 0.99, 1.0 and 1 more: `prune_ratio` "
            "must be in [0, 0.95), got 0.95.",
        ),
        (
            {"arch": {"type": "categorical", "choices": ["mlp", "rnn"]}},
            "arch: Classifier cannot evaluate 'rnn': `arch` must be one of "
            "['mlp', 'cnn', 'dscnn'], got 'rnn'.",
        ),
        (
            {"prune_kind": {"type": "categorical", "choices": ["structured", "magnitude"]}},
            "prune_kind: Classifier cannot evaluate 'magnitude': `prune_kind` must be one of "
            "['structured', 'unstructured'], got 'magnitude'.",
        ),
        (
            {"device": {"type": "categorical", "choices": ["cortex_m4", "cortex_m55"]}},
            "device: Classifier cannot evaluate 'cortex_m55': `device` must be one of the study's "
            "devices ['cortex_m0plus', 'cortex_m4', 'cortex_m7'], got 'cortex_m55'.",
        ),
        (
            {"kernel": {"type": "int", "low": 3, "high": 5}},
            "kernel: Classifier cannot evaluate 4: width x width_mult and depth must be >= 1 and "
            "kernel odd, got width=8, depth=1, kernel=4.",
        ),
        (
            {"width_mult": {"type": "ordinal", "values": [-1.0, 0.0, 1.0]}},
            "width_mult: Classifier cannot evaluate -1.0, 0.0: `width_mult` must be > 0, got -1.0.",
        ),
        (
            {"depth": {"type": "int", "low": 0, "high": 3}},
            "depth: Classifier cannot evaluate 0: width x width_mult and depth must be >= 1 and "
            "kernel odd, got width=8, depth=0, kernel=1.",
        ),
        (
            {"prune_ration": {"type": "float", "low": 0.0, "high": 0.5}},
            "prune_ration: Classifier does not read this parameter, so it would change nothing "
            "(it reads arch, depth, width, blocks, channels, kernel, width_mult, bits, "
            "prune_ratio, prune_kind, quant, pipeline, distill, kd_temperature, kd_alpha, "
            "device).",
        ),
        (
            {"pipeline": {"type": "categorical", "choices": ["prune_then_quantize", "mixed"]}},
            "pipeline: Classifier cannot evaluate 'mixed': `pipeline` must be one of "
            "['prune_then_quantize', 'quantize_then_prune'], got 'mixed'.",
        ),
        (
            {"quant": {"type": "categorical", "choices": ["qat", "ptq", "gptq"]}},
            "quant: Classifier cannot evaluate 'gptq': `quant` must be one of ['qat', 'ptq'], "
            "got 'gptq'.",
        ),
        (
            {"kd_temperature": {"type": "ordinal", "values": [0.0, 2.0, 4.0]}},
            "kd_temperature: Classifier cannot evaluate 0.0: `kd_temperature` must be > 0, "
            "got 0.0.",
        ),
        (
            {"kd_alpha": {"type": "float", "low": 0.0, "high": 1.5}},
            "kd_alpha: Classifier cannot evaluate 1.5: `kd_alpha` must be in [0, 1], got 1.5.",
        ),
        (
            {"device": None},
            "device: missing; Classifier costs every trial on ['cortex_m0plus', 'cortex_m4', "
            "'cortex_m7'], so a config must pick one: add a `device` parameter or list one "
            "device in objective.options.devices.",
        ),
        ({"arch": None}, "arch: missing; Classifier needs it."),
        (
            {"depth": None},
            "arch: mlp needs parameter 'depth'. The space has no such parameter.",
        ),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_a_tinyml_space_with_values_the_adapter_refuses_is_refused_when_read(
    write_study: WriteStudy, changes: dict, message: str
) -> None:
    path = write_study(
        "s", objective=TINYML, objectives=TINYML_OBJECTIVES, space=_tinyml_space(**changes)
    )
    assert fails("run", str(path)) == f"{path}: space.parameters.{message}"
    assert not Path("studies").exists()


def test_distillation_on_a_task_without_a_teacher_is_refused_when_read(
    write_study: WriteStudy,
) -> None:
    objective = {
        "adapter": "objectives.tinyml:AnomalyDetector",
        "options": {"devices": ["cortex_m4"]},
    }
    space = {
        "parameters": {
            "arch": {"type": "categorical", "choices": ["mlp"]},
            "depth": {"type": "int", "low": 1, "high": 2},
            "width": {"type": "int", "low": 8, "high": 16},
            "distill": {"type": "categorical", "choices": ["none", "logits"]},
        }
    }
    objectives = [
        {"name": "auc", "direction": "maximize"},
        {"name": "flash_kB", "direction": "minimize"},
    ]
    path = write_study("s", objective=objective, objectives=objectives, space=space)
    assert fails("run", str(path)) == (
        f"{path}: space.parameters.distill: AnomalyDetector cannot evaluate 'logits': "
        "`distill` must be 'none': the task has no teacher (only classifiers have one; an "
        "autoencoder's reconstruction is not distilled)."
    )
    assert not Path("studies").exists()


NB201 = {"adapter": "objectives.tables:NasBench201", "options": {}}
NB201_OBJECTIVES = [
    {"name": "err_cifar10_pct", "direction": "minimize"},
    {"name": "lat_ms_raspi4", "direction": "minimize"},
]
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        (
            {"op_3": {"type": "categorical", "choices": [*OPS, "conv_5x5"]}},
            "op_3: NasBench201 cannot evaluate 'conv_5x5': every op_i must be one of "
            f"{OPS}, got 'conv_5x5'.",
        ),
        ({"op_5": None}, "op_5: missing; NasBench201 needs it."),
        (
            {"op_6": {"type": "categorical", "choices": OPS}},
            "op_6: NasBench201 does not read this parameter, so it would change nothing "
            "(it reads op_0, op_1, op_2, op_3, op_4, op_5).",
        ),
    ],
    ids=["unknown-op", "missing-edge", "extra-edge"],
)
def test_a_nas_bench_space_the_table_cannot_answer_is_refused(
    write_study: WriteStudy, edges: dict, message: str
) -> None:
    from objectives.tables import DEFAULT_DATA_DIR

    if not DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"NAS-Bench-201 tables not at {DEFAULT_DATA_DIR}")
    parameters = {f"op_{i}": {"type": "categorical", "choices": OPS} for i in range(6)}
    parameters = {k: v for k, v in {**parameters, **edges}.items() if v is not None}
    path = write_study(
        "s", objective=NB201, objectives=NB201_OBJECTIVES, space={"parameters": parameters}
    )
    assert fails("run", str(path)) == f"{path}: space.parameters.{message}"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"x0": {"type": "float", "low": 0, "high": 1}}, "x1: missing; SyntheticProblem needs it."),
        (
            {"x0": {"type": "categorical", "choices": ["low", "high"]}, "x1": BRANIN_X},
            "x0: SyntheticProblem cannot evaluate 'low', 'high': `x0` must be a number, got 'low'.",
        ),
    ],
    ids=["missing-input", "not-a-number"],
)
def test_a_synthetic_space_without_its_inputs_is_refused(
    write_study: WriteStudy, parameters: dict, message: str
) -> None:
    path = write_study("s", space={"parameters": parameters})
    assert fails("run", str(path)) == f"{path}: space.parameters.{message}"


def test_every_problem_of_a_space_is_one_line_each(write_study: WriteStudy) -> None:
    changes = {
        "bits": {"type": "ordinal", "values": [1, 8]},
        "prune_kind": {"type": "categorical", "choices": ["magnitude"]},
    }
    path = write_study(
        "s", objective=TINYML, objectives=TINYML_OBJECTIVES, space=_tinyml_space(**changes)
    )
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert [line.removeprefix("error: ").split(": ")[1] for line in result.stderr.splitlines()] == [
        "space.parameters.bits",
        "space.parameters.prune_kind",
    ]


# ---------------------------------------------------------------------- one config (item 2)
@pytest.mark.parametrize(
    ("options", "cause"),
    [
        ({"refuse_below": 0.5}, "ValueError: x0={x0:.3f} is below what this adapter accepts"),
        ({"refuse_below": -1.0, "nan_above": 0.5}, "check() gave NaN for constraints ['excess']"),
    ],
    ids=["check-raises", "check-nan"],
)
def test_a_config_the_adapter_check_refuses_fails_one_trial_not_the_study(
    write_study: WriteStudy, options: dict, cause: str
) -> None:
    path = write_study(
        "s",
        objective={"adapter": "tests.adapters:RefusingCheck", "options": options},
        stop={"max_trials": 8, "rule": "budget"},
    )
    succeeds("run", str(path))
    trials = load_study("s")[0].trials
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(trials) == 8 and failed and len(failed) < 8
    for t in failed:
        x0, x1 = t.params["x0"], t.params["x1"]
        assert t.user_attrs[ERROR_KEY] == (
            f"trial {t.number} {{x0={x0:.4g}, x1={x1:.4g}}}: {cause.format(x0=x0)}"
        )


@pytest.mark.slow
def test_a_tinyml_config_that_cannot_be_built_fails_its_trial(write_study: WriteStudy) -> None:
    """A CNN pooled below 1x1 on 8x8 digits: ``check`` raises, the trial fails, no training."""
    space = {
        "parameters": {
            "arch": {"type": "categorical", "choices": ["cnn"]},
            "blocks": {"type": "int", "low": 4, "high": 5},
            "channels": {"type": "int", "low": 4, "high": 8},
            "device": {"type": "categorical", "choices": ["cortex_m4", "cortex_m7"]},
        }
    }
    objective = {**TINYML, "options": {"task": "digits", "devices": ["cortex_m4", "cortex_m7"]}}
    path = write_study(
        "s",
        objective=objective,
        objectives=TINYML_OBJECTIVES,
        space=space,
        stop={"max_trials": 3, "rule": "budget"},
    )
    succeeds("run", str(path))
    trials = load_study("s")[0].trials
    assert [t.state for t in trials] == [TrialState.FAIL] * 3
    for t in trials:
        assert "ArchitectureError: Config {arch=cnn, blocks=" in t.user_attrs[ERROR_KEY]
        assert (
            "max-pools" in t.user_attrs[ERROR_KEY] and "lower `blocks`" in t.user_attrs[ERROR_KEY]
        )


# ---------------------------------------------------------------------- export (item 10)
def _artifact_study(write_study: WriteStudy) -> Path:
    """A finished study whose trials stored a ``model.onnx`` artifact; returns its DB."""
    objective = {"adapter": "tests.adapters:WithArtifact", "options": {}}
    stop = {"max_trials": 2, "rule": "budget"}
    succeeds("run", str(write_study("s", objective=objective, stop=stop)))
    return Path("studies/s.db")


def _tamper(database: Path, key: str, change: Callable[[dict], dict]) -> None:
    """Rewrite a trial attribute of every trial in the SQLite file, as a hostile writer of
    a shared storage would (Optuna's API refuses to touch finished trials)."""
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT trial_user_attribute_id, value_json FROM trial_user_attributes WHERE key = ?",
            (key,),
        ).fetchall()
        for row_id, value in rows:
            connection.execute(
                "UPDATE trial_user_attributes SET value_json = ? WHERE trial_user_attribute_id = ?",
                (json.dumps(change(json.loads(value))), row_id),
            )
        connection.commit()


def test_an_export_bundles_the_stored_model_and_lists_only_its_files(
    write_study: WriteStudy,
) -> None:
    _artifact_study(write_study)
    Path("bundle").mkdir()
    Path("bundle/notes.txt").write_text("the user's own file")
    succeeds("export", "s", "--pick", "trial:1", "--out", "bundle")
    assert Path("bundle/model.onnx").read_text() == "model of trial 1\n"
    manifest = json.loads(Path("bundle/MANIFEST.json").read_text())
    assert set(manifest["files"]) == {"config.yaml", "metrics.json", "model.onnx"}


@pytest.mark.parametrize(
    "name",
    ["../../victim.txt", "<absolute>", "sub/model.onnx", "..", "MANIFEST.json", "a\\b"],
)
def test_an_artifact_name_from_the_storage_never_writes_outside_out(
    write_study: WriteStudy, name: str
) -> None:
    database = _artifact_study(write_study)
    name = name.replace("<absolute>", str(Path("victim.onnx").resolve()))
    _tamper(database, ARTIFACTS_KEY, lambda stored: {name: next(iter(stored.values()))})
    Path("victim.txt").write_text("precious")
    Path("deep/er").mkdir(parents=True)
    assert fails("export", "s", "--pick", "trial:0", "--out", "deep/er/bundle") == (
        f"trial 0: the stored artifact {name!r} is not a plain file name (or clashes with "
        "the bundle's own files); refusing to write outside deep/er/bundle."
    )
    assert Path("victim.txt").read_text() == "precious"
    assert not Path("victim.onnx").exists()
    assert list(Path("deep/er/bundle").iterdir()) == []  # refused before any write


def test_an_artifact_id_that_leaves_the_store_is_one_line(write_study: WriteStudy) -> None:
    _tamper(_artifact_study(write_study), ARTIFACTS_KEY, lambda _: {"model.onnx": "../../s.db"})
    assert fails("export", "s", "--pick", "trial:0", "--out", "bundle") == (
        "trial 0: artifact model.onnx has an invalid id '../../s.db' "
        "(Invalid artifact_id: ../../s.db)."
    )


def test_a_link_planted_in_out_is_replaced_not_written_through(write_study: WriteStudy) -> None:
    _artifact_study(write_study)
    Path("victim.txt").write_text("precious")
    Path("bundle").mkdir()
    for name in ("config.yaml", "model.onnx", "MANIFEST.json"):
        (Path("bundle") / name).symlink_to(Path("victim.txt").resolve())
    succeeds("export", "s", "--pick", "trial:0", "--out", "bundle")
    assert Path("victim.txt").read_text() == "precious"
    assert not any((Path("bundle") / n).is_symlink() for n in ("config.yaml", "model.onnx"))
    assert Path("bundle/model.onnx").read_text() == "model of trial 0\n"


# ---------------------------------------------------------------------- space definitions
@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (
            {"type": "float", "low": 0.0, "high": math.inf},
            "`low` and `high` must be finite, with a finite range; got 0.0, inf",
        ),
        (
            {"type": "float", "low": -1.7e308, "high": 1.7e308},
            "`low` and `high` must be finite, with a finite range; got -1.7e+308, 1.7e+308",
        ),
        (
            {"type": "ordinal", "values": [1.0, math.nan]},
            "`values` must be finite numbers, got [1.0, nan]",
        ),
        (
            {"type": "categorical", "choices": ["a", math.nan]},
            "`choices` must not hold NaN or infinity, got ['a', nan]",
        ),
        (
            {"type": "float", "low": 0.0, "high": 1.0, "step": 2.0},
            "`step` (2.0) is larger than the range [0.0, 1.0]: the parameter could take only `low`",
        ),
        (
            {"type": "int", "low": 0, "high": 2**60},
            "`low` and `high` must be within +-2**53 (integers a double holds exactly), got "
            f"[0, {2**60}]",
        ),
        (
            {"type": "\x1e", "low": 0, "high": 1},
            "Input tag '\\x1e' found using 'type' does not match any of the expected tags: "
            "'float', 'int', 'ordinal', 'categorical'",
        ),
    ],
    ids=["inf", "overflow", "nan-ordinal", "nan-choice", "step", "huge-int", "control-char"],
)
def test_a_parameter_no_encoding_can_hold_is_one_line(
    write_study: WriteStudy, parameter: dict, message: str
) -> None:
    path = write_study("s", space={"parameters": {**BRANIN_SPACE["parameters"], "x1": parameter}})
    assert fails("run", str(path)) == f"{path}: space.parameters.x1: {message}"


@pytest.mark.parametrize(
    "args", [["status"], ["resume"], ["report"], ["export", "--out", "bundle"]], ids=str
)
def test_a_study_name_that_would_be_a_path_is_refused_before_any_file_is_made(
    in_tmp: Path, args: list[str]
) -> None:
    (in_tmp / "inner").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(in_tmp / "inner")
        assert fails(args[0], "../evil", *args[1:]) == (
            "no study '../evil': a study name is letters, digits and _ . - "
            "(starting with a letter or digit)."
        )
    assert sorted(p.name for p in in_tmp.rglob("*")) == ["inner"]
