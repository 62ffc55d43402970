"""The TFLite flatbuffer schema classes, as shipped inside ``tflite-micro`` (TensorFlow is not a dependency).

Use ``schema.ModelT``/``schema.OperatorT``... (the object API) to read, edit and write models:
``model = schema.ModelT.InitFromPackedBuf(data, 0)`` and :func:`pack` to serialise.
"""

from __future__ import annotations

import flatbuffers

try:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
except ImportError:  # pragma: no cover - the LiteRT copy is the same schema
    from ai_edge_litert import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"


def is_tflite(data: bytes) -> bool:
    """True when ``data`` carries the TFLite file identifier (bytes 4..8 of a flatbuffer)."""
    return len(data) >= 8 and data[4:8] == FILE_IDENTIFIER


def read(data: bytes) -> schema.ModelT:
    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


def pack(model: schema.ModelT) -> bytes:
    """Serialise a ``ModelT`` with the TFLite file identifier."""
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def builtin_name(code: int) -> str:
    """``3`` -> ``"CONV_2D"``."""
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return names.get(code, f"BUILTIN_{code}")


def opcode_builtin(opcode: schema.OperatorCodeT) -> int:
    # Newer files put codes >= 127 only in builtinCode; older ones only in deprecatedBuiltinCode.
    return max(int(opcode.builtinCode or 0), int(opcode.deprecatedBuiltinCode or 0))
