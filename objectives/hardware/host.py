"""Latency of the ``host`` device: this machine, measured with onnxruntime.

Warm-up runs first (allocation, kernel selection), then ``repeats`` timed runs; the
median is robust to the other processes sharing the machine. Inputs are zeros of the
declared shape and dtype, with every dynamic dimension set to 1 (batch 1, as on a device).
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

import numpy as np

from objectives.hardware.errors import HardwareError

if TYPE_CHECKING:
    from pathlib import Path

    from objectives.hardware.profile import HostSettings

__all__ = ["measure_latency_ms"]

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def measure_latency_ms(onnx_path: Path, settings: HostSettings) -> float:
    """Median latency in ms of one batch-1 inference of an ONNX model on this machine.

    Raises:
        HardwareError: The file cannot be loaded by onnxruntime or has an input type
            that cannot be synthesized.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # onnxruntime raises its own untyped exceptions
        raise HardwareError(f"{onnx_path}: onnxruntime cannot load the model ({e}).") from e
    feeds: dict[str, np.ndarray] = {}
    for node in session.get_inputs():
        if node.type not in _ORT_DTYPES:
            raise HardwareError(
                f"{onnx_path}: input '{node.name}' has unsupported type {node.type}."
            )
        shape = [dim if isinstance(dim, int) and dim > 0 else 1 for dim in node.shape]
        feeds[node.name] = np.zeros(shape, dtype=_ORT_DTYPES[node.type])
    for _ in range(settings.warmup):
        session.run(None, feeds)
    times = []
    for _ in range(settings.repeats):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3
