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


MIN_OPSET = 7  # onnxruntime only guarantees opset 7 and later
MAX_VALUE_BYTES = 2**31 - 1  # TFLite/TFLM address tensors with int32 offsets; anything larger is not an MCU model


def check_header(proto: onnx.ModelProto, where: str) -> None:
    """The IR version and default-domain opset are ones onnx and onnxruntime know; node and initializer names are
    unique; initializer dims are non-negative. Run first: everything after trusts these."""
    if not 3 <= proto.ir_version <= onnx.IR_VERSION:
        raise ModelLoadError(
            f"{where}: ONNX IR version {proto.ir_version} is not one this onnx reads (3..{onnx.IR_VERSION}); "
            "the file is corrupt or from a newer exporter, re-export it"
        )
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), DEFAULT_OPSET)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ModelLoadError(
            f"{where}: ONNX opset {opset} is outside {MIN_OPSET}..{onnx.defs.onnx_opset_version()} (what onnx and "
            "onnxruntime support); re-export the model with a current opset (torch: opset_version=17)"
        )
    _check_text(proto, where)
    for kind, names in (("node", [n.name for n in proto.graph.node]), ("initializer", [t.name for t in proto.graph.initializer])):
        seen: set[str] = set()
        duplicated = sorted({name for name in names if name and (name in seen or seen.add(name))})
        if duplicated:
            raise InvalidModelError(
                f"{where}: {len(duplicated)} {kind} name(s) used more than once ({', '.join(map(repr, duplicated[:5]))}); "
                f"{kind} names must be unique, re-export the model"
            )
    for tensor in proto.graph.initializer:
        if any(d < 0 for d in tensor.dims):
            raise InvalidModelError(
                f"{where}: initializer '{tensor.name}' has a negative dimension {list(tensor.dims)}; the file is corrupt"
            )


def _check_text(proto: onnx.ModelProto, where: str) -> None:
    """Every name is UTF-8 text, as ONNX requires: protobuf hands a non-UTF-8 string field back as ``bytes``, which
    would break every report and JSON file later."""
    g = proto.graph
    names = [("graph", g.name)]
    names += [(f"node #{i}", n.name) for i, n in enumerate(g.node)]
    names += [(f"node #{i} input/output", v) for i, n in enumerate(g.node) for v in [*n.input, *n.output]]
    names += [("value", v.name) for v in [*g.input, *g.output, *g.value_info]]
    names += [("initializer", t.name) for t in g.initializer]
    broken = [(what, name) for what, name in names if not isinstance(name, str)]
    if broken:
        listed = ", ".join(f"{what} {bytes(name)!r}" for what, name in broken[:5])
        raise InvalidModelError(
            f"{where}: {len(broken)} name(s) are not UTF-8 text ({listed}); the file is corrupt, re-export it"
        )


def check_onnx_spec(proto: onnx.ModelProto, where: str, path: str | None = None) -> None:
    """``onnx.checker`` in full (with strict shape inference): types, attributes each op declares, shapes that
    agree. Given ``path``, the file is checked from disk, which also covers external weight data and models over
    protobuf's 2 GB limit."""
    try:
        if path is not None and proto.ByteSize() > 2**31 - 1:
            onnx.checker.check_model(path, full_check=True)
        elif all(v.type.tensor_type.HasField("shape") for v in proto.graph.output):
            onnx.checker.check_model(proto, full_check=True)
        else:
            # The checker wants a shape on every graph output, which ONNX files may leave out (mcugraph infers it
            # or runs the model later): check the nodes, the weights and the shapes one by one instead.
            context = onnx.checker.C.CheckerContext()
            context.ir_version = proto.ir_version
            context.opset_imports = {o.domain: o.version for o in proto.opset_import}
            for node in proto.graph.node:
                onnx.checker.check_node(node, context)
            for tensor in proto.graph.initializer:
                onnx.checker.check_tensor(tensor, context)
            onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, ValueError) as e:
        reason = " ".join(str(e).split())
        reason = reason.replace("==> Context: Bad node spec for node.", "in node").strip()
        if len(reason) > 300:
            reason = reason[:297] + "..."
        raise InvalidModelError(f"{where}: not a valid ONNX model: {reason}; re-export it") from e


def check_value_sizes(model: ir.Model, where: str) -> None:
    """No value may need more than 2 GiB: such a model cannot be planned, and allocating it would fail later."""
    values = [*model.graph.inputs, *(v for node in model.graph for v in node.outputs)]
    for value in values:
        if value.shape is None or value.dtype is None or not all(isinstance(d, int) for d in value.shape):
            continue
        count = 1
        for d in value.shape:
            count *= int(d)
        size = count * (value.dtype.itemsize if value.dtype.itemsize else 1)
        if size > MAX_VALUE_BYTES:
            raise InvalidModelError(
                f"{where}: value '{value.name}' of shape {tuple(value.shape)} needs {size / 2**30:.1f} GiB; "
                "that is not a microcontroller model, check its input shapes"
            )


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
