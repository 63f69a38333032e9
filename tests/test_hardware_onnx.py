"""Graph statistics from real exported ONNX models, and the host measured with onnxruntime."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from torch import nn

from objectives.hardware import (
    HardwareError,
    UnknownOpWarning,
    calibrate_device,
    cost_on_device,
    graph_from_onnx,
)
from objectives.tinyml._models import seeded

INPUT = (1, 12, 10)


def small_cnn() -> nn.Sequential:
    # Weights from a generator of its own, not from the global RNG.
    return seeded(
        lambda: nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 6 * 5, 20),
            nn.BatchNorm1d(20),
            nn.ReLU(),
            nn.Linear(20, 4),
        ),
        0,
    ).eval()


def export(model: nn.Module, path: Path, shape: tuple[int, ...] = INPUT) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, *shape),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "n"}, "output": {0: "n"}},
        )
    return path


def torch_macs(model: nn.Module, shape: tuple[int, ...]) -> dict[str, int]:
    """MACs per conv/linear module, counted from the PyTorch module with forward hooks."""
    counts: dict[str, int] = {}

    def hook(module: nn.Module, _: tuple, out: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            taps = module.in_channels // module.groups * math.prod(module.kernel_size)
            counts[f"conv{len(counts)}"] = out.numel() * taps
        else:
            counts[f"fc{len(counts)}"] = out.numel() * module.in_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    return counts


def test_onnx_stats_match_the_pytorch_module(tmp_path: Path) -> None:
    model = small_cnn()
    graph = graph_from_onnx(export(model, tmp_path / "cnn.onnx"))
    assert [x.kind for x in graph.layers] == [
        "conv",
        "depthwise_conv",
        "conv",
        "pool",
        "dense",
        "dense",
    ]
    compute = [x for x in graph.layers if x.kind != "pool"]
    assert [x.macs for x in compute] == list(torch_macs(model, INPUT).values())
    # BatchNorm2d is folded into the first conv (which gains a bias); BatchNorm1d is not a layer
    weights = [8 * 9 + 8, 8 * 9 + 8, 8 * 16 + 16, 480 * 20 + 20, 20 * 4 + 4]
    assert [x.params for x in compute] == weights
    pool = graph.layers[3]
    assert (pool.input_elements, pool.output_elements) == (16 * 12 * 10, 16 * 6 * 5)
    assert all(x.weight_bits == 32 and x.activation_bits == 32 for x in graph.layers)


def test_initializers_the_exporter_shares_count_for_every_layer(tmp_path: Path) -> None:
    # two fresh conv+BN layers fold to equal zero biases, exported once behind Identity nodes
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, bias=False),
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 8, 1, bias=False),
        nn.BatchNorm2d(8),
    ).eval()
    graph = graph_from_onnx(export(model, tmp_path / "shared.onnx"))
    assert [x.params for x in graph.layers] == [8 * 9 + 8, 8 * 8 + 8]


def test_deployed_bit_widths_override_a_float_export(tmp_path: Path) -> None:
    graph = graph_from_onnx(
        export(small_cnn(), tmp_path / "cnn.onnx"), weight_bits=4, activation_bits=8
    )
    assert {(x.weight_bits, x.activation_bits) for x in graph.layers if x.params} == {(4, 8)}
    assert graph.layers[3].weight_bits == 8  # the pool has no weights: activation width


def test_sparsity_is_the_fraction_of_zero_weights(tmp_path: Path) -> None:
    model = small_cnn()
    with torch.no_grad():
        model[9].weight[:, ::2] = 0.0  # half the columns of the first linear layer
    graph = graph_from_onnx(export(model, tmp_path / "sparse.onnx"))
    assert graph.layers[4].sparsity == pytest.approx(0.5)
    assert graph.layers[5].sparsity == 0.0


class _Calibration(CalibrationDataReader):
    def __init__(self) -> None:
        x = np.random.default_rng(0).normal(size=(8, *INPUT)).astype(np.float32)
        self._batches = iter([{"input": x}])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def test_int8_qdq_model_has_8_bit_weights_and_activations(tmp_path: Path) -> None:
    float_path = export(small_cnn(), tmp_path / "cnn.onnx")
    int8_path = tmp_path / "cnn_int8.onnx"
    quantize_static(
        str(float_path),
        str(int8_path),
        _Calibration(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    fp, q = graph_from_onnx(float_path), graph_from_onnx(int8_path)
    assert [x.macs for x in q.layers] == [x.macs for x in fp.layers]
    assert [x.params for x in q.layers] == [x.params for x in fp.layers]
    assert all(x.weight_bits == 8 and x.activation_bits == 8 for x in q.layers)
    m4 = {"int8": cost_on_device(q, "cortex_m4"), "fp32": cost_on_device(fp, "cortex_m4")}
    assert m4["int8"].flash_kB < m4["fp32"].flash_kB
    assert m4["int8"].latency_ms < m4["fp32"].latency_ms


def test_an_unknown_op_from_a_real_export_warns_and_costs(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 4)).eval()
    graph = graph_from_onnx(export(model, tmp_path / "gelu.onnx", shape=(64,)))
    unknown = [x for x in graph.layers if x.kind == "other"]
    assert [x.op_type for x in unknown] == ["Erf"]
    with pytest.warns(UnknownOpWarning, match="Erf"):
        with_erf = cost_on_device(graph, "cortex_m4")
    known = type(graph)(tuple(x for x in graph.layers if x.kind != "other"))
    assert with_erf.latency_ms > cost_on_device(known, "cortex_m4").latency_ms


def test_not_an_onnx_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(HardwareError, match=r"bad\.onnx: cannot read the ONNX graph"):
        graph_from_onnx(bad)


def test_calibration_rows_can_name_onnx_files(tmp_path: Path) -> None:
    export(small_cnn(), tmp_path / "cnn.onnx")
    csv = tmp_path / "rows.csv"
    pd.DataFrame({"onnx_path": ["cnn.onnx", "cnn.onnx"], "latency_ms": [2.0, 2.2]}).to_csv(
        csv, index=False
    )
    result = calibrate_device("cortex_m4", csv, tmp_path / "mine.yaml")
    assert result.n_rows == 2
    assert result.latency_after.median < 0.06


def test_host_measures_a_real_model_with_onnxruntime(tmp_path: Path) -> None:
    path = export(small_cnn(), tmp_path / "cnn.onnx")
    cost = cost_on_device(graph_from_onnx(path), "host", onnx_path=path)
    assert 0 < cost.latency_ms < math.inf
    assert cost.energy_mJ == pytest.approx(4400 * cost.latency_ms / 1e3)
    assert cost.detail == {"repeats": 30, "warmup": 5}


def test_host_latency_grows_with_the_work(tmp_path: Path) -> None:
    small = nn.Sequential(nn.Conv2d(1, 4, 3)).eval()
    big = nn.Sequential(nn.Conv2d(1, 64, 3), nn.Conv2d(64, 64, 3)).eval()
    shape = (1, 64, 64)
    paths = [export(m, tmp_path / f"{i}.onnx", shape) for i, m in enumerate((small, big))]
    t = [cost_on_device(graph_from_onnx(p), "host", onnx_path=p).latency_ms for p in paths]
    macs = [graph_from_onnx(p).macs for p in paths]
    assert macs[1] > 400 * macs[0]
    assert t[1] > 5 * t[0]


def test_host_needs_the_onnx_file(tmp_path: Path) -> None:
    path = export(small_cnn(), tmp_path / "cnn.onnx")
    with pytest.raises(HardwareError, match="measured with onnxruntime: pass `onnx_path`"):
        cost_on_device(graph_from_onnx(path), "host")
    with pytest.raises(HardwareError, match=r"gone\.onnx: onnxruntime cannot load"):
        cost_on_device(graph_from_onnx(path), "host", onnx_path=tmp_path / "gone.onnx")
