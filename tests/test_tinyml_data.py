"""Datasets and study files of the TinyML adapters: FSDD features, GunPoint, YAML studies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from moo.config import load_adapter, load_study_config
from objectives.protocol import EvalContext
from objectives.tinyml import Classifier
from objectives.tinyml._arch import ArchSpec
from objectives.tinyml._audio import MfccSettings, mfcc
from objectives.tinyml._data import TASKS, load_task
from objectives.tinyml._fsdd import load_fsdd
from objectives.tinyml._models import build_model

ROOT = Path(__file__).resolve().parents[1]
FSDD = ROOT.parent / "shared" / "data" / "fsdd"
needs_fsdd = pytest.mark.skipif(
    not (FSDD / "recordings").is_dir(), reason=f"FSDD not found in {FSDD}"
)


def test_mfcc_of_a_clip_is_an_mlperf_sized_image() -> None:
    settings = MfccSettings()
    t = np.arange(6000) / settings.sample_rate
    features = mfcc(0.5 * np.sin(2 * np.pi * 440 * t), settings)
    assert features.shape == (49, 10) == TASKS["fsdd"].input_shape[1:]
    assert features.dtype == np.float32
    silent = mfcc(np.zeros(100), settings)
    assert features[0, 0] > silent[0, 0]  # c0 tracks the log energy of the frame


@needs_fsdd
@pytest.mark.slow
def test_fsdd_official_split_is_cached_on_disk(tmp_path: Path) -> None:
    data = load_fsdd(FSDD, tmp_path)
    assert data.x_train.shape == (2700, 1, 49, 10)
    assert data.x_test.shape == (300, 1, 49, 10)
    assert np.bincount(data.y_test).tolist() == [30] * 10  # 6 speakers x 5 takes per digit
    (cached,) = tmp_path.glob("fsdd-mfcc-*.npz")
    written = cached.stat().st_mtime_ns
    again = load_fsdd(FSDD, tmp_path)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert cached.stat().st_mtime_ns == written  # read back, not computed again
    assert abs(float(data.x_train.mean())) < 1e-3  # normalized with training statistics


@needs_fsdd
@pytest.mark.slow
def test_fsdd_cnn_learns_spoken_digits(tmp_path: Path) -> None:
    adapter = Classifier(
        task="fsdd", data_dir=FSDD, devices=["cortex_m4", "ethos_u55"], epochs=4, finetune_epochs=1
    )
    config = {"arch": "cnn", "blocks": 2, "channels": 16, "bits": 8, "device": "cortex_m4"}
    result = adapter.evaluate(config, EvalContext(seed=0, workdir=tmp_path))
    assert result.metrics["accuracy"] > 0.85  # chance is 0.1; ~0.94 after 4 epochs
    assert abs(result.metrics["accuracy_ort_int8"] - result.metrics["accuracy"]) <= 0.01
    assert adapter.known_metrics(config)["latency_ms"] == result.metrics["latency_ms"]
    assert [s.overrides["device"] for s in result.siblings] == ["ethos_u55"]


def test_gunpoint_trains_on_normal_series_only(tmp_path: Path) -> None:
    data = load_task("gunpoint", data_dir=None, cache_dir=tmp_path)
    assert data.x_train.shape[1:] == data.x_test.shape[1:] == TASKS["gunpoint"].input_shape
    assert len(data.x_train) == 24 and not data.y_train.any()
    assert len(data.x_test) == 150 and 0.3 < data.y_test.mean() < 0.7


@pytest.mark.parametrize("arch", ["mlp", "cnn", "dscnn"])
def test_autoencoders_reconstruct_their_input(arch: str) -> None:
    spec = ArchSpec(arch, 8, 2, 5 if arch != "mlp" else 1)
    model = build_model(spec, TASKS["gunpoint"], seed=0)
    assert model(torch.zeros(2, 1, 150)).shape == (2, 150)


@pytest.mark.parametrize("study", ["quickstart.yaml", "kws_fsdd.yaml", "anomaly_gunpoint.yaml"])
def test_study_files_load_and_match_their_adapter(study: str) -> None:
    if study == "kws_fsdd.yaml" and not (FSDD / "recordings").is_dir():
        pytest.skip(f"FSDD not found in {FSDD}")
    config = load_study_config(ROOT / "experiments" / study)
    adapter = load_adapter(config.objective)
    assert config.space["parameters"]["device"]["choices"] == list(adapter.devices)
    assert adapter.score_name in config.objective_names
    sample = {name: _first(spec) for name, spec in config.space["parameters"].items()}
    assert set(adapter.known_metrics(sample)) >= {"latency_ms", "energy_mJ"}


def _first(spec: dict[str, Any]) -> Any:
    for key in ("choices", "values"):
        if key in spec:
            return spec[key][0]
    return spec["low"]
