"""Check a written .tflite against the ONNX model it came from, on held-out samples, before anyone ships it.

The .tflite runs in TFLite Micro (the deployment runtime) and in LiteRT (a second, independent implementation);
each output is dequantised and compared with onnxruntime's float output of the reference model:

- SQNR in dB, ``10 log10(sum(ref^2) / sum((ref - out)^2))`` over all samples, per output; the worst output counts.
- max abs error, in the output's own units.
- top-1 agreement (fraction of samples whose argmax matches) for classification outputs ``(1, K)``,
  2 <= K <= 1000 and K smaller than the input.

Thresholds (:data:`DEFAULT_MIN_SQNR_DB`): 10 dB for int8, 40 dB for float32 exports. A sound int8 export of a
small CNN measures 20-40 dB (one 8-bit quantiser alone gives ~48 dB at full scale and each layer adds noise),
while the bugs this guards against (wrong layout, wrong scale, a swapped operand) land near or below 0 dB. 10 dB
means the quantisation noise carries at most 10% of the output's energy. A float32 export differs from
onnxruntime only by summation order (~100 dB), so 40 dB there still flags any real mismatch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import onnx

from mcugraph.errors import ExportError

DEFAULT_MIN_SQNR_DB = {"int8": 10.0, "float32": 40.0}
MAX_SQNR_DB = 200.0  # an exact match is reported as this, so the report stays valid JSON


@dataclasses.dataclass(frozen=True)
class TensorIO:
    """How one .tflite input/output tensor is stored: shape, numpy dtype and (scale, zero point) when int8."""

    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float | None
    zero_point: int


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    samples: int
    sqnr_db: float  # TFLM vs onnxruntime, worst output
    litert_sqnr_db: float  # LiteRT vs onnxruntime, worst output
    max_abs_error: float  # TFLM vs onnxruntime, all outputs
    top1_agreement: float | None  # TFLM vs onnxruntime, first classification output; None if there is none
    tflm_litert_max_diff: float  # TFLM vs LiteRT, in output units
    min_sqnr_db: float
    arena_head_bytes: int  # what TFLM measured
    predicted_arena_bytes: int | None  # what our planner predicted (None without a plan)

    @property
    def passed(self) -> bool:
        return min(self.sqnr_db, self.litert_sqnr_db) >= self.min_sqnr_db

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"passed": self.passed}


def measure(
    data: bytes,
    reference: onnx.ModelProto,
    samples: Mapping[str, np.ndarray],
    *,
    min_sqnr_db: float,
    predicted_arena_bytes: int | None = None,
    input_perms: Sequence[Sequence[int]] | None = None,
    arena_head_bytes: int | None = None,
) -> VerifyResult:
    """Run ``data`` in TFLM and LiteRT and ``reference`` in onnxruntime on ``samples`` (model layout, float32)."""
    from mcugraph.export.calib_data import sample
    from mcugraph.runtime import run_onnx
    from mcugraph.tflite.tflm import arena_head, run_tflm_batch

    ins, outs = tensor_io(data)
    initializers = {t.name for t in reference.graph.initializer}
    shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim)
              for i in reference.graph.input if i.name not in initializers}
    names = list(shapes)
    if len(names) != len(ins):
        raise ExportError(f"the .tflite has {len(ins)} input(s) but the ONNX model has {len(names)}; cannot verify")
    count = len(samples[names[0]])
    feeds = [{n: sample(samples[n], i, shapes[n]) for n in names} for i in range(count)]
    expected = [run_onnx(reference, f) for f in feeds]
    perms = list(input_perms) if input_perms else [None] * len(names)
    tflite_feeds = [
        [to_tflite(f[n], io, perm) for n, io, perm in zip(names, ins, perms, strict=True)] for f in feeds
    ]
    tflm = [from_outputs(o, outs, e) for o, e in zip(run_tflm_batch(data, tflite_feeds), expected, strict=True)]
    litert = [from_outputs(_quiet_litert(data, f), outs, e) for f, e in zip(tflite_feeds, expected, strict=True)]
    return VerifyResult(
        samples=count,
        sqnr_db=_worst_sqnr(expected, tflm),
        litert_sqnr_db=_worst_sqnr(expected, litert),
        max_abs_error=max(float(np.max(np.abs(r - o))) for e, t in zip(expected, tflm, strict=True) for r, o in zip(e, t, strict=True)),
        top1_agreement=_top1(expected, tflm, sum(samples[n][0].size for n in names)),
        tflm_litert_max_diff=max(float(np.max(np.abs(a - b))) for x, y in zip(tflm, litert, strict=True) for a, b in zip(x, y, strict=True)),
        min_sqnr_db=float(min_sqnr_db),
        arena_head_bytes=arena_head_bytes if arena_head_bytes is not None else arena_head(data),
        predicted_arena_bytes=predicted_arena_bytes,
    )


def _quiet_litert(data: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """LiteRT's outputs (its XNNPACK banner on C stderr stays in the runtime child, see mcugraph.tflite.tflm)."""
    from mcugraph.tflite.tflm import run_litert

    return run_litert(data, inputs)


def check(result: VerifyResult, where: str = "exported model") -> None:
    """Raise :class:`ExportError` (one line, with the numbers) when ``result`` is below its threshold."""
    if result.passed:
        return
    raise ExportError(
        f"{where}: verification failed on {result.samples} held-out sample(s): SQNR TFLM {result.sqnr_db:.1f} dB, "
        f"LiteRT {result.litert_sqnr_db:.1f} dB < --verify-min-sqnr {result.min_sqnr_db:g} dB "
        f"(max abs error {result.max_abs_error:.4g}); calibrate on representative data (--calib), try "
        "--calib-method percentile, or --float32; nothing was written"
    )


def tensor_io(data: bytes) -> tuple[list[TensorIO], list[TensorIO]]:
    """The input and output tensors of subgraph 0 of a .tflite file."""
    from mcugraph.tflite.schema import read, schema

    model = read(data)
    graph = model.subgraphs[0]
    types = {getattr(schema.TensorType, n): n for n in ("INT8", "FLOAT32", "UINT8", "INT16", "INT32")}
    np_types = {"INT8": np.int8, "FLOAT32": np.float32, "UINT8": np.uint8, "INT16": np.int16, "INT32": np.int32}

    def describe(index: int) -> TensorIO:
        tensor = graph.tensors[index]
        q = tensor.quantization
        scale = float(q.scale[0]) if q is not None and q.scale is not None and len(q.scale) else None
        zero = int(q.zeroPoint[0]) if q is not None and q.zeroPoint is not None and len(q.zeroPoint) else 0
        kind = types.get(tensor.type)
        if kind is None:
            raise ExportError(f"tensor {index} has TFLite type {tensor.type}, which verification cannot feed")
        return TensorIO(tuple(int(d) for d in tensor.shape), np.dtype(np_types[kind]), scale, zero)

    return [describe(i) for i in graph.inputs], [describe(i) for i in graph.outputs]


def to_tflite(x: np.ndarray, io: TensorIO, perm: Sequence[int] | None = None) -> np.ndarray:
    """A float sample in ONNX layout -> what the .tflite input wants, quantised.

    ``perm`` is the exporter's layout permutation of that input (``ExportResult.input_perms``); without it the
    layout is guessed from the shapes, which is ambiguous when C == H == W.
    """
    x = x.transpose(perm) if perm is not None else _to_shape(x, io.shape, "input")
    if io.dtype == np.float32:
        return x.astype(np.float32)
    info = np.iinfo(io.dtype)
    return np.clip(np.round(x / io.scale) + io.zero_point, info.min, info.max).astype(io.dtype)


def from_outputs(outputs: Sequence[np.ndarray], ios: Sequence[TensorIO], like: Sequence[np.ndarray]) -> list:
    result = []
    for y, io, ref in zip(outputs, ios, like, strict=True):
        y = y.astype(np.float32) if io.dtype == np.float32 else (y.astype(np.float32) - io.zero_point) * io.scale
        if y.shape != ref.shape and y.ndim == 4 and y.transpose(0, 3, 1, 2).shape == ref.shape:
            y = y.transpose(0, 3, 1, 2)  # NHWC output back to the ONNX layout
        if y.shape != ref.shape:
            y = y.reshape(ref.shape) if y.size == ref.size else y
        if y.shape != ref.shape:
            raise ExportError(f"a .tflite output has shape {y.shape} but onnxruntime's has {ref.shape}")
        result.append(y)
    return result


def _to_shape(x: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    if x.shape == shape:
        return x
    if x.ndim == 4 and x.transpose(0, 2, 3, 1).shape == shape:
        return x.transpose(0, 2, 3, 1)  # ONNX NCHW sample -> TFLite NHWC input
    if x.size == math.prod(shape):
        return x.reshape(shape)
    raise ExportError(f"a .tflite {what} has shape {shape}; cannot feed an ONNX sample of shape {x.shape}")


def sqnr_db(reference: np.ndarray, actual: np.ndarray) -> float:
    """Signal-to-quantisation-noise ratio in dB (capped at :data:`MAX_SQNR_DB` for an exact match)."""
    signal = float(np.sum(np.square(reference, dtype=np.float64)))
    noise = float(np.sum(np.square(reference.astype(np.float64) - actual)))
    if noise == 0.0:
        return MAX_SQNR_DB
    if signal == 0.0:
        return -MAX_SQNR_DB
    return min(MAX_SQNR_DB, 10.0 * math.log10(signal / noise))


def _worst_sqnr(expected: list[list[np.ndarray]], actual: list[list[np.ndarray]]) -> float:
    worst = MAX_SQNR_DB
    for k in range(len(expected[0])):
        ref = np.stack([e[k] for e in expected])
        out = np.stack([a[k] for a in actual])
        worst = min(worst, sqnr_db(ref, out))
    return worst


def _top1(expected: list[list[np.ndarray]], actual: list[list[np.ndarray]], input_size: int) -> float | None:
    """Argmax agreement on the first output that looks like class scores: ``(1, K)``, 2 <= K <= 1000 and smaller
    than the input (an autoencoder's ``(1, 640)`` reconstruction of a 640-value input is not a classification)."""
    for k, ref in enumerate(expected[0]):
        if ref.ndim == 2 and ref.shape[0] == 1 and 2 <= ref.shape[1] <= min(1000, input_size - 1):
            same = [int(np.argmax(e[k]) == np.argmax(a[k])) for e, a in zip(expected, actual, strict=True)]
            return sum(same) / len(same)
    return None
