"""Pruning and quantization on a real network trained on real data (scikit-learn digits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from objectives.tinyml._compress import Compression, calibration_set, compress
from objectives.tinyml._data import TASKS, TaskData, load_task
from objectives.tinyml._graph import graph_metadata, onnx_graph_stats
from objectives.tinyml._models import ArchSpec, build_model
from objectives.tinyml._onnx import export_onnx, quantize_int8, run_onnx
from objectives.tinyml._prune import fold_batchnorm, prune, weighted_layers
from objectives.tinyml._train import TrainSettings, fit, predict, score

TASK = TASKS["digits"]
FINETUNE = TrainSettings(epochs=2, batch_size=64, lr=1e-3)
#: ORT int8 and fake-quant accuracy may differ by this much: both use the same int8
#: grids, so only rounding of int32 biases and of ties in requantization can differ;
#: 1 point is 3-4 of the 360 test images.
INT8_TOLERANCE = 0.01


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> TaskData:
    return load_task("digits", data_dir=None, cache_dir=tmp_path_factory.mktemp("features"))


def _trained(data: TaskData, arch: ArchSpec) -> nn.Sequential:
    model = build_model(arch, TASK, seed=0)
    fit(model, data, TASK.kind, TrainSettings(epochs=6), seed=0, what="test")
    return model


@pytest.fixture(scope="module")
def cnn_state(data: TaskData) -> dict[str, torch.Tensor]:
    return _trained(data, ArchSpec("cnn", 16, 2, 3)).state_dict()


def _cnn(state: dict[str, torch.Tensor]) -> nn.Sequential:
    model = build_model(ArchSpec("cnn", 16, 2, 3), TASK, seed=0)
    model.load_state_dict(state)
    return model.eval()


def _accuracy(model: nn.Module, data: TaskData) -> float:
    return score("classify", predict(model, data.x_test), data)


def test_trained_cnn_learns_digits(cnn_state: dict[str, torch.Tensor], data: TaskData) -> None:
    assert _accuracy(_cnn(cnn_state), data) > 0.9


def test_fold_batchnorm_is_the_same_function(
    cnn_state: dict[str, torch.Tensor], data: TaskData
) -> None:
    model = _cnn(cnn_state)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded)
    np.testing.assert_allclose(predict(folded, data.x_test), predict(model, data.x_test), atol=1e-4)


def test_structured_pruning_shrinks_the_network(
    cnn_state: dict[str, torch.Tensor], data: TaskData, tmp_path: Path
) -> None:
    calibration = calibration_set(data, 128)
    comps = {"dense": Compression(32), "pruned": Compression(32, 0.5, "structured")}
    stats = {}
    for name, comp in comps.items():
        out = compress(_cnn(cnn_state), data, TASK, comp, FINETUNE, calibration=calibration, seed=0)
        path = export_onnx(out.exported, TASK.input_shape, tmp_path / f"{name}.onnx")
        stats[name] = onnx_graph_stats(path)
        if name == "pruned":
            assert _accuracy(out.scored, data) > 0.85  # the fine-tune recovered
    convs = [layer for layer in stats["pruned"].layers if layer.op_type == "Conv"]
    assert [layer.output_elements // 16 for layer in convs] == [8 * 4, 8]  # 16 -> 8 channels
    assert stats["pruned"].macs < 0.4 * stats["dense"].macs
    assert stats["pruned"].params < 0.4 * stats["dense"].params


def test_structured_pruning_keeps_the_largest_l1_channels(
    cnn_state: dict[str, torch.Tensor],
) -> None:
    model = _cnn(cnn_state)
    folded_first = weighted_layers(fold_batchnorm(model))[0].weight
    expected = torch.sort(torch.topk(folded_first.abs().flatten(1).sum(1), 12).indices).values
    pruned = prune(model, "structured", 0.25, TASK.input_shape)
    first = weighted_layers(pruned)[0]
    assert first.out_channels == 12
    torch.testing.assert_close(first.weight, model[0].weight[expected])


def test_unstructured_pruning_records_sparsity(
    cnn_state: dict[str, torch.Tensor], data: TaskData, tmp_path: Path
) -> None:
    comp = Compression(32, 0.6, "unstructured")
    out = compress(
        _cnn(cnn_state), data, TASK, comp, FINETUNE, calibration=calibration_set(data, 128), seed=0
    )
    layers = weighted_layers(out.exported)
    # the masks held through the fine-tune: exactly round(n * ratio) zeros per layer
    assert out.pruned == [round(layer.weight.numel() * 0.6) for layer in layers]
    assert [int((layer.weight == 0).sum()) for layer in layers] == out.pruned
    path = export_onnx(
        out.exported, TASK.input_shape, tmp_path / "m.onnx", graph_metadata(32, 32, out.pruned)
    )
    stats = onnx_graph_stats(path)
    weighted = [layer for layer in stats.layers if layer.params]
    for layer, zeros in zip(weighted, out.pruned, strict=True):
        assert layer.sparsity == pytest.approx(zeros / layer.params)
        assert layer.sparsity > 0.5  # 60 % of the weights; biases are kept
    assert _accuracy(out.scored, data) > 0.85


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_fake_quant_weights_lie_on_a_per_channel_grid(
    bits: int, cnn_state: dict[str, torch.Tensor], data: TaskData
) -> None:
    comp = Compression(bits)
    out = compress(
        _cnn(cnn_state), data, TASK, comp, FINETUNE, calibration=calibration_set(data, 128), seed=0
    )
    q_max = 2 ** (bits - 1) - 1
    for layer in weighted_layers(out.exported):
        w = layer.weight.detach().flatten(1)
        scale = w.abs().amax(dim=1, keepdim=True) / q_max
        steps = w / scale
        torch.testing.assert_close(steps, steps.round(), atol=1e-3, rtol=0)
        assert int(steps.round().abs().max()) <= q_max


def test_int8_onnxruntime_agrees_with_fake_quant(
    cnn_state: dict[str, torch.Tensor], data: TaskData, tmp_path: Path
) -> None:
    calibration = calibration_set(data, 256)
    out = compress(
        _cnn(cnn_state), data, TASK, Compression(8), FINETUNE, calibration=calibration, seed=0
    )
    path = export_onnx(out.exported, TASK.input_shape, tmp_path / "m.onnx")
    int8 = quantize_int8(path, tmp_path / "m8.onnx", calibration)
    ort_out = run_onnx(int8, data.x_test)
    fake_out = predict(out.scored, data.x_test)
    assert abs(score("classify", ort_out, data) - _accuracy(out.scored, data)) <= INT8_TOLERANCE
    assert np.mean(ort_out.argmax(1) == fake_out.argmax(1)) >= 0.99
    assert int8.stat().st_size < path.stat().st_size  # real int8 weights in the file


def test_float_export_runs_like_pytorch(
    cnn_state: dict[str, torch.Tensor], data: TaskData, tmp_path: Path
) -> None:
    chain = fold_batchnorm(_cnn(cnn_state))
    path = export_onnx(chain, TASK.input_shape, tmp_path / "m.onnx")
    np.testing.assert_allclose(run_onnx(path, data.x_test), predict(chain, data.x_test), atol=1e-4)
