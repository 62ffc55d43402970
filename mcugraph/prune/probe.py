"""TFLM's arena head of a (pruned) model, measured the narrow way: fixed quantisation, no calibration, one load.

Pruning asks TFLM how big its arena really is (its head can exceed the planned tensors by kernel scratch buffers)
before it stops pruning, and again for the final model. The arena depends on tensor shapes and the kernels TFLM
runs, not on activation ranges, so the probe skips everything of ``mcugraph.optimize`` that is about numbers:
every activation gets the same int8 parameters (range [-1, 1]), nothing is calibrated or verified, and TFLM loads
the model once to report its "Arena allocation head". The schedule and offline plan are the ones ``optimize``
writes (min-peak order of ``mcugraph.memory``, in-place on), so the head is the one the real export will get.
Its cost no longer grows with the calibration data (it used to export through the whole driver with 64 samples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import onnx_ir as ir

if TYPE_CHECKING:
    from mcugraph.memory.min_peak import MinPeakPlan

PROBE_RANGE = (-1.0, 1.0)  # any fixed range: arena sizes depend on shapes, not on scales


def tflm_arena_head(model: ir.Model, planned: MinPeakPlan | None = None) -> int:
    """TFLM's "Arena allocation head" of ``model`` (canonical IR) exported to int8 with fixed parameters, in the
    order and arena plan ``planned`` (default: ``plan_min_peak(model, "int8")``, what ``opt`` writes)."""
    from mcugraph.export.quant_params import param_from_range
    from mcugraph.export.writer import export_tflite
    from mcugraph.memory.min_peak import plan_min_peak
    from mcugraph.tflite.tflm import arena_head

    planned = plan_min_peak(model, "int8") if planned is None else planned
    order, plan = planned.schedule.order, planned.plan
    param = param_from_range(*PROBE_RANGE)
    activations = {v.name: param for v in model.graph.inputs}
    activations.update({v.name: param for node in model.graph for v in node.outputs if v.name})
    exported = export_tflite(model, activations=activations, order=order, offline_offsets=dict(plan.offsets))
    return arena_head(exported.data)
