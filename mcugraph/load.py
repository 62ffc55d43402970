"""Lift any model into an onnx-ir ``ir.Model`` with static shapes and dtypes on every value.

Accepted: a path to a .onnx file, ``onnx.ModelProto``, ``onnx_ir.Model``, an onnx-graphsurgeon ``Graph``, or a
``torch.nn.Module`` together with ``example_inputs``. A symbolic batch dimension (dim 0) becomes 1; any other
symbolic dimension must be given in ``input_shapes`` (``{"input": (1, 3, 96, 96)}``) or loading fails with a
:class:`ShapeError` naming the input and dimension.

The loaded model is also normalised so that later stages need not check: nodes in topological order, every node
named (``Conv_3`` when the file has no name), weights not listed as graph inputs, external weight data read in.
Refused with one line listing every offender: files that are not ONNX (text, TFLite, truncated), non-standard or
control-flow ops, values read but never defined or written twice, cycles, NaN/Inf weights.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir
from google.protobuf.message import DecodeError

from mcugraph.atomic import atomic_write_bytes
from mcugraph.errors import InvalidModelError, ModelLoadError, ShapeError
from mcugraph.load_checks import (
    check_finite_weights,
    check_header,
    check_initializers,
    check_onnx_spec,
    check_ops,
    check_structure,
    check_value_sizes,
)

DEFAULT_OPSET = 17  # for exporting torch modules


def load(
    model: Any,
    *,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    example_inputs: Any = None,
    check_weights: bool = True,
) -> ir.Model:
    """Return ``model`` as an onnx-ir model with every value's shape and dtype static."""
    proto = _to_proto(model, example_inputs)
    where = _describe(model)
    check_header(proto, where)
    _name_nodes(proto)
    _drop_initializer_inputs(proto)
    check_ops(proto, where)
    check_structure(proto, where)
    check_initializers(proto, where)
    _sort_proto(proto, where)  # the checker wants topological order; mcugraph accepts any order
    _fix_input_shapes(proto, dict(input_shapes or {}), where)
    proto = _infer_shapes(proto)
    check_onnx_spec(proto, where, where if isinstance(model, (str, os.PathLike)) else None)
    try:
        result = ir.serde.deserialize_model(proto)
    except Exception as e:  # onnx-ir rejects what protobuf parsed but ONNX does not allow (unknown dtypes, ...)
        cause = e.__cause__ or e
        raise InvalidModelError(f"{where}: not a valid ONNX model ({cause}); the file is corrupt, re-export it") from e
    _sort(result, where)
    _fill_missing_shapes(result, where, dict(input_shapes or {}))
    check_value_sizes(result, where)
    if check_weights:
        check_finite_weights(result, where)
    return result


def save(model: ir.Model, path: str | os.PathLike) -> Path:
    """Write ``model`` as an ONNX file (atomically) that onnxruntime can run."""
    return atomic_write_bytes(path, ir.serde.serialize_model(model).SerializeToString())


def to_bytes(model: ir.Model) -> bytes:
    return ir.serde.serialize_model(model).SerializeToString()


def _describe(model: Any) -> str:
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    return type(model).__name__


def _to_proto(model: Any, example_inputs: Any) -> onnx.ModelProto:
    if isinstance(model, (str, os.PathLike)):
        return _read_file(Path(model))
    if isinstance(model, onnx.ModelProto):
        return onnx.ModelProto.FromString(model.SerializeToString())  # never mutate the caller's proto
    if isinstance(model, ir.Model):
        return ir.serde.serialize_model(model)
    if type(model).__module__.startswith("onnx_graphsurgeon"):
        import onnx_graphsurgeon as gs

        return gs.export_onnx(model)
    if _is_torch_module(model):
        return _export_torch(model, example_inputs)
    raise ModelLoadError(
        f"cannot load a {type(model).__name__}; pass a .onnx path, onnx.ModelProto, onnx_ir.Model, "
        "onnx_graphsurgeon.Graph or torch.nn.Module (with example_inputs)"
    )


def _read_file(path: Path) -> onnx.ModelProto:
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a folder, not an ONNX file")
    data = path.read_bytes()
    if not data:
        raise ModelLoadError(f"{path}: file is empty; expected an ONNX model")
    if data[4:8] == b"TFL3":
        raise ModelLoadError(f"{path}: is a TFLite flatbuffer, not ONNX; give the .onnx model it was made from")
    try:
        proto = onnx.ModelProto.FromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as e:
        raise ModelLoadError(f"{path}: {_why_not_onnx(data)}; re-export it or check the download") from e
    if not proto.graph.node and not proto.graph.output:
        raise ModelLoadError(f"{path}: parsed as protobuf but holds no ONNX graph; is this really a .onnx file?")
    if proto.graph.ByteSize() and not proto.opset_import:
        raise ModelLoadError(f"{path}: ONNX model without opset_import; re-export it with a current exporter")
    _load_external_data(proto, path)
    return proto


def _why_not_onnx(data: bytes) -> str:
    head = data[:512]
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return f"is a text file ({head[:20].decode()!r}...), not an ONNX model"
    if head[0] == 0x08:  # field 1 (ir_version) as a varint: how every ONNX file starts
        return f"looks like an ONNX model cut short ({len(data):,} bytes; truncated protobuf)"
    return "is neither an ONNX model nor a truncated one (protobuf does not parse)"


def _load_external_data(proto: onnx.ModelProto, path: Path) -> None:
    """Weights saved beside the model (``save_as_external_data``) are read now: everything later needs them."""
    if not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer):
        return
    try:
        onnx.external_data_helper.load_external_data_for_model(proto, str(path.parent))
    except (OSError, ValueError, onnx.checker.ValidationError) as e:
        raise ModelLoadError(
            f"{path}: its external weight data cannot be read ({e}); keep the data file next to the model"
        ) from e


def _is_torch_module(model: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(model, torch.nn.Module)


def _export_torch(module: Any, example_inputs: Any) -> onnx.ModelProto:
    import torch

    if example_inputs is None:
        raise ModelLoadError(
            f"cannot export {type(module).__name__}: a torch module needs example_inputs, "
            "e.g. mcugraph.load(module, example_inputs=torch.randn(1, 3, 32, 32))"
        )
    args = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    buf = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        # torch prints its whole IR graph on stdout when an op fails: keep stdout for the command's output.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            # The TorchScript exporter: 30x faster than dynamo on small models and it keeps Conv/Gemm/Flatten as
            # single ONNX nodes, which is what the rest of mcugraph pattern-matches.
            torch.onnx.export(
                module, args, buf, dynamo=False, opset_version=DEFAULT_OPSET,
                input_names=[f"input{i}" if i else "input" for i in range(len(args))],
                output_names=["output"],
            )
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(
            f"torch.onnx.export failed for {type(module).__name__}: {reason}; "
            "replace that layer or export the model to ONNX yourself"
        ) from e
    finally:
        module.train(was_training)
    return onnx.ModelProto.FromString(buf.getvalue())


def _name_nodes(proto: onnx.ModelProto) -> None:
    """Give unnamed nodes unique names (``Conv_3``): every report, error and kernel refers to nodes by name."""
    taken = {node.name for node in proto.graph.node}
    for i, node in enumerate(proto.graph.node):
        if node.name:
            continue
        name, k = f"{node.op_type}_{i}", 1
        while name in taken:
            name, k = f"{node.op_type}_{i}_{k}", k + 1
        node.name = name
        taken.add(name)


def _drop_initializer_inputs(proto: onnx.ModelProto) -> None:
    """Old exporters (IR < 4) list every weight as a graph input too; on a microcontroller weights are constants."""
    weights = {t.name for t in proto.graph.initializer}
    inputs = [v for v in proto.graph.input if v.name not in weights]
    if len(inputs) != len(proto.graph.input):
        del proto.graph.input[:]
        proto.graph.input.extend(inputs)


def _sort_proto(proto: onnx.ModelProto, where: str) -> None:
    """Put the proto's nodes in topological order (stable), or refuse a cycle naming the nodes on it."""
    graph = proto.graph
    available = {v.name for v in graph.input} | {t.name for t in graph.initializer} | {""}
    waiting = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while waiting:
        ready = [n for n in waiting if all(name in available for name in n.input)]
        if not ready:
            names = ", ".join(f"'{n.name}'" for n in waiting[:5])
            raise InvalidModelError(f"{where}: the graph has a cycle through node(s) {names}; ONNX graphs must be acyclic")
        ready_ids = {id(n) for n in ready}
        waiting = [n for n in waiting if id(n) not in ready_ids]
        for node in ready:
            available.update(node.output)
        ordered.extend(ready)
    if [id(n) for n in ordered] != [id(n) for n in graph.node]:
        copies = [onnx.NodeProto.FromString(n.SerializeToString()) for n in ordered]
        del graph.node[:]
        graph.node.extend(copies)


def _sort(model: ir.Model, where: str) -> None:
    """Nodes in topological order: every analysis and the exporter walk the graph once, front to back."""
    try:
        model.graph.sort()
    except ValueError as e:
        raise InvalidModelError(f"{where}: the graph has a cycle ({e}); ONNX graphs must be acyclic") from e


def _fix_input_shapes(proto: onnx.ModelProto, overrides: dict[str, Sequence[int]], where: str) -> None:
    initializers = {t.name for t in proto.graph.initializer}
    inputs = [v for v in proto.graph.input if v.name not in initializers]
    names = {v.name for v in inputs}
    for name in overrides:
        if name not in names:
            raise ShapeError(
                f"{where}: --input-shape names '{name}' but the model's inputs are {sorted(names)}"
            )
    for value in inputs:
        tensor_type = value.type.tensor_type
        if name_shape := overrides.get(value.name):
            if not all(isinstance(d, (int, np.integer)) and d > 0 for d in name_shape):
                raise ShapeError(f"{where}: input shape {tuple(name_shape)} for '{value.name}' must be positive integers")
            declared = len(tensor_type.shape.dim) if tensor_type.HasField("shape") else len(name_shape)
            if declared != len(name_shape):
                raise ShapeError(
                    f"{where}: --input-shape gives '{value.name}' {len(name_shape)} dimensions but the model "
                    f"declares {declared}; give all {declared}, e.g. {value.name}=1x..."
                )
            del tensor_type.shape.dim[:]
            for d in name_shape:
                tensor_type.shape.dim.add().dim_value = int(d)
            continue
        if not tensor_type.HasField("shape"):
            raise ShapeError(
                f"{where}: input '{value.name}' has no shape; give one with --input-shape {value.name}=1x..."
            )
        for axis, dim in enumerate(tensor_type.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                continue
            if dim.HasField("dim_value"):  # 0 or negative is not "unknown", it is wrong
                raise ShapeError(
                    f"{where}: input '{value.name}' dimension {axis} is {dim.dim_value}; every dimension must be "
                    f"positive, fix it with --input-shape {value.name}=1x..."
                )
            if axis == 0:
                dim.Clear()
                dim.dim_value = 1  # the batch: one sample at a time on a microcontroller
                continue
            label = dim.dim_param or "?"
            raise ShapeError(
                f"{where}: input '{value.name}' dimension {axis} is dynamic ('{label}'); "
                f"fix it with --input-shape {value.name}=1x... (input_shapes= in Python)"
            )
    # Intermediate and output shapes were inferred under the symbolic batch: drop them and infer again.
    del proto.graph.value_info[:]
    for value in proto.graph.output:
        value.type.tensor_type.ClearField("shape")


def _infer_shapes(proto: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
    except Exception:  # inference is a best effort here; _fill_missing_shapes runs the model instead
        return proto


def _fill_missing_shapes(model: ir.Model, where: str, overrides: Mapping[str, Sequence[int]]) -> None:
    """Where ONNX shape inference left a value without a static shape, run onnxruntime once to read it.

    With ``overrides`` every value is read that way: shape inference does not check, e.g., that a Reshape's element
    count still fits a resized input, and a model that cannot run at the requested shape must fail here.
    """
    missing = [v for v in _all_values(model) if overrides or not _is_static(v)]
    if not missing:
        return
    from mcugraph.runtime import run_onnx_all_values

    _check_parameter_inputs(model, where)
    try:
        shapes = run_onnx_all_values(model, [v.name for v in missing if not v.is_graph_input()])
    except Exception as e:
        # onnxruntime's message names the failing node; drop the C++ source location inside it.
        reason = re.sub(r"/onnxruntime_src/\S+ \S+\(.*?\) ", "", " ".join(str(e).split()))
        if overrides:
            given = " ".join(f"{k}={'x'.join(map(str, v))}" for k, v in overrides.items())
            raise ShapeError(
                f"{where}: the model cannot run with --input-shape {given}: {reason}; "
                "give the shape the model was built for"
            ) from e
        names = ", ".join(v.name for v in missing[:5])
        raise ShapeError(
            f"{where}: cannot determine static shapes of {len(missing)} value(s) ({names}...): {reason}; "
            "fix dynamic input dimensions with --input-shape"
        ) from e
    missing = [v for v in missing if not v.is_graph_input()]
    for value in missing:
        array = shapes[value.name]
        value.shape = ir.Shape(array.shape)
        value.dtype = ir.DataType.from_numpy(array.dtype)


def _check_parameter_inputs(model: ir.Model, where: str) -> None:
    """A graph input read as a parameter (a Reshape shape, Slice starts, ReduceMean axes, Resize scales) makes the
    shapes after it depend on values only known at run time: say so instead of running on random values. A
    parameter is a non-float input read at position >= 1, or any input read so by a node whose outputs have no
    static shape."""
    for value in model.graph.inputs:
        floating = value.dtype in (ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.DOUBLE, None)
        uses = [(use.node, use.idx) for use in value.uses() if use.idx >= 1
                and (not floating or not all(_is_static(o) for o in use.node.outputs if o is not None))]
        if uses:
            node, index = uses[0]
            raise ShapeError(
                f"{where}: graph input '{value.name}' is input {index} of node '{node.name}' ({node.op_type}), a "
                "parameter TFLite needs as a constant (the shapes after it depend on its value); make it an "
                "initializer"
            )


def _all_values(model: ir.Model) -> list[ir.Value]:
    values = list(model.graph.inputs)
    for node in model.graph:
        values.extend(node.outputs)
    return [v for v in values if v.name]


def _is_static(value: ir.Value) -> bool:
    return (
        value.dtype is not None
        and value.shape is not None
        and all(isinstance(d, int) for d in value.shape)
    )
