"""fuse-hard-swish: x * HardSigmoid(x) and x * relu6(x + 3) / 6 become one HardSwish node."""

from __future__ import annotations

import pytest
import torch
from passes_check import model, ops, rewrites, unchanged
from torch import nn
from torch_export import EXPORTERS, export

import mcugraph

HEADER = '<ir_version: 8, opset_import: ["" : 13]>'


class HardSwishNet(nn.Module):
    """MobileNetV3 style: conv + hardswish twice, global pool."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return nn.functional.hardswish(self.b(nn.functional.hardswish(self.a(x)))).mean((2, 3))


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_torch_hardswish_is_one_hard_swish_kernel(exporter, tmp_path):
    """Both exporters' hardswish end as HARD_SWISH kernels; the legacy one's arena shrinks to the dynamo one's."""
    torch.manual_seed(0)
    m = export(HardSwishNet(), torch.randn(1, 3, 8, 8), exporter, tmp_path)
    canonical = mcugraph.run_pipeline(m, mcugraph.CANONICALIZE, check=True).model
    assert ops(canonical).count("HardSwish") == 2 and "Mul" not in ops(canonical)
    report = mcugraph.optimize(m, calib="random:-1,1,4").report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"] == 1024  # two 8x8x8 int8 tensors
    assert report["verification"]["sqnr_db"] > 30


def test_hard_sigmoid_product_fuses_and_raises_opset_13_to_14():
    """Mul(HardSigmoid(x), x), operands swapped, fuses; HardSwish needs opset 14."""
    m = model(f"""
        {HEADER}
        g (float[1, 4] x) => (float[1, 4] y) {{
            h = HardSigmoid <alpha = 0.16666667, beta = 0.5> (x)
            y = Mul(h, x)
        }}
    """)
    m = rewrites("fuse-hard-swish", m)
    assert ops(m) == ["HardSwish"] and m.opset_imports[""] == 14


@pytest.mark.parametrize("relu6", [
    "r = Clip(t, zero, six)",
    "m = Relu(t)\n r = Min(m, six)",
    "m = Max(zero, t)\n r = Min(six, m)",
])
@pytest.mark.parametrize("scale", [
    "p = Mul(x, r)\n y = Div(p, six)",
    "p = Mul(r, x)\n y = Mul(p, sixth)",
    "d = Div(r, six)\n y = Mul(x, d)",
    "d = Mul(sixth, r)\n y = Mul(d, x)",
])
def test_relu6_spellings_fuse(relu6, scale):
    """Every relu6 spelling times x, divided by 6 before or after the product, becomes HardSwish."""
    m = model(f"""
        {HEADER}
        g (float[1, 6] x) => (float[1, 6] y)
          <float zero = {{0.0}}, float three = {{3.0}}, float six = {{6.0}}, float sixth = {{0.16666667}}> {{
            t = Add(three, x)
            {relu6}
            {scale}
        }}
    """)
    assert ops(rewrites("fuse-hard-swish", m)) == ["HardSwish"]


def test_other_constants_and_shared_intermediates_are_kept():
    """HardSigmoid with torch's default-free alpha 0.2, and a gate another node reads, stay as they are."""
    unchanged("fuse-hard-swish", model(f"""
        {HEADER}
        g (float[1, 4] x) => (float[1, 4] y) {{
            h = HardSigmoid(x)
            y = Mul(x, h)
        }}
    """))
    unchanged("fuse-hard-swish", model(f"""
        {HEADER}
        g (float[1, 4] x) => (float[1, 4] y, float[1, 4] h) {{
            h = HardSigmoid <alpha = 0.16666667> (x)
            y = Mul(x, h)
        }}
    """))


def test_product_with_another_tensor_is_kept():
    """x * HardSigmoid(z) for z != x is a gate (squeeze-excite), not a HardSwish."""
    unchanged("fuse-hard-swish", model(f"""
        {HEADER}
        g (float[1, 4] x, float[1, 4] z) => (float[1, 4] y) {{
            h = HardSigmoid <alpha = 0.16666667> (z)
            y = Mul(x, h)
        }}
    """))


def test_old_opsets_are_left_alone():
    """Below opset 13 the pass does nothing (raising the opset could change Squeeze/Reduce semantics)."""
    unchanged("fuse-hard-swish", model("""
        <ir_version: 7, opset_import: ["" : 12]>
        g (float[1, 4] x) => (float[1, 4] y) {
            h = HardSigmoid <alpha = 0.16666667> (x)
            y = Mul(x, h)
        }
    """))


def test_clip_without_bounds_is_not_relu6():
    """Clip(t) with neither min nor max (opset >= 11 form) clips nothing: x * Clip(x + 3) / 6 stays."""
    unchanged("fuse-hard-swish", model(f"""
        {HEADER}
        g (float[1, 6] x) => (float[1, 6] y) <float three = {{3.0}}, float six = {{6.0}}> {{
            t = Add(three, x)
            r = Clip(t)
            p = Mul(x, r)
            y = Div(p, six)
        }}
    """))
