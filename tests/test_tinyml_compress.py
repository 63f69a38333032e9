"""Pruning and quantization on a real network trained on real data (scikit-learn digits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from objectives.tinyml._arch import ArchSpec
from objectives.tinyml._compress import Compressed, calibration_set, compress
from objectives.tinyml._data import TASKS, TaskData, load_task
from objectives.tinyml._graph import graph_metadata, onnx_graph_stats
from objectives.tinyml._models import build_model
from objectives.tinyml._onnx import export_onnx, quantize_int8, run_onnx
from objectives.tinyml._prune import fold_batchnorm, prune, weighted_layers
from objectives.tinyml._settings import Compression, FineTunes, TrainSettings
from objectives.tinyml._train import fit, predict, score

TASK = TASKS["digits"]
FINETUNE = FineTunes(*[TrainSettings(epochs=2, batch_size=64, lr=1e-3)] * 2)
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


# ------------------------------------------------- quantization mode, order, distillation
def _compressed(
    state: dict[str, torch.Tensor],
    data: TaskData,
    comp: Compression,
    finetunes: FineTunes = FINETUNE,
    teacher_logits: np.ndarray | None = None,
) -> Compressed:
    return compress(
        _cnn(state),
        data,
        TASK,
        comp,
        finetunes,
        calibration=calibration_set(data, 128),
        seed=0,
        teacher_logits=teacher_logits,
    )


def _on_grid(model: nn.Sequential, bits: int) -> None:
    q_max = 2 ** (bits - 1) - 1
    for layer in weighted_layers(model):
        w = layer.weight.detach().flatten(1)
        steps = w / (w.abs().amax(dim=1, keepdim=True) / q_max)
        torch.testing.assert_close(steps, steps.round(), atol=1e-3, rtol=0)


def test_ptq_is_qat_without_its_fine_tune(
    cnn_state: dict[str, torch.Tensor], data: TaskData
) -> None:
    ptq = _compressed(cnn_state, data, Compression(4, 0.5, "structured", quant="ptq"))
    no_qat = FineTunes(FINETUNE.prune, TrainSettings(epochs=0))
    qat_without_training = _compressed(cnn_state, data, Compression(4, 0.5, "structured"), no_qat)
    qat = _compressed(cnn_state, data, Compression(4, 0.5, "structured"))
    np.testing.assert_array_equal(
        predict(ptq.scored, data.x_test), predict(qat_without_training.scored, data.x_test)
    )
    assert not np.array_equal(predict(ptq.scored, data.x_test), predict(qat.scored, data.x_test))
    _on_grid(ptq.exported, 4)
    assert _accuracy(ptq.scored, data) > 0.8


@pytest.mark.parametrize("kind", ["structured", "unstructured"])
def test_both_orders_export_the_same_graph_with_other_weights(
    kind: str, cnn_state: dict[str, torch.Tensor], data: TaskData, tmp_path: Path
) -> None:
    stats, outputs = {}, {}
    for order in ("prune_then_quantize", "quantize_then_prune"):
        out = _compressed(cnn_state, data, Compression(4, 0.5, kind, pipeline=order))
        path = export_onnx(
            out.exported,
            TASK.input_shape,
            tmp_path / f"{order}.onnx",
            graph_metadata(4, 8, out.pruned),
        )
        stats[order], outputs[order] = onnx_graph_stats(path), predict(out.scored, data.x_test)
        _on_grid(out.exported, 4)
        if kind == "unstructured":  # the masks held through the last fine-tune
            assert [
                int((layer.weight == 0).sum()) >= n
                for layer, n in zip(weighted_layers(out.exported), out.pruned, strict=True)
            ] == [True] * 3
            assert out.pruned == [
                round(layer.weight.numel() * 0.5) for layer in weighted_layers(out.exported)
            ]
        assert _accuracy(out.scored, data) > 0.6  # recovered (chance: 0.1); q->p loses more
    assert stats["prune_then_quantize"] == stats["quantize_then_prune"]
    assert not np.array_equal(outputs["prune_then_quantize"], outputs["quantize_then_prune"])


def test_quantize_then_prune_with_ptq_never_trains_under_quantization(
    cnn_state: dict[str, torch.Tensor], data: TaskData
) -> None:
    comp = Compression(4, 0.5, "structured", quant="ptq", pipeline="quantize_then_prune")
    no_qat = FineTunes(FINETUNE.prune, TrainSettings(epochs=0))
    a = _compressed(cnn_state, data, comp)
    b = _compressed(cnn_state, data, comp, no_qat)  # the QAT budget is not used
    np.testing.assert_array_equal(predict(a.scored, data.x_test), predict(b.scored, data.x_test))
    assert a.quant_s > 0 and a.prune_s > 0


def _one_hot_logits(labels: np.ndarray, scale: float = 10.0) -> np.ndarray:
    return (scale * np.eye(10, dtype=np.float32))[labels]


def test_distillation_with_no_weight_is_plain_fine_tuning(
    cnn_state: dict[str, torch.Tensor], data: TaskData
) -> None:
    wrong = _one_hot_logits((data.y_train + 1) % 10)
    plain = _compressed(cnn_state, data, Compression(4, 0.5, "structured"))
    weightless = _compressed(
        cnn_state,
        data,
        Compression(4, 0.5, "structured", distill="logits", kd_alpha=0.0),
        teacher_logits=wrong,
    )
    np.testing.assert_array_equal(
        predict(plain.scored, data.x_test), predict(weightless.scored, data.x_test)
    )


def test_the_students_of_a_right_and_a_wrong_teacher_part_ways(
    cnn_state: dict[str, torch.Tensor], data: TaskData
) -> None:
    # kd_alpha = 1: the student learns only from the teacher's soft targets, in both
    # fine-tunes (after pruning, under QAT); a teacher that is always one digit off
    # takes the student with it.
    comp = Compression(4, 0.5, "structured", distill="logits", kd_alpha=1.0, kd_temperature=2.0)
    finetunes = FineTunes(*[TrainSettings(epochs=3, batch_size=64, lr=3e-3)] * 2)
    right = _compressed(cnn_state, data, comp, finetunes, _one_hot_logits(data.y_train))
    wrong = _compressed(cnn_state, data, comp, finetunes, _one_hot_logits((data.y_train + 1) % 10))
    assert _accuracy(right.scored, data) > 0.85
    shifted = predict(wrong.scored, data.x_test).argmax(1) == (data.y_test + 1) % 10
    assert shifted.mean() > 0.5 > _accuracy(wrong.scored, data)


def test_distillation_without_teacher_logits_is_refused(
    cnn_state: dict[str, torch.Tensor], data: TaskData
) -> None:
    with pytest.raises(ValueError, match="`teacher_logits` are needed"):
        _compressed(cnn_state, data, Compression(8, 0.5, "structured", distill="logits"))
