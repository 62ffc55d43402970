"""decompose-clip: a Clip with constant bounds TFLite has no activation for becomes Max/Min (or Identity)."""

from __future__ import annotations

import pytest
from passes_check import model, ops, rewrites, unchanged


def _clip(bounds: str) -> object:
    inputs, consts = ("(x, lo, hi)", f"<{bounds}>") if bounds else ("(x)", "")
    return model(f"""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 6] x) => (float[1, 6] y) {consts} {{ y = Clip {inputs} }}
    """)


@pytest.mark.parametrize(("bounds", "expected"), [
    ("float lo = {-0.5}, float hi = {0.25}", ["Max", "Min"]),
    ("float lo = {-1.0}, float hi = {1.0}", ["Max", "Min"]),  # RELU_N1_TO_1 after a graph input: no kernel
    ("", ["Identity"]),
])
def test_clip_bounds_without_a_tflm_activation_become_max_min(bounds, expected):
    """Arbitrary bounds, a standalone (-1, 1), no bounds at all: outputs unchanged (onnxruntime)."""
    assert ops(rewrites("decompose-clip", _clip(bounds))) == expected


@pytest.mark.parametrize("bounds", ["float lo = {0.0}, float hi = {6.0}"])
def test_relu6_bounds_are_left_for_the_activation(bounds):
    """Clip(0, 6) is TFLM's RELU6 (it fuses into the kernel before it): unchanged."""
    unchanged("decompose-clip", _clip(bounds))


def test_minus_one_one_after_a_fusing_kernel_is_left_for_the_fused_activation():
    """Clip(-1, 1) after an Add-like kernel stays: it fuses as RELU_N1_TO_1."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 6] x) => (float[1, 6] y) <float lo = {-1.0}, float hi = {1.0}> {
            t = Add (x, x)
            y = Clip (t, lo, hi)
        }
    """)
    unchanged("decompose-clip", m)
