"""ONNX export, onnxruntime inference and onnxruntime's static int8 quantization.

Every evaluated model is exported. The file carries what the graph alone cannot say
(weight and activation bit widths, weights removed by pruning) as metadata, so that graph
statistics can be computed from the file. At 8 bits the exported model is also quantized
to a real int8 model (QLinearConv, QGemm) by onnxruntime and scored by running it in onnxruntime.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from torch import nn

__all__ = ["export_onnx", "quantize_int8", "run_onnx"]

#: Opset of exported graphs; 17 is what onnxruntime's quantization tools are tested on.
_OPSET = 17
#: Rows per onnxruntime call when scoring, to bound memory on the larger inputs.
_RUN_BATCH = 512


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def export_onnx(
    model: nn.Module,
    input_shape: tuple[int, ...],
    path: Path,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Export ``model`` (eval mode) to ``path`` with a dynamic batch axis ``n``.

    The TorchScript exporter is used on purpose: torch is pinned, it needs no onnxscript,
    and it exports these small chains in milliseconds where the dynamo exporter takes
    seconds. Its deprecation warning is silenced for that reason.

    Args:
        model: The network.
        input_shape: ``C x ...`` of one sample.
        path: Target file, written atomically.
        metadata: Stored as the model's ``metadata_props``.
    """
    tmp = _atomic_target(path)
    model.eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*legacy")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        torch.onnx.export(
            model,
            (torch.zeros(1, *input_shape),),
            str(tmp),
            dynamo=False,
            opset_version=_OPSET,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "n"}, "output": {0: "n"}},
        )
    if metadata:
        proto = onnx.load(str(tmp))
        onnx.helper.set_model_props(proto, dict(metadata))
        onnx.save(proto, str(tmp))
    tmp.replace(path)
    return path


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    """Outputs of the ONNX model at ``path`` on ``x`` (float32, ``n x input_shape``)."""
    session = _session(path)
    parts = [
        session.run(None, {"input": x[i : i + _RUN_BATCH]})[0] for i in range(0, len(x), _RUN_BATCH)
    ]
    return np.concatenate(parts)


class _Reader(CalibrationDataReader):
    """Feeds the calibration set to onnxruntime in one batch."""

    def __init__(self, x: np.ndarray) -> None:
        self._batches = iter([{"input": x}])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize_int8(float_path: Path, int8_path: Path, calibration: np.ndarray) -> Path:
    """Statically quantize an exported model to int8 with onnxruntime.

    Per-channel symmetric int8 weights and per-tensor asymmetric int8 activations,
    calibrated by MinMax on ``calibration``: the grids the fake quantizer uses and the
    layout of TFLite Micro / CMSIS-NN int8 models. The QOperator format (QLinearConv,
    QGemm) is used rather than QDQ: on x86 cores without VNNI, onnxruntime turns a QDQ
    int8 model into u8s8 kernels whose 16-bit intermediate sums saturate (a documented
    onnxruntime limitation) and lose several points of accuracy on these models, which
    no int8 MCU kernel does; its s8s8 QOperator kernels accumulate in 32 bits.
    """
    tmp = _atomic_target(int8_path)
    # onnxruntime logs a "consider pre-processing" warning on the root logger every call;
    # the exported chains are already shape-inferred and BN-folded.
    logging.disable(logging.WARNING)
    try:
        quantize_static(
            str(float_path),
            str(tmp),
            _Reader(calibration),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    finally:
        logging.disable(logging.NOTSET)
    tmp.replace(int8_path)
    return int8_path
