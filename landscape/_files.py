"""Files written atomically: a temporary file next to the target, then a rename over it.

The one place the package writes files: results (``.npz``), figures, animations, CSV tables and benchmark JSON all
go through :func:`atomic_write`, so an interrupted write leaves any previous file untouched. Overwriting keeps the
file's permissions and writes through a symbolic link (the link stays, its target gets the new content).
:func:`atomic_files` groups writes (a figure and its data): all of them appear, or none does.

Interruptions. An exception unwinding through a write (``KeyboardInterrupt`` too) removes its temporary file.
Python's default SIGTERM ends a process without unwinding; the ``landscape`` command turns SIGTERM into an exception,
and a script can do the same: ``signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))``. A temporary file that a
killed process left (``.NAME.PID.XXXXXXXX.tmp``) is removed by the next write to ``NAME`` once process ``PID`` has
ended, or once the file is a day old (process ids are reused).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable, IO, Iterator

STALE_AFTER_S = 24 * 3600  # a temporary file this old is debris whatever its process id says

# The writes of the enclosing `atomic_files` block: target → its temporary file (None outside a block).
_staged: contextvars.ContextVar[dict[Path, Path] | None] = contextvars.ContextVar("landscape_staged", default=None)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``'s target, then rename it over the target.

    A crash mid-write leaves any previous file untouched and no partial file behind. A new file gets the usual
    permissions (``0o666`` less the umask), an overwritten one keeps its own; a symbolic link stays a link to the
    file that gets the content. Inside :func:`atomic_files` the rename waits for the end of the block.
    """
    path = Path(path)
    target = _target(path)
    tmp = _write_temporary(path, target, write)
    staged = _staged.get()
    if staged is None:
        _commit({target: tmp})
    else:
        replaced = staged.pop(target, None)  # written twice in one block: the last write wins
        if replaced is not None:
            replaced.unlink(missing_ok=True)
        staged[target] = tmp
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text.encode()))


@contextlib.contextmanager
def atomic_files() -> Iterator[None]:
    """Group the :func:`atomic_write` calls of a block: each writes a temporary file, and the renames happen together
    when the block ends. An exception in the block, or a failed rename, leaves every previous file as it was.

    ``with atomic_files(): plot.save(fig, "m.png"); m.save("m.npz")`` never leaves a new figure beside old numbers.
    A block inside another one joins it.
    """
    if _staged.get() is not None:
        yield
        return
    staged: dict[Path, Path] = {}
    token = _staged.set(staged)
    try:
        yield
        _commit(staged)
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    finally:
        _staged.reset(token)


def _target(path: Path) -> Path:
    """The file that writing ``path`` replaces (through symbolic links); a clear error if it can't be written."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist.")
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a directory; give a file path.")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: it links to {str(target)!r}, whose directory does "
                                f"not exist.")
    return target


def _write_temporary(path: Path, target: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """``write`` into a new temporary file beside ``target`` (``path`` or its link target), with the mode
    ``target`` will have; the temporary file's path."""
    _remove_stale_temporaries(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    except OSError as err:  # name the file asked for, not the temporary one
        raise type(err)(err.errno, f"cannot write {str(path)!r}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()  # mkstemp makes the file private
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _commit(staged: dict[Path, Path]) -> None:
    """Rename each temporary file over its target; if a rename fails, put back the targets already replaced."""
    backups: dict[Path, Path] = {}  # with several files: the old content of each target, to undo a partial commit
    replaced: list[Path] = []
    try:
        if len(staged) > 1:
            for target in staged:
                if target.exists():
                    backups[target] = _backup(target)
        for target, tmp in staged.items():
            os.replace(tmp, target)
            replaced.append(target)
    except BaseException:
        for target in replaced:
            with contextlib.suppress(OSError):
                if target in backups:
                    os.replace(backups.pop(target), target)
                else:
                    target.unlink()
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    finally:
        for backup in backups.values():
            backup.unlink(missing_ok=True)


def _backup(target: Path) -> Path:
    """A second name (a hard link, else a copy) for ``target``'s current content, named like a temporary file."""
    while True:
        backup = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            os.link(target, backup)
            return backup
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            shutil.copy2(target, backup)
            return backup


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files of earlier writes to ``target`` whose process has ended or that are a day old."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?:(\d+)\.)?[a-z0-9_]{{8}}\.tmp")
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            found = pattern.fullmatch(entry.name)
            if found is None:
                continue
            with contextlib.suppress(OSError):  # another writer may be removing it too
                old = entry.stat(follow_symlinks=False).st_mtime < time.time() - STALE_AFTER_S
                if old or (found[1] is not None and not _running(int(found[1]))):
                    os.unlink(entry.path)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (True where that can't be asked safely: on Windows ``os.kill`` kills)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except (OverflowError, OSError):  # not a process id
        return False
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
