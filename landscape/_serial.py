"""The result file format: one ``.npz`` of arrays plus a JSON header, written atomically, read without pickle; and
the JSON form of what results hold besides arrays (parameter pytrees, optimizers, schedules, plain values)."""

from __future__ import annotations

import collections
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from landscape import optim
from landscape._files import atomic_write
from landscape._version import __version__

_META_KEY = "__landscape__"


def save_npz(path: str | os.PathLike, kind: str, arrays: dict[str, np.ndarray], record: dict) -> Path:
    """Write ``arrays`` and ``record`` (JSON-serialisable) to ``path`` as a ``kind`` result (e.g. ``"LossMap"``)."""
    header = {"kind": kind, "version": __version__, "record": record}
    payload = {name: np.asarray(value) for name, value in arrays.items()}
    payload[_META_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez_compressed(f, **payload))


def load_npz(path: str | os.PathLike, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_npz`: ``(arrays, record)``; a clear error for missing, truncated, foreign
    or damaged files."""
    arrays, header = _read(path)
    if not isinstance(header, dict) or header.get("kind") != kind:
        found = header.get("kind") if isinstance(header, dict) else None
        raise ValueError(f"{str(path)!r} holds a landscape {found!r}, not a {kind!r}.")
    if not isinstance(header.get("record"), dict):
        raise ValueError(f"{str(path)!r} holds a {kind} in the format of landscape {header.get('version', '?')}, "
                         f"which this version ({__version__}) does not read; compute it again.")
    return arrays, header["record"]


def read_kind(path: str | os.PathLike) -> str:
    """The kind of result a file written by :func:`save_npz` holds (``"LossMap"``, ``"Trajectory"``, …), read from
    its header alone; the errors of :func:`load_npz` for missing, foreign or damaged files."""
    header = _read(path, header_only=True)[1]
    if not (isinstance(header, dict) and isinstance(header.get("kind"), str)):
        raise ValueError(f"{str(path)!r} has corrupted landscape metadata: no kind of result.")
    return header["kind"]


def _read(path: str | os.PathLike, header_only: bool = False) -> tuple[dict[str, np.ndarray], Any]:
    """``(arrays, header)`` of a file written by :func:`save_npz` (no arrays with ``header_only``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}.")
    if not zipfile.is_zipfile(path):  # (np.load would take it for a pickle)
        raise ValueError(f"{str(path)!r} is not a readable landscape result (truncated or not an .npz file).")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = [name for name in npz.files if name == _META_KEY or not header_only]
            arrays = {name: npz[name] for name in names}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise ValueError(f"{str(path)!r} is not a readable landscape result (truncated or not an .npz file): "
                         f"{err}") from None
    if _META_KEY not in arrays:
        raise ValueError(f"{str(path)!r} is an .npz file but not one written by landscape (no metadata).")
    try:
        header = json.loads(arrays.pop(_META_KEY).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{str(path)!r} has corrupted landscape metadata: {err}") from None
    return arrays, header


def damaged(path, kind: str, missing) -> ValueError:
    return ValueError(f"{str(path)!r} is a damaged {kind}: missing {missing}.")


# ---------------------------------------------------------------------------------------------------------- pytrees


def encode_tree(tree: Any, prefix: str, arrays: dict) -> dict:
    """The JSON form of a pytree's structure; its leaves go into ``arrays`` as ``prefix/0``, ``prefix/1``, …

    Dicts (string keys), lists, tuples, named tuples and None are written out; any other node (a user's own pytree
    class) is recorded by its leaves' paths, and :func:`decode_tree` then needs a template.
    """
    leaves = jax.tree_util.tree_leaves(tree)
    for k, leaf in enumerate(leaves):
        arrays[f"{prefix}/{k}"] = np.asarray(leaf)
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    try:
        spec = _spec(tree, iter(range(len(leaves))))
    except (TypeError, StopIteration):
        spec = None
    if spec is None or _paths(spec) != paths:  # (a node class JAX flattens its own way)
        return {"custom": type(tree).__name__, "paths": paths}
    return {"tree": spec}


def _spec(node, counter):
    if node is None:
        return {"none": None}
    if isinstance(node, dict):
        if not all(isinstance(key, str) for key in node):
            raise TypeError("non-string dict keys")
        return {"dict": {key: _spec(node[key], counter) for key in sorted(node)}}  # jax's order: sorted keys
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return {"namedtuple": type(node).__name__, "fields": list(node._fields),
                "items": [_spec(child, counter) for child in node]}
    if isinstance(node, (list, tuple)):
        return {"list" if isinstance(node, list) else "tuple": [_spec(child, counter) for child in node]}
    if jax.tree_util.treedef_is_leaf(jax.tree_util.tree_structure(node)):
        return {"leaf": next(counter)}
    raise TypeError(f"{type(node).__name__} is a custom pytree node")


def decode_tree(spec: dict, prefix: str, arrays: dict, template: Any = None, *, path="", kind="result") -> Any:
    """The pytree written by :func:`encode_tree`; with ``template`` (any pytree of the same structure, e.g. the
    parameters the result was computed from, without batch or time axes) its structure and node classes."""
    if "tree" not in spec and "custom" not in spec:
        raise ValueError(f"{str(path)!r} is a damaged {kind}: unreadable tree record {spec!r}.")
    n = sum(1 for key in arrays if key.startswith(prefix + "/"))
    try:
        leaves = [arrays[f"{prefix}/{k}"] for k in range(n)]
    except KeyError as missing:
        raise damaged(path, kind, missing) from None
    if template is not None:
        stored = spec.get("paths") if "custom" in spec else _paths(spec["tree"])
        expected = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(template)[0]]
        if stored != expected:
            raise ValueError(f"{str(path)!r}: the template's leaves {expected[:6]} do not match the saved ones "
                             f"{stored[:6]}; pass a template with the structure of the saved parameters.")
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)
    if "custom" in spec:
        raise ValueError(f"{str(path)!r} holds parameters of the pytree class {spec['custom']!r}, which a file cannot "
                         "rebuild by itself: pass template=<parameters of the same structure> to load(), e.g. the "
                         "model's initial parameters.")
    return _build(spec["tree"], leaves)


def _build(node: dict, leaves: list):
    if "none" in node:
        return None
    if "leaf" in node:
        return leaves[node["leaf"]]
    if "dict" in node:
        return {key: _build(child, leaves) for key, child in node["dict"].items()}
    if "namedtuple" in node:
        cls = collections.namedtuple(node["namedtuple"], node["fields"])
        return cls(*(_build(child, leaves) for child in node["items"]))
    items = [_build(child, leaves) for child in node.get("list", node.get("tuple", []))]
    return items if "list" in node else tuple(items)


def _paths(node: dict, path: str = "") -> list[str]:
    """The ``jax.tree_util.keystr`` of every leaf of a spec, in order."""
    if "leaf" in node:
        return [path]
    if "dict" in node:
        return [p for key, child in node["dict"].items() for p in _paths(child, f"{path}[{key!r}]")]
    if "namedtuple" in node:
        return [p for field, child in zip(node["fields"], node["items"]) for p in _paths(child, f"{path}.{field}")]
    children = node.get("list", node.get("tuple", []))
    return [p for k, child in enumerate(children) for p in _paths(child, f"{path}[{k}]")]


# ---------------------------------------------------------------------------------------------------------- values


def encode_value(value: Any, key: str, arrays: dict):
    """The JSON form of a hyperparameter value: a number, bool, string, tuple, array (into ``arrays[key]``) or an
    optimizer or schedule of :mod:`landscape.optim` (class name and fields)."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"optim": type(value).__name__,
                "fields": {name: encode_value(v, f"{key}.{name}", arrays) for name, v in zip(value._fields, value)}}
    if isinstance(value, tuple):
        return {"tuple": [encode_value(v, f"{key}.{k}", arrays) for k, v in enumerate(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    arrays[key] = np.asarray(value)
    return {"array": key}


def decode_value(spec: dict, arrays: dict, *, path="", kind="result"):
    """The value written by :func:`encode_value`; optimizers and schedules are rebuilt from :mod:`landscape.optim`."""
    if "value" in spec:
        return spec["value"]
    if "array" in spec:
        if spec["array"] not in arrays:
            raise damaged(path, kind, repr(spec["array"]))
        return arrays[spec["array"]]
    if "tuple" in spec:
        return tuple(decode_value(v, arrays, path=path, kind=kind) for v in spec["tuple"])
    cls = getattr(optim, spec.get("optim", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, (optim.Optimizer, optim.Schedule))):
        raise ValueError(f"{str(path)!r} was saved with the optimizer or schedule {spec.get('optim')!r}, which "
                         "landscape.optim does not define; it can only be loaded where that class is "
                         "landscape.optim's.")
    return cls(**{name: decode_value(v, arrays, path=path, kind=kind) for name, v in spec["fields"].items()})
