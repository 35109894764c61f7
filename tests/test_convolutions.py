"""Convolutions rewritten into XLA:CPU's canonical layout (landscape._convolutions), and the runs, sweeps and maps
of convolutional networks that use it: the same numbers as the program as written."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import landscape as ls
from landscape import _convolutions

# (lhs shape, rhs shape, dimension numbers, keyword arguments of conv_general_dilated)
LAYOUTS = {
    "NCHW, strided, dilated": ((3, 2, 7, 6), (4, 2, 3, 2), ("NCHW", "OIHW", "NCHW"),
                               dict(window_strides=(2, 1), padding=((1, 0), (0, 2)), rhs_dilation=(1, 2))),
    "NHWC": ((3, 6, 6, 2), (3, 3, 2, 4), ("NHWC", "HWIO", "NHWC"), dict(window_strides=(1, 1), padding="SAME")),
    "mixed, transposed": ((3, 5, 2, 4), (2, 3, 3, 4), ("NHCW", "IOHW", "CNWH"),
                          dict(window_strides=(1, 1), padding=((1, 1), (0, 0)), lhs_dilation=(2, 1))),
    "1-D, grouped": ((2, 4, 9), (6, 2, 3), ("NCH", "OIH", "NCH"),
                     dict(window_strides=(1,), padding="SAME", feature_group_count=2)),
}


def _program(lhs_shape, rhs_shape, numbers, kwargs):
    """A convolution, its gradients (their convolutions have other layouts) in a scan and a cond: ``f(w, x)``."""
    def loss(w, x):
        return jnp.sum(jnp.tanh(lax.conv_general_dilated(x, w, dimension_numbers=numbers, **kwargs)))

    def step(carry, k):
        w, x = carry
        gw, gx = jax.grad(loss, argnums=(0, 1))(w, x)
        w = lax.cond(k % 2 == 0, lambda: w - 0.1 * gw, lambda: w + 0.05 * gw)
        return (w, x - 0.1 * gx), loss(w, x)

    def f(w, x):
        return lax.scan(step, (w, x), jnp.arange(3))

    rng = np.random.default_rng(0)
    return f, (rng.normal(size=rhs_shape).astype(np.float32) / 3, rng.normal(size=lhs_shape).astype(np.float32))


def _convolutions_of(jaxpr):
    """Every conv_general_dilated equation of ``jaxpr`` and of the jaxprs nested in it."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            found.append(eqn)
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            found += _convolutions_of(sub)
    return found


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_convolution_is_rewritten_to_the_canonical_layout_with_the_same_numbers(layout):
    f, args = _program(*LAYOUTS[layout])
    written = _convolutions_of(jax.make_jaxpr(f)(*args).jaxpr)
    assert len(written) == 4 and {e.params["dimension_numbers"] for e in written} != {None}  # forward + gradients
    rewritten = _convolutions_of(jax.make_jaxpr(_convolutions.canonical(f))(*args).jaxpr)
    assert len(rewritten) == 4
    for eqn in rewritten:  # input (batch, spatial…, feature), kernel (spatial…, in, out), output like the input
        n = eqn.invars[0].aval.ndim
        spatial = tuple(range(1, n - 1))
        assert eqn.params["dimension_numbers"] == lax.ConvDimensionNumbers(
            (0, n - 1) + spatial, (n - 1, n - 2) + tuple(range(n - 2)), (0, n - 1) + spatial)
    expected, got = jax.jit(f)(*args), jax.jit(_convolutions.canonical(f))(*args)
    for e, g in zip(jax.tree_util.tree_leaves(expected), jax.tree_util.tree_leaves(got)):
        assert e.shape == g.shape and e.dtype == g.dtype
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-5)


def test_a_program_without_convolutions_is_unchanged():
    def f(x):
        return lax.scan(lambda c, t: (c * 0.5 + t, c.sum()), x, jnp.arange(3.0))

    x = np.arange(6.0, dtype=np.float32)
    assert str(jax.make_jaxpr(_convolutions.canonical(f))(x)) == str(jax.make_jaxpr(f)(x))
    assert not _convolutions.has_convolution(jax.make_jaxpr(f)(x))


def _nchw_cnn_problem(n=16, classes=3):
    """A channels-first CNN (Equinox's and torch's layout): conv 1 → 4 channels, ReLU, dense."""
    rng = np.random.default_rng(1)
    images = rng.normal(size=(n, 1, 5, 5)).astype(np.float32)
    labels = rng.integers(0, classes, n)

    def cnn(p, x):
        h = lax.conv_general_dilated(x, p["conv"], (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return jax.nn.relu(h + p["bias"][:, None, None]).reshape(len(x), -1) @ p["dense"]

    params = {"conv": rng.normal(size=(4, 1, 3, 3)).astype(np.float32) / 3,
              "bias": np.zeros(4, np.float32), "dense": rng.normal(size=(100, classes)).astype(np.float32) / 10}
    return ls.Problem.from_model(cnn, params, images, labels, "cross_entropy"), cnn


def _descent(prob, lr, steps):
    """Full-batch gradient descent as a plain loop of jitted steps (no scan, nothing rewritten): the losses."""
    grad = jax.jit(jax.value_and_grad(prob.loss))
    params, losses = prob.params, []
    for _ in range(steps):
        value, g = grad(params)
        losses.append(float(value))
        params = jax.tree_util.tree_map(lambda p, d: p - lr * d, params, g)
    return np.array(losses + [float(prob.loss(params))]), params


def test_a_loss_without_data_that_convolves_is_known_to():
    prob, _ = _nchw_cnn_problem()
    closed = ls.Problem(name="closed over", fn=lambda p, batch: prob.loss(p), params=prob.params)
    assert closed.data is None and closed.convolves  # (so its runs are rewritten too)
    assert not ls.problems.rosenbrock().convolves
    np.testing.assert_allclose(ls.run(closed, ls.optim.SGD(lr=0.1), steps=3, progress=False).loss,
                               _descent(prob, 0.1, 3)[0], rtol=2e-5)


def test_runs_and_sweeps_of_a_channels_first_cnn_match_a_loop_of_plain_steps():
    prob, _ = _nchw_cnn_problem()
    assert prob.convolves
    lrs = np.array([0.05, 0.2], np.float32)
    traj = ls.run(prob, ls.optim.SGD(lr=lrs), steps=6, progress=False)
    sw = ls.sweep(prob, ls.optim.SGD, steps=6, lr=lrs, progress=False)
    for k, lr in enumerate(lrs):
        losses, final = _descent(prob, lr, 6)
        np.testing.assert_allclose(traj.loss[k], losses, rtol=2e-5)
        np.testing.assert_allclose(sw.final_loss[k], losses[-1], rtol=2e-5)
        for name in final:
            np.testing.assert_allclose(traj.params[name][k, -1], final[name], rtol=2e-5, atol=1e-6)


def test_a_map_of_a_channels_first_cnn_matches_the_loss_at_every_point():
    prob, _ = _nchw_cnn_problem()
    dx, dy = ls.random_directions(prob.params, jax.random.PRNGKey(0))
    m = ls.loss_map(prob, ls.Axis(dx, -1, 1, 3), ls.Axis(dy, -0.5, 0.5, 2))
    assert m.meta["strategy"] == ["loop", 1]  # (a loop over points: where XLA kept the layout as written)
    loss = jax.jit(prob.loss)
    for i, b in enumerate(m.ys):
        for j, a in enumerate(m.xs):
            point = jax.tree_util.tree_map(lambda p, u, v: p + a * u + b * v, prob.params, dx, dy)
            np.testing.assert_allclose(m.values[i, j], loss(point), rtol=2e-5)
