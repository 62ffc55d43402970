"""The planner's exact branch and bound against brute force, and check_plan fed wrong plans it must refuse."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from mcugraph.errors import ExportError
from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.peak import Buffer, peak_memory
from mcugraph.memory.planner import (
    ArenaPlan,
    _arena,
    _exact_placement,
    _first_fit,
    check_plan,
    plan_arena,
    tflm_greedy_plan,
)


def _instance(rng: random.Random, n: int) -> list[Buffer]:
    # Odd byte counts (not 16-rounded) and lifetimes that start after step 0, so off-by-a-few bounds show.
    bufs = []
    for i in range(n):
        first = rng.randint(2, 6)
        bufs.append(Buffer((f"t{i}",), rng.randint(1, 13), first, first + rng.randint(0, 3)))
    return bufs


def _brute_force(bufs: list[Buffer]) -> int:
    """Smallest arena: sorting any placement by offset and placing first-fit in that order never moves a buffer
    up, so the optimum is the best first-fit over all orders."""
    return min(_arena(bufs, _first_fit(bufs, perm)) for perm in itertools.permutations(range(len(bufs))))


def _peak(bufs: list[Buffer]) -> int:
    steps = range(min(b.first for b in bufs), max(b.last for b in bufs) + 1)
    return max(sum(b.nbytes for b in bufs if b.first <= t <= b.last) for t in steps)


def _assert_valid(bufs: list[Buffer], offsets: list[int]) -> None:
    for (a, oa), (b, ob) in itertools.combinations(zip(bufs, offsets, strict=True), 2):
        if a.first <= b.last and b.first <= a.last:
            assert oa + a.nbytes <= ob or ob + b.nbytes <= oa, f"{a} at {oa} overlaps {b} at {ob}"


# Seeds 34..88: instances where stopping after the first complete placement, or a capacity bound that subtracts
# the wrong number, misses the optimum (found by running those bugs).
@pytest.mark.parametrize("seed", [*range(12), 34, 36, 41, 77, 88])
def test_exact_placement_reaches_the_brute_force_optimum(seed):
    """Started from a loose bound, the search returns a valid placement of exactly the optimum and says it is
    proven; started from the optimum itself it finds nothing smaller and still says proven. lower_bound=0 makes it
    search the whole tree; the true peak lets it stop early, at the optimum only when that is the peak."""
    rng = random.Random(seed)
    bufs = _instance(rng, rng.randint(4, 7))
    best = _brute_force(bufs)
    deadline = time.perf_counter() + 30
    for lower_bound in (0, _peak(bufs)):
        found, proven = _exact_placement(bufs, sum(b.nbytes for b in bufs) + 1, lower_bound, deadline)
        assert found is not None and proven
        _assert_valid(bufs, found)
        assert _arena(bufs, found) == best
        assert _exact_placement(bufs, best, lower_bound, deadline) == (None, True)


def test_exact_placement_says_unproven_when_time_runs_out():
    bufs = _instance(random.Random(7), 6)
    found, proven = _exact_placement(bufs, sum(b.nbytes for b in bufs) + 1, 0, time.perf_counter() - 1)
    assert (found, proven) == (None, False)


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_capacity_bound_keeps_the_search_fast(seed):
    """12 buffers: with its per-step capacity bound the search proves the optimum in ~1 ms; a search that skips or
    weakens the bound needs more than 3 s here (measured), so a 2 s budget tells them apart by 1000x."""
    rng = random.Random(seed)
    bufs = []
    for i in range(12):
        first = rng.randint(0, 8)
        bufs.append(Buffer((f"t{i}",), 16 * rng.randint(1, 8), first, first + rng.randint(0, 4)))
    found, proven = _exact_placement(bufs, sum(b.nbytes for b in bufs) + 1, 0, time.perf_counter() + 2.0)
    assert proven and found is not None
    _assert_valid(bufs, found)


def graph(sizes: dict[str, int], kernels: list[tuple], inputs=("x",), outputs=None) -> KernelGraph:
    tensors = {t: TensorInfo(t, (n,), 1) for t, n in sizes.items()}
    ks = tuple(k if isinstance(k, Kernel) else Kernel(*k) for k in kernels)
    return KernelGraph(tensors, ks, tuple(inputs), tuple(outputs or ks[-1].outputs))


def residual() -> KernelGraph:
    # conv x -> y; add(x, y) -> z may write over x in place; conv z -> w cannot share z's bytes.
    return graph({"x": 256, "y": 256, "z": 256, "w": 256},
                 [("c1", "CONV_2D", ("x",), ("y",)), ("add", "ADD", ("x", "y"), ("z",)),
                  ("c2", "CONV_2D", ("z",), ("w",))])


def test_a_plan_built_by_hand_claims_no_optimality():
    plan = ArenaPlan(offsets={}, sizes={}, arena_bytes=0, lower_bound_bytes=0, order=())
    assert plan.optimal is False


def test_tflm_plan_lower_bound_ignores_inplace():
    """TFLM's greedy planner shares no bytes, so its lower bound is the peak without in-place (3 x 256 at the ADD),
    not the in-place peak (2 x 256)."""
    g = residual()
    assert peak_memory(g, inplace=True).peak_bytes == 512
    assert tflm_greedy_plan(g).lower_bound_bytes == peak_memory(g, inplace=False).peak_bytes == 768


def test_check_plan_refuses_a_tensor_on_an_inplace_chain_that_is_not_part_of_it():
    """z legitimately shares x's bytes; putting w on z's bytes too (a CONV's output over its live input) is
    refused, though z is one of the shared tensors."""
    g = residual()
    plan = plan_arena(g)
    check_plan(plan, g)
    assert plan.shared.get("z", (None,))[0] == "x" and plan.offsets["z"] == plan.offsets["x"]
    bad = ArenaPlan(**{**plan.__dict__, "offsets": {**plan.offsets, "w": plan.offsets["z"]}})
    with pytest.raises(ExportError, match="overlaps live tensors 'z'.*'w'"):
        check_plan(bad, g)


def test_check_plan_refuses_scratch_over_a_live_tensor():
    g = graph({"x": 64, "y": 64}, [Kernel("conv", "CONV_2D", ("x",), ("y",), scratch_bytes=(32,))])
    plan = plan_arena(g)
    check_plan(plan, g)
    (s,) = plan.scratch_offsets
    bad = ArenaPlan(**{**plan.__dict__, "scratch_offsets": {s: plan.offsets["x"]}})
    with pytest.raises(ExportError, match="overlaps"):
        check_plan(bad, g)
