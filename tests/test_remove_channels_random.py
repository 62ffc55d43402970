"""Property test: on random CNN graphs (convs, depthwise, residual Add, Concat, pools, per-channel Mul, squeeze-
excite, Split/Concat on H, BatchNorm, Pad, Flatten or pooling into Gemms) removing random channels gives an IR equal to the sliced module, and removing channels whose
producers are zero changes nothing."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mcugraph
from mcugraph.passes.remove_channels import RemoveChannelsPass
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.slicing import slice_module
from mcugraph.prune.torch_module import GraphModule
from mcugraph.runtime import input_feeds, run_onnx

H = 4  # spatial size, kept constant by every op so any two values may meet


class _Builder:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.values: list[tuple[str, int]] = [("x", 3)]  # (name, channels)

    def name(self, prefix: str) -> str:
        return f"{prefix}{len(self.nodes)}"

    def const(self, array: np.ndarray) -> str:
        name = f"c{len(self.inits)}"
        self.inits.append(onnx.numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def const_int(self, values: list[int]) -> str:
        name = f"c{len(self.inits)}"
        self.inits.append(onnx.numpy_helper.from_array(np.array(values, dtype=np.int64), name))
        return name

    def node(self, op: str, inputs: list[str], channels: int, keep: bool = True, **attrs) -> str:
        """Add a node; ``keep=False`` hides its output (e.g. 1x1 squeeze-excite values) from later steps."""
        out = self.name(op.lower())
        self.nodes.append(onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        if keep:
            self.values.append((out, channels))
        return out

    def step(self, kind: int, pick: int, width: int) -> None:
        src, c = self.values[pick % len(self.values)]
        if kind == 0:  # conv + relu
            k = 1 + 2 * (width % 2)
            w = self.const(self.rng.normal(size=(width, c, k, k)) / np.sqrt(c * k * k))
            self.node("Conv", [src, w, self.const(self.rng.normal(size=width) * 0.1)], width, pads=[k // 2] * 4)
            self.node("Relu", [self.values[-1][0]], width)
        elif kind == 1:  # depthwise
            w = self.const(self.rng.normal(size=(c, 1, 3, 3)) / 3)
            self.node("Conv", [src, w, self.const(self.rng.normal(size=c) * 0.1)], c, group=c, pads=[1] * 4)
        elif kind == 2:  # residual Add with the newest value of the same width, if any
            same = [n for n, ch in self.values if ch == c and n != src]
            if same:
                self.node("Add", [src, same[-1]], c)
        elif kind == 3:
            other, c2 = self.values[-1]
            self.node("Concat", [src, other], c + c2, axis=1)
        elif kind == 4:
            self.node("MaxPool", [src], c, kernel_shape=[3, 3], pads=[1] * 4)
        elif kind == 5:  # per-channel scale
            self.node("Mul", [src, self.const(self.rng.uniform(0.5, 1.5, size=(c, 1, 1)))], c)
        elif kind == 6:  # squeeze-excite: the gate's producer joins src's group through the Mul
            v = self.node("GlobalAveragePool", [src], c, keep=False)
            v = self.node("Conv", [v, self.const(self.rng.normal(size=(2, c, 1, 1)))], 2, keep=False)
            v = self.node("Relu", [v], 2, keep=False)
            v = self.node("Conv", [v, self.const(self.rng.normal(size=(c, 2, 1, 1)))], c, keep=False)
            v = self.node("Sigmoid", [v], c, keep=False)
            self.node("Mul", [src, v], c)
        elif kind == 7:  # halves of H swapped: Split and Concat on a spatial axis
            top, bottom = self.name("top"), self.name("bottom")
            self.nodes.append(onnx.helper.make_node("Split", [src], [top, bottom], name=top, axis=2))
            self.node("Concat", [bottom, top], c, axis=2)
        elif kind == 8:
            stats = [self.rng.uniform(0.5, 1.5, c), self.rng.normal(size=c) * 0.1, self.rng.normal(size=c) * 0.1,
                     self.rng.uniform(0.5, 1.5, c)]
            self.node("BatchNormalization", [src, *(self.const(a) for a in stats)], c)
        else:  # Pad then an unpadded pool: spatial size kept
            padded = self.node("Pad", [src, self.const_int([0, 0, 1, 1, 0, 0, 1, 1])], c, keep=False)
            self.node("AveragePool", [padded], c, kernel_shape=[3, 3])

    def model(self, flatten: bool) -> ir.Model:
        # Every value nobody reads joins the head through one channel Concat: otherwise canonicalisation's
        # remove-unused would delete each branch off the path to the output, and with it most Concat/Pad/Split.
        read = {name for node in self.nodes for name in node.input}
        dangling = [(n, ch) for n, ch in self.values if n not in read]
        if len(dangling) > 1:
            self.node("Concat", [n for n, _ in dangling], sum(ch for _, ch in dangling), axis=1)
        last, c = self.values[-1]
        if flatten:
            self.node("Flatten", [last], c * H * H, axis=1)
        else:
            self.node("GlobalAveragePool", [last], c)
            self.node("Flatten", [self.values[-1][0]], c, axis=1)
        features = self.values[-1][1]
        hidden = self.const(self.rng.normal(size=(6, features)) / np.sqrt(features))
        self.node("Gemm", [self.values[-1][0], hidden, self.const(np.zeros(6))], 6, transB=1)
        self.node("Relu", [self.values[-1][0]], 6)
        head = self.const(self.rng.normal(size=(2, 6)))
        self.nodes.append(onnx.helper.make_node("Gemm", [self.values[-1][0], head], ["y"], transB=1))
        graph = onnx.helper.make_graph(
            self.nodes, "random_cnn",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, H, H])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])], self.inits,
        )
        proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
        model = mcugraph.run_pipeline(mcugraph.load(proto), mcugraph.CANONICALIZE).model
        built = [n.op_type for n in self.nodes]
        kept = [n.op_type for n in model.graph]
        for op in SURVIVING_OPS:  # the ops the pruning rules must handle are still there to be pruned
            assert kept.count(op) == built.count(op), (op, built, kept)
        return model


# Ops canonicalisation leaves alone (BatchNormalization folds, Flatten becomes Reshape): all must reach the pass.
SURVIVING_OPS = ("Concat", "Pad", "Split", "MaxPool", "AveragePool", "GlobalAveragePool", "Sigmoid")


@st.composite
def random_cnn(draw):
    step = st.tuples(st.integers(0, 9), st.integers(0, 50), st.integers(2, 6))
    steps = draw(st.lists(step, min_size=2, max_size=9))
    # One channel Concat (3), Split/Concat on H (7) and Pad (9) in every graph, at random places: drawn uniformly,
    # hypothesis would leave most graphs without a Split or a Pad.
    steps += [(kind, draw(st.integers(0, 50)), 2) for kind in (3, 7, 9)]
    steps = draw(st.permutations(steps))
    seed = draw(st.integers(0, 2**16))
    builder = _Builder(np.random.default_rng(seed))
    builder.step(0, 0, 4)  # a first conv so that something is prunable
    for kind, pick, width in steps:
        builder.step(kind, pick, width)
    return builder.model(flatten=draw(st.booleans())), seed


def _random_keep(groups, seed: int) -> dict[int, tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    return {g.id: tuple(sorted(rng.choice(g.size, size=int(rng.integers(1, g.size)), replace=False).tolist()))
            for g in groups if g.prunable and g.size > 1}


def _copy(model: ir.Model) -> ir.Model:
    return ir.serde.deserialize_model(ir.serde.serialize_model(model))


@settings(max_examples=25, deadline=None)
@given(random_cnn())
def test_random_cnn_prunes_like_the_sliced_module(case):
    """Random keeps on random graphs: onnxruntime on the pruned IR equals the sliced GraphModule."""
    model, seed = case
    groups = channel_groups(model)
    keep = _random_keep(groups, seed)
    module = GraphModule(model)
    pruned = RemoveChannelsPass(keep=keep)(_copy(model))
    assert pruned.modified == bool(keep)
    slice_module(module, groups, keep)
    feeds = input_feeds(model, seed)
    with torch.no_grad():
        sliced = module(torch.from_numpy(feeds["x"])).numpy()
    np.testing.assert_allclose(run_onnx(pruned.model, feeds)[0], sliced, rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(random_cnn())
def test_random_cnn_zeroed_channels_remove_exactly(case):
    """Zero the producer rows (axis-0 uses) of the channels to remove: removing them leaves the outputs as they were."""
    model, seed = case
    groups = channel_groups(model)
    keep = _random_keep(groups, seed)
    for group in groups:
        for use in (u for u in group.weights if group.id in keep and u.axis == 0):
            value = model.graph.initializers[use.tensor]
            array = value.const_value.numpy().copy()
            for c in set(range(group.size)) - set(keep[group.id]):
                array[use.offset + c * use.block:use.offset + (c + 1) * use.block] = 0.0
            value.const_value = ir.tensor(array, name=use.tensor)
    feeds = input_feeds(model, seed)
    pruned = RemoveChannelsPass(keep=keep)(_copy(model)).model
    np.testing.assert_allclose(run_onnx(pruned, feeds)[0], run_onnx(model, feeds)[0], rtol=1e-4, atol=1e-5)
