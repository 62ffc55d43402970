"""The TFLite builtins the bundled TensorFlow Lite Micro build has a kernel for.

TFLM registers a kernel per builtin through a function ``tflite::micro::Register_<BUILTIN>()``; the Python
interpreter of the ``tflite-micro`` wheel links every one its op resolver adds, so the exported symbols of its
``_runtime.so`` are exactly the kernels it can run. Reading a shared library on every import would be fragile and
slow, so the list is committed (``_tflm_builtins.py``, generated) and ``tests/test_ops_table.py`` fails when the
installed wheel disagrees. Regenerate it with::

    python -m mcugraph.ops.tflm_kernels > mcugraph/ops/_tflm_builtins.py

``RELU_N1_TO_1`` is absent on purpose: TFLM runs it only as a fused activation, it has no kernel of its own.
"""

from __future__ import annotations

import pathlib
import re

from mcugraph.ops._tflm_builtins import BUILTINS as TFLM_BUILTINS

__all__ = ["TFLM_BUILTINS", "registered_in_wheel"]

_HEADER = '"""TFLite builtins with a kernel in the bundled TFLM. Generated: python -m mcugraph.ops.tflm_kernels"""'


def registered_in_wheel() -> frozenset[str] | None:
    """The builtins whose ``Register_`` symbol the installed ``tflite_micro`` runtime exports, or None when the
    wheel (or its shared library) is not there. Custom ops (signal processing, Ethos-U) are left out."""
    try:
        import tflite_micro
    except ImportError:
        return None
    library = pathlib.Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "_runtime.so"
    if not library.is_file():
        return None
    from mcugraph.tflite.schema import schema

    builtins = {name for name in vars(schema.BuiltinOperator) if not name.startswith("_")}
    # Itanium mangling of tflite::micro::Register_<NAME>(): _ZN6tflite5micro<length>Register_<NAME>Ev
    found = re.findall(rb"_ZN6tflite5micro\d+Register_([A-Z0-9_]+)Ev", library.read_bytes())
    return frozenset(name.decode() for name in found) & builtins


def main() -> None:
    found = registered_in_wheel()
    if found is None:
        raise SystemExit("tflite_micro is not installed: cannot read its registered kernels")
    print(_HEADER, "", "BUILTINS = frozenset({", *(f'    "{name}",' for name in sorted(found)), "})", sep="\n")


if __name__ == "__main__":
    main()
