"""Small int8 conv stacks built by hand (no converter): the networks the patch tests tile.

``conv_stack(layers)`` chains layers on a 1xHxWxC int8 image and ends with MEAN + FULLY_CONNECTED (a global
tail, so the whole model can never be one stage). A layer is a tuple:

- ``("conv", k, stride, same, cout)`` / ``("dw", k, stride, same)``: CONV_2D / DEPTHWISE_CONV_2D (fused RELU);
- ``("pad", top, bottom, left, right)``: an explicit PAD with the zero point;
- ``("res", k)``: ``x + conv_kxk_same(x)`` (a residual ADD);
- ``("maxpool", k, stride)``: MAX_POOL_2D, VALID padding.
"""

from __future__ import annotations

import numpy as np

from mcugraph.tflite import schema as tfl
from mcugraph.tflite.builder import TinyTflite

s = tfl.schema


def _quant(scales, zero_points, dim: int = 0):
    q = s.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = [float(v) for v in scales], [int(v) for v in zero_points], dim
    return q


class _Stack:
    def __init__(self, b: TinyTflite, rng: np.random.Generator):
        self.b, self.rng, self.count = b, rng, 0

    def act(self, shape, scale: float, zp: int) -> int:
        self.count += 1
        return self.b.tensor(f"a{self.count}", shape, np.int8, scale=scale, zero_point=zp)

    def conv(self, x, shape, scale, k, stride, same, cout, depthwise=False):
        _, h, w, cin = shape
        out_c = cin if depthwise else cout
        wshape = (1, k, k, out_c) if depthwise else (out_c, k, k, cin)
        wq = self.rng.uniform(0.005, 0.02, out_c)
        weights = self.b.tensor(f"w{self.count}", wshape, np.int8, data=self.rng.integers(-60, 61, wshape))
        self.b.subgraph.tensors[weights].quantization = _quant(wq, [0] * out_c, 3 if depthwise else 0)
        bias = self.b.tensor(f"b{self.count}", (out_c,), np.int32, data=self.rng.integers(-300, 300, out_c))
        self.b.subgraph.tensors[bias].quantization = _quant(wq * scale, [0] * out_c)
        oh = -(-h // stride) if same else (h - k) // stride + 1
        ow = -(-w // stride) if same else (w - k) // stride + 1
        out_shape = (1, oh, ow, out_c)
        out_scale = scale * float(wq.mean()) * 60 * np.sqrt(k * k * (1 if depthwise else cin)) / 2
        y = self.act(out_shape, out_scale, -128)
        op = self.b.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, weights, bias], [y])
        o = s.DepthwiseConv2DOptionsT() if depthwise else s.Conv2DOptionsT()
        o.padding = s.Padding.SAME if same else s.Padding.VALID
        o.strideH = o.strideW = stride
        o.dilationHFactor = o.dilationWFactor = 1
        o.fusedActivationFunction = s.ActivationFunctionType.RELU
        if depthwise:
            o.depthMultiplier = 1
        kind = s.BuiltinOptions.DepthwiseConv2DOptions if depthwise else s.BuiltinOptions.Conv2DOptions
        self.b.subgraph.operators[op].builtinOptionsType, self.b.subgraph.operators[op].builtinOptions = kind, o
        return y, out_shape, out_scale, -128


def conv_stack(layers, hw=(12, 10), channels: int = 3, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    b = TinyTflite()
    st = _Stack(b, rng)
    shape, scale, zp = (1, *hw, channels), 0.02, -5
    x = image = st.act(shape, scale, zp)
    for layer in layers:
        kind = layer[0]
        if kind in ("conv", "dw"):
            k, stride, same = layer[1:4]
            x, shape, scale, zp = st.conv(x, shape, scale, k, stride, same, layer[4] if kind == "conv" else 0,
                                          depthwise=kind == "dw")
        elif kind == "pad":
            top, bottom, left, right = layer[1:]
            pads = b.tensor(f"p{st.count}", (4, 2), np.int32,
                            data=np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32))
            shape = (1, shape[1] + top + bottom, shape[2] + left + right, shape[3])
            y = st.act(shape, scale, zp)
            op = b.op("PAD", [x, pads], [y])
            b.subgraph.operators[op].builtinOptionsType = s.BuiltinOptions.PadOptions
            b.subgraph.operators[op].builtinOptions = s.PadOptionsT()
            x = y
        elif kind == "res":
            y, _, yscale, yzp = st.conv(x, shape, scale, layer[1], 1, True, shape[3])
            z = st.act(shape, scale + yscale, -100)
            b.op("ADD", [x, y], [z])
            x, scale, zp = z, scale + yscale, -100
        elif kind == "maxpool":
            k, stride = layer[1:]
            shape = (1, (shape[1] - k) // stride + 1, (shape[2] - k) // stride + 1, shape[3])
            y = st.act(shape, scale, zp)
            op = b.op("MAX_POOL_2D", [x], [y])
            o = s.Pool2DOptionsT()
            o.padding, o.strideH, o.strideW, o.filterHeight, o.filterWidth = s.Padding.VALID, stride, stride, k, k
            b.subgraph.operators[op].builtinOptionsType, b.subgraph.operators[op].builtinOptions = (
                s.BuiltinOptions.Pool2DOptions, o)
            x = y
        else:
            raise ValueError(kind)
        if min(shape) < 1:
            raise ValueError(f"layer {layer} leaves an empty image {shape}")
    axes = b.tensor("axes", (2,), np.int32, data=np.array([1, 2], np.int32))
    pooled = st.act((1, shape[3]), scale, zp)
    op = b.op("MEAN", [x, axes], [pooled])
    b.subgraph.operators[op].builtinOptionsType = s.BuiltinOptions.ReducerOptions
    b.subgraph.operators[op].builtinOptions = s.ReducerOptionsT()
    return b.build([image], [pooled])
