"""Calibration samples for int8 export: read them, check them against the model, split off a verification part.

Sources (``--calib`` on the command line, ``calib=`` in Python):

- ``FILE.npy``: one array ``(N, *sample shape)`` for a single-input model.
- ``FILE.npz``: key ``x`` (single-input models) or one key per model input name.
- ``random:LO,HI`` or ``random:LO,HI,N``: N (default 40) uniform samples in [LO, HI]. The ranges this gives are
  not representative of real data, so a warning says so on stderr.
- ``digits``: the bundled 8x8 digits (``mcugraph.datasets``), validation split, for the default digits CNN.
- In Python also a numpy array or a ``{input name: array}`` dict.

Sample rule (:func:`sample_shape`): when an input's dim 0 is 1 (a batch of one), a sample is the input without it
and an array ``(N, *input_shape[1:])`` holds N samples; when dim 0 is static and not 1 (a ``(3, 4, 5)`` input), a
sample is the whole input and the array is ``(N, 3, 4, 5)``. An array of exactly the input's shape is one sample.

Layout rule: a sample array is taken as is when its per-sample shape equals the model input's shape without the batch
dimension (the ONNX layout: NCHW for torch models, NHWC for tf2onnx models, whose input feeds a Transpose to NCHW).
Otherwise a rank-4 array in the other layout (NHWC samples for an NCHW model, NCHW samples for an NHWC one) is
recognised by its shape and transposed. When both readings fit (H == W == C), the model layout wins.

Dtype rule: floating arrays (float16/32/64) are used as float32 with their values unchanged: give exactly what the
ONNX model takes, preprocessing included. Integer arrays (uint8 images...) are refused rather than guessed at: scale
them yourself (e.g. ``x.astype(np.float32) / 255``) the way the model was trained. NaN/Inf are refused.

Split: the last 20% of the samples (at least one; none when there is a single sample, which then serves both) are
held out for verification; calibration sees the first 80%. The order of the file is kept: shuffle it beforehand if
it is sorted by class.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from mcugraph.errors import DataError, ShapeError
from mcugraph.export.layout import input_is_nhwc

HOLDOUT_FRACTION = 0.2
RANDOM_SAMPLES = 40


@dataclasses.dataclass(frozen=True)
class CalibData:
    """Samples per model input, float32 in the model's own (ONNX) layout, shape ``(N, *sample_shape(input_shape))``."""

    calib: dict[str, np.ndarray]
    holdout: dict[str, np.ndarray]
    source: str
    representative: bool  # False for random data: ranges and SQNR then say little about real inputs

    @property
    def calib_count(self) -> int:
        return len(next(iter(self.calib.values())))

    @property
    def holdout_count(self) -> int:
        return len(next(iter(self.holdout.values())))


def load_calib(
    spec: Any,
    model: ir.Model,
    *,
    seed: int = 0,
    warn: Callable[[str], None] | None = None,
) -> CalibData:
    """Read ``spec`` (see the module docstring), check it against ``model``'s inputs and split it."""
    warn = warn or _warn_stderr
    inputs = _float_inputs(model)
    representative = True
    if isinstance(spec, str) and spec.startswith("random:"):
        arrays = _random(spec, inputs, seed)
        representative = False
        warn(
            f"WARNING: calibrating on random data ({spec}): activation ranges are NOT representative of real "
            "inputs and int8 accuracy may suffer; pass --calib FILE.npz with real samples for deployment"
        )
    elif isinstance(spec, str) and spec == "digits":
        arrays = _digits(inputs)
    elif isinstance(spec, (str, Path)):
        arrays = _read_file(Path(spec), inputs)
    elif isinstance(spec, np.ndarray):
        arrays = _single(spec, inputs, "the calibration array")
    elif isinstance(spec, Mapping):
        arrays = {str(k): np.asarray(v) for k, v in spec.items()}
    else:
        raise DataError(
            f"calibration data of type {type(spec).__name__} is not understood; give a .npz/.npy path, "
            "'random:LO,HI', 'digits', a numpy array or a dict of arrays"
        )
    where = str(spec) if isinstance(spec, (str, Path)) else "calibration data"
    nhwc = {v.name for v in model.graph.inputs if input_is_nhwc(v)}
    checked = {name: _check(arrays, name, shape, where, name in nhwc) for name, shape in inputs.items()}
    return _split(checked, where, representative)


def sample_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of one sample of an input of ``shape``: without dim 0 when it is 1 (a batch of one), else all."""
    return tuple(shape[1:]) if len(shape) >= 1 and shape[0] == 1 else tuple(shape)


def sample(array: np.ndarray, index: int, shape: tuple[int, ...]) -> np.ndarray:
    """Sample ``index`` of ``array`` (``(N, *sample_shape(shape))``) as the model input ``shape`` takes it."""
    return array[index : index + 1] if len(shape) >= 1 and shape[0] == 1 else np.asarray(array[index])


def _warn_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _float_inputs(model: ir.Model) -> dict[str, tuple[int, ...]]:
    inputs = {}
    for value in model.graph.inputs:
        if value.dtype != ir.DataType.FLOAT:
            raise DataError(f"model input '{value.name}' is {value.dtype}; samples feed float32 inputs only")
        inputs[value.name] = tuple(int(d) for d in value.shape)
    return inputs


def _random(spec: str, inputs: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    from mcugraph.arguments import check_memory, parse_random_spec

    low, high, count = parse_random_spec(spec)
    count = RANDOM_SAMPLES if count is None else count
    # rng.uniform makes float64 before the float32 copy: 12 bytes per element at the peak.
    check_memory(12 * count * sum(math.prod(sample_shape(shape)) for shape in inputs.values()), f"--calib {spec}")
    rng = np.random.default_rng(seed)
    return {
        name: rng.uniform(low, high, size=(count, *sample_shape(shape))).astype(np.float32)
        for name, shape in inputs.items()
    }


def _digits(inputs: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    from mcugraph.datasets import digits

    return _single(digits().val.x, inputs, "the digits dataset (N, 1, 8, 8)")


def _single(array: np.ndarray, inputs: dict[str, tuple[int, ...]], what: str) -> dict[str, np.ndarray]:
    if len(inputs) != 1:
        raise DataError(
            f"{what} is one array but the model has {len(inputs)} inputs ({', '.join(inputs)}); "
            "give a .npz (or dict) with one array per input name"
        )
    return {next(iter(inputs)): np.asarray(array)}


def _read_file(path: Path, inputs: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"--calib {path}: no such file; give a .npz or .npy file, 'random:LO,HI' or 'digits'")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"--calib {path}: cannot read it as .npy/.npz ({e.__class__.__name__}: {e})") from e
    if isinstance(loaded, np.ndarray):
        return _single(loaded, inputs, f"{path} (.npy)")
    with loaded:
        keys = list(loaded.keys())
        if len(inputs) == 1 and "x" in keys:
            return {next(iter(inputs)): loaded["x"]}
        missing = [name for name in inputs if name not in keys]
        if missing:
            hint = "key 'x' or " if len(inputs) == 1 else ""
            raise DataError(
                f"--calib {path}: no array for model input(s) {missing}; the file holds keys {keys}, "
                f"expected {hint}the input name(s) {list(inputs)}"
            )
        return {name: loaded[name] for name in inputs}


def _check(
    arrays: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...], where: str, model_nhwc: bool
) -> np.ndarray:
    if name not in arrays:
        raise DataError(f"{where}: no samples for model input '{name}'; keys given: {list(arrays)}")
    array = np.asarray(arrays[name])
    per_sample = sample_shape(shape)
    if array.shape == shape and per_sample == shape:
        array = array[None]  # exactly the input's shape: one sample
    if array.dtype.kind != "f":
        raise DataError(
            f"{where}: input '{name}' samples are {array.dtype}, expected float32; convert them yourself with the "
            "model's preprocessing (e.g. x.astype(np.float32) / 255 for [0,1] images)"
        )
    if array.ndim == 0 or len(array) == 0:
        raise DataError(f"{where}: the calibration set for input '{name}' is empty; give at least one sample")
    given = tuple(array.shape[1:])
    other, perm, label = _other_layout(shape, model_nhwc) if per_sample != shape else ((), (), "")
    if given == per_sample:
        result = array
    elif other and given == other:
        result = array.transpose(perm)
    else:
        layouts = f"(N, {', '.join(map(str, per_sample))})"
        if other:
            layouts += f" or {label} (N, {', '.join(map(str, other))})"
        raise ShapeError(f"{where}: input '{name}' samples have shape {array.shape}, expected {layouts}")
    if not np.all(np.isfinite(result)):
        raise DataError(f"{where}: input '{name}' samples contain NaN/Inf; remove or fix those samples")
    return np.ascontiguousarray(result, dtype=np.float32)


def _other_layout(shape: tuple[int, ...], model_nhwc: bool) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """(per-sample shape in the other 4-D layout, the transpose back to the model's, its name); empty if not 4-D."""
    if len(shape) != 4:
        return (), (), ""
    if model_nhwc:  # model (1, H, W, C); samples (N, C, H, W)
        return (shape[3], shape[1], shape[2]), (0, 2, 3, 1), "NCHW"
    return (shape[2], shape[3], shape[1]), (0, 3, 1, 2), "NHWC"  # model (1, C, H, W); samples (N, H, W, C)


def _split(arrays: dict[str, np.ndarray], where: str, representative: bool) -> CalibData:
    counts = {len(a) for a in arrays.values()}
    if len(counts) != 1:
        raise DataError(f"{where}: inputs have different sample counts {sorted(counts)}; give the same N for all")
    count = counts.pop()
    held = 0 if count == 1 else max(1, int(round(count * HOLDOUT_FRACTION)))
    cut = count - held
    calib = {n: a[:cut] for n, a in arrays.items()}
    holdout = {n: a[cut:] for n, a in arrays.items()} if held else calib
    return CalibData(calib, holdout, where, representative)
