"""The int8 parameter limits TFLite Micro's kernels enforce in Prepare (or silently saturate), checked before writing.

TFLM computes each kernel's integer constants from the tensors' float scales when it prepares the model; some
combinations it refuses, others it quietly clamps into a wrong model. Checked here, per operator, so that a refusal
names the operator and the numbers instead of TFLM's "failed to prepare":

- **Fused activation bounds** (``CalculateActivationRangeQuantized``, ``kernel_util.cc``): RELU quantises 0, RELU6
  0 and 6, RELU_N1_TO_1 -1 and 1 with the output's parameters; ``round(bound / scale)`` must fit in int32
  (TFLM: ``no_integer_overflow_from_quantization was not true``). A near-empty calibrated range gives such a
  scale; ``quant_params.MIN_RANGE`` floors ranges so calibration never produces one.
- **Requantisation multipliers** (``QuantizeMultiplier``, ``quantization_util.cc``): a multiplier of 2^30 or more
  has a shift above 30 and is saturated to just under 2^31 (wrong outputs, no error). Conv-like kernels use
  ``input_scale * weight_scale[c] / output_scale`` per output channel; MUL ``s1 * s2 / output_scale``; ADD/SUB
  ``2 max(s1, s2) / (2^20 output_scale)`` (TFLM's ``left_shift = 20``).

Multipliers below 2^-31 are flushed to zero by TFLM (the output is then a constant): accepted, as TFLM does.
"""

from __future__ import annotations

import numpy as np

from mcugraph.errors import ExportError
from mcugraph.tflite.schema import schema

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_MULTIPLIER = 2.0**30  # QuantizeMultiplier saturates a shift above 30
ADD_LEFT_SHIFT = 20  # TFLM's int8 ADD/SUB rescale inputs by 2^20 before requantising
ACTIVATION_BOUNDS = {"RELU": (0.0,), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
CONV_LIKE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_ACTIVATION_NAMES = {v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")}


def check_int8_limits(model: schema.ModelT) -> None:
    """Raise :class:`ExportError` for the first operator whose int8 parameters TFLM refuses or saturates."""
    graph = model.subgraphs[0]
    for position, op in enumerate(graph.operators):
        builtin = _BUILTIN_NAMES.get(model.operatorCodes[op.opcodeIndex].builtinCode, "?")
        problem = _problem(builtin, op, graph.tensors)
        if problem:
            out = graph.tensors[op.outputs[0]]
            name = out.name.decode() if isinstance(out.name, bytes) else out.name
            raise ExportError(
                f"operator {position} {builtin} writing '{name}': {problem}; TFLite Micro would refuse or "
                "miscompute it; calibrate on representative data (--calib) so that no activation range is "
                "near-empty, or retrain/rescale the weights"
            )


def _problem(builtin: str, op, tensors) -> str | None:
    out = _param(tensors, op.outputs[0])
    if out is None:
        return None  # float output: no integer constants
    activation = _ACTIVATION_NAMES.get(getattr(op.builtinOptions, "fusedActivationFunction", 0), "NONE")
    for bound in ACTIVATION_BOUNDS.get(activation, ()):
        q = np.round(np.float32(bound) / np.float32(out[0]))
        if not INT32_MIN <= q <= INT32_MAX:
            return f"fused {activation} bound {bound:g} / output scale {out[0]:.3g} does not fit in int32"
    inputs = [int(i) for i in op.inputs]
    if builtin in CONV_LIKE or builtin == "TRANSPOSE_CONV":
        data, weight = (inputs[2], inputs[1]) if builtin == "TRANSPOSE_CONV" else (inputs[0], inputs[1])
        x, w = _param(tensors, data), tensors[weight].quantization
        if x is None or w is None or w.scale is None:
            return None
        with np.errstate(over="ignore"):  # an overflow is inf, refused just below
            product = (np.float32(x[0]) * np.asarray(w.scale, np.float32)).astype(np.float64)
        worst = float(np.max(product / out[0]))
        if worst >= MAX_MULTIPLIER:
            c = int(np.argmax(product))
            return (
                f"requantisation multiplier input scale {x[0]:.3g} * weight scale {float(w.scale[c]):.3g} "
                f"(channel {c}) / output scale {out[0]:.3g} = {worst:.3g} >= 2^30"
            )
    elif builtin in ("ADD", "SUB", "MUL") and len(inputs) == 2:
        a, b = _param(tensors, inputs[0]), _param(tensors, inputs[1])
        if a is None or b is None:
            return None
        if builtin == "MUL":
            multiplier, how = a[0] * b[0] / out[0], f"{a[0]:.3g} * {b[0]:.3g} / output scale {out[0]:.3g}"
        else:
            multiplier = 2 * max(a[0], b[0]) / (2**ADD_LEFT_SHIFT * out[0])
            how = f"2 max({a[0]:.3g}, {b[0]:.3g}) / (2^20 output scale {out[0]:.3g})"
        if multiplier >= MAX_MULTIPLIER:
            return f"output multiplier {how} = {multiplier:.3g} >= 2^30"
    return None


def _param(tensors, index: int) -> tuple[float, int] | None:
    """(scale, zero point) of an int8 tensor, None for other tensors."""
    if index < 0:
        return None
    t = tensors[index]
    q = t.quantization
    if t.type != schema.TensorType.INT8 or q is None or q.scale is None or len(q.scale) == 0:
        return None
    zero = int(q.zeroPoint[0]) if q.zeroPoint is not None and len(q.zeroPoint) else 0
    return float(q.scale[0]), zero
