"""On-chip benchmark: models built into Cortex-M firmware with TFLM and run under QEMU (``mcugraph bench``).

Run: ``python benchmarks/onchip.py --tflm-root ../shared/third_party/tflite-micro [--targets cortex-m4]
[--kernels reference cmsis-nn] [--json F] [--markdown docs/results/2026-12-08-onchip.md] [--only NAME ...]``.
One row per model x kernel set x target:
- models: the four MLPerf Tiny models exported by ``mcugraph opt`` (random calibration in the reference files'
  input range, as benchmarks/export.py) and the TF converter's int8 references from ``../shared``; the digits CNN
  pruned by ``mcugraph.prune`` to 1/8 of its arena head; MobileNetV2-style (expansion 6) at 96x96 and the MLPerf
  VWW model, each scheduled layer by layer and patched (``--patch auto``);
- ``host ==``: the outputs on the chip are byte-identical to the host ``tflite-micro`` interpreter's on the same
  (seeded random) input, or how many elements differ and by how much;
- ``instructions``: per inference, QEMU ``-icount shift=0`` SysTick calibrated on a loop of known length:
  instructions executed, not cycles; ``top op``: the operator type with the most;
- ``arena needed``: the smallest arena (a multiple of 16) in which TFLM allocates on the chip, the bundle's
  ``kTensorArenaSize``; ``arena_used_bytes()``: what TFLM reports using there (32-bit pointers, the kernel set's
  scratch), which planning's transient memory can exceed;
  ``head host``: TFLM's arena head in the host interpreter (what ``opt`` predicts today); ``total host``: the
  host interpreter's whole arena (64-bit pointers, reference kernels);
- ``flash``: the linked ELF's code + read-only data + .data image, by part; the .tflite is the ``model`` part.
For each patched model the table after gives the instruction overhead on the chip beside the MAC overhead the
patch search reported.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models" / "mlperf-tiny"
sys.path.insert(0, str(ROOT / "benchmarks"))

MLPERF_RANGES = {"ic_resnet8": "0,255", "kws_dscnn": "-123,26", "vww_mobilenetv1": "0,1", "ad_autoencoder": "-85,15"}


def _mcugraph_export(source, lo_hi: str) -> bytes:
    import mcugraph

    return mcugraph.optimize(source, calib=f"random:{lo_hi},40", progress=False, warn=lambda _: None).tflite


def _pruned_digits() -> tuple[bytes, dict]:
    import mcugraph
    from mcugraph import zoo
    from mcugraph.tflite.tflm import arena_head

    unpruned = _mcugraph_export(zoo.onnx_model("digits_cnn"), "0,1")
    head = arena_head(unpruned)
    pruned = mcugraph.prune(zoo.onnx_model("digits_cnn"), data="digits", ram=head // 8, epochs=4, progress=False)
    return _mcugraph_export(pruned.model, "0,1"), {"unpruned_head": head}


def _patched_pair(name: str, scheduled: bytes):
    from mcugraph.patch.apply import patch_tflite

    patched, report = patch_tflite(scheduled, "auto", 0.3, source=name)
    return patched, {"extra_macs": report.mac_overhead, "tiles": len(report.bands), "applied": bool(report.applied)}


def units(only: list[str] | None):
    """(name, kind, thunk returning (tflite bytes, extra facts)) for every model the benchmark runs."""
    out = []
    for name, lo_hi in MLPERF_RANGES.items():
        onnx_path, ref_path = SHARED / f"{name}.onnx", SHARED / f"{name}.int8.tflite"
        if onnx_path.exists():
            out.append((f"{name} (mcugraph)", "mlperf", lambda p=onnx_path, r=lo_hi: (_mcugraph_export(str(p), r), {})))
        if ref_path.exists():
            out.append((f"{name} (TF converter)", "mlperf", lambda p=ref_path: (p.read_bytes(), {})))
    out.append(("digits CNN pruned to 1/8 head", "pruned", _pruned_digits))

    def mobilenet():
        from patch import _mobilenet_v2

        return _mobilenet_v2(96)

    def vww():
        from mcugraph.tflite.schedule import schedule_tflite

        return schedule_tflite((SHARED / "vww_mobilenetv1.int8.tflite").read_bytes(), source="vww")[0]

    for name, make in (("MobileNetV2-style e6 96x96", mobilenet), ("vww_mobilenetv1 scheduled", vww)):
        if name.startswith("vww") and not (SHARED / "vww_mobilenetv1.int8.tflite").exists():
            continue
        cache: dict = {}

        def layer(make=make, cache=cache):
            cache["data"] = make()
            return cache["data"], {}

        def patched(name=name, make=make, cache=cache):
            return _patched_pair(name, cache.get("data") or make())

        out.append((f"{name}, layer by layer", "patch-base", layer))
        out.append((f"{name}, patched", "patched", patched))
    return [u for u in out if not only or any(o in u[0] for o in only)]


def row(name: str, data: bytes, facts: dict, target: str, kernels: str, tflm_root: str) -> dict:
    from mcugraph.target.bench import bench
    from mcugraph.tflite.tflm import allocations

    host = allocations(data, name)
    r = bench(data, target, kernels, tflm_root, source=name)
    top = {}
    for o in r.operators:
        top[o.op] = top.get(o.op, 0) + o.instructions
    top_op = max(top, key=top.get) if top else "-"
    return {**facts, **r.to_json(), "model": name, "target": target, "kernels": kernels,
            "head_host": host.head_bytes, "total_host": host.total_bytes, "top_op": top_op,
            "top_op_instructions": top.get(top_op, 0), "instructions_by_op": top}


COLUMNS = (("model", "model", "{}"), ("kernels", "kernels", "{}"), ("host ==", "equal", "{}"),
           ("instructions", "instructions", "{:,}"), ("top op", "top", "{}"), ("arena needed B", "arena_bytes", "{:,}"),
           ("arena_used_bytes()", "arena_used_bytes", "{:,}"),
           ("head host B", "head_host", "{:,}"), ("total host B", "total_host", "{:,}"), (".tflite B", "file_bytes", "{:,}"),
           ("flash B", "flash_bytes", "{:,}"), ("TFLM B", "tflm", "{:,}"), ("CMSIS-NN B", "cmsis", "{:,}"),
           ("C runtime B", "runtime", "{:,}"), ("stack B", "stack_used_bytes", "{:,}"), ("build s", "build_seconds", "{:.1f}"),
           ("run s", "run_seconds", "{:.1f}"))


def _cells(r: dict) -> list[str]:
    if "error" in r:
        return [r["model"], r["kernels"], "error: " + r["error"]] + [""] * (len(COLUMNS) - 3)
    view = dict(r)
    m = r["output_mismatch"]
    view["equal"] = "yes" if r["outputs_match_host"] else f"{m[0]['elements']}/{m[0]['of']} differ (max {m[0]['max_abs_diff']:g})"
    share = 100 * r["top_op_instructions"] / max(r["instructions"] or 1, 1)
    view["top"] = f"{r['top_op']} {share:.0f} %"
    view["tflm"], view["cmsis"], view["runtime"] = (r["flash"].get(k, 0) for k in ("tflm", "cmsis-nn", "runtime"))
    return [fmt.format(view[key]) if view.get(key) is not None else "-" for _, key, fmt in COLUMNS]


def table(rows: list[dict]) -> str:
    by_target: dict[str, list[dict]] = {}
    for r in rows:
        by_target.setdefault(r["target"], []).append(r)
    parts = []
    for target, group in by_target.items():
        parts.append(f"**{target}**\n")
        parts.append("| " + " | ".join(c[0] for c in COLUMNS) + " |")
        parts.append("|" + "---|" * len(COLUMNS))
        parts += ["| " + " | ".join(_cells(r)) + " |" for r in group]
        parts.append("")
        overhead = _patch_overhead(group)
        if overhead:
            parts.append("| patched model | kernels | tiles | MACs (patch search) | instructions on the chip | "
                         "arena needed on the chip: layer by layer -> patched |")
            parts.append("|---|---|---:|---:|---:|---|")
            parts += overhead
            parts.append("")
    return "\n".join(parts)


def _patch_overhead(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        if not r["model"].endswith(", patched") or "error" in r:
            continue
        base = next((b for b in rows if b["model"] == r["model"].replace(", patched", ", layer by layer")
                     and b["kernels"] == r["kernels"] and "error" not in b), None)
        if base is None or not base["instructions"]:
            continue
        extra = r["instructions"] / base["instructions"] - 1
        out.append(f"| {r['model']} | {r['kernels']} | {r['tiles']} | +{100 * r['extra_macs']:.1f} % | "
                   f"{100 * extra:+.1f} % | {base['arena_bytes']:,} -> {r['arena_bytes']:,} B "
                   f"({base['arena_bytes'] / r['arena_bytes']:.2f}x) |")
    return out


# MLPerf Tiny's reference results on a Cortex-M4 board (NUCLEO-L4R5ZI, 120 MHz, TFLM + CMSIS-NN), in ms.
PUBLISHED_MS = {"ic_resnet8": 704.0, "vww_mobilenetv1": 601.0, "kws_dscnn": 182.0, "ad_autoencoder": 10.0}
PUBLISHED_HZ = 120e6


def context(rows: list[dict]) -> str:
    """Cortex-M4 + CMSIS-NN instructions of the TF converter's files beside the published board latencies: the
    cycles per instruction they imply. Context, not a claim: the board has flash wait states and caches QEMU
    does not model, and its TFLM and compiler were others."""
    lines = ["| model | instructions (QEMU, M4, CMSIS-NN) | published latency | cycles at 120 MHz | "
             "implied cycles / instruction |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        name = r["model"].split(" ")[0]
        if (r["target"], r["kernels"]) != ("cortex-m4", "cmsis-nn") or "(TF converter)" not in r["model"] \
                or "error" in r or name not in PUBLISHED_MS:
            continue
        cycles = PUBLISHED_MS[name] / 1e3 * PUBLISHED_HZ
        lines.append(f"| {name} | {r['instructions']:,} | {PUBLISHED_MS[name]:g} ms | {cycles / 1e6:.1f} M | "
                     f"{cycles / r['instructions']:.2f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def parts_table(rows: list[dict]) -> str:
    """The chip's arena by kind (TFLM's recording allocator, whose own objects add a little to the tail): what
    the head that opt predicts leaves out."""
    keys = ("eval_tensors", "node_and_registration", "persistent_buffers", "persistent_tensors",
            "persistent_quantization")
    lines = ["| model | kernels | arena needed B | head B | tail B | eval tensors | nodes | persistent buffers "
             "(op data, per-channel arrays) | IO tensors + quantisation | rest of tail |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p = r.get("arena_parts") or {}
        if "error" in r or "tail" not in p:
            continue
        rest = p["tail"] - sum(p.get(k, 0) for k in keys)
        io = p.get("persistent_tensors", 0) + p.get("persistent_quantization", 0)
        lines.append(f"| {r['model']} | {r['kernels']} | {r['arena_bytes']:,} | {p['head']:,} | {p['tail']:,} | "
                     f"{p.get('eval_tensors', 0):,} | {p.get('node_and_registration', 0):,} | "
                     f"{p.get('persistent_buffers', 0):,} | {io:,} | {rest:,} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def markdown(rows: list[dict], meta: dict) -> str:
    parts = parts_table(rows)
    if parts:
        parts = ("\n## The whole arena on the chip, by kind\n\n"
                 "`arena needed` is the smallest arena that allocates (the bundle's `kTensorArenaSize`); head and tail "
                 "are TFLM's recording allocator's split of the same model on the same chip (its own allocator "
                 "objects add ~100 B to the tail); what the arena needs beyond head + tail is planning's transient "
                 "memory.\n\n" + parts + "\n")
    ctx = context(rows)
    if ctx:
        ctx = ("\n## Beside MLPerf Tiny's published board latencies\n\n"
               "The Cortex-M4 + CMSIS-NN instructions of the TF converter's files beside MLPerf Tiny's reference "
               "results on a Cortex-M4 board (NUCLEO-L4R5ZI at 120 MHz, TFLM + CMSIS-NN), and the cycles per "
               "instruction that implies. The board has flash wait states and caches that QEMU does not model, and "
               "its TFLM and compiler were others: context, not a claim.\n\n" + ctx + "\n")
    return (f"# On-chip results ({meta['date']})\n\n"
            f"Generated by `{meta['command']}` from its JSON (commit {meta['commit']}; TFLM tree "
            f"{meta['tflm_revision']}; GCC 12.2 with TFLM's flags for the target, QEMU 7.2). QEMU counts "
            "instructions executed, not cycles: no figure here is a time.\n\n" + table(rows) + "\n" + parts + ctx)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflm-root", default=str(ROOT.parent / "shared" / "third_party" / "tflite-micro"))
    parser.add_argument("--targets", nargs="+", default=["cortex-m4"])
    parser.add_argument("--kernels", nargs="+", default=["reference", "cmsis-nn"])
    parser.add_argument("--only", nargs="+", help="run the models whose name contains one of these")
    parser.add_argument("--json", help="write the rows as JSON")
    parser.add_argument("--markdown", help="write the results page (from the rows)")
    parser.add_argument("--from-json", nargs="+", metavar="F",
                        help="render the table (and --markdown) from saved --json runs instead of running")
    args = parser.parse_args(argv)
    if args.from_json:
        rows, meta = from_json(args.from_json)
    else:
        rows, meta = run_all(args), _meta(args)
        if args.json:
            Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print(table(rows))
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows, meta))
    return 0


def from_json(paths: list[str]) -> tuple[list[dict], dict]:
    """The rows of several saved runs, in order, and their metadata (commands joined)."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    rows = [row for run in runs for row in run["rows"]]
    meta = dict(runs[0]["meta"])
    meta["command"] = "` then `".join(run["meta"]["command"] for run in runs)
    meta["commit"] = ", ".join(dict.fromkeys(run["meta"]["commit"] for run in runs))
    return rows, meta


def run_all(args) -> list[dict]:
    rows = []
    for name, _kind, make in units(args.only):
        start = time.monotonic()
        try:
            data, facts = make()
        except Exception as e:  # noqa: BLE001 - a model that cannot be made is a row, not the end of the run
            rows += [{"model": name, "target": t, "kernels": k, "error": f"{type(e).__name__}: {e}"[:200]}
                     for t in args.targets for k in args.kernels]
            continue
        for target in args.targets:
            for kernels in args.kernels:
                try:
                    rows.append(row(name, data, facts, target, kernels, args.tflm_root))
                except Exception as e:  # noqa: BLE001
                    rows.append({"model": name, "target": target, "kernels": kernels,
                                 "error": f"{type(e).__name__}: {e}"[:200]})
                print(_cells(rows[-1]), f"{time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    return rows


def _meta(args) -> dict:
    import datetime
    import subprocess

    from mcugraph.target.tflm_tree import find_tree

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    argv = shlex.join(sys.argv[1:])
    return {"date": datetime.date.today().isoformat(), "commit": commit,
            "tflm_revision": find_tree(args.tflm_root).revision, "command": f"python benchmarks/onchip.py {argv}"}


if __name__ == "__main__":
    sys.exit(main())
