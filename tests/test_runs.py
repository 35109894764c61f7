import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import landscape as ls
from landscape import optim, problems


def numpy_sgd(x, y, w, b, lr, steps, momentum=0.0, nesterov=False):
    """Independent float64 reference: full-batch torch-style SGD on MSE of w·x + b."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    theta, buf, losses = np.array([w, b], float), None, []
    for t in range(steps + 1):
        r = theta[0] * x + theta[1] - y
        losses.append(np.mean(r**2))
        if t == steps:
            break
        g = np.array([2 * np.mean(r * x), 2 * np.mean(r)])
        if momentum:
            buf = g if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        theta = theta - lr * g
    return np.array(losses), theta


def test_seed_000_printed_losses():
    prob = problems.seed_regression()
    traj = ls.run(prob, optim.SGD(lr=0.1), steps=100)
    printed = {0: 53.078269958496094, 1: 34.7295036315918, 2: 22.891206741333008, 3: 15.226042747497559,
               4: 10.242652893066406, 5: 6.987757682800293, 6: 4.85075569152832, 7: 3.4395809173583984,
               8: 2.501774787902832, 9: 1.8742430210113525, 97: 0.4994412660598755, 98: 0.4994412362575531,
               99: 0.4994412660598755}
    for epoch, value in printed.items():
        np.testing.assert_allclose(traj.loss[epoch], value, rtol=2e-6)
    assert traj.loss.shape == (101,) and traj.params["weight"].shape == (101,)
    assert float(traj.params["weight"][0]) == 6.0 and float(traj.params["bias"][0]) == -3.0
    assert traj.status == 0 and traj.diverged_at == -1 and traj.batch_axes == ()


def test_seed_001_bowl_table():
    traj = ls.run(problems.bowl(), optim.SGD(lr=0.3), steps=4)
    np.testing.assert_allclose(traj.params["W"], [4.0, 1.6, 0.64, 0.256, 0.1024], rtol=1e-6)
    np.testing.assert_allclose(traj.loss, np.array([4.0, 1.6, 0.64, 0.256, 0.1024]) ** 2, rtol=1e-6)
    np.testing.assert_allclose(traj.grad_norm, 2 * np.array([4.0, 1.6, 0.64, 0.256, 0.1024]), rtol=1e-6)


def test_seed_002_momentum_step_sizes():
    prob = ls.Problem(name="half-square", fn=lambda p, _: 0.5 * p["var"] ** 2, params={"var": jnp.float32(1.0)})
    traj = ls.run(prob, optim.SGD(lr=0.1, momentum=0.9), steps=2)
    np.testing.assert_allclose(-np.diff(traj.params["var"]), [0.1, 0.18], rtol=1e-6)


def test_batched_optimizers_equal_a_loop_of_single_runs():
    prob = problems.seed_regression()
    lrs = np.array([0.01, 0.05, 0.1, 0.15], np.float32)
    nesterov = np.array([True, False, True, False])
    batch = ls.run(prob, optim.SGD(lr=lrs, momentum=0.5, nesterov=nesterov), steps=30)
    assert batch.loss.shape == (4, 31) and batch.batch_axes == ("optimizer",)
    for k in range(4):
        single = ls.run(prob, optim.SGD(lr=float(lrs[k]), momentum=0.5, nesterov=bool(nesterov[k])), steps=30)
        np.testing.assert_allclose(batch.loss[k], single.loss, rtol=1e-6)
        np.testing.assert_allclose(batch.params["weight"][k], single.params["weight"], rtol=1e-6)
        x, y = prob.data
        reference, _ = numpy_sgd(x, y, 6.0, -3.0, float(lrs[k]), 30, momentum=0.5, nesterov=bool(nesterov[k]))
        np.testing.assert_allclose(single.loss, reference, rtol=1e-4)


def test_two_dimensional_optimizer_batch_keeps_its_shape():
    lr = np.array([[0.01, 0.02, 0.03], [0.04, 0.05, 0.06]])
    traj = ls.run(problems.booth(), optim.Adam(lr=lr), steps=5)
    assert traj.loss.shape == (2, 3, 6) and traj.status.shape == (2, 3)
    single = ls.run(problems.booth(), optim.Adam(lr=0.05), steps=5)
    np.testing.assert_allclose(traj.loss[1, 1], single.loss, rtol=1e-6)


def test_batched_initial_points_and_optimizers():
    prob = problems.himmelblau()
    init = {"x": np.array([0.0, 1.0, -2.0]), "y": np.array([0.0, -1.0, 2.0])}
    traj = ls.run(prob, optim.SGD(lr=np.array([0.001, 0.01])), steps=10, init=init)
    assert traj.loss.shape == (2, 3, 11) and traj.batch_axes == ("optimizer", "init")
    single = ls.run(prob, optim.SGD(lr=0.01), steps=10, init={"x": 1.0, "y": -1.0})
    np.testing.assert_allclose(traj.loss[1, 1], single.loss, rtol=1e-6)
    np.testing.assert_allclose(traj.params["y"][1, 1], single.params["y"], rtol=1e-6)


def test_jit_equals_no_jit():
    prob = problems.rosenbrock()
    opt = optim.Adam(lr=np.array([0.01, 0.1]), amsgrad=np.array([True, False]))
    fast = ls.run(prob, opt, steps=6)
    with jax.disable_jit():
        slow = ls.run(prob, opt, steps=6)
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-6)
    np.testing.assert_allclose(fast.params["x"], slow.params["x"], rtol=1e-6)


def test_second_call_with_same_shapes_does_not_recompile(count_compiles):
    prob = problems.seed_regression()
    ls.run(prob, optim.SGD(lr=np.linspace(0.01, 0.1, 8), momentum=0.9), steps=20)
    with count_compiles() as counter:
        traj = ls.run(prob, optim.SGD(lr=np.linspace(0.02, 0.2, 8), momentum=0.5), steps=20)
        ls.run(problems.seed_regression(), optim.SGD(lr=np.linspace(0.02, 0.2, 8), momentum=0.5), steps=20)
    assert counter.count == 0
    assert np.isfinite(traj.loss).all()


def test_float64_matches_numpy_reference(x64):
    prob = problems.seed_regression()
    traj = ls.run(prob, optim.SGD(lr=0.1, momentum=0.9, nesterov=True), steps=50)
    assert traj.loss.dtype == np.float64 and traj.params["bias"].dtype == np.float64
    x, y = prob.data
    reference, theta = numpy_sgd(x, y, 6.0, -3.0, 0.1, 50, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(traj.loss, reference, rtol=1e-12)
    np.testing.assert_allclose([traj.params["weight"][-1], traj.params["bias"][-1]], theta, rtol=1e-12)


def test_divergence_is_recorded_and_isolated():
    prob = problems.seed_regression()
    traj = ls.run(prob, optim.SGD(lr=np.array([0.1, 3.0, 0.05])), steps=200)
    assert traj.status.tolist() == [ls.Status.OK, ls.Status.DIVERGED, ls.Status.OK]
    assert traj.diverged.tolist() == [False, True, False]
    for k, lr in [(0, 0.1), (2, 0.05)]:
        np.testing.assert_allclose(traj.loss[k], ls.run(prob, optim.SGD(lr=lr), steps=200).loss, rtol=1e-6)
    x, y = prob.data
    with np.errstate(over="ignore", invalid="ignore"):
        reference, _ = numpy_sgd(x.astype(np.float32), y, 6.0, -3.0, 3.0, 200)
        first_bad = int(np.argmax(~np.isfinite(reference.astype(np.float32))))  # where float32 overflows
    step = int(traj.diverged_at[1])
    assert abs(step - first_bad) <= 1
    assert np.isfinite(traj.loss[1, :step]).all() and np.isnan(traj.loss[1, step:]).all()
    frozen = traj.params["weight"][1, step:]
    assert np.isfinite(frozen).all() and (frozen == frozen[0]).all()


def test_nonfinite_start_is_diverged_at_step_zero():
    traj = ls.run(problems.bowl(), optim.SGD(lr=0.1), steps=3, init={"W": np.inf})
    assert traj.status == ls.Status.DIVERGED and traj.diverged_at == 0 and np.isnan(traj.loss).all()


def test_every_thins_the_record():
    prob = problems.beale()
    dense = ls.run(prob, optim.RMSprop(lr=0.01), steps=20)
    thin = ls.run(prob, optim.RMSprop(lr=0.01), steps=20, every=5)
    np.testing.assert_array_equal(thin.steps, [0, 5, 10, 15, 20])
    np.testing.assert_allclose(thin.loss, dense.loss[::5], rtol=1e-6)
    np.testing.assert_allclose(thin.params["x"], dense.params["x"][::5], rtol=1e-6)


def test_grad_norm_is_the_full_gradient_norm():
    prob = problems.seed_regression()
    traj = ls.run(prob, optim.SGD(lr=0.05), steps=5)
    x, y = (a.astype(np.float64) for a in prob.data)
    for t in range(6):
        r = traj.params["weight"][t] * x + traj.params["bias"][t] - y
        np.testing.assert_allclose(traj.grad_norm[t], np.hypot(2 * np.mean(r * x), 2 * np.mean(r)), rtol=1e-5)


def test_schedule_as_lr_matches_closed_form(x64):
    traj = ls.run(problems.bowl(), optim.SGD(lr=optim.StepLR(0.1, step_size=2, gamma=0.5)), steps=6)
    w, expected = 4.0, [4.0]
    for t in range(6):
        w -= 0.1 * 0.5 ** (t // 2) * 2 * w
        expected.append(w)
    np.testing.assert_allclose(traj.params["W"], expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------- mini-batches


def index_problem(n):
    """Loss mean(w[idx]) over a batch of sample indices: the gradient reveals which samples were in the batch."""
    return ls.Problem(name="indices", fn=lambda p, batch: jnp.mean(p["w"][batch[0]]),
                      params={"w": jnp.zeros(n)}, data=(np.arange(n), np.zeros(n)))


def batches_from(traj, n):
    """Per step: the batch's sample indices and their weights, read from SGD(lr=1) parameter differences."""
    deltas = -np.diff(traj.params["w"], axis=0)
    return [(np.flatnonzero(d), d[np.flatnonzero(d)]) for d in deltas]


def test_dataloader_semantics_new_permutation_each_epoch_short_last_batch():
    n, batch_size = 10, 4  # 3 batches per epoch: 4, 4, 2
    traj = ls.run(index_problem(n), optim.SGD(lr=1.0), steps=9, batch_size=batch_size, seed=3)
    batches = batches_from(traj, n)
    assert [len(idx) for idx, _ in batches] == [4, 4, 2] * 3
    for idx, weights in batches:
        np.testing.assert_allclose(weights, 1 / len(idx), rtol=1e-6)  # averaged over its own size
    epochs = [np.concatenate([idx for idx, _ in batches[3 * e:3 * e + 3]]) for e in range(3)]
    for e in epochs:
        np.testing.assert_array_equal(np.sort(e), np.arange(n))  # each sample exactly once per epoch
    orders = [tuple(np.concatenate([idx for idx, _ in batches[3 * e:3 * e + 3]])) for e in range(3)]
    assert len({frozenset(batches[3 * e][0]) for e in range(3)}) > 1  # reshuffled between epochs
    assert orders[0] != tuple(range(n))


def test_seeds_give_independent_shuffles_and_are_reproducible():
    prob = problems.seed_regression()
    traj = ls.run(prob, optim.SGD(lr=0.05), steps=12, batch_size=8, seed=[0, 1, 2, 0])
    assert traj.loss.shape == (4, 13) and traj.batch_axes == ("seed",)
    np.testing.assert_array_equal(traj.loss[0], traj.loss[3])
    assert not np.allclose(traj.loss[0], traj.loss[1]) and not np.allclose(traj.loss[1], traj.loss[2])
    single = ls.run(prob, optim.SGD(lr=0.05), steps=12, batch_size=8, seed=1)
    np.testing.assert_allclose(single.loss, traj.loss[1], rtol=1e-6)


def numpy_minibatch_sgd(x, y, w, b, lr, momentum, permutations, batch_size, steps):
    x, y = x.astype(np.float64), y.astype(np.float64)
    theta, buf, path = np.array([w, b], float), None, []
    n_batches = -(-len(x) // batch_size)
    for t in range(steps):
        order = permutations[t // n_batches]
        idx = order[(t % n_batches) * batch_size:(t % n_batches + 1) * batch_size]
        r = theta[0] * x[idx] + theta[1] - y[idx]
        g = np.array([2 * np.mean(r * x[idx]), 2 * np.mean(r)])
        buf = g if buf is None else momentum * buf + g
        theta = theta - lr * buf
        path.append(theta.copy())
    return np.array(path)


def test_explicit_permutations_match_numpy_reference():
    prob = problems.seed_regression()
    rng = np.random.default_rng(0)
    perms = np.stack([rng.permutation(50) for _ in range(4)])
    traj = ls.run(prob, optim.SGD(lr=0.05, momentum=0.9), steps=16, batch_size=16, permutations=perms)
    x, y = prob.data
    reference = numpy_minibatch_sgd(x, y, 6.0, -3.0, 0.05, 0.9, perms, 16, 16)
    np.testing.assert_allclose(traj.params["weight"][1:], reference[:, 0], rtol=1e-5)
    np.testing.assert_allclose(traj.params["bias"][1:], reference[:, 1], rtol=1e-5)
    full = [np.mean((w * x + b - y) ** 2) for w, b in zip(traj.params["weight"], traj.params["bias"])]
    np.testing.assert_allclose(traj.loss, full, rtol=1e-5)  # recorded loss is the full-data loss


def test_minibatch_matches_torch_loop_with_same_permutations():
    torch = pytest.importorskip("torch")
    prob = problems.seed_regression()
    x, y = prob.data
    rng = np.random.default_rng(1)
    perms = np.stack([rng.permutation(50) for _ in range(5)])
    traj = ls.run(prob, optim.Adam(lr=0.1, weight_decay=0.01), steps=25, batch_size=12, permutations=perms)
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(6.0)
        model.bias.fill_(-3.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.01)
    xt, yt = torch.from_numpy(x).reshape(-1, 1), torch.from_numpy(y).reshape(-1, 1)
    weights = []
    for epoch_order in perms:
        for k in range(5):  # ⌈50/12⌉ = 5 batches: 12, 12, 12, 12, 2
            if len(weights) == 25:
                break
            idx = torch.from_numpy(epoch_order[k * 12:(k + 1) * 12])
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(xt[idx]), yt[idx]).backward()
            opt.step()
            weights.append((model.weight.item(), model.bias.item()))
    weights = np.array(weights)
    np.testing.assert_allclose(traj.params["weight"][1:], weights[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(traj.params["bias"][1:], weights[:, 1], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(steps=-1), ValueError, "steps must be an integer ≥ 0, got -1"),
        (dict(steps=10, every=3), ValueError, "steps=10 must be a multiple of every=3"),
        (dict(steps=10, batch_size=51), ValueError, "batch_size=51 exceeds the 50 samples"),
        (dict(steps=10, batch_size=0), ValueError, "batch_size must be an integer ≥ 1, got 0"),
        (dict(steps=10, seed=[[1, 2]]), ValueError, "seed must be an integer or a non-empty 1-D sequence"),
        (dict(steps=10, init={"weight": 1.0}), ValueError, "init must have the structure"),
        (dict(steps=10, init={"weight": np.zeros(3), "bias": np.zeros(4)}), ValueError, "one common leading batch"),
        (dict(steps=10, permutations=np.zeros((2, 50), int)), ValueError, "give batch_size"),
        (dict(steps=10, batch_size=10, permutations=np.zeros((2, 50), int)), ValueError, "permutation of 0..N"),
        (dict(steps=20, batch_size=10, permutations=np.tile(np.arange(50), (3, 1))), ValueError, "span 4 epochs"),
    ],
)
def test_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ls.run(problems.seed_regression(), optim.SGD(lr=0.1), **kwargs)


def test_optimizer_type_error():
    with pytest.raises(TypeError, match=r"landscape.optim \(e.g. ls.optim.SGD"):
        ls.run(problems.bowl(), "sgd", steps=3)
    with pytest.raises(ValueError, match="needs a problem with data"):
        ls.run(problems.bowl(), optim.SGD(lr=0.1), steps=3, batch_size=2)


def test_one_diverging_setting_in_a_batch_of_1000():
    prob = problems.seed_regression()
    lrs = np.linspace(0.001, 0.2, 1000).astype(np.float32)
    lrs[617] = 50.0
    traj = ls.run(prob, optim.SGD(lr=lrs, momentum=0.5), steps=40)
    assert np.flatnonzero(traj.diverged).tolist() == [617]
    assert traj.diverged_at[617] > 0 and (np.delete(traj.diverged_at, 617) == -1).all()
    calm = ls.run(prob, optim.SGD(lr=np.delete(lrs, 617), momentum=0.5), steps=40)
    np.testing.assert_array_equal(np.delete(traj.loss, 617, axis=0), calm.loss)


def test_best_loss_and_step_cover_unrecorded_steps():
    prob = problems.seed_regression()
    dense = ls.run(prob, optim.SGD(lr=np.array([0.1, 0.3]), momentum=0.9), steps=60)
    thin = ls.run(prob, optim.SGD(lr=np.array([0.1, 0.3]), momentum=0.9), steps=60, every=20)
    np.testing.assert_array_equal(thin.best_step, np.argmin(dense.loss, axis=1))
    np.testing.assert_allclose(thin.best_loss, dense.loss.min(axis=1), rtol=1e-6)


def test_record_grads_matches_closed_form(tmp_path):
    prob = problems.seed_regression()
    traj = ls.run(prob, optim.Adam(lr=0.3), steps=6, record_grads=True, every=2)
    x, y = (a.astype(np.float64) for a in prob.data)
    for t in range(4):
        r = traj.params["weight"][t] * x + traj.params["bias"][t] - y
        np.testing.assert_allclose(traj.grads["weight"][t], 2 * np.mean(r * x), rtol=1e-5)
        np.testing.assert_allclose(traj.grads["bias"][t], 2 * np.mean(r), rtol=1e-5)
    np.testing.assert_allclose(traj.grad_norm, np.hypot(traj.grads["weight"], traj.grads["bias"]), rtol=1e-6)
    assert ls.run(prob, optim.Adam(lr=0.3), steps=6).grads is None
    traj.save(tmp_path / "t.npz")
    back = ls.Trajectory.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.grads["bias"], traj.grads["bias"])


def test_optimizer_batch_sharded_over_devices_equals_one_device(tmp_path):
    script = textwrap.dedent("""
        import json, sys, numpy as np, jax, landscape as ls
        from landscape import _engine
        compile_cached, spread = _engine._compile_cached, []
        def spy(key):  # over how many devices does the history come out?
            compiled = compile_cached(key)
            spread.append(len(jax.tree_util.tree_leaves(compiled.output_shardings)[0].device_set))
            return compiled
        _engine._compile_cached = spy
        prob = ls.problems.seed_regression()
        opt = ls.optim.SGD(lr=np.linspace(0.01, 0.3, 7), momentum=0.9)  # 7: padded to a multiple of the devices
        init = {"weight": np.array([6.0, -2.0]), "bias": np.array([-3.0, 1.0])}
        t = ls.run(prob, opt, 30, init=init, batch_size=16, seed=[0, 1], every=5)
        np.savez(sys.argv[1], loss=t.loss, w=t.params["weight"], status=t.status, best=t.best_loss)
        print(json.dumps({"devices": len(jax.devices()), "spread": spread, "shape": list(t.loss.shape)}))
    """)
    results = {}
    for count in (1, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}", JAX_PLATFORMS="cpu")
        out = tmp_path / f"{count}.npz"
        proc = subprocess.run([sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        assert info["devices"] == count and set(info["spread"]) == {count} and info["shape"] == [7, 2, 2, 7]
        results[count] = np.load(out)
    for name in ("loss", "w", "status", "best"):
        np.testing.assert_array_equal(results[1][name], results[4][name])


def assert_same_run(a, b):
    """Bit for bit: every recorded array and the summary."""
    for field in ("params", "state", "grads", "loss", "grad_norm", "diverged_at", "best_loss", "best_step", "status"):
        left, right = jax.tree_util.tree_leaves(getattr(a, field)), jax.tree_util.tree_leaves(getattr(b, field))
        assert len(left) == len(right), field
        for x, y in zip(left, right):
            assert x.dtype == y.dtype and x.shape == y.shape, field
            np.testing.assert_array_equal(x, y, err_msg=field, strict=True)


@pytest.mark.parametrize("optimizer, kwargs", [
    (optim.SGD(lr=np.array([0.01, 0.05, 1.5], np.float32), momentum=0.5), dict(steps=200)),  # one diverges
    (optim.Adam(lr=0.1), dict(steps=150, batch_size=8, seed=[0, 1], every=3, record_grads=True)),
])
def test_run_in_segments_is_bit_identical(optimizer, kwargs, monkeypatch):
    prob = problems.seed_regression()
    whole = ls.run(prob, optimizer, progress=False, **kwargs)
    assert_same_run(whole, ls.run(prob, optimizer, progress=True, **kwargs))  # ten segments
    monkeypatch.setattr(ls.runs, "SEGMENT_STEPS", 48)  # a "long" run: segments of 48 steps, no forced bar
    assert_same_run(whole, ls.run(prob, optimizer, **kwargs))
    if kwargs.get("batch_size") is None:  # the first step of divergence, found independently
        bad = ~np.isfinite(whole.loss)
        np.testing.assert_array_equal(whole.diverged_at, np.where(bad.any(axis=1), bad.argmax(axis=1), -1))


def test_run_in_segments_with_model_state():
    from test_state import batchnorm_mlp, make

    params, state, x, y = make()
    prob = ls.Problem.from_model(batchnorm_mlp, params, x, y, "cross_entropy", state=state)
    kwargs = dict(steps=40, batch_size=5, every=2)
    assert_same_run(ls.run(prob, optim.SGD(lr=0.1), progress=False, **kwargs),
                    ls.run(prob, optim.SGD(lr=0.1), progress=True, **kwargs))


def test_run_progress_bar_on_stderr_only_when_asked(capsys):
    prob = problems.seed_regression()
    ls.run(prob, optim.SGD(lr=0.1), steps=300, progress=True)
    err = capsys.readouterr().err
    assert "300/300" in err and "step" in err
    ls.compare(prob, [optim.SGD(lr=0.1), optim.Adam(lr=0.1)], steps=300, progress=False)
    assert capsys.readouterr().err == ""
