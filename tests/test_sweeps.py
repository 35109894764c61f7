import csv
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import landscape as ls
from landscape import optim, problems

DIVERGED = ls.Status.DIVERGED


@pytest.fixture(scope="module")
def sgd_sweep():
    return ls.sweep(problems.seed_regression(), optim.SGD, steps=60,
                    lr=np.logspace(-3, 0.3, 7), momentum=np.linspace(0, 0.9, 5), keep="loss")


def test_sweep_equals_individual_runs(sgd_sweep):
    sw = sgd_sweep
    assert sw.shape == (7, 5) and list(sw.axes) == ["lr", "momentum"]
    for i, j in [(0, 0), (3, 2), (4, 1), (4, 4), (6, 0)]:
        lr, mu = sw.axes["lr"][i], sw.axes["momentum"][j]
        traj = ls.run(problems.seed_regression(), optim.SGD(lr=lr, momentum=mu), steps=60)
        assert sw.status[i, j] == DIVERGED if traj.diverged else sw.status[i, j] != DIVERGED
        if traj.diverged:  # float32 rounding differs between batch layouts; a blow-up amplifies it
            continue
        np.testing.assert_allclose(sw.loss_curves[i, j], traj.loss, rtol=1e-5)
        np.testing.assert_allclose(sw.final_loss[i, j], traj.loss[-1], rtol=1e-5)
        np.testing.assert_allclose(sw.final_params["weight"][i, j], traj.params["weight"][-1], rtol=1e-5)
        assert sw.best_step[i, j] == traj.best_step and sw.diverged_at[i, j] == -1
        np.testing.assert_allclose(sw.best_loss[i, j], np.nanmin(traj.loss), rtol=1e-6)


def test_divergence_flagged_not_raised(sgd_sweep):
    sw = sgd_sweep
    assert (sw.status[-1, :4] == DIVERGED).all() and (sw.status[0] != DIVERGED).all()  # lr = 2 blows up, lr = 1e-3 does not
    assert np.isnan(sw.final_loss[sw.status == DIVERGED]).all()
    assert (sw.diverged_at[sw.status == DIVERGED] > 0).all() and (sw.diverged_at[sw.status != DIVERGED] == -1).all()


def test_status_uses_known_minimum(sgd_sweep):
    sw = sgd_sweep
    tol = problems.seed_regression().min_value + 1e-3
    assert sw.meta["tol"] == pytest.approx(tol)
    finite = sw.status != DIVERGED
    np.testing.assert_array_equal(sw.status[finite] == ls.Status.CONVERGED, sw.final_loss[finite] <= tol)
    for index in zip(*np.nonzero(sw.steps_to_tol >= 0)):
        curve = sw.loss_curves[index]
        assert sw.steps_to_tol[index] == int(np.argmax(curve <= tol))


def test_table_agrees_with_arrays(sgd_sweep, tmp_path):
    sw = sgd_sweep
    rows = sw.table()
    assert len(rows) == 35
    row = rows[3 * 5 + 2]
    assert row["lr"] == sw.axes["lr"][3] and row["momentum"] == sw.axes["momentum"][2]
    assert row["final_loss"] == pytest.approx(float(sw.final_loss[3, 2]))
    assert row["final.weight"] == pytest.approx(float(sw.final_params["weight"][3, 2]))
    assert row["status"] in ("converged", "not converged", "diverged")
    path = tmp_path / "s.csv"
    sw.to_csv(path)
    with open(path) as f:
        read = list(csv.DictReader(f))
    assert len(read) == 35
    assert set(read[0]) >= {"lr", "momentum", "final_loss", "best_loss", "best_step", "steps_to_tol", "status",
                            "diverged_at", "final.bias", "final.weight"}
    assert float(read[17]["final_loss"]) == pytest.approx(float(sw.final_loss[3, 2]), rel=1e-6, nan_ok=True)


def fastest_within(final_loss, loss_curves, level):
    """Reference for Sweep.best, in plain NumPy over (*settings, seeds) arrays: among the settings whose mean final
    loss is ≤ level, the fewest mean steps until the loss first got ≤ level (NaN when a seed never did), then the
    lowest mean final loss. Returns (index, mean steps, number within, number tied)."""
    mean_final = final_loss.mean(axis=-1)
    hit = loss_curves <= level
    first = np.where(hit.any(axis=-1), hit.argmax(axis=-1), np.nan).mean(axis=-1)
    within = mean_final <= level
    reached = within & np.isfinite(first)
    tied = reached & (first == first[reached].min())
    index = np.unravel_index(np.argmin(np.where(tied, mean_final, np.inf)), tied.shape)
    return tuple(int(i) for i in index), float(first[index]), int(within.sum()), int(tied.sum())


def test_best_is_the_fastest_setting_within_tol(sgd_sweep):
    sw = sgd_sweep
    tol = problems.seed_regression().min_value + 1e-3
    index, steps, within, tied = fastest_within(sw.final_loss[..., None], sw.loss_curves[..., None, :], tol)
    assert index != np.unravel_index(np.nanargmin(sw.final_loss), sw.shape)  # the lowest loss is a slower setting
    best = sw.best()
    assert (best["index"], best["steps_to_tol"], best["within_tol"], best["tied"]) == (index, steps, within, tied)
    assert best["setting"] == {"lr": sw.axes["lr"][index[0]], "momentum": sw.axes["momentum"][index[1]]}
    assert best["tol"] == pytest.approx(tol) and "fewest steps" in best["rule"]
    assert best["final_loss"] == pytest.approx(float(sw.final_loss[index]))
    np.testing.assert_array_equal(sw.within_tol(), sw.final_loss <= tol)
    # a tolerance no setting reaches: 1e-3·max(1, |lowest|) above the lowest final loss, steps from the loss curves
    unreachable = dataclasses.replace(sw, meta={**sw.meta, "tol": 0.1})
    lowest = float(np.nanmin(sw.final_loss))
    index, steps, within, tied = fastest_within(sw.final_loss[..., None], sw.loss_curves[..., None, :],
                                                lowest + 1e-3)
    best = unreachable.best()
    assert (best["index"], best["steps_to_tol"], best["within_tol"], best["tied"]) == (index, steps, within, tied)
    assert best["tol"] == pytest.approx(lowest + 1e-3) and "above the lowest" in best["rule"]


def test_best_over_seeds_is_by_the_mean_with_its_spread(tmp_path):
    prob = problems.seed_regression()
    sw = ls.sweep(prob, optim.SGD, 80, lr=np.logspace(-1.5, -0.3, 5), momentum=[0.0, 0.5, 0.8], seeds=3,
                  batch_size=25, keep="loss")
    assert list(sw.axes) == ["lr", "momentum", "seed"]
    index, steps, within, tied = fastest_within(sw.final_loss, sw.loss_curves, sw.meta["tol"])
    per_seed = [np.unravel_index(np.nanargmin(sw.final_loss[..., k]), sw.shape[:2]) for k in range(3)]
    assert any(tuple(map(int, i)) != index for i in per_seed)  # not every seed alone agrees: the mean decides
    best = sw.best()
    assert (best["index"], best["within_tol"], best["tied"], best["seeds"]) == (index, within, tied, 3)
    assert best["setting"] == {"lr": sw.axes["lr"][index[0]], "momentum": sw.axes["momentum"][index[1]]}
    assert best["steps_to_tol"] == pytest.approx(steps)
    assert best["final_loss"] == pytest.approx(float(np.mean(sw.final_loss[index])), rel=1e-6)
    assert best["final_loss_std"] == pytest.approx(float(np.std(sw.final_loss[index])), rel=1e-4)
    np.testing.assert_allclose(sw.mean("final_loss"), sw.final_loss.mean(axis=-1), rtol=1e-6)
    np.testing.assert_allclose(sw.spread("final_loss"), np.std(sw.final_loss, axis=-1), rtol=1e-4)
    assert sw.optimizer(best["index"]) == optim.SGD(lr=float(sw.axes["lr"][index[0]]),
                                                    momentum=float(sw.axes["momentum"][index[1]]))
    sw.to_csv(tmp_path / "s.csv")  # one row per setting: means and standard deviations over the seeds
    with open(tmp_path / "s.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15 and {"seeds", "final_loss", "final_loss_std", "steps_to_tol_std"} <= set(rows[0])
    row = rows[index[0] * 3 + index[1]]
    assert float(row["final_loss_std"]) == pytest.approx(float(np.std(sw.final_loss[index])), rel=1e-4)
    assert int(row["converged"]) == int((sw.final_loss[index] <= sw.meta["tol"]).sum())


def test_save_load_round_trip(sgd_sweep, tmp_path):
    sgd_sweep.save(tmp_path / "s.npz")
    back = ls.Sweep.load(tmp_path / "s.npz")
    for name in ("final_loss", "best_loss", "best_step", "steps_to_tol", "status", "diverged_at", "loss_curves"):
        np.testing.assert_array_equal(getattr(back, name), getattr(sgd_sweep, name))
    np.testing.assert_array_equal(back.final_params["weight"], sgd_sweep.final_params["weight"])
    np.testing.assert_array_equal(back.axes["lr"], sgd_sweep.axes["lr"])
    assert back.best() == sgd_sweep.best()
    with pytest.raises(ValueError, match="not a 'Sweep'"):
        ls.Sweep.load(_saved_map(tmp_path))


def _saved_map(tmp_path):
    m = ls.loss_map(problems.booth(), ls.Axis("x", 0, 1, 3), ls.Axis("y", 0, 1, 3))
    m.save(tmp_path / "m.npz")
    return tmp_path / "m.npz"


def test_boolean_axis_equals_separate_runs():
    prob = problems.rosenbrock()
    sw = ls.sweep(prob, optim.SGD, steps=40, lr=[1e-4, 1e-3], momentum=0.9, nesterov=[True, False])
    assert sw.shape == (2, 2) and sw.fixed == {"momentum": 0.9}
    for i, lr in enumerate([1e-4, 1e-3]):
        for j, nesterov in enumerate([True, False]):
            traj = ls.run(prob, optim.SGD(lr=lr, momentum=0.9, nesterov=nesterov), steps=40)
            np.testing.assert_allclose(sw.final_loss[i, j], traj.loss[-1], rtol=1e-5)
    assert sw.final_loss[1, 0] != sw.final_loss[1, 1]


def test_chunked_equals_unchunked():
    prob = problems.himmelblau()
    kwargs = dict(lr=np.linspace(1e-3, 3e-2, 37), betas=(0.8, 0.99), beta1=[0.5, 0.9, 0.95])
    whole = ls.sweep(prob, optim.Adam, 30, **kwargs)
    chunked = ls.sweep(prob, optim.Adam, 30, memory_budget=3_000, **kwargs)  # per device: several chunks on 1–4
    assert chunked.meta["chunk"] < 37 * 3 <= whole.meta["chunk"]
    np.testing.assert_array_equal(whole.final_loss, chunked.final_loss)
    np.testing.assert_array_equal(whole.final_params["x"], chunked.final_params["x"])
    traj = ls.run(prob, optim.Adam(lr=float(kwargs["lr"][5]), betas=(0.95, 0.99)), 30)
    np.testing.assert_allclose(whole.final_loss[5, 2], traj.loss[-1], rtol=1e-6)


def test_init_and_seed_axes():
    prob = problems.seed_regression()
    init = {"weight": np.array([6.0, -2.0]), "bias": np.array([-3.0, 4.0])}
    sw = ls.sweep(prob, optim.SGD, 12, init=init, seeds=[4, 9, 4], batch_size=16, lr=[0.01, 0.05])
    assert sw.shape == (2, 2, 3) and list(sw.axes) == ["lr", "init", "seed"]
    np.testing.assert_array_equal(sw.final_loss[..., 0], sw.final_loss[..., 2])  # same seed, same shuffles
    traj = ls.run(prob, optim.SGD(lr=0.05), 12, init={"weight": -2.0, "bias": 4.0}, batch_size=16, seed=9)
    np.testing.assert_allclose(sw.final_loss[1, 1, 1], traj.loss[-1], rtol=1e-6)


def test_keep_params_paths():
    sw = ls.sweep(problems.booth(), optim.RMSprop, 10, lr=[0.01, 0.1], keep="params")
    traj = ls.run(problems.booth(), optim.RMSprop(lr=0.1), 10)
    np.testing.assert_allclose(sw.param_paths["y"][1], traj.params["y"], rtol=1e-6)
    assert sw.loss_curves.shape == (2, 11)


def test_gradient_criterion_without_known_minimum():
    sw = ls.sweep(problems.logistic_regression(), optim.SGD, 50, lr=[1e-4, 1.0])
    assert sw.steps_to_tol is None and "gradient" in sw.meta["criterion"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(lr=[0.1], momentom=[0.5]), ValueError, r"SGD has no hyperparameter 'momentom'; valid: lr, momentum"),
        (dict(lr=[]), ValueError, "lr must be a non-empty 1-D sequence"),
        (dict(lr=[[0.1, 0.2]]), ValueError, "lr must be a non-empty 1-D sequence"),
        (dict(lr=[-0.1, 0.1]), ValueError, "lr"),
        (dict(lr=["fast"]), ValueError, "lr values must be numbers or booleans"),
        (dict(lr=[0.1], keep="everything"), ValueError, "keep must be None, 'loss' or 'params'"),
        (dict(lr=np.zeros(10**6) + 0.1, momentum=np.zeros(10**5)), MemoryError, r"100,000,000,000 settings needs"),
        (dict(lr=[0.1], batch_size=500), ValueError, "batch_size=500"),
        (dict(lr=[0.1], seeds=0), ValueError, "seeds must be a positive count"),
        (dict(lr=[0.1], momentum=[0.0, 0.9], nesterov=[True]), ValueError, "nesterov=True requires momentum > 0"),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ls.sweep(problems.seed_regression(), optim.SGD, 10, **kwargs)


@pytest.mark.parametrize("problem, kwargs, match", [
    (problems.seed_regression, dict(), r"no hyperparameter is swept \(no grid\).*lr=np.logspace.*ls.run\(problem"),
    (problems.seed_regression, dict(lr=0.1, seeds=3, batch_size=10), r"no hyperparameter is swept \(lr=0.1\)"),
    (problems.seed_regression, dict(lr=[0.1], tol=-1.0), r"tol=-1.0 is below the lowest loss of 'seed-regression'"),
    (problems.ols, dict(lr=[0.1], tol=1e-9), r"tol=1e-09 is below the lowest loss of 'ols' \(9.05"),
])
def test_no_grid_and_unreachable_tol_are_refused(problem, kwargs, match):
    """Both used to run: a 0-d "sweep" of one setting, and a table where nothing can converge."""
    with pytest.raises(ValueError, match=match):
        ls.sweep(problem(), optim.SGD, 10, **kwargs)


def test_negative_tol_above_a_negative_minimum_is_accepted():
    sw = ls.sweep(problems.six_hump_camel(), optim.SGD, 200, init={"x": 0.0, "y": -0.6}, lr=[0.01, 0.03],
                  tol=-1.0)  # minimum −1.0316
    assert sw.meta["tol"] == -1.0 and (sw.status == ls.Status.CONVERGED).all()


def test_optimizer_class_error():
    with pytest.raises(TypeError, match="optimizer class such as landscape.optim.SGD"):
        ls.sweep(problems.bowl(), optim.SGD(lr=0.1), 10, lr=[0.1])


def test_sharded_over_four_devices_equals_one_device(tmp_path):
    script = textwrap.dedent("""
        import json, sys, numpy as np, jax, landscape as ls
        from landscape import _engine
        sw = ls.sweep(ls.problems.seed_regression(), ls.optim.SGD, 25, lr=np.linspace(0.01, 1.2, 13),
                      momentum=[0.0, 0.5, 0.9], memory_budget=300_000)
        compile_cached, sharded = _engine._compile_cached, []
        def spy(key):  # is the tile's output split across the devices?
            compiled = compile_cached(key)
            sharded.append(not jax.tree_util.tree_leaves(compiled.output_shardings)[0].is_fully_replicated)
            return compiled
        _engine._compile_cached = spy
        prob, x, y = ls.problems.softmax_regression(), ls.Axis("weight[0,0]", -5, 5, 33), ls.Axis("bias[1]", -5, 5, 21)
        maps = {chunk: ls.loss_map(prob, x, y, grad=True, chunk_size=chunk) for chunk in (264, 16)}  # rows, columns
        np.savez(sys.argv[1], final_loss=sw.final_loss, w=sw.final_params["weight"], status=sw.status,
                 **{f"map{c}": m.values for c, m in maps.items()}, **{f"grad{c}": m.grad_y for c, m in maps.items()})
        print(json.dumps({"devices": len(jax.devices()), "sweep_devices": sw.meta["devices"], "chunk": sw.meta["chunk"],
                          "map_devices": [m.meta["devices"] for m in maps.values()], "sharded": sharded}))
    """)
    results = {}
    for count in (1, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}", JAX_PLATFORMS="cpu")
        out = tmp_path / f"{count}.npz"
        proc = subprocess.run([sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True,
                              check=True)
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        assert info["devices"] == info["sweep_devices"] == count and info["map_devices"] == [count, count]
        assert info["chunk"] % count == 0
        assert info["sharded"] and all(info["sharded"]) == (count > 1)  # 8-row tiles split by rows, 12-column by columns
        results[count] = np.load(out)
    for name in ("final_loss", "w", "status", "map264", "grad264", "map16", "grad16"):
        np.testing.assert_array_equal(results[1][name], results[4][name])


def test_compare_seed_004():
    prob = problems.ols()
    optimizers = [optim.SGD(lr=0.1), optim.SGD(lr=0.1, momentum=0.2), optim.RMSprop(lr=0.1), optim.Adam(lr=0.1)]
    result = ls.compare(prob, optimizers, 50)
    assert list(result) == ["SGD(lr=0.1)", "SGD(lr=0.1, momentum=0.2)", "RMSprop(lr=0.1)", "Adam(lr=0.1)"]
    for opt, traj in zip(optimizers, result.values()):
        np.testing.assert_allclose(traj.loss, ls.run(prob, opt, 50).loss, rtol=1e-6)
        assert traj.params["intercept"][0] == 2.0 and traj.params["slope"][0] == 9.0  # seed 004's start
    again = ls.compare(prob, [optim.SGD(lr=0.1), optim.SGD(lr=0.1)], 5, labels=["a", "a"])
    assert list(again) == ["a", "a #2"]
    with pytest.raises(ValueError, match="at least one optimizer"):
        ls.compare(prob, [], 5)


def test_random_search():
    prob = problems.seed_regression()
    result = ls.random_search(prob, 500, {"weight": (-5, 8), "bias": (-5, 8)}, seed=3)
    assert result.samples.shape == (500, 2) and result.names == ["bias", "weight"]
    assert (result.samples >= -5).all() and (result.samples <= 8).all()
    x, y = (a.astype(np.float64) for a in prob.data)
    expected = [np.mean((w * x + b - y) ** 2) for b, w in result.samples[:20]]
    np.testing.assert_allclose(result.losses[:20], expected, rtol=2e-6)
    assert result.best_loss == result.losses.min()
    np.testing.assert_allclose([result.best_params["bias"], result.best_params["weight"]],
                               result.samples[np.argmin(result.losses)])
    partial = ls.random_search(problems.quadratic_fit(), 50, {"a": (0, 1)}, seed=0)
    assert (partial.samples[:, 1] == np.float32(0.8)).all() and partial.samples[:, 0].std() > 0.1
    with pytest.raises(ValueError, match="'slope' is not a parameter"):
        ls.random_search(prob, 10, {"slope": (0, 1)})


def test_select_slices_an_axis():
    sw = ls.sweep(problems.booth(), optim.SGD, 10, lr=[0.01, 0.02], momentum=[0.5, 0.9], nesterov=[True, False])
    sub = sw.select(nesterov=False, momentum=0.9)
    assert list(sub.axes) == ["lr"] and sub.fixed == {"nesterov": False, "momentum": 0.9}
    np.testing.assert_array_equal(sub.final_loss, sw.final_loss[:, 1, 1])
    np.testing.assert_array_equal(sub.final_params["x"], sw.final_params["x"][:, 1, 1])
    with pytest.raises(ValueError, match=r"momentum=0.7 is not among \[0.5, 0.9\]"):
        sw.select(momentum=0.7)
    with pytest.raises(ValueError, match="no axis 'rho'"):
        sw.select(rho=0.1)
