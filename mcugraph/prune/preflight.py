"""Checks that run before any training: a model pruning cannot deliver is refused in seconds, not after epochs.

Two questions decide it, each answered by the one module that owns it:

- **Will the pruned model export?** :func:`mcugraph.memory.kernel_view.kernel_view` is the single place that decides
  what TFLite Micro runs; removing channels never adds an op, so a canonical model it accepts stays acceptable.
  We call it on the canonical model and turn its refusal into a pruning error naming every offending node and op.
- **Can training run, and is anything prunable?** the PyTorch interpreter's handler table
  (:data:`mcugraph.prune.torch_ops.HANDLERS`) must cover every node, and at least one channel group must be gated;
  when none is, the message says, per group, which node blocks it and why (the reasons
  :func:`mcugraph.prune.channel_groups.channel_groups` records).
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx_ir as ir

from mcugraph.errors import BudgetError, UnsupportedOpError, unsupported_ops_error

MAX_REASONS = 6  # groups listed in a refusal; the rest are counted


def check_exportable(model: ir.Model) -> None:
    """Raise :class:`UnsupportedOpError` (before training) when the kernel view or the interpreter refuses a node."""
    from mcugraph.memory.kernel_view import kernel_view
    from mcugraph.prune.torch_ops import HANDLERS

    try:
        kernel_view(model)
    except UnsupportedOpError as e:
        raise UnsupportedOpError(
            f"cannot prune, no training started: the model would not export to TFLite Micro: {e}", e.nodes
        ) from e
    missing = [(n.name or "?", n.op_type) for n in model.graph
               if n.op_type not in HANDLERS or n.domain not in ("", "ai.onnx")]
    if missing:
        raise unsupported_ops_error(
            missing, "cannot be trained by the PyTorch interpreter, so no training was started",
            "add a handler to mcugraph.prune.torch_ops.HANDLERS or replace them with supported ops",
        )


def gate_blockers(model: ir.Model, groups: Sequence, gated: Sequence) -> dict[int, str]:
    """Why each group without gates has none: its ``reason`` from the walk, or the producer that takes no gate."""
    from mcugraph.prune.gates import FOLDABLE_PRODUCERS

    nodes = {node.name: node for node in model.graph}
    gated_ids = {g.id for g in gated}
    why = {}
    for group in groups:
        if group.id in gated_ids:
            continue
        if not group.prunable:
            why[group.id] = group.reason or "not prunable"
        elif group.size < 2:
            why[group.id] = "a single channel"
        elif not group.producers:
            why[group.id] = "no Conv/ConvTranspose/Gemm produces it"
        else:
            odd = [name for name in group.producers if name not in nodes
                   or nodes[name].op_type not in FOLDABLE_PRODUCERS]
            node = nodes.get(odd[0]) if odd else None
            what = f"producer '{odd[0]}' ({node.op_type if node else '?'})" if odd else "a producer"
            why[group.id] = f"{what} cannot take a gate (only Conv/ConvTranspose/Gemm with constant weights can)"
    return why


def frozen_summary(model: ir.Model, groups: Sequence, gated: Sequence, limit: int = 3) -> str:
    """The widest groups that keep their width, each with the node and reason (for an unreachable budget)."""
    why = gate_blockers(model, groups, gated)
    sizes = {g.id: g.size for g in groups}
    widest = sorted(why, key=lambda gid: -sizes[gid])[:limit]
    return "; ".join(f"group {gid} ({sizes[gid]} ch): {why[gid]}" for gid in widest)


def refuse_unprunable(model: ir.Model, groups: Sequence, gated: Sequence) -> None:
    """Raise :class:`BudgetError` when no group is gated, naming for each group the node that blocks it."""
    if gated:
        return
    why = gate_blockers(model, groups, gated)
    listed = [f"group {gid} ({next(g.size for g in groups if g.id == gid)} ch): {reason}"
              for gid, reason in list(why.items())[:MAX_REASONS]]
    more = f"; and {len(why) - MAX_REASONS} more" if len(why) > MAX_REASONS else ""
    raise BudgetError(
        f"model has no prunable channel group ({len(groups)} group(s)): {'; '.join(listed)}{more}; pruning cannot "
        "change its resources (see `mcugraph analyze MODEL --groups`)"
    )

