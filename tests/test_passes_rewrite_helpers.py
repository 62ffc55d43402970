"""passes/_rewrite.py helpers on hand-made IR: which leftover initializers a rewrite may delete."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from passes_check import model

from mcugraph.passes._rewrite import drop_if_unused, remove_node

TEXT = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1, 4] x) => (float[1, 4] y, float[4] w_out)
<float[4] w = {1, 2, 3, 4}, float[4] w_out = {5, 6, 7, 8}>
{ a = Add(x, w)  c = Add(a, w_out)  y = Relu(c) }
"""


def test_drop_if_unused_keeps_graph_inputs_outputs_and_used_values():
    """Only an unused initializer that is no graph output goes; None and activations in the list are skipped."""
    m = model(TEXT)
    nodes = list(m.graph)
    values = [None, nodes[0].outputs[0], *(m.graph.initializers[n] for n in ("w", "w_out"))]
    for node in nodes[:2]:  # nothing reads the constants any more
        node.replace_input_with(1, nodes[0].inputs[0])
    drop_if_unused(m.graph, values)
    assert sorted(m.graph.initializers) == ["w_out"]


def test_drop_if_unused_keeps_a_value_still_read():
    """An initializer another node still reads stays."""
    m = model(TEXT)
    drop_if_unused(m.graph, [m.graph.initializers["w"]])
    assert "w" in m.graph.initializers


def test_remove_node_refuses_a_node_whose_output_is_read():
    """remove_node removes safely: a node whose output another node reads is not silently cut out."""
    m = model(TEXT)
    with pytest.raises(Exception, match="(?i)use"):
        remove_node(m.graph, m.graph.node(0))
    assert len(m.graph) == 3 and isinstance(m.graph.initializers["w"].const_value.numpy(), np.ndarray)
    assert isinstance(m.graph.node(0), ir.Node)
