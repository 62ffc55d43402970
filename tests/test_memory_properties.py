"""Property tests on random kernel DAGs: orders, exact schedule vs brute force, plans never overlap live tensors."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from memory_reference import reference_live_bytes, reference_peak, topological_orders

from mcugraph.errors import ExportError
from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.liveness import lifetimes
from mcugraph.memory.peak import peak_memory
from mcugraph.memory.planner import check_plan, plan_arena, plan_linear, tflm_greedy_plan
from mcugraph.memory.schedule import schedule_min_peak

# Shapes chosen so that equal shapes (in-place ADD), equal bytes (in-place RESHAPE) and rounding all occur.
SHAPES = [(1, 4, 4, 2), (1, 4, 4, 4), (1, 2, 2, 8), (1, 8), (1, 3, 3, 3), (1, 100)]
OPS = ["CONV_2D", "ADD", "MUL", "RESHAPE", "CONCATENATION", "SPLIT"]


@st.composite
def kernel_graphs(draw, max_kernels: int = 8, scratch: bool = True) -> KernelGraph:
    n = draw(st.integers(1, max_kernels))
    tensors = {"w": TensorInfo("w", (3, 3), 1, constant=True)}
    available = []
    for i in range(draw(st.integers(1, 2))):
        tensors[f"in{i}"] = TensorInfo(f"in{i}", draw(st.sampled_from(SHAPES)), 1)
        available.append(f"in{i}")
    kernels = []
    for k in range(n):
        op = draw(st.sampled_from(OPS))
        arity = {"ADD": 2, "MUL": 2, "CONCATENATION": draw(st.integers(1, 3))}.get(op, 1)
        inputs = [draw(st.sampled_from(available)) for _ in range(arity)]
        first = tensors[inputs[0]]
        outputs = [f"t{k}_{j}" for j in range(2 if op == "SPLIT" else 1)]
        for name in outputs:
            same = op in ("ADD", "MUL") or (op == "RESHAPE" and draw(st.booleans()))
            shape = first.shape if same else draw(st.sampled_from(SHAPES))
            tensors[name] = TensorInfo(name, shape, 1)
        if op == "CONV_2D":
            inputs.append("w")
        # Some kernels ask for scratch buffers (live at their step only), as MEAN or TRANSPOSE_CONV do.
        requests = tuple(draw(st.lists(st.sampled_from([0, 4, 20, 300]), max_size=2))) if scratch else ()
        kernels.append(Kernel(f"k{k}", op, tuple(inputs), tuple(outputs), scratch_bytes=requests))
        available.extend(outputs)
    extra = draw(st.lists(st.sampled_from(available), max_size=2))
    outputs = tuple(dict.fromkeys([*kernels[-1].outputs, *extra]))
    graph_inputs = tuple(t for t in tensors if t.startswith("in"))
    return KernelGraph(tensors, tuple(kernels), graph_inputs, outputs)


@given(kernel_graphs(), st.data(), st.booleans())
def test_peak_memory_equals_the_reference_model(graph, data, inplace):
    """peak_memory's live bytes at every step of a random topological order equal the independent simulation's."""
    orders = list(itertools.islice(topological_orders(graph), 50))
    order = data.draw(st.sampled_from(orders))
    profile = peak_memory(graph, order, inplace)
    assert list(profile.live_bytes) == reference_live_bytes(graph, order, inplace)
    assert profile.peak_bytes == reference_peak(graph, order, inplace)
    assert profile.live_bytes[profile.peak_step] == profile.peak_bytes
    assert all(b < profile.peak_bytes for b in profile.live_bytes[: profile.peak_step])


@given(kernel_graphs(), st.booleans())
def test_schedule_is_a_topological_order_never_worse_than_given(graph, inplace):
    """The schedule names every kernel once, in a valid order, and its peak (by the independent reference model,
    not the peak_memory the scheduler itself checks against) is <= the stored order's."""
    result = schedule_min_peak(graph, inplace=inplace)
    assert sorted(result.order) == sorted(k.name for k in graph.kernels)
    assert result.order in set(itertools.islice(topological_orders(graph), 100_000))
    assert reference_peak(graph, result.order, inplace) == result.peak_bytes
    assert result.peak_bytes <= result.given_peak_bytes == reference_peak(graph, inplace=inplace)


@settings(max_examples=40)
@given(kernel_graphs(max_kernels=8), st.booleans())
def test_exact_schedule_equals_brute_force(graph, inplace):
    """On graphs of <= 8 kernels the proven-optimal peak is the minimum over all topological orders."""
    orders = list(itertools.islice(topological_orders(graph), 3001))
    assume(len(orders) <= 3000)  # keeps brute force within the test budget; wider graphs are rare here
    result = schedule_min_peak(graph, inplace=inplace)
    best = min(reference_peak(graph, order, inplace) for order in orders)
    assert result.optimal
    assert result.peak_bytes == best == reference_peak(graph, result.order, inplace)


@given(kernel_graphs(), st.booleans())
def test_arena_plan_is_valid_and_above_lower_bound(graph, inplace):
    """plan_arena never overlaps live tensors, and lower bound <= arena <= TFLM's greedy <= linear."""
    plan = plan_arena(graph, inplace=inplace, time_limit_s=0.05)
    check_plan(plan, graph)
    assert plan.lower_bound_bytes == reference_peak(graph, inplace=inplace) <= plan.arena_bytes
    assert plan.arena_bytes <= plan_linear(graph).arena_bytes
    if not inplace:
        assert plan.arena_bytes <= tflm_greedy_plan(graph).arena_bytes


@given(kernel_graphs())
def test_baseline_plans_are_valid(graph):
    """TFLM's greedy plan and the linear plan pass the overlap check too."""
    check_plan(tflm_greedy_plan(graph), graph)
    check_plan(plan_linear(graph), graph)


@given(kernel_graphs(), st.data())
def test_check_plan_catches_a_moved_tensor(graph, data):
    """Moving a tensor onto one that is live at the same step makes check_plan raise."""
    plan = plan_arena(graph, inplace=False, time_limit_s=0.0)
    live = lifetimes(graph)
    clashes = [
        (a, b) for a, b in itertools.permutations(live, 2)
        if live[a][0] <= live[b][1] and live[b][0] <= live[a][1]
    ]
    if not clashes:
        return
    a, b = data.draw(st.sampled_from(clashes))
    broken = dict(plan.offsets)
    broken[a] = plan.offsets[b]
    with pytest.raises(ExportError, match="overlaps live tensors"):
        check_plan(type(plan)(**{**plan.__dict__, "offsets": broken, "arena_bytes": 10**6}), graph)


@settings(max_examples=40)
@given(kernel_graphs(max_kernels=4, scratch=False))  # the brute force below places tensors only
def test_exact_placement_equals_brute_force(graph):
    """Branch and bound finds the best first-fit placement over all buffer orders (which contains an optimum)."""
    from mcugraph.memory.peak import buffers
    from mcugraph.memory.planner import _arena, _first_fit

    bufs = buffers(graph, inplace=False)
    assume(len(bufs) <= 6)
    best = min(_arena(bufs, _first_fit(bufs, p)) for p in itertools.permutations(range(len(bufs))))
    plan = plan_arena(graph, inplace=False, time_limit_s=10.0)
    assert plan.optimal
    assert plan.arena_bytes == best
