"""Where the firmware's bytes go, read from the linker's map file: flash split into the model array, TFLM (the
interpreter and its kernels), CMSIS-NN, the application (main, platform, sample input) and the C/C++ runtime;
RAM into the arena, the stack, the heap, the bench's profiler and the rest of .data/.bss.

Only what survived ``--gc-sections`` is in the map's memory part, so each figure is what is really linked.
``.data`` counts twice, as the linker places it: its initial values in flash and the variables in RAM.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

FLASH_SECTIONS = (".text", ".ARM.exidx", ".data")
RAM_SECTIONS = (".data", ".bss")

_INPUT = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(\S.*))?$")


@dataclasses.dataclass(frozen=True)
class MemorySplit:
    flash: dict[str, int]  # role -> bytes
    ram: dict[str, int]

    @property
    def flash_bytes(self) -> int:
        return sum(self.flash.values())

    @property
    def ram_bytes(self) -> int:
        return sum(self.ram.values())


def memory_split(map_file: Path, role: Callable[[str], str]) -> MemorySplit:
    """``role(object path)`` names the part an input file belongs to (model, tflm, cmsis-nn, application,
    runtime); fill between input sections is counted as the runtime's alignment padding."""
    flash: dict[str, int] = {}
    ram: dict[str, int] = {"arena": 0, "stack": 0, "heap": 0, "profiler": 0, "other": 0}
    text = map_file.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    section = None
    pending_name = None
    for line in text[start:].splitlines():
        if line and not line[0].isspace():
            section = line.split()[0]
            if section in (".heap", ".stack"):
                match = re.match(r"^\S+\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", line)
                if match:
                    ram[section[1:]] += int(match.group(1), 16)
            pending_name = None
            continue
        match = _INPUT.match(line)
        if not match:
            stripped = line.strip()
            pending_name = stripped if stripped.startswith(".") and " " not in stripped else None
            continue
        name, size, path = match.group(1) or pending_name, int(match.group(3), 16), match.group(4)
        pending_name = None
        if size == 0 or section not in FLASH_SECTIONS + RAM_SECTIONS:
            continue
        if name == "*fill*":
            part = "runtime"
        elif path is None:
            continue
        else:
            part = role(path.strip())
        if section in FLASH_SECTIONS:
            flash[part] = flash.get(part, 0) + size
        if section in RAM_SECTIONS:
            if name and "g_arena" in name:
                ram["arena"] += size
            elif name and "profiler" in name:
                ram["profiler"] += size
            else:
                ram["other"] += size
    return MemorySplit(flash, ram)
