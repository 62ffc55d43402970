"""Resize -> RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR, only where TFLite picks the pixels ONNX does.

ONNX maps each output coordinate to an input coordinate by its ``coordinate_transformation_mode`` (with the given
``scales``, or ``sizes / input``) and rounds it by ``nearest_mode``; TFLite's reference kernels have two flags,
``align_corners`` and ``half_pixel_centers``, and use ``input / output`` as the scale. Rather than a table of
which conventions agree, this module computes both maps for the node's H and W and writes the first TFLite flag
pair whose map equals ONNX's: every input index for nearest, every (lower, upper, weight) for linear. Anything
else (cubic, antialias, tf_crop_and_resize, a map no flag pair reproduces) is refused with what it was.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.export import layout
from mcugraph.export.context import Lowering
from mcugraph.ops.attributes import const_array
from mcugraph.tflite.schema import schema

_FLAGS = ((False, False), (False, True), (True, False))  # (align_corners, half_pixel_centers)


def resize(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    x = node.inputs[0]
    ins, outs = [int(d) for d in x.shape], [int(d) for d in out.shape]
    mode = _string(node, "mode", "nearest")
    coord = _string(node, "coordinate_transformation_mode", "half_pixel")
    nearest = _string(node, "nearest_mode", "round_prefer_floor")
    antialias = node.attributes.get("antialias")
    scales = _onnx_scales(node, ins, outs)
    flags = None
    if (mode in ("nearest", "linear") and not (antialias is not None and antialias.as_int()) and len(ins) == 4
            and ins[:2] == outs[:2] and scales is not None):
        flags = next((f for f in _FLAGS if all(
            _same(mode, ins[a], outs[a], scales[a], coord, nearest, *f) for a in (2, 3))), None)
    if flags is None:
        raise ExportError(
            f"node '{node.name}' (Resize): only nearest resizing of H and W by integer factors and the nearest/"
            f"linear maps TFLite's align_corners/half_pixel_centers reproduce map to TFLite; got mode={mode}, "
            f"{'x'.join(map(str, ins[2:]))} -> {'x'.join(map(str, outs[2:]))}, {coord}/{nearest}"
        )
    bilinear = mode == "linear"
    options = schema.ResizeBilinearOptionsT() if bilinear else schema.ResizeNearestNeighborOptionsT()
    options.alignCorners, options.halfPixelCenters = flags
    index = cx.input(x, layout.NHWC)
    out_index = cx.output(out, layout.NHWC)
    builtin = "RESIZE_BILINEAR" if bilinear else "RESIZE_NEAREST_NEIGHBOR"
    cx.fm.op(builtin, [index, cx.int32("size", outs[2:])], [out_index], options)


def _string(node: ir.Node, name: str, default: str) -> str:
    attr = node.attributes.get(name)
    return attr.as_string() if attr is not None else default


def _onnx_scales(node: ir.Node, ins: list[int], outs: list[int]) -> list[float] | None:
    """The per-axis scale ONNX computes coordinates with: ``scales`` as given, else ``sizes / input`` (one common
    ratio under keep_aspect_ratio_policy not_larger/not_smaller); None when neither is a constant."""
    scales = const_array(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] is not None else None
    sizes = const_array(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3] is not None else None
    axes = node.attributes.get("axes")
    axes = [a % len(ins) for a in axes.as_ints()] if axes is not None else list(range(len(ins)))
    result = [1.0] * len(ins)
    if scales is not None and scales.size:
        for a, s in zip(axes, scales.reshape(-1), strict=True):
            result[a] = float(s)
        return result
    if sizes is None or not sizes.size:
        return None
    ratios = {a: float(s) / ins[a] for a, s in zip(axes, sizes.reshape(-1), strict=True)}
    policy = _string(node, "keep_aspect_ratio_policy", "stretch")
    if policy != "stretch":
        common = (min if policy == "not_larger" else max)(ratios.values())
        ratios = dict.fromkeys(ratios, common)
    for a, r in ratios.items():
        result[a] = r
    return result


def _onnx_coordinates(size_in: int, size_out: int, scale: float, coord: str) -> np.ndarray | None:
    """ONNX's input coordinate of each output pixel; its "length_resized" is ``scale * size_in``, not floored."""
    x = np.arange(size_out, dtype=np.float64)
    resized = scale * size_in
    if coord == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if coord == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if resized > 1 else np.zeros(size_out)
    if coord == "align_corners":
        return x * (size_in - 1) / (resized - 1) if resized != 1 else np.zeros(size_out)
    if coord == "asymmetric":
        return x / scale
    return None  # half_pixel_symmetric, tf_crop_and_resize


def _onnx_round(v: np.ndarray, nearest: str) -> np.ndarray | None:
    if nearest == "floor":
        return np.floor(v)
    if nearest == "ceil":
        return np.ceil(v)
    if nearest == "round_prefer_floor":
        return np.where(v - np.floor(v) == 0.5, np.floor(v), np.round(v))
    if nearest == "round_prefer_ceil":
        return np.where(v - np.floor(v) == 0.5, np.ceil(v), np.round(v))
    return None


def _same(mode: str, size_in: int, size_out: int, scale: float, coord: str, nearest: str, align: bool,
          half: bool) -> bool:
    """Whether TFLite with (``align``, ``half``) reads the input pixels ONNX reads along one axis (float32 as
    TFLite's reference kernels compute)."""
    onnx = _onnx_coordinates(size_in, size_out, scale, coord)
    if onnx is None or (align and half):
        return False
    tfl_scale = np.float32((size_in - 1) / (size_out - 1) if align and size_out > 1 else size_in / size_out)
    y = np.arange(size_out, dtype=np.float32)
    top = size_in - 1
    if mode == "nearest":
        picked = _onnx_round(onnx, nearest)
        if picked is None:
            return False
        if align:
            tfl = np.floor(y * tfl_scale + np.float32(0.5))  # TfLiteRound: half away from zero (values >= 0)
        else:
            tfl = np.floor((y + np.float32(0.5 if half else 0.0)) * tfl_scale)
        return bool(np.array_equal(np.clip(picked, 0, top), np.clip(tfl, 0, top)))
    tfl = (y + np.float32(0.5)) * tfl_scale - np.float32(0.5) if half else y * tfl_scale
    # Both clamp to the border pixel outside [0, size - 1]; inside, the same coordinate is the same weights.
    return bool(np.allclose(np.clip(onnx, 0, top), np.clip(tfl.astype(np.float64), 0, top), rtol=0, atol=1e-5))
