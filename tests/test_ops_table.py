"""The op table (mcugraph.ops.OPS) is complete: every exported op has every piece, and the checker can fail."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys

import pytest
from test_export_lower import CASES

from mcugraph.ops import OPS, TFLM_BUILTINS, OpFacts
from mcugraph.ops.tflm_kernels import registered_in_wheel
from mcugraph.prune.torch_ops import HANDLERS
from mcugraph.registry import known_passes
from mcugraph.tflite.schema import schema

_SCHEMA_BUILTINS = frozenset(name for name in vars(schema.BuiltinOperator) if not name.startswith("_"))


def ops_with_cases() -> frozenset[str]:
    """The ops some TFLM-vs-onnxruntime case of tests/test_export_lower.py exports (its CASES are the registry)."""
    return frozenset(node.op_type for build, _ in CASES.values() for node in build().graph)


def table_gaps(table, handlers, tested, passes, tflm) -> list[str]:
    """Every missing piece of ``table``, one line each (empty when the table is complete)."""
    gaps = []
    for op, row in table.items():
        unknown = [b for b in row.builtins if b not in _SCHEMA_BUILTINS]
        if unknown:
            gaps.append(f"{op}: builtins {unknown} are not TFLite builtins")
        if row.torch and op not in handlers:
            gaps.append(f"{op}: says torch=True but mcugraph.prune.torch_ops has no handler")
        if row.removed_by is not None and row.removed_by not in passes:
            gaps.append(f"{op}: removed_by names no registered pass ({row.removed_by!r})")
        if not row.exported:
            continue  # removed by a pass, or known but not exported: the refusal says why (mcugraph.ops.refusals)
        if not row.torch:
            gaps.append(f"{op}: no PyTorch handler (pruning cannot train a model that has it)")
        if row.channels is None:
            gaps.append(f"{op}: no channel rule (say FREEZE when its channels mix)")
        try:
            function = _resolve(row)
        except (AttributeError, ImportError, TypeError):
            function = None
        if not callable(function):
            gaps.append(f"{op}: no lowering function ({row.lowering!r})")
        if not row.builtins or any(b not in tflm for b in row.builtins):
            gaps.append(f"{op}: exported as {row.builtins}, which the bundled TFLM does not all run")
        if op not in tested:
            gaps.append(f"{op}: no TFLM-vs-onnxruntime case in tests/test_export_lower.py CASES")
    gaps += [f"{op}: has a PyTorch handler but no row in the op table" for op in handlers if op not in table]
    return gaps


def _resolve(row: OpFacts):
    module, name = row.lowering.rsplit(".", 1)
    return getattr(importlib.import_module(f"mcugraph.export.{module}"), name)


def _gaps(table=OPS, handlers=HANDLERS, tested=None, tflm=TFLM_BUILTINS) -> list[str]:
    return table_gaps(table, handlers, ops_with_cases() if tested is None else tested, known_passes(), tflm)


def test_every_exported_op_has_all_its_pieces():
    """Lowering, PyTorch handler, channel rule and a TFLM-vs-onnxruntime case for every exported op."""
    assert _gaps() == []


@pytest.mark.parametrize("piece", ["lowering", "torch", "channels", "test", "handler-row", "pass", "tflm"])
def test_the_table_check_fails_when_a_piece_is_missing(piece):
    """Remove one piece of one op (or break a reference): the check names that op."""
    table, handlers, tested, tflm = dict(OPS), dict(HANDLERS), set(ops_with_cases()), TFLM_BUILTINS
    if piece == "lowering":
        table["Tanh"] = dataclasses.replace(OPS["Tanh"], lowering="lower_elementwise.no_such_function")
    elif piece == "torch":
        del handlers["Tanh"]
    elif piece == "channels":
        table["Tanh"] = dataclasses.replace(OPS["Tanh"], channels=None)
    elif piece == "test":
        tested.discard("Tanh")
    elif piece == "handler-row":
        del table["Exp"]
    elif piece == "pass":
        table["BatchNormalization"] = dataclasses.replace(OPS["BatchNormalization"], removed_by="fold-everything")
    elif piece == "tflm":
        tflm = TFLM_BUILTINS - {"TANH"}
    gaps = _gaps(table, handlers, tested, tflm)
    expected = "BatchNormalization" if piece == "pass" else "Exp" if piece == "handler-row" else "Tanh"
    assert len(gaps) == 1 and gaps[0].startswith(f"{expected}:"), gaps


def test_committed_tflm_kernel_list_matches_the_installed_wheel():
    """The committed list of TFLM kernels is what the installed tflite_micro runtime registers."""
    found = registered_in_wheel()
    if found is None:
        pytest.skip("tflite_micro's runtime library is not installed")
    assert found == TFLM_BUILTINS, "regenerate: python -m mcugraph.ops.tflm_kernels > mcugraph/ops/_tflm_builtins.py"
    assert {"CONV_2D", "BATCH_MATMUL", "ELU", "GATHER", "UNIDIRECTIONAL_SEQUENCE_LSTM"} <= TFLM_BUILTINS
    assert "RELU_N1_TO_1" not in TFLM_BUILTINS  # only ever a fused activation in TFLM


def test_reading_the_table_imports_neither_torch_nor_the_exporter():
    """CLI commands pay nothing for the table: it names lowerings and handlers instead of importing them."""
    code = ("import sys, mcugraph.ops, mcugraph.ops.refusals; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith('mcugraph.export')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_handlers_compute_what_onnxruntime_computes(case):
    """The PyTorch handler of every exported op runs its export cases like onnxruntime (pruning trains on them)."""
    import numpy as np
    import torch

    from mcugraph.prune.torch_module import GraphModule
    from mcugraph.runtime import input_feeds, run_onnx

    model = CASES[case][0]()
    feeds = input_feeds(model)
    with torch.no_grad():
        got = GraphModule(model)(*[torch.from_numpy(feeds[v.name]) for v in model.graph.inputs])
    for actual, expected in zip(got if isinstance(got, tuple) else (got,), run_onnx(model, feeds), strict=True):
        np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-5, atol=1e-5)
