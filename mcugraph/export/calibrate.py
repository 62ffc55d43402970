"""Activation ranges for int8 export, measured by onnxruntime's own calibrators.

``calibrate(model, samples, method)`` writes a temp copy of the model, lets
``onnxruntime.quantization.calibrate.create_calibrator`` (MinMax, Percentile or Entropy) instrument every float
value that is not a constant (graph inputs, every node output, so also the outputs of activations that TFLite fuses
into the kernel before them), feeds the samples through a ``CalibrationDataReader`` and turns each range into an
int8 :class:`~mcugraph.export.quant_params.QuantParam` with ``param_from_range``. No statistics are hand-written here.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import onnx_ir as ir

from mcugraph.errors import DataError
from mcugraph.runtime_guard import guarded

METHODS = ("minmax", "percentile", "entropy")
# Samples per collect_data() call: the histogram calibrators keep every output of a chunk in memory.
CHUNK = 16


def calibrate(
    model: ir.Model,
    samples: Mapping[str, np.ndarray],
    method: str = "minmax",
    *,
    progress: bool | None = None,
) -> dict:
    """``{value name: QuantParam}`` for every non-constant float value of ``model``.

    ``samples`` maps each graph input to a float32 array ``(N, *sample_shape(input_shape))`` in the model's layout
    (:func:`mcugraph.export.calib_data.sample_shape`: dim 0 of the input is left out only when it is 1).
    ``progress=None`` shows a tqdm bar over samples only when stderr is a terminal.
    """
    from mcugraph.export.quant_params import param_from_range

    ranges = calibrate_ranges(model, samples, method, progress=progress)
    infinite = [name for name, (low, high) in ranges.items() if not (np.isfinite(low) and np.isfinite(high))]
    if infinite:
        # int8 cannot represent an unbounded range: the data or the weights overflow float32 somewhere.
        raise DataError(
            f"calibration saw NaN/Inf in {len(infinite)} value(s) ({', '.join(infinite[:5])}); the calibration data "
            "or the weights overflow float32 there, check --calib's range and the model"
        )
    return {name: param_from_range(low, high) for name, (low, high) in ranges.items()}


def calibrate_ranges(
    model: ir.Model,
    samples: Mapping[str, np.ndarray],
    method: str = "minmax",
    *,
    progress: bool | None = None,
) -> dict[str, tuple[float, float]]:
    """``{value name: (low, high)}`` as the onnxruntime calibrator for ``method`` reports it."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    if method not in METHODS:
        raise DataError(f"unknown calibration method '{method}'; choose one of {', '.join(METHODS)}")
    count = _sample_count(model, samples)
    ort_method = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }[method]
    # Activations are int8 *asymmetric* in TFLite, so ask every method for an asymmetric range (percentile
    # defaults to symmetric, which would waste half of the int8 codes on a ReLU output).
    extra = {"symmetric": False}
    progress = sys.stderr.isatty() if progress is None else progress
    bar = _bar(count, progress)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="mcugraph-calib-") as tmp, _quiet(),
            guarded("onnxruntime", "calibrating", hint="check the calibration data and the model"),
        ):
            path = Path(tmp) / "model.onnx"
            path.write_bytes(ir.serde.serialize_model(model).SerializeToString())
            calibrator = create_calibrator(
                path, augmented_model_path=str(Path(tmp) / "augmented.onnx"),
                calibrate_method=ort_method, extra_options=extra,
            )
            for start in range(0, count, CHUNK):
                calibrator.collect_data(_Reader(samples, _shapes(model), start, min(count, start + CHUNK), bar))
            ranges = calibrator.compute_data()
    finally:
        if bar is not None:
            bar.close()
    wanted = _calibrated_values(model)
    result = {}
    for name, data in ranges.items():
        if name in wanted:
            low, high = data.range_value
            result[name] = (float(np.min(low)), float(np.max(high)))
    missing = sorted(wanted - result.keys())
    if missing:
        raise DataError(f"the calibrator reported no range for {len(missing)} value(s): {', '.join(missing[:5])}")
    return result


def _shapes(model: ir.Model) -> dict[str, tuple[int, ...]]:
    return {value.name: tuple(int(d) for d in value.shape) for value in model.graph.inputs}


def _sample_count(model: ir.Model, samples: Mapping[str, np.ndarray]) -> int:
    from mcugraph.export.calib_data import sample_shape

    counts = set()
    for value in model.graph.inputs:
        if value.name not in samples:
            raise DataError(f"no calibration samples for model input '{value.name}'")
        array = samples[value.name]
        expected = sample_shape(tuple(int(d) for d in value.shape))
        if array.ndim == 0 or tuple(array.shape[1:]) != expected:
            raise DataError(
                f"calibration samples for input '{value.name}' have shape {array.shape}, "
                f"expected (N, {', '.join(map(str, expected))})"
            )
        counts.add(len(array))
    if not counts or 0 in counts:
        raise DataError("the calibration set is empty; give at least one sample")
    if len(counts) != 1:
        raise DataError(f"model inputs have different calibration sample counts {sorted(counts)}")
    return counts.pop()


def _calibrated_values(model: ir.Model) -> set[str]:
    """Names of float values computed at run time: graph inputs and node outputs that are not constants."""
    names = {v.name for v in model.graph.inputs}
    for node in model.graph:
        if node.op_type == "Constant":
            continue
        for value in node.outputs:
            if value.dtype in (ir.DataType.FLOAT, ir.DataType.FLOAT16) and value.name:
                names.add(value.name)
    return names


class _Reader:
    """A ``CalibrationDataReader`` over samples ``[start, stop)``, ticking a progress bar per sample."""

    def __init__(self, samples: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]], start: int,
                 stop: int, bar):
        from mcugraph.export.calib_data import sample

        self._feeds: Iterator[dict[str, np.ndarray]] = (
            {name: np.ascontiguousarray(sample(array, i, shapes[name]), dtype=np.float32)
             for name, array in samples.items()}
            for i in range(start, stop)
        )
        self._bar = bar

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed = next(self._feeds, None)
        if feed is not None and self._bar is not None:
            self._bar.update(1)
        return feed

    def rewind(self) -> None:  # pragma: no cover - onnxruntime only rewinds readers in quantize_static
        raise NotImplementedError


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="calibrating", unit="sample", file=sys.stderr, leave=False)


@contextlib.contextmanager
def _quiet():
    """onnxruntime's calibrators print and log; keep the user's terminal for our own summary."""
    import onnxruntime as ort

    ort.set_default_logger_severity(4)  # failures come back as exceptions (guarded)
    # Its numpy RuntimeWarnings (NaN/Inf in a histogram) become the one DataError of calibrate() instead.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
