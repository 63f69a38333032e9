"""Graph statistics: from the ONNX file, from the module, and against PyTorch's own count."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from objectives.tinyml._arch import ArchSpec
from objectives.tinyml._built import module_graph_stats
from objectives.tinyml._compress import shaped_chain
from objectives.tinyml._data import TASKS
from objectives.tinyml._graph import graph_metadata, onnx_graph_stats
from objectives.tinyml._onnx import export_onnx
from objectives.tinyml._settings import Compression


def _torch_counts(chain: nn.Sequential, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """MACs and params by PyTorch forward hooks, independent of the graph code."""
    macs = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv1d | nn.Conv2d):
            taps = module.in_channels // module.groups * math.prod(module.kernel_size)
            macs += output.numel() * taps
        elif isinstance(module, nn.Linear):
            macs += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in chain]
    with torch.no_grad():
        chain(torch.zeros(1, *input_shape))
    for handle in handles:
        handle.remove()
    return macs, sum(p.numel() for p in chain.parameters())


def _export(
    chain: nn.Sequential, task: str, path: Path, comp: Compression, pruned: list[int]
) -> Path:
    metadata = graph_metadata(*comp.bit_widths, pruned)
    return export_onnx(chain, TASKS[task].input_shape, path, metadata)


@pytest.mark.parametrize(
    ("task", "arch"),
    [
        ("digits", ArchSpec("cnn", 12, 2, 3)),
        ("digits", ArchSpec("dscnn", 16, 2, 5)),
        ("fsdd", ArchSpec("dscnn", 64, 4, 3)),
        ("digits", ArchSpec("mlp", 32, 2)),
        ("gunpoint", ArchSpec("cnn", 8, 2, 5)),
    ],
)
def test_onnx_stats_match_pytorch_count(task: str, arch: ArchSpec, tmp_path: Path) -> None:
    comp = Compression()
    chain, pruned = shaped_chain(arch, TASKS[task], comp)
    stats = onnx_graph_stats(_export(chain, task, tmp_path / "m.onnx", comp, pruned))
    macs, params = _torch_counts(chain, TASKS[task].input_shape)
    assert stats.macs == macs
    assert stats.params == params


def test_mlperf_sized_dscnn_matches_published_shape(tmp_path: Path) -> None:
    """MLPerf Tiny's DS-CNN (64 channels, 4 blocks, stride-2 stem) on 49x10 MFCCs."""
    comp = Compression()
    chain, pruned = shaped_chain(ArchSpec("dscnn", 64, 4, 3), TASKS["fsdd"], comp)
    stats = onnx_graph_stats(_export(chain, "fsdd", tmp_path / "m.onnx", comp, pruned))
    kinds = [layer.kind for layer in stats.layers]
    assert kinds == ["conv"] + ["depthwise_conv", "conv"] * 4 + ["pool", "dense"]
    stem = stats.layers[0]
    assert stem.output_elements == 64 * 25 * 5  # 49x10 at stride 2, 'same' padding
    assert stats.layers[1].macs == 25 * 5 * 64 * 9
    assert stats.layers[-1].params == 64 * 10 + 10


@pytest.mark.parametrize("arch", [ArchSpec("cnn", 12, 2, 3), ArchSpec("dscnn", 10, 2, 3)])
@pytest.mark.parametrize(
    "comp",
    [
        Compression(8, 0.5, "structured"),
        Compression(4, 0.3, "unstructured"),
        Compression(16, 0.0, "none"),
        Compression(2, 0.25, "structured"),
    ],
)
def test_module_stats_equal_onnx_stats(arch: ArchSpec, comp: Compression, tmp_path: Path) -> None:
    chain, pruned = shaped_chain(arch, TASKS["digits"], comp)
    from_module = module_graph_stats(chain, TASKS["digits"].input_shape, comp.bit_widths, pruned)
    from_file = onnx_graph_stats(_export(chain, "digits", tmp_path / "m.onnx", comp, pruned))
    assert from_module == from_file
    for layer in from_file.layers:  # a pool has no weights: it runs at the activations' width
        assert layer.weight_bits == (comp.bits if layer.params else comp.bit_widths[1])


def test_relu_is_fused_and_flatten_is_a_view(tmp_path: Path) -> None:
    comp = Compression()
    chain, pruned = shaped_chain(ArchSpec("cnn", 4, 1, 3), TASKS["digits"], comp)
    stats = onnx_graph_stats(_export(chain, "digits", tmp_path / "m.onnx", comp, pruned))
    assert [layer.op_type for layer in stats.layers] == ["Conv", "MaxPool", "Gemm"]
    assert [layer.name for layer in stats.layers] == ["/0/Conv", "/2/MaxPool", "/4/Gemm"]
    assert stats.layers[1].input_elements == 4 * 8 * 8
    assert stats.layers[1].output_elements == 4 * 4 * 4


def test_sparsity_counts_pruned_weights_not_quantization_zeros(tmp_path: Path) -> None:
    comp = Compression(2, 0.5, "unstructured")
    chain, pruned = shaped_chain(ArchSpec("mlp", 16, 1), TASKS["digits"], comp)
    with torch.no_grad():
        chain[1].weight[chain[1].weight.abs() < 0.05] = 0.0  # zeros a 2-bit grid rounds to
    stats = onnx_graph_stats(_export(chain, "digits", tmp_path / "m.onnx", comp, pruned))
    first = stats.layers[0]
    assert pruned[0] == round(64 * 16 * 0.5)
    assert first.sparsity == pruned[0] / (64 * 16 + 16)
    assert (first.weight_bits, first.activation_bits) == (2, 8)
