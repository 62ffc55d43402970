"""Flash bytes: the size of the .tflite mcugraph writes for a model, and where a file's bytes go.

The model occupies in flash exactly its .tflite file: weights and biases, but also the quantisation parameters,
the tensor and operator tables, the offline arena plan, strings and flatbuffer alignment. :func:`export_structure`
runs the exporter on a model with placeholder activation ranges (every float value in [-1, 1]): a file's size does
not depend on the range values, only on the tensors, operators and arrays written, which the model and the export
options decide. (Where TFLM fixes an operator's output parameters — softmax, logistic — the exporter adds a
requantising copy that does not depend on the ranges either.) ``mcugraph opt`` checks on every export that the
file it writes is exactly :func:`predicted_flash_bytes` long (:func:`check_flash_prediction`).

:func:`file_breakdown` splits any .tflite (mcugraph's or the TF converter's) into weight bytes and the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx_ir as ir

from mcugraph.errors import ExportError


def placeholder_params(model: ir.Model) -> dict:
    """An int8 range of [-1, 1] for every float value (graph inputs and node outputs) of ``model``."""
    from mcugraph.export.quant_params import param_from_range

    param = param_from_range(-1.0, 1.0)
    values = list(model.graph.inputs) + [o for n in model.graph for o in n.outputs if o is not None]
    return {v.name: param for v in values if v.dtype is not None and v.dtype.is_floating_point()}


def export_structure(
    model: ir.Model, *, quantize: bool = True, io_dtype: str = "int8", input_layout: str = "nhwc",
    order: Sequence[str] | None = None, plan: bool = True, keep_names: bool = False,
):
    """The ``ExportResult`` of ``model`` with placeholder ranges: the file ``mcugraph opt`` writes, byte for byte in
    size (not in content). ``order``: kernel names (default: the min-peak schedule, as ``opt`` uses); ``plan``:
    embed the offline arena plan (``opt`` does when it could schedule; its offsets do not change the size)."""
    from mcugraph.export.writer import export_tflite
    from mcugraph.memory.kernel_view import kernel_view
    from mcugraph.memory.schedule import schedule_min_peak

    if order is None:
        graph = kernel_view(model, "int8" if quantize else "float32", io_dtype=io_dtype if quantize else "float32")
        order = schedule_min_peak(graph).order
    return export_tflite(
        model, activations=placeholder_params(model) if quantize else None, order=order,
        offline_offsets={} if plan else None, io_dtype=io_dtype if quantize else "float32",
        input_layout=input_layout, keep_names=keep_names,
    )


def predicted_flash_bytes(model: ir.Model, **options) -> int:
    """Bytes of the .tflite ``mcugraph opt`` writes for ``model`` (options as :func:`export_structure`)."""
    return len(export_structure(model, **options).data)


def check_flash_prediction(predicted: int, data: bytes) -> None:
    """:class:`ExportError` unless the written file is ``predicted`` bytes long (nothing is written then)."""
    if predicted != len(data):
        raise ExportError(
            f"the exported .tflite is {len(data):,} B but mcugraph predicted {predicted:,} B of flash: this is a bug "
            "in mcugraph's flash model (mcugraph.analysis.flash); nothing was written; please report it with the model"
        )


def file_breakdown(data: bytes) -> dict[str, int]:
    """Bytes of a .tflite by what they hold (subgraph 0 and every buffer).

    ``file_bytes`` = ``len(data)``; ``weight_bytes``: the data of constant tensors (weights, biases, shape and
    other constants); ``overhead_bytes``: everything else, of which ``quantization_bytes`` (the payload of scale and
    zero-point arrays, once per array in the file), ``name_bytes`` (tensor, subgraph and metadata names and the
    description, with their terminating zeros), ``metadata_bytes`` (the data of metadata buffers: the offline plan,
    the converter's version strings) and ``other_bytes`` (tables, shapes, operator lists, length prefixes, padding).
    """
    from mcugraph.tflite.schema import read

    model = read(data)
    buffers = model.buffers or []

    def size(index: int) -> int:
        buffer = buffers[index] if 0 <= index < len(buffers) else None
        return 0 if buffer is None or buffer.data is None else len(buffer.data)

    tensors = [t for sg in model.subgraphs or [] for t in sg.tensors or []]
    weights = sum(size(b) for b in {t.buffer for t in tensors})
    metadata = sum(size(b) for b in {m.buffer for m in model.metadata or []})
    quantization = _quantization_bytes(data)
    names = [t.name for t in tensors] + [sg.name for sg in model.subgraphs or []]
    names += [m.name for m in model.metadata or []] + [model.description]
    name_bytes = sum(len(n) + 1 for n in names if n)
    overhead = len(data) - weights
    return {
        "file_bytes": len(data), "weight_bytes": weights, "overhead_bytes": overhead,
        "quantization_bytes": quantization, "name_bytes": name_bytes, "metadata_bytes": metadata,
        "other_bytes": overhead - quantization - name_bytes - metadata,
    }


def _quantization_bytes(data: bytes) -> int:
    """Payload bytes of every min/max/scale/zero-point vector, each vector once (several tensors may point to one)."""
    from mcugraph.tflite.schema import schema

    root = schema.Model.GetRootAs(data, 0)
    seen: dict[int, int] = {}
    for s in range(root.SubgraphsLength()):
        sub = root.Subgraphs(s)
        for i in range(sub.TensorsLength()):
            q = sub.Tensors(i).Quantization()
            if q is None:
                continue
            for slot, itemsize in ((4, 4), (6, 4), (8, 4), (10, 8)):  # min, max, scale, zero_point
                field = q._tab.Offset(slot)
                if field:
                    seen[q._tab.Vector(field)] = q._tab.VectorLen(field) * itemsize
    return sum(seen.values())


__all__ = ["check_flash_prediction", "export_structure", "file_breakdown", "placeholder_params",
           "predicted_flash_bytes"]
