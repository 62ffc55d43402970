"""The patch rewrite: a stage run on row bands in TFLM is bit-exact with the unpatched int8 model.

Random conv stacks (kernel sizes, strides, SAME/VALID padding, explicit PADs, residual ADDs, max pooling) are cut
at a random operator and split into random row bands; TFLM runs both models on random images and must give the
same bytes. The refusals say why a stage cannot be tiled.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from patch_models import conv_stack

from mcugraph.errors import InvalidModelError, UnsupportedOpError
from mcugraph.patch.rewrite import patch_model
from mcugraph.patch.stage import candidate_stages, even_bands, stage_for
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.tflm import run_tflm_batch

HW = (14, 11)


def _images(count: int, hw=HW, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.integers(-128, 128, (1, *hw, 3), dtype=np.int8)] for _ in range(count)]


def _same_outputs(a: bytes, b: bytes, hw=HW) -> bool:
    samples = _images(2, hw)
    return all(
        x.tobytes() == y.tobytes()
        for want, got in zip(run_tflm_batch(a, samples), run_tflm_batch(b, samples), strict=True)
        for x, y in zip(want, got, strict=True)
    )


def _cut(model, op: int):
    return stage_for(model, int(model.subgraphs[0].operators[op].outputs[0]))


layers = st.one_of(
    st.tuples(st.just("conv"), st.sampled_from([1, 2, 3, 5]), st.sampled_from([1, 2]), st.booleans(),
              st.sampled_from([4, 8])),
    st.tuples(st.just("dw"), st.sampled_from([3, 5]), st.sampled_from([1, 2]), st.booleans()),
    st.tuples(st.just("pad"), st.integers(0, 1), st.integers(0, 2), st.integers(0, 1), st.integers(0, 1)),
    st.tuples(st.just("res"), st.sampled_from([1, 3])),
    st.tuples(st.just("maxpool"), st.just(2), st.sampled_from([1, 2])),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stack=st.lists(layers, min_size=1, max_size=4), cut=st.integers(0, 10), data=st.data())
def test_random_conv_stacks_are_bit_exact(stack, cut, data):
    """Any stage of a random conv stack, on random row bands, gives TFLM's unpatched outputs bit for bit."""
    try:
        source = conv_stack(stack, hw=HW, seed=len(stack))
    except ValueError:
        assume(False)
    model = tfl.read(source)
    stages = candidate_stages(model)
    assume(stages)
    stage = stages[cut % len(stages)]
    rows = int(model.subgraphs[0].tensors[stage.output].shape[1])
    edges = sorted(data.draw(st.sets(st.integers(1, rows - 1), max_size=min(rows - 1, 9))))
    bands = list(zip([0, *edges], [*edges, rows], strict=True))
    assume(len(bands) >= 2)
    try:
        patched, tiles = patch_model(model, stage, bands)
    except InvalidModelError:
        assume(False)  # a band made only of a PAD's border rows
    assert [t.rows for t in tiles] == bands
    assert _same_outputs(source, tfl.pack(patched))


@pytest.mark.parametrize("count", [2, 3, 5])
def test_mobilenet_like_stage_is_bit_exact(count):
    """Conv s2 -> PAD -> depthwise s2 VALID -> residual block -> 1x1: all of it on even bands."""
    source = conv_stack([("conv", 3, 2, True, 8), ("pad", 1, 1, 1, 1), ("dw", 3, 2, False), ("res", 3),
                         ("conv", 1, 1, True, 8)], hw=(32, 24))
    model = tfl.read(source)
    stage = _cut(model, 5)
    bands = even_bands(model, stage, count)
    patched, _ = patch_model(model, stage, bands)
    assert _same_outputs(source, tfl.pack(patched), hw=(32, 24))


def test_wrong_halo_is_caught():
    """Control: a tile that reads one row too few of the image changes the outputs."""
    from mcugraph.patch import geometry

    source = conv_stack([("conv", 3, 1, True, 8), ("conv", 3, 1, True, 8)], hw=HW)
    model = tfl.read(source)
    stage = _cut(model, 1)
    broken = [dataclass_replace(op, rows=geometry.Window(1, 1, 1, 0, 0)) if i == 0 else op
              for i, op in enumerate(stage.ops)]
    patched, _ = patch_model(model, dataclass_replace(stage, ops=tuple(broken)), [(0, 7), (7, 14)])
    assert not _same_outputs(source, tfl.pack(patched))


def dataclass_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def test_global_op_in_the_stage_is_refused_with_the_reason():
    """Cutting after MEAN would put a global operator in the stage: refused, naming it."""
    model = tfl.read(conv_stack([("conv", 3, 1, True, 4)]))
    with pytest.raises(UnsupportedOpError, match=r"operator 1 \(MEAN\) cannot run on row tiles: it mixes rows"):
        _cut(model, 1)


def test_same_padded_average_pool_is_refused():
    """AVERAGE_POOL with SAME padding leaves padded cells out of its count: not tileable, said so."""
    source = conv_stack([("maxpool", 2, 2)])
    model = tfl.read(source)
    pool = model.subgraphs[0].operators[0]
    pool.opcodeIndex = _opcode(model, "AVERAGE_POOL_2D")
    pool.builtinOptions.padding = tfl.schema.Padding.SAME
    pool.builtinOptions.filterHeight = pool.builtinOptions.filterWidth = 3
    with pytest.raises(UnsupportedOpError, match="SAME padding"):
        _cut(model, 0)


def _opcode(model, name: str) -> int:
    code = tfl.schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(tfl.schema.BuiltinOperator, name)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def test_bands_must_cover_the_output():
    """Bands with a gap are refused before anything is built."""
    model = tfl.read(conv_stack([("conv", 3, 1, True, 4), ("conv", 1, 1, True, 4)]))
    with pytest.raises(InvalidModelError, match="do not cover"):
        patch_model(model, _cut(model, 1), [(0, 5), (6, 14)])
