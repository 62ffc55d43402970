"""Write output files whole or not at all: a temp file in the same folder, then ``os.replace``.

:func:`check_output_path` is the CLI's one check of every output path before any work starts: an empty path, a
folder, a path under a file, a folder mcugraph cannot write into, or the command's own input file is refused with
:class:`~mcugraph.errors.OutputPathError`. A missing parent folder is created (like ``mkdir -p``) when the file is
written. A write that still fails (disk full, read-only file system) is the same one-line error, and the temp file
is removed: a failing run never leaves a partial output nor touches an existing one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mcugraph.errors import OutputPathError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so a reader never sees a half-written file; returns the path."""
    path = check_output_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OutputPathError(f"{path}: cannot write there ({e.strerror}); choose another output path") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OutputPathError(f"{path}: cannot write there ({e.strerror}); choose another output path") from e
        raise
    return path


def check_output_path(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """``path`` as a Path if a file can be written there without harming ``inputs``, else :class:`OutputPathError`."""
    text = os.fspath(path)
    if not text.strip():
        raise OutputPathError("the output path is empty; give a file name, e.g. -o model.tflite")
    target = Path(text)
    if target.is_dir() or text.endswith(os.sep):
        raise OutputPathError(f"{target}: is a folder; give a file name inside it, e.g. {target / 'out'}")
    if target.exists() and not target.is_file():
        # os.replace would swap a device (-o /dev/null), pipe or socket for a regular file.
        raise OutputPathError(f"{target}: is not a regular file (a device, pipe or socket); give a file path")
    for source in inputs:
        if source is not None and _same_file(target, Path(source)):
            raise OutputPathError(f"{target}: is also the input; writing it would replace the input, choose another name")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{target}: {ancestor} is a file, not a folder; choose another output path")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(f"{target}: no permission to write into {ancestor}; choose another output path")
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
