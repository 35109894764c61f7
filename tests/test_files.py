"""Writing files: atomic, through symbolic links, keeping permissions, grouped, and clean after killed writers."""

import os
import signal
import subprocess
import sys
import time

import pytest

from landscape import _files
from landscape._files import atomic_files, atomic_write, atomic_write_text

# Writes `sys.argv[2]` through atomic_write (of module file `sys.argv[1]`, loaded alone: no JAX to import), says so
# once half of it is written, then waits to be killed.
KILLED_WRITER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("files", sys.argv[1])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)

def write(f):
    f.write(b"x" * 1_000_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)

files.atomic_write(sys.argv[2], write)
"""


def debris(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def test_a_write_killed_by_sigterm_leaves_debris_that_the_next_write_removes(tmp_path):
    path = tmp_path / "m.npz"
    path.write_text("old")
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, _files.__file__, str(path)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGTERM)  # Python's default: the process ends without unwinding
    writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGTERM
    [leftover] = debris(tmp_path)
    assert path.read_text() == "old" and leftover.startswith(f".m.npz.{writer.pid}.")
    live = tmp_path / f".m.npz.{os.getpid()}.abcd1234.tmp"  # a concurrent writer that is still running
    old = tmp_path / f".m.npz.{os.getpid()}.old_0000.tmp"  # a day old: its process id may be someone else's now
    other = tmp_path / f".m.npz.part.{writer.pid}.abcd1234.tmp"  # debris of another file, m.npz.part
    for name in (live, old, other):
        name.write_text("partial")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert debris(tmp_path) == sorted([live.name, other.name])


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755], ids=oct)
def test_overwriting_keeps_the_files_mode(tmp_path, mode):
    path = tmp_path / "secret.csv"
    path.write_text("old")
    path.chmod(mode)
    previous = os.umask(0o022)
    try:
        atomic_write_text(path, "new")
    finally:
        os.umask(previous)
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == mode


def test_writing_through_a_symbolic_link_updates_its_target(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "store" / "map.png"
    target.write_text("old")
    link = tmp_path / "links" / "map.png"
    link.symlink_to(os.path.join("..", "store", "map.png"))
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "store", "map.png")
    assert target.read_text() == "new"
    assert debris(tmp_path / "store") == [] and debris(tmp_path / "links") == []


def test_a_group_of_writes_appears_together_at_the_end(tmp_path):
    figure, numbers = tmp_path / "m.png", tmp_path / "m.npz"
    figure.write_text("old figure")
    with atomic_files():
        atomic_write_text(figure, "first draft")
        atomic_write_text(numbers, "new numbers")
        atomic_write_text(figure, "new figure")  # the last write of a file wins
        assert figure.read_text() == "old figure" and not numbers.exists()
    assert figure.read_text() == "new figure" and numbers.read_text() == "new numbers"
    assert debris(tmp_path) == []


def test_a_failed_write_in_a_group_changes_no_file(tmp_path):
    figure, numbers = tmp_path / "m.png", tmp_path / "m.npz"
    figure.write_text("old figure")
    numbers.write_text("old numbers")

    def failing_figure(f):
        f.write(b"half a figure")
        raise RuntimeError("the figure failed")

    with pytest.raises(RuntimeError, match="the figure failed"):
        with atomic_files():
            atomic_write_text(numbers, "new numbers")
            atomic_write(figure, failing_figure)
    assert figure.read_text() == "old figure" and numbers.read_text() == "old numbers"
    assert debris(tmp_path) == []


def test_a_failed_rename_in_a_group_puts_back_the_files_already_renamed(tmp_path):
    numbers, figure = tmp_path / "m.npz", tmp_path / "m.png"
    numbers.write_text("old numbers")
    with pytest.raises(IsADirectoryError):
        with atomic_files():
            atomic_write_text(numbers, "new numbers")
            atomic_write_text(figure, "new figure")
            figure.mkdir()  # the figure's rename, after the numbers' one, will fail
    assert numbers.read_text() == "old numbers" and figure.is_dir()
    assert debris(tmp_path) == []
