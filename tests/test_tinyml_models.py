"""Initial weights of the TinyML networks: from the seed alone, never from a global RNG."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from objectives.tinyml._arch import ArchSpec
from objectives.tinyml._compress import shaped_chain
from objectives.tinyml._data import TASKS
from objectives.tinyml._models import _chain, build_model, initialize
from objectives.tinyml._settings import Compression

ARCHS = [
    ("digits", ArchSpec("mlp", 16, 2)),
    ("digits", ArchSpec("cnn", 8, 2, 3)),
    ("digits", ArchSpec("dscnn", 8, 2, 3)),
    ("gunpoint", ArchSpec("cnn", 8, 2, 5)),  # an autoencoder: 1-D convs and a decoder
]


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in model.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize(("task", "arch"), ARCHS)
def test_initial_weights_are_pytorch_defaults_drawn_from_the_seed(
    task: str, arch: ArchSpec
) -> None:
    # The layers initialized by their own constructors from torch's global RNG are the
    # reference (forked and restored: the one global seeding of these tests, to compare
    # with PyTorch's own initialization).
    with torch.random.fork_rng():
        torch.manual_seed(11)
        reference = weights(_chain(arch, TASKS[task]))
    assert_same(weights(build_model(arch, TASKS[task], seed=11)), reference)
    other = weights(build_model(arch, TASKS[task], seed=12))
    assert any(not torch.equal(other[n], reference[n]) for n in reference if "weight" in n)


def test_building_and_pruning_a_model_leave_the_global_rng_untouched() -> None:
    state = torch.get_rng_state()
    for task, arch in ARCHS:
        build_model(arch, TASKS[task], seed=0)
        for kind in ("structured", "unstructured"):  # pruned copies, batch norms folded
            shaped_chain(arch, TASKS[task], Compression(8, 0.5, kind))
    assert torch.equal(torch.get_rng_state(), state)


def test_same_seed_same_weights_while_another_thread_draws_from_the_global_rng() -> None:
    task, arch = ARCHS[1]
    alone = weights(build_model(arch, TASKS[task], seed=5))
    expected_draws = torch.rand(2000, generator=torch.Generator().manual_seed(3))
    stop, built = threading.Event(), []
    draws: list[torch.Tensor] = []

    def draw() -> None:
        # Reseeding and drawing the global RNG the whole time the models are built.
        while not stop.is_set():
            torch.manual_seed(3)
            draws.append(torch.rand(2000))

    def build() -> None:
        built.extend(weights(build_model(arch, TASKS[task], seed=5)) for _ in range(20))

    drawer, builder = threading.Thread(target=draw), threading.Thread(target=build)
    drawer.start()
    builder.start()
    builder.join()
    stop.set()
    drawer.join()
    for model in built:
        assert_same(model, alone)
    # The drawing thread's stream was its own: the builder took nothing from it, and
    # its tensors stayed real CPU tensors (the meta device of the builds did not leak).
    assert draws and all(d.device.type == "cpu" and torch.equal(d, expected_draws) for d in draws)


def test_a_layer_without_a_seeded_initialization_is_refused() -> None:
    with pytest.raises(TypeError, match="no seeded initialization for LayerNorm layers"):
        initialize(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2)), torch.Generator())
