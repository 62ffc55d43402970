"""broadcast-ranks: a lower-rank activation operand of a broadcasting element-wise op is reshaped to the out rank."""

from __future__ import annotations

from passes_check import model, ops, rewrites, unchanged


def test_a_lower_rank_activation_operand_gets_a_reshape():
    """Add(x[2, 3, 5], s[5]) with s a graph input: Reshape(s, [1, 1, 5]) before the Add; outputs unchanged."""
    m = rewrites("broadcast-ranks", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3, 5] x, float[5] s) => (float[2, 3, 5] y) { y = Add (x, s) }
    """))
    assert ops(m) == ["Reshape", "Add"]
    reshape = next(iter(m.graph))
    assert tuple(reshape.outputs[0].shape) == (1, 1, 5)


def test_equal_ranks_and_constants_are_left_alone():
    """Operands of the output rank, and a constant of lower rank (the exporter pads it): unchanged."""
    unchanged("broadcast-ranks", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3, 5] x, float[1, 1, 5] s) => (float[2, 3, 5] y) <float[5] c = {1, 2, 3, 4, 5}> {
            t = Add (x, s)
            y = Mul (t, c)
        }
    """))
