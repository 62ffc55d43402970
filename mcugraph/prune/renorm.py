"""BatchNorm while retraining a pruned network: put back what canonicalisation folded, fold it again at the end.

Pruning works on the canonical IR, where every BatchNormalization is already folded into its conv. A network cut to
a fraction of its channels is nearly a new one, and a deep narrow stack of plain convs trains badly (the folded
network underfits its own training set where the same widths with BatchNorm fit it). So while the architecture is
fixed and retrained, every Conv's output goes through a ``BatchNorm2d`` again (through ``GraphModule.gate_hooks``,
the same door the gates use), initialised from the conv's own output statistics so that it starts as the identity of
the trained network. After a restart from fresh weights there is no function to keep, and that identity copies a
random network's vanishing statistics into γ and β: it starts as a standard BatchNorm instead (γ = 1, β = 0;
``identity=False``; measured: docs/results/2026-12-02-docstring-measurements.md). :func:`fold_batchnorm` then moves
the learned affine map, with its running statistics, back into the conv's weight and bias exactly:

    s = γ / sqrt(var + ε),   W' = s·W (output-channel axis 0),   b' = s·(b − mean) + β.

Only ``Conv`` nodes with constant weight and bias whose output is not a graph output get one (Gemm classifiers
and logits are left alone).
"""

from __future__ import annotations

import onnx_ir as ir
import torch
from torch import nn

ATTRIBUTE = "renorm"  # the submodule name on the GraphModule, so train()/eval()/to() reach the BatchNorms


def renormable_convs(model: ir.Model) -> list[ir.Node]:
    """Conv nodes whose output channels are ``weight[c]`` and ``bias[c]`` (constants), not graph outputs."""
    outputs = {v.name for v in model.graph.outputs}
    result = []
    for node in model.graph:
        if node.op_type != "Conv" or len(node.inputs) < 3 or node.outputs[0].name in outputs:
            continue
        weight, bias = node.inputs[1], node.inputs[2]
        if weight is None or bias is None or weight.const_value is None or bias.const_value is None:
            continue
        result.append(node)
    return result


@torch.no_grad()
def install_batchnorm(module, model: ir.Model, x: torch.Tensor | tuple, optimizer: torch.optim.Optimizer | None = None,
                      batch_size: int = 256, identity: bool = True) -> int:
    """Insert a BatchNorm after every renormable Conv of ``module`` (hooks on their outputs); returns how many.

    ``x`` (training inputs; a tuple for several graph inputs) sets each BatchNorm's running statistics; with
    ``identity`` γ, β are set so that it starts as the identity, else they stay 1 and 0 (fresh weights). The
    BatchNorm parameters join ``optimizer`` as a new parameter group.
    """
    xs = x if isinstance(x, tuple) else (x,)
    convs = [n for n in renormable_convs(model) if n.outputs[0].name not in module.gate_hooks]
    if not convs:
        return 0
    norms = nn.ModuleDict()
    names, weights = {}, {}
    for i, node in enumerate(convs):
        channels = module.parameter(node.inputs[1].name).shape[0]
        key = f"bn{i}"
        norms[key] = nn.BatchNorm2d(channels, momentum=None).to(xs[0].device)  # momentum None: cumulative average
        names[node.outputs[0].name] = key
        weights[key] = node.inputs[1].name
    module.add_module(ATTRIBUTE, norms)
    module.__dict__["_renorm_outputs"] = names
    module.__dict__["_renorm_weights"] = weights  # BatchNorm channel c is output channel c of this conv weight
    for value, key in names.items():
        module.gate_hooks[value] = _hook(norms[key])
    was_training = module.training
    module.train()
    for batch in zip(*(t.split(batch_size) for t in xs), strict=True):
        module(*batch)  # accumulates the running statistics (momentum=None averages over all batches)
    for norm in norms.values():
        if identity:
            norm.weight.copy_(torch.sqrt(norm.running_var + norm.eps))
            norm.bias.copy_(norm.running_mean)
        norm.momentum = 0.1
    module.train(was_training)
    if optimizer is not None:
        optimizer.add_param_group({"params": list(norms.parameters())})
    return len(names)


def _hook(norm: nn.BatchNorm2d):
    def apply(x: torch.Tensor) -> torch.Tensor:
        return norm(x) if x.dim() == 4 else x

    apply.renorm = norm
    return apply


@torch.no_grad()
def fold_batchnorm(module, model: ir.Model, optimizer: torch.optim.Optimizer | None = None) -> int:
    """Fold every installed BatchNorm (running statistics) into its conv's weight and bias; remove the hooks."""
    names = module.__dict__.pop("_renorm_outputs", None)
    module.__dict__.pop("_renorm_weights", None)
    if not names:
        return 0
    norms = getattr(module, ATTRIBUTE)
    _average_statistics(norms)
    producers = {node.outputs[0].name: node for node in model.graph}
    for value, key in names.items():
        norm = norms[key]
        node = producers[value]
        weight, bias = module.parameter(node.inputs[1].name), module.parameter(node.inputs[2].name)
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        weight.mul_(scale.view([-1] + [1] * (weight.dim() - 1)).to(weight.dtype))
        bias.copy_(scale * (bias - norm.running_mean) + norm.bias)
        del module.gate_hooks[value]
    delattr(module, ATTRIBUTE)
    if optimizer is not None:
        bn_params = {id(p) for p in norms.parameters()}
        optimizer.param_groups[:] = [g for g in optimizer.param_groups
                                     if not any(id(p) in bn_params for p in g["params"])]
        for p in norms.parameters():
            optimizer.state.pop(p, None)
    return len(names)


def batchnorm_weights(module) -> dict[str, nn.BatchNorm2d]:
    """Installed BatchNorms by the name of the conv weight whose output channels (axis 0) they normalise."""
    weights = module.__dict__.get("_renorm_weights", {})
    return {weight: getattr(module, ATTRIBUTE)[key] for key, weight in weights.items()}


def channel_scales(module) -> dict[str, torch.Tensor]:
    """Per conv weight name with a BatchNorm after it: ``|γ| / sqrt(var + ε)``, what the fold multiplies its output
    channels by (``fold_batchnorm``). Under torchrun the running statistics are averaged over the ranks first, so
    every rank gets the same scales."""
    weights = batchnorm_weights(module)
    if weights:
        _average_statistics(getattr(module, ATTRIBUTE))
    return {name: (norm.weight.detach().abs() / torch.sqrt(norm.running_var + norm.eps)) for name, norm in weights.items()}


def _average_statistics(norms: nn.ModuleDict) -> None:
    """Under torchrun each rank normalised its own share of every batch: average the running statistics so every
    rank folds the same numbers (γ and β are parameters, their gradients are already averaged)."""
    from mcugraph.prune import distributed

    dp = distributed.current()
    if not dp.active:
        return
    for norm in norms.values():
        for buffer in (norm.running_mean, norm.running_var):
            torch.distributed.all_reduce(buffer)
            buffer.div_(dp.world)


def has_batchnorm(module) -> bool:
    return bool(module.__dict__.get("_renorm_outputs"))


__all__ = ["batchnorm_weights", "channel_scales", "fold_batchnorm", "has_batchnorm", "install_batchnorm",
           "renormable_convs"]
