"""``mcugraph firmware M.tflite -o DIR``: the deployment bundle — the model as a C array, the arena it needs on the
target, an op resolver with exactly its operators, and a ``main.cc`` that runs one inference (see
:mod:`mcugraph.target.bundle`).

Where the target runs here (under QEMU, or the host), the arena constant is what TFLM used on it, rounded up to
16 bytes, and confirmed by a second run with exactly that arena (:func:`mcugraph.target.bench.bench`). For a
target that only builds, the bundle is compiled for it but its arena is the 64-bit host interpreter's total,
rounded up: an estimate, said so on the terminal and in model_config.h.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    from mcugraph.cli.bench import add_target_arguments

    parser = sub.add_parser("firmware", help="write a .tflite as a TFLM deployment bundle (C array, arena size, "
                                             "op resolver, main.cc), the arena measured on the target")
    parser.add_argument("model", metavar="M.tflite", help="the model to bundle")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to write (replaced whole)")
    add_target_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcugraph.cli.bench import read_tflite
    from mcugraph.target import build, bundle, tflm_tree
    from mcugraph.target.bench import ARENA_ALIGNMENT, bench, prepare

    data = read_tflite(args.model)
    target, tree, spec, calls, registrations = prepare(data, args.tflm_root, args.target, args.kernels, args.model)
    out = Path(args.output)
    if target.runs:
        result = bench(data, target.name, args.kernels, args.tflm_root, source=args.model, bundle_dir=out)
        print(f"wrote {out}/: {len(spec.builtins)} operator kinds, kTensorArenaSize {result.arena_bytes:,} B "
              f"(TFLM used {result.arena_used_bytes:,} B on {target.name} with {args.kernels} kernels, confirmed "
              f"by a run with exactly that arena); firmware flash {result.flash_bytes:,} B")
        return 0
    from mcugraph.tflite.tflm import allocations

    estimate = -(-allocations(data, args.model).total_bytes // ARENA_ALIGNMENT) * ARENA_ALIGNMENT
    note = f"kTensorArenaSize is an ESTIMATE for {target.name} (the 64-bit host interpreter's total), not measured"
    bundle.write_bundle(out, data, spec, calls, estimate, bundle.sample_inputs(spec), note)
    recipe = tflm_tree.recipe(tree, target, args.kernels)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mcugraph-firmware-") as work:
        firmware = build.build_firmware(tree, target, recipe, out, registrations, Path(work))
        size = firmware.elf.stat().st_size
    print(f"wrote {out}/: it builds for {target.name} ({size:,} B ELF), but no board runs {target.name} here, so "
          f"kTensorArenaSize {estimate:,} B is an estimate (the 64-bit host interpreter's whole arena), not a "
          "measurement")
    return 0
