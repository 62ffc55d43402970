"""The targets mcugraph builds for: a Cortex-M core, its compiler flags (through TFLM's own Makefile), and the
QEMU board that runs it, or none.

Every core gets its own TFLM build: a library built for M4 uses DSP instructions an M3 lacks. ``host`` is the
machine mcugraph runs on (TFLM's ``linux`` target): the bundle compiled natively, for checking it builds and
computes the same bytes without an emulator.
"""

from __future__ import annotations

import dataclasses

from mcugraph.errors import TargetError

KERNEL_SETS = ("cmsis-nn", "reference")
DEFAULT_TARGET = "cortex-m4"
DEFAULT_KERNELS = "cmsis-nn"

MIB = 1 << 20


@dataclasses.dataclass(frozen=True)
class Board:
    """A QEMU machine and the memory the firmware is linked into."""

    machine: str
    flash: tuple[int, int]  # (origin, bytes): code, read-only data
    ram: tuple[int, int]  # (origin, bytes): .data, .bss, heap, stack
    clock_hz: int  # the core clock SysTick counts


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    tflm_target: str  # TFLM Makefile TARGET
    tflm_arch: str  # TFLM Makefile TARGET_ARCH ("" for the host)
    cpu: str  # what the help and reports call it
    board: Board | None  # None: builds only (no QEMU board runs it) or runs natively (host)
    pointer_bytes: int = 4

    @property
    def runs(self) -> bool:
        return self.board is not None or self.is_host

    @property
    def is_host(self) -> bool:
        return self.tflm_target == "linux"


# MPS2 FPGA images: 4 MiB of ZBT SSRAM at 0 (code) and 4 MiB at 0x20000000 (data), a 25 MHz core clock.
_MPS2 = dict(flash=(0x00000000, 4 * MIB), ram=(0x20000000, 4 * MIB), clock_hz=25_000_000)

TARGETS = {
    t.name: t
    for t in (
        Target("cortex-m3", "cortex_m_generic", "cortex-m3", "Cortex-M3", Board("mps2-an385", **_MPS2)),
        Target("cortex-m4", "cortex_m_generic", "cortex-m4+fp", "Cortex-M4F", Board("mps2-an386", **_MPS2)),
        Target("cortex-m7", "cortex_m_generic", "cortex-m7+fp", "Cortex-M7F", Board("mps2-an500", **_MPS2)),
        # Built, not run: the M0+ board QEMU has (micro:bit) has 16 KiB of RAM, and the M33/M55 boards boot
        # into the secure world with a memory map this startup code does not set up.
        Target("cortex-m0plus", "cortex_m_generic", "cortex-m0plus", "Cortex-M0+", None),
        Target("cortex-m33", "cortex_m_generic", "cortex-m33", "Cortex-M33", None),
        Target("cortex-m55", "cortex_m_generic", "cortex-m55", "Cortex-M55", None),
        Target("host", "linux", "", "this machine (x86-64, TFLM's linux target)", None, pointer_bytes=8),
    )
}


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise TargetError(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}") from None


def check_kernels(kernels: str) -> str:
    if kernels not in KERNEL_SETS:
        raise TargetError(f"unknown kernel set {kernels!r}; choose one of {', '.join(KERNEL_SETS)}")
    return kernels


def describe() -> str:
    """One line per target for --help: which run under QEMU and which only build."""
    lines = []
    for t in TARGETS.values():
        where = f"runs on QEMU {t.board.machine}" if t.board else ("runs natively" if t.is_host else "builds only")
        lines.append(f"{t.name} ({t.cpu}): {where}")
    return "; ".join(lines)
