"""GraphModule: the ONNX interpreter in PyTorch matches onnxruntime, trains, and writes weights back."""

from __future__ import annotations

import numpy as np
import onnx
import onnx.parser
import onnx_ir as ir
import pytest
import torch
from conftest import MLPERF, zoo_canonical, zoo_onnx

import mcugraph
from mcugraph.errors import InvalidModelError, ShapeError, UnsupportedOpError
from mcugraph.prune.torch_module import HANDLERS, GraphModule
from mcugraph.runtime import input_feeds, run_onnx

ZOO = ("mobilenetv2", "resnet", "inception", "densenet", "digits_cnn")


canonical = zoo_canonical


def run_module(module: GraphModule, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[n]) for n in module.input_names])
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def assert_matches_onnxruntime(model: ir.Model, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    feeds = input_feeds(model)
    for got, want in zip(run_module(GraphModule(model), feeds), run_onnx(model, feeds), strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_raw_matches_onnxruntime(name):
    """Every zoo model as exported (BatchNorm, Constant, Clip, Flatten) runs like onnxruntime."""
    assert_matches_onnxruntime(mcugraph.load(zoo_onnx(name)))


@pytest.mark.parametrize("name", ZOO)
def test_zoo_canonical_matches_onnxruntime(name):
    """Every canonicalised zoo model (folded BN, Reshape, normalised Gemm) runs like onnxruntime."""
    assert_matches_onnxruntime(canonical(name))


@pytest.mark.parametrize("name", MLPERF)
@pytest.mark.parametrize("canonicalise", [False, True])
def test_shared_models_match_onnxruntime(shared_models, name, canonicalise):
    """The MLPerf Tiny models (Transpose, MatMul, Softmax, DequantizeLinear, Reshape) run like onnxruntime."""
    model = mcugraph.load(shared_models / f"{name}.onnx")
    if canonicalise:
        model = mcugraph.run_pipeline(model, mcugraph.CANONICALIZE).model
    assert_matches_onnxruntime(model, rtol=1e-5, atol=1e-4)


OP_GRAPHS = {
    "unary": """<ir_version: 8, opset_import: ["" : 17]> g (float[1,4,5,6] x) => (float[1,4,5,6] y) {
        a = Sigmoid(x)  b = Tanh(a)  c = LeakyRelu<alpha=0.2>(x)  d = HardSigmoid(c)  e = HardSwish(x)
        f = Add(b, d)  g2 = Sub(f, e)  h = Mul(g2, x)  i = Div(h, d)  j = Neg(i)  y = Relu(j) }""",
    "shape": """<ir_version: 8, opset_import: ["" : 17]> g (float[1,4,5,6] x) => (float[1,4,5,2] y) {
        ax = Constant<value = int64[1] {0}>()  s = Squeeze(x, ax)  u = Unsqueeze(s, ax)
        st = Constant<value = int64[2] {1, 1}>()  en = Constant<value = int64[2] {5, 5}>()
        axs = Constant<value = int64[2] {2, 3}>()  sp = Constant<value = int64[2] {2, 2}>()
        y = Slice(u, st, en, axs, sp) }""",
    "split_concat": """<ir_version: 8, opset_import: ["" : 17]> g (float[1,4,5,6] x) => (float[1,4,5,6] y) {
        a, b = Split<axis=1>(x)  c = Relu(b)  y = Concat<axis=1>(c, a) }""",
    "pad_reduce": """<ir_version: 8, opset_import: ["" : 17]> g (float[1,4,5,6] x) => (float[1,4,1,1] y) {
        p = Constant<value = int64[8] {0, 0, 1, 2, 0, 0, 2, 1}>()  a = Pad(x, p)
        b = AveragePool<kernel_shape=[3,3], pads=[1,1,0,0], strides=[2,2]>(a)
        c = MaxPool<kernel_shape=[2,2], pads=[0,1,1,0]>(b)  y = ReduceMean<axes=[2,3]>(c) }""",
    "resize_softmax": """<ir_version: 8, opset_import: ["" : 17]> g (float[1,4,5,6] x) => (float[1,4,10,18] y) {
        r = Constant<value = float[0] {}>()  s = Constant<value = float[4] {1, 1, 2, 3}>()
        a = Resize<mode="nearest">(x, r, s)  y = Softmax<axis=1>(a) }""",
    "gemm_matmul": """<ir_version: 8, opset_import: ["" : 17]> g (float[3,4] x) => (float[3,2] y) {
        w = Constant<value = float[2,4] {1,2,3,4,5,6,7,8}>()  b = Constant<value = float[2] {0.5, -1}>()
        a = Gemm<transB=1, alpha=0.5, beta=2.0>(x, w, b)  m = Constant<value = float[2,2] {1,-1,2,0}>()
        y = MatMul(a, m) }""",
    "conv_pool_modes": """<ir_version: 8, opset_import: ["" : 17]> g (float[1,2,7,6] x) => (float[1,3,2,2] y) {
        w = Constant<value = float[3,2,2,2] {1,2,3,4,5,6,7,8,1,0,1,0,0,1,0,1,2,2,-1,-1,3,0,0,3}>()
        a = Conv<auto_pad="SAME_UPPER", strides=[2,2]>(x, w)  mx = Constant<value = float {0.5}>()  b = Clip(a, , mx)
        c = MaxPool<kernel_shape=[2,2], strides=[2,2], ceil_mode=1>(b)
        y = AveragePool<kernel_shape=[2,2], pads=[1,1,0,0], count_include_pad=1>(c) }""",
    "clip_bounds": """<ir_version: 8, opset_import: ["" : 17]> g (float[1,4,5,6] x) => (float[1,4,5,6] y) {
        lo = Constant<value = float {-0.5}>()  hi = Constant<value = float {0.3}>()  a = Clip(x, lo, hi)
        b = Clip(x, hi, lo)  c = Clip(x, lo)  d = Add(a, b)  y = Add(d, c) }""",
    "shape_ops": """<ir_version: 8, opset_import: ["" : 17]> g (float[2,3,4] x) => (float[4,6] y) {
        t = Transpose<perm=[2,0,1]>(x)  d = Dropout(t)  i = Identity(d)  f = Flatten<axis=1>(i)
        s = Shape(f)  k = Constant<value = int64 {1}>()  n = Gather(s, k)  c = Cast<to=1>(n)
        g2 = GlobalMaxPool(x)  m = ReduceSum<keepdims=0>(g2)  e = Add(c, m)  y = Mul(f, e) }""",
    "dequantize_per_axis": """<ir_version: 8, opset_import: ["" : 17]> g (float[1,2] x) => (float[1,3] y) {
        q = Constant<value = int8[3,2] {-5, 7, 100, -128, 3, 3}>()  sc = Constant<value = float[3] {0.1, 0.2, 0.5}>()
        z = Constant<value = int8[3] {1, 0, -2}>()  w = DequantizeLinear<axis=0>(q, sc, z)
        y = Gemm<transB=1>(x, w) }""",
    "opset18_axes_inputs": """<ir_version: 8, opset_import: ["" : 18]> g (float[1,4,6] x) => (float[2,2] y) {
        ax = Constant<value = int64[1] {2}>()  r = ReduceMean(x, ax)  sp = Constant<value = int64[2] {1, 3}>()
        a, b = Split<axis=1>(r, sp)  q = Constant<value = int64[1] {0}>()  y = Squeeze(b, q) }""",
}


@pytest.mark.parametrize("graph", OP_GRAPHS, ids=list(OP_GRAPHS))
def test_common_ops_match_onnxruntime(graph):
    """Handlers for ops not in the zoo (activations, shapes, Split, Pad, pools, Resize, Gemm attrs) are exact."""
    assert_matches_onnxruntime(mcugraph.load(onnx.parser.parse_model(OP_GRAPHS[graph])))


def test_handlers_cover_the_issue_ops():
    """The handler table names every op the issue lists, exactly as ONNX spells them."""
    wanted = {"Conv", "BatchNormalization", "Relu", "Clip", "Add", "Concat", "MaxPool", "AveragePool",
              "GlobalAveragePool", "Flatten", "Gemm", "Reshape", "Transpose", "MatMul", "Softmax", "ReduceMean", "Pad",
              "Mul", "Sub", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Squeeze", "Unsqueeze",
              "Resize", "Slice", "Split", "Dropout", "Identity"}
    assert wanted <= set(HANDLERS)


def test_backward_changes_parameters_but_not_clip_bounds():
    """One SGD step moves every trainable weight; ReLU6's bounds are frozen parameters."""
    model = canonical("mobilenetv2")
    module = GraphModule(model)
    before = {k: p.detach().clone() for k, p in module.params.items()}
    frozen = [k for k, p in module.params.items() if not p.requires_grad]
    assert frozen, "Clip min/max should be frozen"
    optimizer = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=0.1)
    loss = module(torch.rand(2, 3, 32, 32)).square().sum()
    loss.backward()
    optimizer.step()
    moved = [k for k, p in module.params.items() if not torch.equal(p, before[k])]
    assert set(moved) == set(module.params) - set(frozen)


def test_relu6_gradient_is_clamps_away_from_its_bounds():
    """ReLU6 (Clip with constant bounds) runs as hardtanh for speed: the same values and, off the bounds themselves,
    the same gradient as the clamp it replaces."""
    module = GraphModule(mcugraph.load(onnx.parser.parse_model(OP_GRAPHS["clip_bounds"])))
    x = torch.randn(1, 4, 5, 6, dtype=torch.float32, requires_grad=True)
    module(x).sum().backward()
    reference = x.detach().clone().requires_grad_()
    (torch.clamp(reference, -0.5, 0.3) + torch.full_like(reference, 0.3) + torch.clamp(reference, min=-0.5)).sum().backward()
    torch.testing.assert_close(x.grad, reference.grad)


def test_channels_last_batches_train_like_nchw():
    """fast_layout's channels-last batches give the NCHW outputs and gradients (to float rounding)."""
    from mcugraph.prune.train import fast_layout

    module = GraphModule(canonical("mobilenetv2"))
    x = torch.rand(4, 3, 32, 32)
    assert fast_layout(x).is_contiguous(memory_format=torch.channels_last)
    assert fast_layout(torch.rand(4, 10)).is_contiguous()
    grads = []
    for batch in (x, fast_layout(x)):
        module.zero_grad()
        out = module(batch)
        out.square().sum().backward()
        grads.append((out.detach(), [p.grad.clone() for p in module.parameters() if p.requires_grad]))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-4, atol=1e-5)
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_batches_run_like_single_samples():
    """A batch of 3 gives each sample's output although the IR's Reshape target has batch 1."""
    module = GraphModule(canonical("densenet"))
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        batched = module(x)
        single = torch.cat([module(x[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-5)


def test_double_precision_converts_constant_attributes():
    """`.double()` converts parameters and Constant-node tensors alike; outputs still match onnxruntime."""
    model = mcugraph.load(zoo_onnx("mobilenetv2"))  # raw export: Clip bounds are Constant nodes
    module = GraphModule(model).double()
    feeds = input_feeds(model)
    with torch.no_grad():
        out = module(torch.from_numpy(feeds["input"]).double())
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), run_onnx(model, feeds)[0], rtol=1e-5, atol=1e-5)


def test_write_back_round_trip():
    """Trained weights written back into the IR give onnxruntime the module's outputs."""
    model = canonical("resnet")
    module = GraphModule(model)
    with torch.no_grad():
        for p in module.parameters():
            if p.requires_grad:
                p.mul_(0.9).add_(0.01)
    module.write_back(model)
    feeds = input_feeds(model)
    np.testing.assert_allclose(run_onnx(model, feeds)[0], run_module(module, feeds)[0], rtol=1e-5, atol=1e-5)


def test_write_back_refuses_other_shapes():
    """Writing a sliced module into the unpruned IR is a ShapeError naming the initializer."""
    model = canonical("digits_cnn")
    module = GraphModule(model)
    name = next(n for n in model.graph.initializers if n.endswith("weight") or "Conv" in n or "conv" in n)
    module.parameter(name).data = module.parameter(name).data[:1]
    with pytest.raises(ShapeError, match="remove-channels"):
        module.write_back(model)


def test_gate_hook_is_applied_to_its_value():
    """A gate hook zeroing the last conv's output zeroes everything but the classifier bias."""
    model = canonical("digits_cnn")
    module = GraphModule(model)
    conv = [n for n in model.graph if n.op_type == "Conv"][-1]
    module.gate_hooks[conv.outputs[0].name] = lambda t: t * 0.0
    gemm = next(n for n in model.graph if n.op_type == "Gemm")
    bias = model.graph.initializers[gemm.inputs[2].name].const_value.numpy()
    with torch.no_grad():
        out = module(torch.rand(1, 1, 8, 8))
    np.testing.assert_allclose(out.numpy()[0], bias, rtol=1e-6, atol=1e-6)


def test_values_are_freed_after_last_use():
    """Every intermediate value is freed exactly once; graph outputs are never freed."""
    model = canonical("inception")
    module = GraphModule(model)
    freed = [name for step in module._steps for name in step.free]
    produced = {v.name for n in model.graph for v in n.outputs} | set(module.input_names)
    assert len(freed) == len(set(freed))
    assert set(freed) == produced - set(module.output_names)


def test_unsupported_op_lists_every_node():
    """An op without a handler is refused up front, naming every such node."""
    model = mcugraph.load(onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]> g (float[1,4,5,6] x) => (float[1,4,5,6] y) {
        a = LRN<size=3>(x)  y = LRN<size=3>(a) }"""))
    with pytest.raises(UnsupportedOpError, match="2 node") as info:
        GraphModule(model)
    assert [op for _, op in info.value.nodes] == ["LRN", "LRN"]


def test_runtime_error_names_the_node():
    """A failing handler is reported as 'while executing node <name> (<op>)'."""
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 7])],
        [onnx.numpy_helper.from_array(np.array([1, 7], dtype=np.int64), "s")],
    )
    module = GraphModule(ir.serde.deserialize_model(onnx.helper.make_model(graph)))
    with pytest.raises(InvalidModelError, match=r"while executing node 'bad_reshape' \(Reshape\)"):
        module(torch.rand(1, 8))


def test_wrong_input_shape_is_a_shape_error():
    """An input whose non-batch dims differ from the model's is refused before running."""
    with pytest.raises(ShapeError, match="input 'input'"):
        GraphModule(canonical("digits_cnn"))(torch.rand(1, 1, 9, 9))
