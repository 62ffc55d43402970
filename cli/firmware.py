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
    # dest is not "output": the CLI's output-path check refuses folders, and a bundle is one (replaced whole).
    parser.add_argument("-o", "--output", dest="bundle_dir", required=True, metavar="DIR",
                        help="the folder to write (replaced whole once the new bundle is complete)")
    add_target_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcugraph.cli.bench import read_tflite

    print(write_firmware(read_tflite(args.model), Path(args.bundle_dir), args.target, args.kernels, args.tflm_root,
                         args.model))
    return 0


def write_firmware(data: bytes, out: Path, target_name: str, kernels: str, tflm_root: str | None,
                   source: str) -> str:
    """Write the bundle of ``data`` into ``out``; returns the line saying what was written and how the arena
    constant was found (measured and confirmed, or estimated for a target that only builds)."""
    import tempfile

    from mcugraph.memory.inplace import arena_bytes
    from mcugraph.target import build, bundle, targets, tflm_tree
    from mcugraph.target.bench import bench, prepare
    from mcugraph.tflite.tflm import allocations

    if targets.target(target_name).runs:  # bench checks everything first and writes only a confirmed bundle
        result = bench(data, target_name, kernels, tflm_root, source=source, bundle_dir=out)
        return (f"wrote {out}/: {len({o.op for o in result.operators})} operator kinds, kTensorArenaSize "
                f"{result.arena_bytes:,} B (the smallest arena TFLM allocates in on {result.target} with {kernels} "
                f"kernels, confirmed by a run with exactly that arena; arena_used_bytes() "
                f"{result.arena_used_bytes:,} B); firmware flash {result.flash_bytes:,} B")
    target, tree, spec, calls, registrations = prepare(data, tflm_root, target_name, kernels, source)
    estimate = arena_bytes(allocations(data, source).total_bytes)
    note = f"kTensorArenaSize is an ESTIMATE for {target.name} (the 64-bit host interpreter's total), not measured"
    inputs = bundle.sample_inputs(spec)
    recipe = tflm_tree.recipe(tree, target, kernels)
    with tempfile.TemporaryDirectory(prefix="mcugraph-firmware-") as work:
        built = bundle.write_bundle(Path(work) / "bundle", data, spec, calls, estimate, inputs, note)
        size = build.build_firmware(tree, target, recipe, built, registrations, Path(work) / "build").elf.stat().st_size
    bundle.write_bundle(out, data, spec, calls, estimate, inputs, note)  # only a bundle that built replaces out
    return (f"wrote {out}/: it builds for {target.name} ({size:,} B ELF), but no board runs {target.name} here, so "
            f"kTensorArenaSize {estimate:,} B is an estimate (the 64-bit host interpreter's whole arena), not a "
            "measurement")
