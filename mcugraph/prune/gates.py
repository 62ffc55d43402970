"""Channel gates: a soft top-k mask per prunable group, ranked by importance, sized by a learnable channel count.

Each gated group ``g`` has one learnable parameter, its soft channel count ``n_g`` (initially the group's size).
Channel ``c`` of rank ``r_c`` (0 = most important) gets the gate

    gate_c = clamp(n_g − r_c, 0, 1)

so ``Σ_c gate_c = n_g`` exactly: the ``floor(n_g)`` most important channels are fully open, one boundary channel is
partly open, the rest are closed (exactly 0, so removing them does not change the network's function). The
resource model is differentiable in ``n_g``; the task loss reaches ``n_g`` through the boundary channel.

Why a ranked mask and not independent per-channel gates (a learnable scale in [0, 1] per channel): under resource
pressure independent gates of a group drift down together, shrinking all activations at once, and training
collapses before the budgets are met. The ranked mask keeps all but one channel of a group at full strength at any
time (the measurement: docs/results/2026-12-02-docstring-measurements.md).

Which channels close is decided by importance: the first-order Taylor estimate ``|gate_c · ∂L_task/∂gate_c|`` of
the loss change when channel ``c`` is removed, averaged over steps (exponential moving average). A closed channel's
importance decays to 0, so it stays closed. Gates multiply each producer's output channel-wise; since every producer
is a Conv, ConvTranspose or Gemm with constant weights, ``g · (W x + b) = (g W) x + g b`` and
:meth:`ChannelGates.fold_into` moves the gates into the weights exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import onnx_ir as ir
import torch
from torch import nn

from mcugraph.ops.table import OPS

# Producers whose output channel c is computed only from bias[c] and the weight's slice c along this axis (Conv and
# normalised Gemm: axis 0; ConvTranspose of group 1, weight (C_in, C_out, k...): axis 1): gates fold into those.
# The op table's foldable rows and their weight_out_axis.
FOLDABLE_PRODUCERS = {op: row.weight_out_axis for op, row in OPS.items() if row.foldable}


def gateable_groups(model: ir.Model, groups: Iterable) -> list:
    """Prunable groups of more than one channel whose producers are all Conv/ConvTranspose/Gemm with constant
    weights."""
    nodes = {node.name: node for node in model.graph}
    result = []
    for group in groups:
        if not group.prunable or group.size < 2 or not group.producers:
            continue
        if all(_foldable(nodes.get(name)) for name in group.producers):
            result.append(group)
    return result


def _foldable(node: ir.Node | None) -> bool:
    if node is None or node.op_type not in FOLDABLE_PRODUCERS or len(node.inputs) < 2:
        return False
    if node.op_type == "Gemm" and node.attributes.get_int("transB", 0) != 1:
        return False  # normalize-gemm stores B as [out, in]; anything else we do not fold
    if node.op_type == "ConvTranspose" and node.attributes.get_int("group", 1) != 1:
        return False  # grouped: output channel c is not one slice of axis 1 (the walk freezes these anyway)
    return all(v is None or v.const_value is not None for v in node.inputs[1:])


class ChannelGates(nn.Module):
    """Width fractions, importance and surviving channels of each gated group (keyed by group id)."""

    def __init__(self, groups: Sequence, ema: float = 0.9):
        super().__init__()
        self.groups = {g.id: g for g in groups}
        self.width = nn.ParameterDict({str(g.id): nn.Parameter(torch.tensor(float(g.size))) for g in groups})
        # probe ≡ 1, multiplied into the gate: its gradient is exactly the Taylor importance g · ∂L/∂g.
        self.probe = {g.id: torch.ones(g.size, requires_grad=True) for g in groups}
        self.importance = {g.id: torch.zeros(g.size) for g in groups}
        self.alive = {g.id: list(range(g.size)) for g in groups}  # original channel index of each live channel
        self.ema = ema
        self.frozen = False
        # Gradient steps never narrow a group below its floor: a 1-channel bottleneck wrecked accuracy on digits at
        # 1/16 SRAM, 3-channel residual streams on CIFAR (allocation.py). Budgets that need narrower groups get
        # them from the importance-ordered cuts at the end.
        self.floors = {g.id: 2.0 for g in groups}

    def count(self, gid: int) -> torch.Tensor:
        """Soft channel count ``n_g`` (the learnable parameter)."""
        return self.width[str(gid)]

    def ranks(self, gid: int) -> torch.Tensor:
        """Rank of each live channel by importance (0 = most important; ties keep channel order)."""
        order = torch.argsort(-self.importance[gid], stable=True)
        ranks = torch.empty_like(order)
        ranks[order] = torch.arange(len(order))
        return ranks

    def gate(self, gid: int) -> torch.Tensor:
        width = self.width[str(gid)]
        ranks = self.ranks(gid).to(device=width.device, dtype=width.dtype)
        return (self.count(gid) - ranks).clamp(0.0, 1.0)

    def to(self, *args, **kwargs):
        module = super().to(*args, **kwargs)
        device = self.width[next(iter(self.width))].device if len(self.width) else None
        if device is not None:
            self.probe = {g: p.detach().to(device).requires_grad_() for g, p in self.probe.items()}
        return module

    def install(self, module, model: ir.Model) -> None:
        """Register a hook on every producer output of every gated group in ``module.gate_hooks``."""
        nodes = {node.name: node for node in model.graph}
        for gid, group in self.groups.items():
            axes = {use.tensor: use.axis for use in group.activations}
            for name in group.producers:
                value = nodes[name].outputs[0].name
                module.gate_hooks[value] = self._hook(gid, axes.get(value, 1))

    def uninstall(self, module) -> None:
        for key in [k for k, fn in module.gate_hooks.items() if getattr(fn, "gates", None) is self]:
            del module.gate_hooks[key]

    def _hook(self, gid: int, axis: int):
        def apply(x: torch.Tensor) -> torch.Tensor:
            shape = [1] * x.dim()
            shape[axis] = -1
            return x * (self.gate(gid) * self.probe[gid]).view(shape)

        apply.gates = self  # lets uninstall find its own hooks among others'
        return apply

    def counts(self) -> dict[int, torch.Tensor]:
        return {gid: self.count(gid) for gid in self.groups}

    def hard_counts(self) -> dict[int, int]:
        """Channels per group with a gate above 0: the model that would result from cutting now."""
        return {gid: self._hard(gid) for gid in self.groups}

    def _hard(self, gid: int) -> int:
        return max(1, min(len(self.alive[gid]), math.ceil(float(self.count(gid).detach()) - 1e-6)))

    @torch.no_grad()
    def accumulate_importance(self) -> None:
        """After ``task_loss.backward()``: fold this step's ``|g · ∂L/∂g|`` into the moving average."""
        for gid, probe in self.probe.items():
            if probe.grad is not None:
                now = probe.grad.abs().cpu()
                self.importance[gid] = self.ema * self.importance[gid] + (1 - self.ema) * now
                probe.grad = None

    def boundary_importance(self, gid: int) -> float:
        """Importance of the channel that closes next (the partly open one, else the last fully open one),
        divided by the L2 norm of its group's importances.

        Raw Taylor importance differs in scale from layer to layer (first-layer channels look cheap and a group
        was cut to 2 channels on digits); the per-layer L2 normalisation of Molchanov et al. (2017) removes that,
        and a group's normalised importances grow as it narrows, which balances widths across groups.
        """
        imp = self.importance[gid]
        rank = max(0, min(math.ceil(float(self.count(gid).detach())) - 1, len(self.alive[gid]) - 1))
        return float(imp[torch.argsort(-imp, stable=True)[rank]] / (imp.norm() + 1e-12))

    @torch.no_grad()
    def shrink(self, gid: int, channels: float) -> None:
        """Narrow group ``gid`` by ``channels`` (soft); never wider than what is alive, never below its floor."""
        w = self.width[str(gid)]
        if not self.frozen:
            w.sub_(channels)
        w.clamp_(self._lowest(gid), float(len(self.alive[gid])))

    def _lowest(self, gid: int) -> float:
        """The narrowest a gradient step may make group ``gid``: its floor, or what is alive if that is less."""
        return min(self.floors[gid], float(len(self.alive[gid])))

    @torch.no_grad()
    def start_at_floors(self) -> None:
        """Every group's soft width at its floor (what is alive if that is less): the narrowest the gates may go."""
        for gid in self.groups:
            self.width[str(gid)].fill_(self._lowest(gid))

    def at_floor(self, gid: int) -> bool:
        return float(self.width[str(gid)].detach()) <= self._lowest(gid) + 1e-6

    def zero_grad(self) -> None:
        for w in self.width.values():
            w.grad = None
        for p in self.probe.values():
            p.grad = None

    def closed(self) -> dict[int, list[int]]:
        """Local indices of closed channels (rank at or above the hard count) per group that has any."""
        result = {}
        for gid in self.groups:
            ranks = self.ranks(gid)
            shut = [i for i in range(len(ranks)) if int(ranks[i]) >= self._hard(gid)]
            if shut:
                result[gid] = shut
        return result

    def least_important(self, gid: int) -> int:
        """Local index of the open channel that would close next."""
        return int(torch.argmax(torch.where(self.ranks(gid) < self._hard(gid), self.ranks(gid), -1)))

    @torch.no_grad()
    def keep(self, gid: int, local: Sequence[int]) -> None:
        """Shrink group ``gid`` to its channels at ``local`` (indices into the live channels)."""
        index = torch.as_tensor(list(local), dtype=torch.long)
        device = self.probe[gid].device
        self.probe[gid] = torch.ones(len(index), device=device, requires_grad=True)
        self.importance[gid] = self.importance[gid][index].clone()
        self.alive[gid] = [self.alive[gid][i] for i in local]
        self.width[str(gid)].clamp_(max=float(len(index)))

    @torch.no_grad()
    def fold_into(self, module, model: ir.Model) -> None:
        """Multiply each producer's weight (along ``FOLDABLE_PRODUCERS``' axis) and bias by its gates in ``module``;
        then gates are all ones."""
        nodes = {node.name: node for node in model.graph}
        for gid, group in self.groups.items():
            g = self.gate(gid)
            for name in group.producers:
                node = nodes[name]
                for value in node.inputs[1:3]:
                    if value is None:
                        continue
                    param = module.parameter(value.name)
                    shape = [1] * param.dim()
                    shape[FOLDABLE_PRODUCERS[node.op_type] if param.dim() > 1 else 0] = -1
                    param.mul_(g.view(shape).to(param.dtype))
            self.width[str(gid)].fill_(float(len(self.alive[gid])))
