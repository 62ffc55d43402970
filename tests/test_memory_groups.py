"""Property tests of the in-place groups (PAD around its input, concatenation inputs inside the output).

Random chains of row-band kernels on NHWC shapes (graphs read from a .tflite: storage shapes), with PADs,
CONCATENATIONs along H and in-place ADDs: every plan passes the overlap check, the group rules never raise the
peak, and tensors that share bytes sit exactly where the rules say.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.inplace import arena_bytes
from mcugraph.memory.peak import peak_memory, placements
from mcugraph.memory.planner import check_plan, plan_arena


@st.composite
def band_graphs(draw) -> KernelGraph:
    width, channels = draw(st.sampled_from([(4, 4), (6, 8), (5, 3)]))
    tensors: dict[str, TensorInfo] = {}

    def tensor(name: str, rows: int, cols: int = width) -> str:
        tensors[name] = TensorInfo(name, (1, rows, cols, channels), 1)
        return name

    x = tensor("x", draw(st.integers(2, 6)))
    kernels, current, parts = [], x, []
    for k in range(draw(st.integers(1, 6))):
        rows, cols = tensors[current].shape[1:3]
        op = draw(st.sampled_from(["RELU", "PAD", "ADD", "BAND", "JOIN"]))
        if op == "PAD":
            top, bottom = draw(st.integers(0, 2)), draw(st.integers(0, 2))
            side = 0 if parts else draw(st.integers(0, 1))  # bands waiting for a JOIN keep the width
            out = tensor(f"p{k}", rows + top + bottom, cols + 2 * side)
            kernels.append(Kernel(f"k{k}", "PAD", (current,), (out,)))
        elif op == "ADD":
            out = tensor(f"a{k}", rows, cols)
            kernels.append(Kernel(f"k{k}", "ADD", (current, current), (out,)))
        elif op == "BAND":  # a new band computed from the current tensor, kept for a later JOIN
            out = tensor(f"b{k}", rows, cols)
            kernels.append(Kernel(f"k{k}", "RELU", (current,), (out,)))
            parts.append(out)
            continue
        elif op == "JOIN" and parts:
            joined = (*parts, current)
            out = tensor(f"c{k}", sum(tensors[p].shape[1] for p in joined), cols)
            kernels.append(Kernel(f"k{k}", "CONCATENATION", joined, (out,)))
            parts = []
        else:
            out = tensor(f"r{k}", rows, cols)
            kernels.append(Kernel(f"k{k}", "RELU", (current,), (out,)))
        current = out
    # Bands never joined are joined by the last kernel, so every tensor has a reader.
    rows = sum(tensors[t].shape[1] for t in (current, *parts))
    last = tensor("y", rows, tensors[current].shape[2])
    kernels.append(Kernel("last", "CONCATENATION" if parts else "RELU", (*parts, current), (last,)))
    return KernelGraph(tensors, tuple(kernels), ("x",), ("y",), storage_shapes=True)


@settings(max_examples=150, deadline=None)
@given(band_graphs())
def test_groups_plan_without_overlap_and_never_raise_the_peak(graph):
    """plan_arena's plan passes check_plan and the in-place groups never make the peak higher than copying."""
    plan = plan_arena(graph, time_limit_s=0.05)
    check_plan(plan, graph)
    assert plan.arena_bytes >= plan.lower_bound_bytes
    assert peak_memory(graph).peak_bytes <= peak_memory(graph, inplace=False).peak_bytes


@settings(max_examples=150, deadline=None)
@given(band_graphs())
def test_shared_tensors_sit_where_their_rule_says(graph):
    """A PAD's input ends at the output's end (16-byte rounded); a concatenation's inputs follow each other."""
    shared = placements(graph)
    plan = plan_arena(graph, time_limit_s=0.05)
    for kernel in graph.kernels:
        out = kernel.outputs[0]
        if kernel.op == "PAD" and kernel.inputs[0] in shared and shared.get(out, (None,))[0] == shared[kernel.inputs[0]][0]:
            extra = graph.tensors[out].nbytes - graph.tensors[kernel.inputs[0]].nbytes
            assert plan.offsets[kernel.inputs[0]] - plan.offsets[out] == arena_bytes(extra)
        if kernel.op == "CONCATENATION" and all(shared.get(t, (None,))[0] == shared.get(out, (0,))[0]
                                                for t in kernel.inputs):
            offset = plan.offsets[out]
            for t in kernel.inputs:
                assert plan.offsets[t] == offset
                offset += graph.tensors[t].nbytes
