"""remove-channels{keep=fraction}: which channels survive and how many, on a model whose channel norms are set by
hand (the zoo models' even group sizes and random weights cannot tell ceil from floor or largest from smallest)."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from onnx import helper, numpy_helper

import mcugraph
from mcugraph.passes.remove_channels import RemoveChannelsPass
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.runtime import input_feeds, run_onnx

# Per-channel L2 norm of the first conv's 5 output channels (the second conv reads every channel with weight 1,
# so it adds the same amount to each channel's norm and does not change the order).
NORMS = (3.0, 1.0, 5.0, 2.0, 4.0)


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
    """keep=0.6 of 5 channels keeps the three largest (5, 4, 3) in their original order, and w2 loses the
    same input channels: the output equals the unpruned model's with the two smallest channels zeroed."""
    model = two_convs()
    zeroed = two_convs(norms=(3.0, 0.0, 5.0, 0.0, 4.0))
    feeds = input_feeds(model)
    expected = run_onnx(zeroed, feeds)[0]
    pruned = RemoveChannelsPass(keep=0.6)(model).model
    assert kept_norms(pruned) == [3.0, 5.0, 4.0]
    assert pruned.graph.initializers["w2"].const_value.shape == (3, 3, 1, 1)
    np.testing.assert_allclose(run_onnx(pruned, feeds)[0], expected, rtol=1e-6)


@pytest.mark.parametrize(("fraction", "count"), [(0.5, 3), (0.41, 3), (0.4, 2), (0.21, 2), (0.2, 1), (0.01, 1),
                                                  (1.0, 5)])
def test_keep_fraction_rounds_the_count_up(fraction, count):
    """ceil(fraction * 5) channels stay (at least one): 0.5 -> 3, 0.21 -> 2, 0.01 -> 1, all of them at 1.0."""
    pruned = RemoveChannelsPass(keep=fraction)(two_convs()).model
    assert sorted(kept_norms(pruned), reverse=True) == sorted(NORMS, reverse=True)[:count]


@pytest.mark.parametrize(("fraction", "channels", "count"), [(0.7, 10, 7), (0.28, 25, 7), (0.56, 25, 14)])
def test_an_exact_fraction_is_not_rounded_up_by_float_error(fraction, channels, count):
    """0.28 * 25 is 7.000000000000001 in floating point; the pass keeps 7 channels, not 8."""
    model = two_convs(channels, norms=tuple(float(c + 1) for c in range(channels)))
    group = next(g for g in channel_groups(model) if g.prunable)
    assert group.size == channels
    assert len(kept_norms(RemoveChannelsPass(keep=fraction)(model).model)) == count
