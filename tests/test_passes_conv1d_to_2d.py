"""conv1d-to-2d: 1-D Conv/MaxPool/AveragePool become their 2-D forms over H = 1, carried 4-D through chains."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from passes_check import model, ops, rewrites, unchanged
from torch import nn
from torch_export import EXPORTERS, export

import mcugraph
from mcugraph.errors import UnsupportedOpError
from mcugraph.registry import create_pass


class Conv1dNet(nn.Module):
    """Keyword-spotting style: conv, BN, pool, depthwise + pointwise, average pool, global mean, classifier."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(4, 8, 3, padding=1), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2))
        self.dw = nn.Sequential(nn.Conv1d(8, 8, 3, padding=1, groups=8), nn.BatchNorm1d(8), nn.ReLU())
        self.pw = nn.Sequential(nn.Conv1d(8, 12, 1), nn.ReLU(), nn.AvgPool1d(2))
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        x = self.conv(x)
        x = self.pw(self.dw(x) + x)  # a residual Add of two 1-D tensors
        return self.fc(x.mean(-1))


def _conv1d_net(exporter, tmp_path):
    torch.manual_seed(0)
    net = Conv1dNet()
    for bn in (net.conv[1], net.dw[1]):  # statistics away from the identity, so folding them matters
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return export(net, torch.randn(1, 4, 16), exporter, tmp_path)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_torch_conv1d_net_becomes_2d_without_reshapes_between_layers(exporter, tmp_path):
    """Both exporters' Conv1d nets: same outputs, 2-D layers, one Unsqueeze at the input and no Squeeze left."""
    m = _conv1d_net(exporter, tmp_path)
    m = mcugraph.run_pipeline(m, "fold-constants,fold-bn", check=True).model
    m = rewrites("conv1d-to-2d", m)
    assert ops(m).count("Unsqueeze") == 1 and "Squeeze" not in ops(m)
    assert all(len(n.inputs[0].shape) == 4 for n in m.graph if n.op_type in ("Conv", "MaxPool", "AveragePool"))


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_torch_conv1d_net_exports_and_verifies(exporter, tmp_path):
    """`opt` on a Conv1d net: CONV_2D / DEPTHWISE_CONV_2D, TFLM's arena head equals the prediction, SQNR ok."""
    result = mcugraph.optimize(_conv1d_net(exporter, tmp_path), calib="random:-1,1,4")
    report = result.report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"]
    assert report["verification"]["sqnr_db"] > 25
    assert report["macs"] == 4 * 8 * 3 * 16 + 8 * 3 * 8 + 8 * 12 * 8 + 12 * 3


def test_conv1d_net_prunes_and_the_pruned_model_exports(tmp_path):
    """`prune` on a Conv1d net cuts channels and its output goes through `opt`."""
    m = _conv1d_net("legacy", tmp_path)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4, 16)).astype(np.float32)
    y = (x[:, 0].mean(1) > 0).astype(np.int64)
    result = mcugraph.prune(m, data=(x, y), flash="3500", epochs=2, batch_size=16)  # of the .tflite's 3,792 B
    assert result.report["after"]["flash"] <= 3500 < result.report["before"]["flash"]
    report = mcugraph.optimize(result.model, calib="random:-1,1,4").report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"]


@pytest.mark.parametrize("source", ["x", "r"])
def test_strided_dilated_pool_and_flatten(source):
    """Strides, dilations, pads and ceil_mode carry over, for a Conv on the model input (channels as height) and
    on an intermediate value (Unsqueeze + Transpose); a Flatten reads the 4-D value directly."""
    w = np.random.default_rng(0).uniform(-1, 1, (6, 2, 3)).astype(np.float32)
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 2, 20] x) => (float[1, 24] y, float[1, 2, 20] r) <float[6, 2, 3] w = {{{", ".join(map(str, w.ravel()))}}}> {{
            r = Relu(x)
            c = Conv <pads = [2, 1], strides = [2], dilations = [2]> ({source}, w)
            p = MaxPool <kernel_shape = [3], strides = [2], ceil_mode = 1> (c)
            a = AveragePool <kernel_shape = [2], pads = [1, 0], count_include_pad = 1> (p)
            t = Tanh(a)
            y = Flatten(t)
        }}
    """)
    m = rewrites("conv1d-to-2d", m)
    lift = ["Unsqueeze"] if source == "x" else ["Unsqueeze", "Transpose"]  # x: channels as height
    assert ops(m) == ["Relu", *lift, "Conv", "MaxPool", "AveragePool", "Tanh", "Flatten"]


def test_bias_shaped_constant_concat_and_graph_output_squeeze():
    """A (C, 1) constant is re-broadcast, Concat moves its axis, a 1-D graph output keeps its name and shape."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 2, 8] x) => (float[1, 4, 8] y) <float[2, 1] b = {0.5, -1.0}> {
            p = MaxPool <kernel_shape = [3], pads = [1, 1]> (x)
            q = AveragePool <kernel_shape = [3], pads = [1, 1]> (x)
            s = Add(p, b)
            y = Concat <axis = 1> (s, q)
        }
    """)
    m = rewrites("conv1d-to-2d", m)
    assert ops(m)[-3:] == ["Concat", "Transpose", "Squeeze"]
    assert [tuple(v.shape) for v in m.graph.outputs] == [(1, 4, 8)]


def test_2d_model_is_unchanged():
    """A 2-D Conv/MaxPool model is left alone."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 2, 8, 8] x) => (float[1, 2, 4, 4] y) {
            y = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
        }
    """)
    unchanged("conv1d-to-2d", m)


def test_non_constant_weights_are_refused_naming_the_node():
    """A 1-D Conv whose weights are a graph input cannot become a CONV_2D: the error names node and op."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 2, 8] x, float[3, 2, 3] w) => (float[1, 3, 6] y) { y = Conv(x, w) }
    """)
    m.graph.node(0).name = "conv_w_input"
    with pytest.raises(UnsupportedOpError, match="conv_w_input.*Conv"):
        create_pass("conv1d-to-2d")(m)


class Conv1dToSequence(nn.Module):
    """Input-dominated peak (40 x 49 MFCC frames), global average pool, and a second output left 1-D."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(40, 8, 3), nn.ReLU(), nn.MaxPool1d(2))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        features = self.conv(x)
        return self.head(nn.functional.adaptive_avg_pool1d(features, 1).flatten(1)), features


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_input_conv_reads_channels_as_height_and_the_output_reorder_is_a_transpose(exporter, tmp_path):
    """The first Conv reads the (1, 40, 49) input as (1, 1, 40, 49) with a 40-high kernel (no reordered copy of
    the input); the 1-D output (N, C, L) is one explicit TRANSPOSE back, which the arena prediction includes."""
    torch.manual_seed(0)
    m = export(Conv1dToSequence(), torch.randn(1, 40, 49), exporter, tmp_path)
    canonical = mcugraph.run_pipeline(m, mcugraph.CANONICALIZE, check=True).model
    conv = next(n for n in canonical.graph if n.op_type == "Conv")
    assert tuple(conv.inputs[0].shape) == (1, 1, 40, 49) and tuple(conv.inputs[1].shape) == (8, 1, 40, 3)
    assert ops(canonical).count("Transpose") == 1
    assert [tuple(v.shape) for v in canonical.graph.outputs] == [(1, 3), (1, 8, 23)]
    report = mcugraph.optimize(m, calib="random:-1,1,4").report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"]
    assert report["macs"] == 8 * 40 * 3 * 47 + 8 * 3


def test_length_reduction_with_keepdims_keeps_its_1d_shape():
    """A keepdims mean over the length of a 2-D-carried value: reduced in 4-D, read back as (N, C, 1)."""
    m = rewrites("conv1d-to-2d", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 2, 8] x) => (float[1, 2, 1] y) {
            p = MaxPool <kernel_shape = [3], pads = [1, 1]> (x)
            y = ReduceMean <axes = [2], keepdims = 1> (p)
        }
    """))
    assert [tuple(v.shape) for v in m.graph.outputs] == [(1, 2, 1)]


def test_every_elementwise_row_of_the_op_table_is_carried_4d():
    """Softplus and Reciprocal (the table's element-wise rows) between 1-D pools run on the 4-D value: no Squeeze."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 2, 8] x) => (float[1, 2, 4] y) {
            p = MaxPool <kernel_shape = [3], pads = [1, 1]> (x)
            s = Softplus(p)
            r = Reciprocal(s)
            y = AveragePool <kernel_shape = [2], strides = [2]> (r)
        }
    """)
    m = rewrites("conv1d-to-2d", m)
    # (the Transposes reorder (N, C, L) <-> NHWC (N, 1, L, C) at the model's input and output)
    assert ops(m) == ["Unsqueeze", "Transpose", "MaxPool", "Softplus", "Reciprocal", "AveragePool", "Transpose",
                      "Squeeze"]
