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


def test_a_dead_node_alone_counts_as_a_change():
    """modified is True when only a node goes (no initializer in the model)..."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y)
        { y = Relu(x)  d = Sigmoid(x) }
    """)
    assert ops(rewrites("remove-unused", m)) == ["Relu"]


def test_a_dead_initializer_alone_counts_as_a_change():
    """...and when only an initializer goes (every node is live)."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y) <float[4] unused = {1, 2, 3, 4}>
        { y = Relu(x) }
    """)
    m = rewrites("remove-unused", m)
    assert ops(m) == ["Relu"] and not m.graph.initializers
