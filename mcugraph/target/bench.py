"""``bench``: a .tflite built into firmware for a target and kernel set, run on the emulated chip, measured.

The firmware is built twice: first with a generous arena, to read what TFLM reports it uses on the target
(``arena_used_bytes()``: 32-bit pointers, the kernel set's scratch) and to search the smallest arena, a multiple
of 16 bytes, in which it allocates — which can be larger, since TFLM's planning takes temporary memory it frees
before reporting; then with exactly that size, the bundle's ``kTensorArenaSize``, and run again, which confirms
the constant. Outputs are compared byte for byte with the host ``tflite-micro`` interpreter (reference kernels) on the
same input (integer outputs must match exactly with reference kernels; float arithmetic on another FPU and
compiler may differ in the last bits, which is reported, not refused). Instructions come from SysTick under ``-icount shift=0``, scaled by the instructions per tick the
firmware measured on a loop of known length: instructions executed, not cycles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

from mcugraph.errors import TargetError
from mcugraph.target import build, bundle, qemu, targets, tflm_tree
from mcugraph.target.elf_sizes import memory_split

PROBE_ARENA_BYTES = 2 * 1024 * 1024  # the first build's arena: the MPS2 boards have 4 MiB of data RAM


@dataclasses.dataclass(frozen=True)
class Operator:
    index: int
    op: str
    instructions: int


@dataclasses.dataclass(frozen=True)
class BenchResult:
    model: str
    model_sha256: str  # of the .tflite: a report joins these figures only onto the same file
    target: str
    kernels: str
    file_bytes: int
    arena_used_bytes: int  # arena_used_bytes() on the chip
    arena_bytes: int  # the bundle's kTensorArenaSize: the smallest arena that allocates, confirmed by a run
    outputs_match_host: bool
    output_mismatch: list[dict]  # per differing output: index, differing elements, largest difference
    instructions: int | None  # per inference; None where the target has no tick source (host)
    instructions_per_tick: float | None
    operators: list[Operator]
    arena_parts: dict[str, int]  # the recording allocator's split: head, tail, and the tail by kind (bytes)
    flash: dict[str, int]  # linked ELF, by part
    ram: dict[str, int]
    stack_used_bytes: int
    build_seconds: float
    run_seconds: float
    compiled_sources: int

    @property
    def flash_bytes(self) -> int:
        return sum(self.flash.values())

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["flash_bytes"] = self.flash_bytes
        out["ram_bytes"] = sum(self.ram.values())
        return out


def prepare(data: bytes, tflm_root: str | None, target_name: str, kernels: str, source: str):
    """Everything a bundle needs that can fail before any build: target, kernels, tree, operators."""
    target = targets.target(target_name)
    targets.check_kernels(kernels)
    tree = tflm_tree.find_tree(tflm_root)
    tflm_tree.toolchain_dir(target)  # before any work: a missing compiler is one clear line
    spec = bundle.model_spec(data, source)
    methods = tflm_tree.resolver_methods(tree)
    calls = bundle.resolver_calls(spec, methods, source)
    registrations = [methods[b][1] for b in spec.builtins]
    if target.is_host and kernels == "cmsis-nn":
        raise TargetError("the host target builds only the reference kernels (CMSIS-NN is for Arm cores); "
                          "use --kernels reference")
    return target, tree, spec, calls, registrations


def bench(data: bytes, target_name: str = targets.DEFAULT_TARGET, kernels: str = targets.DEFAULT_KERNELS,
          tflm_root: str | None = None, source: str = "model", seed: int = 0,
          bundle_dir: Path | None = None) -> BenchResult:
    """Build, run and measure ``data`` on ``target_name``; ``bundle_dir`` keeps the confirmed bundle."""
    target, tree, spec, calls, registrations = prepare(data, tflm_root, target_name, kernels, source)
    if not target.runs:
        raise TargetError(f"{target.name}: no emulated board runs this core here (it builds only); bench needs a "
                          f"running target: {', '.join(t.name for t in targets.TARGETS.values() if t.runs)}")
    recipe = tflm_tree.recipe(tree, target, kernels)
    inputs = bundle.sample_inputs(spec, seed)
    from mcugraph.tflite.tflm import run_tflm  # the host interpreter: the bytes the chip must reproduce

    expected = run_tflm(data, inputs, source)
    note = _safe_note(f"{Path(source).name[:60]} for {target.name}, {kernels} kernels; written by mcugraph")
    with tempfile.TemporaryDirectory(prefix="mcugraph-bench-") as work:
        work = Path(work)
        probe = bundle.write_bundle(work / "bundle", data, spec, calls, PROBE_ARENA_BYTES, inputs, note)
        start = time.monotonic()
        first_build = build.build_firmware(tree, target, recipe, probe, registrations, work / "probe",
                                           find_arena=True)
        first = qemu.run_firmware(target, first_build.elf)
        arena = _field(first.lines, "arena_min")
        parts = _arena_parts(first.lines)
        final = bundle.write_bundle(work / "final", data, spec, calls, arena, inputs, note)
        firmware = build.build_firmware(tree, target, recipe, final, registrations, work / "build")
        build_seconds = time.monotonic() - start - first.seconds
        run = qemu.run_firmware(target, firmware.elf)  # fails if kTensorArenaSize is not enough
        split = memory_split(firmware.map_file, _roles(firmware))
        if bundle_dir is not None:  # only a confirmed bundle replaces the user's folder
            bundle.write_bundle(bundle_dir, data, spec, calls, arena, inputs, note)
    outputs = _outputs(run.lines, spec)
    mismatch = _compare(outputs, expected)
    per_tick = _per_tick(run.lines) if not target.is_host else None
    ops = [line.split() for line in run.lines if line.startswith("op ")]
    operators = [Operator(int(i), op, round(int(t) * per_tick) if per_tick else 0) for _, i, op, t in ops]
    ticks = _field(run.lines, "ticks")
    return BenchResult(
        model=Path(source).name, model_sha256=hashlib.sha256(data).hexdigest(), target=target.name,
        kernels=kernels, file_bytes=len(data),
        arena_used_bytes=_field(run.lines, "arena_used"), arena_bytes=arena,
        outputs_match_host=not mismatch, output_mismatch=mismatch,
        instructions=round(ticks * per_tick) if per_tick else None, instructions_per_tick=per_tick,
        operators=operators, arena_parts=parts, flash=split.flash, ram=split.ram,
        stack_used_bytes=_field(run.lines, "stack_used"),
        build_seconds=round(build_seconds, 2), run_seconds=round(first.seconds + run.seconds, 2),
        compiled_sources=first_build.compiled + firmware.compiled)


def _safe_note(note: str) -> str:
    return "".join(c if c.isalnum() or c in " .,_-+" else "_" for c in note)


def _field(lines, name: str) -> int:
    for line in lines:
        words = line.split()
        if words and words[0] == name:
            return int(words[1])
    raise TargetError(f"the firmware printed no '{name}' line; is the bundle's main.cc from this mcugraph?")


def _arena_parts(lines) -> dict[str, int]:
    parts: dict[str, int] = {}
    for line in lines:
        words = line.split()
        if words[0] == "recorded_split":
            parts["head"], parts["tail"] = int(words[1]), int(words[2])
        elif words[0] == "recorded":
            parts[words[1]] = int(words[2])
    return parts


def _per_tick(lines) -> float | None:
    for line in lines:
        words = line.split()
        if words[0] == "calibrate" and int(words[2]) > 0:
            return round(int(words[1]) / int(words[2]), 2)  # the loop's ends cost a tick either way
    return None


def _outputs(lines, spec: bundle.ModelSpec) -> list[np.ndarray]:
    found: dict[int, np.ndarray] = {}
    for line in lines:
        words = line.split()
        if words[0] == "output":
            index, size = int(words[1]), int(words[2])
            raw = bytes.fromhex("".join(words[3:]))
            if len(raw) != size or index >= len(spec.outputs):
                raise TargetError(f"the firmware printed a malformed output {index} ({len(raw)} of {size} bytes)")
            t = spec.outputs[index]
            found[index] = np.frombuffer(raw, dtype=t.dtype).reshape(t.shape)
    if sorted(found) != list(range(len(spec.outputs))):
        raise TargetError(f"the firmware printed {len(found)} of the model's {len(spec.outputs)} outputs")
    return [found[i] for i in range(len(spec.outputs))]


def _compare(outputs: list[np.ndarray], expected: list[np.ndarray]) -> list[dict]:
    mismatch = []
    for i, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        want = np.asarray(want).reshape(got.shape)
        if got.tobytes() != want.astype(got.dtype).tobytes():
            diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
            mismatch.append({"output": i, "elements": int(np.count_nonzero(diff)), "of": int(got.size),
                             "max_abs_diff": float(diff.max()), "float": got.dtype.kind == "f"})
    return mismatch


def _roles(firmware: build.Firmware):
    def role(path: str) -> str:
        if path in firmware.bundle_objects:
            return "model" if firmware.bundle_objects[path] == "model_data.cc" else "application"
        if path in firmware.sources:
            return "cmsis-nn" if firmware.sources[path].endswith(".c") else "tflm"
        return "runtime"

    return role
