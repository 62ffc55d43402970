"""How ONNX (NCHW) values are laid out as TFLite (NHWC) tensors.

Every value carries a permutation ``perm`` with ``tflite_tensor == onnx_value.transpose(perm)``. Rank-4 activations
get ``NHWC = (0, 2, 3, 1)``; everything else keeps the ONNX order (``perm`` is the identity). Ops then work on the
TFLite axis ``perm.index(onnx_axis)``, so no TRANSPOSE is needed inside a conv net.

Model inputs (``input_layout``):

* ``"nhwc"`` (default, what TFLM users feed): a rank-4 input the ONNX graph reads as NCHW becomes an NHWC tensor.
  A tf2onnx graph already takes NHWC and turns it into NCHW right away (``Transpose(perm=[0,3,1,2])``, or a
  ``Reshape`` doing the same when C == 1); such an input keeps its ONNX shape and that Transpose disappears.
* ``"nchw"``: the input tensor keeps the ONNX shape; the exporter adds one TRANSPOSE right after it.

Model outputs (:func:`output_perm`): a rank-4 output is NHWC, except one a reshape or Gather writes (Reshape,
Flatten, Squeeze, Unsqueeze), which keeps the ONNX order so that no TRANSPOSE follows the RESHAPE; other ranks keep
the ONNX shape (a classifier's (1, classes) is unchanged). Likewise a rank-4 input only a reshape or MatMul reads
keeps the ONNX order (no TRANSPOSE before its reader).
A Flatten of an NHWC tensor that only feeds fully connected layers keeps the TFLite (H, W, C) feature order and the
FC weight columns are permuted instead (``flatten_feature_order``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from mcugraph.ops.table import ops_where

NHWC = (0, 2, 3, 1)  # ONNX (N, C, H, W) -> TFLite (N, H, W, C)
NCHW_FROM_NHWC = (0, 3, 1, 2)


def identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def default_perm(rank: int) -> tuple[int, ...]:
    """The layout an activation of this rank gets: NHWC for rank 4, ONNX order otherwise."""
    return NHWC if rank == 4 else identity(rank)


# Ops that compute the same in any layout (the op table's layout_free rows): the layout a value needs is its
# readers' readers'.
_ANY_LAYOUT = ops_where(lambda row: row.layout_free)


def value_perm(value: ir.Value) -> tuple[int, ...]:
    """The layout a reshaped or transposed activation is written in: NHWC for a rank-4 image (what convolutions,
    pools and the model's rank-4 outputs read), but ONNX order for a rank-4 tensor that only ever reaches (through
    element-wise ops) a MatMul of two activations, a Softmax over its last axis, a reshape or a transpose into such
    a tensor (attention heads), so that no TRANSPOSE is written around them, which the kernel view would not
    model."""
    rank = len(value.shape)
    if rank != 4:
        return identity(rank)
    pending, seen, matrix = [value], set(), False
    while pending:
        v = pending.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.is_graph_output():
            return output_perm(v)
        for use in v.uses():
            node = use.node
            if node.op_type in _ANY_LAYOUT:
                pending.extend(o for o in node.outputs if o is not None and o.shape is not None and len(o.shape) == 4)
            elif node.op_type in ("MatMul", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gather") or (
                node.op_type == "Softmax" and _last_axis(node)
            ):
                matrix = True  # reads ONNX order without a TRANSPOSE
            elif node.op_type == "Transpose" and len(node.outputs[0].shape or ()) == 4:
                if value_perm(node.outputs[0]) == NHWC:
                    return NHWC
                matrix = True
            else:
                return NHWC
    return identity(rank) if matrix else NHWC


_RESHAPES = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gather"})  # write in ONNX order


def output_perm(value: ir.Value) -> tuple[int, ...]:
    """The layout of graph output ``value`` (module docstring): NHWC for rank 4 unless a reshape writes it."""
    rank = len(value.shape)
    producer = value.producer()
    if rank == 4 and producer is not None and producer.op_type in _RESHAPES:
        return identity(rank)
    return default_perm(rank)


def _last_axis(node: ir.Node) -> bool:
    attr = node.attributes.get("axis")
    return (attr.as_int() if attr is not None else -1) in (-1, 3)


def permute_shape(shape: Sequence[int], perm: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(shape[p]) for p in perm)


def transpose_between(src: Sequence[int], dst: Sequence[int]) -> tuple[int, ...]:
    """The TRANSPOSE ``perm`` taking a tensor laid out as ``src`` to one laid out as ``dst`` (same ONNX value)."""
    return tuple(list(src).index(d) for d in dst)


def is_identity(perm: Sequence[int]) -> bool:
    return tuple(perm) == identity(len(perm))


def keeps_memory_order(shape: Sequence[int], perm: Sequence[int]) -> bool:
    """True when transposing ``shape`` by ``perm`` only moves size-1 axes, i.e. the bytes stay in the same order."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


def flatten_feature_order(c: int, h: int, w: int) -> np.ndarray:
    """For a (1, H, W, C) tensor reshaped to (1, H*W*C): column j holds ONNX (C, H, W)-flattened feature ``order[j]``."""
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()


def input_is_nhwc(value: ir.Value) -> bool:
    """True for a tf2onnx-style rank-4 input: already NHWC, turned into NCHW by every consumer before use."""
    if value.shape is None or len(value.shape) != 4:
        return False
    users = [use.node for use in value.uses()]
    return bool(users) and all(_is_to_nchw(node, tuple(value.shape)) for node in users)


def _is_to_nchw(node: ir.Node, shape: tuple[int, ...]) -> bool:
    if node.op_type == "Transpose":
        perm = node.attributes.get("perm")
        return perm is not None and tuple(perm.as_ints()) == NCHW_FROM_NHWC
    if node.op_type == "Reshape" and node.outputs[0].shape is not None:
        # tf2onnx writes a Transpose that only moves a size-1 channel axis as a Reshape.
        n, h, w, c = shape
        return c == 1 and tuple(node.outputs[0].shape) == (n, c, h, w)
    return False
