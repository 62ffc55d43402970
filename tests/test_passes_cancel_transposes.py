"""cancel-transposes: consecutive Transposes compose; identity permutations disappear."""

from hypothesis import given
from hypothesis import strategies as st
from passes_check import model, ops, rewrites, unchanged


def test_inverse_pair_removed():
    """NHWC->NCHW followed by NCHW->NHWC cancels completely."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4, 5, 3] x) => (float[1, 4, 5, 3] y)
        { a = Relu(x)  b = Transpose <perm = [0, 3, 1, 2]> (a)  c = Transpose <perm = [0, 2, 3, 1]> (b)
          y = Sigmoid(c) }
    """)
    assert ops(rewrites("cancel-transposes", m)) == ["Relu", "Sigmoid"]


def test_pair_composed_into_one():
    """Two Transposes that do not cancel become one with the composed permutation."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3, 4] x) => (float[4, 2, 3] y)
        { a = Transpose <perm = [1, 0, 2]> (x)  y = Transpose <perm = [2, 1, 0]> (a) }
    """)
    m = rewrites("cancel-transposes", m)
    assert ops(m) == ["Transpose"]
    assert list(m.graph.node(0).attributes["perm"].value) == [2, 0, 1]


def test_identity_perm_removed():
    """A Transpose with the identity permutation is removed."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x) => (float[2, 3] y)
        { a = Relu(x)  b = Transpose <perm = [0, 1]> (a)  y = Sigmoid(b) }
    """)
    assert ops(rewrites("cancel-transposes", m)) == ["Relu", "Sigmoid"]


def test_inner_transpose_with_other_user_kept():
    """The inner Transpose stays for its other reader; the outer one cancels against it."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x) => (float[3, 2] y, float[2, 3] z)
        { a = Relu(x)  y = Transpose(a)  b = Transpose(y)  z = Sigmoid(b) }
    """)
    assert ops(rewrites("cancel-transposes", m)) == ["Relu", "Transpose", "Sigmoid"]


def test_single_transpose_unchanged():
    """A lone non-identity Transpose is left alone."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4, 5, 3] x) => (float[1, 3, 4, 5] y)
        { y = Transpose <perm = [0, 3, 1, 2]> (x) }
    """)
    unchanged("cancel-transposes", m)


@given(perms=st.lists(st.permutations(range(4)), min_size=1, max_size=3))
def test_random_transpose_chains_keep_outputs(perms):
    """Any chain of Transposes on a 4-D value computes the same after the pass, as at most one Transpose."""
    shape = [2, 3, 4, 5]
    body = []
    for i, perm in enumerate(perms):
        body.append(f"t{i + 1} = Transpose <perm = [{', '.join(map(str, perm))}]> (t{i})")
        shape = [shape[p] for p in perm]
    dims = ", ".join(map(str, shape))
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3, 4, 5] x) => (float[{dims}] y)
        {{ t0 = Relu(x)  {"  ".join(body)}  y = Sigmoid(t{len(perms)}) }}
    """)
    if len(perms) == 1 and perms[0] != list(range(4)):
        unchanged("cancel-transposes", m)
        return
    m = rewrites("cancel-transposes", m)
    assert ops(m).count("Transpose") <= 1
