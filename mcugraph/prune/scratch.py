"""Prune from scratch: the seed paper's own setting, pruning *during* the model's main training run.

``mcugraph.prune(..., from_scratch=True)`` (``--from-scratch``) discards the model's weights and trains it from a
fresh initialisation while the gates close, so a user who has not trained the full model yet pays for one training
run, not two. There is no trained model to distil from, so distillation is off; at the default floor 1 the widths
are the balanced allocation, fixed before the first epoch (``api.py``), and every epoch trains the final network
from fresh weights; below floor 1 the gates close during the run. The derived schedule (``recipe.py``) doubles its
epochs, as the run has to train the network as well as narrow it.
"""

from __future__ import annotations

import math

import onnx_ir as ir
import torch
from torch import nn

from mcugraph.ops.table import ops_where

# The learned layers (the op table's weighted layers): their weight (input 1) gets a fresh draw, their bias (input 2)
# becomes 0. Every other float constant (Clip bounds, a normalisation's mean, a Mul's scale) is part of what the
# model computes and stays.
LEARNED = ops_where(lambda row: row.layer)


@torch.no_grad()
def reinitialise(module: nn.Module, model: ir.Model, seed: int) -> int:
    """Fresh weights for the Conv/ConvTranspose/Gemm/MatMul layers of ``module`` (a ``GraphModule`` of ``model``);
    returns how many tensors were reset.

    Weights get PyTorch's default for Conv and Linear, ``kaiming_uniform_(a=√5)``, i.e. ``U(±1/√fan_in)``; biases 0.
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    done = set()
    for node in model.graph:
        if node.op_type not in LEARNED:
            continue
        for slot, value in list(enumerate(node.inputs))[1:3]:
            if value is None or value.const_value is None or value.name in done:
                continue
            param = module.parameter(value.name)
            if not param.requires_grad:
                continue
            done.add(value.name)
            if slot == 2 or param.dim() < 2:
                param.zero_()
                continue
            # fan_in: MatMul's B is [.., in, out]; Conv/ConvTranspose/normalised Gemm hold it in the trailing axes
            fan_in = param.shape[-2] if node.op_type == "MatMul" else param[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            fresh = torch.rand(param.shape, generator=generator) * 2 * bound - bound
            param.copy_(fresh.to(param.device, param.dtype))
    return len(done)
