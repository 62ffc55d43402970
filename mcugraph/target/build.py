"""Compile TFLM for a target and link a bundle into firmware, with an object cache.

Objects are cached per source under ``<cache>/objects/<recipe key>/`` (the key covers the tree's revision, the
target, the kernel set and the flags), so the framework compiles once per target and kernel set, each operator's
kernel the first time a model uses it, and a second model only compiles its bundle and links. An object is
written to a temp name and renamed, so parallel builds (pytest workers) share the cache safely; a failed compile
leaves nothing behind. The bundle itself compiles with ``-Werror`` on top of TFLM's warning flags.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
import re
import subprocess
import tempfile
from pathlib import Path

from mcugraph.errors import TargetError
from mcugraph.target.bundle import FIRMWARE_DIR
from mcugraph.target.targets import Target
from mcugraph.target.tflm_tree import Recipe, TflmTree, cache_root

STACK_BYTES = 32 * 1024
HEAP_BYTES = 8 * 1024
COMPILE_TIMEOUT_S = 600


@dataclasses.dataclass(frozen=True)
class Firmware:
    elf: Path
    map_file: Path
    compiled: int  # sources compiled by this build (0: everything came from the cache)
    sources: dict[str, str]  # cached object path -> the TFLM / CMSIS-NN source it was compiled from
    bundle_objects: dict[str, str]  # cached object path -> the bundle or board source (main.cc, model_data.cc...)


def build_firmware(tree: TflmTree, target: Target, recipe: Recipe, bundle: Path, registrations: list[str],
                   out_dir: Path, arena_bytes: int | None = None, find_arena: bool = False) -> Firmware:
    """Compile what the bundle needs (cached) and link ``out_dir/firmware.elf``. ``registrations`` are the
    ``Register_X`` functions of the model's operators; ``arena_bytes`` overrides the bundle's arena size;
    ``find_arena`` makes the firmware also search the smallest arena that allocates (main.cc)."""
    missing = [r for r in registrations if r not in recipe.registrations]
    if missing:
        raise TargetError(f"TFLite Micro in {tree.root} has no kernel source defining {', '.join(missing)} for "
                          f"{target.name}; the firmware cannot run these operators")
    objects_dir = cache_root() / "objects" / recipe.key
    sources = list(recipe.framework) + sorted({recipe.registrations[r] for r in registrations})
    jobs = {s: _object(objects_dir, s) for s in sources}
    compiled = _compile_all(tree, recipe, jobs)
    # CMSIS-NN: the functions the kernels call, and the ones those call, by the kernels' undefined symbols.
    wanted = _undefined(recipe, list(jobs.values()))
    while True:
        new = {recipe.third_party[n] for n in wanted if n in recipe.third_party} - set(jobs)
        if not new:
            break
        batch = {s: _object(objects_dir, s) for s in sorted(new)}
        compiled += _compile_all(tree, recipe, batch)
        jobs.update(batch)
        wanted = _undefined(recipe, list(batch.values()))

    out_dir.mkdir(parents=True, exist_ok=True)
    board_files = [] if target.is_host else ["startup.cc", "platform_semihost.cc"]
    bundle_sources = [bundle / n for n in ("main.cc", "model_data.cc", "model_input.cc")]
    bundle_sources += [FIRMWARE_DIR / n for n in board_files] if board_files else [bundle / "platform_host.cc"]
    defines = [f"-DMCUGRAPH_ARENA_BYTES={int(arena_bytes)}"] if arena_bytes else []
    defines += ["-DMCUGRAPH_FIND_ARENA"] if find_arena else []
    bundle_objects = [_bundle_object(tree, recipe, source, bundle, defines) for source in bundle_sources]

    elf = out_dir / "firmware.elf"
    map_file = out_dir / "firmware.map"
    link = [recipe.cxx, *recipe.link_flags, "-Wl,--gc-sections", f"-Wl,-Map={map_file}", "-o", str(elf)]
    if not target.is_host:
        ld = out_dir / "cortex_m.ld"
        ld.write_text(_linker_script(target))
        link += ["-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", f"-T{ld}"]
    link += [str(o) for o in bundle_objects] + [str(o) for o in jobs.values()] + ["-lm"]
    _run(link, tree.root, "linking the firmware")
    return Firmware(elf, map_file, compiled, {str(o): s for s, o in jobs.items()},
                    {str(o): s.name for o, s in zip(bundle_objects, bundle_sources, strict=True)})


def _bundle_object(tree: TflmTree, recipe: Recipe, source: Path, bundle: Path, defines: list[str]) -> Path:
    """Compile one bundle source with -Werror, cached by its text, the bundle headers it includes and the flags:
    bench's two builds differ only in main.cc, so a large model array compiles once."""
    text = source.read_bytes()
    key = hashlib.sha256(text + repr((recipe.key, defines)).encode())
    for header in sorted(set(_LOCAL_INCLUDE.findall(text.decode(errors="replace")))):
        for folder in (bundle, FIRMWARE_DIR):
            if (folder / header).is_file():
                key.update(header.encode() + (folder / header).read_bytes())
                break
    obj = cache_root() / "bundles" / f"{key.hexdigest()[:20]}_{source.stem}.o"
    if not obj.is_file():
        obj.parent.mkdir(parents=True, exist_ok=True)
        _compile(tree, recipe, str(source), obj, ["-Werror", *defines, f"-I{bundle}", f"-I{FIRMWARE_DIR}"],
                 f"compiling {source.name}")
    return obj

_LOCAL_INCLUDE = re.compile(r'^#include "([^"/]+)"', re.M)


def _object(objects_dir: Path, source: str) -> Path:
    return objects_dir / (hashlib.sha256(source.encode()).hexdigest()[:10] + "_" + Path(source).stem + ".o")


def _undefined(recipe: Recipe, objects: list[Path]) -> set[str]:
    if not recipe.third_party:
        return set()
    nm = recipe.cxx[: -len("g++")] + "nm" if recipe.cxx.endswith("g++") else "nm"
    out = subprocess.run([nm, "-u", *map(str, objects)], capture_output=True, text=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip().startswith("U ")}


def _linker_script(target: Target) -> str:
    board = target.board
    if board is None:  # builds only: link for a generous generic memory map
        flash, ram = (0x00000000, 16 << 20), (0x20000000, 16 << 20)
    else:
        flash, ram = board.flash, board.ram
    text = (FIRMWARE_DIR / "cortex_m.ld").read_text()
    for key, value in (("FLASH_ORIGIN", flash[0]), ("FLASH_LENGTH", flash[1]), ("RAM_ORIGIN", ram[0]),
                       ("RAM_LENGTH", ram[1]), ("STACK_BYTES", STACK_BYTES), ("HEAP_BYTES", HEAP_BYTES)):
        text = text.replace(f"@{key}@", f"0x{value:x}")
    return text


def _compile_all(tree: TflmTree, recipe: Recipe, jobs: dict[str, Path]) -> int:
    """Compile the sources whose objects are not cached; returns how many were compiled."""
    todo = [(s, o) for s, o in jobs.items() if not o.is_file()]
    if not todo:
        return 0
    todo[0][1].parent.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(len(todo), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(_compile, tree, recipe, s, o, [], f"compiling TFLM's {s}") for s, o in todo]:
            future.result()  # the first failure raises; the rest finish or fail without leaving objects
    return len(todo)


def _compile(tree: TflmTree, recipe: Recipe, source: str, obj: Path, extra: list[str], what: str) -> None:
    """Compile ``source`` to ``obj`` through a temp file in the same folder, so a failed or parallel compile
    never leaves a partial object under the cached name."""
    is_c = source.endswith(".c")
    fd, tmp = tempfile.mkstemp(suffix=".o.tmp", dir=obj.parent)
    os.close(fd)
    try:
        _run([recipe.cc if is_c else recipe.cxx, *(recipe.c_flags if is_c else recipe.cxx_flags), *extra, "-c",
              source, "-o", tmp], tree.root, what)
        os.replace(tmp, obj)
    finally:
        Path(tmp).unlink(missing_ok=True)

def _run(args: list[str], cwd: Path, what: str) -> None:
    try:
        out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except FileNotFoundError as e:
        raise TargetError(f"{args[0]} not found while {what}: install the toolchain (apt-get install "
                          "gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)") from e
    except subprocess.TimeoutExpired as e:
        raise TargetError(f"{what} took over {COMPILE_TIMEOUT_S} s; the build was stopped") from e
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        errors = [line for line in lines if ("error" in line or "undefined reference" in line)
                  and "collect2" not in line and not line.rstrip().endswith(":")] or lines
        first = " ".join((errors or ["no message"])[0].split())[:300]
        raise TargetError(f"build error {what}: {first}")

