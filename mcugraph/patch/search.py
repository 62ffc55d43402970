"""Which stage to tile and into how many row bands: the smallest peak within a cap on extra MACs.

Every tileable stage (:func:`mcugraph.patch.stage.candidate_stages`) is tried with 2, 3, ... even row bands: each
candidate is really rewritten (:func:`mcugraph.patch.rewrite.patch_model`) and measured with the memory model
TFLM is checked against (:func:`mcugraph.memory.peak.peak_memory` on the patched kernel graph, in its stored
order: tile buffers, halos, padded copies, slices, the in-place concatenation and kernel scratch buffers all
count). More bands mean smaller tiles but more halo rows computed twice; a stage stops growing its band count at
the first count over the MAC cap (the overhead only grows with it). The caller plans the best few exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from mcugraph.errors import InvalidModelError
from mcugraph.kernel_graph import KernelGraph
from mcugraph.memory.peak import peak_memory
from mcugraph.memory.tflite_graph import kernel_graph_from_model
from mcugraph.patch.cost import model_macs
from mcugraph.patch.geometry import shape
from mcugraph.patch.rewrite import Tile, patch_model
from mcugraph.patch.stage import Stage, candidate_stages, even_bands
from mcugraph.tflite import schema as tfl

MAX_BANDS = 10  # TFLM's CONCATENATION takes at most kMaxInputNum = 10 inputs (concatenation.cc)


@dataclasses.dataclass(frozen=True)
class Candidate:
    stage: Stage
    bands: tuple[tuple[int, int], ...]
    model: tfl.schema.ModelT  # the patched model (shares unchanged objects with the input model)
    tiles: tuple[Tile, ...]
    graph: KernelGraph
    peak_bytes: int  # peak live bytes of its stored order: no arena plan is smaller
    macs: int

    def mac_overhead(self, base_macs: int) -> float:
        return self.macs / base_macs - 1 if base_macs else 0.0


def evaluate(model: tfl.schema.ModelT, stage: Stage, bands) -> Candidate:
    """Rewrite ``model`` with ``stage`` on ``bands`` and measure the result."""
    patched, tiles = patch_model(model, stage, bands)
    graph = kernel_graph_from_model(patched)
    return Candidate(stage, tuple(bands), patched, tiles, graph, peak_memory(graph).peak_bytes, model_macs(patched))


def search(
    model: tfl.schema.ModelT, max_mac_overhead: float, stages: Iterable[Stage] | None = None,
    band_counts: Iterable[int] | None = None,
) -> list[Candidate]:
    """Candidates within ``max_mac_overhead`` (0.3 = 30 % more MACs than ``model``), smallest peak first."""
    base = model_macs(model)
    found = []
    for stage in candidate_stages(model) if stages is None else stages:
        rows = shape(model, stage.output)[1]
        for count in band_counts or range(2, min(rows, MAX_BANDS) + 1):
            bands = even_bands(model, stage, count)
            if bands is None:
                continue
            try:
                candidate = evaluate(model, stage, bands)
            except InvalidModelError:  # a band made only of a PAD's border rows
                continue
            if candidate.mac_overhead(base) > max_mac_overhead:
                break
            found.append(candidate)
    found.sort(key=lambda c: (c.peak_bytes, c.macs))
    return found
