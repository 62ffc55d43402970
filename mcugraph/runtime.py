"""Run an IR model in onnxruntime: the float reference every rewrite and export is checked against.

Every onnxruntime call goes through :func:`mcugraph.runtime_guard.guarded`: a model onnxruntime refuses or fails
on raises :class:`~mcugraph.errors.RuntimeFailure` (one line), never onnxruntime's own exception types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
import onnx_ir as ir
import onnxruntime as ort

from mcugraph.runtime_guard import guarded

_QUIET_RUN = ort.RunOptions()
_QUIET_RUN.log_severity_level = 4  # a failing kernel is reported by the exception; its log line would be a 2nd


def _session(proto: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Our passes are what is being tested: onnxruntime must not rewrite the graph on its own.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # failures come back as exceptions; the log would repeat them on stderr
    options.intra_op_num_threads = 1
    with guarded("onnxruntime", "loading the model"):
        return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def input_feeds(model: ir.Model, seed: int = 0, low: float = -1.0, high: float = 1.0) -> dict[str, np.ndarray]:
    """Random inputs of the right shapes and dtypes for every graph input (for tests and verification)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in model.graph.inputs:
        dtype = value.dtype.numpy()
        shape = tuple(value.shape)
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.uniform(low, high, size=shape).astype(dtype)
        else:
            feeds[value.name] = rng.integers(0, 2, size=shape).astype(dtype)
    return feeds


def run_onnx(model: ir.Model | onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs of ``model`` on ``feeds``, in graph output order."""
    proto = model if isinstance(model, onnx.ModelProto) else ir.serde.serialize_model(model)
    session = _session(proto)
    with guarded("onnxruntime", "running the model"):
        return session.run(None, dict(feeds), _QUIET_RUN)


def run_onnx_all_values(model: ir.Model, names: Sequence[str], seed: int = 0) -> dict[str, np.ndarray]:
    """Values ``names`` of ``model`` on random inputs, by exposing them as extra graph outputs."""
    proto = ir.serde.serialize_model(model)
    present = {o.name for o in proto.graph.output}
    for name in names:
        if name not in present:
            proto.graph.output.append(onnx.ValueInfoProto(name=name))
    session = _session(proto)
    feeds = input_feeds(model, seed)
    out_names = [o.name for o in session.get_outputs()]
    with guarded("onnxruntime", "running the model"):
        values = session.run(None, feeds, _QUIET_RUN)
    return {n: v for n, v in zip(out_names, values, strict=True) if n in set(names)}
