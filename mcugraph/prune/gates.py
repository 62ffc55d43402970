"""Channel gates: one learnable scale per channel of every prunable group, multiplied into its producers' outputs.

The gate of channel ``c`` is ``g_c = θ_c`` with ``θ_c`` kept in ``[0, 1]`` by projection after every step (a
learnable scale with an L0-like relaxation: the resource model counts a group's channels as ``Σ g_c``). We chose a
projected linear scale over sigmoid or hard-concrete gates because (1) a gate reaches *exactly* 0, so removing a
closed channel does not change the network's function at all, and (2) its gradient never vanishes the way a
saturated sigmoid's does, so the pace at which gates close is set by the step size alone (docs/pruning.md).

Which channels close is decided by importance, not by the resource pressure alone: the resource gradient reaching a
group's soft count is shared among its channels in inverse proportion to their first-order Taylor importance
``|g_c · ∂L_task/∂g_c|`` (accumulated as an exponential moving average over steps), so unimportant channels take
most of the pressure and close first while the task gradient holds the useful ones open.

Gating multiplies each producer's output channel-wise; since every producer is a Conv or Gemm with constant weights,
``g · (W x + b) = (g W) x + g b``, so :meth:`ChannelGates.fold_into` moves the gates into the weights exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import onnx_ir as ir
import torch
from torch import nn

# Producers whose output channel c is computed only from weight[c] and bias[c] (axis 0): gates fold into those.
FOLDABLE_PRODUCERS = ("Conv", "Gemm")


def gateable_groups(model: ir.Model, groups: Iterable) -> list:
    """Prunable groups of more than one channel whose producers are all Conv/Gemm with constant weights."""
    nodes = {node.name: node for node in model.graph}
    result = []
    for group in groups:
        if not group.prunable or group.size < 2 or not group.producers:
            continue
        producers = [nodes.get(name) for name in group.producers]
        if all(_foldable(node) for node in producers):
            result.append(group)
    return result


def _foldable(node: ir.Node | None) -> bool:
    if node is None or node.op_type not in FOLDABLE_PRODUCERS or len(node.inputs) < 2:
        return False
    if node.op_type == "Gemm" and node.attributes.get_int("transB", 0) != 1:
        return False  # normalize-gemm stores B as [out, in]; anything else we do not fold
    return all(v is None or v.const_value is not None for v in node.inputs[1:])


class ChannelGates(nn.Module):
    """Gates and importance of the channels still alive in each gated group (keyed by group id)."""

    def __init__(self, groups: Sequence, ema: float = 0.9):
        super().__init__()
        self.groups = {g.id: g for g in groups}
        self.theta = nn.ParameterDict({str(g.id): nn.Parameter(torch.ones(g.size)) for g in groups})
        self.importance = {g.id: torch.zeros(g.size) for g in groups}
        self.alive = {g.id: list(range(g.size)) for g in groups}  # original channel index of each gate
        self.ema = ema
        self.frozen = False

    def gate(self, gid: int) -> torch.Tensor:
        return self.theta[str(gid)]

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
            return x * self.gate(gid).view(shape)

        apply.gates = self  # lets uninstall find its own hooks among others'
        return apply

    def counts(self, weighted: bool = True) -> dict[int, torch.Tensor]:
        """Soft channel count ``Σ g_c`` per group; with ``weighted`` its gradient is spread by inverse importance."""
        result = {}
        for gid in self.groups:
            g = self.gate(gid)
            if not weighted:
                result[gid] = g.sum()
                continue
            w = self.pressure_weights(gid)
            # Forward value is Σ g exactly; backward hands channel c the share w_c of the resource gradient.
            result[gid] = g.detach().sum() + (w.to(g.device) * (g - g.detach())).sum()
        return result

    def hard_counts(self) -> dict[int, int]:
        """Channels per group that are open (gate > 0): the model that would result from cutting now."""
        return {gid: int((self.gate(gid) > 0).sum()) for gid in self.groups}

    def pressure_weights(self, gid: int) -> torch.Tensor:
        """Mean-1 weights, larger for less important channels; uniform before any importance is known."""
        imp = self.importance[gid]
        if float(imp.sum()) == 0.0:
            return torch.ones_like(imp)
        w = 1.0 / (imp / imp.mean() + 0.1)
        return w / w.mean()

    @torch.no_grad()
    def accumulate_importance(self) -> None:
        """After ``task_loss.backward()``: fold ``|g · ∂L/∂g|`` of this step into the moving average."""
        for gid in self.groups:
            g = self.gate(gid)
            if g.grad is None:
                continue
            now = (g * g.grad).abs().detach().cpu()
            self.importance[gid] = self.ema * self.importance[gid] + (1 - self.ema) * now

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """Projected gradient step: ``θ ← clip(θ − lr·∂L/∂θ, 0, 1)``; closed gates stay closed."""
        if self.frozen:
            return
        for gid in self.groups:
            g = self.gate(gid)
            if g.grad is not None:
                g.sub_(lr * g.grad)
            g.clamp_(0.0, 1.0)
            g.grad = None

    def zero_grad(self) -> None:
        for p in self.theta.values():
            p.grad = None

    def closed(self) -> dict[int, list[int]]:
        """Local indices of closed gates per group (only groups with at least one, never the last channel)."""
        result = {}
        for gid in self.groups:
            g = self.gate(gid)
            shut = [i for i in range(len(g)) if float(g[i]) <= 0.0]
            if len(shut) == len(g):  # keep the most important channel: a group never vanishes
                shut.remove(int(torch.argmax(self.importance[gid])))  # importance lives on the CPU
            if shut:
                result[gid] = shut
        return result

    @torch.no_grad()
    def keep(self, gid: int, local: Sequence[int]) -> None:
        """Shrink group ``gid`` to the gates at ``local`` (indices into its current gates)."""
        index = torch.as_tensor(list(local), dtype=torch.long)
        self.theta[str(gid)] = nn.Parameter(self.gate(gid)[index].clone())
        self.importance[gid] = self.importance[gid][index].clone()
        self.alive[gid] = [self.alive[gid][i] for i in local]

    @torch.no_grad()
    def fold_into(self, module, model: ir.Model) -> None:
        """Multiply each producer's weight and bias by its gates (axis 0) in ``module``; gates become all ones."""
        nodes = {node.name: node for node in model.graph}
        for gid, group in self.groups.items():
            g = self.gate(gid)
            for name in group.producers:
                for value in nodes[name].inputs[1:3]:
                    if value is None:
                        continue
                    param = module.parameter(value.name)
                    param.mul_(g.view([-1] + [1] * (param.dim() - 1)))
            g.fill_(1.0)
