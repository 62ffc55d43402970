"""mcugraph.load: every accepted kind of model, static shapes, input-shape overrides and the load-time errors."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import pytest
import torch

import mcugraph
from mcugraph import zoo
from mcugraph.analysis import analyze
from mcugraph.errors import InvalidModelError, ModelLoadError, ShapeError, UnsupportedOpError
from mcugraph.runtime import input_feeds, run_onnx

WEIGHTS = ", ".join(["0.01"] * (4 * 3 * 3 * 3))
TINY = f"""
<ir_version: 8, opset_import: ["" : 17]>
tiny (float[N, 3, 8, 8] x) => (float[N, 4, 8, 8] y)
<float[4, 3, 3, 3] w = {{{WEIGHTS}}}, float[4] b = {{0.1, 0.2, 0.3, 0.4}}>
{{
    c = Conv<pads = [1, 1, 1, 1]>(x, w, b)
    y = Relu(c)
}}
"""


def tiny() -> onnx.ModelProto:
    return onnx.parser.parse_model(TINY)


def tiny_raw() -> onnx.ModelProto:
    """``tiny`` with raw_data initializers: only those can be saved as external data."""
    proto = tiny()
    for t in proto.graph.initializer:
        t.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(t), t.name))
    return proto


def all_static(model: ir.Model) -> bool:
    values = list(model.graph.inputs) + [v for n in model.graph for v in n.outputs]
    return all(v.dtype is not None and v.shape is not None and all(isinstance(d, int) for d in v.shape)
               for v in values)


def test_load_path(tmp_path):
    """A .onnx path loads, with the symbolic batch set to 1."""
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny(), path)
    model = mcugraph.load(path)
    assert tuple(model.graph.inputs[0].shape) == (1, 3, 8, 8)
    assert tuple(model.graph.outputs[0].shape) == (1, 4, 8, 8)


def test_load_str_path(tmp_path):
    """A path given as str loads like a Path."""
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny(), path)
    assert [n.op_type for n in mcugraph.load(str(path)).graph] == ["Conv", "Relu"]


def test_load_model_proto_is_not_mutated():
    """Loading a ModelProto fixes shapes on a copy: the caller's proto keeps its symbolic batch."""
    proto = tiny()
    before = proto.SerializeToString()
    model = mcugraph.load(proto)
    assert tuple(model.graph.inputs[0].shape) == (1, 3, 8, 8)
    assert proto.SerializeToString() == before


def test_load_ir_model():
    """An onnx-ir Model loads and keeps its nodes."""
    model = mcugraph.load(ir.serde.deserialize_model(tiny()))
    assert [n.op_type for n in model.graph] == ["Conv", "Relu"] and all_static(model)


def test_load_graphsurgeon_graph():
    """An onnx-graphsurgeon Graph loads."""
    gs = pytest.importorskip("onnx_graphsurgeon")
    model = mcugraph.load(gs.import_onnx(tiny()))
    assert [n.op_type for n in model.graph] == ["Conv", "Relu"] and all_static(model)


def test_load_torch_module_matches_torch():
    """A torch module with example_inputs exports and computes what torch computes."""
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64, 3))
    x = torch.rand(1, 2, 6, 6)
    model = mcugraph.load(module, example_inputs=x)
    assert all_static(model)
    (got,) = run_onnx(model, {"input": x.numpy()})
    np.testing.assert_allclose(got, module(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_load_torch_module_keeps_training_mode():
    """Exporting a module in training mode leaves it in training mode."""
    module = torch.nn.Sequential(torch.nn.Linear(4, 2)).train()
    mcugraph.load(module, example_inputs=torch.rand(1, 4))
    assert module.training


def test_torch_export_failure_is_one_clean_error(capsys):
    """An op torch cannot export gives a ModelLoadError naming the module, and torch's dump stays off stdout."""
    with pytest.raises(ModelLoadError, match="torch.onnx.export failed for Bilinear"):
        mcugraph.load(torch.nn.Bilinear(3, 2, 4), example_inputs=(torch.rand(1, 3), torch.rand(1, 2)))
    assert capsys.readouterr().out == ""


def test_load_torch_module_needs_example_inputs():
    """A torch module without example_inputs is refused with a hint."""
    with pytest.raises(ModelLoadError, match="example_inputs"):
        mcugraph.load(torch.nn.Linear(4, 2))


def test_load_unknown_object():
    """An object of an unknown kind is refused, naming the accepted kinds."""
    with pytest.raises(ModelLoadError, match="cannot load a dict.*onnx.ModelProto"):
        mcugraph.load({"not": "a model"})


def test_load_zoo_dynamic_batch_every_value_static():
    """A zoo model exported with a dynamic batch gets batch 1 on every value, inputs to outputs."""
    module, x = zoo.build("resnet")
    proto = zoo.export(module, x, dynamic_batch=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    model = mcugraph.load(proto)
    assert all_static(model)
    assert all(v.shape[0] == 1 for n in model.graph for v in n.outputs if len(v.shape) == 4)


def test_input_shape_override():
    """input_shapes replaces the declared shape and every shape after it follows."""
    model = mcugraph.load(tiny(), input_shapes={"x": (1, 3, 16, 12)})
    assert tuple(model.graph.outputs[0].shape) == (1, 4, 16, 12)


def test_input_shape_override_unknown_name():
    """An override for an input the model does not have lists the real inputs."""
    with pytest.raises(ShapeError, match=r"'image'.*\['x'\]"):
        mcugraph.load(tiny(), input_shapes={"image": (1, 3, 8, 8)})


def test_input_shape_override_wrong_rank():
    """An override with the wrong number of dimensions is refused before shape inference."""
    with pytest.raises(ShapeError, match="3 dimensions but the model declares 4"):
        mcugraph.load(tiny(), input_shapes={"x": (1, 3, 8)})


def test_dynamic_non_batch_dimension_is_refused():
    """A symbolic spatial dimension cannot be guessed: the error names input, axis and the flag."""
    proto = onnx.parser.parse_model(TINY.replace("float[N, 3, 8, 8] x", "float[N, 3, H, 8] x"))
    with pytest.raises(ShapeError, match=r"input 'x' dimension 2 is dynamic \('H'\).*--input-shape x="):
        mcugraph.load(proto)


def test_dynamic_non_batch_dimension_fixed_by_override():
    """The same model loads once the dynamic dimension is given."""
    proto = onnx.parser.parse_model(TINY.replace("float[N, 3, 8, 8] x", "float[N, 3, H, 8] x"))
    model = mcugraph.load(proto, input_shapes={"x": (1, 3, 5, 8)})
    assert tuple(model.graph.outputs[0].shape) == (1, 4, 5, 8)


def test_nan_weight_is_refused():
    """A NaN in an initializer is reported with the initializer's name."""
    proto = tiny()
    proto.graph.initializer[1].CopyFrom(onnx.numpy_helper.from_array(np.array([0, np.nan, 0, 0], np.float32), "b"))
    with pytest.raises(InvalidModelError, match="initializer 'b' holds 1 NaN/Inf"):
        mcugraph.load(proto)


def test_inf_in_constant_node_is_refused():
    """An Inf in a Constant node is reported with the node's name."""
    proto = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 2] x) => (float[1, 2] y) { k = Constant<value = float[2] {1.0, inf}>() y = Mul(x, k) }
    """)
    proto.graph.node[0].name = "scale"
    with pytest.raises(InvalidModelError, match="Constant node 'scale' holds 1 NaN/Inf"):
        mcugraph.load(proto)


def test_nan_check_can_be_skipped():
    """check_weights=False loads a model with NaN weights (e.g. to inspect it)."""
    proto = tiny()
    proto.graph.initializer[1].CopyFrom(onnx.numpy_helper.from_array(np.full(4, np.inf, np.float32), "b"))
    assert len(mcugraph.load(proto, check_weights=False).graph) == 2


def test_custom_domain_and_unknown_ops_all_listed():
    """Every non-standard node is named in one error, not just the first."""
    proto = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17, "com.acme" : 1]>
        g (float[1, 2] x) => (float[1, 2] y) { a = com.acme.Warp(x) b = Frobnicate(a) y = Relu(b) }
    """)
    with pytest.raises(UnsupportedOpError) as info:
        mcugraph.load(proto)
    assert [op for _, op in info.value.nodes] == ["com.acme::Warp", "Frobnicate"]


def test_control_flow_is_unsupported():
    """An If node (a subgraph) is refused: microcontroller kernels have no control flow."""
    proto = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (bool c, float[2] x) => (float[2] y) {
            y = If(c) <then_branch = t () => (float[2] a) { a = Relu(x) },
                       else_branch = e () => (float[2] b) { b = Neg(x) }>
        }
    """)
    with pytest.raises(UnsupportedOpError, match="If with a subgraph"):
        mcugraph.load(proto)


def test_external_data_is_read(tmp_path):
    """Weights saved as external data next to the model are loaded with it."""
    onnx.save(tiny_raw(), tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.bin", size_threshold=0)
    model = mcugraph.load(tmp_path / "ext.onnx")
    np.testing.assert_allclose(model.graph.initializers["b"].const_value.numpy(), [0.1, 0.2, 0.3, 0.4], rtol=1e-6)


def test_external_data_missing(tmp_path):
    """A model whose external data file is gone fails to load with a hint."""
    onnx.save(tiny_raw(), tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.bin", size_threshold=0)
    (tmp_path / "ext.bin").unlink()
    with pytest.raises(ModelLoadError, match="external weight data cannot be read"):
        mcugraph.load(tmp_path / "ext.onnx")


@pytest.mark.parametrize("content, message", [
    (b"", "file is empty"),
    (b"graph {\n  node Conv\n}\n", "is a text file"),
    (b"\x00\x00\x00\x00TFL3" + bytes(64), "TFLite flatbuffer"),
    (bytes(range(256)), "neither an ONNX model nor a truncated one"),
])
def test_not_onnx_files(tmp_path, content, message):
    """Files that are not ONNX say what they are instead."""
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        mcugraph.load(path)


def test_truncated_model(tmp_path):
    """The first half of a valid model is recognised as a truncated ONNX file."""
    data = tiny().SerializeToString()
    (tmp_path / "half.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="cut short"):
        mcugraph.load(tmp_path / "half.onnx")


def test_missing_file_and_folder(tmp_path):
    """A missing path and a folder are both refused by name."""
    with pytest.raises(ModelLoadError, match="no such file"):
        mcugraph.load(tmp_path / "nope.onnx")
    with pytest.raises(ModelLoadError, match="is a folder"):
        mcugraph.load(tmp_path)


def test_save_round_trip(tmp_path):
    """save writes a model that loads back and runs the same."""
    model = mcugraph.load(tiny())
    mcugraph.save(model, tmp_path / "out.onnx")
    again = mcugraph.load(tmp_path / "out.onnx")
    feeds = input_feeds(model)
    np.testing.assert_array_equal(run_onnx(model, feeds)[0], run_onnx(again, feeds)[0])


def parse(body: str, outputs: str = "float[1, 4] y") -> onnx.ModelProto:
    return onnx.parser.parse_model(
        f'<ir_version: 8, opset_import: ["" : 17]>\ng (float[1, 4] x) => ({outputs}) {body}'
    )


def test_value_read_but_never_defined():
    """A node input no one produces is named with its reader, not reported as a shape problem."""
    with pytest.raises(InvalidModelError, match="'ghost' read by Add_0"):
        mcugraph.load(parse("{ y = Add(x, ghost) }"))


def test_graph_output_never_produced():
    """A graph output no node writes is refused."""
    with pytest.raises(InvalidModelError, match="'z' read by graph output"):
        mcugraph.load(parse("{ y = Relu(x) }", "float[1, 4] y, float[1, 4] z"))


def test_value_written_twice():
    """Two nodes writing one value are both named."""
    with pytest.raises(InvalidModelError, match="'y' is written by node 'Neg_1' \\(Neg\\) and by node 'Relu_0'"):
        mcugraph.load(parse("{ y = Relu(x) y = Neg(x) }"))


def test_cycle_is_refused():
    """A graph with a cycle is refused."""
    with pytest.raises(InvalidModelError, match="cycle"):
        mcugraph.load(parse("{ y = Relu(a) a = Neg(y) }"))


def test_nodes_are_sorted_topologically():
    """Nodes stored out of order come back in topological order."""
    model = mcugraph.load(parse("{ y = Relu(a) a = Neg(x) }"))
    assert [n.op_type for n in model.graph] == ["Neg", "Relu"]


def test_unnamed_nodes_get_unique_names():
    """Unnamed nodes are named op_index, without clashing with an existing name."""
    proto = parse("{ a = Neg(x) y = Relu(a) }")
    proto.graph.node[1].name = "Neg_0"
    assert [n.name for n in mcugraph.load(proto).graph] == ["Neg_0_1", "Neg_0"]


def test_initializers_listed_as_inputs_become_constants():
    """Old-style models listing weights as graph inputs load with only the real input left."""
    proto = tiny()
    proto.graph.input.extend(
        onnx.helper.make_tensor_value_info(t.name, t.data_type, t.dims) for t in proto.graph.initializer)
    model = mcugraph.load(proto)
    assert [v.name for v in model.graph.inputs] == ["x"]
    assert analyze(model).params == 4 * 3 * 3 * 3 + 4


class TwoInputs(torch.nn.Module):
    def forward(self, a, b):
        return a.sum(dim=1, keepdim=True) * b


def test_torch_example_inputs_as_list():
    """example_inputs may be a list of tensors as well as a tuple."""
    model = mcugraph.load(TwoInputs(), example_inputs=[torch.rand(1, 3), torch.rand(1, 2)])
    assert [tuple(v.shape) for v in model.graph.inputs] == [(1, 3), (1, 2)]


RESHAPE = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1, 4, 2, 2] x) => (float[1, 16] y) <int64[2] s = {1, 16}> { y = Reshape(x, s) }
"""


def test_override_the_model_cannot_run_with():
    """A resized input that a fixed Reshape cannot take fails at load, naming the Reshape."""
    with pytest.raises(ShapeError, match="cannot run with --input-shape x=1x4x4x4.*Reshape_0"):
        mcugraph.load(onnx.parser.parse_model(RESHAPE), input_shapes={"x": (1, 4, 4, 4)})


def test_override_with_zero_dimension():
    """A zero or negative dimension in input_shapes is refused."""
    with pytest.raises(ShapeError, match="must be positive integers"):
        mcugraph.load(onnx.parser.parse_model(RESHAPE), input_shapes={"x": (1, 4, 0, 4)})


def test_load_ir_model_is_not_mutated_and_reloads_the_same():
    """Loading an ir.Model leaves it as it was; loading a loaded model changes nothing."""
    original = ir.serde.deserialize_model(tiny())
    before = ir.serde.serialize_model(original).SerializeToString()
    once = mcugraph.load(original)
    assert ir.serde.serialize_model(original).SerializeToString() == before
    twice = mcugraph.load(once)
    assert ir.serde.serialize_model(twice).SerializeToString() == ir.serde.serialize_model(once).SerializeToString()


def load_or_user_error(data: bytes, path) -> None:
    """Load ``data`` from a file; anything but success or an MCUGraphError fails the test with the bytes."""
    path.write_bytes(data)
    try:
        mcugraph.load(path)
    except mcugraph.MCUGraphError:
        pass
    except Exception as e:  # pragma: no cover - what this test exists to catch
        pytest.fail(f"{type(e).__name__} instead of a user error for bytes {data.hex()}: {e}")


def test_every_truncation_is_a_user_error(tmp_path):
    """A model cut at any byte loads or fails with an MCUGraphError, never with another exception."""
    data = tiny().SerializeToString()
    for length in range(0, len(data), 3):
        load_or_user_error(data[:length], tmp_path / "cut.onnx")


def test_corrupted_bytes_are_user_errors(tmp_path):
    """Random byte corruptions (fixed seed) load or fail with an MCUGraphError, never with another exception."""
    rng = np.random.default_rng(0)
    data = tiny().SerializeToString()
    for _ in range(300):
        corrupt = bytearray(data)
        for position in rng.integers(0, len(data), size=rng.integers(1, 5)):
            corrupt[position] = rng.integers(0, 256)
        load_or_user_error(bytes(corrupt), tmp_path / "corrupt.onnx")


def test_attribute_of_the_wrong_type():
    """An attribute whose type differs from the op's schema (a corrupt file) is named with its node."""
    proto = tiny()
    proto.graph.node[0].attribute.append(onnx.helper.make_attribute("dilations", 1))  # INT, Conv wants INTS
    proto.graph.node[0].name = "conv"
    with pytest.raises(InvalidModelError, match=r"wrong type: 'conv' \(Conv\)\.dilations"):
        mcugraph.load(proto)
