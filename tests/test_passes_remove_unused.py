"""remove-unused: dead nodes and unread initializers go; live ones stay."""

from passes_check import model, ops, rewrites, unchanged


def test_dead_chain_and_initializer_removed():
    """A chain whose result nobody reads and an initializer nobody reads are removed."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y) <float[4] unused = {1, 2, 3, 4}, float[4] b = {1, 1, 1, 1}>
        { y = Relu(x)  d1 = Add(x, b)  d2 = Sigmoid(d1) }
    """)
    m = rewrites("remove-unused", m)
    assert ops(m) == ["Relu"]
    assert not m.graph.initializers


def test_live_graph_unchanged():
    """A graph where everything is used is left as it is."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y) <float[4] b = {1, 2, 3, 4}>
        { a = Add(x, b)  y = Relu(a) }
    """)
    unchanged("remove-unused", m)
