"""One row of facts per ONNX op: what TFLM runs it as, how int8 treats it, how it prunes, what it weighs.

Every stage that needs to know something about an op reads it here: the kernel view (builtins, fusion), the
exporter (lowering, int8 parameter sharing), the QDQ importer (parameter sharing), the cost model (weight roles),
the channel-group walk (channel rule) and the torch interpreter (whether a handler exists). What TFLM will *run* for
a particular node (depthwise or not, which activation fuses) is still decided once, by
``mcugraph.memory.kernel_view``, from these facts. ``docs/ops.md`` explains the columns and how to add an op;
``tests/test_ops_table.py`` checks that every exported op has all its pieces.

References are names, not objects (``"lower_conv.conv"`` is ``mcugraph.export.lower_conv.conv``), so reading the
table imports neither the exporter nor torch.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType

WEIGHT, BIAS = "weight", "bias"

# int8 parameter sharing (``OpFacts.int8``)
REQUANTIZES = "requantizes"  # the output has its own scale/zero point (the kernel rescales)
SHARES = "shares"            # TFLM copies codes: the first input and the outputs share one scale/zero point
SHARES_ALL = "shares-all"    # the same for every activation input (Concat, Max, Min)
FIXED = "fixed"              # TFLM's int8 kernel checks a fixed output scale/zero point (quant_params.FIXED_OUTPUT)

# Channel rules of the pruning walk (``OpFacts.channels``), implemented in ``mcugraph.prune.channel_rules``.
PER_CHANNEL = "per-channel"            # channel c of the output depends on channel c of the input only
PER_CHANNEL_NCHW = "per-channel-nchw"  # the same, but only when channels sit on axis 1 (pools, BatchNorm)
ELEMENTWISE = "elementwise"            # broadcasting binary op: operands' channels merge
CONV, GEMM = "conv", "gemm"            # weighted: new prunable groups on the output
CONV_TRANSPOSE = "conv-transpose"      # weighted, weight (C_in, C_out/group, k...): in on axis 0, out on axis 1
CONCAT, RESHAPE, TRANSPOSE = "concat", "reshape", "transpose"
AXES = "axes"                          # Squeeze/Unsqueeze/Reduce*: the channel axis moves or must survive
SLICE = "slice"                        # Slice/Split not along the channel axis
FREEZE = "freeze"                      # channels mix (or the rule is unknown): the groups it reads are frozen

# Element-wise kinds (``OpFacts.elementwise``): output element i depends on input element i only, so the op runs
# the same in any layout and on any reshaping that keeps the elements. They differ in their constants:
UNARY = "unary"                    # y[i] = f(x[i]) (activations, Sqrt, Identity, Cast)
BINARY = "binary"                  # y[i] = f(a[i], b[i]) with broadcasting (Add, Mul, Max, ...)
# y[i] = f(x[i], p[channel of i]): a per-channel constant on the ONNX channel axis (PRelu's slope, BatchNormalization's
# statistics); it still commutes with adding an axis of size 1, but a change of layout must move that constant too.
PER_CHANNEL_PARAMS = "per-channel-params"

# TFLite builtins whose options carry ``fused_activation_function`` and whose kernel applies it (the kernel view
# fuses a following Relu/Clip only into these).
FUSED_ACTIVATION_BUILTINS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL"})


@dataclasses.dataclass(frozen=True)
class OpFacts:
    """What mcugraph knows about one ONNX op (default domain).

    An op is *exported* when ``lowering`` is set, *removed before export* when ``removed_by`` names the pass (or
    mechanism) that rewrites it away, and otherwise *not exported*: then ``builtins`` says whether TFLM could run it
    (``refusal`` turns that into the error message).
    """

    builtins: tuple[str, ...] = ()  # TFLite builtins it may become; the kernel view picks one (first: default)
    lowering: str | None = None     # "module.function" under mcugraph.export: fn(cx, node, out, act)
    int8: str = REQUANTIZES
    activation: bool = False        # a Relu/Clip-like op that may fuse into the kernel before it
    channels: str | None = None     # channel rule; None: not stated (the walk freezes, the table test complains)
    # Constant input index -> WEIGHT / BIAS (the cost model's flash bytes and parameters).
    weights: Mapping[int, str] = dataclasses.field(default_factory=dict)
    torch: bool = False             # mcugraph.prune.torch_ops.HANDLERS has a handler named like the op
    removed_by: str | None = None   # registered pass that rewrites it (the forms it supports) before export
    # Not exported, but the kernel view models it (memory analysis of QDQ models and .tflite-like graphs).
    modelled: bool = False
    elementwise: str | None = None  # UNARY / BINARY / PER_CHANNEL_PARAMS; None: not element-wise
    # Exported only fused into the kernel of the op it follows (Reciprocal after Sqrt runs as RSQRT).
    fused_after: str | None = None
    # A weighted layer (Conv, Gemm, ...): the axis of its weight (input 1) that holds the output channels.
    weight_out_axis: int | None = None

    @property
    def exported(self) -> bool:
        return self.lowering is not None

    @property
    def layer(self) -> bool:
        """A weighted layer: a weight with output channels (the cost model's bias owners, from-scratch training)."""
        return self.weight_out_axis is not None

    @property
    def foldable(self) -> bool:
        """A weighted layer with a bias input, so a per-channel scale and shift fold into its weight and bias
        (fold-bn, the pruning gates)."""
        return self.layer and BIAS in self.weights.values()

    @property
    def layout_free(self) -> bool:
        """Exported, and computes the same in any layout (the exporter looks through it for the layout a value
        needs). Per-channel constants are laid out on the ONNX channel axis, so PER_CHANNEL_PARAMS ops are not."""
        return self.elementwise in (UNARY, BINARY) and (self.exported or self.fused_after is not None)

    @property
    def kernel(self) -> bool:
        """The kernel view turns it into a TFLM kernel (it may still be an alias with no builtin)."""
        return self.exported or self.modelled


def _w(**roles: str) -> Mapping[int, str]:
    return MappingProxyType({int(k[1:]): v for k, v in roles.items()})


def _row(builtins: str | tuple[str, ...] = (), lowering: str | None = None, **facts) -> OpFacts:
    if isinstance(builtins, str):
        builtins = (builtins,)
    return OpFacts(builtins, lowering, **facts)


_PRUNE = {"torch": True}  # every exported op runs in the torch interpreter (pruning trains the model)

OPS: Mapping[str, OpFacts] = MappingProxyType({
    # --- weighted kernels -------------------------------------------------------------------------------------
    "Conv": _row(("CONV_2D", "DEPTHWISE_CONV_2D"), "lower_conv.conv", weight_out_axis=0, channels=CONV,
                 weights=_w(i1=WEIGHT, i2=BIAS), **_PRUNE),
    "ConvTranspose": _row("TRANSPOSE_CONV", "lower_conv.conv_transpose", weight_out_axis=1, channels=CONV_TRANSPOSE,
                          weights=_w(i1=WEIGHT, i2=BIAS), **_PRUNE),
    "Gemm": _row("FULLY_CONNECTED", "lower_conv.gemm", weight_out_axis=0, channels=GEMM,
                 weights=_w(i0=WEIGHT, i1=WEIGHT, i2=BIAS), **_PRUNE),
    "MatMul": _row(("FULLY_CONNECTED", "BATCH_MATMUL"), "lower_conv.matmul", weight_out_axis=1, channels=GEMM,
                   weights=_w(i0=WEIGHT, i1=WEIGHT), **_PRUNE),
    # --- pooling and reductions -------------------------------------------------------------------------------
    "MaxPool": _row("MAX_POOL_2D", "lower_pool.max_pool", int8=SHARES, channels=PER_CHANNEL_NCHW, **_PRUNE),
    "AveragePool": _row("AVERAGE_POOL_2D", "lower_pool.average_pool", int8=SHARES, channels=PER_CHANNEL_NCHW,
                        **_PRUNE),
    "GlobalAveragePool": _row("MEAN", "lower_pool.global_average_pool", channels=PER_CHANNEL_NCHW, **_PRUNE),
    "ReduceMean": _row("MEAN", "lower_pool.reduce_mean", channels=AXES, **_PRUNE),
    "GlobalMaxPool": _row("REDUCE_MAX", "lower_pool.global_max_pool", int8=SHARES, channels=PER_CHANNEL_NCHW,
                          **_PRUNE),
    "ReduceMax": _row("REDUCE_MAX", "lower_pool.reduce_max", int8=SHARES, channels=AXES, **_PRUNE),
    # --- element-wise -----------------------------------------------------------------------------------------
    "Add": _row("ADD", "lower_elementwise.add", elementwise=BINARY, channels=ELEMENTWISE,
                weights=_w(i0=WEIGHT, i1=WEIGHT), **_PRUNE),
    "Sub": _row("SUB", "lower_elementwise.sub", elementwise=BINARY, channels=ELEMENTWISE,
                weights=_w(i0=WEIGHT, i1=WEIGHT), **_PRUNE),
    "Mul": _row("MUL", "lower_elementwise.mul", elementwise=BINARY, channels=ELEMENTWISE,
                weights=_w(i0=WEIGHT, i1=WEIGHT), **_PRUNE),
    "Div": _row("DIV", "lower_elementwise.div", elementwise=BINARY, channels=ELEMENTWISE,
                weights=_w(i0=WEIGHT, i1=WEIGHT), **_PRUNE),
    # Min/Max: decompose-hard-sigmoid writes the HardSigmoid of a squeeze-excite branch as ...Min(x, 1).
    "Max": _row("MAXIMUM", "lower_elementwise.maximum", int8=SHARES_ALL, elementwise=BINARY, channels=ELEMENTWISE,
                **_PRUNE),
    "Min": _row("MINIMUM", "lower_elementwise.minimum", int8=SHARES_ALL, elementwise=BINARY, channels=ELEMENTWISE,
                **_PRUNE),
    "PRelu": _row("PRELU", "lower_elementwise.prelu", elementwise=PER_CHANNEL_PARAMS, channels=ELEMENTWISE,
                  weights=_w(i1=WEIGHT), **_PRUNE),
    # --- activations ------------------------------------------------------------------------------------------
    # A standalone Clip(0,6)/(-1,1) clamps codes in the input's domain (shares); RELU itself requantises.
    "Relu": _row("RELU", "lower_elementwise.relu", activation=True, elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    "Clip": _row(("RELU6", "RELU"), "lower_elementwise.relu", int8=SHARES, activation=True,
                 elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    "LeakyRelu": _row("LEAKY_RELU", "lower_elementwise.leaky_relu", elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    "Sigmoid": _row("LOGISTIC", "lower_elementwise.sigmoid", int8=FIXED, elementwise=UNARY, channels=PER_CHANNEL,
                    **_PRUNE),
    "Tanh": _row("TANH", "lower_elementwise.tanh", int8=FIXED, elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    "HardSwish": _row("HARD_SWISH", "lower_elementwise.hard_swish", elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    "Elu": _row("ELU", "lower_elementwise.elu", elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    # Sqrt runs as RSQRT when a Reciprocal follows (the kernel view fuses them): TFLM's SQRT is float32 only.
    "Sqrt": _row(("SQRT", "RSQRT"), "lower_elementwise.sqrt", elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    "Softmax": _row("SOFTMAX", "lower_elementwise.softmax", int8=FIXED, channels=PER_CHANNEL, **_PRUNE),
    # --- data movement ----------------------------------------------------------------------------------------
    "Concat": _row("CONCATENATION", "lower_elementwise.concat", int8=SHARES_ALL, channels=CONCAT, **_PRUNE),
    "Reshape": _row("RESHAPE", "lower_shape.reshape", int8=SHARES, channels=RESHAPE, **_PRUNE),
    "Flatten": _row("RESHAPE", "lower_shape.reshape", int8=SHARES, channels=RESHAPE, **_PRUNE),
    "Squeeze": _row("RESHAPE", "lower_shape.reshape", int8=SHARES, channels=AXES, **_PRUNE),
    "Unsqueeze": _row("RESHAPE", "lower_shape.reshape", int8=SHARES, channels=AXES, **_PRUNE),
    "Transpose": _row("TRANSPOSE", "lower_shape.transpose", int8=SHARES, channels=TRANSPOSE, **_PRUNE),
    # Identity and Dropout are aliases (no kernel), except as a graph output: a RESHAPE copy keeps the name.
    "Identity": _row("RESHAPE", "lower_shape.identity", int8=SHARES, elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    "Dropout": _row("RESHAPE", "lower_shape.identity", int8=SHARES, elementwise=UNARY, channels=PER_CHANNEL, **_PRUNE),
    "Pad": _row(("PAD", "PADV2"), "lower_shape.pad", int8=SHARES, channels=PER_CHANNEL, **_PRUNE),
    "Slice": _row("STRIDED_SLICE", "lower_shape.slice_", int8=SHARES, channels=SLICE, **_PRUNE),
    "Split": _row(("SPLIT", "SPLIT_V"), "lower_shape.split", int8=SHARES, channels=SLICE, **_PRUNE),
    "Resize": _row(("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"), "lower_resize.resize", int8=SHARES,
                   channels=PER_CHANNEL, **_PRUNE),
    # --- removed before export (by a pass of mcugraph.CANONICALIZE) --------------------------------------------
    # BatchNormalization unfolded deploys as a per-channel MUL and ADD: scale and bias, not the statistics.
    "BatchNormalization": _row(elementwise=PER_CHANNEL_PARAMS, channels=PER_CHANNEL_NCHW,
                               weights=_w(i1=WEIGHT, i2=BIAS), removed_by="fold-bn", **_PRUNE),
    "HardSigmoid": _row(elementwise=UNARY, channels=PER_CHANNEL, removed_by="decompose-hard-sigmoid", **_PRUNE),
    "Constant": _row(channels=FREEZE, removed_by="fold-constants", **_PRUNE),
    "Shape": _row(channels=FREEZE, removed_by="fold-constants", **_PRUNE),
    # --- known, not exported: analysis and pruning understand them, the exporter refuses them -----------------
    "QuantizeLinear": _row("QUANTIZE", channels=FREEZE, modelled=True),
    "DequantizeLinear": _row("DEQUANTIZE", channels=FREEZE, torch=True, modelled=True),
    "ArgMax": _row("ARG_MAX", channels=FREEZE, modelled=True),
    "Cast": _row("CAST", elementwise=UNARY, channels=PER_CHANNEL, torch=True),
    # Gather: one constant index becomes Slice + Squeeze (gather-to-slice); constant index arrays are GATHER.
    "Gather": _row("GATHER", "lower_shape.gather", int8=SHARES, channels=FREEZE, torch=True,
                   removed_by="gather-to-slice"),
    "ReduceSum": _row("SUM", channels=AXES, torch=True),
    "LogSoftmax": _row("LOG_SOFTMAX", channels=PER_CHANNEL, torch=True),
    "Neg": _row("NEG", elementwise=UNARY, channels=PER_CHANNEL, torch=True),
    "Abs": _row("ABS", elementwise=UNARY, channels=PER_CHANNEL),
    "Exp": _row("EXP", elementwise=UNARY, channels=PER_CHANNEL, torch=True),
    # Reciprocal is exported only after a Sqrt (RSQRT).
    "Reciprocal": _row("DIV", elementwise=UNARY, fused_after="Sqrt", channels=PER_CHANNEL, torch=True),
    "Selu": _row(elementwise=UNARY, channels=PER_CHANNEL),
    "Softplus": _row(elementwise=UNARY, channels=PER_CHANNEL),
    "Erf": _row(elementwise=UNARY, channels=PER_CHANNEL, removed_by="decompose-gelu"),
    "Gelu": _row(elementwise=UNARY, channels=PER_CHANNEL, removed_by="decompose-gelu"),
    "Pow": _row(channels=FREEZE, removed_by="decompose-pow"),
    "LayerNormalization": _row(channels=FREEZE, removed_by="decompose-layer-norm"),
    "LSTM": _row("UNIDIRECTIONAL_SEQUENCE_LSTM", channels=FREEZE, weights=_w(i1=WEIGHT, i2=WEIGHT, i3=BIAS),
                 removed_by="unroll-recurrent"),
    "GRU": _row(channels=FREEZE, weights=_w(i1=WEIGHT, i2=WEIGHT, i3=BIAS), removed_by="unroll-recurrent"),
    "RNN": _row(channels=FREEZE, weights=_w(i1=WEIGHT, i2=WEIGHT, i3=BIAS)),
})


def facts(op_type: str, domain: str = "") -> OpFacts | None:
    """The row of ``op_type`` in the default ONNX domain, or None (custom domains are never known)."""
    if domain not in ("", "ai.onnx"):
        return None
    return OPS.get(op_type)


def ops_where(predicate: Callable[[OpFacts], bool]) -> frozenset[str]:
    """The op types whose row satisfies ``predicate`` (e.g. ``lambda f: f.int8 == SHARES``)."""
    return frozenset(op for op, f in OPS.items() if predicate(f))


def lowering_function(op_type: str) -> Callable:
    """The exporter function of ``op_type`` (imports ``mcugraph.export.<module>`` on first use)."""
    module, name = OPS[op_type].lowering.rsplit(".", 1)
    return getattr(importlib.import_module(f"mcugraph.export.{module}"), name)
