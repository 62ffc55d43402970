"""Property tests: MACs and params of random torch layers equal what torch itself says, whatever the geometry."""

from __future__ import annotations

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mcugraph


def torch_macs(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates counted by running the module: each output element meets one weight slice."""
    total = 0

    def count(layer, inputs, output):
        nonlocal total
        if isinstance(layer, torch.nn.ConvTranspose2d):
            total += inputs[0].numel() * layer.weight[0].numel()
        elif isinstance(layer, torch.nn.Conv2d):
            total += output.numel() * layer.weight[0].numel()
        elif isinstance(layer, torch.nn.Linear):
            total += output.numel() * layer.in_features

    hooks = [m.register_forward_hook(count) for m in module.modules()]
    with torch.no_grad():
        module(x)
    for hook in hooks:
        hook.remove()
    return total


@settings(max_examples=15, deadline=None)
@given(
    groups=st.sampled_from([1, 2, 4]),
    cin_per_group=st.integers(1, 3),
    cout_per_group=st.integers(1, 3),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    size=st.integers(6, 12),
    bias=st.booleans(),
    transposed=st.booleans(),
)
def test_conv_geometry_matches_torch(groups, cin_per_group, cout_per_group, kernel, stride, padding, dilation, size,
                                     bias, transposed):
    """Any (transposed) conv geometry: MACs and params from the IR equal torch's count."""
    cin, cout = groups * cin_per_group, groups * cout_per_group
    reach = dilation * (kernel - 1) + 1
    if transposed:
        assume(padding < reach and (size - 1) * stride - 2 * padding + reach > 0)
    else:
        assume(size + 2 * padding >= reach)
    layer_type = torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d
    layer = layer_type(cin, cout, kernel, stride, padding, groups=groups, dilation=dilation, bias=bias)
    module = torch.nn.Sequential(layer)
    x = torch.rand(1, cin, size, size)
    report = mcugraph.analyze(mcugraph.load(module, example_inputs=x))
    assert report.macs == torch_macs(module, x)
    assert report.params == sum(p.numel() for p in module.parameters())
    assert report.weight_bytes == layer.weight.numel() + (4 * cout if bias else 0)


@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 4), features=st.integers(1, 32), outputs=st.integers(1, 32), bias=st.booleans())
def test_linear_matches_torch(rows, features, outputs, bias):
    """A Linear on a batch of rows: in*out*rows MACs, int8 weights and int32 bias."""
    module = torch.nn.Sequential(torch.nn.Linear(features, outputs, bias=bias))
    x = torch.rand(rows, features)
    report = mcugraph.analyze(mcugraph.load(module, example_inputs=x, input_shapes={"input": (rows, features)}))
    assert report.macs == torch_macs(module, x) == rows * features * outputs
    assert report.weight_bytes == features * outputs + (4 * outputs if bias else 0)
