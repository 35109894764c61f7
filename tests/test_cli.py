import os
import signal
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


def test_sweep_over_seeds_prints_the_best_by_the_mean_with_its_spread(tmp_path, capsys):
    out, table, save = tmp_path / "s.png", tmp_path / "s.csv", tmp_path / "s.npz"
    code, stdout, err = run(capsys, "sweep", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "80",
                            "--grid", "lr=log:0.03:0.5:5", "--grid", "momentum=0,0.5,0.8", "--seeds", "3",
                            "--batch-size", "25", "--dpi", "50", "--out", str(out), "--csv", str(table),
                            "--save", str(save))
    assert code == 0, err
    sw = ls.Sweep.load(save)
    assert list(sw.axes) == ["lr", "momentum", "seed"]
    mean = sw.final_loss.mean(axis=-1)  # the rule, in NumPy: fewest mean steps to tol among means within tol
    steps = np.where(sw.steps_to_tol >= 0, sw.steps_to_tol, np.nan).mean(axis=-1)
    ok = (mean <= sw.meta["tol"]) & np.isfinite(steps)
    i, j = np.unravel_index(np.argmin(np.where(ok & (steps == steps[ok].min()), mean, np.inf)), mean.shape)
    best = stdout.splitlines()[-1]
    assert best.startswith(f"best (mean ± std over 3 seeds): lr={sw.axes['lr'][i]:.4g}, "
                           f"momentum={sw.axes['momentum'][j]:.4g}: final loss {mean[i, j]:.6g} ± "
                           f"{np.std(sw.final_loss[i, j]):.2g}, loss ≤ {sw.meta['tol']:.6g} after {steps[i, j]:.4g}")
    assert "rule: fewest steps to mean final loss" in best
    assert matplotlib.image.imread(out).shape[:2] == (290, 350)  # one heatmap of the means, not one per seed
    assert len(table.read_text().splitlines()) == 1 + 15  # a row per setting: mean and std over the seeds

@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--problem", "ols", "--optimizer", "sgdd", "--steps", "5"], "unknown optimizer 'sgdd'; expected one of: sgd, adam"),
        (["run", "--problem", "ols", "--optimizer", "adam", "--momentum", "0.9", "--steps", "5"],
         "optimizer 'adam' has no hyperparameter 'momentum'; valid: lr, betas"),
        (["run", "--problem", "ols", "--optimizer", "sgd", "--lr", "fast", "--steps", "5"], "lr='fast': expected a finite number"),
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
    assert code == 2 and "expected finite numbers" in err


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


@pytest.mark.parametrize("command, failing, files", [
    (["map", "--problem", "ols", "--x", "intercept:-3:3:5", "--y", "slope:-3:3:5", "--out", "f.png"],
     ls.LossMap, ["f.png"]),
    (["run", "--problem", "ols", "--optimizer", "sgd", "--lr", "0.1", "--steps", "3", "--out", "f.png",
      "--gif", "f.gif"], ls.Trajectory, ["f.gif", "f.png"]),
    (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--grid", "lr=0.01,0.1", "--out", "f.png",
      "--csv", "f.csv"], ls.Sweep, ["f.csv", "f.png"]),
], ids=["map", "run", "sweep"])
def test_a_failed_save_leaves_the_figure_beside_it_as_it_was(tmp_path, capsys, monkeypatch, command, failing, files):
    def disk_full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(failing, "save", disk_full)
    monkeypatch.chdir(tmp_path)
    for name in files:
        (tmp_path / name).write_text("old")
    code, _, err = run(capsys, *command, "--save", "f.npz")
    assert code == 2 and err.splitlines()[-1] == "landscape: error: [Errno 28] No space left on device", err
    assert sorted(os.listdir(tmp_path)) == files and all((tmp_path / name).read_text() == "old" for name in files)


# `python -m landscape ARGS…` whose result file, written after the figure, waits half-written to be killed.
KILLED_DURING_SAVE = """
import runpy, time
import numpy as np

def slow_savez(f, **arrays):
    f.write(b"x" * 1_000_000)
    print("writing", flush=True)
    time.sleep(60)

np.savez_compressed = slow_savez
runpy.run_module("landscape", run_name="__main__", alter_sys=True)
"""


def test_sigterm_during_a_save_leaves_the_old_files_and_no_debris(tmp_path):
    out, save = tmp_path / "m.png", tmp_path / "m.npz"
    out.write_text("old figure")
    save.write_text("old numbers")
    job = subprocess.Popen([sys.executable, "-c", KILLED_DURING_SAVE, "map", "--problem", "ols", "--x",
                            "intercept:-3:3:5", "--y", "slope:-3:3:5", "--out", str(out), "--save", str(save),
                            "--quiet", "--no-cache"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "writing\n" in iter(job.stdout.readline, "")  # reads up to that line (or the end)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 143 and err.splitlines()[-1] == "landscape: terminated" and "Traceback" not in err
    assert out.read_text() == "old figure" and save.read_text() == "old numbers"
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "m.png"]


# ---------------------------------------------------------------------------------------------- the CLI covers the library

SMALL_MAP = ["--x", "intercept:-10:10:21", "--y", "slope:-10:10:21"]


@pytest.fixture
def figures(monkeypatch):
    """The figures the CLI saves, in order (drawn as usual, then kept for inspection)."""
    saved = []
    original = ls.plot.save

    def keep(fig, path, **kwargs):
        saved.append(fig)
        return original(fig, path, **kwargs)

    monkeypatch.setattr(ls.plot, "save", keep)
    return saved


def test_run_with_a_cosine_schedule_follows_torch(tmp_path, capsys):
    import torch

    save = tmp_path / "t.npz"
    code, _, err = run(capsys, "run", "--problem", "ols", "--optimizer", "sgd", "--lr", "0.1", "--steps", "30",
                       "--schedule", "cosine:T_max=10:eta_min=0.01", "--out", str(tmp_path / "t.png"),
                       "--save", str(save))
    assert code == 0, err
    traj = ls.Trajectory.load(save)
    prob = ls.problems.ols()
    python = ls.run(prob, ls.optim.SGD(lr=ls.optim.CosineAnnealingLR(0.1, T_max=10, eta_min=0.01)), 30)
    assert traj.optimizer == python.optimizer
    np.testing.assert_array_equal(traj.loss, python.loss)
    x, y = (torch.tensor(np.asarray(a, np.float64)) for a in prob.data)  # torch's SGD and scheduler, in float64
    w = torch.tensor([2.0, 9.0], dtype=torch.float64, requires_grad=True)  # (intercept, slope)
    opt = torch.optim.SGD([w], lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    losses = []
    for _ in range(31):
        loss = ((w[0] + w[1] * x - y) ** 2).mean()
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        scheduler.step()
    np.testing.assert_allclose(traj.loss, losses, rtol=2e-5, atol=1e-7)
    assert abs(np.diff(traj.loss[-5:])).max() > 0  # past T_max the lr is back up: still moving


SCHEDULE_CASES = [  # --schedule arguments, the Python schedule around lr 0.1
    (["step:step_size=5:gamma=0.5"], lambda lr: ls.optim.StepLR(lr, step_size=5, gamma=0.5)),
    (["exponential:gamma=0.9"], lambda lr: ls.optim.ExponentialLR(lr, gamma=0.9)),
    (["CosineAnnealingLR:T_max=8"], lambda lr: ls.optim.CosineAnnealingLR(lr, T_max=8)),
    (["warmup:warmup_steps=5:start_factor=0.25"], lambda lr: ls.optim.LinearWarmup(lr, 5, start_factor=0.25)),
    (["plateau:patience=1:factor=0.5:threshold_mode=abs:mode=min"],
     lambda lr: ls.optim.ReduceLROnPlateau(lr, patience=1, factor=0.5, threshold_mode="abs")),
    (["warmup:warmup_steps=3", "cosine:T_max=10"],
     lambda lr: ls.optim.LinearWarmup(ls.optim.CosineAnnealingLR(lr, T_max=10), warmup_steps=3)),
]


def test_every_schedule_of_the_library_has_a_cli_name():
    from landscape.cli import _schedule_classes

    library = {cls for name in ls.optim.__all__ if isinstance(cls := getattr(ls.optim, name), type)
               and issubclass(cls, ls.optim.Schedule) and cls not in (ls.optim.Schedule, ls.optim.Constant)}
    tested = {type(make(0.1)) for _, make in SCHEDULE_CASES}
    assert library == tested == set(_schedule_classes().values())


@pytest.mark.parametrize("specs, make", SCHEDULE_CASES, ids=["+".join(specs) for specs, _ in SCHEDULE_CASES])
def test_compare_with_schedules_equals_the_python_api(specs, make, tmp_path, capsys):
    save = tmp_path / "c.npz"
    code, _, err = run(capsys, "compare", "--problem", "ols", "--optimizer", "sgd", "--optimizer", "adam:lr=0.5",
                       "--lr", "0.1", "--steps", "12", *(a for spec in specs for a in ("--schedule", spec)),
                       "--out", str(tmp_path / "c.png"), "--save", str(save))
    assert code == 0, err
    expected = ls.compare(ls.problems.ols(), [ls.optim.SGD(lr=make(0.1)), ls.optim.Adam(lr=make(0.5))], 12)
    assert ls.load(save) == expected


def test_sweep_and_pca_map_take_a_schedule(tmp_path, capsys):
    save = tmp_path / "s.npz"
    code, _, err = run(capsys, "sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "15", "--lr", "0.05",
                       "--grid", "momentum=0,0.5", "--schedule", "step:step_size=5", "--out",
                       str(tmp_path / "s.png"), "--save", str(save))
    assert code == 0, err
    sw = ls.Sweep.load(save)
    assert sw.fixed == {"lr": ls.optim.StepLR(0.05, step_size=5)}
    direct = ls.sweep(ls.problems.ols(), ls.optim.SGD, 15, lr=ls.optim.StepLR(0.05, step_size=5), momentum=[0, 0.5])
    np.testing.assert_array_equal(sw.final_loss, direct.final_loss)
    save = tmp_path / "m.npz"
    code, _, err = run(capsys, "map", "--problem", "ols", "--directions", "pca", "--optimizer", "sgd", "--lr", "0.1",
                       "--steps", "20", "--schedule", "cosine:T_max=10", "--num", "5", "--quiet",
                       "--out", str(tmp_path / "m.png"), "--save", str(save))
    assert code == 0, err
    traj = ls.run(ls.problems.ols(), ls.optim.SGD(lr=ls.optim.CosineAnnealingLR(0.1, T_max=10)), 20)
    np.testing.assert_array_equal(ls.LossMap.load(save).meta["directions"]["path_loss"], traj.loss)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--schedule", "cos:T_max=3"], "unknown schedule 'cos'; expected one of: step, exponential, cosine, warmup, "
                                        "plateau"),
        (["--schedule", "cosine"], "CosineAnnealingLR needs T_max, e.g. cosine:T_max=…"),
        (["--schedule", "step:gamma=0.5"], "StepLR needs step_size"),
        (["--schedule", "cosine:T_max=2.5"], "T_max='2.5': expected a whole number of steps"),
        (["--schedule", "exponential:gamma=fast"], "gamma='fast': expected a finite number"),
        (["--schedule", "exponential:gamma=nan"], "gamma='nan': expected a finite number"),
        (["--schedule", "cosine:T_max=10:lr=1"], "the schedule starts from the optimizer's lr; set it with --lr"),
        (["--schedule", "cosine:T_max=10:gamma=1"], "CosineAnnealingLR has no parameter 'gamma'; valid: T_max, "
                                                    "eta_min"),
        (["--schedule", "cosine:T_max"], "expected NAME:key=value"),
        (["--schedule", "cosine:T_max=0"], "T_max must be > 0, got T_max=0"),
        (["--schedule", "plateau:mode=up"], "mode must be 'min' or 'max', got mode='up'"),
        (["--schedule", "cosine:T_max=9", "--schedule", "warmup:warmup_steps=2"],
         "only warmup may come before another --schedule"),
    ],
)
def test_schedule_errors_are_one_line(extra, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "run", "--problem", "ols", "--optimizer", "sgd", "--lr", "0.1", "--steps", "5", *extra)
    assert code == 2 and message in err, err
    assert err.startswith("landscape: error:") and err.count("\n") == 1 and not list(tmp_path.iterdir())


def test_schedule_where_it_cannot_apply(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid",
                       "lr=0.1,0.2", "--schedule", "cosine:T_max=5")
    assert code == 2 and "a sweep of --grid lr=… under a schedule is not supported" in err and err.count("\n") == 1
    code, _, err = run(capsys, "map", "--problem", "ols", "--schedule", "cosine:T_max=5")
    assert code == 2 and "--schedule trains the model for --directions pca" in err and err.count("\n") == 1


def test_compare_saves_every_trajectory_in_one_file(tmp_path, capsys):
    save = tmp_path / "c.npz"
    code, stdout, err = run(capsys, "compare", "--problem", "booth", "--optimizer", "sgd", "--optimizer",
                            "sgd:momentum=0.5", "--optimizer", "rmsprop", "--lr", "0.02", "--steps", "15", "--out",
                            str(tmp_path / "c.png"), "--save", str(save))
    assert code == 0, err
    assert f"trajectories in {save}" in stdout
    loaded = ls.load(save)
    prob = ls.problems.booth()
    expected = ls.compare(prob, [ls.optim.SGD(lr=0.02), ls.optim.SGD(lr=0.02, momentum=0.5),
                                 ls.optim.RMSprop(lr=0.02)], 15)
    assert list(loaded) == ["SGD(lr=0.02)", "SGD(lr=0.02, momentum=0.5)", "RMSprop(lr=0.02)"] and loaded == expected
    np.testing.assert_allclose(loaded["SGD(lr=0.02)"].loss[0], prob.loss(prob.params), rtol=1e-6)


def test_plot_redraws_a_map_and_a_sweep_as_their_commands_drew_them(tmp_path, capsys):
    for options in ([], ["--style", "filled", "--color", "sqrt"], ["--surface", "--style", "contour", "--log"]):
        first, again, save = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "m.npz"
        code, _, err = run(capsys, "map", "--problem", "ols", *SMALL_MAP, *options, "--dpi", "40", "--quiet",
                           "--out", str(first), "--save", str(save))
        assert code == 0, err
        code, stdout, err = run(capsys, "plot", str(save), *options, "--dpi", "40", "--out", str(again))
        assert code == 0, err
        assert stdout.startswith(f"{again}: LossMap from {save}")
        np.testing.assert_array_equal(matplotlib.image.imread(first), matplotlib.image.imread(again))
    code, _, err = run(capsys, "sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "10", "--grid",
                       "lr=log:1e-3:0.1:4", "--grid", "momentum=0,0.9", "--dpi", "40", "--out", str(first),
                       "--save", str(save))
    assert code == 0, err
    code, _, err = run(capsys, "plot", str(save), "--dpi", "40", "--out", str(again))
    assert code == 0, err
    np.testing.assert_array_equal(matplotlib.image.imread(first), matplotlib.image.imread(again))
    pca = ["--surface", "--color", "sqrt"]  # a PCA map: its training path, saved in its meta, on the surface
    code, _, err = run(capsys, "map", "--problem", "ols", "--directions", "pca", "--optimizer", "sgd", "--lr", "0.1",
                       "--steps", "10", "--num", "11", *pca, "--dpi", "40", "--quiet", "--out", str(first), "--save",
                       str(save))
    assert code == 0, err
    code, _, err = run(capsys, "plot", str(save), *pca, "--dpi", "40", "--out", str(again))
    assert code == 0, err
    np.testing.assert_array_equal(matplotlib.image.imread(first), matplotlib.image.imread(again))


def test_plot_draws_saved_paths_over_a_saved_map(tmp_path, capsys, figures):
    m, c, r = tmp_path / "m.npz", tmp_path / "c.npz", tmp_path / "r.npz"
    assert run(capsys, "map", "--problem", "ols", *SMALL_MAP, "--quiet", "--out", str(tmp_path / "m.png"),
               "--save", str(m))[0] == 0
    assert run(capsys, "compare", "--problem", "ols", "--optimizer", "sgd", "--optimizer", "adam", "--lr", "0.1",
               "--steps", "10", "--out", str(tmp_path / "c.png"), "--save", str(c))[0] == 0
    assert run(capsys, "run", "--problem", "ols", "--optimizer", "sgd", "--lr", "0.1", "--steps", "10",
               "--out", str(tmp_path / "r.png"), "--save", str(r))[0] == 0
    figures.clear()
    code, stdout, err = run(capsys, "plot", str(m), str(c), str(r), "--style", "contour", "--out",
                            str(tmp_path / "p.png"))
    assert code == 0, err
    curves, flat = [ax for ax in figures[0].axes if ax.get_label() != "<colorbar>"]  # (the curves come first)
    trajs = {**ls.load(c), "SGD(lr=0.1) #2": ls.Trajectory.load(r)}
    lines = {line.get_label(): line for line in flat.lines}
    for label, traj in trajs.items():  # each path at its coordinates, each loss curve its recorded loss
        np.testing.assert_array_equal(lines[label].get_xdata(), traj.params["intercept"])
        np.testing.assert_array_equal(lines[label].get_ydata(), traj.params["slope"])
    assert [line.get_label() for line in curves.lines] == list(trajs)
    np.testing.assert_array_equal(curves.lines[2].get_ydata(), trajs["SGD(lr=0.1) #2"].loss)
    figures.clear()
    code, _, err = run(capsys, "plot", str(r), "--out", str(tmp_path / "q.png"))  # no map: the loss curve
    assert code == 0, err
    (ax,) = figures[0].axes
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), trajs["SGD(lr=0.1) #2"].loss)
    line = ls.loss_line(ls.problems.ols(), ls.Axis("slope", -5, 5, 11))  # a 1-D slice: its curve
    line.save(tmp_path / "l.npz")
    code, stdout, err = run(capsys, "plot", str(tmp_path / "l.npz"), "--out", str(tmp_path / "l.png"))
    assert code == 0 and "LossLine from" in stdout, err
    np.testing.assert_array_equal(figures[-1].axes[0].lines[0].get_ydata(), line.values)


def test_plot_bad_files_and_combinations_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ls.loss_map(ls.problems.booth(), ls.Axis("x", -1, 1, 3), ls.Axis("y", -1, 1, 3)).save("booth.npz")
    ls.loss_map(ls.problems.ols(), ls.Axis("intercept", -1, 1, 3), ls.Axis("slope", -1, 1, 3)).save("ols.npz")
    ls.run(ls.problems.ols(), ls.optim.SGD(lr=0.1), 3).save("run.npz")
    ls.sweep(ls.problems.ols(), ls.optim.SGD, 3, lr=[0.1, 0.2]).save("sweep.npz")
    ls.random_search(ls.problems.booth(), 4, {"x": (-1, 1), "y": (-1, 1)}).save("search.npz")
    np.savez("foreign.npz", a=np.zeros(3))
    (tmp_path / "text.npz").write_text("not a zip")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "ols.npz").read_bytes()[:200])
    cases = [
        (["nothing.npz"], "no such file: 'nothing.npz'"),
        (["text.npz"], "'text.npz' is not a readable landscape result (truncated or not an .npz file)."),
        (["cut.npz"], "'cut.npz' is not a readable landscape result (truncated or not an .npz file)."),
        (["foreign.npz"], "not one written by landscape"),
        (["ols.npz", "booth.npz"], "ols.npz and booth.npz are both maps"),
        (["sweep.npz", "ols.npz"], "sweep.npz holds a Sweep, which is drawn alone"),
        (["search.npz"], "search.npz holds a RandomSearch, which landscape plot does not draw"),
        (["run.npz", "--surface"], "--surface draws a map; run.npz hold no LossMap"),
        (["sweep.npz", "--color", "log"], "--color draws a map"),
        (["booth.npz", "run.npz"], "booth.npz maps x × y, but 'x' is not a parameter of the trajectories"),
        (["ols.npz", "--metric", "accuracy"], "--metric 'accuracy': ols.npz holds loss"),
        (["ols.npz", "--style", "wireframe"], "invalid choice: 'wireframe'"),
        (["ols.npz", "--out", "p.npz"], "expected a file ending in .png"),
        ([], "the following arguments are required: RESULT.npz"),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, "plot", *argv)
        assert code == 2 and message in err, (argv, err)
        assert err.startswith("landscape: error:") and err.count("\n") == 1
    assert not list(tmp_path.glob("*.png"))


def test_color_scales_on_map_run_and_plot(tmp_path, capsys, figures):
    from matplotlib import colors

    def image_norm(fig):
        (image,) = [im for ax in fig.axes for im in ax.images]
        (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
        return image.norm, bar.get_ylabel()

    m = ls.loss_map(ls.problems.ols(), ls.Axis("intercept", -10, 10, 21), ls.Axis("slope", -10, 10, 21)).values
    lo, hi = m.min(), m.max()
    code, _, err = run(capsys, "map", "--problem", "ols", *SMALL_MAP, "--color", "sqrt", "--quiet", "--out",
                       str(tmp_path / "s.png"))
    assert code == 0, err
    norm, label = image_norm(figures[-1])
    np.testing.assert_allclose(norm(m), (np.sqrt(m) - np.sqrt(lo)) / (np.sqrt(hi) - np.sqrt(lo)), rtol=1e-5,
                               atol=1e-6)  # the colours of √loss ...
    assert label == "loss (√ scale)"  # ... on a colour bar that reads loss
    images = {}
    for name, options in (("log", ["--log"]), ("color-log", ["--color", "log"]), ("both", ["--log", "--color", "log"])):
        images[name] = tmp_path / f"{name}.png"
        code, _, err = run(capsys, "map", "--problem", "ols", *SMALL_MAP, *options, "--quiet", "--out",
                           str(images[name]))
        assert code == 0, err
        assert isinstance(image_norm(figures[-1])[0], colors.LogNorm)
    np.testing.assert_array_equal(matplotlib.image.imread(images["log"]), matplotlib.image.imread(images["color-log"]))
    code, _, err = run(capsys, "run", "--problem", "ols", "--optimizer", "sgd", "--lr", "0.1", "--steps", "5",
                       "--color", "sqrt", "--out", str(tmp_path / "r.png"))
    assert code == 0, err
    assert image_norm(figures[-1])[1] == "loss (√ scale)"
    for argv, message in ((["--log", "--color", "sqrt"], "--log is --color log; give one colour scale"),
                          (["--color", "cubic"], "invalid choice: 'cubic'")):
        code, _, err = run(capsys, "map", "--problem", "ols", *SMALL_MAP, *argv, "--out", str(tmp_path / "x.png"))
        assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.png").exists()


def test_style_with_surface_draws_both(tmp_path, capsys, figures):
    from matplotlib.contour import ContourSet

    code, _, err = run(capsys, "map", "--problem", "ols", *SMALL_MAP, "--surface", "--quiet", "--out",
                       str(tmp_path / "a.png"))
    assert code == 0, err
    assert [ax.name for ax in figures[-1].axes] == ["3d"]  # --surface alone: the surface
    code, _, err = run(capsys, "map", "--problem", "ols", *SMALL_MAP, "--surface", "--style", "contour", "--quiet",
                       "--out", str(tmp_path / "b.png"))
    assert code == 0, err
    surface, flat = figures[-1].axes[:2]
    assert surface.name == "3d" and flat.name == "rectilinear"
    contours = [c for c in flat.get_children() if isinstance(c, ContourSet)]
    assert len(contours) == 1 and not contours[0].filled and not flat.images  # the style asked for: lines
    code, _, err = run(capsys, "compare", "--problem", "ols", "--optimizer", "sgd", "--optimizer", "adam", "--lr",
                       "0.1", "--steps", "10", "--surface", "--style", "heatmap", "--out", str(tmp_path / "c.png"))
    assert code == 0, err
    curves, surface, flat = [ax for ax in figures[-1].axes if ax.get_label() != "<colorbar>"]
    assert surface.name == "3d" and len(surface.lines) == 2  # the paths on the surface ...
    assert flat.images and {line.get_label() for line in flat.lines} >= {"SGD(lr=0.1)", "Adam(lr=0.1)"}  # ... and map
    assert curves.get_ylabel() == "loss (log scale)" and len(curves.lines) == 2
    assert curves.get_position().x0 > flat.get_position().x0 > surface.get_position().x0  # left to right


@pytest.mark.parametrize("argv, message", [
    (["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--init", "slope=nan"], "--init 'slope=nan': "
     "expected finite numbers"),
    (["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--init", "slope=1,slope=2"],
     "--init 'slope=1,slope=2': slope is given twice"),
    (["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--init", "inf,2"], "expected finite numbers"),
    (["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--lr", "inf"], "lr='inf': expected a finite"),
    (["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--momentum", "nan"], "momentum='nan'"),
    (["compare", "--problem", "ols", "--optimizer", "sgd:lr=-inf", "--optimizer", "adam", "--steps", "3"],
     "lr='-inf': expected a finite number"),
    (["run", "--problem", "ols", "--optimizer", "adam", "--steps", "3", "--betas", "0.9,inf"],
     "betas='0.9,inf': expected two finite numbers"),
    (["map", "--problem", "booth", "--dpi", "100000"], "argument --dpi: expected a whole number of dots per inch "
     "from 10 to 2000, got '100000'"),
    (["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--dpi", "0"], "from 10 to 2000, got '0'"),
    (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--grid", "lr=log:1e-3:1:4", "--lr", "0.1"],
     "--lr 0.1 and --grid lr=… both set lr"),
    (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--grid", "lr=log:1e-3:1:4", "--momentum",
      "0.5", "--grid", "momentum=0,0.9"], "--momentum 0.5 and --grid momentum=… both set momentum"),
    (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--grid", "lr=lin:0:inf:4"],
     "with finite LO and HI"),
    (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--grid", "lr=0.1,nan"], "lr='nan'"),
    (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--grid", "lr=log:1e-3:1:4", "--tol", "-1"],
     "tol=-1.0 is below the lowest loss of 'ols'"),
    (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--grid", "lr=log:1e-3:1:4", "--tol", "inf"],
     "tol must be a finite number, got inf"),
])
def test_non_finite_out_of_range_and_conflicting_values_are_refused(tmp_path, capsys, monkeypatch, argv, message):
    """Each used to be accepted: a crash later (zero-size reduction, std::bad_alloc), a NaN run or a dropped flag."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err, err
    assert err.startswith("landscape: error:") and err.count("\n") == 1


@pytest.mark.parametrize("command, flag", [
    (["map", "--problem", "booth"], "--out"), (["map", "--problem", "booth"], "--save"),
    (["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "3"], "--gif"),
    (["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "3", "--grid", "lr=0.1,0.2"], "--csv"),
])
def test_an_output_that_is_a_directory_is_refused_before_the_job(tmp_path, capsys, monkeypatch, command, flag):
    """It used to fail only after the whole job, naming a temp file."""
    taken = tmp_path / {"--out": "m.png", "--save": "m.npz", "--gif": "m.gif", "--csv": "m.csv"}[flag]
    taken.mkdir()
    for name in ("loss_map", "run", "sweep"):
        monkeypatch.setattr(ls, name, lambda *a, **k: pytest.fail("the job ran"))
    code, _, err = run(capsys, *command, flag, str(taken), *(["--out", str(tmp_path / "o.png")] * (flag != "--out")))
    assert code == 2 and f"{flag} {str(taken)!r} is a directory; give a file name" in err, err


def first_non_finite_step(problem, optimizer, steps) -> int:
    """When ``optimizer`` diverges: the first step whose loss is not finite, found with NumPy in the API's run."""
    loss = ls.run(problem, optimizer, steps, progress=False).loss
    return int(np.flatnonzero(~np.isfinite(loss))[0])


def test_compare_with_a_diverging_optimizer_keeps_the_view_on_the_map(tmp_path, capsys, figures):
    k = first_non_finite_step(ls.problems.seed_regression(), ls.optim.SGD(lr=1.5), 100)
    code, stdout, err = run(capsys, "compare", "--problem", "seed-regression", "--optimizer", "sgd", "--optimizer",
                            "sgd:lr=1.5", "--lr", "0.1", "--steps", "100", "--out", str(tmp_path / "c.png"), "--quiet")
    assert code == 0, err
    assert f"SGD(lr=1.5): diverged at step {k}" in stdout
    (paths,) = [ax for ax in figures[0].axes if ax.images]
    (curves,) = [ax for ax in figures[0].axes if ax.get_xlabel() == "step"]
    x0, x1, y0, y1 = paths.images[0].get_extent()
    assert -6 < x0 < x1 < 9 and -6 < y0 < y1 < 9  # the problem's view (bias, weight in −5…8), not ±1.7e18
    assert x0 <= paths.get_xlim()[0] and paths.get_xlim()[1] <= x1 and y0 <= paths.get_ylim()[0]
    shown = np.ma.masked_invalid(paths.images[0].get_array())
    assert paths.images[0].norm.vmax <= shown.max() < 1e3  # the colours span the map's finite values
    for ax in (paths, curves):
        assert f"SGD(lr=1.5), diverged at step {k}" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert curves.get_ylim()[1] < 1e3  # the loss axis is not stretched to 3.7e36 either


def test_run_of_a_diverging_optimizer_on_a_one_parameter_problem(tmp_path, capsys, figures):
    k = first_non_finite_step(ls.problems.bowl(), ls.optim.SGD(lr=1.5), 100)
    code, stdout, err = run(capsys, "run", "--problem", "bowl", "--optimizer", "sgd", "--lr", "1.5", "--steps", "100",
                            "--out", str(tmp_path / "r.png"), "--quiet")
    assert code == 0, err
    paths = next(ax for ax in figures[0].axes if ax.get_xlabel() == "W")
    assert np.ptp(paths.get_xlim()) < 100 and paths.get_ylim()[1] < 1e4  # the first steps, not W = ±1.8e19
    assert f"SGD(lr=1.5), diverged at step {k}" in [t.get_text() for t in paths.get_legend().get_texts()]


def test_run_and_compare_pass_quiet_on_as_no_progress_bar(tmp_path, capsys, monkeypatch):
    asked = []
    compare = ls.compare
    monkeypatch.setattr(ls, "compare", lambda *a, **kw: asked.append(kw["progress"]) or compare(*a, **kw))
    for quiet in ((), ("--quiet",)):
        code, _, err = run(capsys, "run", "--problem", "bowl", "--optimizer", "sgd", "--lr", "0.1", "--steps", "3",
                           "--out", str(tmp_path / "r.png"), *quiet)
        assert code == 0, err
    assert asked == [None, False]


def test_map_and_sweep_say_what_they_are_doing_after_the_computation(tmp_path, capsys):
    out, save = tmp_path / "m.png", tmp_path / "m.npz"
    assert main(["map", "--problem", "ols", "--num", "21", "--out", str(out), "--save", str(save)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-2:] == [f"landscape: drawing {out} …", f"landscape: saved {out} and {save}"]
    assert main(["sweep", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--grid", "lr=0.01,0.1",
                 "--out", str(tmp_path / "s.png"), "--csv", str(tmp_path / "s.csv")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-2:] == [f"landscape: drawing {tmp_path / 's.png'} and writing {tmp_path / 's.csv'} …",
                        f"landscape: saved {tmp_path / 's.png'}, {tmp_path / 's.csv'}"]
    assert main(["map", "--problem", "ols", "--num", "21", "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_sweep_of_many_panels_where_every_setting_diverged(tmp_path, capsys):
    # beyond 12 combinations of the extra axes the figure shows the best setting's panel; with none, the first
    code, stdout, err = run(capsys, "sweep", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "20",
                            "--grid", "lr=lin:1e6:2e6:2", "--grid", "momentum=lin:0:0.5:2",
                            "--grid", "dampening=lin:0:0.9:13", "--out", str(tmp_path / "s.png"), "--quiet")
    assert code == 0, err
    assert "52 diverged" in stdout and "best: none, every setting diverged" in stdout
    assert (tmp_path / "s.png").is_file()
