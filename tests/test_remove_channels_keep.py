"""remove-channels{keep=fraction}: which channels survive and how many, on a model whose channel norms are set by
hand (the zoo models' even group sizes and random weights cannot tell ceil from floor or largest from smallest)."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from onnx import helper, numpy_helper

import mcugraph
from mcugraph.errors import PipelineError
from mcugraph.passes.remove_channels import RemoveChannelsPass
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.registry import pipeline_changes_outputs
from mcugraph.runtime import input_feeds, run_onnx

# The one non-zero weight of each of the first conv's 5 output channels: |w| is the channel's L2 norm (the second
# conv reads every channel with weight 1, adding the same amount to each norm). The negative one is the largest,
# so a norm that kept the sign (a sum of w or w^3) would rank it last.
NORMS = (3.0, 1.0, -5.0, 2.0, 4.0)


def two_convs(channels: int = 5, norms=NORMS) -> ir.Model:
    """x(1,2,4,4) -> Conv(w1: channels x 2) -> Relu -> Conv(w2: 3 x channels) -> y; only the middle group prunes."""
    w1 = np.zeros((channels, 2, 1, 1), np.float32)
    w1[:, 0, 0, 0] = norms[:channels]  # one non-zero entry per channel: its norm is that entry
    w2 = np.ones((3, channels, 1, 1), np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1"], ["a"]), helper.make_node("Relu", ["a"], ["r"]),
         helper.make_node("Conv", ["r", "w2"], ["y"])],
        "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    return mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def kept_norms(model) -> list[float]:
    """The first conv's channel norms after pruning, in channel order."""
    return model.graph.initializers["w1"].const_value.numpy()[:, 0, 0, 0].tolist()


def test_keep_fraction_keeps_the_largest_norm_channels():
    """keep=0.6 of 5 channels keeps the three largest norms (|-5|, 4, 3) in their original order, and w2 loses the
    same input channels: the output equals the unpruned model's with the two smallest channels zeroed."""
    model = two_convs()
    zeroed = two_convs(norms=(3.0, 0.0, -5.0, 0.0, 4.0))
    feeds = input_feeds(model)
    expected = run_onnx(zeroed, feeds)[0]
    pruned = RemoveChannelsPass(keep=0.6)(model).model
    assert kept_norms(pruned) == [3.0, -5.0, 4.0]
    assert pruned.graph.initializers["w2"].const_value.shape == (3, 3, 1, 1)
    # The initializer values' declared shapes follow their new data (the serialised model declares them).
    assert [pruned.graph.initializers[n].shape for n in ("w1", "w2")] == [ir.Shape((3, 2, 1, 1)), ir.Shape((3, 3, 1, 1))]
    np.testing.assert_allclose(run_onnx(pruned, feeds)[0], expected, rtol=1e-6)


@pytest.mark.parametrize(("fraction", "count"), [(0.5, 3), (0.41, 3), (0.4, 2), (0.21, 2), (0.2, 1), (0.01, 1),
                                                  (1.0, 5)])
def test_keep_fraction_rounds_the_count_up(fraction, count):
    """ceil(fraction * 5) channels stay (at least one): 0.5 -> 3, 0.21 -> 2, 0.01 -> 1, all of them at 1.0."""
    pruned = RemoveChannelsPass(keep=fraction)(two_convs()).model
    assert sorted(kept_norms(pruned), key=abs, reverse=True) == sorted(NORMS, key=abs, reverse=True)[:count]


@pytest.mark.parametrize(("fraction", "channels", "count"), [(0.7, 10, 7), (0.28, 25, 7), (0.56, 25, 14)])
def test_an_exact_fraction_is_not_rounded_up_by_float_error(fraction, channels, count):
    """0.28 * 25 is 7.000000000000001 in floating point; the pass keeps 7 channels, not 8."""
    model = two_convs(channels, norms=tuple(float(c + 1) for c in range(channels)))
    group = next(g for g in channel_groups(model) if g.prunable)
    assert group.size == channels
    assert len(kept_norms(RemoveChannelsPass(keep=fraction)(model).model)) == count


def depthwise_net(norms=NORMS) -> ir.Model:
    """x -> Conv(5 ch) -> depthwise Conv (group 5) -> Conv(3 ch) -> y: the depthwise conv joins the first group."""
    c = len(norms)
    w1 = np.zeros((c, 2, 1, 1), np.float32)
    w1[:, 0, 0, 0] = norms
    dw = np.full((c, 1, 3, 3), 0.5, np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1"], ["a"]),
         helper.make_node("Conv", ["a", "dw"], ["d"], group=c, pads=[1, 1, 1, 1]),
         helper.make_node("Conv", ["d", "w2"], ["y"])],
        "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(dw, "dw"),
         numpy_helper.from_array(np.ones((3, c, 1, 1), np.float32), "w2")],
    )
    return mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_keep_fraction_through_a_depthwise_conv():
    """The depthwise conv's weights, and its group attribute, shrink with the group: 5 -> 3 channels, same outputs
    as zeroing the two smallest-norm channels."""
    feeds = input_feeds(depthwise_net())
    expected = run_onnx(depthwise_net(norms=(3.0, 0.0, -5.0, 0.0, 4.0)), feeds)[0]
    pruned = RemoveChannelsPass(keep=0.5)(depthwise_net()).model
    depthwise = pruned.graph.node(1)
    assert depthwise.attributes["group"].value == 3
    assert pruned.graph.initializers["dw"].const_value.shape == (3, 1, 3, 3)
    assert kept_norms(pruned) == [3.0, -5.0, 4.0]
    np.testing.assert_allclose(run_onnx(pruned, feeds)[0], expected, rtol=1e-6)


@pytest.mark.parametrize(("options", "message"), [
    ({"keep": 0.0}, r"keep=0.0 must be a fraction in \(0, 1\]"),
    ({"keep": 1.5}, r"keep=1.5 must be a fraction"),
    ({"keep": -0.5}, r"must be a fraction"),
    ({"keep": True}, "must map group ids to channel lists, got bool"),
    ({"keep": [1, 2]}, "must map group ids to channel lists, got list"),
    ({"keep": "{1: [0]"}, "neither a fraction nor JSON"),
    ({"keep": {"one": [0]}}, "must map integer group ids to integer lists"),
    ({"keep": 0.5, "keep_file": "k.json"}, "give keep or keep_file, not both"),
    ({"keep_file": "/nonexistent/k.json"}, "cannot read keep_file"),
])
def test_bad_keep_options_are_refused(options, message):
    """Each kind of bad keep/keep_file is a one-line PipelineError, before anything changes."""
    with pytest.raises(PipelineError, match=message):
        RemoveChannelsPass(**options)(two_convs())


@pytest.mark.parametrize(("text", "message"), [("[1, 2]", "must hold an object"), ("{1: [0]", "is not JSON")])
def test_bad_keep_files_are_refused(tmp_path, text, message):
    """A keep_file that is not a JSON object is refused with its path."""
    path = tmp_path / "keep.json"
    path.write_text(text)
    with pytest.raises(PipelineError, match=message):
        RemoveChannelsPass(keep_file=str(path))(two_convs())


def test_keep_as_json_text_and_no_keep():
    """keep may be JSON text {"group": [indices]}; no keep at all changes nothing."""
    group = next(g for g in channel_groups(two_convs()) if g.prunable)
    pruned = RemoveChannelsPass(keep=f'{{"{group.id}": [2, 4]}}')(two_convs())
    assert pruned.modified and kept_norms(pruned.model) == [-5.0, 4.0]
    untouched = RemoveChannelsPass()(two_convs())
    assert not untouched.modified and kept_norms(untouched.model) == list(NORMS)


def test_remove_channels_declares_that_it_changes_outputs():
    """optimize() verifies against the pruned model only because the pass says it changes what the model computes."""
    assert pipeline_changes_outputs("remove-channels{keep=0.5}")
    assert not pipeline_changes_outputs("fold-bn")
