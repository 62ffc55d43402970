"""reciprocal-sqrt: Div(x, Sqrt(v)) becomes Mul(x, Reciprocal(Sqrt(v))), which exports as RSQRT + MUL in int8."""

from __future__ import annotations

from export_check import check_export, operators
from passes_check import model, rewrites, unchanged

HEADER = '<ir_version: 8, opset_import: ["" : 17]>\n'
NORMALISE = HEADER + """
g (float[1,4,8] x) => (float[1,4,8] y) <float eps = {0.5}>
{ m = ReduceMean<axes=[-1], keepdims=1>(x)
  d = Sub(x, m)
  q = Mul(d, d)
  v = ReduceMean<axes=[-1], keepdims=1>(q)
  e = Add(v, eps)
  s = Sqrt(e)
  y = Div(d, s) }
"""


def ops(m):
    return [node.op_type for node in m.graph]


def test_div_by_sqrt_becomes_mul_by_reciprocal():
    """The divisor's Sqrt gets a Reciprocal, the Div a Mul; outputs are unchanged."""
    rewritten = rewrites("reciprocal-sqrt", model(NORMALISE))
    assert ops(rewritten)[-3:] == ["Sqrt", "Reciprocal", "Mul"]


def test_rewritten_normalisation_exports_as_rsqrt_in_int8():
    """After the rewrite the normalisation runs in TFLM int8 (RSQRT fused from Sqrt + Reciprocal) like onnxruntime."""
    rewritten = rewrites("reciprocal-sqrt", model(NORMALISE))
    result = check_export(rewritten, int8=True)
    assert operators(result.data)[-2:] == ["RSQRT", "MUL"]


def test_sqrt_read_elsewhere_is_left_alone():
    """A Sqrt that is also a numerator (or a graph output) must stay: the pass does not fire."""
    unchanged("reciprocal-sqrt", model(HEADER + """
g (float[1,8] x) => (float[1,8] y) <float eps = {0.5}>
{ e = Add(x, eps)
  s = Sqrt(e)
  y = Div(s, s) }
"""))
    unchanged("reciprocal-sqrt", model(HEADER + """
g (float[1,8] x) => (float[1,8] y, float[1,8] s) <float eps = {0.5}>
{ e = Add(x, eps)
  s = Sqrt(e)
  y = Div(x, s) }
"""))
