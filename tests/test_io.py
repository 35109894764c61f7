import json
import os

import numpy as np
import pytest

import landscape as ls
from landscape import io, problems


@pytest.fixture
def loss_map():
    prob = problems.seed_regression()
    return ls.loss_map(prob, ls.Axis("bias", -5, 8, 6), ls.Axis("weight", -5, 8, 4), grad=True)


def test_round_trip(tmp_path, loss_map):
    path = tmp_path / "map.npz"
    loss_map.save(path)
    back = ls.LossMap.load(path)
    for name in ("values", "xs", "ys", "grad_x", "grad_y"):
        np.testing.assert_array_equal(getattr(back, name), getattr(loss_map, name))
        assert getattr(back, name).dtype == getattr(loss_map, name).dtype
    assert (back.x_label, back.y_label) == ("bias", "weight")
    assert back.meta == {**loss_map.meta, "version": ls.__version__}
    assert back.meta["problem"] == "seed-regression" and back.meta["dtype"] == "float32"
    assert [p.name for p in tmp_path.iterdir()] == ["map.npz"]  # no temporary files left


def test_metadata_is_plain_json_with_version(tmp_path, loss_map):
    path = tmp_path / "map.npz"
    loss_map.save(path)
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["__landscape__"].tobytes())
    assert meta["kind"] == "LossMap" and meta["version"] == ls.__version__
    assert meta["x_axis"]["num"] == 6


def test_failed_write_keeps_previous_file(tmp_path, loss_map, monkeypatch):
    path = tmp_path / "map.npz"
    loss_map.save(path)
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"partial")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        loss_map.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["map.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ls.LossMap.load(tmp_path / "absent.npz")


def test_missing_directory_on_save(tmp_path, loss_map):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        loss_map.save(tmp_path / "no" / "map.npz")


def test_truncated_file(tmp_path, loss_map):
    path = tmp_path / "map.npz"
    loss_map.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or not an .npz"):
        ls.LossMap.load(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "map.npz"
    path.write_bytes(b"hello, this is not a zip archive" * 10)
    with pytest.raises(ValueError, match="not a readable landscape result"):
        ls.LossMap.load(path)


def test_foreign_npz(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, values=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not one written by landscape"):
        ls.LossMap.load(path)


def test_pickled_content_is_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, values=np.array([{"a": 1}], dtype=object), __landscape__=np.frombuffer(b"{}", np.uint8))
    with pytest.raises(ValueError, match="not a readable landscape result"):
        ls.LossMap.load(path)


def test_wrong_kind(tmp_path):
    path = tmp_path / "other.npz"
    io.save_npz(path, "Sweep", {"x": np.zeros(3)}, {})
    with pytest.raises(ValueError, match="holds a landscape 'Sweep', not a 'LossMap'"):
        ls.LossMap.load(path)


def test_damaged_map_missing_arrays(tmp_path):
    path = tmp_path / "partial.npz"
    io.save_npz(path, "LossMap", {"values": np.zeros((2, 2))}, {})
    with pytest.raises(ValueError, match=r"missing arrays \['xs', 'ys'\]"):
        ls.LossMap.load(path)


def test_written_files_get_the_usual_permissions(tmp_path, loss_map):
    mask = os.umask(0o022)
    try:
        loss_map.save(tmp_path / "m.npz")
    finally:
        os.umask(mask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644
