"""Small helpers the canonicalisation passes share: read constants, add initializers, swap values safely.

Not a pass (the leading underscore keeps the registry from importing it). Every helper keeps mcugraph's two IR
invariants: each value has a static shape and dtype, and graph input/output names never change.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

from mcugraph.errors import ShapeError


def constant_array(value: ir.Value | None) -> np.ndarray | None:
    """The numpy value of ``value`` if it is a constant (initializer or Constant node output), else None.

    An initializer that is also a graph input is *not* constant: the caller may feed another value.
    """
    if value is None or value.is_graph_input():
        return None
    try:
        tensor = ir.convenience.get_const_tensor(value)
    except ValueError:  # a malformed Constant node: leave it to the checker
        return None
    return None if tensor is None else tensor.numpy()


def require_static_shapes(model: ir.Model, pass_name: str) -> None:
    """Precondition (``requires``) of a pass that computes with shapes: every graph input and node output has a
    static shape and a dtype. Raises :class:`ShapeError` naming the first value that has not and the fix: models
    from other tools (a symbolic batch, after onnxscript's optimizer) go through ``mcugraph.load`` first."""
    values = [*model.graph.inputs, *(v for node in model.graph for v in node.outputs if v is not None)]
    for value in values:
        if value.dtype is None or value.shape is None or not all(isinstance(d, int) for d in value.shape):
            raise ShapeError(
                f"pass '{pass_name}' needs static shapes, but value '{value.name}' has shape {value.shape} "
                f"(dtype {value.dtype}); fix the shapes with mcugraph.load(model) first (a symbolic batch becomes "
                "1; input_shapes= or --input-shape sets other dynamic dims)"
            )


def unique_name(graph: ir.Graph, base: str) -> str:
    """``base`` or ``base_1``, ``base_2``, ... whichever no value or node of ``graph`` already uses."""
    taken = set(graph.initializers)
    taken.update(v.name for v in graph.inputs)
    for node in graph:
        taken.update(v.name for v in node.outputs)
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


def add_initializer(graph: ir.Graph, array: np.ndarray, base: str) -> ir.Value:
    """Register ``array`` as a new initializer named after ``base`` (made unique) and return its value."""
    name = unique_name(graph, base)
    array = np.asarray(array)
    value = ir.Value(
        name=name,
        shape=ir.Shape(array.shape),
        type=ir.TensorType(ir.DataType.from_numpy(array.dtype)),
        const_value=ir.tensor(array, name=name),
    )
    graph.register_initializer(value)
    return value


def can_replace(old: ir.Value, new: ir.Value) -> bool:
    """Whether :func:`replace_value` may swap ``old`` for ``new`` without renaming a graph input or output.

    When ``old`` is a graph output, ``new`` must take over its name, so ``new`` may not be a graph input,
    another graph output or an initializer (those names are fixed too).
    """
    if not old.is_graph_output():
        return True
    return not (new.is_graph_input() or new.is_graph_output() or new.is_initializer())


def replace_value(old: ir.Value, new: ir.Value) -> None:
    """Point every use of ``old`` (graph outputs included) at ``new``; ``new`` inherits a graph output's name.

    The caller checked :func:`can_replace` and removes the node that produced ``old`` afterwards.
    """
    was_output = old.is_graph_output()
    name = old.name
    old.replace_all_uses_with(new, replace_graph_outputs=True)
    if was_output:
        old.name = f"{name}__replaced"  # free the name first: onnx-ir does not check uniqueness, ONNX does
        new.name = name


def drop_if_unused(graph: ir.Graph, values: list[ir.Value | None]) -> None:
    """Delete the initializers among ``values`` that nothing uses any more (left behind by a rewrite)."""
    for value in values:
        if value is None or not value.is_initializer() or value.is_graph_input() or value.is_graph_output():
            continue
        if not value.uses() and value.name in graph.initializers:
            del graph.initializers[value.name]


def remove_node(graph: ir.Graph, node: ir.Node | list[ir.Node]) -> None:
    """Remove ``node`` (or several, whose outputs nothing else uses any more) and the constants only they read."""
    nodes = node if isinstance(node, list) else [node]
    inputs = [v for n in nodes for v in n.inputs]
    graph.remove(nodes, safe=True)
    drop_if_unused(graph, inputs)


def swap_in(graph: ir.Graph, old: ir.Value, new: ir.Value, dead: list[ir.Node]) -> None:
    """Replace ``old`` by the freshly made ``new`` everywhere, remove the ``dead`` nodes, and give ``new`` the name.

    Keeping the name keeps graph outputs stable and makes the rewritten model easy to compare with the original.
    """
    name = old.name
    old.replace_all_uses_with(new, replace_graph_outputs=True)
    remove_node(graph, dead)
    old.name = f"{name}__replaced"
    new.name = name


def fold_into_initializers(graph: ir.Graph, node: ir.Node, arrays: list[np.ndarray]) -> None:
    """Replace each output of ``node`` by an initializer of the same name holding its array; remove ``node``.

    The caller checked that no output is a graph output. Outputs nothing reads are simply dropped.
    """
    folded = []
    for output, array in zip(node.outputs, arrays, strict=True):
        if not output.uses():
            continue
        array = np.asarray(array)
        value = ir.Value(name=output.name, const_value=ir.tensor(array, name=output.name))
        set_static(value, array.shape, ir.DataType.from_numpy(array.dtype))
        output.replace_all_uses_with(value)
        folded.append(value)
    remove_node(graph, node)
    for value in folded:  # after the removal, so that the name is free again
        graph.register_initializer(value)


def set_static(value: ir.Value, shape: tuple[int, ...], dtype: ir.DataType) -> None:
    value.shape = ir.Shape(shape)
    value.type = ir.TensorType(dtype)


def evaluate(node: ir.Node, arrays: list[np.ndarray | None], model: ir.Model) -> list[np.ndarray] | None:
    """Outputs of ``node`` on constant ``arrays`` (None for a missing optional input); None if it cannot run.

    onnxruntime is the reference every rewrite is checked against, so a folded constant is bit-identical to what
    it computed at run time; onnx's ReferenceEvaluator is the fallback for the few op/dtype pairs it lacks.
    """
    from mcugraph.runtime import run_onnx

    proto = _single_node_model(node, arrays, model)
    try:
        return [np.asarray(a) for a in run_onnx(proto, {})]
    except Exception:  # noqa: BLE001 - any failure means "try the other evaluator"
        pass
    from onnx.reference import ReferenceEvaluator  # slow to import, rarely needed

    try:
        return [np.asarray(a) for a in ReferenceEvaluator(proto).run(None, {})]
    except Exception:  # noqa: BLE001 - an op neither can run on constants stays a node
        return None


def _single_node_model(node: ir.Node, arrays: list[np.ndarray | None], model: ir.Model) -> onnx.ModelProto:
    proto = ir.serde.serialize_node(node)
    del proto.input[:]
    initializers = []
    for i, array in enumerate(arrays):
        if array is None:
            proto.input.append("")
            continue
        proto.input.append(f"in{i}")
        initializers.append(onnx.numpy_helper.from_array(np.asarray(array), f"in{i}"))
    del proto.output[:]
    proto.output.extend(f"out{i}" for i in range(len(node.outputs)))
    graph = onnx.helper.make_graph(
        [proto], "fold", [], [onnx.ValueInfoProto(name=n) for n in proto.output], initializers
    )
    imports = [onnx.helper.make_opsetid(domain, version) for domain, version in model.opset_imports.items()]
    # ir_version 8 at least: the single-node model must load even when the original declares an older one.
    return onnx.helper.make_model(graph, opset_imports=imports, ir_version=max(model.ir_version or 0, 8))
