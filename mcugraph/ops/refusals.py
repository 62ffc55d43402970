"""Why an op cannot be exported, said truthfully: TFLM has no kernel for it, or mcugraph does not lower it yet.

"No TFLite Micro kernel" is only said when the bundled TFLM build registers no kernel the op could run as
(:data:`mcugraph.ops.tflm_kernels.TFLM_BUILTINS`); an op TFLM could run is "not lowered by mcugraph yet". Ops a
canonicalisation pass rewrites also name that pass (it supports some forms only: the node is still there because
its form is not one of them, or the pass did not run). No message advises running a pipeline the command ran.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mcugraph.errors import UnsupportedOpError
from mcugraph.ops.table import OPS
from mcugraph.ops.tflm_kernels import TFLM_BUILTINS

NO_KERNEL = "no TFLite Micro kernel"
NOT_LOWERED = "not lowered by mcugraph yet"
# ONNX ops outside the table whose TFLite builtin is not simply their name in SNAKE_CASE.
_OTHER_NAMES = {"Where": "SELECT_V2", "Expand": "BROADCAST_TO", "Mod": "FLOOR_MOD", "Not": "LOGICAL_NOT",
                "And": "LOGICAL_AND", "Or": "LOGICAL_OR", "ReduceL2": "L2_NORMALIZATION"}


def candidate_builtins(op_type: str, domain: str = "") -> tuple[str, ...]:
    """TFLite builtins ``op_type`` could run as: the table's, else a known rename, else its SNAKE_CASE name."""
    if domain not in ("", "ai.onnx"):
        return ()
    row = OPS.get(op_type)
    if row is not None:
        return row.builtins
    name = _OTHER_NAMES.get(op_type) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", op_type).upper()
    return (name,)


def reason(op_type: str, domain: str = "", builtin: str | None = None) -> str:
    """Why a node of ``op_type`` (running as ``builtin`` when the kernel view chose one) is not exported."""
    row = OPS.get(op_type) if domain in ("", "ai.onnx") else None
    options = (builtin,) if builtin is not None else candidate_builtins(op_type, domain)
    runnable = [b for b in options if b in TFLM_BUILTINS]
    if not runnable:
        why = f"{NO_KERNEL} ({builtin})" if builtin is not None else NO_KERNEL
    else:
        why = f"{NOT_LOWERED} (TFLM has {'/'.join(runnable)})"
    if row is not None and row.removed_by is not None:
        why += f"; the '{row.removed_by}' pass (in mcugraph.CANONICALIZE) rewrites the forms it supports"
    return why


def clip_reason(node) -> str:
    """Why a Clip that is no TFLite activation (``attributes.activation_name`` is None) is not exported."""
    from mcugraph.ops.attributes import clip_bounds

    if clip_bounds(node) is None:
        return "its bounds are not constants, a parameter TFLite needs as a constant; make them initializers"
    return (f"{NOT_LOWERED} as one kernel: the 'decompose-clip' pass (in mcugraph.CANONICALIZE) writes these "
            "bounds as MAXIMUM/MINIMUM")


def unsupported_error(offenders: Sequence[tuple[str, str, str]], what: str = "cannot run in TFLite Micro",
                      hint: str = "rewrite them with supported ops (docs/ops.md lists them)") -> UnsupportedOpError:
    """One error naming every offender ``(node name, op type, reason)``; ``nodes`` keeps ``(name, op type)``."""
    listed = ", ".join(f"{name} ({op}: {why})" for name, op, why in offenders)
    return UnsupportedOpError(f"{len(offenders)} node(s) {what}: {listed}; {hint}",
                              [(name, op) for name, op, _ in offenders], [why for *_, why in offenders])
