"""Run an onnx-ir model as a trainable ``torch.nn.Module``: an interpreter over a table of ONNX-op handlers.

In the style of ``torch.fx.Interpreter`` and tinygrad's ONNX runner: :data:`HANDLERS` maps each ONNX op type to a
plain function ``handler(*inputs, **attributes)`` named like the op; :class:`GraphModule` walks the (topologically
sorted) graph once per call, frees every value after its last use and names the failing node in any error.
Float initializers become ``nn.Parameter`` so a training loop can update them; :meth:`GraphModule.write_back` puts
them back into the IR, which stays the single source of truth. Handlers live in ``torch_ops.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import onnx_ir as ir
import torch
from torch import Tensor, nn

from mcugraph.errors import InvalidModelError, ShapeError, unsupported_ops_error
from mcugraph.prune.torch_ops import HANDLERS

__all__ = ["HANDLERS", "GraphModule"]

# Input slots that configure an op rather than weigh it: training must not move ReLU6's bounds or a BN's running
# statistics, so initializers used only here become frozen parameters (requires_grad=False).
_CONFIG_SLOTS = {
    "Clip": {1, 2}, "Pad": {2}, "Resize": {1, 2}, "BatchNormalization": {3, 4}, "DequantizeLinear": {1, 2},
}


class _Step(NamedTuple):
    """One node, ready to run: its handler, where its inputs come from and what to free after it."""

    name: str
    op: str
    handler: Callable
    inputs: tuple[str | None, ...]
    attrs: dict
    outputs: tuple[str, ...]
    free: list[str]


def _sanitise(name: str, taken: set[str]) -> str:
    key = re.sub(r"\W", "_", name) or "_"
    if key[0].isdigit():
        key = "_" + key
    base, n = key, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    taken.add(key)
    return key


def _attribute(attr: ir.Attr):
    value = attr.value
    if isinstance(value, ir.TensorProtocol):
        return torch.from_numpy(np.array(value.numpy()))
    return value


class GraphModule(nn.Module):
    """``model`` as a torch module: ``forward(*inputs)`` returns the graph outputs (one tensor or a tuple).

    ``params`` holds one parameter per float initializer (keyed by a sanitised name; see :meth:`parameter`);
    integer initializers (shape constants, indices) are buffers. ``gate_hooks[value_name] = fn`` applies ``fn``
    to that value right after it is produced (how channel gates multiply into a conv's output).
    ``kept_channels`` records, per channel group id, the original channel indices still present after
    :func:`mcugraph.prune.slicing.slice_module` (empty until the first slice).
    """

    def __init__(self, model: ir.Model):
        super().__init__()
        graph = model.graph
        missing = [(n.name or f"#{i}", n.op_type) for i, n in enumerate(graph)
                   if n.op_type not in HANDLERS or n.domain not in ("", "ai.onnx")]
        if missing:
            raise unsupported_ops_error(
                missing, "have no PyTorch handler, so pruning cannot train them",
                "rewrite them with supported ops, or add a handler to mcugraph.prune.torch_ops (docs/ops.md)",
            )
        self.params = nn.ParameterDict()
        self._keys: dict[str, str] = {}  # initializer name -> key in params or buffer name
        self._is_param: dict[str, bool] = {}
        self.gate_hooks: dict[str, Callable[[Tensor], Tensor]] = {}
        self.kept_channels: dict[int, tuple[int, ...]] = {}
        self._register_initializers(graph)
        self.input_names = [v.name for v in graph.inputs if not v.is_initializer()]
        self._input_shapes = {v.name: tuple(v.shape) for v in graph.inputs if v.shape is not None}
        self.output_names = [v.name for v in graph.outputs]
        self._steps = self._compile(graph)
        self._step_index = {step.name: i for i, step in enumerate(self._steps)}
        self._original_attrs = {step.name: dict(step.attrs) for step in self._steps}

    def _register_initializers(self, graph: ir.Graph) -> None:
        taken: set[str] = set()
        for name, value in graph.initializers.items():
            if value.const_value is None:
                continue
            array = np.array(value.const_value.numpy())
            key = _sanitise(name, taken)
            self._keys[name] = key
            if array.dtype.kind == "f":
                trainable = any(u.idx not in _CONFIG_SLOTS.get(u.node.op_type, ()) for u in value.uses())
                tensor = torch.from_numpy(array.astype(np.float32, copy=False))
                self.params[key] = nn.Parameter(tensor, requires_grad=trainable)
                self._is_param[name] = True
            else:
                self.register_buffer(f"const_{key}", torch.from_numpy(array))
                self._is_param[name] = False

    def _compile(self, graph: ir.Graph) -> list[_Step]:
        nodes = list(graph)
        keep = set(self.output_names)
        last_use: dict[str, int] = {}
        for i, node in enumerate(nodes):
            for value in node.inputs:
                if value is not None and value.name not in self._keys:
                    last_use[value.name] = i
        frees: list[list[str]] = [[] for _ in nodes]
        for name, i in last_use.items():
            if name not in keep:
                frees[i].append(name)
        steps = []
        for i, node in enumerate(nodes):
            inputs = tuple(None if v is None else v.name for v in node.inputs)
            attrs = {k: _attribute(a) for k, a in node.attributes.items()}
            if node.op_type == "Split" and (len(inputs) < 2 or inputs[1] is None) and "num_outputs" not in attrs:
                attrs["num_outputs"] = len(node.outputs)  # opset < 18: an even split into the node's outputs
            outputs = tuple(v.name for v in node.outputs)
            steps.append(_Step(node.name or f"#{i}", node.op_type, HANDLERS[node.op_type], inputs, attrs, outputs, frees[i]))
        return steps

    def _apply(self, fn, *args, **kwargs):
        """``.to(device)``/``.double()`` also convert tensor attributes (Constant values) the handlers receive."""
        super()._apply(fn, *args, **kwargs)
        for step in self._steps:
            for key, value in step.attrs.items():
                if torch.is_tensor(value):
                    step.attrs[key] = fn(value)
        return self

    def parameter(self, initializer_name: str) -> nn.Parameter:
        """The parameter holding the float initializer ``initializer_name``."""
        if not self._is_param.get(initializer_name):
            raise KeyError(f"'{initializer_name}' is not a float initializer of this model")
        return self.params[self._keys[initializer_name]]

    def constant(self, initializer_name: str) -> Tensor:
        """The tensor (parameter or buffer) holding initializer ``initializer_name``."""
        if self._is_param.get(initializer_name):
            return self.params[self._keys[initializer_name]]
        return getattr(self, f"const_{self._keys[initializer_name]}")

    def set_constant(self, initializer_name: str, tensor: Tensor) -> None:
        """Replace an integer initializer's buffer (e.g. a Reshape target after slicing)."""
        setattr(self, f"const_{self._keys[initializer_name]}", tensor)

    def set_attribute(self, node_name: str, attribute: str, value) -> None:
        """Change an attribute the interpreter passes to a node's handler (a depthwise conv's ``group`` after slicing)."""
        self._steps[self._step_index[node_name]].attrs[attribute] = value

    def original_attribute(self, node_name: str, attribute: str):
        """The attribute as the IR had it when this module was built."""
        return self._original_attrs[node_name][attribute]

    def initializer_names(self) -> list[str]:
        return list(self._keys)

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        if len(inputs) != len(self.input_names):
            raise ShapeError(f"GraphModule expects {len(self.input_names)} input(s) {self.input_names}, got {len(inputs)}")
        env: dict[str, Tensor] = {}
        for name, x in zip(self.input_names, inputs, strict=False):
            expected = self._input_shapes.get(name)
            if expected is not None and tuple(x.shape[1:]) != expected[1:]:
                raise ShapeError(f"input '{name}' has shape {tuple(x.shape)}; the model expects (N, *{expected[1:]})")
            env[name] = x
        for name, hook in self.gate_hooks.items():
            if name in env:
                env[name] = hook(env[name])
        for node_name, op, handler, in_names, attrs, out_names, free in self._steps:
            args = [None if n is None else (env[n] if n in env else self.constant(n)) for n in in_names]
            try:
                result = handler(*args, **attrs)
            except Exception as e:
                raise InvalidModelError(
                    f"{type(e).__name__} while executing node '{node_name}' ({op}): {e}"
                ) from e
            results = result if isinstance(result, tuple) else (result,)
            for out_name, value in zip(out_names, results, strict=False):
                if out_name:
                    hook = self.gate_hooks.get(out_name)
                    env[out_name] = hook(value) if hook is not None else value
            for name in free:
                env.pop(name, None)
        outputs = tuple(env[n] if n in env else self.constant(n) for n in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs

    @torch.no_grad()
    def write_back(self, model: ir.Model) -> None:
        """Copy every float parameter into the initializer of the same name in ``model`` (shapes must match)."""
        for name, value in model.graph.initializers.items():
            if not self._is_param.get(name) or value.const_value is None:
                continue
            param = self.parameter(name)
            old = value.const_value.numpy()
            if tuple(old.shape) != tuple(param.shape):
                raise ShapeError(
                    f"write_back: initializer '{name}' has shape {tuple(old.shape)} but the trained parameter has "
                    f"{tuple(param.shape)}; run remove-channels with keep=module.kept_channels on the model first"
                )
            value.const_value = ir.tensor(param.detach().cpu().numpy().astype(old.dtype), name=name)
