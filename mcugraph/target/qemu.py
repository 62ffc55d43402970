"""Run firmware on an emulated board (``qemu-system-arm``) or natively (the host target), and read its lines.

QEMU runs with ``-icount shift=0``: virtual time advances 1 ns per instruction, so the board's SysTick counts
instructions; QEMU models no caches, wait states or pipeline, so these are instructions executed, never cycles.
Output arrives over Arm semihosting; the firmware prints ``mcugraph: ...`` lines (main.cc) and ends the run
itself. A run that exceeds its time limit is killed; a fault, a failed allocation or a missing ``done`` line is
an error naming what the firmware said last.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from pathlib import Path

from mcugraph.errors import TargetError
from mcugraph.target.targets import Target

RUN_TIMEOUT_S = 300.0


@dataclasses.dataclass(frozen=True)
class Run:
    lines: tuple[str, ...]  # the firmware's "mcugraph: " lines, prefix removed
    seconds: float


def run_firmware(target: Target, elf: Path, timeout_s: float = RUN_TIMEOUT_S) -> Run:
    if target.is_host:
        args = [str(elf)]
    elif target.board is None:
        raise TargetError(f"{target.name}: no emulated board runs this core here (it builds only); choose one of "
                          "the targets that run under QEMU (see --help)")
    else:
        if not shutil.which("qemu-system-arm"):
            raise TargetError("qemu-system-arm not found: install QEMU (apt-get install qemu-system-arm)")
        args = ["qemu-system-arm", "-M", target.board.machine, "-nographic", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf)]
    start = time.monotonic()
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise TargetError(f"{target.name}: the firmware did not finish within {timeout_s:.0f} s under "
                          f"{args[0]} (hung or far too slow); it was stopped") from e
    seconds = time.monotonic() - start
    # QEMU writes semihosting output to its stderr, a native run to stdout.
    text = out.stdout + "\n" + out.stderr
    lines = tuple(line[len("mcugraph: "):] for line in text.splitlines() if line.startswith("mcugraph: "))
    errors = [line[len("error "):] for line in lines if line.startswith("error ")]
    if errors:
        raise TargetError(f"{target.name}: the firmware failed: {errors[0]}")
    if "done" not in lines or out.returncode != 0:
        said = (text.strip().splitlines() or ["nothing"])[-1][:200]
        raise TargetError(f"{target.name}: the firmware stopped without finishing (exit status {out.returncode}); "
                          f"its last output: {said}")
    return Run(lines, seconds)
