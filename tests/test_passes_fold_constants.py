"""fold-constants: constant subgraphs, Constant nodes and static Shape/Size become initializers."""

import numpy as np
import onnx
import onnx_ir as ir
from passes_check import model, ops, rewrites, unchanged


def test_constant_nodes_and_arithmetic_folded():
    """Constant nodes and a Mul of two constants become one initializer read by the Add."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y)
        {
            c = Constant <value = float[4] {1, 2, 3, 4}> ()
            d = Constant <value_float = 2.0> ()
            e = Mul(c, d)
            y = Add(x, e)
        }
    """)
    m = rewrites("fold-constants", m)
    assert ops(m) == ["Add"]
    np.testing.assert_array_equal(m.graph.initializers["e"].const_value.numpy(), [2, 4, 6, 8])


def test_shape_gather_concat_chain_collapses():
    """The exporter's Shape -> Gather -> Concat chain feeding a Reshape becomes a constant shape."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4, 2, 2] x) => (float[1, 16] y) <int64[1] idx = {0}, int64[1] rest = {-1}>
        {
            s = Shape(x)
            b = Gather <axis = 0> (s, idx)
            shape = Concat <axis = 0> (b, rest)
            y = Reshape(x, shape)
        }
    """)
    m = rewrites("fold-constants", m)
    assert ops(m) == ["Reshape"]
    np.testing.assert_array_equal(m.graph.node(0).inputs[1].const_value.numpy(), [1, -1])


def test_size_of_static_value_folded():
    """Size of a static-shaped value is a constant."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x) => (float[2, 3] y)
        { n = Size(x)  f = Cast <to = 1> (n)  y = Div(x, f) }
    """)
    assert ops(rewrites("fold-constants", m)) == ["Div"]


def test_size_limit_refuses_large_outputs():
    """An Expand whose output exceeds size_limit elements stays a node."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[64, 4] x) => (float[64, 4] y) <float[4] b = {1, 2, 3, 4}, int64[2] s = {64, 4}>
        { e = Expand(b, s)  y = Add(x, e) }
    """)
    unchanged("fold-constants", m, size_limit=100)


def test_nothing_constant_unchanged():
    """A graph computing only on its input is left as it is."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y) <float[4] b = {1, 2, 3, 4}>
        { a = Add(x, b)  y = Relu(a) }
    """)
    unchanged("fold-constants", m)


def _expand_to(n: int) -> ir.Model:
    return model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[{n}] x) => (float[{n}] y) <float[1] c = {{2}}, int64[1] shape = {{{n}}}>
        {{ e = Expand(c, shape)  y = Add(x, e) }}
    """)


def test_size_limit_is_inclusive_and_one_mebi_element_by_default():
    """An output of exactly size_limit elements folds; by default the limit is 2**20 elements (4 MiB of float),
    and one more stays a node (refused from its declared shape, without evaluating it)."""
    assert ops(rewrites("fold-constants", _expand_to(100), size_limit=100)) == ["Add"]
    unchanged("fold-constants", _expand_to(100), size_limit=99)
    unchanged("fold-constants", _expand_to((1 << 20) + 1))


def test_random_ops_not_folded():
    """A random op with no inputs, and one of a constant, stay: folding would freeze one draw."""
    unchanged("fold-constants", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x) => (float[2, 3] y)
        { r = RandomNormal<shape = [2, 3]>()  y = Add(x, r) }
    """))
    unchanged("fold-constants", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x) => (float[2, 3] y) <float[2, 3] c = {1, 2, 3, 4, 5, 6}>
        { r = RandomUniformLike(c)  y = Add(x, r) }
    """))


def test_shape_of_a_symbolic_shape_not_folded():
    """Shape of a value whose shape is unknown, or has a symbolic dim, is not a constant (models built in
    memory, not through mcugraph.load, which makes the batch dim 1 and infers shapes)."""
    for value_info in ("", "<int64[2, N] n>"):
        unchanged("fold-constants", ir.serde.deserialize_model(onnx.parser.parse_model(f"""
            <ir_version: 8, opset_import: ["" : 17]>
            g (float[2, 4] x) => (float[2] y) {value_info}
            {{ n = NonZero(x)  s = Shape(n)  y = Cast<to = 1>(s) }}
        """)))
