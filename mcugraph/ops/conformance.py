"""The ONNX backend node tests of every exported (or rewritten-away) op in the table, run through ``optimize``.

Each case is one official node test (``onnx.backend.test.case.node.collect_testcases()``, generated from the
installed onnx: no data file is kept here) whose single node's op has a row in :data:`mcugraph.ops.table.OPS` that
is exported or removed by a pass. It runs as ``mcugraph opt model.onnx -o out.tflite --calib inputs.npz`` would,
through :func:`mcugraph.optimize` with the test's own inputs as the calibration set (one sample), in int8 and in
float32, in two forms:

- ``shipped``: the test model as ONNX ships it;
- ``deployable``: every graph input that is not the node's input 0 becomes a constant initializer (weights,
  shapes, axes, bounds, a second operand), and a remaining input whose dim 0 is not 1 (or a scalar) is fed as
  ``(1, *shape)`` through a Reshape back to its shape, the form a model takes on a microcontroller.

The .tflite is then run in TFLM on the test's inputs and compared with the test's expected outputs: int8 at SNR
>= :data:`MIN_INT8_SNR_DB`, float32 within ``rtol`` :data:`FLOAT_RTOL`, integer outputs exactly. A refusal is an
:class:`~mcugraph.errors.MCUGraphError` whose line names a TFLite/TFLM limit or an out-of-scope feature; its
:data:`REASONS` key says which. Each case's expected outcome per form and dtype is kept beside the table
(``mcugraph/ops/conformance_expected.py``); ``tests/test_conformance.py`` and ``benchmarks/conformance.py`` check
that nothing changes outcome.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from mcugraph.ops.table import OPS

FORMS = ("shipped", "deployable")
DTYPES = ("int8", "float32")
MIN_INT8_SNR_DB = 30.0
# int8 between this and MIN_INT8_SNR_DB while float32 matches: quantisation noise, labelled "int8-noise".
MIN_INT8_NOISE_DB = 20.0
# atol: some expected outputs are literals rounded to 4 decimals (AveragePool's ceil_last_window_starts_on_pad).
FLOAT_RTOL, FLOAT_ATOL = 1e-4, 1e-4
# Ops a canonicalisation pass rewrites as a documented approximation: op -> max abs error it may add (float32),
# labelled "approximation" instead of "match" when the error is above the tolerance but within this bound.
APPROXIMATIONS = {"Gelu": 4.7e-4}  # decompose-gelu: exact GELU as its tanh approximation
MATCH = "match"
COLUMNS = tuple(f"{form} {dtype}" for form in FORMS for dtype in DTYPES)

# Refusal keys: key -> the substring of the error line that names the TFLite/TFLM limit or out-of-scope feature.
# The first key whose substring the line contains is the refusal's. A line that contains none of them, or an
# exception that is not an MCUGraphError, is a failure of mcugraph, never an expected outcome.
REASONS: dict[str, str] = {
    # the model's edge: what the exported .tflite cannot take or give
    "integer-model": "integer-typed models are out of scope",
    "float16": "is FLOAT16; re-export the model in float32",
    "float64": "is DOUBLE; re-export the model in float32",
    "zero-size": "every dimension must be positive",
    "empty-value": "has no elements",
    "no-inputs": "the model has no inputs",
    "non-tensor-input": "has no shape",
    "training-mode": "training mode",
    # constants TFLite needs
    "parameter-input": "a parameter TFLite needs as a constant",  # load.py and optimize.check_io_dtypes
    "weights-input": "constant weights",
    "starts-ends-input": "starts and ends must be constants",
    # TFLite/TFLM kernels
    "no-kernel": "no TFLite Micro kernel",
    "3d-or-1d": "TFLite's kernels are 2-D",
    "dilated-pool": "dilated pooling has no TFLM kernel",
    "pool-padding": "is neither SAME nor VALID and cannot be made explicit exactly",
    "pool-ceil-mode": "ceil_mode or asymmetric padding TFLite cannot express",
    "conv-transpose-attrs": "only group=1, dilation 1 and explicit pads map to TRANSPOSE_CONV",
    "conv-transpose-crop": "needs ceil(output / stride) == input",
    "resize-mode": "only nearest resizing of H and W by integer factors",
    "softmax-axis": "TFLite's SOFTMAX only normalises the last axis",
    "elu-alpha": "TFLite's ELU computes alpha=1 only",
    "sqrt-int8": "TFLM's SQRT kernel is float32 only",
    "rank-broadcast": "TFLite needs equal ranks there",
    "batch-matmul-ranks": "TFLite's BATCH_MATMUL needs equal ranks",
    "batched-constant-matmul": "a batched constant operand has no FULLY_CONNECTED form",
    "gemm-trans-a": "has no TFLite equivalent; transpose the input",
    "negative-slice-step": "only positive steps are supported",
    "pad-axes": "the axes input must be a constant",
    "variadic": "takes exactly 2 operands",
    "reduce-noop": "noop_with_empty_axes=1 reduce nothing",
    # rewrites mcugraph supports in some forms only
    "recurrent-form": "with the default activations is unrolled for TFLite Micro",
    "not-lowered": "not lowered by mcugraph yet",
    # int8 cannot carry the values (the float32 export of the same case matches)
    "int8-range": "verification failed on",
}

# Lines that are mcugraph's fault whatever the model: never an accepted refusal (a file it wrote that a runtime
# rejects, a lowering's Python exception, an inconsistent schedule or plan).
INTERNAL = ("this is a bug in mcugraph", "used before it is computed", "offline_offsets", "Traceback",
            "the model is invalid for it", "exporting node", "onnxruntime failed")


@dataclasses.dataclass(frozen=True)
class Case:
    """One node test: its model, the inputs of its first data set and the expected outputs."""

    name: str
    op: str
    model: onnx.ModelProto
    inputs: dict[str, np.ndarray]
    outputs: tuple[np.ndarray, ...]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """``kind`` is "match"; "refused" (``key`` names the reason); "noise" (int8 at MIN_INT8_NOISE_DB..MIN_INT8_SNR_DB
    while the float32 export of the same form matches: quantisation noise, not a wrong lowering); "approximation"
    (float32 within the op's :data:`APPROXIMATIONS` bound); "wrong" (exported, outputs differ); or "error" (a
    traceback, an internal error, or a refusal no reason key explains). ``detail`` says more."""

    kind: str
    key: str
    detail: str

    @property
    def label(self) -> str:
        """What the expected-outcome table stores: "match", or the refusal's key; else "<kind>: <detail>"."""
        if self.kind == MATCH:
            return MATCH
        if self.kind in ("refused", "noise", "approximation"):
            return self.key
        return f"{self.kind}: {self.detail[:200]}"


def conformance_ops() -> frozenset[str]:
    """The ops whose node tests form the suite: exported or rewritten away by a pass."""
    return frozenset(op for op, row in OPS.items() if row.exported or row.removed_by)


def cases(ops: Iterable[str] | None = None) -> list[Case]:
    """Every single-node backend node test of ``ops`` (default :func:`conformance_ops`), sorted by name."""
    wanted = conformance_ops() if ops is None else frozenset(ops)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generators' own numpy overflow warnings
        collected = _generate(wanted)
    result = []
    for test in collected:
        nodes = test.model.graph.node
        if len(nodes) != 1 or nodes[0].op_type not in wanted or nodes[0].domain not in ("", "ai.onnx"):
            continue
        inputs, outputs = test.data_sets[0]
        names = [i.name for i in test.model.graph.input]
        result.append(Case(test.name, nodes[0].op_type, test.model, dict(zip(names, inputs, strict=True)),
                           tuple(outputs)))
    return sorted(result, key=lambda c: c.name)


# Node-test modules not named like their op in lower case.
_MODULES = {"BatchNormalization": "batch_normalization"}


def _generate(ops: frozenset[str]) -> list:
    """The node tests of the modules of ``ops`` only: generating all 1,900 takes twice as long (a module's import
    runs its generators, which append to the package's list). Every module when one is not found."""
    import onnx.backend.test.case.node as node_tests

    present = {m.name for m in pkgutil.iter_modules(node_tests.__path__)}
    modules = {_MODULES.get(op, op.lower()) for op in ops}
    if not modules <= present or not hasattr(node_tests, "_NodeTestCases"):
        return node_tests.collect_testcases()
    for module in sorted(modules):
        importlib.import_module(f"{node_tests.__name__}.{module}")
    return list(node_tests._NodeTestCases)


def deployable(case: Case) -> Case:
    """``case`` in the deployable form (module docstring): constants frozen, data fed with a leading 1."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    graph = model.graph
    node = graph.node[0]
    data = {name for name in node.input[:1] if name in case.inputs}
    kept, inputs = [], {}
    for value in list(graph.input):
        if not value.type.HasField("tensor_type"):  # a sequence or optional input stays as it is
            kept.append(value)
            inputs[value.name] = case.inputs[value.name]
            continue
        if value.name not in data:
            graph.initializer.append(numpy_helper.from_array(np.asarray(case.inputs[value.name]), value.name))
            continue
        array = np.asarray(case.inputs[value.name])
        if array.ndim >= 1 and array.shape[0] == 1:
            kept.append(value)
            inputs[value.name] = array
            continue
        fed = f"{value.name}_batch1"
        shape = numpy_helper.from_array(np.array(array.shape, dtype=np.int64), f"{value.name}_shape")
        graph.initializer.append(shape)
        graph.node.insert(0, helper.make_node("Reshape", [fed, shape.name], [value.name], name=f"{value.name}_unbatch"))
        kept.append(helper.make_tensor_value_info(fed, value.type.tensor_type.elem_type, (1, *array.shape)))
        inputs[fed] = array.reshape(1, *array.shape)
    del graph.input[:]
    graph.input.extend(kept)
    return dataclasses.replace(case, model=model, inputs=inputs)


def in_form(case: Case, form: str) -> Case:
    return deployable(case) if form == "deployable" else case


def outcomes(case: Case) -> dict[str, str]:
    """``{column: label}`` for every form and dtype of ``case`` (:data:`COLUMNS`, :attr:`Outcome.label`)."""
    result = {}
    for form in FORMS:
        shaped = in_form(case, form)
        found = {dtype: run(shaped, dtype) for dtype in DTYPES}
        if found["int8"].kind == "noise" and found["float32"].kind != MATCH:  # not noise: the lowering is off
            found["int8"] = Outcome("wrong", "snr", found["int8"].detail + f" < {MIN_INT8_SNR_DB:g} dB")
        for dtype in DTYPES:
            result[f"{form} {dtype}"] = found[dtype].label
    return result


def run(case: Case, dtype: str) -> Outcome:
    """Export ``case`` with :func:`mcugraph.optimize` in ``dtype`` and compare TFLM's outputs with the expected."""
    import mcugraph
    from mcugraph.errors import MCUGraphError

    calib = {name: np.asarray(array) for name, array in case.inputs.items()}  # one sample (calib_data)
    try:
        result = mcugraph.optimize(case.model, calib=calib, quantize=dtype == "int8", progress=False,
                                   warn=lambda _: None)
        actual = _run_tflm(result.tflite, case)
    except MCUGraphError as e:
        return _refusal(str(e))
    except Exception as e:  # noqa: BLE001 - any other exception is what this suite exists to catch
        return Outcome("error", "traceback", f"{type(e).__name__}: {e}")
    return _compare(actual, case, dtype)


def _refusal(message: str) -> Outcome:
    line = message.splitlines()[0] if message else ""
    if "\n" in message or any(marker in message for marker in INTERNAL):
        return Outcome("error", "internal", line)
    for key, substring in REASONS.items():
        if substring in message:
            return Outcome("refused", key, line)
    return Outcome("error", "unexplained", line)


def _run_tflm(data: bytes, case: Case) -> list[np.ndarray]:
    """TFLM's outputs on the case's inputs, dequantised and back in ONNX layout (verification's own readers)."""
    from mcugraph.export.verify import from_outputs, tensor_io, to_tflite
    from mcugraph.tflite.tflm import run_tflm

    ins, outs = tensor_io(data)
    names = [i.name for i in case.model.graph.input if i.name in case.inputs]
    feeds = [to_tflite(np.asarray(case.inputs[n]), io) for n, io in zip(names, ins, strict=True)]
    like = [np.asarray(y) for y in case.outputs]
    if len(outs) != len(like):
        return [np.zeros(0)] * len(outs)
    return from_outputs(run_tflm(data, feeds), outs, like)


def _compare(actual: Sequence[np.ndarray], case: Case, dtype: str) -> Outcome:
    if len(actual) != len(case.outputs):
        return Outcome("wrong", "outputs", f"{len(actual)} output(s), the test expects {len(case.outputs)}")
    for k, (got, want) in enumerate(zip(actual, case.outputs, strict=True)):
        want = np.asarray(want)
        if got.shape != want.shape:
            return Outcome("wrong", "shape", f"output {k} has shape {got.shape}, expected {want.shape}")
        if want.dtype.kind in "iub":
            if not np.array_equal(got, want):
                return Outcome("wrong", "values", f"integer output {k} differs")
            continue
        if want.size == 0:
            continue
        if dtype == "int8":
            snr = snr_db(want, got)
            if MIN_INT8_NOISE_DB <= snr < MIN_INT8_SNR_DB:
                return Outcome("noise", "int8-noise", f"output {k}: SNR {snr:.1f} dB")
            if snr < MIN_INT8_SNR_DB:
                return Outcome("wrong", "snr", f"output {k}: SNR {snr:.1f} dB < {MIN_INT8_SNR_DB:g} dB")
        elif not np.allclose(got, want, rtol=FLOAT_RTOL, atol=FLOAT_ATOL):
            worst = float(np.max(np.abs(got - want)))
            if worst <= APPROXIMATIONS.get(case.op, 0.0):
                return Outcome("approximation", "approximation", f"output {k}: max abs error {worst:.3g}")
            return Outcome("wrong", "values", f"output {k}: max abs error {worst:.3g} beyond rtol {FLOAT_RTOL:g}")
    return Outcome(MATCH, "", "")


def snr_db(reference: np.ndarray, actual: np.ndarray) -> float:
    """SNR in dB; an exact match (including an all-zero reference matched exactly) is infinite."""
    reference = reference.astype(np.float64)
    noise = float(np.sum(np.square(reference - actual)))
    signal = float(np.sum(np.square(reference)))
    if noise == 0.0:
        return math.inf
    return -math.inf if signal == 0.0 else 10.0 * math.log10(signal / noise)
