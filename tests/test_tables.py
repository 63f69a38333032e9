from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import yaml
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated

from objectives.protocol import EvalContext
from objectives.tables import (
    DEFAULT_DATA_DIR,
    NB201_OPS,
    NasBench201,
    arch_string,
    reference_front,
)

needs_data = pytest.mark.skipif(
    not DEFAULT_DATA_DIR.is_dir(), reason=f"NAS-Bench-201 tables not at {DEFAULT_DATA_DIR}"
)
CONTEXT = EvalContext(seed=0, workdir=Path("."))
# Architecture 0 of NAS-Bench-201, with the HW-NAS-Bench README's latencies for it.
ARCH_0 = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
    "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
)
CONFIG_0 = {
    "op_0": "avg_pool_3x3",
    "op_1": "nor_conv_1x1",
    "op_2": "skip_connect",
    "op_3": "nor_conv_1x1",
    "op_4": "skip_connect",
    "op_5": "skip_connect",
}
REPO = Path(__file__).resolve().parents[1]


def all_configs() -> list[dict[str, str]]:
    return [
        {f"op_{i}": op for i, op in enumerate(ops)}
        for ops in itertools.product(NB201_OPS, repeat=6)
    ]


def test_arch_string_follows_the_benchmark_edge_order() -> None:
    assert arch_string(CONFIG_0) == ARCH_0


def test_arch_string_names_missing_ops() -> None:
    with pytest.raises(KeyError, match=r"lacks \['op_5'\]"):
        arch_string({f"op_{i}": "none" for i in range(5)})


@needs_data
def test_evaluate_looks_up_architecture_0() -> None:
    adapter = NasBench201()
    result = adapter.evaluate(CONFIG_0, CONTEXT)
    assert result.attrs["nb201_index"] == 0
    metrics = result.metrics
    assert metrics["err_cifar10_pct"] == pytest.approx(100 - 85.86333333333334, rel=1e-12)
    assert metrics["lat_ms_raspi4"] == pytest.approx(10.48198, rel=1e-4)
    assert metrics["lat_ms_pixel3"] == pytest.approx(3.60585, rel=1e-6)
    assert metrics["lat_ms_eyeriss"] == pytest.approx(3.64562, rel=1e-6)
    assert metrics["lat_ms_fpga"] == pytest.approx(2.57296, rel=1e-6)
    assert len(metrics) == 3 + 27


@needs_data
def test_known_metrics_are_the_latencies_only() -> None:
    adapter = NasBench201()
    known = adapter.known_metrics(CONFIG_0)
    assert set(known) == {m for m in adapter.metric_names if m.startswith("lat_ms_")}
    metrics = adapter.evaluate(CONFIG_0, CONTEXT).metrics
    assert all(metrics[name] == value for name, value in known.items())


@needs_data
def test_unknown_operation_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match=r"^Unknown NAS-Bench-201 architecture [^\n]*one of"):
        NasBench201().evaluate({**CONFIG_0, "op_3": "conv_5x5"}, CONTEXT)


def test_missing_data_dir_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^NAS-Bench-201 data directory [^\n]*data_dir"):
        NasBench201(data_dir=tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        reference_front("nb201_c10_raspi4", data_dir=tmp_path / "absent")


@needs_data
def test_unknown_reference_problem_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="nb201_c10_pixel3"):
        reference_front("nb201_c10_jetson")


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize(
    "problem", ["nb201_c10_raspi4", "nb201_c10_pixel3", "nb201_c10_eyeriss_fpga"]
)
def test_reference_front_matches_a_brute_force_over_all_architectures(problem: str) -> None:
    adapter = NasBench201()
    front = reference_front(problem)
    configs = all_configs()
    indices = torch.tensor([adapter.arch_index(c) for c in configs])
    assert sorted(indices.tolist()) == list(range(15625))
    metrics = [adapter.evaluate(c, CONTEXT).metrics for c in configs]
    y = torch.tensor(
        [[m[name] for name in front.objective_names] for m in metrics], dtype=torch.double
    )

    assert front.reference_point == pytest.approx(y.max(dim=0).values.tolist(), rel=1e-12)
    pareto = is_non_dominated(-y, deduplicate=False)
    assert sorted(indices[pareto].tolist()) == sorted(front.pareto_arch_idx)
    ref = -torch.tensor(front.reference_point, dtype=torch.double)
    hv = Hypervolume(ref).compute(-y[pareto])
    assert hv == pytest.approx(front.max_hv, rel=1e-9)


def test_study_files_point_at_the_nb201_space() -> None:
    space = yaml.safe_load((REPO / "search_spaces" / "nb201.yaml").read_text())["parameters"]
    assert sorted(space) == [f"op_{i}" for i in range(6)]
    assert all(tuple(p["choices"]) == NB201_OPS for p in space.values())
    for name in ("nb201_pi4", "nb201_pixel3", "nb201_eyeriss_fpga"):
        study_file = REPO / "experiments" / f"{name}.yaml"
        study = yaml.safe_load(study_file.read_text())
        space_file = (study_file.parent / study["space"]).resolve()
        assert space_file == REPO / "search_spaces" / "nb201.yaml"
        assert study["objectives"][0]["name"] == "err_cifar10_pct"
