"""A differentiable model of peak SRAM, flash and MACs as functions of each channel group's (soft) channel count.

Built once from the unpruned model: every tensor's size is a product over its axes, and an axis that carries channel
groups has ``fixed + Σ_g count_g · block_g`` elements (concat offsets are just several groups on one axis). With
counts that are whole numbers the model is *exact*: it equals ``mcugraph.memory.peak_memory`` and the analysis's
flash and MACs of the physically pruned model (tests check this). With soft counts (sums of gate openings) it is a
smooth surrogate:

- SRAM: each non-constant tensor of the kernel view is ``itemsize · Π axes`` bytes, rounded up to 16 bytes as TFLM
  does — the rounding is applied in the forward pass and skipped in the backward pass (straight-through), so values
  are exact and gradients do not vanish on the steps of ``ceil``. Bytes live at each step of the schedule follow the
  liveness of ``mcugraph.memory`` (inputs and outputs of a kernel live together, fused activations one tensor,
  in-place pairs one buffer, a kernel's scratch buffers at its step; the partial outputs of a Concat split for TFLM's 10-input limit are priced at
  their full size); the peak is the exact ``max`` forward with the gradient of ``τ·logsumexp(x/τ)``
  (τ = 5% of the peak), so every step near the peak is pushed down, not only the argmax.
- Flash: the bytes of the .tflite the exporter writes (``mcugraph.analysis.flash``): the file of the unpruned model
  (written with placeholder ranges, whose values do not change its size) is a fixed part plus vectors that grow with
  the channel counts — each layer's int8 weights (1 byte per element), int32 bias (4 bytes per output channel) and
  per-channel quantisation arrays (a float32 scale for the weights and for the bias, one int64 zero point shared by
  both: 16 bytes per output channel). The file's size at whole counts is the replay of its byte layout with those
  lengths (``mcugraph.tflite.file_layout``), alignment padding included, so it equals ``len(file)`` of the pruned
  export; the gradient is that of the vectors' bytes (the padding is straight-through, like SRAM's rounding).
  ``weight_bytes`` keeps the old figure (weights + biases) as its own column.
- MACs: each Conv/Gemm/MatMul's MACs are ``(MACs per weight element) · Π weight axes`` — linear in each of its
  in/out counts, so a product of soft counts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import onnx_ir as ir
import torch

from mcugraph.analysis.costs import BIAS, WEIGHT, WEIGHT_ROLES, macs
from mcugraph.ops.table import GEMM, OPS
from mcugraph.tflite.file_layout import FileLayout

TFLM_ALIGNMENT = 16  # TFLM rounds every arena buffer up to this many bytes
_ITEMSIZE = {WEIGHT: 1, BIAS: 4}


@dataclasses.dataclass(frozen=True)
class Axis:
    """Elements along one axis: ``fixed + Σ count[gid] * block`` over ``groups`` = ((gid, block), ...)."""

    fixed: int
    groups: tuple[tuple[int, int], ...] = ()

    def size(self, counts: Mapping[int, torch.Tensor | float]):
        return self.fixed + sum(counts[gid] * block for gid, block in self.groups)


@dataclasses.dataclass(frozen=True)
class SizedTensor:
    """A tensor whose element count is ``Π axes`` (axes without groups folded into one fixed axis)."""

    name: str
    axes: tuple[Axis, ...]
    itemsize: int

    def elements(self, counts: Mapping[int, torch.Tensor | float]):
        result = 1
        for axis in self.axes:
            result = result * axis.size(counts)
        return result


@dataclasses.dataclass(frozen=True)
class ResourceModel:
    """Everything needed to price a channel configuration; ``sizes`` are the unpruned group sizes."""

    sizes: dict[int, int]
    activations: dict[str, SizedTensor]  # non-constant tensors of the kernel view
    buffers: tuple[tuple[str, ...], ...]  # arena slots: one tensor, or an in-place chain sharing its bytes
    steps: tuple[tuple[int, ...], ...]  # indices of the buffers live at each step of the schedule
    weights: tuple[SizedTensor, ...]  # itemsize = 1 (int8 weight) or 4 (int32 bias)
    layers: tuple[tuple[SizedTensor, int], ...]  # (weight, MACs per weight element)
    fixed_macs: int  # MACs of layers whose cost does not depend on any group
    # The exported file's layout and its channel-dependent vectors: (layout key, elements, bytes per element).
    file_layout: FileLayout | None = None
    file_vectors: tuple[tuple[object, SizedTensor, float], ...] = ()

    def evaluate(self, counts: Mapping[int, torch.Tensor | float] | None = None) -> dict[str, torch.Tensor]:
        """``{"ram", "flash", "macs"}`` as 0-d float64 tensors; missing groups count at their full size."""
        full = {gid: float(n) for gid, n in self.sizes.items()}
        full.update(counts or {})
        counts = {gid: torch.as_tensor(c, dtype=torch.float64).cpu() for gid, c in full.items()}
        return {"ram": self.peak(counts), "flash": self.flash(counts), "macs": self.macs(counts)}

    def tensor_bytes(self, counts: Mapping[int, torch.Tensor]) -> dict[str, torch.Tensor]:
        result = {}
        for name, tensor in self.activations.items():
            raw = torch.as_tensor(tensor.elements(counts) * tensor.itemsize, dtype=torch.float64)
            rounded = torch.ceil(raw.detach() / TFLM_ALIGNMENT - 1e-9) * TFLM_ALIGNMENT
            result[name] = raw + (rounded - raw.detach())  # exact forward, identity gradient
        return result

    def peak(self, counts: Mapping[int, torch.Tensor]) -> torch.Tensor:
        sizes = self.tensor_bytes(counts)
        slots = [torch.stack([sizes[t] for t in members]).max() for members in self.buffers]
        zero = torch.zeros((), dtype=torch.float64)
        live = torch.stack([sum((slots[b] for b in step), zero) for step in self.steps])
        exact = live.max()
        tau = 0.05 * exact.detach().clamp(min=1.0)
        smooth = tau * torch.logsumexp(live / tau, dim=0)
        return exact + (smooth - smooth.detach())

    def weight_bytes(self, counts: Mapping[int, torch.Tensor]) -> torch.Tensor:
        zero = torch.zeros((), dtype=torch.float64)
        return sum((w.elements(counts) * w.itemsize for w in self.weights), zero)

    def flash(self, counts: Mapping[int, torch.Tensor]) -> torch.Tensor:
        """Bytes of the exported .tflite: exact at whole counts, the vectors' bytes' gradient."""
        if self.file_layout is None:
            return self.weight_bytes(counts)
        zero = torch.zeros((), dtype=torch.float64)
        sizes = [torch.as_tensor(t.elements(counts) * per, dtype=torch.float64) for _, t, per in self.file_vectors]
        lengths = {key: round(float(n.detach())) for (key, _, _), n in zip(self.file_vectors, sizes, strict=True)}
        exact = torch.tensor(float(self.file_layout.size(lengths)), dtype=torch.float64)
        linear = sum(sizes, zero)
        return exact + (linear - linear.detach())

    def macs(self, counts: Mapping[int, torch.Tensor]) -> torch.Tensor:
        zero = torch.zeros((), dtype=torch.float64) + self.fixed_macs
        return sum((w.elements(counts) * per for w, per in self.layers), zero)


def resource_model(model: ir.Model, groups: Sequence, order: Sequence[str] | None = None) -> ResourceModel:
    """Build the model for ``model`` (canonicalised, unpruned) and its ``channel_groups``; ``order`` = kernel names."""
    from mcugraph.memory.kernel_view import kernel_view
    from mcugraph.memory.peak import buffers

    uses = _uses_by_tensor(groups)
    graph = kernel_view(model)
    for kernel in graph.kernels:
        # Tensors the kernel view adds (the PAD before a stride-2 conv) carry their input's channels.
        if kernel.op == "PAD" and kernel.outputs[0] not in uses and kernel.inputs[0] in uses:
            uses[kernel.outputs[0]] = uses[kernel.inputs[0]]
    slots = buffers(graph, order, scratch=True)
    activations = {
        name: _sized(name, graph.tensors[name].shape, graph.tensors[name].itemsize, uses.get(name, ()))
        for slot in slots
        if not slot.scratch
        for name in slot.tensors
    }
    activations.update(_scratch(graph, slots, uses))
    count = len(graph.kernels)
    steps = tuple(tuple(i for i, b in enumerate(slots) if b.first <= step <= b.last) for step in range(count))

    weights, layers, fixed_macs, seen = [], [], 0, set()
    for node in model.graph:
        for index, role in WEIGHT_ROLES.get(node.op_type, {}).items():
            value = node.inputs[index] if index < len(node.inputs) else None
            if not _is_float_initializer(value) or value.name in seen:
                continue
            seen.add(value.name)
            weights.append(_sized(value.name, tuple(value.shape), _ITEMSIZE[role], uses.get(value.name, ())))
        node_macs = macs(node)
        weight = node.inputs[1] if len(node.inputs) > 1 else None
        if node_macs and _is_float_initializer(weight):
            per_element, rest = divmod(node_macs, math.prod(weight.shape))
            if rest == 0:
                layers.append((_sized(weight.name, tuple(weight.shape), 1, uses.get(weight.name, ())), per_element))
                continue
        fixed_macs += node_macs
    file_layout, file_vectors = _file_vectors(model, order, uses, {g.id: float(g.size) for g in groups})
    return ResourceModel(
        sizes={g.id: g.size for g in groups},
        activations=activations,
        buffers=tuple(slot.tensors for slot in slots),
        steps=steps,
        weights=tuple(weights),
        layers=tuple(layers),
        fixed_macs=fixed_macs,
        file_layout=file_layout,
        file_vectors=file_vectors,
    )


# The op table's weighted layers, and the axis of their output value holding the channels (NCHW conv: 1, Gemm: last).
_OUT_CHANNEL_AXIS = {op: -1 if row.channels == GEMM else 1 for op, row in OPS.items() if row.layer}


def _file_vectors(model: ir.Model, order, uses, full: dict[int, float]
                  ) -> tuple[FileLayout, tuple[tuple[object, SizedTensor, float], ...]]:
    """The unpruned int8 file's layout and, per channel-dependent vector, its elements and bytes per element.

    The exporter names a layer's constants ``<node>/weights`` and ``<node>/bias``; the weights hold the ONNX
    weight's elements (transposed, BatchNorm folded in), the bias and the per-channel scale and zero-point arrays
    one element per output channel. Every other constant is taken as fixed (shapes, permutations, ...).
    """
    from mcugraph.analysis.flash import export_structure
    from mcugraph.tflite.schema import read

    exported = export_structure(model, order=order)
    buffer_of = [t.buffer for t in read(exported.data).subgraphs[0].tensors]
    nodes = {n.name: n for n in model.graph if n.op_type in _OUT_CHANNEL_AXIS}
    channels: dict[int, SizedTensor] = {}  # tensor index -> output channels of its layer
    elements: dict[int, SizedTensor] = {}  # tensor index -> elements of its data
    for index, name in enumerate(exported.tensor_names):
        base, _, role = name.rpartition("/")
        node = nodes.get(base)
        if node is None or role not in ("weights", "bias"):
            continue
        out = node.outputs[0]
        axis = _OUT_CHANNEL_AXIS[node.op_type] % len(out.shape)
        channels[index] = _sized(out.name, (int(out.shape[axis]),), 1, _on_axis(uses.get(out.name, ()), axis))
        if role == "weights":
            w = node.inputs[1]
            elements[index] = _sized(w.name, tuple(w.shape), 1, uses.get(w.name, ()))
        else:
            elements[index] = channels[index]
    vectors = []
    for key, recorded in exported.layout.lengths.items():
        kind, index = key
        if kind == "buffer":
            index = next((i for i in elements if buffer_of[i] == index), None)
            table, per = (elements, 1 if exported.tensor_names[index].endswith("/weights") else 4) if index is not None \
                else (None, 0)
        else:
            table, per = channels, 4 if kind == "scale" else 8
        sized = table.get(index) if table is not None else None
        if sized is None or not sized.axes[1:]:
            continue  # fixed: keep its recorded length
        count = round(sized.elements(full))
        if kind == "buffer" and per == 1 and count:
            # A TRANSPOSE_CONV's weights carry zero rows and columns around the kernel: a fixed factor per element
            # (16/9 for 3x3 in 4x4), the channel axes as in the ONNX weight.
            per = recorded / count
        if count * per != recorded:
            continue  # not the layer constant it is named after: keep its recorded length
        vectors.append((key, sized, per))
    return exported.layout, tuple(vectors)


def _on_axis(uses, axis: int):
    """The uses of a value's channel axis ``axis``, moved to axis 0 (of a one-axis tensor)."""
    return [(gid, size, dataclasses.replace(use, axis=0)) for gid, size, use in uses if use.axis == axis]


def _scratch(graph, slots, uses) -> dict[str, SizedTensor]:
    """Kernel scratch buffers (``mcugraph.memory.scratch``), live at their kernel's step like any slot.

    The first request of an int8 MEAN (int32 sums) or TRANSPOSE_CONV (int32 accumulators) is 4 bytes per output
    element, so it shrinks with the output's channels; every other request (4 x rank, 4 x axes) is fixed.
    """
    kernels = {k.name: k for k in graph.kernels}
    result = {}
    for slot in (s for s in slots if s.scratch):
        name = slot.tensors[0]
        kernel_name, index = name.rsplit("/scratch", 1)
        kernel = kernels[kernel_name]
        nbytes = kernel.scratch_bytes[int(index)]
        out = graph.tensors[kernel.outputs[0]]
        if kernel.op in ("MEAN", "TRANSPOSE_CONV") and index == "0" and nbytes == 4 * math.prod(out.shape):
            result[name] = _sized(name, out.shape, 4, uses.get(out.name, ()))
        else:
            result[name] = SizedTensor(name, (Axis(nbytes),), 1)
    return result


def _uses_by_tensor(groups: Sequence) -> dict[str, list[tuple[int, int, object]]]:
    """Tensor name -> [(group id, group size, ChannelUse), ...]."""
    result: dict[str, list[tuple[int, int, object]]] = {}
    for group in groups:
        for use in (*group.weights, *group.activations):
            result.setdefault(use.tensor, []).append((group.id, group.size, use))
    return result


def _sized(name: str, shape: Sequence[int], itemsize: int, uses) -> SizedTensor:
    """Split ``shape`` into grouped axes and one fixed axis holding the product of all others."""
    by_axis: dict[int, dict[tuple[int, int], int]] = {}
    for gid, size, use in uses:
        if use.axis < len(shape):
            by_axis.setdefault(use.axis, {})[(gid, use.block)] = size  # one entry per (group, block)
    fixed, axes = 1, []
    for axis, dim in enumerate(shape):
        if axis not in by_axis:
            fixed *= int(dim)
            continue
        grouped = by_axis[axis]
        covered = sum(size * block for (_, block), size in grouped.items())
        axes.append(Axis(int(dim) - covered, tuple(grouped)))
    return SizedTensor(name, (Axis(fixed), *axes), itemsize)


def _is_float_initializer(value: ir.Value | None) -> bool:
    return (
        value is not None
        and value.const_value is not None
        and value.dtype is not None
        and value.dtype.is_floating_point()
        and value.shape is not None
    )
