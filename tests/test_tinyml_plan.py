"""The planned graph statistics against the network built, pruned and folded in torch."""

from __future__ import annotations

import random

import pytest

from objectives.tinyml._arch import ARCHS, ArchSpec
from objectives.tinyml._built import built_graph_stats
from objectives.tinyml._data import TASKS
from objectives.tinyml._errors import ArchitectureError
from objectives.tinyml._plan import planned_graph_stats
from objectives.tinyml._settings import BITS, Compression

#: Random configs per (task, architecture, pruning kind): 3 x 3 x 3 cells.
_PER_CELL = 8
#: Ratios up to the largest allowed, where a narrow layer is pruned to one channel.
_RATIOS = (0.05, 0.1, 0.25, 0.35, 0.5, 0.65, 0.75, 0.9)


def _random_arch(rng: random.Random, arch: str) -> ArchSpec:
    if arch == "mlp":
        return ArchSpec("mlp", rng.randint(1, 130), rng.randint(1, 4))
    width = rng.choice([1, 2, 3, rng.randint(4, 70)])
    return ArchSpec(arch, width, rng.randint(1, 4), rng.choice([1, 3, 5, 7]))  # type: ignore[arg-type]


def _outcome(build: object, *args: object) -> object:
    """The statistics, or the message of the ``ArchitectureError`` that refused them."""
    try:
        return build(*args)  # type: ignore[operator]
    except ArchitectureError as e:
        return f"ArchitectureError: {e}"


@pytest.mark.parametrize("kind", ["none", "structured", "unstructured"])
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("task", sorted(TASKS))
def test_planned_stats_equal_the_built_network_on_random_configs(
    task: str, arch: str, kind: str
) -> None:
    rng = random.Random(f"{task}/{arch}/{kind}")
    refused = 0
    for _ in range(_PER_CELL):
        spec = _random_arch(rng, arch)
        ratio = 0.0 if kind == "none" else rng.choice(_RATIOS)
        compression = Compression(rng.choice(BITS), ratio, kind)
        planned = _outcome(planned_graph_stats, spec, TASKS[task], compression)
        built = _outcome(built_graph_stats, spec, TASKS[task], compression)
        assert planned == built, (spec, compression)
        refused += isinstance(built, str)
    assert refused < _PER_CELL  # most configs are built: the comparison is not of errors


def test_a_depthwise_conv_pruned_to_one_channel_is_a_plain_conv_in_both() -> None:
    spec, compression = ArchSpec("dscnn", 3, 1, 3), Compression(8, 0.9, "structured")
    planned = planned_graph_stats(spec, TASKS["digits"], compression)
    assert [layer.kind for layer in planned.layers][:3] == ["conv", "conv", "conv"]
    assert planned == built_graph_stats(spec, TASKS["digits"], compression)


def test_an_unrealisable_cnn_is_refused_with_the_builders_message() -> None:
    spec = ArchSpec("cnn", 8, 4, 3)  # 8x8 digits pooled four times
    with pytest.raises(ArchitectureError, match="down to 1x1 after 3 pools") as planned:
        planned_graph_stats(spec, TASKS["digits"], Compression())
    with pytest.raises(ArchitectureError) as built:
        built_graph_stats(spec, TASKS["digits"], Compression())
    assert str(planned.value) == str(built.value)


def test_unstructured_sparsity_counts_the_masked_weights() -> None:
    """A closed form: a 64-16-10 MLP at half its weights masked."""
    stats = planned_graph_stats(
        ArchSpec("mlp", 16, 1), TASKS["digits"], Compression(4, 0.5, "unstructured")
    )
    hidden, output = stats.layers
    assert hidden.sparsity == 512 / (64 * 16 + 16)
    assert output.sparsity == 80 / (16 * 10 + 10)
    assert (hidden.macs, hidden.params, hidden.weight_bits) == (64 * 16, 64 * 16 + 16, 4)
