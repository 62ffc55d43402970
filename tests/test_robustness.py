"""The reliability contract piece by piece: runtimes behind one guard, TFLM in a child, checks at the door, output paths."""

from __future__ import annotations

import functools
import os

import numpy as np
import onnx
import pytest
from onnx import helper

import mcugraph
from mcugraph.atomic import atomic_write_bytes, check_output_path
from mcugraph.errors import (
    InvalidModelError,
    ModelLoadError,
    OutputPathError,
    RuntimeFailure,
    ShapeError,
)
from mcugraph.memory.tflite_graph import read_model
from mcugraph.tflite import schema as tfl
from mcugraph.tflite import tflm

CONV = """
<ir_version: 8, opset_import: ["" : 17]>
conv (float[1, 2, 4, 4] x) => (float[1, 2, 4, 4] y)
<float[2, 2, 1, 1] w = {1, 0, 0, 1}>
{
    r = Relu(x)
    y = Conv(r, w)
}
"""


def conv_proto() -> onnx.ModelProto:
    return onnx.parser.parse_model(CONV)


@functools.cache
def _conv_tflite() -> bytes:
    return mcugraph.optimize(conv_proto(), calib="random:0,1,8", verify=False, warn=lambda m: None).tflite


def conv_tflite():
    """An int8 .tflite of :data:`CONV` as a mutable ``ModelT`` (exported once per session)."""
    return tfl.read(_conv_tflite())


# ------------------------------------------------------------------------------------------- third-party runtimes

def test_onnxruntime_failure_is_one_line_runtime_failure():
    """An onnxruntime refusal (here: a graph input fed the wrong rank) raises RuntimeFailure, one line, no C++ paths."""
    from mcugraph.runtime import run_onnx

    with pytest.raises(RuntimeFailure, match="onnxruntime failed running the model") as info:
        run_onnx(conv_proto(), {"x": np.zeros((1, 2), np.float32)})
    assert "\n" not in str(info.value) and "onnxruntime_src" not in str(info.value)


def test_tflm_segfault_is_an_error_and_the_child_restarts():
    """An operator input index far out of range makes TFLM segfault: the child dies, this process gets an error."""
    model = conv_tflite()
    model.subgraphs[0].operators[-1].inputs[0] = 10**7
    with pytest.raises(RuntimeFailure, match=r"TFLite Micro crashed on this model \(SIG"):
        tflm.arena_head(tfl.pack(model), "bad.tflite")
    assert tflm.arena_head(_conv_tflite()) > 0  # a fresh child serves the next call


def test_tflm_timeout_is_an_error(monkeypatch):
    """A request that runs past $MCUGRAPH_TFLM_TIMEOUT_S is killed and reported as timed out."""
    tflm.arena_head(_conv_tflite())  # the child is up: the limit below times the request, not the start
    monkeypatch.setenv(tflm.TIMEOUT_ENV, "0.01")
    many = [[np.zeros((1, 4, 4, 2), np.int8)]] * 20_000  # far more than 10 ms of work, even on a fast machine
    with pytest.raises(RuntimeFailure, match="TFLite Micro timed out on this model"):
        tflm.run_tflm_batch(_conv_tflite(), many)
    monkeypatch.delenv(tflm.TIMEOUT_ENV)
    assert tflm.arena_head(_conv_tflite()) > 0


def test_tflm_refusal_is_runtime_failure():
    """A model TFLM refuses without crashing (an int8 conv filter without scales) is RuntimeFailure naming TFLM."""
    model = conv_tflite()
    conv = model.subgraphs[0].operators[-1]
    model.subgraphs[0].tensors[conv.inputs[1]].quantization = None
    with pytest.raises(RuntimeFailure, match="TFLite Micro failed running the model: RuntimeError"):
        tflm.run_tflm(tfl.pack(model), [np.zeros((1, 4, 4, 2), np.float32)])


# ------------------------------------------------------------------------------------------- .tflite at the door

def _set(path: str, value):
    def mutate(model):
        target = model
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else getattr(target, part)
        if last.isdigit():
            target[int(last)] = value
        else:
            setattr(target, last, value)
    return mutate


TFLITE_DAMAGE = {
    "schema version 2": _set("version", 2),
    "opcode index 99": _set("subgraphs.0.operators.0.opcodeIndex", 99),
    "input tensor index 500": _set("subgraphs.0.operators.0.inputs.0", 500),
    "output tensor index -1": _set("subgraphs.0.operators.0.outputs.0", -1),
    "graph input index 77": _set("subgraphs.0.inputs.0", 77),
    "graph output index -3": _set("subgraphs.0.outputs.0", -3),
    "buffer index 4096": _set("subgraphs.0.tensors.0.buffer", 4096),
    "tensor type 99": _set("subgraphs.0.tensors.0.type", 99),
    "scale nan is not a positive number": _set("subgraphs.0.tensors.0.quantization.scale", np.array([np.nan], np.float32)),
    "zero point 300 is outside -128..127": _set("subgraphs.0.tensors.0.quantization.zeroPoint", np.array([300])),
    "needs 4,294,967,296 bytes": _set("subgraphs.0.tensors.0.shape", np.array([1, 65536, 65536, 1], np.int32)),
}


@pytest.mark.parametrize("expected", TFLITE_DAMAGE)
def test_corrupt_tflite_is_named_before_anything_reads_it(expected):
    """Every index and size of a .tflite is checked at the door: the error names the field and the bad value."""
    model = conv_tflite()
    TFLITE_DAMAGE[expected](model)
    with pytest.raises(InvalidModelError, match=expected):
        read_model(tfl.pack(model), "m.tflite")


def test_constant_buffer_shorter_than_its_shape_is_refused():
    """A weight buffer with fewer bytes than its shape needs is named (TFLM would read past it)."""
    model = conv_tflite()
    tensor = next(t for t in model.subgraphs[0].tensors if model.buffers[t.buffer].data is not None
                  and len(model.buffers[t.buffer].data) > 1)
    model.buffers[tensor.buffer].data = model.buffers[tensor.buffer].data[:1]
    with pytest.raises(InvalidModelError, match="constant data holds 1 bytes"):
        read_model(tfl.pack(model), "m.tflite")


def test_intact_tflite_passes_the_checks():
    """The check accepts what mcugraph writes (it must be able to say yes)."""
    assert read_model(_conv_tflite()).subgraphs


# ------------------------------------------------------------------------------------------- ONNX at the door

def _damaged(kind: str) -> onnx.ModelProto:
    proto = conv_proto()
    g = proto.graph
    if kind == "ir0":
        proto.ir_version = 0
    elif kind == "ir99":
        proto.ir_version = 99
    elif kind == "opset5":
        proto.opset_import[0].version = 5
    elif kind == "opset99":
        proto.opset_import[0].version = 99
    elif kind == "duplicate":
        g.node[0].name = g.node[1].name = "same"
    elif kind == "negative-dim":
        g.initializer[0].dims[0] = -1
    elif kind == "undeclared":
        g.node[1].attribute.append(helper.make_attribute("bogus", 3))
    elif kind == "batch0":
        g.input[0].type.tensor_type.shape.dim[0].dim_value = 0
    return proto


@pytest.mark.parametrize("kind, error, words", [
    ("ir0", ModelLoadError, "IR version 0"),
    ("ir99", ModelLoadError, "IR version 99"),
    ("opset5", ModelLoadError, "opset 5 is outside"),
    ("opset99", ModelLoadError, "opset 99 is outside"),
    ("duplicate", InvalidModelError, "node name.*'same'"),
    ("negative-dim", InvalidModelError, "negative dimension"),
    ("undeclared", InvalidModelError, "Unrecognized attribute: bogus"),
    ("batch0", ShapeError, "dimension 0 is 0"),
])
def test_invalid_onnx_is_refused_at_the_door(kind, error, words):
    """Models onnxruntime rejects are refused by mcugraph.load with a one-line error saying what is wrong."""
    with pytest.raises(error, match=words) as info:
        mcugraph.load(_damaged(kind))
    assert "\n" not in str(info.value)


def test_unsorted_nodes_are_still_accepted():
    """The checker needs topological order; mcugraph sorts first, so a reversed node list still loads."""
    proto = conv_proto()
    nodes = list(proto.graph.node)[::-1]
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    assert [n.op_type for n in mcugraph.load(proto).graph] == ["Relu", "Conv"]


# ------------------------------------------------------------------------------------------- output paths

def test_output_paths_refused(tmp_path):
    """Empty, a folder, under a file, the input itself: each refused with OutputPathError before any work."""
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    for target, words in (("", "empty"), (str(tmp_path), "is a folder"), (str(model / "x.tflite"), "is a file"),
                          (str(model), "is also the input")):
        with pytest.raises(OutputPathError, match=words):
            check_output_path(target, [str(model)])


def test_device_or_pipe_output_is_refused(tmp_path):
    """-o onto a pipe (or /dev/null) is refused: os.replace would swap the special file for a regular one."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputPathError, match="not a regular file"):
        check_output_path(fifo)
    assert not fifo.is_file()


def test_missing_parent_folder_is_created(tmp_path):
    """A missing parent folder is created (documented in docs/reliability.md)."""
    path = atomic_write_bytes(tmp_path / "new" / "deeper" / "x.bin", b"abc")
    assert path.read_bytes() == b"abc"


def test_unwritable_target_is_one_line_error(tmp_path):
    """A write the OS refuses (here /proc, read-only even for root) is OutputPathError, and nothing is left."""
    with pytest.raises(OutputPathError, match="cannot write there"):
        atomic_write_bytes("/proc/mcugraph-test.bin", b"abc")
    assert not os.path.exists("/proc/mcugraph-test.bin")


def test_cli_refuses_output_equal_to_input(tmp_path, capsys):
    """`-o` naming the input model is refused, and the input is left as it was."""
    from mcugraph.cli.main import main

    path = tmp_path / "m.onnx"
    onnx.save(conv_proto(), path)
    before = path.read_bytes()
    assert main(["opt", str(path), "-o", str(path), "--calib", "random:0,1,4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is also the input" in err[0]
    assert path.read_bytes() == before


def test_usage_error_is_one_line(capsys):
    """argparse's usage errors follow the contract too: one line, exit 2."""
    from mcugraph.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["opt", "m.onnx", "-o", "x.tflite", "--verify-min-sqnr", "lots"])
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcugraph opt: error: ")


def test_non_utf8_names_are_refused(tmp_path, capsys):
    """A node name that is not UTF-8 (protobuf hands it back as bytes) is refused at the door, not in --json."""
    from mcugraph.cli.main import main

    proto = conv_proto()
    proto.graph.node[0].name = "RELUNAME"
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString().replace(b"RELUNAME", b"RELU\xff\xfeME"))
    assert main(["analyze", str(path), "--json", "-"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "not UTF-8 text" in lines[0]


def test_offline_plan_offset_beyond_int32_is_refused():
    """An arena offset past 2 GiB is a one-line error, not numpy's OverflowError while packing the plan."""
    from mcugraph.tflite.offline_plan import ONLINE, write_offline_plan

    model = conv_tflite()
    offsets = [ONLINE] * len(model.subgraphs[0].tensors)
    offsets[model.subgraphs[0].outputs[0]] = 2**31
    with pytest.raises(InvalidModelError, match="does not fit TFLM's int32 plan"):
        write_offline_plan(model, offsets)
