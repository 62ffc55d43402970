"""A seeded mutation fuzzer for mcugraph's front doors, shared by ``tests/test_fuzz.py`` and ``benchmarks/fuzz.py``.

Mutants are made from small valid models: byte-level (flips, truncation, inserted junk) and structure-level
(ONNX: deleted or rewired nodes, nonsense attributes, bad dims, NaN/Inf weights, wrong opsets and IR versions,
duplicate names; TFLite: out-of-range opcode/tensor/buffer indices, bad shapes, types and versions, short buffers,
garbage offline plans). :func:`run_case` calls the CLI's ``main`` in-process and classifies the outcome against
the contract: exit 0, or exit 2 with exactly one ``mcugraph CMD: error:`` line on stderr and no output file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import random
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

Mutant = tuple[str, bytes]  # (what was done, the mutated file)


# ---------------------------------------------------------------------------------------------------- byte level

def byte_mutants(data: bytes, rng: random.Random) -> Mutant:
    kind = rng.choice(("flip", "flip", "truncate", "insert", "zero-run"))
    b = bytearray(data)
    if kind == "flip":
        for _ in range(rng.choice((1, 2, 4, 16))):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        b = b[: rng.randrange(len(b))]
    elif kind == "insert":
        i = rng.randrange(len(b))
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
    else:
        i = rng.randrange(len(b))
        b[i : i + rng.randrange(1, 17)] = bytes(16)
    return f"bytes:{kind}", bytes(b)


# ---------------------------------------------------------------------------------------------------- ONNX

def _onnx_structure(proto: onnx.ModelProto, rng: random.Random) -> str:
    g = proto.graph
    nodes = list(g.node)
    kind = rng.choice((
        "delete-node", "rewire", "attribute", "undeclared-attribute", "bad-dim", "nan-weight", "inf-weight",
        "opset", "ir-version", "duplicate-name", "batch-zero", "initializer-dim", "drop-initializer",
        "swap-inputs", "op-type", "output-name", "huge-dim",
    ))
    node = rng.choice(nodes) if nodes else None
    if kind == "delete-node" and node is not None:
        g.node.remove(node)
    elif kind == "rewire" and node is not None and node.input:
        names = [v.name for v in g.input] + [t.name for t in g.initializer] + [o for n in nodes for o in n.output]
        node.input[rng.randrange(len(node.input))] = rng.choice([*names, "nowhere"])
    elif kind == "attribute" and node is not None and node.attribute:
        attr = rng.choice(list(node.attribute))
        if attr.ints:
            attr.ints[rng.randrange(len(attr.ints))] = rng.choice((-7, 0, 1 << 40, 3))
            if rng.random() < 0.3:
                del attr.ints[-1]
        elif attr.type == onnx.AttributeProto.INT:
            attr.i = rng.choice((-7, 0, 1 << 40, 99))
        elif attr.type == onnx.AttributeProto.FLOAT:
            attr.f = rng.choice((float("nan"), float("inf"), -1.0, 0.0))
        else:
            attr.type = onnx.AttributeProto.INTS
    elif kind == "undeclared-attribute" and node is not None:
        node.attribute.append(helper.make_attribute(rng.choice(("bogus", "alpha", "axis")), rng.choice((3, 2.5, "x"))))
    elif kind in ("bad-dim", "batch-zero", "huge-dim"):
        value = rng.choice([*g.input, *g.output])
        dims = value.type.tensor_type.shape.dim
        if dims:
            axis = 0 if kind == "batch-zero" else rng.randrange(len(dims))
            dims[axis].Clear()
            dims[axis].dim_value = {"bad-dim": rng.choice((-1, 0, 7)), "batch-zero": 0}.get(kind, 1 << 33)
    elif kind in ("nan-weight", "inf-weight", "initializer-dim", "drop-initializer") and g.initializer:
        t = rng.choice(list(g.initializer))
        if kind == "drop-initializer":
            g.initializer.remove(t)
        elif kind == "initializer-dim" and t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice((-1, 0, 3))
        else:
            array = numpy_helper.to_array(t).copy()
            if array.dtype.kind == "f" and array.size:
                array.flat[rng.randrange(array.size)] = np.nan if kind == "nan-weight" else np.inf
                t.CopyFrom(numpy_helper.from_array(array, t.name))
    elif kind == "opset":
        proto.opset_import[0].version = rng.choice((1, 7, 11, 25, 999))
    elif kind == "ir-version":
        proto.ir_version = rng.choice((0, 1, 3, 99))
    elif kind == "duplicate-name" and len(nodes) > 1:
        nodes[1].name = nodes[0].name or "n"
        nodes[0].name = nodes[1].name
    elif kind == "swap-inputs" and node is not None and len(node.input) > 1:
        node.input[0], node.input[1] = node.input[1], node.input[0]
    elif kind == "op-type" and node is not None:
        node.op_type = rng.choice(("Relu", "Conv", "Gemm", "Softmax", "Frobnicate", "Add", "Reshape"))
    elif kind == "output-name" and g.output:
        g.output[0].name = rng.choice(("nowhere", g.input[0].name if g.input else "x"))
    return f"onnx:{kind}"


def onnx_mutant(data: bytes, rng: random.Random) -> Mutant:
    """One mutant of the ONNX file ``data``: a third byte-level, two thirds structure-level (sometimes two)."""
    if rng.random() < 1 / 3:
        return byte_mutants(data, rng)
    proto = onnx.ModelProto.FromString(data)
    kinds = [_onnx_structure(proto, rng) for _ in range(1 if rng.random() < 0.8 else 2)]
    return "+".join(kinds), proto.SerializeToString()


# ---------------------------------------------------------------------------------------------------- TFLite

def _tflite_structure(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    from mcugraph.tflite import schema as tfl

    model = tfl.read(data)
    sg = model.subgraphs[0]
    tensors, ops = sg.tensors, sg.operators
    op = rng.choice(ops)
    tensor = rng.choice(tensors)
    kind = rng.choice((
        "opcode-index", "op-input", "op-output", "graph-input", "graph-output", "buffer-index", "shape",
        "tensor-type", "version", "short-buffer", "offline-plan", "quant-scales", "builtin-code", "drop-op",
        "swap-ops", "scale-nan", "huge-shape",
    ))
    big = rng.choice((len(tensors), len(tensors) + 5, 1 << 20, -2, -(1 << 30)))
    if kind == "opcode-index":
        op.opcodeIndex = rng.choice((len(model.operatorCodes), 1 << 20, 200))
    elif kind == "op-input" and op.inputs is not None and len(op.inputs):
        op.inputs[rng.randrange(len(op.inputs))] = big
    elif kind == "op-output" and op.outputs is not None and len(op.outputs):
        op.outputs[rng.randrange(len(op.outputs))] = rng.choice((big, -1))
    elif kind == "graph-input":
        sg.inputs[0] = big
    elif kind == "graph-output":
        sg.outputs[0] = big
    elif kind == "buffer-index":
        tensor.buffer = rng.choice((len(model.buffers), 1 << 24, 0))
    elif kind in ("shape", "huge-shape") and tensor.shape is not None and len(tensor.shape):
        tensor.shape[rng.randrange(len(tensor.shape))] = rng.choice((0, -1, 3, 1 << 30) if kind == "shape" else (1 << 31 - 1,))
    elif kind == "tensor-type":
        tensor.type = rng.choice((0, 2, 5, 9, 17, 99))
    elif kind == "version":
        model.version = rng.choice((0, 2, 4))
    elif kind == "short-buffer":
        full = [b for b in model.buffers if b.data is not None and len(b.data) > 1]
        if full:
            buffer = rng.choice(full)
            buffer.data = buffer.data[: rng.randrange(len(buffer.data))]
    elif kind == "offline-plan":
        from mcugraph.tflite.offline_plan import write_offline_plan

        count = len(tensors)
        offsets = [rng.choice((-1, 0, 16, 1 << 20)) for _ in range(count)]
        try:
            write_offline_plan(model, offsets)
        except ValueError:
            pass
        entry = (model.metadata or [None])[-1]
        if entry is not None and rng.random() < 0.5:
            words = np.frombuffer(np.asarray(model.buffers[entry.buffer].data, np.uint8).tobytes(), "<i4").copy()
            words[rng.randrange(len(words))] = rng.choice((2**31 - 1, -(2**31), 7, 0))
            model.buffers[entry.buffer].data = np.frombuffer(words.tobytes(), np.uint8).copy()
    elif kind in ("quant-scales", "scale-nan") and tensor.quantization is not None and tensor.quantization.scale is not None:
        q = tensor.quantization
        if kind == "scale-nan":
            q.scale = np.array([np.nan] * len(q.scale), np.float32)
        else:
            q.scale = np.ones(len(q.scale) + rng.choice((1, 3)), np.float32)
    elif kind == "builtin-code":
        code = rng.choice(model.operatorCodes)
        code.builtinCode = code.deprecatedBuiltinCode = rng.choice((0, 3, 22, 126))
    elif kind == "drop-op" and len(ops) > 1:
        ops.pop(rng.randrange(len(ops)))
    elif kind == "swap-ops" and len(ops) > 1:
        i, j = rng.sample(range(len(ops)), 2)
        ops[i], ops[j] = ops[j], ops[i]
    return f"tflite:{kind}", tfl.pack(model)


def tflite_mutant(data: bytes, rng: random.Random) -> Mutant:
    """One mutant of the .tflite ``data``: half byte-level, half field-level through the flatbuffer object API."""
    if rng.random() < 0.5:
        return byte_mutants(data, rng)
    return _tflite_structure(data, rng)


# ---------------------------------------------------------------------------------------------------- running

@dataclasses.dataclass(frozen=True)
class Outcome:
    label: str
    argv: tuple[str, ...]
    code: int | None  # None: an exception escaped main (a traceback for the user)
    stderr: str
    output_left: bool  # a failed run left its output file behind
    error: str = ""  # the escaped exception, for the report

    @property
    def broken(self) -> str | None:
        """Why this outcome breaks the contract, or None."""
        if self.code is None:
            return f"traceback: {self.error}"
        if self.code not in (0, 2):
            return f"exit code {self.code}"
        if self.code == 2:
            lines = self.stderr.strip().splitlines()
            # One error line, last; before it only mcugraph's own warnings (random calibration data, ...).
            warnings = all(line.startswith("WARNING") or ": warning: " in line for line in lines[:-1])
            if not lines or ": error: " not in lines[-1] or not warnings or "Traceback" in self.stderr:
                return f"not one error line: {self.stderr[:300]!r}"
            if self.output_left:
                return "output file left behind by a failed run"
        return None


def run_case(
    main: Callable[[list[str]], int], label: str, argv: list[str], output: Path | None, timeout_s: float = 0
) -> Outcome:
    """Run ``main(argv)`` in-process with stdout/stderr captured and classify it (see :class:`Outcome`).

    ``timeout_s`` > 0 interrupts a case running longer (SIGALRM; main thread only) and reports it as a hang.
    """
    err, out = io.StringIO(), io.StringIO()
    code, error = None, ""
    before = _state(output)
    with _native_stderr() as native, contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), \
            _alarm(timeout_s):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = e.code if isinstance(e.code, int) else 2
        except BaseException as e:  # noqa: BLE001 - exactly what the fuzzer looks for
            if isinstance(e, KeyboardInterrupt):
                raise
            error = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
    # A failed run must neither create the output nor touch one that was there before.
    left = code != 0 and _state(output) != before
    return Outcome(label, tuple(argv), code, native.read() + err.getvalue(), left, error)


def _state(path: Path | None) -> tuple | None:
    if path is None or not path.exists():
        return None
    return (path.is_file(), path.read_bytes() if path.is_file() else None)


class _Captured:
    def __init__(self) -> None:
        self.text = ""

    def read(self) -> str:
        return self.text


@contextlib.contextmanager
def _native_stderr():
    """Capture C-level file descriptor 2 too: onnxruntime or TFLite printing there breaks the one-line contract."""
    captured = _Captured()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.text = tmp.read().decode(errors="replace")


class CaseTimeout(BaseException):
    """Raised in a case that ran past its time limit (a BaseException, so no ``except Exception`` swallows it)."""


@contextlib.contextmanager
def _alarm(seconds: float):
    if seconds <= 0:
        yield
        return

    def expire(signum, frame):
        raise CaseTimeout(f"no result after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cases(kind: str, base: bytes, seed: int, count: int) -> Iterator[Mutant]:
    """``count`` mutants of ``base`` (``kind`` "onnx" or "tflite"), reproducible from ``seed``."""
    mutate = onnx_mutant if kind == "onnx" else tflite_mutant
    for i in range(count):
        rng = random.Random(f"{seed}:{i}")
        try:
            yield mutate(base, rng)
        except Exception as e:  # noqa: BLE001 - a mutation the object API cannot pack: use the bytes instead
            yield f"{kind}:unpackable({type(e).__name__})", byte_mutants(base, rng)[1]


def command_argv(command: str, model, output) -> list[str]:
    """The CLI call each fuzzed model goes through (shared by tests/test_fuzz.py and benchmarks/fuzz.py)."""
    return {
        "analyze-onnx": ["analyze", str(model), "--order", "optimal", "--json", "-"],
        "opt-onnx": ["opt", str(model), "-o", str(output), "--calib", "random:0,1,4", "--no-progress"],
        "analyze-tflite": ["analyze", str(model), "--order", "optimal"],
        "schedule-tflite": ["schedule", str(model), "-o", str(output), "--time-limit", "2"],
    }[command]
