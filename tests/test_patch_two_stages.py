"""Two patched stages one after the other (the image to S, then S to T): bit-exact in TFLM, found by the search.

A stage may start at an inner tensor S: what computes S runs before its tiles. The search pairs a first stage
with a second one starting at its cut, which lowers the peak where one stage would recompute too much halo.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from patch_models import conv_stack
from test_patch_rewrite import layers

from mcugraph.cli.opt import patch_summary
from mcugraph.errors import InvalidModelError
from mcugraph.patch.apply import PatchReport, patch_tflite, report_dict
from mcugraph.patch.rewrite import Tile, patch_stages
from mcugraph.patch.search import search
from mcugraph.patch.stage import candidate_stages, even_bands, stage_for
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.schedule import schedule_tflite
from mcugraph.tflite.tflm import arena_head, run_tflm_batch

HW = (16, 11)
# An expanding block at full resolution, a stride-2 one (explicit PAD), a stride-1 one: the MobileNetV2 pattern.
BLOCKS = [("conv", 3, 2, True, 8), ("conv", 1, 1, True, 48), ("pad", 0, 1, 0, 1), ("dw", 3, 2, False),
          ("conv", 1, 1, True, 8), ("conv", 1, 1, True, 48), ("dw", 3, 1, True), ("conv", 1, 1, True, 8),
          ("conv", 1, 1, True, 48), ("dw", 3, 2, True), ("conv", 1, 1, True, 8)]


def _same_outputs(a: bytes, b: bytes, hw) -> bool:
    rng = np.random.default_rng(0)
    samples = [[rng.integers(-128, 128, (1, *hw, 3), dtype=np.int8)] for _ in range(2)]
    return all(x.tobytes() == y.tobytes()
               for want, got in zip(run_tflm_batch(a, samples), run_tflm_batch(b, samples), strict=True)
               for x, y in zip(want, got, strict=True))


def _random_bands(data, rows: int):
    edges = sorted(data.draw(st.sets(st.integers(1, rows - 1), min_size=1, max_size=min(rows - 1, 9))))
    return list(zip([0, *edges], [*edges, rows], strict=True))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stack=st.lists(layers, min_size=2, max_size=5), first=st.integers(0, 10), second=st.integers(0, 10),
       data=st.data())
def test_random_stage_pairs_are_bit_exact(stack, first, second, data):
    """A stage, then a stage starting at its cut, each on random row bands: TFLM's unpatched outputs bit for bit."""
    try:
        source = conv_stack(stack, hw=HW, seed=len(stack))
    except ValueError:
        assume(False)
    model = tfl.read(source)
    firsts = [s for s in candidate_stages(model) if s.output != int(model.subgraphs[0].outputs[0])]
    assume(firsts)
    a = firsts[first % len(firsts)]
    seconds = candidate_stages(model, a.output)
    assume(seconds)
    b = seconds[second % len(seconds)]
    assert b.input == a.output and not (a.indices & b.indices)
    parts = [(s, _random_bands(data, int(model.subgraphs[0].tensors[s.output].shape[1]))) for s in (a, b)]
    try:
        patched, tiles = patch_stages(model, parts)
    except InvalidModelError:
        assume(False)  # a band made only of a PAD's border rows
    assert [t.rows for t in tiles] == [band for _, bands in parts for band in bands]
    operators = patched.subgraphs[0].operators
    assert all(max(t.operators) < len(operators) for t in tiles)
    assert _same_outputs(source, tfl.pack(patched), HW)


def test_second_stage_reads_only_its_start():
    """A stage from S that needs a tensor computed before S (not S itself) is refused with the reason."""
    model = tfl.read(conv_stack([("conv", 3, 1, True, 4), ("res", 3), ("conv", 1, 1, True, 4)], hw=HW))
    ops = model.subgraphs[0].operators
    inner = int(ops[1].outputs[0])  # the residual branch's conv: the ADD also reads the block input
    with pytest.raises(InvalidModelError, match="reads tensor .* from outside the stage"):
        stage_for(model, int(ops[2].outputs[0]), start=inner)


def test_two_stages_beat_one_and_tflm_agrees():
    """On three MobileNetV2-like blocks, the best pair of stages has a lower peak than any single stage within the
    MAC cap; patch_tflite applies it, TFLM's head equals the prediction and the outputs are bit-exact."""
    hw = (48, 40)
    scheduled = schedule_tflite(conv_stack(BLOCKS, hw=hw))[0]
    model = tfl.read(scheduled)
    one = min(c.peak_bytes for c in search(model, 0.3, two_stages=False))
    patched, report = patch_tflite(scheduled, "auto", 0.3)
    assert report.applied and "; then stage" in report.reason
    assert report.head_after_bytes == report.predicted_bytes == arena_head(patched) < one
    assert report.mac_overhead <= 0.3
    assert _same_outputs(scheduled, patched, hw)


def test_pair_with_even_bands_keeps_tile_indices():
    """Tile operator indices of both stages point at the patched model's operators of that tile."""
    model = tfl.read(conv_stack(BLOCKS, hw=(48, 40)))
    a = stage_for(model, int(model.subgraphs[0].operators[4].outputs[0]))
    b = stage_for(model, int(model.subgraphs[0].operators[9].outputs[0]), start=a.output)
    patched, tiles = patch_stages(model, [(a, even_bands(model, a, 3)), (b, even_bands(model, b, 2))])
    ops = patched.subgraphs[0].operators
    concat = tfl.schema.BuiltinOperator.CONCATENATION
    codes = patched.operatorCodes
    # The operator right after each stage's last tile is its CONCATENATION.
    for last in (tiles[2], tiles[4]):
        assert tfl.opcode_builtin(codes[ops[max(last.operators) + 1].opcodeIndex]) == concat


def test_report_names_both_stages():
    """The JSON report numbers each tile's stage and the one-line summary says two stages ran in tiles."""
    tiles = (Tile((0, 2), (0, 5), ()), Tile((2, 4), (3, 8), ()), Tile((0, 3), (0, 4), ()))
    report = PatchReport(True, "", 100, 40, 40, 40, 10, 11, "t", 9, 2, ((0, 2), (2, 4), (0, 3)), tiles, (0, 0, 1))
    summary = report_dict(report)
    assert [t["stage"] for t in summary["tiles"]] == [0, 0, 1] and summary["stages"] == 2
    assert patch_summary(summary).startswith("3 row tiles of 2 consecutive stages (9 operators): TFLM head 100 -> 40 B")
