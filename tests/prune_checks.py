"""Checks shared by the pruning tests: gates folded into weights keep the function, the resource model is exact."""

from __future__ import annotations

import torch

from mcugraph.analysis.costs import node_costs
from mcugraph.analysis.flash import predicted_flash_bytes
from mcugraph.memory.kernel_view import kernel_view
from mcugraph.memory.peak import peak_memory
from mcugraph.prune.api import apply_keep
from mcugraph.prune.gates import ChannelGates
from mcugraph.prune.torch_module import GraphModule


def gated_then_folded(model, gated, x: torch.Tensor) -> tuple[GraphModule, torch.Tensor, torch.Tensor]:
    """Gates on ``gated`` groups, each ~60 % open with random importance; the module's output with the gates and
    after folding them into the weights (and uninstalling them)."""
    module = GraphModule(model)
    gates = ChannelGates(gated)
    gates.install(module, model)
    for gid in gates.groups:
        gates.importance[gid] = torch.rand(len(gates.alive[gid]))
        with torch.no_grad():
            gates.width[str(gid)].fill_(len(gates.alive[gid]) * 0.6 + 0.3)
    with torch.no_grad():
        gated_out = module(x)
        gates.fold_into(module, model)
        gates.uninstall(module)
        folded_out = module(x)
    return module, gated_out, folded_out


def assert_resources_exact(model, rmodel, order, keep) -> dict:
    """The resource model's SRAM (peak of ``order``), flash and MACs at ``keep``'s counts equal the pruned model's
    exact figures; returns the prediction."""
    pruned = apply_keep(model, keep)
    predicted = rmodel.evaluate({gid: float(len(k)) for gid, k in keep.items()})
    costs = node_costs(pruned)
    assert float(predicted["ram"]) == peak_memory(kernel_view(pruned), order).peak_bytes
    assert float(predicted["flash"]) == predicted_flash_bytes(pruned, order=order)  # the .tflite, byte for byte
    counts = {gid: float(len(k)) for gid, k in keep.items()}
    assert float(rmodel.weight_bytes({**{g: float(n) for g, n in rmodel.sizes.items()}, **counts})) == sum(
        c.weight_bytes for c in costs)
    assert float(predicted["macs"]) == sum(c.macs for c in costs)
    return predicted
