"""Model state (BatchNorm statistics): training carries it (against PyTorch's BatchNorm1d and a plain loop), slices
hold it fixed, and a model with state gets errors that say what to do."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import landscape as ls

MOMENTUM, EPS = 0.1, 1e-5


def batchnorm_mlp(params, state, x, train):
    """Linear(4→5) → BatchNorm1d(5) (torch semantics) → ReLU → Linear(5→3); torch layout (out, in)."""
    h = x @ params["fc1"]["weight"].T + params["fc1"]["bias"]
    if train:
        mean, var = jnp.mean(h, axis=0), jnp.var(h, axis=0)
        n = h.shape[0]
        new_state = {"mean": (1 - MOMENTUM) * state["mean"] + MOMENTUM * mean,
                     "var": (1 - MOMENTUM) * state["var"] + MOMENTUM * var * n / (n - 1)}
    else:
        mean, var, new_state = state["mean"], state["var"], state
    h = (h - mean) / jnp.sqrt(var + EPS) * params["bn"]["weight"] + params["bn"]["bias"]
    h = jax.nn.relu(h)
    return h @ params["fc2"]["weight"].T + params["fc2"]["bias"], new_state


def make(n=24, seed=0):
    rng = np.random.default_rng(seed)
    params = {"fc1": {"weight": rng.normal(size=(5, 4)) * 0.5, "bias": rng.normal(size=5) * 0.1},
              "bn": {"weight": 1 + 0.1 * rng.normal(size=5), "bias": 0.1 * rng.normal(size=5)},
              "fc2": {"weight": rng.normal(size=(3, 5)) * 0.5, "bias": np.zeros(3)}}
    params = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    state = {"mean": np.zeros(5, np.float32), "var": np.ones(5, np.float32)}
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    return params, state, x, y


def reference_run(params, state, x, y, lr, steps, batch_size=None, permutations=None):
    """A plain Python loop: SGD on the training-mode loss, state from the model, loss recorded in eval mode."""
    @jax.jit
    def train_step(p, s, xb, yb):
        def train_loss(q):
            out, new_s = batchnorm_mlp(q, s, xb, True)
            return ls.losses.cross_entropy(out, yb), new_s

        (_, new_s), g = jax.value_and_grad(train_loss, has_aux=True)(p)
        return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), new_s

    def eval_loss(p, s):
        return float(ls.losses.cross_entropy(batchnorm_mlp(p, s, x, False)[0], y))

    p, s, losses = params, state, [eval_loss(params, state)]
    for t in range(steps):
        if batch_size is None:
            xb, yb = x, y
        else:
            per_epoch = -(-len(x) // batch_size)
            epoch, k = divmod(t, per_epoch)
            idx = permutations[epoch][k * batch_size:(k + 1) * batch_size]
            xb, yb = x[idx], y[idx]
        p, s = train_step(p, s, xb, yb)
        losses.append(eval_loss(p, s))
    return p, s, np.array(losses)


def test_run_carries_the_state_like_a_plain_loop():
    params, state, x, y = make()
    prob = ls.Problem.from_model(batchnorm_mlp, params, x, y, "cross_entropy", state=state)
    traj = ls.run(prob, ls.optim.SGD(lr=0.3), steps=6)
    p, s, losses = reference_run(params, state, x, y, 0.3, 6)
    np.testing.assert_allclose(traj.loss, losses, rtol=2e-5)
    np.testing.assert_allclose(traj.state["mean"][-1], s["mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(traj.state["var"][-1], s["var"], rtol=1e-5)
    np.testing.assert_allclose(traj.params["fc1"]["weight"][-1], p["fc1"]["weight"], rtol=1e-4, atol=1e-6)
    assert traj.state["mean"].shape == (7, 5) and not np.allclose(traj.state["mean"][-1], 0)


def test_minibatch_run_with_state_like_a_plain_loop():
    params, state, x, y = make(n=20)
    prob = ls.Problem.from_model(batchnorm_mlp, params, x, y, "cross_entropy", state=state)
    perms = np.stack([np.random.default_rng(e).permutation(20) for e in range(3)])
    traj = ls.run(prob, ls.optim.SGD(lr=0.2), steps=8, batch_size=8, permutations=perms)
    _, s, losses = reference_run(params, state, x, y, 0.2, 8, batch_size=8, permutations=perms)
    np.testing.assert_allclose(traj.loss, losses, rtol=2e-5)
    np.testing.assert_allclose(traj.state["var"][-1], s["var"], rtol=1e-5)


def test_run_with_state_matches_torch_batchnorm():
    torch = pytest.importorskip("torch")
    params, state, x, y = make()
    prob = ls.Problem.from_model(batchnorm_mlp, params, x, y, "cross_entropy", state=state)
    traj = ls.run(prob, ls.optim.SGD(lr=0.3, momentum=0.9), steps=5)

    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5, eps=EPS, momentum=MOMENTUM),
                              torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        for module, name in ((net[0], "fc1"), (net[1], "bn"), (net[3], "fc2")):
            module.weight.copy_(torch.tensor(params[name]["weight"]))
            module.bias.copy_(torch.tensor(params[name]["bias"]))
    opt = torch.optim.SGD(net.parameters(), lr=0.3, momentum=0.9)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def eval_loss():
        net.eval()
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(net(xt), yt).item()

    losses = [eval_loss()]
    for _ in range(5):
        net.train()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
        losses.append(eval_loss())
    np.testing.assert_allclose(traj.loss, losses, rtol=1e-5)
    np.testing.assert_allclose(traj.state["mean"][-1], net[1].running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(traj.state["var"][-1], net[1].running_var.numpy(), rtol=1e-5)


def test_a_map_holds_the_state_fixed_and_uses_evaluation_mode():
    params, state, x, y = make()
    state = {"mean": np.full(5, 0.2, np.float32), "var": np.full(5, 1.5, np.float32)}
    prob = ls.Problem.from_model(batchnorm_mlp, params, x, y, "cross_entropy", state=state)
    dx, dy = ls.random_directions(params, jax.random.PRNGKey(0))
    m = ls.loss_map(prob, ls.Axis(dx, -1, 1, 3), ls.Axis(dy, -1, 1, 2))
    for i, b in enumerate(m.ys):
        for j, a in enumerate(m.xs):
            point = jax.tree_util.tree_map(lambda p, u, v: p + a * u + b * v, params, dx, dy)
            out = batchnorm_mlp(point, state, x, False)[0]
            expected = np.mean(np.log(np.sum(np.exp(out), 1)) - np.asarray(out)[np.arange(len(y)), y])
            np.testing.assert_allclose(m.values[i, j], expected, rtol=1e-5)


def test_a_model_that_returns_a_tuple_without_state_is_told_what_to_do():
    params, state, x, y = make()
    with pytest.raises(TypeError, match="pass state="):
        ls.Problem.from_model(lambda p, xx: batchnorm_mlp(p, state, xx, False), params, x, y, "cross_entropy")
    with pytest.raises(TypeError, match=r"\(predictions, new_state\)"):
        ls.Problem.from_model(lambda p, s, xx, train: batchnorm_mlp(p, s, xx, train)[0], params, x, y,
                              "cross_entropy", state=state)


def test_trajectory_with_state_saves_and_loads(tmp_path):
    params, state, x, y = make()
    prob = ls.Problem.from_model(batchnorm_mlp, params, x, y, "cross_entropy", state=state)
    traj = ls.run(prob, ls.optim.SGD(lr=0.1), steps=2)
    traj.save(tmp_path / "t.npz")
    assert ls.Trajectory.load(tmp_path / "t.npz") == traj
