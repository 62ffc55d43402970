"""Kernel scratch buffers (mcugraph.memory.scratch): modelled, planned, and equal to TFLM's measured arena head."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memory_reference import reference_peak
from onnx import TensorProto, helper, numpy_helper
from test_memory_properties import kernel_graphs  # tests/ is on sys.path (rootdir conftest, no package)

import mcugraph
from mcugraph.errors import ExportError
from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.inplace import arena_bytes
from mcugraph.memory.kernel_view import kernel_view
from mcugraph.memory.peak import peak_memory
from mcugraph.memory.planner import check_plan, format_plan, plan_arena, tflm_greedy_plan
from mcugraph.memory.schedule import schedule_min_peak
from mcugraph.memory.tflite_graph import kernel_graph_from_tflite, read_model
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.offline_plan import remove_offline_plan
from mcugraph.tflite.tflm import arena_head


def _cnn(hw: int = 4, channels: tuple[int, ...] = (5, 41), pool: bool = False, reduce: str = "GlobalAveragePool"):
    """Conv(1->c0) -> Relu -> [MaxPool] -> Conv(->c1) ... -> GlobalAveragePool -> Flatten -> Gemm(->10), NCHW."""
    rng = np.random.default_rng(0)
    inits, nodes, x, cin = [], [], "x", 1
    for i, c in enumerate(channels):
        inits += [numpy_helper.from_array(rng.standard_normal((c, cin, 3, 3)).astype(np.float32) * 0.3, f"w{i}"),
                  numpy_helper.from_array(rng.standard_normal(c).astype(np.float32) * 0.1, f"b{i}")]
        nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1], name=f"conv{i}"),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}")]
        x, cin = f"r{i}", c
        if pool and i == len(channels) - 2:
            nodes.append(helper.make_node("MaxPool", [x], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"))
            x = "p"
    inits += [numpy_helper.from_array(rng.standard_normal((10, cin)).astype(np.float32) * 0.1, "wf"),
              numpy_helper.from_array(np.zeros(10, np.float32), "bf")]
    nodes += [helper.make_node(reduce, [x], ["g"], name="reduce"), helper.make_node("Flatten", ["g"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1, name="fc")]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _online(data: bytes) -> bytes:
    """``data`` without its offline plan: TFLM plans every buffer itself."""
    model = read_model(data)
    remove_offline_plan(model)
    return tfl.pack(model)


# MEAN over a 1x41x4x4 int8 input: the input, its 41-byte output, and the kernel's three scratch buffers
# (41 int32 sums, then 4 x rank and 4 x axes) are live together.
MEAN_STEP_BYTES = 41 * 16 + arena_bytes(41) + arena_bytes(4 * 41) + arena_bytes(4 * 4) + arena_bytes(4 * 2)


def test_mean_at_peak_predicted_equals_tflm_head():
    """With MEAN and its scratch at the peak, the predicted arena is TFLM's measured head byte for byte."""
    model = _cnn()
    graph = kernel_view(mcugraph.run_pipeline(mcugraph.load(model), mcugraph.CANONICALIZE).model)
    schedule = schedule_min_peak(graph)
    profile = peak_memory(graph, schedule.order)
    assert graph.kernel(profile.order[profile.peak_step]).op == "MEAN"
    assert profile.peak_bytes == MEAN_STEP_BYTES == 912
    report = mcugraph.optimize(model, calib="random:0,1").report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"] == MEAN_STEP_BYTES


def test_pruned_digits_shape_matches_tflm():
    """The pruned digits CNN's shape (8x8, max pool, 41 channels into the average pool) predicts TFLM's head."""
    report = mcugraph.optimize(_cnn(hw=8, channels=(5, 12, 41), pool=True), calib="random:0,1").report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"] == report["peak_bytes"]


def test_optimize_refuses_a_wrong_prediction(monkeypatch):
    """optimize raises ExportError (no bytes returned) when the memory model disagrees with TFLM's head."""
    import mcugraph.memory.kernel_view as kv

    monkeypatch.setattr(kv, "scratch_bytes", lambda *args, **kwargs: ())
    with pytest.raises(ExportError, match=r"arena head .* is 912 B but mcugraph predicted 736 B.*bug"):
        mcugraph.optimize(_cnn(), calib="random:0,1")


def test_schedule_tflite_with_mean_matches_tflm():
    """mcugraph schedule on a .tflite with MEAN at the peak predicts (and TFLM confirms) the scratch-aware head."""
    from mcugraph.tflite.schedule import schedule_tflite

    data = _online(mcugraph.optimize(_cnn(), calib="random:0,1", verify=False).tflite)
    _, report = schedule_tflite(data, time_limit_s=2.0)
    assert report.head_after_bytes == report.predicted_bytes == MEAN_STEP_BYTES
    assert list(report.plan.scratch_sizes.values()) == [arena_bytes(4 * 41), 16, 16]


@pytest.mark.parametrize(("reduce", "quantize"), [
    ("GlobalAveragePool", True), ("GlobalAveragePool", False), ("GlobalMaxPool", True), ("GlobalMaxPool", False),
])
def test_tflm_greedy_plan_exact_with_scratch(reduce, quantize):
    """Without an offline plan, tflm_greedy_plan (scratch buffers in TFLM's size sort) is TFLM's head."""
    data = _online(mcugraph.optimize(_cnn(reduce=reduce), calib="random:0,1", quantize=quantize, verify=False).tflite)
    graph = kernel_graph_from_tflite(data)
    assert any(k.scratch_bytes for k in graph.kernels)
    assert tflm_greedy_plan(graph).arena_bytes == arena_head(data)


def test_transpose_conv_int8_scratch_matches_tflm():
    """int8 TRANSPOSE_CONV asks for an int32 per output element; the prediction is TFLM's head."""
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], kernel_shape=[2, 2])],
        "tconv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 12, 12])],
        [numpy_helper.from_array(rng.standard_normal((8, 4, 2, 2)).astype(np.float32), "w"),
         numpy_helper.from_array(np.zeros(4, np.float32), "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    report = mcugraph.optimize(model, calib="random:0,1", verify=False).report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"] == 288 + 576 + 4 * 576


def _hand_graph() -> KernelGraph:
    """a(64) -> k0 -> b(32) -> MEAN k1 (scratch 40 B) -> c(16): a's bytes are free again at k1."""
    tensors = {n: TensorInfo(n, (size,), 1) for n, size in (("a", 64), ("b", 32), ("c", 16))}
    kernels = (Kernel("k0", "CONV_2D", ("a",), ("b",)), Kernel("k1", "MEAN", ("b",), ("c",), scratch_bytes=(40,)))
    return KernelGraph(tensors, kernels, ("a",), ("c",))


def test_plan_places_scratch_like_tflm():
    """plan_arena counts the scratch (48 B, its kernel's step only) and reports TFLM's placement of it."""
    graph = _hand_graph()
    assert peak_memory(graph).live_bytes == (64 + 32, 32 + 16 + 48)
    plan = plan_arena(graph)
    check_plan(plan, graph)
    assert plan.arena_bytes == plan.lower_bound_bytes == 96
    assert (plan.scratch_offsets, plan.scratch_sizes) == ({"k1/scratch0": 0}, {"k1/scratch0": 48})
    assert "#" in format_plan(plan, graph)


def test_check_plan_rejects_scratch_over_a_live_tensor():
    """A scratch buffer overlapping a tensor live at its kernel is an error."""
    graph = _hand_graph()
    plan = plan_arena(graph)
    broken = dict(plan.scratch_offsets, **{"k1/scratch0": plan.offsets["c"]})
    with pytest.raises(ExportError, match="overlaps live tensors"):
        check_plan(type(plan)(**{**plan.__dict__, "scratch_offsets": broken}), graph)


@st.composite
def graphs_with_scratch(draw) -> KernelGraph:
    """Random kernel DAGs (test_memory_properties) whose kernels ask for 0-2 scratch buffers of 1..300 bytes."""
    graph = draw(kernel_graphs(max_kernels=6))
    scratch = st.lists(st.integers(1, 300), max_size=2).map(tuple)
    return dataclasses.replace(graph, kernels=tuple(
        dataclasses.replace(k, scratch_bytes=draw(scratch)) for k in graph.kernels
    ))


@settings(max_examples=60, deadline=None)
@given(graphs_with_scratch())
def test_plans_with_scratch_are_valid_and_tflm_placed(graph):
    """Plans never overlap live buffers, arena >= peak incl. scratch, and scratch sits where TFLM's first-fit puts it."""
    from mcugraph.memory.peak import buffers
    from mcugraph.memory.planner import _with_tflm_scratch

    schedule = schedule_min_peak(graph, time_limit_s=1.0)
    assert schedule.peak_bytes == reference_peak(graph, schedule.order) <= schedule.given_peak_bytes
    plan = plan_arena(graph, schedule.order, time_limit_s=0.2)
    check_plan(plan, graph)
    assert plan.arena_bytes >= plan.lower_bound_bytes == schedule.peak_bytes
    bufs = buffers(graph, schedule.order, scratch=True)
    offsets = [plan.scratch_offsets[b.tensors[0]] if b.scratch else plan.offsets[b.tensors[0]] for b in bufs]
    assert _with_tflm_scratch(bufs, offsets) == offsets
    greedy = tflm_greedy_plan(graph, schedule.order)
    check_plan(greedy, graph)


def test_pruning_resource_model_counts_scratch():
    """The pruner's SRAM model equals peak_memory (scratch included) at whole counts when MEAN is at the peak."""
    from mcugraph.prune.api import apply_keep, canonicalize, unshare_initializers
    from mcugraph.prune.channel_groups import channel_groups
    from mcugraph.prune.gates import gateable_groups
    from mcugraph.prune.resources import resource_model

    model = unshare_initializers(canonicalize(mcugraph.load(_cnn(hw=8, channels=(5, 12, 41), pool=True))))
    groups = channel_groups(model)
    order = [k.name for k in kernel_view(model).kernels]
    rmodel = resource_model(model, groups, order)
    # 3 channels before the pool, 30 into the average pool: MEAN's step (with 200 B of scratch) is the peak.
    keep = {g.id: tuple(range(30 if g.size == 41 else 3)) for g in gateable_groups(model, groups)}
    pruned = kernel_view(apply_keep(model, keep))
    profile = peak_memory(pruned, order)
    assert pruned.kernel(order[profile.peak_step]).op == "MEAN"
    assert float(rmodel.evaluate({gid: float(len(k)) for gid, k in keep.items()})["ram"]) == profile.peak_bytes


def test_scratch_request_sizes_by_hand():
    """The table of mcugraph.memory.scratch, value by value: MEAN int8/int16 sums one int32 per output element
    plus 4 x rank and 4 x axes; float MEAN and REDUCE_MAX only the last two; TRANSPOSE_CONV int8 one int32 and
    int16 one int64 per output element, float none; other kernels and missing tensors none."""
    from mcugraph.memory.scratch import scratch_bytes

    def info(shape, itemsize):
        return TensorInfo("t", shape, itemsize)

    x8, x16, x32 = info((1, 4, 4, 3), 1), info((1, 4, 4, 3), 2), info((1, 4, 4, 3), 4)
    out = info((1, 1, 1, 3), 1)
    assert scratch_bytes("MEAN", x8, out, axis_count=2) == (12, 16, 8)
    assert scratch_bytes("MEAN", x16, out, axis_count=2) == (12, 16, 8)
    assert scratch_bytes("MEAN", x32, out, axis_count=2, integer=False) == (16, 8)
    assert scratch_bytes("MEAN", x8, out, axis_count=2, integer=False) == (16, 8)
    assert scratch_bytes("MEAN", x32, out, axis_count=1) == (16, 4)  # 4-byte integers: no int32 sums
    assert scratch_bytes("REDUCE_MAX", x8, out, axis_count=3) == (16, 12)
    assert scratch_bytes("REDUCE_MAX", info((1, 8), 1), out) == (8, 0)
    big = info((1, 8, 8, 2), 1)
    assert scratch_bytes("TRANSPOSE_CONV", x8, big) == (512,)
    assert scratch_bytes("TRANSPOSE_CONV", x16, big) == (1024,)
    assert scratch_bytes("TRANSPOSE_CONV", x32, big) == ()
    assert scratch_bytes("TRANSPOSE_CONV", x8, big, integer=False) == ()
    assert scratch_bytes("CONV_2D", x8, big) == ()
    assert scratch_bytes("MEAN", None, out, axis_count=2) == ()
    assert scratch_bytes("MEAN", x8, None, axis_count=2) == ()
