import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

import landscape as ls
from landscape.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_map_seed_000(tmp_path, capsys):
    out, save = tmp_path / "map.png", tmp_path / "map.npz"
    code, stdout, err = run(capsys, "map", "--problem", "seed-regression", "--x", "bias:-5:8:101",
                            "--y", "weight:-5:8:101", "--out", str(out), "--save", str(save))
    assert code == 0, err
    image = matplotlib.image.imread(out)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300
    m = ls.LossMap.load(save)
    assert m.values.shape == (101, 101) and (m.x_label, m.y_label) == ("bias", "weight")
    direct = ls.loss_map(ls.problems.seed_regression(), ls.Axis("bias", -5, 8, 101), ls.Axis("weight", -5, 8, 101))
    np.testing.assert_array_equal(m.values, direct.values)
    assert "grid minimum 0.50" in stdout and str(out) in stdout


def test_map_with_loss_log_scale_and_default_axes(tmp_path, capsys):
    save = tmp_path / "m.npz"
    code, _, err = run(capsys, "map", "--problem", "seed_regression", "--loss", "l1", "--log",
                       "--out", str(tmp_path / "m.svg"), "--save", str(save))
    assert code == 0, err
    m = ls.LossMap.load(save)
    assert m.values.shape == (201, 201)  # the problem's default view
    x, y = (a.astype(np.float64) for a in ls.problems.seed_regression().data)
    np.testing.assert_allclose(m.values[0, 0], np.mean(np.abs(-5 * x - 5 - y)), rtol=1e-5)
    assert (tmp_path / "m.svg").read_text().startswith("<?xml")


def test_problems_lists_every_builtin(capsys):
    code, out, _ = run(capsys, "problems")
    assert code == 0
    for name in ls.problems.names():
        assert name in out
    assert "bias, weight" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["map", "--problem", "nope"], "unknown problem 'nope'; expected one of: seed-regression"),
        (["map", "--problem", "ols", "--loss", "l1"], "problem 'ols' takes no option 'loss'"),
        (["map", "--problem", "seed-regression", "--loss", "hinge"], "loss='hinge' is not supported"),
        (["map", "--problem", "ols", "--x", "foo:0:1:5", "--y", "slope:0:1:5"], "'foo' is not a parameter"),
        (["map", "--problem", "ols", "--x", "intercept:0:1", "--y", "slope:0:1:5"], "is not PARAM:LO:HI:NUM"),
        (["map", "--problem", "ols", "--x", "intercept:a:1:5", "--y", "slope:0:1:5"], "LO and HI must be numbers"),
        (["map", "--problem", "ols", "--x", "intercept:0:1:1", "--y", "slope:0:1:5"], "num must be an integer ≥ 2, got 1"),
        (["map", "--problem", "ols", "--x", "intercept:1:0:5", "--y", "slope:0:1:5"], "lo must be less than hi"),
        (["map", "--problem", "ols", "--x", "intercept:0:1:1000000", "--y", "slope:0:1:1000000"], "grid needs"),
        (["map", "--problem", "ols", "--out", "/nonexistent-dir/map.png"], "does not exist"),
        (["map", "--problem", "ols", "--out", "map.txt"], "expected a file ending in .png"),
        (["map", "--problem", "ols", "--save", "map.csv"], "expected a file ending in .npz"),
        (["map", "--problem", "bowl"], "'bowl' has 1 parameter; a map needs two"),
        (["map"], "the following arguments are required: --problem"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert err.startswith("landscape: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.glob("*.png"))


def test_unwritable_output(tmp_path, capsys, monkeypatch):
    import landscape.cli

    monkeypatch.setattr(landscape.cli.os, "access", lambda path, mode: False)  # as for a read-only directory
    code, _, err = run(capsys, "map", "--problem", "ols", "--out", str(tmp_path / "m.png"))
    assert code == 2 and "not writable" in err and err.count("\n") == 1


def test_output_path_that_is_a_directory(tmp_path, capsys):
    (tmp_path / "m.png").mkdir()
    code, _, err = run(capsys, "map", "--problem", "booth", "--out", str(tmp_path / "m.png"))
    assert code == 2 and err.startswith("landscape: error:") and err.count("\n") == 1


def test_python_dash_m_and_help(tmp_path):
    result = subprocess.run([sys.executable, "-m", "landscape", "map", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "PARAM:LO:HI:NUM" in result.stdout
    result = subprocess.run([sys.executable, "-m", "landscape", "map", "--problem", "nope"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "unknown problem" in result.stderr
