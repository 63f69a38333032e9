"""Deployment bundles: one chosen trial as a folder a firmware team can take away.

A bundle holds what is needed to rebuild and to trust the model: ``config.yaml`` (the
trial's config plus the objective section that evaluates it), ``metrics.json`` (every
metric of the trial and of the configs evaluated with it, e.g. the same model on every
device), the model files the adapter stored (``model.onnx``), and ``MANIFEST.json`` (study,
trial, seed, package versions and the SHA-256 of every file), so that re-running the
config can be checked against the bundle.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.trial import FrozenTrial

from moo.config import StudyConfig
from moo.errors import ConfigError
from moo.keys import ARTIFACTS_KEY, METRICS_KEY
from moo.results import evaluation_group
from moo.sampler import SIBLING_KEY
from moo.study import workdir_for

__all__ = ["PACKAGES", "export_trial"]

PACKAGES = (
    "moo",
    "torch",
    "botorch",
    "gpytorch",
    "optuna",
    "onnx",
    "onnxruntime",
    "numpy",
    "scikit-learn",
)
"""Distributions whose versions a bundle records: the ones that change numbers."""


def export_trial(
    study: optuna.Study, config: StudyConfig, trial: FrozenTrial, out: Path, *, storage_url: str
) -> Path:
    """Write the bundle of ``trial`` to ``out`` (created; existing files are replaced)."""
    out.mkdir(parents=True, exist_ok=True)
    group = evaluation_group(study, trial)
    (out / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "study": config.study.name,
                "trial": trial.number,
                "seed": config.study.seed,
                "config": dict(trial.params),
                "objective": config.objective.model_dump(mode="json"),
            },
            sort_keys=False,
        )
    )
    (out / "metrics.json").write_text(
        json.dumps(
            {
                "objectives": dict(zip(config.objective_names, trial.values or [], strict=False)),
                "metrics": trial.user_attrs.get(METRICS_KEY, {}),
                "evaluated_with": [
                    {
                        "trial": t.number,
                        "params": t.params,
                        "metrics": t.user_attrs.get(METRICS_KEY),
                    }
                    for t in group
                    if t.number != trial.number
                ],
            },
            indent=2,
        )
    )
    _copy_artifacts(group, trial, workdir_for(config, storage_url) / "artifacts", out)
    files = sorted(p for p in out.iterdir() if p.is_file() and p.name != "MANIFEST.json")
    manifest = {
        "study": config.study.name,
        "trial": trial.number,
        "sibling_of": trial.user_attrs.get(SIBLING_KEY),
        "seed": config.study.seed,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "packages": _versions(),
        "files": {p.name: _sha256(p) for p in files},
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2))
    return out


def _copy_artifacts(
    group: list[FrozenTrial], trial: FrozenTrial, store_dir: Path, out: Path
) -> None:
    """The trial's model files; a sibling shares the files of the trial it came with."""
    owner = next((t for t in group if ARTIFACTS_KEY in t.user_attrs), None)
    if owner is None:
        return
    store = FileSystemArtifactStore(str(store_dir))
    for name, artifact_id in owner.user_attrs[ARTIFACTS_KEY].items():
        (out / name).unlink(missing_ok=True)
        try:
            download_artifact(
                artifact_store=store, file_path=str(out / name), artifact_id=artifact_id
            )
        except FileNotFoundError as e:
            raise ConfigError(
                f"trial {trial.number}: artifact {name} not found in {store_dir} ({e})."
            ) from e


def _versions() -> dict[str, Any]:
    versions: dict[str, Any] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
