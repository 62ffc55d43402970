"""Arena planner: exact offsets on tiny graphs, TFLM's own greedy planner reproduced byte for byte on real models."""

from __future__ import annotations

import random

import pytest

from mcugraph.errors import ExportError
from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.planner import check_plan, format_plan, plan_arena, plan_linear, tflm_greedy_plan

MLPERF_HEADS = {"kws_dscnn": 16000, "vww_mobilenetv1": 73728, "ic_resnet8": 49152, "ad_autoencoder": 768}


def graph(sizes: dict[str, int], kernels: list[tuple], inputs=("x",), outputs=None) -> KernelGraph:
    """sizes: tensor -> bytes (int8, 1-D); kernels: (name, op, inputs, outputs)."""
    tensors = {t: TensorInfo(t, (n,), 1) for t, n in sizes.items()}
    ks = tuple(Kernel(n, op, tuple(i), tuple(o)) for n, op, i, o in kernels)
    return KernelGraph(tensors, ks, tuple(inputs), tuple(outputs or ks[-1].outputs))


def chain() -> KernelGraph:
    # x(100) -> a(200) -> b(50) -> y(300): rounded 112, 208, 64, 304
    return graph(
        {"x": 100, "a": 200, "b": 50, "y": 300},
        [("k1", "CONV_2D", ["x"], ["a"]), ("k2", "CONV_2D", ["a"], ["b"]), ("k3", "CONV_2D", ["b"], ["y"])],
    )


def test_chain_plan_reaches_the_lower_bound():
    """Largest first: y at 0, a at 0 (never live with y), x and b above a; arena = max pair = 64 + 304."""
    plan = plan_arena(chain())
    check_plan(plan, chain())
    assert plan.lower_bound_bytes == max(112 + 208, 208 + 64, 64 + 304)
    assert plan.arena_bytes == plan.lower_bound_bytes
    assert plan.sizes == {"x": 112, "a": 208, "b": 64, "y": 304}


def test_linear_plan_stacks_every_tensor():
    """The no-reuse baseline puts tensors one after another: arena = sum of rounded sizes."""
    plan = plan_linear(chain())
    assert plan.offsets == {"x": 0, "a": 112, "b": 112 + 208, "y": 112 + 208 + 64}
    assert plan.arena_bytes == 112 + 208 + 64 + 304


def test_tflm_places_the_later_of_equal_buffers_first():
    """TFLM's size sort is stable over a reversed list: of two equal sizes the higher tensor index goes to 0."""
    g = graph({"x": 32, "a": 64, "b": 64, "y": 16},
              [("k1", "SPLIT", ["x"], ["a", "b"]), ("k2", "ADD", ["a", "b"], ["y"])])
    plan = tflm_greedy_plan(g)
    assert (plan.offsets["b"], plan.offsets["a"]) == (0, 64)


def test_tflm_plans_tensors_no_kernel_touches():
    """TFLM gives a tensor no operator uses its own slot (lifetime -1): it counts in the head."""
    g = graph({"x": 32, "y": 32, "orphan": 160}, [("k", "RELU", ["x"], ["y"])])
    assert tflm_greedy_plan(g).arena_bytes == 160
    assert plan_arena(g).arena_bytes == 64


def test_inplace_plan_shares_the_offset():
    """A residual ADD writing over its dying input: both at one offset, arena 2 x 256 not 3 x 256."""
    g = graph({"x": 256, "y": 256, "z": 256}, [("conv", "CONV_2D", ["x"], ["y"]), ("add", "ADD", ["x", "y"], ["z"])])
    plan = plan_arena(g)
    check_plan(plan, g)
    assert plan.aliases == {"z": "x"} and plan.offsets["z"] == plan.offsets["x"]
    assert plan.arena_bytes == 2 * 256
    assert plan_arena(g, inplace=False).arena_bytes == 3 * 256


def test_check_plan_rejects_an_alias_that_is_not_allowed():
    """Sharing bytes between a CONV input and output is refused even at the same offset."""
    g = chain()
    plan = plan_arena(g)
    offsets = {**plan.offsets, "a": plan.offsets["x"]}
    bad = type(plan)(**{**plan.__dict__, "offsets": offsets, "aliases": {"a": "x"}})
    with pytest.raises(ExportError, match="not an allowed in-place pair"):
        check_plan(bad, g)


def test_check_plan_rejects_a_missing_tensor():
    """A plan without an offset for a live tensor names that tensor."""
    plan = plan_arena(chain())
    offsets = {t: o for t, o in plan.offsets.items() if t != "b"}
    with pytest.raises(ExportError, match="no offset for tensor 'b'"):
        check_plan(type(plan)(**{**plan.__dict__, "offsets": offsets}), chain())


def test_format_plan_draws_one_row_per_step():
    """Header, one legend line per tensor, one row per step with its live bytes and op; no '!' in a valid plan."""
    text = format_plan(plan_arena(chain()), chain(), width=40)
    lines = text.splitlines()
    assert lines[0].startswith("arena 368 B (lower bound 368 B")
    rows = lines[5:]
    assert len(rows) == 3 and all(len(r.split(": ", 1)[1].split()[0]) == 40 for r in rows)
    assert rows[2].split()[-3:] == ["368", "B", "CONV_2D"]
    assert "!" not in text


def test_format_plan_marks_overlap():
    """Two live tensors on the same bytes show as '!'."""
    plan = plan_arena(chain())
    bad = type(plan)(**{**plan.__dict__, "offsets": {**plan.offsets, "x": plan.offsets["a"]}})
    assert "!" in format_plan(bad, chain())


@pytest.mark.parametrize("name", sorted(MLPERF_HEADS))
def test_tflm_greedy_reproduces_tflm_head(shared_models, name):
    """tflm_greedy_plan's arena equals TFLM's measured 'Arena allocation head' on the MLPerf Tiny int8 models."""
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite
    from mcugraph.tflite.tflm import arena_head

    data = (shared_models / f"{name}.int8.tflite").read_bytes()
    g = kernel_graph_from_tflite(data)
    assert tflm_greedy_plan(g).arena_bytes == arena_head(data) == MLPERF_HEADS[name]


def test_tflm_greedy_follows_reordered_models(shared_models):
    """For random valid orders of ResNet-8's operators written into the file, the prediction equals TFLM's head."""
    from mcugraph.memory.tflite_graph import kernel_graph_from_model
    from mcugraph.tflite import schema as tfl
    from mcugraph.tflite.offline_plan import reorder_operators
    from mcugraph.tflite.tflm import arena_head

    data = (shared_models / "ic_resnet8.int8.tflite").read_bytes()
    g = kernel_graph_from_model(tfl.read(data))
    names = [k.name for k in g.kernels]
    orders = set()
    for seed in range(6):
        order = _random_order(g, random.Random(seed))
        model = tfl.read(data)
        reorder_operators(model, [names.index(n) for n in order])
        head = arena_head(tfl.pack(model))
        orders.add(tuple(order))
        assert tflm_greedy_plan(g, order).arena_bytes == head, order
    assert len(orders) > 1


def _random_order(g: KernelGraph, rng: random.Random) -> list[str]:
    producer = {t: k.name for k in g.kernels for t in k.outputs}
    done: list[str] = []
    while len(done) < len(g.kernels):
        ready = [k.name for k in g.kernels if k.name not in done and all(
            producer[t] in done for t in k.inputs if t in producer)]
        done.append(rng.choice(ready))
    return done


@pytest.mark.parametrize("name", sorted(MLPERF_HEADS))
def test_plan_arena_never_worse_than_tflm(shared_models, name):
    """Our plan of TFLM's order is valid and never larger than TFLM's own; on VWW it reaches the 55,296 B bound."""
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

    g = kernel_graph_from_tflite((shared_models / f"{name}.int8.tflite").read_bytes())
    plan = plan_arena(g, inplace=False)
    check_plan(plan, g)
    assert plan.arena_bytes <= tflm_greedy_plan(g).arena_bytes
    if name == "vww_mobilenetv1":
        assert plan.arena_bytes == plan.lower_bound_bytes == 55296


@pytest.mark.parametrize("keep", [5, 10, 20])
def test_tflm_greedy_matches_truncated_models(shared_models, keep):
    """VWW cut after ``keep`` operators leaves tensors no kernel touches: TFLM still plans them, and so do we."""
    from mcugraph.memory.tflite_graph import kernel_graph_from_model
    from mcugraph.tflite import schema as tfl
    from mcugraph.tflite.tflm import arena_head

    model = tfl.read((shared_models / "vww_mobilenetv1.int8.tflite").read_bytes())
    subgraph = model.subgraphs[0]
    subgraph.operators = subgraph.operators[:keep]
    subgraph.outputs = list(subgraph.operators[-1].outputs)
    data = tfl.pack(model)
    assert tflm_greedy_plan(kernel_graph_from_model(tfl.read(data))).arena_bytes == arena_head(data)


def test_exact_placement_closes_the_gap_greedy_leaves():
    """On this 4-kernel graph every greedy order leaves a hole; branch and bound reaches the lower bound."""
    from mcugraph.memory.peak import buffers
    from mcugraph.memory.planner import _RANKINGS, _arena, _first_fit

    g = graph(
        {"in0": 64, "in1": 32, "t0_0": 8, "t0_1": 100, "t1_0": 64, "t1_1": 8, "t2_0": 64, "t3_0": 100},
        [("k0", "SPLIT", ["in0"], ["t0_0", "t0_1"]), ("k1", "SPLIT", ["in0"], ["t1_0", "t1_1"]),
         ("k2", "MUL", ["in0", "in1"], ["t2_0"]), ("k3", "MUL", ["t0_1", "t1_0"], ["t3_0"])],
        inputs=("in0", "in1"), outputs=("t3_0", "in1", "t0_0"),
    )
    bufs = buffers(g, inplace=False)
    greedy = min(_arena(bufs, _first_fit(bufs, sorted(range(len(bufs)), key=lambda i: key(i, bufs[i]))))
                 for key in _RANKINGS.values())
    plan = plan_arena(g, inplace=False, time_limit_s=5.0)
    check_plan(plan, g)
    assert greedy > plan.lower_bound_bytes
    assert (plan.arena_bytes, plan.method, plan.optimal) == (plan.lower_bound_bytes, "exact", True)


def test_placement_rankings_by_hand():
    """The orders plan_arena tries: by area (bytes x steps live, ties by first use), and by size with the
    later-starting buffer first among equals."""
    from mcugraph.memory.peak import Buffer
    from mcugraph.memory.planner import _RANKINGS

    def ranked(name, bufs):
        return [b.tensors[0] for _, b in sorted(enumerate(bufs), key=lambda ib: _RANKINGS[name](*ib))]

    long_small = Buffer(("A",), 16, 0, 3)  # area 16 x 4 = 64
    short_big = Buffer(("B",), 48, 0, 0)  # area 48 x 1 = 48
    late = Buffer(("C",), 16, 2, 3)  # area 16 x 2 = 32
    assert ranked("greedy-by-area", [short_big, late, long_small]) == ["A", "B", "C"]
    assert ranked("greedy-by-size-last-first", [long_small, late, short_big]) == ["B", "C", "A"]
    assert ranked("greedy-by-size-then-first-use", [late, long_small, short_big]) == ["B", "A", "C"]
    assert ranked("greedy-by-first-use", [late, long_small, short_big]) == ["B", "A", "C"]
    assert ranked("greedy-by-last-use", [short_big, long_small, late]) == ["A", "C", "B"]
    assert ranked("greedy-by-lifetime", [short_big, late, long_small]) == ["A", "C", "B"]


def test_baseline_plans_do_not_claim_optimality():
    """The linear and TFLM plans of a chain are bigger than its lower bound and say so (optimal=False)."""
    g = chain()
    assert not plan_linear(g).optimal and plan_linear(g).arena_bytes > plan_linear(g).lower_bound_bytes
    assert plan_arena(g).optimal
