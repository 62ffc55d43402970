"""Which rows of its input a TFLite operator reads for a band of output rows: the one table of tileable operators.

A patched stage runs its operators on row bands, so every operator of it must compute output row ``o`` from a
fixed window of input rows, and must compute it the same way whatever the band. :func:`spatial_op` says how for
one operator of a .tflite model, or raises :class:`~mcugraph.errors.UnsupportedOpError` with the reason:

- ``CONV_2D``/``DEPTHWISE_CONV_2D``: window (kernel, stride, dilation, SAME/VALID padding). In a tile they run with
  VALID padding after an explicit ``PAD`` with the input's zero point: TFLM's int8 reference kernels skip padded
  taps (``is_point_inside_image``) and add ``filter * (input - zero_point)`` for the others, so a padded tap holding
  the zero point adds 0 as well: the same sums, bit for bit (float: padded taps hold 0.0, also exact);
- ``MAX_POOL_2D``/``AVERAGE_POOL_2D``: only without padding (SAME padding that pads nothing): average pooling
  leaves padded cells out of its count and max pooling out of its maximum, which no zero-point padding reproduces;
- ``PAD``/``PADV2``: a window of one row shifted by the top padding; in a tile it pads only at the image border;
- elementwise (``ADD``, ``MUL``, ...), activations and a channel ``CONCATENATION``: one row from one row, as long
  as every activation input has the output's shape (constants that broadcast over rows are fine).

Everything else (``MEAN``, ``FULLY_CONNECTED``, ``RESHAPE``, ``SOFTMAX``, ...) mixes rows or changes the layout:
a stage containing it cannot be tiled.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mcugraph.errors import UnsupportedOpError
from mcugraph.tflite import schema as tfl

s = tfl.schema

# Keyed by TFLite builtins, not by the op table's ONNX rows: a .tflite from the TF converter has builtins no row
# writes (RELU_N1_TO_1, RELU_0_TO_1, GELU, QUANTIZE). tests/test_ops_one_home.py checks that every builtin of the
# table's element-wise rows is here.
POINTWISE = frozenset({
    "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU", "QUANTIZE",
    "DEQUANTIZE", "ELU", "GELU", "ABS", "NEG", "SQRT", "RSQRT", "EXP",
})
ELEMENTWISE = frozenset({"ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "DIV"})
CONVOLUTIONS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"})
POOLS = frozenset({"MAX_POOL_2D", "AVERAGE_POOL_2D"})


@dataclasses.dataclass(frozen=True)
class Window:
    """How one axis of an operator's output reads its input: output ``o`` reads padded input ``o*stride + j*dilation``
    for ``j < kernel``, where padded input ``p`` is real input ``p - pad_before``."""

    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    pad_before: int = 0
    pad_after: int = 0

    def reads(self, out_lo: int, out_hi: int) -> tuple[int, int]:
        """Real input rows ``[lo, hi)`` that output rows ``[out_lo, out_hi)`` read; may reach past the border."""
        lo = out_lo * self.stride - self.pad_before
        hi = (out_hi - 1) * self.stride + (self.kernel - 1) * self.dilation + 1 - self.pad_before
        return lo, hi

    @property
    def pads(self) -> bool:
        return self.pad_before > 0 or self.pad_after > 0


@dataclasses.dataclass(frozen=True)
class SpatialOp:
    index: int  # operator index in subgraph 0
    builtin: str
    data_inputs: tuple[int, ...]  # tensor indices of the activation inputs (constants excluded)
    output: int
    rows: Window  # along H (NHWC axis 1)
    cols: Window  # along W (axis 2); tiles always span the full width, so this keeps its padding


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite's SAME padding (``ComputePaddingHeightWidth``): the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _window(padding: int, size: int, kernel: int, stride: int, dilation: int) -> Window:
    before, after = _same_padding(size, kernel, stride, dilation) if padding == s.Padding.SAME else (0, 0)
    return Window(kernel, stride, dilation, before, after)


def constant(model: s.ModelT, tensor: int) -> np.ndarray | None:
    """The data of constant tensor ``tensor`` as a numpy array of its dtype and shape, or None for an activation."""
    t = model.subgraphs[0].tensors[tensor]
    data = model.buffers[t.buffer].data if t.buffer < len(model.buffers) else None
    if data is None or not len(data):
        return None
    dtype = {s.TensorType.FLOAT16: np.float16,s.TensorType.INT32: np.int32, s.TensorType.INT64: np.int64, s.TensorType.INT8: np.int8,
             s.TensorType.FLOAT32: np.float32, s.TensorType.INT16: np.int16, s.TensorType.UINT8: np.uint8}[t.type]
    return np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype=dtype).reshape(ints(t.shape))


def ints(values) -> list[int]:
    """A schema index vector (None, list or numpy array) as a list of Python ints."""
    return [] if values is None else [int(v) for v in values]


def builtin(model: s.ModelT, op: s.OperatorT) -> str:
    return tfl.builtin_name(tfl.opcode_builtin(model.operatorCodes[op.opcodeIndex]))


def shape(model: s.ModelT, tensor: int) -> tuple[int, ...]:
    return tuple(int(d) for d in model.subgraphs[0].tensors[tensor].shape)


def spatial_op(model: s.ModelT, index: int) -> SpatialOp:
    """The row and column windows of operator ``index``; raises UnsupportedOpError when it cannot be tiled."""
    op = model.subgraphs[0].operators[index]
    name = builtin(model, op)
    inputs = [i for i in ints(op.inputs) if i >= 0]
    data = tuple(dict.fromkeys(i for i in inputs if constant(model, i) is None))
    where = f"operator {index} ({name})"

    def refuse(why: str) -> UnsupportedOpError:
        return UnsupportedOpError(f"{where} cannot run on row tiles: {why}; end the patched stage before it",
                                  [(str(index), name)])

    known = CONVOLUTIONS | POOLS | POINTWISE | ELEMENTWISE | {"PAD", "PADV2", "CONCATENATION"}
    if name not in known:
        raise refuse("it mixes rows or changes the layout (not a convolution, pooling, padding or elementwise op)")
    outputs = ints(op.outputs)
    if len(outputs) != 1:
        raise refuse("it has several outputs")
    out_shape = shape(model, outputs[0])
    if len(out_shape) != 4 or out_shape[0] != 1:
        raise refuse(f"its output {list(out_shape)} is not a batch-1 NHWC image")
    if name in CONVOLUTIONS or name in POOLS:
        o = op.builtinOptions
        in_shape = shape(model, inputs[0])
        if name in POOLS:
            kh, kw, dh, dw = o.filterHeight, o.filterWidth, 1, 1
        else:
            filt = shape(model, inputs[1])
            kh, kw, dh, dw = filt[1], filt[2], o.dilationHFactor or 1, o.dilationWFactor or 1
        rows = _window(o.padding, in_shape[1], kh, o.strideH, dh)
        cols = _window(o.padding, in_shape[2], kw, o.strideW, dw)
        if name in POOLS and (rows.pads or cols.pads):
            raise refuse("pooling with SAME padding leaves padded cells out, which zero-point padding cannot copy")
        if inputs[0] not in data:
            raise refuse("its data input is a constant")
        return SpatialOp(index, name, (inputs[0],), outputs[0], rows, cols)
    if name in ("PAD", "PADV2"):
        pads = constant(model, inputs[1])
        if pads is None or pads.shape != (4, 2):
            raise refuse("its paddings are not a constant 4x2 table")
        if pads[0].any() or pads[3].any():
            raise refuse("it pads the batch or channel axis")
        if name == "PADV2" and len(inputs) > 2:
            raise refuse("it pads with a constant value; tiles pad with the zero point")
        (top, bottom), (left, right) = (int(v) for v in pads[1]), (int(v) for v in pads[2])
        return SpatialOp(index, name, (inputs[0],), outputs[0], Window(pad_before=top, pad_after=bottom),
                         Window(pad_before=left, pad_after=right))
    if name == "CONCATENATION" and op.builtinOptions.axis not in (3, -1):
        raise refuse(f"it concatenates along axis {op.builtinOptions.axis}, not channels")
    for i in data:
        if name != "CONCATENATION" and shape(model, i) != out_shape:
            raise refuse(f"input tensor {i} {list(shape(model, i))} broadcasts to {list(out_shape)}")
        if name == "CONCATENATION" and shape(model, i)[:3] != out_shape[:3]:
            raise refuse(f"input tensor {i} does not match the output rows")
    for i in inputs:
        c = constant(model, i)
        if c is not None and c.ndim >= 3 and c.shape[-3] != 1:
            raise refuse(f"constant input {i} {list(c.shape)} varies along the rows")
    return SpatialOp(index, name, data, outputs[0], Window(), Window())
