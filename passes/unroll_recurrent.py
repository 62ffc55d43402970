"""``unroll-recurrent``: ONNX LSTM and GRU unrolled over their static sequence into FC/ADD/MUL/LOGISTIC/TANH."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.errors import UnsupportedOpError
from mcugraph.passes._rewrite import add_initializer, constant_array, remove_node, set_static
from mcugraph.registry import register

_DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}
_GATES = {"LSTM": 4, "GRU": 3}


@register
@dataclasses.dataclass(frozen=True)
class UnrollRecurrentPass(ir.passes.InPlacePass):
    """Rewrite a batch-1 ``LSTM`` or ``GRU`` with a static sequence length T as T copies of its
    cell (TFLM has no GRU kernel, and its UNIDIRECTIONAL_SEQUENCE_LSTM needs int16 state and many more
    quantisation parameters than mcugraph writes today).

    The input projection of all steps is one ``Gemm`` (FULLY_CONNECTED) over ``X`` as ``(T, input)``, with
    ``Wb`` (and, for LSTM, ``Rb``) in its bias; each step slices its row. Per step, with ``hr = Gemm(h, R)``:

    * LSTM (gates i, o, f, c):  ``g = xw_t + hr``; ``i, o, f = Sigmoid(g[:3H])`` sliced; ``c~ = Tanh(g[3H:])``;
      ``C = f * C + i * c~``; ``H = o * Tanh(C)``.
    * GRU (gates z, r, h), ``hr`` with bias ``Rb``: ``z, r = Sigmoid(xw_t[:2H] + hr[:2H])`` sliced;
      ``h~ = Tanh(xw_t[2H:] + r * hr[2H:])`` when ``linear_before_reset`` (torch), else
      ``Tanh(xw_t[2H:] + Gemm(r * H, Rh) + Rbh)``; ``H = h~ + z * (H - h~)`` (= ``(1 - z) h~ + z H``).

    Terms on a constant state (a missing or constant initial state: the first step) are computed here, and
    products with zeros are dropped. ``Y`` is a ``Concat`` of the steps' ``H`` reshaped to its shape; ``Y_h``,
    ``Y_c`` reshape the last ones; only outputs something reads are built.

    Directions "reverse" and "bidirectional" run the steps backwards for the reverse weights (``Y[t, 1]`` is the
    backward state after step t, ``Y_h[1]`` the one after step 0).

    Refuses (UnsupportedOpError naming node and op): batch other than 1,
    ``layout`` 1 (onnxruntime, the reference the rewrite is tested against, does not run it),
    a sequence length input that is not the constant T, non-default activations, ``clip``, ``input_forget``,
    peepholes, non-constant weights. Stack several layers as several nodes: each is unrolled on its own.
    """

    name: ClassVar[str] = "unroll-recurrent"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        modified = False
        for node in list(graph):
            if node.op_type not in _GATES or node.domain not in ("", "ai.onnx"):
                continue
            _check(node)
            _Unroller(graph, node).run()
            modified = True
        return ir.passes.PassResult(model, modified)


def _refuse(node: ir.Node, what: str) -> UnsupportedOpError:
    return UnsupportedOpError(
        f"node '{node.name}' ({node.op_type}): {what}; only batch-1 {node.op_type} with the default "
        "activations is unrolled for TFLite Micro"
    )


def _check(node: ir.Node) -> None:
    attrs = node.attributes
    if "clip" in attrs:
        raise _refuse(node, "cell clipping")
    if attrs.get("input_forget") is not None and attrs["input_forget"].as_int():
        raise _refuse(node, "input_forget")
    directions = 2 if attrs.get("direction") is not None and attrs["direction"].as_string() == "bidirectional" else 1
    default = _DEFAULT_ACTIVATIONS[node.op_type] * directions
    if "activations" in attrs and list(attrs["activations"].as_strings()) != default:
        raise _refuse(node, f"activations {list(attrs['activations'].as_strings())}")
    x = node.inputs[0]
    layout = attrs["layout"].as_int() if "layout" in attrs else 0
    if layout != 0:
        raise _refuse(node, "layout 1 (onnxruntime, the reference, cannot run it either)")
    if x.shape is None or not all(isinstance(d, int) for d in x.shape):
        raise _refuse(node, "an input without a static shape")
    steps, batch = x.shape[0], x.shape[1]
    if batch != 1:
        raise _refuse(node, f"batch {batch}")
    for index in (1, 2, 3):
        if index < len(node.inputs) and node.inputs[index] is not None and constant_array(node.inputs[index]) is None:
            raise _refuse(node, f"non-constant weights (input {index})")
    if len(node.inputs) > 4 and node.inputs[4] is not None:
        lengths = constant_array(node.inputs[4])
        if lengths is None or not np.all(lengths == steps):
            raise _refuse(node, "a sequence_lens input other than the constant sequence length")
    if node.op_type == "LSTM" and len(node.inputs) > 7 and node.inputs[7] is not None:
        peepholes = constant_array(node.inputs[7])
        if peepholes is None or np.any(peepholes):
            raise _refuse(node, "peephole connections")


class _Unroller:
    """Emits the unrolled cell for one LSTM/GRU node; values that are still numpy constants fold on the fly."""

    def __init__(self, graph: ir.Graph, node: ir.Node):
        self.graph, self.node = graph, node
        self.base = node.name or node.outputs[0].name
        self.dtype = node.inputs[0].dtype
        self.np_dtype = self.dtype.numpy()
        self.new_nodes: list[ir.Node] = []
        self.consts: dict[tuple, ir.Value] = {}
        self.weights, self.recurrences = (constant_array(v) for v in node.inputs[1:3])
        self.directions, _, self.hidden = self.recurrences.shape
        gates = _GATES[node.op_type] * self.hidden
        b = constant_array(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3] is not None else None
        self.biases = np.zeros((self.directions, 2 * gates), self.np_dtype) if b is None else b
        self.steps = node.inputs[0].shape[0]
        direction = node.attributes["direction"].as_string() if "direction" in node.attributes else "forward"
        self.reversed = [direction == "reverse" or d == 1 for d in range(self.directions)]
        self.direction(0)

    def direction(self, d: int) -> None:
        """Make the weights of direction ``d`` (0: forward, 1: the backward half of a bidirectional node) current."""
        gates = _GATES[self.node.op_type] * self.hidden
        self.d, self.w, self.r = d, self.weights[d], self.recurrences[d]
        self.wb, self.rb = self.biases[d][:gates], self.biases[d][gates:]

    # --- emitting ------------------------------------------------------------------------------------------
    def const(self, array: np.ndarray, tag: str) -> ir.Value:
        """An initializer holding ``array``; every step reuses one (weights are stored once in the .tflite)."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.consts:
            self.consts[key] = add_initializer(self.graph, array, f"{self.base}/{tag}")
        return self.consts[key]

    def emit(self, op: str, inputs: list, shape: tuple[int, ...], tag: str, **attrs) -> ir.Value:
        values = [v if isinstance(v, ir.Value) else self.const(np.asarray(v, self.np_dtype), f"{tag}_const") for v in inputs]
        node = ir.node(op, values, attributes=attrs or None, name=f"{self.base}/{tag}")
        node.outputs[0].name = f"{self.base}/{tag}"
        set_static(node.outputs[0], shape, self.dtype)
        self.new_nodes.append(node)
        return node.outputs[0]

    def binary(self, op: str, a, b, tag: str):
        if not isinstance(a, ir.Value) and not isinstance(b, ir.Value):
            return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}[op](a, b).astype(self.np_dtype)
        if op == "Mul" and any(not isinstance(v, ir.Value) and not np.any(v) for v in (a, b)):
            return np.zeros((1, self.width(a, b)), self.np_dtype)
        if op == "Add" and not isinstance(b, ir.Value) and not np.any(b):
            return a
        if op == "Add" and not isinstance(a, ir.Value) and not np.any(a):
            return b
        return self.emit(op, [a, b], (1, self.width(a, b)), tag)

    @staticmethod
    def width(*values) -> int:
        return max(int(v.shape[-1]) for v in values)

    def unary(self, op: str, a, tag: str):
        if not isinstance(a, ir.Value):
            return (1 / (1 + np.exp(-a)) if op == "Sigmoid" else np.tanh(a)).astype(self.np_dtype)
        return self.emit(op, [a], (1, int(a.shape[-1])), tag)

    def columns(self, a, start: int, stop: int, tag: str, row: int = 0):
        """``a[row:row+1, start:stop]``."""
        if not isinstance(a, ir.Value):
            return a[row:row + 1, start:stop]
        starts = self.const(np.array([row, start], np.int64), f"{tag}_starts")
        ends = self.const(np.array([row + 1, stop], np.int64), f"{tag}_ends")
        return self.emit("Slice", [a, starts, ends], (1, stop - start), tag)

    def gemm(self, a, weight: np.ndarray, bias: np.ndarray | None, tag: str):
        """``a @ weight.T + bias`` (FULLY_CONNECTED)."""
        if not isinstance(a, ir.Value):
            out = a @ weight.T
            return (out if bias is None else out + bias).astype(self.np_dtype)
        inputs = [a, self.const(weight.astype(self.np_dtype), f"{tag}_w")]
        if bias is not None:
            inputs.append(self.const(bias.astype(self.np_dtype), f"{tag}_b"))
        return self.emit("Gemm", inputs, (int(a.shape[0]), weight.shape[0]), tag, transB=1)

    def reshape(self, a: ir.Value, shape: tuple[int, ...], tag: str) -> ir.Value:
        target = self.const(np.array(shape, np.int64), f"{tag}_shape")
        return self.emit("Reshape", [a, target], shape, tag)

    def initial_state(self, index: int):
        """Input ``index`` (initial_h / initial_c) of the current direction as a (1, H) state: zeros when absent,
        numpy when constant."""
        value = self.node.inputs[index] if index < len(self.node.inputs) else None
        if value is None:
            return np.zeros((1, self.hidden), self.np_dtype)
        array = constant_array(value)
        if array is not None:
            return array[self.d].reshape(1, self.hidden).astype(self.np_dtype)
        if self.directions > 1:
            starts, ends, axes = (self.const(np.array([v], np.int64), f"d{self.d}/state{index}_{k}")
                                  for k, v in (("start", self.d), ("end", self.d + 1), ("axis", 0)))
            value = self.emit("Slice", [value, starts, ends, axes], (1, 1, self.hidden), f"d{self.d}/state{index}")
        return self.reshape(value, (1, self.hidden), f"d{self.d}/state{index}_2d")

    # --- the cells -----------------------------------------------------------------------------------------
    def run(self) -> None:
        node = self.node
        x2 = self.reshape(node.inputs[0], (self.steps, int(node.inputs[0].shape[-1])), "x")
        lstm = node.op_type == "LSTM"
        outputs: list[list] = [[None] * self.directions for _ in range(self.steps)]  # [t][d]: H of that step
        last_h, last_c = [], []
        for d in range(self.directions):
            self.direction(d)
            xw = self.gemm(x2, self.w, self.wb + self.rb if lstm else self.wb, f"d{d}/xw")
            h = self.initial_state(5)
            c = self.initial_state(6) if lstm else None
            for t in (reversed(range(self.steps)) if self.reversed[d] else range(self.steps)):
                if lstm:
                    h, c = self.lstm_cell(xw, t, h, c, f"d{d}/t{t}")
                else:
                    h = self.gru_cell(xw, t, h, f"d{d}/t{t}")
                outputs[t][d] = h
            last_h.append(h)
            last_c.append(c)
        self.finish([h for step in outputs for h in step], last_h, last_c)

    def lstm_cell(self, xw: ir.Value, t: int, h, c, tag: str):
        hid = self.hidden
        xw_t = self.columns(xw, 0, 4 * hid, f"{tag}/xw", row=t)
        gates = self.binary("Add", xw_t, self.gemm(h, self.r, None, f"{tag}/hr"), f"{tag}/gates")
        sig = self.unary("Sigmoid", self.columns(gates, 0, 3 * hid, f"{tag}/iof_in"), f"{tag}/iof")
        i, o, f = (self.columns(sig, k * hid, (k + 1) * hid, f"{tag}/{n}") for k, n in enumerate("iof"))
        cand = self.unary("Tanh", self.columns(gates, 3 * hid, 4 * hid, f"{tag}/c_in"), f"{tag}/c_cand")
        c = self.binary("Add", self.binary("Mul", f, c, f"{tag}/keep"), self.binary("Mul", i, cand, f"{tag}/write"),
                        f"{tag}/c")
        h = self.binary("Mul", o, self.unary("Tanh", c, f"{tag}/c_tanh"), f"{tag}/h")
        return h, c

    def gru_cell(self, xw: ir.Value, t: int, h, tag: str):
        hid = self.hidden
        linear_before_reset = self.node.attributes.get("linear_before_reset")
        lbr = linear_before_reset is not None and linear_before_reset.as_int() == 1
        r_zr, rb_zr = self.r[:2 * hid], self.rb[:2 * hid]
        hr_zr = self.gemm(h, r_zr, rb_zr, f"{tag}/hr_zr") if not lbr else None
        if lbr:  # one FC for all three gates: h~ needs r * (h Rh + Rbh)
            hr = self.gemm(h, self.r, self.rb, f"{tag}/hr")
            hr_zr = self.columns(hr, 0, 2 * hid, f"{tag}/hr_zr")
        zr_in = self.binary("Add", self.columns(xw, 0, 2 * hid, f"{tag}/xw_zr", row=t), hr_zr, f"{tag}/zr_in")
        zr = self.unary("Sigmoid", zr_in, f"{tag}/zr")
        z, r = self.columns(zr, 0, hid, f"{tag}/z"), self.columns(zr, hid, 2 * hid, f"{tag}/r")
        if lbr:
            reset = self.binary("Mul", r, self.columns(hr, 2 * hid, 3 * hid, f"{tag}/hr_h"), f"{tag}/reset")
        else:
            reset_h = self.binary("Mul", r, h, f"{tag}/reset_h")
            reset = self.gemm(reset_h, self.r[2 * hid:], self.rb[2 * hid:], f"{tag}/reset")
        cand_in = self.binary("Add", self.columns(xw, 2 * hid, 3 * hid, f"{tag}/xw_h", row=t), reset, f"{tag}/h_in")
        cand = self.unary("Tanh", cand_in, f"{tag}/h_cand")
        delta = self.binary("Sub", h, cand, f"{tag}/delta")
        return self.binary("Add", cand, self.binary("Mul", z, delta, f"{tag}/update"), f"{tag}/h")

    def stacked(self, values: list, out: ir.Value, tag: str) -> ir.Value:
        """``values`` (each (1, H)) concatenated along axis 0 and reshaped to ``out``'s shape: row-major order
        puts step t, direction d at ``Y[t, d, 0, :]`` and direction d's last state at ``Y_h[d, 0, :]``."""
        values = [v if isinstance(v, ir.Value) else self.const(v, f"{tag}_const") for v in values]
        joined = values[0] if len(values) == 1 else self.emit(
            "Concat", values, (len(values), self.hidden), f"{tag}_rows", axis=0)
        return self.reshape(joined, tuple(out.shape), tag)

    def finish(self, outputs: list, last_h: list, last_c: list) -> None:
        """Replace the node's read outputs: ``outputs`` in (step, direction) order, the last states per direction."""
        node, graph = self.node, self.graph
        results: list[tuple[ir.Value, ir.Value]] = []
        for index, values in enumerate((outputs, last_h, last_c)):
            out = node.outputs[index] if index < len(node.outputs) else None
            if out is not None and (out.uses() or out.is_graph_output()):
                results.append((out, self.stacked(values, out, ("y", "y_h", "y_c")[index])))
        graph.insert_before(node, self.new_nodes)
        for old, new in results:
            name = old.name
            old.replace_all_uses_with(new, replace_graph_outputs=True)
            old.name = f"{name}__replaced"
            new.name = name
        remove_node(graph, node)
