"""Memory-optimal kernel order: exact answers on small graphs, the fallbacks on wide ones, zoo models."""

from __future__ import annotations

from memory_reference import reference_peak

import mcugraph
from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.kernel_view import kernel_view
from mcugraph.memory.schedule import schedule_min_peak


def graph(sizes: dict[str, int], kernels: list[tuple], inputs=("x",), outputs=None) -> KernelGraph:
    """sizes: tensor -> bytes (int8, 1-D); kernels: (name, op, inputs, outputs)."""
    tensors = {t: TensorInfo(t, (n,), 1) for t, n in sizes.items()}
    ks = tuple(Kernel(n, op, tuple(i), tuple(o)) for n, op, i, o in kernels)
    return KernelGraph(tensors, ks, tuple(inputs), tuple(outputs or ks[-1].outputs))


def branches() -> KernelGraph:
    # Two branches big (1000 B) -> small (16 B), concatenated; the stored order runs both big kernels first.
    return graph(
        {"x": 16, "A": 1000, "a": 16, "B": 1000, "b": 16, "y": 32},
        [("a1", "CONV_2D", ["x"], ["A"]), ("b1", "CONV_2D", ["x"], ["B"]),
         ("a2", "CONV_2D", ["A"], ["a"]), ("b2", "CONV_2D", ["B"], ["b"]),
         ("cat", "CONCATENATION", ["a", "b"], ["y"])],
    )


def parallel_chains(count: int, length: int, end_bytes: int | None = None) -> KernelGraph:
    """``count`` independent chains from one input, joined by one concat: (length+1)^count orders to search."""
    sizes = {"x": 16, "y": 16}
    kernels = []
    ends = []
    for c in range(count):
        previous = "x"
        for i in range(length):
            name = f"c{c}_{i}"
            sizes[name] = 16 * (1 + (c * 7 + i * 3) % 5) if end_bytes is None or i < length - 1 else end_bytes
            kernels.append((name, "CONV_2D", [previous], [name]))
            previous = name
        ends.append(previous)
    kernels.append(("cat", "CONCATENATION", ends, ["y"]))
    return graph(sizes, kernels)


def test_schedule_finishes_one_branch_before_starting_the_next():
    """Optimal order keeps one 1000-byte tensor live at a time: 16 + 1008 + 16 instead of 16 + 2 x 1008."""
    result = schedule_min_peak(branches())
    assert result.given_peak_bytes == 16 + 1008 + 1008
    assert result.peak_bytes == 16 + 1008 + 16
    assert result.optimal
    assert result.order.index("a2") < result.order.index("b1") or result.order.index("b2") < result.order.index("a1")


def test_schedule_reports_time_and_work():
    """The result says how long the search took and how many kernel sets it visited."""
    result = schedule_min_peak(branches())
    assert result.seconds > 0
    assert result.states > 0


def test_already_optimal_order_is_kept():
    """A chain has one order; it is returned unchanged and proven optimal without search."""
    g = graph({"x": 16, "a": 32, "y": 16}, [("k1", "CONV_2D", ["x"], ["a"]), ("k2", "CONV_2D", ["a"], ["y"])])
    result = schedule_min_peak(g)
    assert result.order == ("k1", "k2") and result.optimal and result.peak_bytes == result.given_peak_bytes


def test_long_chain_is_cut_into_segments():
    """500 kernels in a row are all articulation points: solved instantly and exactly."""
    sizes = {"x": 16, **{f"t{i}": 16 * (1 + i % 3) for i in range(500)}}
    kernels = [(f"k{i}", "CONV_2D", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"]) for i in range(500)]
    result = schedule_min_peak(graph(sizes, kernels))
    assert result.optimal and result.seconds < 2.0
    assert result.order == tuple(f"k{i}" for i in range(500))


def test_wide_graph_falls_back_and_is_never_worse():
    """12 parallel chains exceed the state budget: a valid order no worse than given, not claimed optimal."""
    g = parallel_chains(12, 3, end_bytes=16)  # small chain ends: the chains, not the concat, set the peak
    result = schedule_min_peak(g, max_states=2_000, time_limit_s=2.0)
    assert not result.optimal
    assert result.peak_bytes <= result.given_peak_bytes
    assert reference_peak(g, result.order) == result.peak_bytes


def test_inplace_changes_the_best_order():
    """With in-place ADD the optimum counts the ADD's output in its dying input's bytes."""
    g = graph(
        {"x": 256, "y": 256, "z": 256},
        [("conv", "CONV_2D", ["x"], ["y"]), ("add", "ADD", ["x", "y"], ["z"])],
    )
    assert schedule_min_peak(g, inplace=True).peak_bytes == 2 * 256
    assert schedule_min_peak(g, inplace=False).peak_bytes == 3 * 256


def test_inception_schedule_lowers_the_peak(zoo):
    """The Inception-style zoo model's branches can be reordered to a smaller proven-optimal peak."""
    g = kernel_view(mcugraph.load(zoo("inception")))
    result = schedule_min_peak(g)
    assert result.optimal
    assert result.peak_bytes < result.given_peak_bytes == reference_peak(g)
    assert reference_peak(g, result.order) == result.peak_bytes


def test_unproven_segment_below_a_proven_peak_is_still_optimal():
    """When the budget stops a segment whose best peak is under a proven segment's peak, the order is optimal."""
    g = parallel_chains(12, 3)  # the concat of all chain ends peaks higher than any way of running the chains
    result = schedule_min_peak(g, max_states=2_000, time_limit_s=2.0)
    assert result.optimal
    assert result.peak_bytes == reference_peak(g, result.order) <= result.given_peak_bytes


def test_zero_time_limit_still_returns_a_valid_order():
    """With no time at all the search stops at once and returns the given order's peak or better."""
    g = parallel_chains(8, 3)
    result = schedule_min_peak(g, time_limit_s=0.0)
    assert not result.optimal
    assert reference_peak(g, result.order) == result.peak_bytes <= result.given_peak_bytes
