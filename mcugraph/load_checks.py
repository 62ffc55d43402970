"""The checks :func:`mcugraph.load.load` runs on a model before anything else reads it.

Each raises one :mod:`mcugraph.errors` exception whose one line lists every offender it found (node, value,
initializer), so a user fixes a broken export in one round instead of one error at a time. They run on the
``onnx.ModelProto`` (before onnx-ir sees it) except :func:`check_finite_weights`, which runs on the IR.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

from mcugraph.errors import InvalidModelError, ModelLoadError, unsupported_ops_error

DEFAULT_OPSET = 17  # assumed when a model imports no default-domain opset


def check_ops(proto: onnx.ModelProto, where: str) -> None:
    """Every node must be a standard ONNX op at the model's opset with attributes of the declared types; list all
    the offenders at once."""
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), DEFAULT_OPSET)
    if not 1 <= opset <= onnx.defs.onnx_opset_version():
        raise ModelLoadError(
            f"{where}: ONNX opset {opset} does not exist (this onnx knows 1..{onnx.defs.onnx_opset_version()}); "
            "the file is corrupt or from a newer exporter"
        )
    bad, mistyped = [], []
    for i, node in enumerate(proto.graph.node):
        name = node.name or f"#{i}"
        if not isinstance(node.op_type, str) or not isinstance(node.domain, str):
            bad.append((str(name), f"{node.op_type!r} (not UTF-8: a corrupt file)"))  # protobuf hands back bytes
            continue
        if node.domain not in ("", "ai.onnx"):
            bad.append((name, f"{node.domain}::{node.op_type}"))
            continue
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            bad.append((name, f"{node.op_type} with a subgraph"))  # If/Loop/Scan: no microcontroller kernel
            continue
        try:
            schema = onnx.defs.get_schema(node.op_type, opset, "")
        except onnx.defs.SchemaError:
            bad.append((name, node.op_type))
            continue
        declared = schema.attributes
        mistyped += [
            f"'{name}' ({node.op_type}).{a.name}" for a in node.attribute
            if a.name in declared and a.type != int(declared[a.name].type)
        ]
    if bad:
        raise unsupported_ops_error(
            bad, f"in {where} are not standard ONNX ops (opset {opset})",
            "replace them with standard ONNX ops before using mcugraph",
        )
    if mistyped:
        raise InvalidModelError(
            f"{where}: attribute(s) of the wrong type: {', '.join(mistyped[:10])}; the file is corrupt, re-export it"
        )


def check_structure(proto: onnx.ModelProto, where: str) -> None:
    """Every value read is defined once: by an input, an initializer or exactly one node. List all offenders."""
    graph = proto.graph
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    writer: dict[str, str] = {}
    for node in graph.node:
        for name in filter(None, node.output):
            if name in defined or name in writer:
                first = writer.get(name, "the graph's inputs/initializers")
                raise InvalidModelError(
                    f"{where}: value '{name}' is written by node '{node.name}' ({node.op_type}) and by {first}; "
                    "every value must have one producer, re-export the model"
                )
            writer[name] = f"node '{node.name}'"
    known = defined | set(writer)
    dangling = [(node.name, name) for node in graph.node for name in node.input if name and name not in known]
    dangling += [("graph output", v.name) for v in graph.output if v.name not in known]
    if dangling:
        listed = ", ".join(f"'{value}' read by {reader}" for reader, value in dangling[:10])
        raise InvalidModelError(
            f"{where}: {len(dangling)} value(s) read but never defined ({listed}); "
            "the model is incomplete, re-export it"
        )


def check_initializers(proto: onnx.ModelProto, where: str) -> None:
    """Every initializer's data must match its dims and dtype; a corrupt one is named here, not deep in a pass."""
    for tensor in proto.graph.initializer:
        try:
            onnx.numpy_helper.to_array(tensor)
        except Exception as e:
            reason = " ".join(str(e).split())[:200]
            raise InvalidModelError(
                f"{where}: initializer '{tensor.name}' is corrupt ({reason}); re-export the model"
            ) from e


def check_finite_weights(model: ir.Model, where: str = "model") -> None:
    """Raise :class:`InvalidModelError` naming the first NaN/Inf weight (initializer or Constant node)."""
    for name, value in model.graph.initializers.items():
        if value.const_value is not None:
            _check_tensor(value.const_value, f"initializer '{name}'", where)
    for node in model.graph:
        if node.op_type == "Constant" and "value" in node.attributes:
            _check_tensor(node.attributes["value"].as_tensor(), f"Constant node '{node.name}'", where)


def _check_tensor(tensor: ir.TensorProtocol, what: str, where: str) -> None:
    array = tensor.numpy()
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise InvalidModelError(
            f"{where}: {what} holds {bad} NaN/Inf value(s); retrain or fix the weights before optimising"
        )
