"""``mcugraph bench M.tflite --target cortex-m4 --kernels cmsis-nn``: build the model into firmware with TFLM,
run it on an emulated Cortex-M (QEMU), and report what it costs there.

Printed: whether the outputs equal the host ``tflite-micro`` interpreter's byte for byte, instructions per
inference (QEMU counts instructions, not cycles) in total and for the top operators, the linked ELF's flash by
part, RAM by part, and the arena TFLM used on the chip. With reference kernels a byte difference from the host
is an error (exit 2) for integer outputs; float outputs and CMSIS-NN differences are reported.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mcugraph.errors import ModelLoadError, TargetError


def add_target_arguments(parser: argparse.ArgumentParser, what: str = "") -> None:
    from mcugraph.target import targets, tflm_tree

    what = f" {what}" if what else ""
    parser.add_argument("--target", default=targets.DEFAULT_TARGET, metavar="CORE",
                        help=f"the core to build for{what} (default {targets.DEFAULT_TARGET}): {targets.describe()}")
    parser.add_argument("--kernels", default=targets.DEFAULT_KERNELS, choices=targets.KERNEL_SETS,
                        help=f"TFLM's kernel set (default {targets.DEFAULT_KERNELS}; reference: TFLM's portable "
                             "kernels, the ones the host interpreter runs)")
    parser.add_argument("--tflm-root", metavar="DIR",
                        help=f"a TensorFlow Lite Micro tree with its downloads (default: ${tflm_tree.ROOT_ENV}); "
                             f"builds are cached under ${tflm_tree.CACHE_ENV} or ~/.cache/mcugraph")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a .tflite on an emulated Cortex-M (QEMU): outputs vs host, "
                                          "instructions per operator, flash and RAM of the firmware")
    parser.add_argument("model", metavar="M.tflite", help="the model to build and run")
    add_target_arguments(parser)
    parser.add_argument("--top", type=int, default=8, metavar="N", help="operators to list (default 8)")
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                        help="write the measurements as JSON to FILE (stdout, without the table, when omitted)")
    parser.set_defaults(func=run)


def read_tflite(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read it ({e.strerror}); pass an existing .tflite file") from e


def run(args: argparse.Namespace) -> int:
    from mcugraph.atomic import atomic_write_bytes
    from mcugraph.target.bench import bench

    result = bench(read_tflite(args.model), args.target, args.kernels, args.tflm_root, source=args.model)
    report = result.to_json()
    if args.json and args.json != "-":
        atomic_write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode())
    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        print(format_result(result, args.top))
    integer = [m for m in result.output_mismatch if not m.get("float")]
    if result.kernels == "reference" and integer:
        raise TargetError(f"{args.model}: on {result.target} with reference kernels an integer output differs from "
                          f"the host interpreter ({integer[0]}); this is a bug, please report it")
    return 0


def format_result(r, top: int = 8) -> str:
    lines = [f"{r.model} on {r.target}, {r.kernels} kernels (QEMU, instructions executed, not cycles)"]
    if r.outputs_match_host:
        lines.append("outputs: byte-identical to the host tflite-micro interpreter")
    else:
        for m in r.output_mismatch:
            why = " (float arithmetic on the target's FPU and compiler; not expected bit for bit)" if m.get("float") else ""
            lines.append(f"outputs: output {m['output']} differs from the host interpreter in {m['elements']} of "
                         f"{m['of']} elements, by at most {m['max_abs_diff']:g}{why}")
    if r.instructions is not None:
        lines.append(f"instructions per inference: {r.instructions:,}")
        ranked = sorted(r.operators, key=lambda o: -o.instructions)[:top]
        for o in ranked:
            share = 100 * o.instructions / max(r.instructions, 1)
            lines.append(f"  op {o.index:>3} {o.op:<20} {o.instructions:>14,}  {share:5.1f} %")
    lines.append(f"arena: {r.arena_used_bytes:,} B used by TFLM on the chip; kTensorArenaSize {r.arena_bytes:,} B")
    flash = ", ".join(f"{k} {v:,}" for k, v in sorted(r.flash.items(), key=lambda kv: -kv[1]))
    lines.append(f"flash: {r.flash_bytes:,} B ({flash}); the .tflite is {r.file_bytes:,} B")
    ram = r.ram
    lines.append(f"RAM: {sum(ram.values()):,} B reserved (arena {ram['arena']:,}, stack {ram['stack']:,} of which "
                 f"{r.stack_used_bytes:,} used, heap {ram['heap']:,}, bench profiler {ram['profiler']:,}, "
                 f"other .data/.bss {ram['other']:,})")
    lines.append(f"build {r.build_seconds:.1f} s ({r.compiled_sources} TFLM sources compiled), run {r.run_seconds:.1f} s")
    return "\n".join(lines)
