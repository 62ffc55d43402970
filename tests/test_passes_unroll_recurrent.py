"""unroll-recurrent (LSTM, GRU unrolled into FC/ADD/MUL/LOGISTIC/TANH) and gather-to-slice, checked against
onnxruntime's LSTM/GRU (gate orders iofc / zrh, both linear_before_reset) and torch's two exporters."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import helper
from passes_check import model, ops, rewrites, unchanged
from torch import nn
from torch_export import EXPORTERS, export

import mcugraph
from mcugraph.errors import UnsupportedOpError
from mcugraph.registry import create_pass
from mcugraph.tflite.schema import builtin_name, opcode_builtin, read

GATES = {"LSTM": 4, "GRU": 3}


def _rnn(op: str, steps: int = 3, inputs: int = 4, hidden: int = 5, batch: int = 1, outputs=("Y", "Y_h"),
         state: str | None = None, **attrs) -> onnx.ModelProto:
    """One LSTM/GRU node with random weights; ``state``: None, "const" (initializers) or "input" (graph inputs)."""
    rng = np.random.default_rng(0)
    g = GATES[op] * hidden
    n = 2 if attrs.get("direction") == "bidirectional" else 1
    consts = {"W": rng.uniform(-1, 1, (n, g, inputs)), "R": rng.uniform(-1, 1, (n, g, hidden)),
              "B": rng.uniform(-1, 1, (n, 2 * g))}
    graph_inputs = [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [steps, batch, inputs])]
    names = ["X", "W", "R", "B", "", "h0"] + (["c0"] if op == "LSTM" else [])
    for s in names[5:]:
        if state == "const":
            consts[s] = rng.uniform(-1, 1, (n, batch, hidden))
        elif state == "input":
            graph_inputs.append(helper.make_tensor_value_info(s, onnx.TensorProto.FLOAT, [n, batch, hidden]))
    if state is None:
        names = names[:4]
    all_outputs = ["Y", "Y_h", "Y_c"][: 3 if op == "LSTM" else 2]
    node = helper.make_node(op, names, [o if o in outputs else "" for o in all_outputs], name=f"{op.lower()}0",
                            hidden_size=hidden, **attrs)
    while node.output and node.output[-1] == "":
        node.output.pop()
    graph = helper.make_graph(
        [node], "rnn", graph_inputs, [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outputs],
        [onnx.numpy_helper.from_array(v.astype(np.float32), k) for k, v in consts.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("state", [None, "const", "input"])
@pytest.mark.parametrize(("op", "attrs"), [
    ("LSTM", {}), ("GRU", {"linear_before_reset": 1}), ("GRU", {"linear_before_reset": 0}),
])
def test_unrolled_cells_match_onnxruntime(op, attrs, state, direction):
    """Y, Y_h (and Y_c) of the unrolled cell equal onnxruntime's LSTM/GRU, from zero, constant or fed states,
    in each direction."""
    outputs = ("Y", "Y_h", "Y_c") if op == "LSTM" else ("Y", "Y_h")
    proto = _rnn(op, outputs=outputs, state=state, direction=direction, **attrs)
    m = rewrites("unroll-recurrent", mcugraph.load(proto))
    assert op not in ops(m) and "Gemm" in ops(m)


def test_only_the_read_output_is_built():
    """Only Y_h is read: the steps' outputs are not concatenated."""
    m = rewrites("unroll-recurrent", mcugraph.load(_rnn("LSTM", outputs=("Y_h",))))
    assert "Concat" not in ops(m) and "Reshape" in ops(m)


def test_first_step_terms_on_the_zero_state_are_folded():
    """From a zero state the first step has no hidden FC: T steps need 1 + (T - 1) Gemm."""
    m = rewrites("unroll-recurrent", mcugraph.load(_rnn("LSTM", steps=4)))
    assert ops(m).count("Gemm") == 4


@pytest.mark.parametrize(("attrs", "batch", "match"), [
    ({"clip": 3.0}, 1, "cell clipping"),
    ({}, 2, "batch 2"),
    ({"activations": ["Sigmoid", "Relu", "Tanh"]}, 1, "activations"),
    ({"layout": 1}, 1, "layout 1"),
])
def test_unsupported_variants_are_refused_naming_the_node(attrs, batch, match):
    """Variants the unrolling does not handle raise UnsupportedOpError with node, op and what is wrong."""
    proto = _rnn("LSTM", batch=batch, **attrs)
    with pytest.raises(UnsupportedOpError, match=f"lstm0.*LSTM.*{match}"):
        create_pass("unroll-recurrent")(mcugraph.load(proto))


def test_model_without_recurrent_nodes_is_unchanged():
    """A graph without LSTM/GRU is left alone."""
    unchanged("unroll-recurrent", model("""
        <ir_version: 8, opset_import: ["" : 14]>
        g (float[1, 4] x) => (float[1, 4] y) { y = Tanh(x) }
    """))


def test_gather_of_a_constant_index_is_a_slice():
    """Gather(x, -1, axis=1) (torch's y[:, -1]) is Slice + Squeeze; a 1-element index vector keeps the axis."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 5, 3] x) => (float[1, 3] y, float[1, 1, 3] z) <int64 last = {-1}, int64[1] two = {2}> {
            y = Gather <axis = 1> (x, last)
            z = Gather <axis = 1> (x, two)
        }
    """)
    assert ops(rewrites("gather-to-slice", m)) == ["Slice", "Squeeze", "Slice"]


def test_gather_of_several_indices_is_kept():
    """An embedding-style Gather of a vector of indices stays a Gather."""
    unchanged("gather-to-slice", model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[4, 3] x) => (float[2, 3] y) <int64[2] idx = {0, 2}> { y = Gather(x, idx) }
    """))


class Recurrent(nn.Module):
    """A sequence classifier: recurrent layers, the last step into a Linear."""

    def __init__(self, cell: type[nn.Module], **options):
        super().__init__()
        self.rnn = cell(3, 6, batch_first=True, **options)
        self.fc = nn.Linear(12 if options.get("bidirectional") else 6, 2)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


@pytest.mark.parametrize(("cell", "options", "exporter"), [
    *((cell, {}, exporter) for cell in (nn.GRU, nn.LSTM) for exporter in EXPORTERS),
    (nn.GRU, {"bidirectional": True}, "legacy"),  # one exporter: the directions are checked against onnxruntime
])
def test_torch_recurrent_nets_export_and_verify(cell, options, exporter, tmp_path):
    """torch LSTM/GRU from both exporters (and a bidirectional GRU): int8 .tflite verified in TFLM/LiteRT,
    arena head == prediction."""
    torch.manual_seed(0)
    m = export(Recurrent(cell, **options), torch.randn(1, 4, 3), exporter, tmp_path, key=f"{cell.__name__}{options}")
    result = mcugraph.optimize(m, calib="random:-1,1,16")
    assert result.report["arena_head_bytes"] == result.report["predicted_arena_bytes"]
    assert result.report["verification"]["sqnr_db"] > 20
    # Every step's hidden FULLY_CONNECTED reads the same int8 R: the .tflite stores it once per direction (plus
    # the input projection's W per direction and the classifier's weights).
    tflite = read(result.tflite)
    sub = tflite.subgraphs[0]
    fc = [op for op in sub.operators if builtin_name(opcode_builtin(tflite.operatorCodes[op.opcodeIndex]))
          == "FULLY_CONNECTED"]
    weight_buffers = [sub.tensors[op.inputs[1]].buffer for op in fc]
    directions = 2 if options.get("bidirectional") else 1
    assert len(set(weight_buffers)) == 2 * directions + 1 < len(weight_buffers)
