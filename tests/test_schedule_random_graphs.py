"""Property: on random small DAGs, schedule_tflite's plan is what TFLM does, byte for byte, and bit-exact.

Every model is built from ADD/SUB/MUL (in-place candidates), MUL by a scalar (broadcast: never in place),
FULLY_CONNECTED (changes sizes) and RESHAPE (in-place candidate), with branches, tensors read several times and
graph outputs that are also read later. ``schedule_tflite`` itself raises unless TFLM's head equals the prediction
and outputs are bit-exact, so the property is "it returns", plus the head never grows.
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mcugraph.tflite.builder import TinyTflite
from mcugraph.tflite.schedule import schedule_tflite

WIDTHS = (4, 16, 40)


def _random_model(seed: int) -> bytes:
    rng = random.Random(seed)
    b = TinyTflite()
    inputs = [b.tensor(f"in{i}", (1, rng.choice(WIDTHS))) for i in range(rng.randint(1, 2))]
    shapes = {t: (1, int(b.subgraph.tensors[t].shape[1])) for t in inputs}
    read: set[int] = set()
    for step in range(rng.randint(2, 9)):
        op = rng.choice(("ADD", "SUB", "MUL", "SCALE", "FC", "RESHAPE"))
        x = rng.choice(list(shapes))
        width = shapes[x][1]
        if op in ("ADD", "SUB", "MUL"):
            same = [t for t, s in shapes.items() if s == shapes[x]]
            operands = [x, rng.choice(same)]
            out_width = width
        elif op == "SCALE":
            op = "MUL"
            operands = [x, b.tensor(f"k{step}", (1,), data=np.array([0.5], np.float32))]
            out_width = width
        elif op == "FC":
            out_width = rng.choice(WIDTHS)
            w = np.random.default_rng(seed + step).uniform(-1, 1, (out_width, width)).astype(np.float32) / width
            operands = [x, b.tensor(f"w{step}", (out_width, width), data=w), -1]
            op = "FULLY_CONNECTED"
        else:
            operands = [x, b.tensor(f"s{step}", (2,), np.int32, data=np.array([1, width], np.int32))]
            out_width = width
        out = b.tensor(f"t{step}", (1, out_width))
        b.op(op, operands, [out])
        read.update(t for t in operands if t in shapes)
        shapes[out] = (1, out_width)
    unread = [t for t in shapes if t not in read and t not in inputs]
    extra = [t for t in shapes if t in read and t not in inputs]
    outputs = unread + ([rng.choice(extra)] if extra and rng.random() < 0.5 else [])
    return b.build(inputs, outputs or [max(shapes)])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), inplace=st.booleans())
def test_random_graph_plans_match_tflm(seed, inplace):
    """TFLM's head equals the predicted arena and outputs are bit-exact (checked inside), never above TFLM's own."""
    _, report = schedule_tflite(_random_model(seed), inplace=inplace, time_limit_s=2.0)
    assert report.head_after_bytes == report.predicted_bytes
    assert report.lower_bound_bytes <= report.predicted_bytes <= report.head_before_bytes
