"""Deployment bundles: one chosen trial as a folder a firmware team can take away.

A bundle holds what is needed to rebuild and to trust the model: ``config.yaml`` (the
trial's config plus the objective section that evaluates it), ``metrics.json`` (every
metric of the trial and of the configs evaluated with it, e.g. the same model on every
device), the model files the adapter stored (``model.onnx``), and ``MANIFEST.json`` (study,
trial, seed, package versions, the SHA-256 of every file, and the adapter's own record of
the evaluation that made the model, e.g. how the TinyML adapter compressed it), so that
re-running the config can be checked against the bundle.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any

import optuna
import yaml
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.trial import FrozenTrial

from moo.config import StudyConfig
from moo.errors import ConfigError
from moo.keys import ARTIFACTS_KEY, METRICS_KEY, SIBLING_KEY
from moo.results import evaluation_group
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
    """Write the bundle of ``trial`` to ``out`` (created; existing files are replaced).

    Every file lands directly in ``out``: the artifact names come from the storage, which
    someone else may write, so a name that is not a plain file name (``../../x.onnx``) is
    refused before anything is written, and an existing file (or a link planted in
    ``out``) is removed, never written through. The manifest lists exactly the files
    this export wrote.
    """
    group = evaluation_group(study, trial)
    owner = next((t for t in group if ARTIFACTS_KEY in t.user_attrs), None)
    artifacts = _artifact_names(owner, trial, out) if owner is not None else {}
    out.mkdir(parents=True, exist_ok=True)
    written = [
        _write(
            out,
            "config.yaml",
            yaml.safe_dump(
                {
                    "study": config.study.name,
                    "trial": trial.number,
                    "seed": config.study.seed,
                    "config": dict(trial.params),
                    "objective": config.objective.model_dump(mode="json"),
                },
                sort_keys=False,
            ),
        ),
        _write(
            out,
            "metrics.json",
            json.dumps(
                {
                    "objectives": dict(
                        zip(config.objective_names, trial.values or [], strict=False)
                    ),
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
            ),
        ),
    ]
    store_dir = workdir_for(config, storage_url) / "artifacts"
    written += [
        _copy_artifact(store_dir, artifact_id, out / name, trial)
        for name, artifact_id in artifacts.items()
    ]
    manifest = {
        "study": config.study.name,
        "trial": trial.number,
        "sibling_of": trial.user_attrs.get(SIBLING_KEY),
        "seed": config.study.seed,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "packages": _versions(),
        "files": {p.name: _sha256(p) for p in sorted(written)},
        "evaluation": _adapter_attrs(owner or trial),
    }
    _write(out, _MANIFEST, json.dumps(manifest, indent=2))
    return out


def _adapter_attrs(trial: FrozenTrial) -> dict[str, Any]:
    """What the adapter recorded about the evaluation (its attributes; moo's own are
    stored under ``moo:`` names and written elsewhere in the bundle)."""
    return {k: v for k, v in trial.user_attrs.items() if not k.startswith("moo:")}


_MANIFEST = "MANIFEST.json"
_OWN_FILES = frozenset({"config.yaml", "metrics.json", _MANIFEST})


def _artifact_names(owner: FrozenTrial, trial: FrozenTrial, out: Path) -> dict[str, str]:
    """The stored ``name -> artifact id`` of the trial's model files, each name checked
    to be a plain file name that stays in ``out`` (a sibling shares its parent's files)."""
    stored = owner.user_attrs[ARTIFACTS_KEY]
    if not isinstance(stored, dict):
        raise ConfigError(f"trial {trial.number}: {ARTIFACTS_KEY} is not a mapping: {stored!r}.")
    for name, artifact_id in stored.items():
        plain = PurePath(name).name == name and name not in ("", ".", "..")
        plain = plain and not any(c in name for c in "\\\0")  # Windows separator, NUL
        if not plain or name in _OWN_FILES or not isinstance(artifact_id, str):
            raise ConfigError(
                f"trial {trial.number}: the stored artifact {name!r} is not a plain file name "
                f"(or clashes with the bundle's own files); refusing to write outside {out}."
            )
    return stored


def _write(out: Path, name: str, text: str) -> Path:
    """Write ``out/name`` afresh: a file or link already there is removed first."""
    path = out / name
    path.unlink(missing_ok=True)
    with path.open("x") as f:
        f.write(text)
    return path


def _copy_artifact(store_dir: Path, artifact_id: str, path: Path, trial: FrozenTrial) -> Path:
    path.unlink(missing_ok=True)
    try:
        download_artifact(
            artifact_store=FileSystemArtifactStore(str(store_dir)),
            file_path=str(path),
            artifact_id=artifact_id,
        )
    except FileNotFoundError as e:
        raise ConfigError(
            f"trial {trial.number}: artifact {path.name} not found in {store_dir} ({e})."
        ) from e
    except ValueError as e:  # Optuna refuses an id that would leave its store
        raise ConfigError(
            f"trial {trial.number}: artifact {path.name} has an invalid id {artifact_id!r} ({e})."
        ) from e
    return path


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
