import os
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

import landscape as ls
from landscape.cli import main


def run(capsys, *argv):
    code = main([*argv, "--no-cache"])  # the in-process tests leave JAX's global cache setting alone
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
    assert "FILE.py:FUNCTION" in result.stdout and "--directions {random,pca}" in result.stdout
    result = subprocess.run([sys.executable, "-m", "landscape", "map", "--problem", "nope"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "unknown problem" in result.stderr


def test_run_draws_and_saves_the_trajectory(tmp_path, capsys):
    out, save = tmp_path / "run.png", tmp_path / "run.npz"
    code, stdout, err = run(capsys, "run", "--problem", "seed-regression", "--optimizer", "sgd", "--lr", "0.1",
                            "--steps", "100", "--out", str(out), "--save", str(save))
    assert code == 0, err
    assert matplotlib.image.imread(out).shape[1] > 1000
    traj = ls.Trajectory.load(save)
    reference = ls.run(ls.problems.seed_regression(), ls.optim.SGD(lr=0.1), steps=100)
    np.testing.assert_array_equal(traj.loss, reference.loss)
    np.testing.assert_array_equal(traj.params["weight"], reference.params["weight"])
    assert ls.optim.describe(traj.optimizer) == "SGD(lr=0.1)" and "final loss 0.499441" in stdout


def test_compare_seed_004(tmp_path, capsys):
    out = tmp_path / "compare.png"
    code, stdout, err = run(capsys, "compare", "--problem", "ols", "--optimizer", "sgd", "--optimizer",
                            "sgd:momentum=0.2", "--optimizer", "rmsprop", "--optimizer", "adam", "--lr", "0.1",
                            "--init", "slope=9,intercept=2", "--steps", "100", "--out", str(out))
    assert code == 0, err
    assert out.stat().st_size > 10_000
    lines = stdout.splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "SGD(lr=0.1)", "SGD(lr=0.1, momentum=0.2)", "RMSprop(lr=0.1)", "Adam(lr=0.1)"]
    sgd = ls.run(ls.problems.ols(), ls.optim.SGD(lr=0.1), steps=100, init={"intercept": 2.0, "slope": 9.0})
    assert f"final loss {float(sgd.loss[-1]):.6g}" in lines[1]


def test_sweep_writes_heatmap_csv_and_numbers(tmp_path, capsys):
    out, table, save = tmp_path / "s.png", tmp_path / "s.csv", tmp_path / "s.npz"
    code, stdout, err = run(capsys, "sweep", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "50",
                            "--grid", "lr=log:1e-3:1:12", "--grid", "momentum=lin:0:0.9:4", "--grid",
                            "nesterov=true,false", "--dampening", "0", "--out", str(out), "--csv", str(table),
                            "--save", str(save))
    assert code == 2 and "nesterov=True requires momentum > 0" in err  # momentum=0 is in the grid: torch rejects it
    code, stdout, err = run(capsys, "sweep", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "50",
                            "--grid", "lr=log:1e-3:1:12", "--grid", "momentum=lin:0.1:0.9:4", "--grid",
                            "nesterov=true,false", "--out", str(out), "--csv", str(table), "--save", str(save))
    assert code == 0, err
    assert "96 settings × 50 steps" in stdout
    sw = ls.Sweep.load(save)
    assert sw.shape == (12, 4, 2)
    np.testing.assert_allclose(sw.axes["lr"], np.logspace(-3, 0, 12))
    assert len(table.read_text().splitlines()) == 1 + 96
    direct = ls.sweep(ls.problems.seed_regression(), ls.optim.SGD, 50, lr=np.logspace(-3, 0, 12),
                      momentum=np.linspace(0.1, 0.9, 4), nesterov=[True, False])
    np.testing.assert_array_equal(sw.final_loss, direct.final_loss)


def test_sweep_adam_beta1_with_fixed_hyperparameter(tmp_path, capsys):
    save = tmp_path / "a.npz"
    code, _, err = run(capsys, "sweep", "--problem", "booth", "--optimizer", "adam", "--steps", "20", "--grid",
                       "lr=0.01,0.1", "--grid", "beta1=lin:0.5:0.9:3", "--eps", "1e-6", "--out",
                       str(tmp_path / "a.png"), "--save", str(save))
    assert code == 0, err
    sw = ls.Sweep.load(save)
    assert list(sw.axes) == ["lr", "beta1"] and sw.fixed == {"eps": 1e-6}
    traj = ls.run(ls.problems.booth(), ls.optim.Adam(lr=0.1, betas=(0.7, 0.999), eps=1e-6), 20)
    np.testing.assert_allclose(sw.final_loss[1, 1], traj.loss[-1], rtol=1e-6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--problem", "ols", "--optimizer", "sgdd", "--steps", "5"], "unknown optimizer 'sgdd'; expected one of: sgd, adam"),
        (["run", "--problem", "ols", "--optimizer", "adam", "--momentum", "0.9", "--steps", "5"],
         "optimizer 'adam' has no hyperparameter 'momentum'; valid: lr, betas"),
        (["run", "--problem", "ols", "--optimizer", "sgd", "--lr", "fast", "--steps", "5"], "lr='fast': expected a number"),
        (["run", "--problem", "ols", "--optimizer", "sgd", "--lr", "-1", "--steps", "5"], "lr must be >= 0"),
        (["run", "--problem", "ols", "--optimizer", "sgd", "--init", "1,2,3", "--steps", "5"], "has 2 parameters"),
        (["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "-5"], "steps must be an integer ≥ 0"),
        (["compare", "--problem", "ols", "--optimizer", "sgd:momentum", "--steps", "5"], "expected NAME or NAME:key=value"),
        (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5"], "give at least one --grid"),
        (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid", "lr"], "is not NAME=log:LO:HI:NUM"),
        (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid", "lr=log:1e-3:1"],
         "expected log:LO:HI:NUM"),
        (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid", "lr=lin:0:1:0"], "empty grid"),
        (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid", "lr=log:0:1:5"], "LO > 0"),
        (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid", "lr=,"], "empty grid"),
        (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid", "rho=0.1,0.2"],
         "optimizer 'sgd' has no hyperparameter 'rho'"),
        (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid", "lr=lin:0.1:1:100000",
          "--grid", "momentum=lin:0:0.9:100000"], "settings needs"),
    ],
)
def test_run_compare_sweep_errors(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err, err
    assert err.startswith("landscape: error:") and err.count("\n") == 1


def test_persistent_compilation_cache(tmp_path):
    cache = tmp_path / "cache"
    env = {**__import__("os").environ, "LANDSCAPE_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-m", "landscape", "map", "--problem", "booth", "--x", "x:-1:1:11", "--y", "y:-1:1:11",
            "--out", str(tmp_path / "m.png")]
    subprocess.run([*argv, "--no-cache"], env=env, check=True, capture_output=True)
    assert not cache.exists() or not any(cache.iterdir())
    subprocess.run(argv, env=env, check=True, capture_output=True)
    entries = {p.name for p in cache.iterdir()}
    assert any("evaluate_tile" in name for name in entries)
    subprocess.run(argv, env=env, check=True, capture_output=True)  # the second process reuses them
    assert {p.name for p in cache.iterdir()} == entries


def test_init_by_name_and_errors(tmp_path, capsys):
    save = tmp_path / "t.npz"
    code, _, err = run(capsys, "run", "--problem", "quadratic-fit", "--optimizer", "sgd", "--lr", "1e-5", "--steps",
                       "2", "--init", "b=1.5", "--out", str(tmp_path / "r.png"), "--save", str(save))
    assert code == 0, err
    traj = ls.Trajectory.load(save)
    prob = ls.problems.quadratic_fit()
    assert traj.params["b"][0] == 1.5 and traj.params["a"][0] == float(prob.params["a"])
    code, _, err = run(capsys, "run", "--problem", "ols", "--optimizer", "sgd", "--steps", "2", "--init", "w=1")
    assert code == 2 and "'ols' has no parameter 'w'; parameters: intercept, slope" in err
    code, _, err = run(capsys, "run", "--problem", "ols", "--optimizer", "sgd", "--steps", "2", "--init", "a,b")
    assert code == 2 and "expected numbers" in err


def test_closed_pipe_ends_quietly():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as after `| head`
    proc = subprocess.run([sys.executable, "-m", "landscape", "problems"], stdout=write, stderr=subprocess.PIPE,
                          text=True)
    os.close(write)
    assert proc.returncode == 1 and proc.stderr == ""


# ---------------------------------------------------------------------------------------------- a user's own model

USER_MODEL = """
import jax.numpy as jnp
import numpy as np

import landscape as ls


def mlp(params, x):
    h = jnp.tanh(x @ params["dense1"]["kernel"] + params["dense1"]["bias"])
    return (h @ params["dense2"]["kernel"] + params["dense2"]["bias"])[:, 0]


def make_problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    y = (np.sin(x[:, 0]) + 0.5 * x[:, 1]).astype(np.float32)
    params = {"dense1": {"kernel": rng.normal(size=(2, 6)) / np.sqrt(2), "bias": np.zeros(6)},
              "dense2": {"kernel": rng.normal(size=(6, 1)) / np.sqrt(6), "bias": np.zeros(1)}}
    return ls.Problem.from_model(mlp, params, x[:30], y[:30], name="tiny-mlp", held_out=(x[30:], y[30:]))


CONSTANT = 3


def needs_arguments(width, depth=2):
    return make_problem()


def raises():
    raise ValueError("no data found\\nsecond line of the message")


def returns_a_tuple():
    return make_problem(), 1


def fails_in_the_map():
    def loss(params, data):
        raise ValueError("the loss failed\\nand says more on a second line")

    return ls.Problem("fails", loss, {"w": np.zeros(3)})
"""


def user_problem():
    namespace = {}
    exec(USER_MODEL, namespace)  # the reference: the same model built without the CLI
    return namespace["make_problem"]()


@pytest.fixture
def model_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_model.py").write_text(USER_MODEL)
    return "my_model.py"


def test_map_user_model_random_directions(model_file, tmp_path, capsys):
    import jax

    code, stdout, err = run(capsys, "map", "--problem", f"{tmp_path / model_file}:make_problem", "--directions",
                            "random", "--seed", "3", "--span", "-0.5:0.5", "--num", "11", "--out", "x.png", "--save",
                            "x.npz")
    assert code == 0, err
    assert matplotlib.image.imread(tmp_path / "x.png").shape[1] > 300
    m = ls.LossMap.load(tmp_path / "x.npz")
    assert m.values.shape == (11, 11) and (m.x_label, m.y_label) == ("direction 1", "direction 2")
    assert np.all(np.isfinite(m.values)) and np.all(np.isfinite(m.metric("test_loss")))
    assert m.meta["directions"] == {"kind": "random", "seed": 3, "normalization": "filter", "ignore": "biasbn"}
    prob = user_problem()
    dx, dy = ls.random_directions(prob.params, jax.random.PRNGKey(3))
    direct = ls.loss_map(prob, ls.Axis(dx, -0.5, 0.5, 11), ls.Axis(dy, -0.5, 0.5, 11))
    np.testing.assert_allclose(m.values, direct.values, rtol=1e-6)
    np.testing.assert_allclose(m.metric("test_loss"), direct.metric("test_loss"), rtol=1e-6)
    assert "tiny-mlp loss on direction 2 × direction 1 (11×11 points" in stdout
    code, _, err = run(capsys, "map", "--problem", f"./{model_file}:make_problem", "--directions", "random",
                       "--num", "5", "--surface", "--log", "--out", "s.png")
    assert code == 0, err
    assert matplotlib.image.imread(tmp_path / "s.png").shape[1] > 300


@pytest.fixture
def model_module(tmp_path, monkeypatch):
    """The model as an importable module (a package on sys.path): the CLI imports it once, and the reference
    below imports the same functions, so both share JAX's compiled code."""
    import importlib

    package = tmp_path / "cli_user_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mlp.py").write_text(USER_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield "cli_user_models.mlp", lambda: importlib.import_module("cli_user_models.mlp").make_problem()
    for name in ("cli_user_models.mlp", "cli_user_models"):
        sys.modules.pop(name, None)


def test_map_user_model_pca_from_an_importable_module(model_module, tmp_path, capsys):
    module, make_problem = model_module
    code, stdout, err = run(capsys, "map", "--problem", f"{module}:make_problem", "--directions", "pca",
                            "--optimizer", "sgd:momentum=0.5", "--lr", "0.1", "--steps", "30", "--num", "9",
                            "--metric", "test_loss", "--style", "contour", "--out", "p.png", "--save", "p.npz")
    assert code == 0, err
    assert (tmp_path / "p.png").stat().st_size > 10_000
    m = ls.LossMap.load(tmp_path / "p.npz")
    assert m.values.shape == (9, 9) and (m.x_label, m.y_label) == ("PC1", "PC2")
    prob = make_problem()
    traj = ls.run(prob, ls.optim.SGD(lr=0.1, momentum=0.5), 30)
    plane = ls.directions.pca(traj)
    (x_lo, x_hi), (y_lo, y_hi) = plane.bounds()
    direct = ls.loss_map(prob, ls.Axis(plane.dx, x_lo, x_hi, 9), ls.Axis(plane.dy, y_lo, y_hi, 9),
                         center=plane.origin)
    np.testing.assert_allclose(m.xs, direct.xs)
    np.testing.assert_allclose(m.ys, direct.ys)
    np.testing.assert_allclose(m.values, direct.values, rtol=1e-5)
    np.testing.assert_allclose(m.metric("test_loss"), direct.metric("test_loss"), rtol=1e-5)
    assert np.all(np.isfinite(m.values)) and np.all(np.isfinite(m.metric("test_loss")))
    recorded = m.meta["directions"]
    assert recorded["kind"] == "pca" and recorded["optimizer"] == "SGD(lr=0.1, momentum=0.5)"
    np.testing.assert_allclose(recorded["path"], plane.coords, rtol=1e-6, atol=1e-9)
    assert "tiny-mlp test_loss on PC2 × PC1 (9×9 points" in stdout
    assert f"final loss {float(traj.loss[-1]):.6g}" in stdout and "of its variance" in stdout
    code, stdout, err = run(capsys, "run", "--problem", f"{module}:make_problem", "--optimizer", "sgd:momentum=0.5",
                            "--lr", "0.1", "--steps", "30", "--x", "dense2.bias[0]:-1:1:5", "--y",
                            "dense1.bias[0]:-1:1:5", "--out", "r.png", "--save", "r.npz")
    assert code == 0, err  # run (like compare and sweep) loads --problem the same way
    np.testing.assert_allclose(ls.Trajectory.load(tmp_path / "r.npz").loss, traj.loss, rtol=1e-6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["map", "--problem", "missing.py:make_problem"], "file 'missing.py' not found"),
        (["map", "--problem", "no_such_module_xyz:make_problem"], "no module named 'no_such_module_xyz'"),
        (["map", "--problem", "broken.py:make_problem"], "could not load 'broken.py': ModuleNotFoundError: No "
         "module named 'no_such_dependency_xyz'"),
        (["map", "--problem", "my_model.py:make_problme"], "'my_model.py' has no function 'make_problme'; its "
         "functions: fails_in_the_map, make_problem, mlp, needs_arguments, raises, returns_a_tuple"),
        (["map", "--problem", "my_model.py:fails_in_the_map", "--x", "w[0]:0:1:3", "--y", "w[1]:0:1:3"],
         "the loss failed …"),  # an error of the user's loss, at map time: its first line
        (["map", "--problem", "my_model.py:CONSTANT"], "'CONSTANT' in 'my_model.py' is an int, not a function"),
        (["map", "--problem", "my_model.py:needs_arguments"], "needs_arguments must take no arguments"),
        (["map", "--problem", "my_model.py:raises"], "raises raised ValueError: no data found …"),
        (["map", "--problem", "my_model.py:returns_a_tuple"], "returns_a_tuple returned a tuple, not a "
         "landscape.Problem"),
        (["map", "--problem", "my_model.py"], "give its function: my_model.py:make_problem"),
        (["run", "--problem", "my_model.py:raises", "--optimizer", "sgd", "--steps", "5"], "raises raised"),
        (["map", "--problem", "my_model.py:make_problem", "--loss", "l1"], "--loss applies to the built-in problems"),
        (["map", "--problem", "my_model.py:make_problem"], "has 25 parameters and no default view; map it along two "
         "directions with --directions random"),
        (["map", "--problem", "my_model.py:make_problem", "--directions", "random", "--x", "dense2.bias[0]:0:1:5"],
         "give either --directions or --x/--y"),
        (["map", "--problem", "my_model.py:make_problem", "--directions", "random", "--metric", "accuracy"],
         "--metric 'accuracy': a map of 'tiny-mlp' has loss, test_loss"),
        (["map", "--problem", "ols", "--metric", "test_loss"], "has loss (test_loss needs held-out data"),
        (["map", "--problem", "ols", "--directions", "random"], "every parameter of 'ols' is a scalar"),
        (["map", "--problem", "my_model.py:make_problem", "--directions", "pca"], "give --steps N"),
        (["map", "--problem", "my_model.py:make_problem", "--directions", "random", "--steps", "5"],
         "--steps trains the model for --directions pca"),
        (["map", "--problem", "ols", "--span", "-1:1"], "--span sets the extent along --directions"),
        (["map", "--problem", "my_model.py:make_problem", "--directions", "random", "--span", "1:-1"],
         "LO must be less than HI"),
        (["map", "--problem", "my_model.py:make_problem", "--directions", "random", "--num", "1"],
         "num must be an integer ≥ 2, got 1"),
    ],
)
def test_user_model_errors_are_one_line(model_file, tmp_path, capsys, argv, message):
    (tmp_path / "broken.py").write_text("import no_such_dependency_xyz\n")
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert message in err, err
    assert err.startswith("landscape: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.glob("*.png"))


def test_map_draws_the_accuracy_of_a_classifier(tmp_path, capsys):
    save = tmp_path / "acc.npz"
    code, out, err = run(capsys, "map", "--problem", "softmax-regression", "--x", "weight[0,0]:-6:6:9",
                         "--y", "weight[0,1]:-6:6:7", "--metric", "accuracy", "--out", str(tmp_path / "acc.png"),
                         "--save", str(save))
    assert code == 0, err
    m = ls.LossMap.load(save)
    prob = ls.problems.softmax_regression()
    x, labels = prob.data
    for i, b in enumerate(m.ys[::3]):
        for j, a in enumerate(m.xs[::4]):
            w = np.array(prob.params["weight"], dtype=np.float64)
            w[0] = a, b
            expected = np.mean(np.argmax(x @ w.T + np.asarray(prob.params["bias"]), axis=1) == labels)
            assert m.metrics["accuracy"][3 * i, 4 * j] == pytest.approx(expected)
    assert "grid maximum" in out
    code, _, err = run(capsys, "map", "--problem", "seed-regression", "--metric", "accuracy",
                       "--out", str(tmp_path / "x.png"))
    assert code == 2 and "has loss" in err and len(err.strip().splitlines()) == 1
