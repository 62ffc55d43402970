"""Which stage to tile and into how many row bands: the smallest peak within a cap on extra MACs.

Every tileable stage (:func:`mcugraph.patch.stage.candidate_stages`) is tried with 2, 3, ... even row bands: each
candidate is really rewritten (:func:`mcugraph.patch.rewrite.patch_model`) and measured with the memory model
TFLM is checked against (:func:`mcugraph.memory.peak.peak_memory` on the patched kernel graph, in its stored
order: tile buffers, halos, padded copies, slices, the in-place concatenation and kernel scratch buffers all
count). More bands mean smaller tiles but more halo rows computed twice; a stage stops growing its band count at
the first count over the MAC cap (the overhead only grows with it). The caller plans the best few exactly.

Two stages in a row: one stage's tiles must hold the resident image beside the receptive field of the whole
stage, so a long stage needs fine bands and recomputes a lot of halo (MobileNetV2-style e6 at 96x96: the peak
after a first stage moves to the next block; a stage long enough to cover it recomputes more than 30 %). So the
search also tries a first stage ``X -> S`` followed by a second stage ``S -> T`` (``S`` resident while the second
one runs, smaller than ``X``, and each receptive field short). Each pair is estimated from the single stages'
own profiles (the first stage's steps up to its concatenation, the second one's from its first tile on; the extra
MACs add up), and the best few pairs are rewritten together and measured exactly.
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
from mcugraph.patch.rewrite import Tile, patch_stages
from mcugraph.patch.stage import Stage, candidate_stages, even_bands
from mcugraph.tflite import schema as tfl

MAX_BANDS = 10  # TFLM's CONCATENATION takes at most kMaxInputNum = 10 inputs (concatenation.cc)
MEASURED_PAIRS = 3  # two-stage tilings rewritten and measured exactly, best estimates first


@dataclasses.dataclass(frozen=True)
class Candidate:
    stage: Stage  # the first stage
    bands: tuple[tuple[int, int], ...]  # its bands
    model: tfl.schema.ModelT  # the patched model (shares unchanged objects with the input model)
    tiles: tuple[Tile, ...]  # of every stage, in stored order
    graph: KernelGraph
    peak_bytes: int  # peak live bytes of its stored order: no arena plan is smaller
    macs: int
    later: tuple[tuple[Stage, tuple[tuple[int, int], ...]], ...] = ()  # a second stage and its bands, if any

    @property
    def stages(self) -> tuple[tuple[Stage, tuple[tuple[int, int], ...]], ...]:
        return ((self.stage, self.bands), *self.later)

    def mac_overhead(self, base_macs: int) -> float:
        return self.macs / base_macs - 1 if base_macs else 0.0


def evaluate(model: tfl.schema.ModelT, stage: Stage, bands, later=()) -> Candidate:
    """Rewrite ``model`` with ``stage`` on ``bands`` (then each ``(stage, bands)`` of ``later``) and measure it."""
    parts = ((stage, tuple(bands)), *((st, tuple(b)) for st, b in later))
    patched, tiles = patch_stages(model, parts)
    graph = kernel_graph_from_model(patched)
    return Candidate(stage, tuple(bands), patched, tiles, graph, peak_memory(graph).peak_bytes, model_macs(patched),
                     tuple(parts[1:]))


def _stage_candidates(model, stages, band_counts, base: int, cap: float) -> list[Candidate]:
    found = []
    for stage in stages:
        rows = shape(model, stage.output)[1]
        for count in band_counts or range(2, min(rows, MAX_BANDS) + 1):
            bands = even_bands(model, stage, count)
            if bands is None:
                continue
            try:
                candidate = evaluate(model, stage, bands)
            except InvalidModelError:  # a band made only of a PAD's border rows
                continue
            if candidate.mac_overhead(base) > cap:
                break
            found.append(candidate)
    return found


def _split_peaks(candidate: Candidate) -> tuple[int, int]:
    """(peak live bytes up to the stage's concatenation, peak from its first tile on) of a one-stage candidate."""
    profile = peak_memory(candidate.graph)
    first, concat = candidate.tiles[0].operators[0], candidate.tiles[-1].operators[-1] + 1
    steps = [(int(name.split(":", 1)[0]), live) for name, live in zip(profile.order, profile.live_bytes, strict=True)]
    return (max((live for i, live in steps if i <= concat), default=0),
            max((live for i, live in steps if i >= first), default=0))


def _pairs(model, firsts: list[Candidate], base: int, cap: float, single_best: int) -> list[Candidate]:
    """The best two-stage tilings: each first stage's cut starts a second stage; measured exactly."""
    heads = [(c, *_split_peaks(c)) for c in firsts]
    seconds: dict[int, list[tuple[Candidate, int]]] = {}
    for start in sorted({c.stage.output for c, head, _ in heads if head < single_best}):
        stages = candidate_stages(model, start)
        seconds[start] = [(c, _split_peaks(c)[1]) for c in _stage_candidates(model, stages, None, base, cap)]
    estimates = []
    for first, head, _ in heads:
        for second, tail in seconds.get(first.stage.output, []):
            extra = first.macs + second.macs - 2 * base
            if extra <= cap * base and max(head, tail) < single_best:
                estimates.append((max(head, tail), extra, first, second))
    estimates.sort(key=lambda e: (e[0], e[1]))
    return [evaluate(model, first.stage, first.bands, [(second.stage, second.bands)])
            for _, _, first, second in estimates[:MEASURED_PAIRS]]


def search(
    model: tfl.schema.ModelT, max_mac_overhead: float, stages: Iterable[Stage] | None = None,
    band_counts: Iterable[int] | None = None, two_stages: bool = True,
) -> list[Candidate]:
    """Candidates within ``max_mac_overhead`` (0.3 = 30 % more MACs than ``model``), smallest peak first: one
    stage, and (``two_stages``, only when ``stages`` and ``band_counts`` are not given) a stage then another."""
    base = model_macs(model)
    found = _stage_candidates(model, candidate_stages(model) if stages is None else stages, band_counts, base,
                              max_mac_overhead)
    if two_stages and stages is None and band_counts is None and found:
        found += _pairs(model, found, base, max_mac_overhead, min(c.peak_bytes for c in found))
    found = [c for c in found if c.mac_overhead(base) <= max_mac_overhead]
    found.sort(key=lambda c: (c.peak_bytes, c.macs))
    return found
