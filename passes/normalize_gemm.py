"""``normalize-gemm``: every fully connected layer as ``Gemm(x, W[out, in], b, transB=1)``."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.errors import InvalidModelError
from mcugraph.passes._rewrite import (
    add_initializer,
    constant_array,
    drop_if_unused,
    require_static_shapes,
    set_static,
    swap_in,
    unique_name,
)
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class NormalizeGemmPass(ir.passes.InPlacePass):
    """Give fully connected layers the one form TFLite FULLY_CONNECTED wants: weights stored [out, in].

    Rewrites: ``MatMul(x, const W)`` with a 2-D ``x`` becomes ``Gemm(x, W^T, transB=1)``; an ``Add`` of a
    constant bias that is the MatMul's only user is taken in as ``C``. An existing Gemm gets ``alpha`` folded
    into B, ``beta`` into C, B stored transposed when ``transB=0``, ``transA=1`` as a Transpose of A before it,
    and attributes alpha=1, beta=1, transA=0, transB=1. A bias that is the same for every row is stored 1-D
    ``[out]``; one that differs per row (a matrix C) becomes an ``Add`` after the Gemm.
    Refuses: MatMul with a non-constant or non-2-D weight or a non-2-D input (batched matmul); Gemm with a
    non-constant B, ``transA=1`` on an A that is not 2-D, or ``beta != 1`` with a non-constant C. Raises ``InvalidModelError`` for a
    constant C that does not broadcast to the output (onnxruntime would fail on it at run time).
    Requires static shapes (the bias is broadcast to the output's shape): a model with a symbolic dim is refused
    before the pass with the fix (``mcugraph.load``).
    """

    name: ClassVar[str] = "normalize-gemm"

    def requires(self, model: ir.Model) -> None:
        require_static_shapes(model, self.name)

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for node in list(model.graph):
            if node.domain not in ("", "ai.onnx"):
                continue
            if node.op_type == "MatMul":
                modified |= _matmul_to_gemm(model.graph, node)
            elif node.op_type == "Gemm":
                modified |= _normalize_gemm(model.graph, node)
        return ir.passes.PassResult(model, modified)


def _attributes() -> list[ir.Attr]:
    return [ir.AttrFloat32("alpha", 1.0), ir.AttrFloat32("beta", 1.0), ir.AttrInt64("transA", 0),
            ir.AttrInt64("transB", 1)]


def _matmul_to_gemm(graph: ir.Graph, matmul: ir.Node) -> bool:
    x, w_value = matmul.inputs
    weight = constant_array(w_value)
    out = matmul.outputs[0]
    if weight is None or weight.ndim != 2 or x.shape is None or len(x.shape) != 2 or out.shape is None:
        return False
    m, n = out.shape
    add, bias = _bias_add(out, m, n)
    inputs = [x, add_initializer(graph, weight.T.copy(), f"{w_value.name}_transposed")]
    if bias is not None:
        inputs.append(add_initializer(graph, bias.astype(weight.dtype), f"{matmul.name}_bias"))
    gemm = ir.Node("", "Gemm", inputs, _attributes(), name=matmul.name)
    result = add.outputs[0] if add is not None else out
    gemm.outputs[0].name = unique_name(graph, f"{result.name}_gemm")
    set_static(gemm.outputs[0], (m, n), result.dtype)
    graph.insert_before(matmul, gemm)
    swap_in(graph, result, gemm.outputs[0], [add, matmul] if add is not None else [matmul])
    return True


def _bias_add(out: ir.Value, m: int, n: int) -> tuple[ir.Node | None, np.ndarray | None]:
    """The ``Add(out, const b)`` that is ``out``'s only user and its bias in Gemm form, or (None, None)."""
    uses = out.uses()
    if len(uses) != 1 or out.is_graph_output():
        return None, None
    add = uses[0].node
    if add.op_type != "Add" or add.domain not in ("", "ai.onnx"):
        return None, None
    other = add.inputs[1 - uses[0].idx]
    bias = constant_array(other)
    if bias is None or add.outputs[0].shape is None or tuple(add.outputs[0].shape) != (m, n):
        return None, None  # a broadcast that grows the output is not a bias
    if _as_bias(bias, m, n).ndim == 2:
        return None, None  # one bias per row: the Add stays after the Gemm (FULLY_CONNECTED adds one vector)
    return add, _as_bias(bias, m, n)


def _as_bias(bias: np.ndarray, m: int, n: int) -> np.ndarray:
    """``bias`` broadcast for Gemm's C: 1-D ``[n]`` when it is the same for every row, else ``[m, n]``."""
    full = np.broadcast_to(bias, (m, n))
    same_rows = bias.ndim < 2 or bias.shape[0] == 1 or m == 1
    return full[0].copy() if same_rows else full.copy()


def _broadcasts(shape: tuple[int, ...], target: tuple[int, int]) -> bool:
    """True when ``shape`` broadcasts to ``target`` one way (ONNX's unidirectional broadcasting)."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _normalize_gemm(graph: ir.Graph, gemm: ir.Node) -> bool:
    attrs = gemm.attributes
    alpha, beta = attrs.get_float("alpha", 1.0), attrs.get_float("beta", 1.0)
    trans_a, trans_b = attrs.get_int("transA", 0), attrs.get_int("transB", 0)
    b_value = gemm.inputs[1]
    c_value = gemm.inputs[2] if len(gemm.inputs) > 2 else None
    weight, bias = constant_array(b_value), constant_array(c_value)
    out = gemm.outputs[0]
    if out.shape is None or len(out.shape) != 2 or not all(isinstance(d, int) for d in out.shape):
        return False  # not a static 2-D Gemm: nothing this pass can rewrite
    m, n = out.shape
    if bias is not None and not _broadcasts(bias.shape, (m, n)):
        raise InvalidModelError(
            f"Gemm '{gemm.name}': C of shape {bias.shape} does not broadcast to the output shape ({m}, {n}) as "
            "ONNX requires; the model is invalid, re-export it"
        )
    bias_ok = bias is None or (bias.ndim == 1 and _as_bias(bias, m, n).shape == bias.shape)
    if (alpha, beta, trans_a, trans_b) == (1.0, 1.0, 0, 1) and bias_ok:
        return False
    a = gemm.inputs[0]
    if weight is None or (c_value is not None and bias is None and beta != 1.0):
        return False
    if trans_a and (a.shape is None or len(a.shape) != 2):
        return False
    if trans_a:  # A^T as its own TRANSPOSE kernel
        transpose = ir.node("Transpose", [a], attributes={"perm": [1, 0]}, name=f"{gemm.name}/transpose_a")
        transpose.outputs[0].name = unique_name(graph, f"{a.name}_transposed")
        set_static(transpose.outputs[0], (int(a.shape[1]), int(a.shape[0])), a.dtype)
        graph.insert_before(gemm, transpose)
        gemm.replace_input_with(0, transpose.outputs[0])
    stored = alpha * (weight if trans_b else weight.T)
    gemm.replace_input_with(1, add_initializer(graph, stored.astype(weight.dtype), f"{b_value.name}_normalized"))
    if bias is not None:
        new_bias = _as_bias(beta * bias, m, n).astype(bias.dtype)
        new_c = add_initializer(graph, new_bias, f"{c_value.name}_normalized")
        if new_bias.ndim == 2:  # one bias per row: FULLY_CONNECTED adds one vector, so an ADD after it
            gemm.replace_input_with(2, None)
            add = ir.node("Add", [out, new_c], name=f"{gemm.name}/bias")
            out.replace_all_uses_with(add.outputs[0], replace_graph_outputs=True)
            add.replace_input_with(0, out)
            name = out.name
            out.name = unique_name(graph, f"{name}_gemm")
            add.outputs[0].name = name
            set_static(add.outputs[0], (m, n), out.dtype)
            graph.insert_after(gemm, add)
        else:
            gemm.replace_input_with(2, new_c)
    for attr in _attributes():
        attrs[attr.name] = attr
    drop_if_unused(graph, [b_value, c_value])
    return True
