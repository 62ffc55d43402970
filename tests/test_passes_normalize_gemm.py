"""normalize-gemm: fully connected layers become Gemm(x, W[out, in], b) with alpha=beta=1, transB=1."""

import numpy as np
from passes_check import model, ops, rewrites, unchanged

W = "{" + ", ".join(str(0.1 * i - 0.7) for i in range(12)) + "}"  # 4 x 3, varied values


def _gemm_form(m):
    gemm = m.graph.node(0)
    attrs = {k: gemm.attributes[k].value for k in ("alpha", "beta", "transA", "transB")}
    return gemm, attrs


def test_matmul_add_becomes_gemm():
    """MatMul by a constant plus an Add of a constant bias becomes one Gemm with W stored [out, in]."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 3] y) <float[4, 3] w = {W}, float[1, 3] b = {{1, 2, 3}}>
        {{ t = MatMul(x, w)  y = Add(b, t) }}
    """)
    m = rewrites("normalize-gemm", m)
    gemm, attrs = _gemm_form(m)
    assert ops(m) == ["Gemm"] and gemm.outputs[0].name == "y"
    assert attrs == {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 1}
    assert gemm.inputs[1].shape == [3, 4] and gemm.inputs[2].shape == [3]


def test_matmul_without_bias_becomes_gemm():
    """A lone MatMul by a constant becomes a Gemm without C."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 3] y) <float[4, 3] w = {W}>
        {{ t = MatMul(x, w)  y = Relu(t) }}
    """)
    assert ops(rewrites("normalize-gemm", m)) == ["Gemm", "Relu"]


def test_gemm_alpha_beta_trans_normalized():
    """A Gemm with alpha, beta and transB=0 gets them folded into its constants."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 3] y) <float[4, 3] w = {W}, float[1, 3] b = {{1, 2, 3}}>
        {{ y = Gemm <alpha = 0.5, beta = 2.0> (x, w, b) }}
    """)
    gemm, attrs = _gemm_form(rewrites("normalize-gemm", m))
    assert attrs == {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 1}
    np.testing.assert_allclose(gemm.inputs[2].const_value.numpy(), [2, 4, 6])


def test_canonical_gemm_unchanged():
    """A Gemm already in canonical form is left as it is."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 3] y) <float[3, 4] w = {W}, float[3] b = {{1, 2, 3}}>
        {{ y = Gemm <transB = 1> (x, w, b) }}
    """)
    unchanged("normalize-gemm", m)


def test_batched_matmul_refused():
    """A MatMul on a 3-D input is not a fully connected layer: no change."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 5, 4] x) => (float[2, 5, 3] y) <float[4, 3] w = {W}>
        {{ y = MatMul(x, w) }}
    """)
    unchanged("normalize-gemm", m)


def test_gemm_trans_a_becomes_a_transpose_before_it():
    """A Gemm that transposes its activation input gets a Transpose of it (a TRANSPOSE kernel) and transA=0."""
    m = rewrites("normalize-gemm", model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[4, 2] x) => (float[2, 3] y) <float[4, 3] w = {W}>
        {{ y = Gemm <transA = 1> (x, w) }}
    """))
    assert ops(m) == ["Transpose", "Gemm"]


def test_per_row_bias_becomes_an_add_after_the_gemm():
    """A [2, 3] bias with different rows cannot shrink to [3]: a canonical Gemm with it, and a MatMul + Add with
    it, become a Gemm without C and an Add of the bias (rewrites() compares outputs)."""
    for body, w in (("y = Gemm <transB = 1> (x, w, b)", "float[3, 4]"), ("a = MatMul(x, w)  y = Add(a, b)",
                                                                        "float[4, 3]")):
        m = rewrites("normalize-gemm", model(f"""
            <ir_version: 8, opset_import: ["" : 17]>
            g (float[2, 4] x) => (float[2, 3] y) <{w} w = {W}, float[2, 3] b = {{1, 2, 3, 4, 5, 6}}>
            {{ {body} }}
        """))
        assert ops(m) == ["Gemm", "Add"]


def test_canonical_gemm_with_a_row_bias_gets_a_vector_bias():
    """transB=1, alpha=beta=1 but C of shape [1, 3]: C becomes the 1-D [3] TFLite's FULLY_CONNECTED takes."""
    m = rewrites("normalize-gemm", model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 3] y) <float[3, 4] w = {W}, float[1, 3] b = {{1, 2, 3}}>
        {{ y = Gemm <transB = 1> (x, w, b) }}
    """))
    gemm, _ = _gemm_form(m)
    np.testing.assert_allclose(gemm.inputs[2].const_value.numpy(), [1, 2, 3])


def test_gemm_with_activation_bias_and_beta_refused():
    """C computed at run time cannot take beta into its values: a Gemm with beta != 1 on it stays."""
    unchanged("normalize-gemm", model(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x, float[2, 3] c) => (float[2, 3] y) <float[4, 3] w = {W}>
        {{ y = Gemm <beta = 2.0> (x, w, c) }}
    """))
