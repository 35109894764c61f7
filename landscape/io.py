"""Saving and loading results: one ``.npz`` of arrays plus JSON metadata, written atomically, read without pickle."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from landscape._version import __version__

_META_KEY = "__landscape__"


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(file_object)`` on a temporary file next to ``path``, then rename it over ``path``.

    A crash mid-write leaves any previous file untouched and no partial file behind.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist.")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_npz(path: str | os.PathLike, kind: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``arrays`` and ``meta`` (JSON-serialisable) to ``path`` as a ``kind`` result (e.g. ``"LossMap"``)."""
    header = {"kind": kind, "version": __version__, **meta}
    payload = {name: np.asarray(value) for name, value in arrays.items()}
    payload[_META_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez_compressed(f, **payload))


def load_npz(path: str | os.PathLike, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_npz`; raise a clear error for missing, truncated or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise ValueError(f"{str(path)!r} is not a readable landscape result (truncated or not an .npz file): {err}") from None
    if _META_KEY not in arrays:
        raise ValueError(f"{str(path)!r} is an .npz file but not one written by landscape (no metadata).")
    try:
        meta = json.loads(arrays.pop(_META_KEY).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{str(path)!r} has corrupted landscape metadata: {err}") from None
    if meta.get("kind") != kind:
        raise ValueError(f"{str(path)!r} holds a landscape {meta.get('kind')!r}, not a {kind!r}.")
    return arrays, meta
