"""remove-identity: Identity and inference Dropout disappear; graph output names stay."""

from passes_check import model, ops, rewrites, unchanged


def test_identity_and_dropout_removed():
    """Identity and a Dropout with unused mask between two ops are removed."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y)
        { a = Relu(x)  b = Identity(a)  c = Dropout(b)  y = Sigmoid(c) }
    """)
    assert ops(rewrites("remove-identity", m)) == ["Relu", "Sigmoid"]


def test_identity_before_graph_output_keeps_output_name():
    """When an Identity produces a graph output, its input takes over the output's name."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y)
        { a = Relu(x)  y = Identity(a) }
    """)
    m = rewrites("remove-identity", m)
    assert ops(m) == ["Relu"]
    assert m.graph.node(0).outputs[0].name == "y"


def test_dropout_with_used_mask_kept():
    """A Dropout whose mask output is read stays."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y, bool[2, 4] mask)
        { y, mask = Dropout(x) }
    """)
    unchanged("remove-identity", m)


def test_identity_from_input_to_output_kept():
    """An Identity from a graph input straight to a graph output cannot go: both names are fixed."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y)
        { y = Identity(x) }
    """)
    unchanged("remove-identity", m)


def test_dropout_with_mask_read_by_a_node_kept():
    """A mask read inside the graph (not a graph output) keeps the Dropout too."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y, float[2, 4] z)
        { a = Relu(x)  b, mask = Dropout(a)  y = Sigmoid(b)  z = Cast<to = 1>(mask) }
    """)
    unchanged("remove-identity", m)


def test_dropout_in_training_mode_kept_and_inference_mode_removed():
    """training_mode=True makes Dropout random: it stays; training_mode=False is an identity and goes."""
    text = """
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y)
        <float ratio = {0.5}, bool training = {FLAG}>
        { a = Relu(x)  b = Dropout(a, ratio, training)  y = Sigmoid(b) }
    """
    unchanged("remove-identity", model(text.replace("FLAG", "1")))
    assert ops(rewrites("remove-identity", model(text.replace("FLAG", "0")))) == ["Relu", "Sigmoid"]


def test_cast_to_the_same_dtype_removed_and_a_real_cast_kept():
    """Cast(to=FLOAT) of a float is removed (TFLM would need a CAST kernel for nothing); Cast to int32 stays."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y)
        { a = Relu(x)  b = Cast<to = 1>(a)  y = Sigmoid(b) }
    """)
    assert ops(rewrites("remove-identity", m)) == ["Relu", "Sigmoid"]
    unchanged("remove-identity", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (int32[2, 4] y)
        { a = Relu(x)  y = Cast<to = 6>(a) }
    """))
