"""The ONNX backend node tests of every exported op keep their expected outcome (``mcugraph.ops.conformance``).

Every case of ``conformance_expected.EXPECTED`` runs here, as shipped and deployable, in int8 and float32: a case
that stops matching, starts matching, or is refused for another reason fails. The cases are generated from the
installed onnx once per test process (a few seconds), lazily, so collection stays instant.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from mcugraph.cli.main import main
from mcugraph.ops import conformance
from mcugraph.ops.conformance_expected import EXPECTED


@functools.cache
def _cases() -> dict[str, conformance.Case]:
    return {case.name: case for case in conformance.cases()}


def test_the_expected_table_names_every_node_test_of_the_table_ops():
    """No node test is missing from the table and none is listed that the installed onnx does not generate."""
    assert sorted(_cases()) == sorted(EXPECTED)
    assert {case.op for case in _cases().values()} == conformance.conformance_ops()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_node_test_keeps_its_outcome(name):
    """As shipped and deployable, int8 and float32: the outcome the table expects."""
    got = conformance.outcomes(_cases()[name])
    assert tuple(got[c] for c in conformance.COLUMNS) == EXPECTED[name]


def test_every_expected_outcome_is_a_match_or_a_named_reason():
    """The table holds no failure: only "match", the two near-miss labels and keys of REASONS."""
    allowed = {conformance.MATCH, "int8-noise", "approximation", *conformance.REASONS}
    assert {label for row in EXPECTED.values() for label in row} <= allowed


def test_a_wrong_output_is_not_a_match(monkeypatch):
    """The comparison can fail: TFLM's outputs replaced by zeros make a matching case "wrong"."""
    case = _cases()["test_relu"]
    assert conformance.run(case, "float32").kind == conformance.MATCH
    monkeypatch.setattr(conformance, "_run_tflm", lambda data, c: [np.zeros_like(y) for y in c.outputs])
    for dtype in conformance.DTYPES:
        assert conformance.run(case, dtype).kind == "wrong"


def test_internal_and_unexplained_errors_are_failures_not_refusals():
    """A line naming a bug, or one no reason key explains, is never an accepted refusal."""
    assert conformance._refusal("TFLM's arena head is 64 B but ...: this is a bug in mcugraph's memory").kind == "error"
    assert conformance._refusal("something nobody explained").key == "unexplained"
    assert conformance._refusal("node 'x' (Elu): alpha=2.0; TFLite's ELU computes alpha=1 only").key == "elu-alpha"


def test_the_cli_exports_a_deployable_case_and_refuses_a_shipped_one(tmp_path):
    """The real path, ``mcugraph opt model.onnx -o out.tflite --calib inputs.npz``: exit 0 / exit 2, no file."""
    case = conformance.deployable(_cases()["test_conv_with_strides_padding"])
    model = tmp_path / "conv.onnx"
    model.write_bytes(case.model.SerializeToString())
    np.savez(tmp_path / "inputs.npz", **case.inputs)
    out = tmp_path / "out.tflite"
    assert main(["opt", str(model), "-o", str(out), "--calib", str(tmp_path / "inputs.npz"), "--no-progress"]) == 0
    assert out.stat().st_size > 0
    shipped = _cases()["test_conv_with_strides_padding"]
    model.write_bytes(shipped.model.SerializeToString())
    np.savez(tmp_path / "inputs.npz", **shipped.inputs)
    refused = tmp_path / "refused.tflite"
    assert main(["opt", str(model), "-o", str(refused), "--calib", str(tmp_path / "inputs.npz")]) == 2
    assert not refused.exists()
