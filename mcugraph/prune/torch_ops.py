"""ONNX-op handlers in PyTorch: ``HANDLERS["Conv"](x, w, b, pads=..., strides=...)`` and so on.

Each handler takes the node's inputs positionally (``None`` for an omitted optional input) and its attributes as
keyword arguments named exactly like the ONNX attributes; an attribute a handler does not know raises ``TypeError``,
which is the conservative answer (the interpreter reports the node). Semantics follow the ONNX spec at opset 17
(with the opset-18 ``axes`` inputs accepted too); values are NCHW as in ONNX.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
import onnx_ir as ir
import torch
import torch.nn.functional as F
from torch import Tensor

HANDLERS: dict[str, Callable] = {}


def handler(fn: Callable) -> Callable:
    HANDLERS[fn.__name__] = fn
    return fn


def _ints(t: Tensor | None) -> list[int] | None:
    return None if t is None else [int(v) for v in t.reshape(-1).tolist()]


def _spatial_pads(auto_pad: str, pads, in_shape, kernel, strides, dilations) -> list[int]:
    """ONNX pads [begin..., end...] for the spatial dims, resolving auto_pad SAME_UPPER/SAME_LOWER/VALID."""
    n = len(kernel)
    if auto_pad in ("NOTSET", "") and pads is not None:
        return list(pads)
    if auto_pad in ("NOTSET", "", "VALID"):
        return [0] * (2 * n)
    begins, ends = [], []
    for size, k, s, d in zip(in_shape, kernel, strides, dilations, strict=False):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else big)
        ends.append(big if auto_pad == "SAME_UPPER" else small)
    return begins + ends


def _torch_pad(pads: Sequence[int]) -> list[int]:
    """ONNX [b1, b2, .., e1, e2, ..] -> torch's (b_last, e_last, ..., b1, e1)."""
    n = len(pads) // 2
    out: list[int] = []
    for i in reversed(range(n)):
        out += [pads[i], pads[i + n]]
    return out


def _window(x: Tensor, kernel, strides, dilations, pads, auto_pad):
    n = len(kernel)
    strides = list(strides or [1] * n)
    dilations = list(dilations or [1] * n)
    pads = _spatial_pads(auto_pad, pads, x.shape[2:], kernel, strides, dilations)
    return strides, dilations, pads


def _crop_ceil(y: Tensor, spatial, kernel, strides, dilations, pads) -> Tensor:
    """ONNX drops a ceil_mode window starting in the end padding; torch (padding done by hand) keeps it."""
    n = len(kernel)
    for i in range(n):
        span = spatial[i] + pads[i] + pads[i + n] - ((kernel[i] - 1) * dilations[i] + 1)
        size = math.ceil(span / strides[i]) + 1
        if (size - 1) * strides[i] >= spatial[i] + pads[i]:
            size -= 1
        y = y.narrow(2 + i, 0, min(size, y.shape[2 + i]))
    return y


@handler
def Conv(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    n = w.dim() - 2
    strides, dilations, pads = _window(x, kernel_shape or w.shape[2:], strides, dilations, pads, auto_pad)
    padding: list[int] | int = pads[:n]
    if pads[:n] != pads[n:]:
        x, padding = F.pad(x, _torch_pad(pads)), 0
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
    return conv(x, w, b, strides, padding, dilations, group)


@handler
def ConvTranspose(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, output_padding=None,
                  pads=None, strides=None):
    """The full transposed convolution (with output_padding), then ONNX's pads cropped from both ends."""
    if auto_pad not in ("NOTSET", "VALID"):
        raise NotImplementedError(f"ConvTranspose auto_pad={auto_pad}: give explicit pads")
    n = w.dim() - 2
    strides, dilations = list(strides or [1] * n), list(dilations or [1] * n)
    pads = list(pads or [0] * 2 * n) if auto_pad == "NOTSET" else [0] * 2 * n
    conv = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[n]
    y = conv(x, w, None, strides, 0, list(output_padding or [0] * n), group, dilations)
    for i in range(n):
        y = y.narrow(2 + i, pads[i], y.shape[2 + i] - pads[i] - pads[i + n])
    return y if b is None else y + b.reshape(1, -1, *([1] * n))


@handler
def MaxPool(x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None, storage_order=0, strides=None):
    strides, dilations, pads = _window(x, kernel_shape, strides, dilations, pads, auto_pad)
    spatial = x.shape[2:]
    if any(pads):
        x = F.pad(x, _torch_pad(pads), value=-math.inf)
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[len(kernel_shape)]
    y = pool(x, kernel_shape, strides, 0, dilations, bool(ceil_mode))
    return _crop_ceil(y, spatial, kernel_shape, strides, dilations, pads) if ceil_mode else y


@handler
def AveragePool(x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None, kernel_shape, pads=None,
                strides=None):
    strides, dilations, pads = _window(x, kernel_shape, strides, dilations, pads, auto_pad)
    if any(d != 1 for d in dilations):
        raise NotImplementedError("AveragePool with dilations")
    n = len(kernel_shape)
    if not any(pads):
        pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[n]
        return pool(x, kernel_shape, strides, 0, bool(ceil_mode))
    # Windows sum over zero padding; the divisor counts only real inputs unless count_include_pad.
    squeeze = n == 1
    if squeeze:
        x, kernel_shape, strides, pads = x.unsqueeze(-1), [*kernel_shape, 1], [*strides, 1], [pads[0], 0, pads[1], 0]
    spatial = x.shape[2:]
    pool = {2: F.avg_pool2d, 3: F.avg_pool3d}[len(kernel_shape)]
    ones = torch.ones((1, 1, *spatial), dtype=x.dtype, device=x.device)
    mask = F.pad(ones, _torch_pad(pads), value=float(bool(count_include_pad)))
    total = pool(F.pad(x, _torch_pad(pads)), kernel_shape, strides, 0, bool(ceil_mode), divisor_override=1)
    out = total / pool(mask, kernel_shape, strides, 0, bool(ceil_mode), divisor_override=1)
    if ceil_mode:
        out = _crop_ceil(out, spatial, kernel_shape, strides, [1] * len(kernel_shape), pads)
    return out.squeeze(-1) if squeeze else out


@handler
def GlobalAveragePool(x):
    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


@handler
def GlobalMaxPool(x):
    return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)


@handler
def BatchNormalization(x, scale, b, mean, var, *, epsilon=1e-5, momentum=0.9, training_mode=0):
    if training_mode:
        raise NotImplementedError("BatchNormalization with training_mode=1")
    return F.batch_norm(x, mean, var, scale, b, False, 0.0, epsilon)


@handler
def Gemm(a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    y = (a.t() if transA else a) @ (b.t() if transB else b)
    if alpha != 1.0:
        y = alpha * y
    if c is not None:
        y = y + (beta * c if beta != 1.0 else c)
    return y


@handler
def MatMul(a, b):
    return torch.matmul(a, b)


@handler
def Flatten(x, *, axis=1):
    axis = axis + x.dim() if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


@handler
def Reshape(x, shape, *, allowzero=0):
    target = _ints(shape)
    if not allowzero:
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    # The IR's static batch is 1; a leading 1 follows the actual batch so that a GraphModule trains on batches.
    if target and target[0] == 1 and x.dim() and x.shape[0] > 1:
        target[0] = x.shape[0]
    return x.reshape(target)


@handler
def Transpose(x, *, perm=None):
    return x.permute(list(perm) if perm is not None else list(reversed(range(x.dim()))))


@handler
def Squeeze(x, axes=None):
    dims = _ints(axes)
    if dims is None:
        return x.squeeze()
    for d in sorted((d + x.dim() if d < 0 else d for d in dims), reverse=True):
        x = x.squeeze(d)
    return x


@handler
def Unsqueeze(x, axes):
    rank = x.dim() + len(_ints(axes))
    for d in sorted(d + rank if d < 0 else d for d in _ints(axes)):
        x = x.unsqueeze(d)
    return x


@handler
def Concat(*xs, axis):
    return torch.cat(xs, dim=axis)


@handler
def Split(x, split=None, *, axis=0, num_outputs=None):
    if split is not None:
        return tuple(torch.split(x, _ints(split), dim=axis))
    return tuple(torch.chunk(x, num_outputs, dim=axis))


@handler
def Slice(x, starts, ends, axes=None, steps=None):
    starts, ends = _ints(starts), _ints(ends)
    axes = _ints(axes) or list(range(len(starts)))
    steps = _ints(steps) or [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=False):
        kept = range(*slice(start, end, step).indices(x.shape[axis]))
        x = x.index_select(axis, torch.tensor(list(kept), dtype=torch.long, device=x.device))
    return x


@handler
def Pad(x, pads, constant_value=None, axes=None, *, mode="constant"):
    pads = _ints(pads)
    axes = _ints(axes)
    if axes is not None:  # expand to every axis
        full = [0] * (2 * x.dim())
        for i, a in enumerate(a + x.dim() if a < 0 else a for a in axes):
            full[a], full[a + x.dim()] = pads[i], pads[i + len(axes)]
        pads = full
    value = 0.0 if constant_value is None else float(constant_value)
    torch_mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[mode]
    if torch_mode == "constant":
        return F.pad(x, _torch_pad(pads), value=value)
    if any(pads[:2]) or any(pads[x.dim():x.dim() + 2]):
        raise NotImplementedError(f"Pad mode={mode} on the batch or channel axis")
    return F.pad(x, _torch_pad(pads[2:x.dim()] + pads[x.dim() + 2:]), mode=torch_mode)


def _nearest_source(out_size: int, in_size: int, scale: float, ctm: str, nearest_mode: str) -> Tensor:
    """Input index feeding each output index along one axis, per the ONNX Resize formulas."""
    i = np.arange(out_size, dtype=np.float64)
    if ctm == "asymmetric":
        x = i / scale
    elif ctm == "align_corners":
        x = i * (in_size - 1) / (out_size - 1) if out_size > 1 else np.zeros_like(i)
    elif ctm == "pytorch_half_pixel":
        x = (i + 0.5) / scale - 0.5 if out_size > 1 else np.zeros_like(i)
    elif ctm == "half_pixel":
        x = (i + 0.5) / scale - 0.5
    else:
        raise NotImplementedError(f"Resize coordinate_transformation_mode={ctm}")
    rounding = {
        "round_prefer_floor": lambda v: np.ceil(v - 0.5), "round_prefer_ceil": lambda v: np.floor(v + 0.5),
        "floor": np.floor, "ceil": np.ceil,
    }[nearest_mode]
    return torch.from_numpy(np.clip(rounding(x), 0, in_size - 1).astype(np.int64))


@handler
def Resize(x, roi=None, scales=None, sizes=None, *, mode="nearest", coordinate_transformation_mode="half_pixel",
           nearest_mode="round_prefer_floor", cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0,
           antialias=0, axes=None, keep_aspect_ratio_policy="stretch"):
    if mode != "nearest" or axes is not None:
        raise NotImplementedError(f"Resize mode={mode} (only nearest without axes)")
    if sizes is not None and sizes.numel():
        out_sizes = _ints(sizes)
        factors = [o / i for o, i in zip(out_sizes, x.shape, strict=False)]
    else:
        factors = [float(s) for s in scales.reshape(-1).tolist()]
        out_sizes = [int(math.floor(i * s)) for i, s in zip(x.shape, factors, strict=False)]
    for axis, (o, i, s) in enumerate(zip(out_sizes, x.shape, factors, strict=False)):
        if o != i or s != 1.0:
            index = _nearest_source(o, i, s, coordinate_transformation_mode, nearest_mode)
            x = x.index_select(axis, index.to(x.device))
    return x


def _reduce(fn, x, axes_in, axes, keepdims, noop_with_empty_axes):
    dims = _ints(axes_in) if axes_in is not None else (list(axes) if axes is not None else None)
    if not dims:
        if noop_with_empty_axes:
            return x
        dims = list(range(x.dim()))
    return fn(x, dim=tuple(dims), keepdim=bool(keepdims))


@handler
def ReduceMean(x, axes_in=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(torch.mean, x, axes_in, axes, keepdims, noop_with_empty_axes)


@handler
def ReduceSum(x, axes_in=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(torch.sum, x, axes_in, axes, keepdims, noop_with_empty_axes)


@handler
def ReduceMax(x, axes_in=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(torch.amax, x, axes_in, axes, keepdims, noop_with_empty_axes)


@handler
def Softmax(x, *, axis=-1):
    return torch.softmax(x, dim=axis)


@handler
def LogSoftmax(x, *, axis=-1):
    return torch.log_softmax(x, dim=axis)


@handler
def Relu(x):
    return torch.relu(x)


@handler
def Clip(x, min=None, max=None):  # noqa: A002 - ONNX input names
    # Constant scalar bounds (ReLU6) take hardtanh, torch's ReLU6: one fused pass backward, where clamp with tensor
    # bounds takes four (>=, <=, and, where), several times slower on CPU, and MobileNetV2 trains through many ReLU6
    # (docs/results/2026-12-02-docstring-measurements.md). Its gradient at the bounds themselves is zero, as
    # nn.ReLU6's and Relu's at 0. Only for bounds held on the CPU: reading a GPU tensor's value would stall the
    # device on every call.
    if _cpu_constant(min) and _cpu_constant(max) and float(min) <= float(max):
        return F.hardtanh(x, float(min), float(max))
    return torch.clamp(x, min, max)


def _cpu_constant(t: Tensor | None) -> bool:
    """A 0-d tensor on the CPU that training does not move: its value can be read without cost."""
    return t is not None and t.dim() == 0 and t.device.type == "cpu" and not t.requires_grad


@handler
def Sigmoid(x):
    return torch.sigmoid(x)


@handler
def Tanh(x):
    return torch.tanh(x)


@handler
def LeakyRelu(x, *, alpha=0.01):
    return F.leaky_relu(x, alpha)


@handler
def Elu(x, *, alpha=1.0):
    return F.elu(x, alpha)


@handler
def HardSigmoid(x, *, alpha=0.2, beta=0.5):
    return torch.clamp(alpha * x + beta, 0.0, 1.0)


@handler
def HardSwish(x):
    return x * torch.clamp(x / 6.0 + 0.5, 0.0, 1.0)  # ONNX: alpha=1/6, beta=0.5


@handler
def PRelu(x, slope):
    return torch.where(x >= 0, x, x * slope)


@handler
def Add(a, b):
    return a + b


@handler
def Sub(a, b):
    return a - b


@handler
def Min(*xs):
    # decompose-hard-sigmoid (in CANONICALIZE) writes HardSigmoid as ...Min(x, 1); variadic like ONNX.
    return functools.reduce(torch.minimum, xs)


@handler
def Max(*xs):
    return functools.reduce(torch.maximum, xs)


@handler
def Mul(a, b):
    return a * b


@handler
def Div(a, b):
    return a / b


@handler
def Neg(x):
    return -x


@handler
def Exp(x):
    return torch.exp(x)


@handler
def Sqrt(x):
    return torch.sqrt(x)


@handler
def Reciprocal(x):
    return torch.reciprocal(x)


@handler
def Dropout(x, ratio=None, training_mode=None, *, seed=None):
    return x, torch.ones_like(x, dtype=torch.bool)  # inference: identity, mask all true


@handler
def Identity(x):
    return x


@handler
def Constant(*, value=None, value_float=None, value_floats=None, value_int=None, value_ints=None):
    if value is not None:
        return value
    if value_float is not None or value_floats is not None:
        return torch.tensor(value_float if value_float is not None else list(value_floats), dtype=torch.float32)
    return torch.tensor(value_int if value_int is not None else list(value_ints), dtype=torch.int64)


@handler
def Cast(x, *, to, saturate=1):
    return x.to(torch.from_numpy(np.zeros(0, dtype=ir.DataType(to).numpy())).dtype)


@handler
def Shape(x, *, start=0, end=None):
    return torch.tensor(list(x.shape)[start:end], dtype=torch.int64)


@handler
def Gather(x, indices, *, axis=0):
    axis = axis + x.dim() if axis < 0 else axis
    index = indices.long() % x.shape[axis]
    out = x.index_select(axis, index.reshape(-1))
    return out.reshape((*x.shape[:axis], *index.shape, *x.shape[axis + 1:]))


@handler
def DequantizeLinear(x, scale, zero_point=None, *, axis=1, block_size=0):
    if block_size:
        raise NotImplementedError("blocked DequantizeLinear")
    x = x.to(torch.float32)
    if zero_point is not None:
        zero_point = zero_point.to(torch.float32)
    if scale.dim() == 1 and scale.numel() > 1:  # per-axis: broadcast along `axis`
        shape = [1] * x.dim()
        shape[axis] = -1
        scale = scale.reshape(shape)
        zero_point = None if zero_point is None else zero_point.reshape(shape)
    return (x - zero_point) * scale if zero_point is not None else x * scale
