"""Training data for pruning, from where users keep it: arrays, an .npz, a torch ``Dataset``/``DataLoader``, batches.

Everything becomes one in-memory :class:`Dataset` of float32 inputs and checked targets. MCU-sized datasets fit in
memory, and pruning needs a fixed training set: the teacher's logits for distillation are computed once per sample,
and with several processes every rank must draw the same shuffled batches (``mcugraph.prune.distributed``). So a
``DataLoader``'s random transforms are drawn once, when it is read.

Accepted forms (``spec``):

- ``"digits"``, or a path to an ``.npz`` with arrays ``x`` and ``y`` (several graph inputs: ``x0``, ``x1``, ...);
- an ``(x, y)`` pair of arrays or tensors, or anything with ``.x`` and ``.y``; for a model with several inputs ``x``
  is a tuple/list of arrays, one per graph input in graph-input order (arrays, ``.npz`` and ``.x``/``.y`` only);
- a map-style ``torch.utils.data.Dataset`` whose items are ``(x, y)`` samples;
- a ``DataLoader`` or any other iterable of ``(x, y)`` pairs: batches (leading batch axis) or single samples, told
  apart by the model's input shape.

Integer inputs (uint8 images) need a stated scale: ``x_float = x * scale + offset`` (``--data-scale 1/255``);
without one they are refused rather than fed as 0..255 to a model that may have been trained on [0, 1].
Classification labels must be integer class indices (integral floats are accepted); strings are refused.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from mcugraph.errors import DataError


@dataclasses.dataclass(frozen=True)
class Dataset:
    x: np.ndarray | tuple[np.ndarray, ...]  # float32 (N, *input shape[1:]); a tuple, one per input, for several
    y: np.ndarray  # int64 labels (N,) for "ce"; float32 targets for "mse"; as given for a custom loss


def as_inputs(x) -> tuple:
    """The model inputs of a :class:`Dataset` (or a batch of it) as a tuple, one entry per graph input."""
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def sample_count(x) -> int:
    return len(as_inputs(x)[0])


def parse_scale(text: str | float | None) -> float | None:
    """``"1/255"`` -> 0.0039..., ``"0.5"`` -> 0.5; None stays None."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else float(text)
    try:
        return float(Fraction(str(text).strip()))
    except (ValueError, ZeroDivisionError):
        raise DataError(f"--data-scale {text!r}: expected a number or a fraction such as 1/255") from None


def load_dataset(spec: Any, model: ir.Model, loss: Any, what: str, scale: float | None = None,
                 offset: float = 0.0) -> Dataset:
    """Read ``spec`` (see the module docstring) and check it against ``model``'s input and output.

    ``loss``: ``"ce"`` (labels are class indices), ``"mse"`` (targets shaped like the output) or a callable (targets
    are passed to it as given: integer arrays as int64, anything else as float32).
    """
    graph_inputs = list(model.graph.inputs)
    expected = tuple(graph_inputs[0].shape)[1:]
    x, y = _arrays(spec, loss, what, expected, len(graph_inputs))
    xs = as_inputs(x)
    if any(np.ndim(a) == 0 for a in xs) or (y is not None and np.ndim(y) == 0):
        raise DataError(f"{what}: x and y must be arrays with one row per sample (N, ...), not single numbers")
    if len(xs) != len(graph_inputs):
        names = ", ".join(v.name for v in graph_inputs)
        raise DataError(f"{what}: got {len(xs)} input array(s) but the model has {len(graph_inputs)} input(s) "
                        f"({names}); give x as a tuple of arrays in that order (.npz: x0, x1, ...)")
    if y is None:
        if len(xs) > 1:
            raise DataError(f"{what}: no targets y for a model with {len(xs)} inputs; give (x, y) with targets")
        y = _float_inputs(xs[0], what, scale, offset)
    if len(xs[0]) == 0:
        raise DataError(f"{what}: the dataset is empty; give at least one sample")
    for array, value in zip(xs, graph_inputs, strict=True):
        if len(array) != len(y):
            raise DataError(f"{what}: x has {len(array)} samples but y has {len(y)}; they must match")
        shape = tuple(value.shape)[1:]
        if tuple(array.shape[1:]) != shape:
            raise DataError(
                f"{what}: samples have shape {tuple(array.shape[1:])} but the model input "
                f"'{value.name}' expects (N, {', '.join(map(str, shape))})"
            )
    xs = tuple(_float_inputs(a, what, scale, offset) for a in xs)
    x = xs[0] if len(xs) == 1 else xs
    output = tuple(model.graph.outputs[0].shape)  # "ce"/"mse" score the first output (docs/pruning.md)
    if callable(loss):
        if y.dtype.kind not in "iubf":
            raise DataError(f"{what}: targets y must be numbers, got dtype {y.dtype}")
        return Dataset(x, y.astype(np.int64 if y.dtype.kind in "iub" else np.float32))
    if loss == "mse":
        if tuple(y.shape[1:]) != output[1:]:
            raise DataError(f"{what}: targets have shape {tuple(y.shape[1:])}, the model output "
                            f"'{model.graph.outputs[0].name}' is {output}")
        return Dataset(x, y.astype(np.float32))
    if len(model.graph.outputs) > 1 and len(output) != 2:
        raise DataError(f"{what}: loss 'ce' scores the first output '{model.graph.outputs[0].name}', but its shape "
                        f"{output} is not (N, classes); use --loss mse or a callable loss(outputs, y)")
    return Dataset(x, _class_labels(y, output[-1], what))


def _float_inputs(x: np.ndarray, what: str, scale: float | None, offset: float) -> np.ndarray:
    if x.dtype.kind in "iub" and scale is None:
        raise DataError(
            f"{what}: x is {x.dtype} (range {x.min()}..{x.max()}); say how it maps to the model's float input with "
            "--data-scale (python: data_scale=), e.g. 1/255 for images the model saw in [0, 1], or 1 for raw values"
        )
    if x.dtype.kind not in "iubf":
        raise DataError(f"{what}: x must be numeric (float or integer images), got dtype {x.dtype}")
    x = x.astype(np.float32)
    if scale is not None:
        x = x * np.float32(scale) + np.float32(offset)
    if not np.isfinite(x).all():
        raise DataError(f"{what}: x contains NaN or Inf; remove or fix those samples")
    return x


def _class_labels(y: np.ndarray, classes: int, what: str) -> np.ndarray:
    if y.ndim != 1:
        raise DataError(f"{what}: labels y must be class indices of shape (N,), got shape {y.shape}")
    if y.dtype.kind not in "iubf":
        raise DataError(
            f"{what}: labels y must be integer class indices 0..{classes - 1}, got dtype {y.dtype}; map class "
            "names to indices first"
        )
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and np.all(np.mod(y, 1) == 0)):
        raise DataError(f"{what}: labels y must be integer class indices, got non-integral floats ({y.dtype})")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= classes:
        raise DataError(
            f"{what}: labels range {int(y.min())}..{int(y.max())} but the model outputs {classes} classes "
            f"(0..{classes - 1}); fix the labels or use --loss mse"
        )
    return y


def _arrays(spec: Any, loss: Any, what: str, expected: tuple, n_inputs: int = 1) -> tuple[Any, np.ndarray | None]:
    if isinstance(spec, str) and spec == "digits":
        from mcugraph.datasets import digits

        split = digits().train if what == "data" else digits().val
        return split.x, split.y
    if isinstance(spec, (str, Path)):
        return _npz(Path(spec), loss, what)
    if isinstance(spec, tuple) and len(spec) == 2:
        return _inputs(spec[0], n_inputs), _numpy(spec[1])
    if hasattr(spec, "x") and hasattr(spec, "y"):
        return _inputs(spec.x, n_inputs), _numpy(spec.y)
    if n_inputs > 1:
        raise DataError(f"{what}: the model has {n_inputs} inputs; give (x, y) with x a tuple of arrays, one per "
                        "input in graph-input order, or an .npz with x0, x1, ... and y")
    if _is_map_dataset(spec):
        return _stack(((spec[i] for i in range(len(spec)))), what, expected)
    if hasattr(spec, "__iter__"):
        return _stack(iter(spec), what, expected)
    raise DataError(
        f"{what}: expected 'digits', an .npz path, an (x, y) pair, a torch Dataset or DataLoader, or an iterable "
        f"of (x, y) batches; got {type(spec).__name__}"
    )


def _npz(path: Path, loss: Any, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    if not path.is_file():
        raise DataError(f"{what}: {path} not found; give an .npz with arrays 'x' and 'y', or 'digits'")
    try:
        with np.load(path) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except Exception as e:
        raise DataError(f"{what}: cannot read {path} as .npz ({type(e).__name__}); save it with np.savez") from e
    if "x" not in arrays and "x0" in arrays:  # several graph inputs: x0, x1, ... in graph-input order
        count = next(i for i in range(len(arrays) + 1) if f"x{i}" not in arrays)
        arrays["x"] = tuple(arrays[f"x{i}"] for i in range(count))
    if "x" not in arrays or ("y" not in arrays and loss != "mse"):
        raise DataError(f"{what}: {path} holds {sorted(arrays)}; it needs arrays 'x' (or x0, x1, ...) and 'y'")
    return arrays["x"], arrays.get("y")  # no y (autoencoder): the targets are the scaled inputs


def _is_map_dataset(spec: Any) -> bool:
    try:
        from torch.utils.data import Dataset as TorchDataset
    except ImportError:  # pragma: no cover - torch is a dependency of pruning
        return False
    return isinstance(spec, TorchDataset) and hasattr(spec, "__len__") and hasattr(spec, "__getitem__")


def _stack(items, what: str, expected: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``(x, y)`` items; an item whose x has exactly the model's sample shape is one sample."""
    xs, ys = [], []
    for n, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise DataError(f"{what}: item {n} is a {type(item).__name__}; each item must be an (x, y) pair")
        x, y = _numpy(item[0]), _numpy(item[1])
        if tuple(x.shape) == expected:  # one sample: add the batch axis
            x, y = x[None], y[None] if y.ndim else y.reshape(1)
        xs.append(x)
        ys.append(y.reshape(1) if y.ndim == 0 else y)
    if not xs:
        return np.zeros((0, *expected), np.float32), np.zeros((0,), np.int64)
    try:
        return np.concatenate(xs), np.concatenate(ys)
    except ValueError as e:
        raise DataError(f"{what}: batches do not stack ({e}); every x must have shape (B, {expected})") from e


def _inputs(value: Any, n_inputs: int) -> Any:
    """One array, or (model with several inputs, x a tuple/list) one array per input."""
    if n_inputs > 1 and isinstance(value, (tuple, list)):
        return tuple(_numpy(v) for v in value)
    return _numpy(value)


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU
        return value.detach().cpu().numpy()
    return np.asarray(value)
