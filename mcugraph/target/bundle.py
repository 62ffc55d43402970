"""The deployment bundle: a .tflite as C, ready to build with TFLite Micro.

``write_bundle`` writes into a folder:

- ``model_data.h/.cc``: the file as an aligned ``const`` array (flash, never copied to RAM);
- ``model_config.h``: the arena the model needs on the target (``kTensorArenaSize``), the operator count, and
  each input's and output's shape, type and quantisation as constants;
- ``op_resolver.h``: a ``MicroMutableOpResolver<N>`` registering exactly the model's operators, named from the
  TFLM tree's own ``micro_mutable_op_resolver.h``;
- ``model_input.h/.cc``: one sample input (bench writes the one it compares);
- ``main.cc``, ``platform.h``, ``platform_host.cc``: one inference, printing the outputs.

Nothing from the file becomes C text except numbers: tensor and model names are never written, so a hostile name
cannot break or inject code. Custom operators and builtins the tree's resolver has no ``Add`` method for are
refused by name.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mcugraph.errors import OutputPathError, TargetError
from mcugraph.memory.tflite_graph import read_model
from mcugraph.tflite import schema as tfl

FIRMWARE_DIR = Path(__file__).with_name("firmware")
COPIED = ("main.cc", "platform.h", "platform_host.cc")

# schema.TensorType value -> (C type of the TfLiteType enum, numpy dtype)
_TYPES = {0: ("kTfLiteFloat32", np.float32), 9: ("kTfLiteInt8", np.int8), 3: ("kTfLiteUInt8", np.uint8),
          7: ("kTfLiteInt16", np.int16), 2: ("kTfLiteInt32", np.int32), 6: ("kTfLiteBool", np.bool_)}


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    type_code: int
    scale: float
    zero_point: int

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_TYPES[self.type_code][1])

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the firmware needs to know about a .tflite, read from the file."""

    builtins: tuple[str, ...]  # distinct builtin operator names, in first-use order
    operator_count: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def model_spec(data: bytes, source: str = "model") -> ModelSpec:
    model = read_model(data, source)
    subgraph = model.subgraphs[0]
    builtins: list[str] = []
    for op in subgraph.operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = tfl.opcode_builtin(code)
        if builtin == tfl.schema.BuiltinOperator.CUSTOM:
            name = (code.customCode or b"").decode("ascii", "replace")[:40]
            raise TargetError(f"{source}: custom operator {name!r} cannot be registered in the firmware; only "
                              "TFLM builtin operators are supported")
        name = tfl.builtin_name(builtin)
        if name not in builtins:
            builtins.append(name)

    def spec(index: int) -> TensorSpec:
        tensor = subgraph.tensors[index]
        if int(tensor.type) not in _TYPES:
            raise TargetError(f"{source}: an input/output has TFLite type {int(tensor.type)}, which the bundle "
                              "does not handle (float32, int8, uint8, int16, int32, bool)")
        q = tensor.quantization
        scale = float(q.scale[0]) if q is not None and q.scale is not None and len(q.scale) else 0.0
        zero = int(q.zeroPoint[0]) if q is not None and q.zeroPoint is not None and len(q.zeroPoint) else 0
        return TensorSpec(tuple(int(d) for d in tensor.shape), int(tensor.type), scale, zero)

    return ModelSpec(tuple(builtins), len(subgraph.operators or []),
                     tuple(spec(i) for i in subgraph.inputs), tuple(spec(i) for i in subgraph.outputs))


def resolver_calls(spec: ModelSpec, methods: dict[str, tuple[str, str]], source: str = "model") -> list[str]:
    """The ``MicroMutableOpResolver`` method per builtin; an operator the tree cannot register is refused."""
    missing = [b for b in spec.builtins if b not in methods]
    if missing:
        raise TargetError(f"{source}: TFLite Micro's op resolver in this tree has no method for "
                          f"{', '.join(missing)}; the firmware cannot register these operators")
    return [methods[b][0] for b in spec.builtins]


def sample_inputs(spec: ModelSpec, seed: int = 0) -> list[np.ndarray]:
    """Deterministic inputs: uniform over the int8/uint8 range, or over [0, 1) for float inputs."""
    rng = np.random.default_rng(seed)
    samples = []
    for t in spec.inputs:
        if t.dtype.kind == "f":
            samples.append(rng.random(t.shape, dtype=np.float32))
        elif t.dtype == np.bool_:
            samples.append(rng.integers(0, 2, t.shape).astype(np.bool_))
        else:
            info = np.iinfo(t.dtype)
            low, high = max(info.min, -128), min(info.max, 127)
            samples.append(rng.integers(low, high + 1, t.shape).astype(t.dtype))
    return samples


def write_bundle(out_dir: str | os.PathLike, data: bytes, spec: ModelSpec, calls: Sequence[str], arena_bytes: int,
                 inputs: Sequence[np.ndarray], note: str) -> Path:
    """Write the bundle into ``out_dir`` whole: a temp folder beside it, renamed into place (an existing
    bundle there is replaced only once the new one is complete)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"{out}: exists and is not a folder; choose another -o")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_files(tmp, data, spec, calls, arena_bytes, inputs, note)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "bundle")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputPathError(f"{out}: cannot write the bundle there ({e.strerror}); choose another -o") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_files(out: Path, data: bytes, spec: ModelSpec, calls, arena_bytes, inputs, note) -> None:
    comment = "// " + " ".join(note.split()).replace("*/", "* /") + "\n"  # note is mcugraph's own text
    (out / "model_data.h").write_text(
        "#ifndef MCUGRAPH_MODEL_DATA_H_\n#define MCUGRAPH_MODEL_DATA_H_\n\n"
        "extern const unsigned char g_model[];\nextern const unsigned int g_model_len;\n\n#endif\n")
    (out / "model_data.cc").write_text(
        comment + '#include "model_data.h"\n\n'
        '// Aligned for TFLM, which reads the flatbuffer in place; const, so it stays in flash.\n'
        f"alignas(16) const unsigned char g_model[] = {{\n{_c_bytes(data)}\n}};\n"
        f"const unsigned int g_model_len = {len(data)};\n")
    (out / "model_config.h").write_text(_config(spec, arena_bytes, comment))
    (out / "op_resolver.h").write_text(
        "#ifndef MCUGRAPH_OP_RESOLVER_H_\n#define MCUGRAPH_OP_RESOLVER_H_\n\n"
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"\n\n'
        "// Exactly the model's operators: the linker keeps only their kernels.\n"
        f"using ModelOpResolver = tflite::MicroMutableOpResolver<{len(calls)}>;\n\n"
        "inline TfLiteStatus RegisterOps(ModelOpResolver& resolver) {\n"
        + "".join(f"  if (resolver.{call}() != kTfLiteOk) return kTfLiteError;\n" for call in calls)
        + "  return kTfLiteOk;\n}\n\n#endif\n")
    write_inputs(out, spec, inputs)
    for name in COPIED:
        shutil.copyfile(FIRMWARE_DIR / name, out / name)


def write_inputs(out: Path, spec: ModelSpec, inputs: Sequence[np.ndarray]) -> None:
    if len(inputs) != len(spec.inputs):
        raise TargetError(f"the model has {len(spec.inputs)} inputs, {len(inputs)} samples were given")
    arrays = []
    for i, (t, x) in enumerate(zip(spec.inputs, inputs, strict=True)):
        raw = np.ascontiguousarray(x, dtype=t.dtype).tobytes()
        if len(raw) != t.nbytes:
            raise TargetError(f"input {i}: {len(raw)} bytes given, the model's input {list(t.shape)} needs {t.nbytes}")
        arrays.append(f"alignas(16) const unsigned char g_input_{i}[] = {{\n{_c_bytes(raw)}\n}};\n")
    n = len(spec.inputs)
    (out / "model_input.h").write_text(
        "#ifndef MCUGRAPH_MODEL_INPUT_H_\n#define MCUGRAPH_MODEL_INPUT_H_\n\n#include <cstddef>\n\n"
        f"extern const unsigned char* const g_inputs[{n}];\nextern const size_t g_input_bytes[{n}];\n\n#endif\n")
    (out / "model_input.cc").write_text(
        '#include "model_input.h"\n\n' + "".join(arrays)
        + f"const unsigned char* const g_inputs[{n}] = {{{', '.join(f'g_input_{i}' for i in range(n))}}};\n"
        + f"const size_t g_input_bytes[{n}] = {{{', '.join(str(t.nbytes) for t in spec.inputs)}}};\n")


def _config(spec: ModelSpec, arena_bytes: int, comment: str) -> str:
    lines = [comment.rstrip("\n"), "#ifndef MCUGRAPH_MODEL_CONFIG_H_", "#define MCUGRAPH_MODEL_CONFIG_H_", "",
             "#include <cstddef>", "#include <cstdint>", "", '#include "tensorflow/lite/c/common.h"', "",
             "// The whole arena TFLM needs for this model on the bundle's target and kernel set: planned",
             "// activations and scratch, the persistent tail, 16-byte alignment.",
             f"constexpr size_t kTensorArenaSize = {int(arena_bytes)};",
             f"constexpr uint32_t kOperatorCount = {max(spec.operator_count, 1)};",
             f"constexpr size_t kInputCount = {len(spec.inputs)};",
             f"constexpr size_t kOutputCount = {len(spec.outputs)};"]
    for kind, tensors in (("Input", spec.inputs), ("Output", spec.outputs)):
        for i, t in enumerate(tensors):
            dims = ", ".join(str(d) for d in t.shape) or "1"
            lines += [f"constexpr int k{kind}{i}Dims[] = {{{dims}}};",
                      f"constexpr TfLiteType k{kind}{i}Type = {_TYPES[t.type_code][0]};",
                      f"constexpr float k{kind}{i}Scale = {float(np.float32(t.scale))!r}f;",
                      f"constexpr int32_t k{kind}{i}ZeroPoint = {t.zero_point};"]
    return "\n".join(lines + ["", "#endif", ""])


def _c_bytes(data: bytes, per_line: int = 16) -> str:
    rows = (", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) for i in range(0, len(data), per_line))
    return ",\n".join("  " + row for row in rows) or "  0"
