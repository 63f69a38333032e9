"""The TinyML adapters end to end: real training on digits, ONNX, costs, caching, errors."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
import yaml
from optuna.trial import TrialState
from typer.testing import CliRunner

from moo.cli import app
from moo.config import validate_study_config
from moo.keys import METRICS_KEY
from moo.space import SearchSpace
from moo.study import build_sampler, load_study
from objectives.hardware import GraphStats, known_devices, load_device
from objectives.protocol import EvalContext
from objectives.tinyml import (
    AnomalyDetector,
    ArchitectureError,
    Classifier,
    DataError,
    OptionsError,
    TinyMLError,
    TrainingError,
)
from objectives.tinyml._arch import ARCHS, ArchSpec
from objectives.tinyml._built import built_graph_stats
from objectives.tinyml._settings import BITS, PRUNE_KINDS, Compression

ROOT = Path(__file__).resolve().parents[1]
DEVICES = ["cortex_m0plus", "cortex_m4", "cortex_m7", "ethos_u55"]
HARDWARE = ("latency_ms", "energy_mJ", "flash_kB", "sram_kB", "latency_ms_p90", "energy_mJ_p90")
CNN: dict[str, Any] = {
    "arch": "cnn",
    "blocks": 2,
    "channels": 8,
    "kernel": 3,
    "width_mult": 1.0,
    "bits": 8,
    "prune_ratio": 0.0,
    "prune_kind": "structured",
    "device": "cortex_m4",
}

DIGITS_SPACE: dict[str, Any] = {
    "arch": {"type": "categorical", "choices": ["mlp", "cnn"]},
    "depth": {"type": "int", "low": 1, "high": 2},
    "width": {"type": "int", "low": 8, "high": 32},
    "blocks": {"type": "int", "low": 1, "high": 2},
    "channels": {"type": "int", "low": 4, "high": 16},
    "kernel": {"type": "ordinal", "values": [3, 5]},
    "bits": {"type": "ordinal", "values": [4, 8]},
}
HOST_OR_M4 = {"type": "categorical", "choices": ["cortex_m4", "host"]}


def _adapter(**options: Any) -> Classifier:
    return Classifier(task="digits", devices=DEVICES, epochs=4, finetune_epochs=1, **options)


@pytest.fixture(scope="module")
def adapter() -> Classifier:
    return _adapter()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("study")


def test_trial_metrics_siblings_and_artifacts(adapter: Classifier, workdir: Path) -> None:
    result = adapter.evaluate(CNN, EvalContext(seed=0, workdir=workdir))
    metrics = result.metrics
    assert 0.8 < metrics["accuracy"] <= 1.0
    assert {"accuracy_trained", "accuracy_ort_int8", "macs", "params", *HARDWARE} <= set(metrics)
    assert set(result.constraints) == {"flash_excess_kB", "sram_excess_kB"}
    assert all(value < 0 for value in result.constraints.values())
    siblings = {s.overrides["device"]: s for s in result.siblings}
    assert set(siblings) == set(DEVICES) - {"cortex_m4"}
    for sibling in siblings.values():
        assert sibling.metrics["accuracy"] == metrics["accuracy"]  # one trained model
        assert set(HARDWARE) <= set(sibling.metrics)
    assert siblings["cortex_m7"].metrics["latency_ms"] < metrics["latency_ms"]
    assert siblings["cortex_m0plus"].metrics["latency_ms"] > metrics["latency_ms"]
    model = onnx.load(str(result.artifacts["model.onnx"]))
    assert [n.op_type for n in model.graph.node if n.op_type == "Conv"] == ["Conv", "Conv"]
    assert result.artifacts["model_int8.onnx"].exists()
    assert {"train_s", "prune_s", "quant_s", "export_s", "cost_s"} <= set(result.attrs)


def test_int8_onnxruntime_accuracy_is_reported_within_tolerance(
    adapter: Classifier, workdir: Path
) -> None:
    metrics = adapter.evaluate(CNN, EvalContext(seed=0, workdir=workdir)).metrics
    assert abs(metrics["accuracy_ort_int8"] - metrics["accuracy"]) <= 0.01
    other_bits = adapter.evaluate({**CNN, "bits": 4}, EvalContext(seed=0, workdir=workdir))
    assert "accuracy_ort_int8" not in other_bits.metrics


def test_cache_hits_skip_training(adapter: Classifier, workdir: Path) -> None:
    first = adapter.evaluate(CNN, EvalContext(seed=0, workdir=workdir))
    again = adapter.evaluate(CNN, EvalContext(seed=0, workdir=workdir))
    assert again.attrs["cache"] == "compressed"
    assert again.attrs["train_s"] == again.attrs["quant_s"] == 0.0
    assert again.metrics == first.metrics
    recompressed = adapter.evaluate({**CNN, "bits": 16}, EvalContext(seed=0, workdir=workdir))
    assert recompressed.attrs["cache"] == "trained"
    # a parameter the CNN ignores (MLP depth) does not make a new model
    ignored = adapter.evaluate({**CNN, "depth": 3}, EvalContext(seed=0, workdir=workdir))
    assert ignored.attrs["cache"] == "compressed"


def test_a_new_adapter_reuses_the_cache_on_disk(workdir: Path, adapter: Classifier) -> None:
    adapter.evaluate(CNN, EvalContext(seed=0, workdir=workdir))
    resumed = _adapter().evaluate(CNN, EvalContext(seed=0, workdir=workdir))
    assert resumed.attrs["cache"] == "compressed"


def test_an_evaluation_leaves_every_global_rng_as_it_found_it(tmp_path: Path) -> None:
    # Training, pruning, QAT, export and int8 calibration draw only from generators of
    # their own: a study's other worker threads may be using the global ones.
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    for config in (
        {**CNN, "prune_ratio": 0.5},
        {**CNN, "bits": 4, "prune_ratio": 0.3, "prune_kind": "unstructured"},
    ):
        _adapter().evaluate(config, EvalContext(seed=0, workdir=tmp_path))
    assert torch.equal(torch.get_rng_state(), states[0])
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), states[1], strict=True))
    assert random.getstate() == states[2]


def test_same_config_and_seed_give_the_same_accuracy(tmp_path: Path) -> None:
    config = {**CNN, "bits": 4, "prune_ratio": 0.3, "prune_kind": "unstructured"}
    runs = [
        _adapter().evaluate(config, EvalContext(seed=3, workdir=tmp_path / name))
        for name in ("a", "b")
    ]
    assert runs[0].attrs["cache"] == runs[1].attrs["cache"] == "none"  # trained twice
    measured = runs[0].metrics.pop("train_seconds"), runs[1].metrics.pop("train_seconds")
    assert runs[0].metrics == runs[1].metrics
    assert min(measured) > 0
    other_seed = _adapter().evaluate(config, EvalContext(seed=4, workdir=tmp_path / "c"))
    assert other_seed.attrs["cache_key"] != runs[0].attrs["cache_key"]


@pytest.mark.parametrize(
    "config",
    [
        CNN,
        {**CNN, "prune_ratio": 0.5, "prune_kind": "structured", "device": "cortex_m0plus"},
        {**CNN, "arch": "dscnn", "bits": 4, "prune_ratio": 0.4, "prune_kind": "unstructured"},
        {"arch": "mlp", "depth": 2, "width": 24, "bits": 2, "device": "ethos_u55"},
        {"arch": "mlp", "depth": 1, "width": 16, "bits": 32, "device": "cortex_m7"},
    ],
)
def test_known_metrics_equal_evaluated_metrics(
    config: dict[str, Any], adapter: Classifier, workdir: Path
) -> None:
    known = adapter.known_metrics(config)
    assert set(known) == set(HARDWARE)
    evaluated = adapter.evaluate(config, EvalContext(seed=0, workdir=workdir)).metrics
    assert known == {name: evaluated[name] for name in known}
    assert adapter.check(config) == {
        "flash_excess_kB": pytest.approx(evaluated["flash_kB"] - _capacity(config, "flash")),
        "sram_excess_kB": pytest.approx(evaluated["sram_kB"] - _capacity(config, "sram")),
    }


def _capacity(config: dict[str, Any], what: str) -> float:
    profile = load_device(config["device"])
    return profile.flash_kB if what == "flash" else profile.sram_kB


def test_structured_pruning_lowers_the_hardware_cost(adapter: Classifier) -> None:
    dense = adapter.known_metrics(CNN)
    pruned = adapter.known_metrics({**CNN, "prune_ratio": 0.5})
    sparse = adapter.known_metrics({**CNN, "prune_ratio": 0.5, "prune_kind": "unstructured"})
    assert pruned["latency_ms"] < dense["latency_ms"]
    assert pruned["flash_kB"] < dense["flash_kB"]
    assert sparse["flash_kB"] < dense["flash_kB"]  # bitmask encoding of the kept weights


class _TorchBuiltGraphs(Classifier):
    """The adapter with each config's network built as torch modules to count its graph
    (the path before ``_plan``): the reference for the planned ``known_metrics``."""

    def _graph_uncached(self, arch: ArchSpec, compression: Compression) -> GraphStats:
        return built_graph_stats(arch, self.task, compression)


def test_known_metrics_equal_the_torch_built_path_across_a_space() -> None:
    """Sobol configs of the quickstart's space on MCUs, a micro-NPU and the measured host
    (whose flash and SRAM only are known)."""
    devices = [*DEVICES, "host"]
    space = yaml.safe_load((ROOT / "search_spaces" / "tinyml_digits.yaml").read_text())
    space["parameters"]["device"] = {"type": "categorical", "choices": devices}
    configs = SearchSpace.from_dict(space).sobol(120, 7)
    planned = Classifier(task="digits", devices=devices)
    built = _TorchBuiltGraphs(task="digits", devices=devices)
    for config in configs:
        assert planned.known_metrics(config) == built.known_metrics(config), config
    for name, values in (
        ("arch", ARCHS),
        ("bits", BITS),
        ("prune_kind", PRUNE_KINDS),
        ("device", devices),
    ):
        assert {config[name] for config in configs} == set(values)  # the sample spans them


def test_the_graph_is_shared_by_configs_of_one_shape_and_not_across_bits() -> None:
    adapter = _adapter()
    base = {**CNN, "bits": 8, "prune_ratio": 0.5}
    eight = adapter.known_metrics(base)
    misses = adapter._graph.cache_info().misses
    same_shape = [
        {**base, "device": "cortex_m7"},
        {**base, "quant": "ptq"},  # how the weights were found: the same graph
        {**base, "pipeline": "quantize_then_prune"},
        {**base, "depth": 3},  # a CNN reads `blocks`
    ]
    for config in same_shape:
        adapter.known_metrics(config)
    graph, costs = adapter._graph.cache_info(), adapter._analytic.cache_info()
    assert (graph.misses, graph.hits) == (misses, 1)  # planned once, costed on a 2nd device
    assert (costs.misses, costs.hits) == (2, len(same_shape) - 1)
    four = adapter.known_metrics({**base, "bits": 4})
    assert adapter._graph.cache_info().misses == misses + 1
    assert four["flash_kB"] < eight["flash_kB"]
    assert four["sram_kB"] == eight["sram_kB"]  # activations run at 8 bits below 8


def test_check_flags_infeasible_configs_without_training(tmp_path: Path) -> None:
    adapter = _adapter(cache_dir=tmp_path)
    huge = {"arch": "mlp", "depth": 3, "width": 1024, "bits": 32, "device": "cortex_m0plus"}
    constraints = adapter.check(huge)
    assert constraints["flash_excess_kB"] > 0  # 2.2 M float weights in 512 kB of flash
    assert adapter.check({**huge, "device": "cortex_m7", "width": 64})["flash_excess_kB"] < 0
    assert list(tmp_path.iterdir()) == []  # nothing loaded, trained or cached


def test_unrealisable_config_fails_with_one_line(adapter: Classifier, tmp_path: Path) -> None:
    too_deep = {**CNN, "blocks": 4}  # 8x8 -> 4x4 -> 2x2 -> 1x1, no room for a 4th pool
    for call in (adapter.check, lambda c: adapter.evaluate(c, EvalContext(0, tmp_path))):
        with pytest.raises(ArchitectureError, match=r"blocks=4.*lower `blocks`") as info:
            call(too_deep)
        assert "\n" not in str(info.value)
        assert "1x1 after 3 pools" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"bits": 3}, "`bits` must be one of"),
        ({"kernel": 4}, "kernel odd"),
        ({"device": "cortex_m33"}, "study's devices"),
        ({"prune_kind": "random"}, "`prune_kind` must be one of"),
        ({"quant": "int8"}, r"`quant` must be one of \['qat', 'ptq'\], got 'int8'"),
        ({"pipeline": "both"}, "`pipeline` must be one of"),
        ({"distill": "features"}, "`distill` must be one of"),
        ({"distill": "logits", "kd_temperature": 0}, r"`kd_temperature` must be > 0, got 0.0"),
        ({"kd_temperature": -2}, r"`kd_temperature` must be > 0"),
        ({"distill": "logits", "kd_alpha": 1.5}, r"`kd_alpha` must be in \[0, 1\], got 1.5"),
        ({"kd_alpha": -0.1}, r"`kd_alpha` must be in \[0, 1\]"),
    ],
)
def test_bad_values_are_named(change: dict[str, Any], match: str, adapter: Classifier) -> None:
    with pytest.raises(TinyMLError, match=match):
        adapter.check({**CNN, **change})


def test_nan_loss_fails_the_trial_with_one_line(tmp_path: Path) -> None:
    adapter = _adapter(lr=1e30)
    with pytest.raises(TrainingError, match=r"^Config \{arch=mlp.*training: loss became nan"):
        adapter.evaluate(
            {"arch": "mlp", "depth": 1, "width": 8, "device": "cortex_m4"}, EvalContext(0, tmp_path)
        )


def test_error_inside_training_names_config_and_cause(adapter: Classifier, tmp_path: Path) -> None:
    config = {**CNN, "bits": 32}
    adapter.evaluate(config, EvalContext(seed=0, workdir=tmp_path))
    models = tmp_path / "tinyml-cache" / "models"
    shutil.rmtree(models)  # force a rebuild from the weights
    models.write_text("a file where the cache keeps its folders")
    with pytest.raises(TinyMLError) as info:
        adapter.evaluate(config, EvalContext(seed=0, workdir=tmp_path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Config {arch=cnn, blocks=2, channels=8")
    assert str(models) in message


def test_unreadable_cached_weights_are_trained_again(
    adapter: Classifier, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = {**CNN, "bits": 32}
    first = adapter.evaluate(config, EvalContext(seed=0, workdir=tmp_path))
    shutil.rmtree(tmp_path / "tinyml-cache" / "models")  # force a rebuild from the weights
    (weights,) = (tmp_path / "tinyml-cache" / "trained").glob("*.pt")
    weights.write_bytes(b"not a torch file")  # e.g. a cache copied half-way
    again = adapter.evaluate(config, EvalContext(seed=0, workdir=tmp_path))
    assert again.attrs["cache"] == "none"  # trained again, not loaded
    assert again.metrics["accuracy"] == first.metrics["accuracy"]  # the same seeded training
    assert f"cached model {weights} is unreadable" in caplog.text
    torch.load(weights, weights_only=True)  # replaced by a good entry


def test_a_study_searches_the_runtime_next_to_the_device(workdir: Path) -> None:
    adapter = Classifier(
        task="digits",
        devices=["cortex_m4", "cortex_m7"],
        runtimes=["x_cube_ai", "plumerai"],
        epochs=4,
        finetune_epochs=1,
    )
    config = {**CNN, "runtime": "plumerai"}
    result = adapter.evaluate(config, EvalContext(seed=0, workdir=workdir))
    pairs = {(s.overrides["device"], s.overrides["runtime"]): s for s in result.siblings}
    assert set(pairs) == {
        ("cortex_m4", "x_cube_ai"),
        ("cortex_m7", "x_cube_ai"),
        ("cortex_m7", "plumerai"),
    }
    assert adapter.known_metrics(config) == {k: result.metrics[k] for k in HARDWARE}
    for (device, runtime), sibling in pairs.items():
        expected = adapter.known_metrics({**CNN, "device": device, "runtime": runtime})
        assert {k: sibling.metrics[k] for k in HARDWARE} == expected
    # the runtime changes the cost of the same trained model on the same core
    assert pairs[("cortex_m4", "x_cube_ai")].metrics["latency_ms"] != result.metrics["latency_ms"]
    with pytest.raises(OptionsError, match=r"`runtime` must be one of the study's runtimes"):
        adapter.check({**CNN, "runtime": "hale"})


def test_the_space_of_a_runtime_search_is_checked_before_any_trial() -> None:
    from objectives.protocol import Domain

    adapter = Classifier(
        task="digits", devices=["cortex_m4", "cortex_m7"], runtimes=["x_cube_ai", "plumerai"]
    )
    good = {
        "arch": Domain(("mlp",)),
        "depth": Domain((1, 2), 1, 2),
        "width": Domain((8, 16), 8, 16),
        "device": Domain(("cortex_m4", "cortex_m7")),
        "runtime": Domain(("x_cube_ai", "plumerai")),
    }
    assert adapter.check_space(good) == {}
    problems = adapter.check_space({**good, "runtime": Domain(("plumerai", "hale"))})
    assert "runtime" in problems and "'hale'" in problems["runtime"]
    missing = adapter.check_space({k: v for k, v in good.items() if k != "runtime"})
    assert missing["runtime"].startswith("missing")
    plain = Classifier(task="digits", devices=["cortex_m4", "cortex_m7"])
    assert "does not read this parameter" in plain.check_space(good)["runtime"]


def test_the_runtime_study_file_loads_and_its_space_checks() -> None:
    from moo.config import load_study_config
    from moo.study import build_adapter

    path = ROOT / "experiments" / "digits_runtimes.yaml"
    config = load_study_config(path)
    adapter = build_adapter(config, source=str(path))  # checks the space: raises on a problem
    assert adapter.runtimes == ("x_cube_ai", "plumerai", "hale")
    sample = {**CNN, "runtime": "hale", "device": "cortex_m33"}
    known = adapter.known_metrics(sample)
    assert known["latency_ms_p90"] > known["latency_ms"]


def test_runtimes_are_checked_against_every_device() -> None:
    with pytest.raises(OptionsError, match=r"`runtimes`: Runtime 'vela' does not run on cortex-m4"):
        Classifier(task="digits", devices=["cortex_m4"], runtimes=["vela"])
    with pytest.raises(OptionsError, match=r"`runtimes`: Unknown runtime 'tvm'; runtimes for"):
        Classifier(task="digits", devices=["cortex_m4"], runtimes=["tvm"])
    with pytest.raises(OptionsError, match=r"already name their runtime"):
        Classifier(task="digits", devices=["cortex_m4/plumerai"], runtimes=["hale"])
    named = Classifier(task="digits", devices=["cortex_m4/plumerai", "cortex_m7"])
    assert named.check({**CNN, "device": "cortex_m4/plumerai"})["flash_excess_kB"] < 0


def test_options_are_checked() -> None:
    with pytest.raises(OptionsError, match="`task` must be one of"):
        Classifier(task="cifar10")
    with pytest.raises(OptionsError, match="devices"):
        Classifier(task="digits", devices=["cortex_m99"])
    assert set(DEVICES) <= set(known_devices())


def test_missing_fsdd_dir_says_where_data_is_expected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{tmp_path / 'nowhere' / 'recordings'}.*data_dir"):
        Classifier(task="fsdd", data_dir=tmp_path / "nowhere")


def test_anomaly_detector_scores_gunpoint_by_auc(tmp_path: Path) -> None:
    adapter = AnomalyDetector(devices=["cortex_m4"], epochs=150, finetune_epochs=20)
    config = {"arch": "cnn", "blocks": 2, "channels": 8, "kernel": 5, "bits": 8}
    metrics = adapter.evaluate(config, EvalContext(seed=0, workdir=tmp_path)).metrics
    assert 0.7 < metrics["auc"] <= 1.0  # better than chance (0.5) by a margin
    assert abs(metrics["auc_ort_int8"] - metrics["auc"]) <= 0.02
    assert adapter.known_metrics(config) == {name: metrics[name] for name in HARDWARE}


def test_a_study_with_the_measured_host_learns_latency_but_knows_flash(tmp_path: Path) -> None:
    """The host's latency is measured, so only flash stays exact across all devices."""
    config = validate_study_config(
        {
            "study": {"name": "host_and_mcu", "seed": 0},
            "objective": {
                "adapter": "objectives.tinyml:Classifier",
                "options": {"task": "digits", "devices": ["host", "cortex_m4"]},
            },
            "objectives": [
                {"name": "accuracy", "direction": "maximize"},
                {"name": "latency_ms", "direction": "minimize"},
                {"name": "flash_kB", "direction": "minimize"},
            ],
            "space": {"parameters": {**DIGITS_SPACE, "device": HOST_OR_M4}},
        },
        source="test",
    )
    adapter = Classifier(task="digits", devices=["host", "cortex_m4"])
    sampler = build_sampler(config, config.search_space(), adapter)
    assert list(sampler.known_objectives) == [2]
    assert sampler.known_objectives[2](CNN) == adapter.known_metrics(CNN)["flash_kB"]


# ------------------------------------------------- quantization mode, order, distillation
COMPRESSED = {**CNN, "bits": 4, "prune_ratio": 0.5}
VARIANTS: dict[str, dict[str, Any]] = {
    "default": COMPRESSED,
    "ptq": {**COMPRESSED, "quant": "ptq"},
    "quantize_then_prune": {**COMPRESSED, "pipeline": "quantize_then_prune"},
    "distilled": {**COMPRESSED, "distill": "logits", "kd_temperature": 2, "kd_alpha": 0.7},
}


def _recorded_seconds(workdir: Path) -> dict[str, float]:
    folder = workdir / "tinyml-cache" / "trained"
    return {p.stem: json.loads(p.read_text())["train_seconds"] for p in folder.glob("*.json")}


@pytest.mark.slow
def test_how_a_model_is_compressed_changes_its_weights_not_its_hardware_cost(
    tmp_path: Path,
) -> None:
    adapter = _adapter()
    context = EvalContext(seed=0, workdir=tmp_path)
    results = {"default": adapter.evaluate(VARIANTS["default"], context)}
    (student,) = _recorded_seconds(tmp_path).values()
    results |= {name: adapter.evaluate(VARIANTS[name], context) for name in list(VARIANTS)[1:]}
    teacher = sum(_recorded_seconds(tmp_path).values()) - student  # trained once, cached
    assert len(_recorded_seconds(tmp_path)) == 2
    shape = ("macs", "params", "sparsity", *HARDWARE)
    default = results["default"]
    for name, result in results.items():
        assert {k: result.metrics[k] for k in shape} == {k: default.metrics[k] for k in shape}
        assert adapter.known_metrics(VARIANTS[name]) == {k: default.metrics[k] for k in HARDWARE}
        # train_seconds: the student's recorded training, the teacher's when it distils,
        # and this compression's stages
        paid = student + (teacher if name == "distilled" else 0.0)
        stages = result.attrs["prune_s"] + result.attrs["quant_s"]
        assert result.metrics["train_seconds"] == pytest.approx(paid + stages)
    assert len({r.attrs["cache_key"] for r in results.values()}) == len(VARIANTS)
    assert len({r.metrics["accuracy"] for r in results.values()}) > 1  # other weights
    recipes = {name: r.attrs["compression"] for name, r in results.items()}
    assert recipes["default"] == {
        "bits": 4,
        "prune_ratio": 0.5,
        "prune_kind": "structured",
        "quant": "qat",
        "pipeline": "prune_then_quantize",
        "distill": "none",
        "prune_finetune_epochs": 1,
        "quant_finetune_epochs": 1,
    }
    assert recipes["ptq"]["quant"] == "ptq" and "quant_finetune_epochs" not in recipes["ptq"]
    assert recipes["quantize_then_prune"]["pipeline"] == "quantize_then_prune"
    distilled = recipes["distilled"]
    assert distilled["teacher"] == {"arch": "cnn", "width": 32, "depth": 2, "kernel": 3}
    assert (distilled["kd_temperature"], distilled["kd_alpha"]) == (2, 0.7)


@pytest.mark.slow
def test_the_teacher_is_reused_by_other_workers_and_rebuilt_when_unreadable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context = EvalContext(seed=0, workdir=tmp_path)
    _adapter().evaluate(VARIANTS["default"], context)
    (student,) = (tmp_path / "tinyml-cache" / "trained").glob("*.pt")
    _adapter().evaluate(VARIANTS["distilled"], context)
    (teacher,) = set((tmp_path / "tinyml-cache" / "trained").glob("*.pt")) - {student}
    written = teacher.stat().st_mtime_ns
    other = {**VARIANTS["distilled"], "kd_alpha": 0.2}
    reference = _adapter().evaluate(other, context)  # another worker, or a resume
    assert reference.attrs["cache"] == "trained" and teacher.stat().st_mtime_ns == written
    shutil.rmtree(tmp_path / "tinyml-cache" / "models")
    teacher.write_bytes(teacher.read_bytes()[:100])  # truncated, e.g. by a full disk
    rebuilt = _adapter().evaluate(other, context)
    assert f"cached model {teacher} is unreadable" in caplog.text
    assert rebuilt.metrics["accuracy"] == reference.metrics["accuracy"]  # the same teacher
    torch.load(teacher, weights_only=True)


def test_the_anomaly_autoencoder_refuses_distillation_before_training(tmp_path: Path) -> None:
    adapter = AnomalyDetector(devices=["cortex_m4"], epochs=2, finetune_epochs=1)
    config = {"arch": "mlp", "depth": 1, "width": 8, "bits": 8, "distill": "logits"}
    for call in (adapter.check, lambda c: adapter.evaluate(c, EvalContext(0, tmp_path))):
        with pytest.raises(ArchitectureError, match=r"^Config \{.*`distill` must be 'none'"):
            call(config)
    assert list(tmp_path.iterdir()) == []
    assert adapter.check({**config, "distill": "none"})["flash_excess_kB"] < 0


def test_fine_tune_budgets_are_options() -> None:
    adapter = Classifier(task="digits", finetune_epochs=3, prune_finetune_epochs=0)
    assert (adapter.finetunes.prune.epochs, adapter.finetunes.quantize.epochs) == (0, 3)
    with pytest.raises(OptionsError, match=r"_epochs` must be >= 0, got 3, 3 and -1"):
        Classifier(task="digits", quant_finetune_epochs=-1)


@pytest.mark.slow
def test_a_study_searches_how_to_compress_and_its_bundle_says_how(
    write_study: Callable[..., Path], in_tmp: Path
) -> None:
    space = {
        "parameters": {
            "arch": {"type": "categorical", "choices": ["cnn"]},
            "blocks": {"type": "int", "low": 1, "high": 2},
            "channels": {"type": "int", "low": 4, "high": 8},
            "bits": {"type": "ordinal", "values": [4, 8]},
            "prune_ratio": {"type": "float", "low": 0.25, "high": 0.5, "step": 0.25},
            "quant": {"type": "categorical", "choices": ["qat", "ptq"]},
            "pipeline": {
                "type": "categorical",
                "choices": ["prune_then_quantize", "quantize_then_prune"],
            },
            "distill": {"type": "categorical", "choices": ["none", "logits"]},
            "kd_temperature": {"type": "ordinal", "values": [2.0, 4.0]},
            "kd_alpha": {"type": "float", "low": 0.0, "high": 1.0},
        }
    }
    objective = {
        "adapter": "objectives.tinyml:Classifier",
        "options": {"task": "digits", "devices": ["cortex_m4"], "epochs": 2, "finetune_epochs": 1},
    }
    objectives = [
        {"name": "accuracy", "direction": "maximize"},
        {"name": "train_seconds", "direction": "minimize"},
    ]
    path = write_study(
        "kd",
        objective=objective,
        objectives=objectives,
        space=space,
        sampler={"n_initial": 4},
        stop={"max_trials": 4, "rule": "budget"},
    )
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(path)]).exit_code == 0
    study, _ = load_study("kd")
    trials = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(trials) == 4
    for trial in trials:
        recipe = trial.user_attrs["compression"]
        assert recipe["quant"] == trial.params["quant"]
        assert recipe["distill"] == trial.params["distill"]
        assert trial.values[1] == trial.user_attrs[METRICS_KEY]["train_seconds"] > 0
    chosen = trials[-1]
    result = runner.invoke(app, ["export", "kd", "--pick", f"trial:{chosen.number}", "--out", "b"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((in_tmp / "b" / "MANIFEST.json").read_text())
    assert manifest["evaluation"]["compression"] == chosen.user_attrs["compression"]
    assert manifest["evaluation"]["cache_key"] == chosen.user_attrs["cache_key"]
    assert "model.onnx" in manifest["files"]
