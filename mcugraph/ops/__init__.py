"""Facts about ONNX ops, in one table (:data:`OPS`), and the TFLM kernels they can run as. See docs/ops.md."""

from mcugraph.ops.table import (
    BIAS,
    FIXED,
    FUSED_ACTIVATION_BUILTINS,
    OPS,
    REQUANTIZES,
    SHARES,
    SHARES_ALL,
    WEIGHT,
    OpFacts,
    facts,
    lowering_function,
    ops_where,
)
from mcugraph.ops.tflm_kernels import TFLM_BUILTINS

__all__ = [
    "BIAS", "FIXED", "FUSED_ACTIVATION_BUILTINS", "OPS", "REQUANTIZES", "SHARES", "SHARES_ALL", "TFLM_BUILTINS",
    "WEIGHT", "OpFacts", "facts", "lowering_function", "ops_where",
]
