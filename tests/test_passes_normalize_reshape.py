"""normalize-reshape: Flatten/Squeeze/Unsqueeze/Reshape become one Reshape with a static int64 shape."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from passes_check import model, ops, rewrites, unchanged


def _shape_of(node):
    return node.inputs[1].const_value.numpy().tolist()


def test_flatten_becomes_static_reshape():
    """Flatten becomes Reshape to its output shape."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4, 2, 2] x) => (float[1, 16] y)
        { a = Relu(x)  y = Flatten(a) }
    """)
    m = rewrites("normalize-reshape", m)
    assert ops(m) == ["Relu", "Reshape"]
    assert _shape_of(m.graph.node(1)) == [1, 16] and m.graph.node(1).outputs[0].name == "y"


def test_reshape_minus_one_made_static():
    """A Reshape with -1 and 0 gets the fully static shape."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3, 4] x) => (float[2, 12] y) <int64[2] s = {0, -1}>
        { y = Reshape(x, s) }
    """)
    m = rewrites("normalize-reshape", m)
    assert _shape_of(m.graph.node(0)) == [2, 12]
    assert m.graph.node(0).inputs[1].const_value.numpy().dtype == np.int64


def test_chain_of_reshapes_merged():
    """Unsqueeze -> Flatten -> Squeeze collapse into one Reshape of the first input."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 6] x) => (float[12] y) <int64[1] ax = {0}>
        { a = Unsqueeze(x, ax)  b = Flatten <axis = 0> (a)  y = Squeeze(b, ax) }
    """)
    m = rewrites("normalize-reshape", m)
    assert ops(m) == ["Reshape"]
    assert _shape_of(m.graph.node(0)) == [12] and m.graph.node(0).inputs[0].name == "x"


def test_reshape_to_same_shape_removed():
    """Squeeze then Unsqueeze back to the input's shape is removed entirely."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 6] x) => (float[1, 6] y) <int64[1] ax = {0}>
        { a = Relu(x)  b = Squeeze(a, ax)  c = Unsqueeze(b, ax)  y = Sigmoid(c) }
    """)
    assert ops(rewrites("normalize-reshape", m)) == ["Relu", "Sigmoid"]


def test_canonical_reshape_unchanged():
    """A Reshape that already has the static int64 shape is left alone."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3, 4] x) => (float[6, 4] y) <int64[2] s = {6, 4}>
        { y = Reshape(x, s) }
    """)
    unchanged("normalize-reshape", m)


SHAPES = [(24,), (2, 12), (4, 6), (2, 3, 4), (1, 24), (2, 1, 12), (1, 2, 3, 4)]


@given(chain=st.lists(st.tuples(st.sampled_from(SHAPES), st.integers(0, 3)), min_size=1, max_size=3))
def test_random_reshape_chains_keep_outputs(chain):
    """Any chain of Reshapes (with a -1 somewhere) becomes at most one static Reshape with the same result."""
    inits, body = [], []
    for i, (shape, wild) in enumerate(chain):
        spec = [-1 if j == wild % len(shape) else d for j, d in enumerate(shape)]
        inits.append(f"int64[{len(spec)}] s{i} = {{{', '.join(map(str, spec))}}}")
        body.append(f"t{i + 1} = Reshape(t{i}, s{i})")
    final = chain[-1][0]
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3, 4] x) => (float[{', '.join(map(str, final))}] y) <{', '.join(inits)}>
        {{ t0 = Relu(x)  {"  ".join(body)}  y = Sigmoid(t{len(chain)}) }}
    """)
    m = rewrites("normalize-reshape", m)
    reshapes = [n for n in m.graph if n.op_type == "Reshape"]
    assert len(reshapes) == (0 if final == (2, 3, 4) else 1)
    assert all(_shape_of(n) == list(final) for n in reshapes)


def test_bypassed_reshape_still_read_elsewhere_kept():
    """The chain's last Reshape reads x directly afterwards, but the first link also feeds a Relu: it stays."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 6] x) => (float[12] y, float[1, 2, 6] z) <int64[1] ax = {0}>
        { a = Unsqueeze(x, ax)  z = Relu(a)  b = Flatten <axis = 0> (a)  y = Squeeze(b, ax) }
    """)
    m = rewrites("normalize-reshape", m)
    assert sorted(ops(m)) == ["Relu", "Reshape", "Reshape"]
