"""binary-min-max: Max/Min of 1 or 3+ operands become Identity / a two-operand chain (TFLite's MAXIMUM/MINIMUM)."""

from __future__ import annotations

import pytest
from passes_check import model, ops, rewrites, unchanged


@pytest.mark.parametrize("op", ["Max", "Min"])
def test_three_operands_become_a_chain_of_two(op):
    """Max(a, b, c) with broadcasting: two nodes, outputs unchanged (onnxruntime)."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 4] a, float[1, 4] b, float[1, 1] c) => (float[1, 4] y) {{ y = {op} (a, b, c) }}
    """)
    assert ops(rewrites("binary-min-max", m)) == [op, op]


def test_one_operand_is_an_identity():
    """Max(a) is a: an Identity keeps the output's name."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 4] a) => (float[1, 4] y) { y = Max (a) }
    """)
    assert ops(rewrites("binary-min-max", m)) == ["Identity"]


def test_two_operands_are_unchanged():
    """Max(a, b) is already what TFLite takes."""
    unchanged("binary-min-max", model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 4] a, float[1, 4] b) => (float[1, 4] y) { y = Max (a, b) }
    """))
