import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import landscape as ls
from landscape import problems


def seed000_data():
    """Seed 000's recipe, verbatim."""
    np.random.seed(20240215)
    n = 50
    x = np.array(np.random.randn(n), dtype=np.float32)
    y = np.array(0.75 * x**2 + 1.0 * x + 2.0 + 0.3 * np.random.randn(n), dtype=np.float32)
    return x, y


def test_seed_regression_reproduces_seed_000():
    prob = problems.seed_regression()
    x, y = seed000_data()
    np.testing.assert_array_equal(prob.data[0], x)
    np.testing.assert_array_equal(prob.data[1], y)
    assert prob.data[0].dtype == np.float32
    assert float(prob.params["weight"]) == 6.0 and float(prob.params["bias"]) == -3.0
    # the seed prints "epoch 0, loss 53.078269958496094"
    np.testing.assert_allclose(float(prob.loss(prob.params)), 53.078269958496094, rtol=1e-6)  # float32 summation order
    assert prob.names == ["bias", "weight"]
    assert prob.n_samples == 50


@pytest.mark.parametrize(
    "loss, reference",
    [
        ("mse", lambda r: np.mean(r**2)),
        ("l1", lambda r: np.mean(np.abs(r))),
        ("huber", lambda r: np.mean(np.where(np.abs(r) < 1, 0.5 * r**2, np.abs(r) - 0.5))),
        ("smooth_l1", lambda r: np.mean(np.where(np.abs(r) < 1, 0.5 * r**2, np.abs(r) - 0.5))),
    ],
)
def test_seed_regression_losses_match_numpy(loss, reference):
    prob = problems.seed_regression(loss=loss)
    x, y = (a.astype(np.float64) for a in seed000_data())
    for w, b in [(6.0, -3.0), (1.0, 2.0), (0.3, 0.1)]:
        expected = reference(w * x + b - y)
        got = float(prob.loss({"weight": jnp.float32(w), "bias": jnp.float32(b)}))
        np.testing.assert_allclose(got, expected, rtol=2e-6)


def test_seed_regression_minimum_is_stationary_and_matches_seed(x64):
    prob = problems.seed_regression()
    grad = jax.grad(prob.loss)(jax.tree_util.tree_map(jnp.float64, prob.minimum))
    assert max(abs(float(g)) for g in jax.tree_util.tree_leaves(grad)) < 1e-5
    # the seed's training converges to "loss 0.4994412660598755"
    np.testing.assert_allclose(prob.min_value, 0.4994412660598755, rtol=1e-6)


def test_seed_regression_rejects_unknown_loss():
    with pytest.raises(ValueError, match=r"loss='cross_entropy'.*mse"):
        problems.seed_regression(loss="cross_entropy")


def test_ols_recipe_and_exact_minimum(x64):
    prob = problems.ols()
    x, y = prob.data
    assert x.shape == y.shape == (1000,)
    assert x.min() >= -5 and x.max() <= 5
    residual = y - (-2 + 2 * x)
    assert abs(residual.std() - 0.001) < 1e-4  # noise σ = 0.001
    design = np.column_stack((np.ones_like(x), x))
    beta = np.linalg.inv(design.T @ design) @ design.T @ y  # seed 004's normal equations
    np.testing.assert_allclose([float(prob.minimum["intercept"]), float(prob.minimum["slope"])], beta, rtol=1e-10)
    np.testing.assert_allclose(beta, [-2, 2], atol=1e-3)
    assert prob.min_value == pytest.approx(np.mean((design @ beta - y) ** 2), rel=1e-9)
    assert 5e-7 < prob.min_value < 2e-6  # ≈ σ²
    assert [float(prob.params[k]) for k in ("intercept", "slope")] == [2.0, 9.0]  # torch (weight, bias) = (9, 2)


def test_quadratic_fit_recipe_and_minimum(x64):
    prob = problems.quadratic_fit()
    t, speed = prob.data
    np.testing.assert_array_equal(t, np.arange(20))
    noise = speed - (0.5 * (t - 9.5) ** 2 + 1)
    assert abs(noise.mean()) < 0.6 and 0.5 < noise.std() < 1.5  # ε ~ N(0, 1)
    grad = jax.grad(prob.loss)(prob.minimum)
    assert max(abs(float(g)) for g in jax.tree_util.tree_leaves(grad)) < 1e-6
    np.testing.assert_allclose(float(prob.loss(prob.minimum)), prob.min_value, rtol=1e-9)
    assert prob.names == ["a", "b", "c"]


def test_bowl_is_w_squared():
    prob = problems.bowl()
    for w in (-3.0, 0.0, 4.0, 1.5):
        assert float(prob.loss({"W": jnp.float32(w)})) == w * w
    assert float(prob.params["W"]) == 4.0


TEST_FUNCTIONS = {
    "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    "beale": lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2,
    "himmelblau": lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
    "rastrigin": lambda x, y: 20 + x**2 - 10 * np.cos(2 * np.pi * x) + y**2 - 10 * np.cos(2 * np.pi * y),
    "ackley": lambda x, y: -20 * np.exp(-0.2 * np.sqrt(0.5 * (x**2 + y**2)))
    - np.exp(0.5 * (np.cos(2 * np.pi * x) + np.cos(2 * np.pi * y))) + np.e + 20,
    "booth": lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
    "six-hump-camel": lambda x, y: (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2,
    "ill-conditioned": lambda x, y: 0.5 * (x**2 + 100 * y**2),
}


@pytest.mark.parametrize("name", sorted(TEST_FUNCTIONS))
def test_test_function_values_and_minima(name, x64):
    prob = problems.get(name)
    reference = TEST_FUNCTIONS[name]
    rng = np.random.default_rng(0)
    for x, y in rng.uniform(-2, 2, size=(5, 2)):
        np.testing.assert_allclose(float(prob.loss({"x": x, "y": y})), reference(x, y), rtol=1e-12, atol=1e-12)
    assert prob.minima, name
    for minimum in prob.minima:
        value = float(prob.loss(minimum))
        np.testing.assert_allclose(value, prob.min_value, atol=1e-12)
        np.testing.assert_allclose(reference(float(minimum["x"]), float(minimum["y"])), prob.min_value, atol=1e-12)
        grad = jax.grad(prob.loss)(minimum)
        assert abs(float(grad["x"])) < 1e-7 and abs(float(grad["y"])) < 1e-7
    # the known minimum is the lowest value on a fine grid over the default view
    (xlo, xhi), (ylo, yhi) = prob.bounds["x"], prob.bounds["y"]
    xs, ys = np.meshgrid(np.linspace(xlo, xhi, 401), np.linspace(ylo, yhi, 401))
    assert reference(xs, ys).min() >= prob.min_value - 1e-9


def test_ackley_gradient_is_finite_at_its_minimum():
    prob = problems.ackley()
    grad = jax.grad(prob.loss)(prob.minimum)
    assert all(np.isfinite(float(g)) for g in grad.values())


def test_himmelblau_has_four_distinct_minima():
    minima = problems.himmelblau().minima
    points = {(round(float(m["x"]), 3), round(float(m["y"]), 3)) for m in minima}
    assert len(points) == 4


def test_logistic_regression_is_bce_of_sigmoid():
    prob = problems.logistic_regression()
    x, labels = prob.data
    assert x.shape == (200, 2) and set(np.unique(labels)) == {0.0, 1.0}
    w, b = np.array([0.7, -1.3]), 0.4
    p = 1 / (1 + np.exp(-(x.astype(np.float64) @ w + b)))
    expected = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    got = float(prob.loss({"weight": jnp.asarray(w, jnp.float32), "bias": jnp.float32(b)}))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert prob.names == ["bias", "weight[0]", "weight[1]"]


def test_softmax_regression_is_cross_entropy():
    prob = problems.softmax_regression()
    x, labels = prob.data
    assert x.shape == (300, 2) and np.bincount(labels).tolist() == [100, 100, 100]
    np.testing.assert_allclose(float(prob.loss(prob.params)), np.log(3), rtol=1e-6)  # uniform prediction
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=(3, 2)), rng.normal(size=3)
    logits = x.astype(np.float64) @ w.T + b
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -np.mean(logp[np.arange(300), labels])
    got = float(prob.loss({"weight": jnp.asarray(w, jnp.float32), "bias": jnp.asarray(b, jnp.float32)}))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_catalogue_names_and_lookup():
    names = problems.names()
    assert len(names) == len(set(names)) >= 14
    for name in names:
        prob = problems.get(name)
        assert prob.name == name
        assert np.isfinite(float(prob.loss(prob.params)))
    assert problems.get("seed_regression", loss="l1").name == "seed-regression"
    with pytest.raises(ValueError, match=r"unknown problem 'nope'.*rosenbrock"):
        problems.get("nope")
    with pytest.raises(ValueError, match=r"takes no option 'loss'"):
        problems.get("ols", loss="l1")


def test_batch_loss_on_a_subset():
    prob = problems.seed_regression()
    x, y = prob.data
    idx = np.array([3, 7, 11])
    w, b = 6.0, -3.0
    expected = np.mean((w * x[idx].astype(np.float64) + b - y[idx]) ** 2)
    np.testing.assert_allclose(float(prob.batch_loss(prob.params, (x[idx], y[idx]))), expected, rtol=1e-6)


def test_from_model_user_problem():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 3)).astype(np.float32)
    y = rng.normal(size=30).astype(np.float32)

    def model(p, inputs):
        return jnp.tanh(inputs @ p["layer"]["w"]) * p["scale"]

    params = {"layer": {"w": np.ones(3)}, "scale": 2.0}
    prob = ls.Problem.from_model(model, params, x, y, loss="huber", delta=0.5, name="tanh")
    assert prob.names == ["layer.w[0]", "layer.w[1]", "layer.w[2]", "scale"]
    pred = np.tanh(x.astype(np.float64) @ np.ones(3)) * 2
    z = np.abs(pred - y)
    expected = np.mean(np.where(z < 0.5, 0.5 * z**2, 0.5 * (z - 0.25)))
    np.testing.assert_allclose(float(prob.loss(prob.params)), expected, rtol=1e-5)
    custom = ls.Problem.from_model(model, params, x, y, loss=lambda p, t: jnp.max(jnp.abs(p - t)))
    np.testing.assert_allclose(float(custom.loss(custom.params)), z.max(), rtol=1e-5)
    with pytest.raises(ValueError, match=r"\(30, 3\) and \(29,\)"):
        ls.Problem.from_model(model, params, x, y[:29])
    with pytest.raises(ValueError, match="unknown|expected"):
        ls.Problem.from_model(model, params, x, y, loss="nope")


def test_param_names_of_nested_pytrees():
    params = {"b": [np.zeros(2), 1.0], "a": {"m": np.zeros((2, 2))}}
    assert problems.param_names(params) == ["a.m[0,0]", "a.m[0,1]", "a.m[1,0]", "a.m[1,1]", "b.0[0]", "b.0[1]", "b.1"]


@pytest.mark.parametrize("name", [n for n in problems.names() if problems.get(n).sample_mean])
def test_sample_mean_declarations_hold(name):
    """Problems that declare sample_mean really are the mean of their one-sample losses."""
    prob = problems.get(name)
    params = jax.tree_util.tree_map(lambda p: p + 0.37, prob.params)
    n = prob.n_samples
    per_sample = [float(prob.batch_loss(params, jax.tree_util.tree_map(lambda d: d[s:s + 1], prob.data)))
                  for s in range(n)]
    np.testing.assert_allclose(np.mean(per_sample), float(prob.loss(params)), rtol=1e-5)


def test_from_model_sample_mean_defaults():
    x, y = np.zeros((4, 1), np.float32), np.zeros(4, np.float32)
    model = lambda p, inputs: inputs[:, 0] * p["w"]  # noqa: E731
    assert ls.Problem.from_model(model, {"w": 1.0}, x, y, loss="huber").sample_mean
    assert not ls.Problem.from_model(model, {"w": 1.0}, x, y, loss="rmse").sample_mean
    assert not ls.Problem.from_model(model, {"w": 1.0}, x, y, loss="mse", reduction="sum").sample_mean
    assert not ls.Problem.from_model(model, {"w": 1.0}, x, y, loss=lambda p, t: jnp.mean(p - t)).sample_mean


@pytest.mark.parametrize("name", problems.names())
def test_built_ins_leave_numpy_global_random_state_alone(name):
    """Each data set comes from its own generator: building a problem does not reseed the user's np.random."""
    np.random.seed(7)
    expected = np.random.random(3)
    np.random.seed(7)
    problems.get(name)
    np.testing.assert_array_equal(np.random.random(3), expected)


def test_linear_claim_is_checked():
    """linear=True on a model that is not affine used to draw the least-squares quadratic instead of the loss."""
    x = np.linspace(-2, 2, 40)
    y = np.tanh(1.5 * x) + 0.3
    with pytest.raises(ValueError, match="linear=True, but model_fn is not affine in its parameters.*Drop linear=True"):
        ls.Problem.from_model(lambda p, t: jnp.tanh(p["w"] * t) + p["b"], {"w": 1.0, "b": 0.0}, x, y, linear=True)
    with pytest.raises(ValueError, match="not affine"):  # affine in x, not in its parameters
        ls.Problem.from_model(lambda p, t: p["w"] * p["s"] * t, {"w": 1.0, "s": 2.0}, x, y, linear=True)
    affine = ls.Problem.from_model(lambda p, t: p["a"] * t**3 + p["b"] * jnp.sin(t) + p["c"],
                                   {"a": 100.0, "b": -3.0, "c": 0.5}, x * 10, y, linear=True)
    m = ls.loss_map(affine, ls.Axis("a", -1, 1, 5), ls.Axis("b", -1, 1, 4))
    assert m.meta["method"] == "least-squares quadratic"
    t = x.astype(np.float32) * 10
    expected = [[np.mean((a * t**3 + b * np.sin(t) + 0.5 - y) ** 2) for a in m.xs] for b in m.ys]
    np.testing.assert_allclose(m.values, expected, rtol=1e-5)


@pytest.mark.parametrize("make, message", [
    (lambda x, y: ls.Problem.from_model(lambda p, t: p["w"] * t, {"w": 1.0}, x, y),
     "Problem.from_model: x contains 3 NaN values at rows 3, 7, 11 (of 20)"),
    (lambda x, y: ls.Problem.from_model(lambda p, t: p["w"] * t, {"w": 1.0}, y, np.full(20, np.inf)),
     "Problem.from_model: y contains 20 infinite values at rows 0, 1, 2, 3, 4, 5, 6, 7, … (of 20)"),
    (lambda x, y: ls.Problem.from_model(lambda p, t: p["w"] * t, {"w": 1.0}, y, y, held_out=(x, y)),
     "x_test contains 3 NaN values"),
    (lambda x, y: ls.Problem("mine", lambda p, d: jnp.mean((p["w"] * d["a"] - d["b"]) ** 2), {"w": 1.0},
                             data={"a": y, "b": x}), "Problem 'mine': data['b'] contains 3 NaN values"),
])
def test_data_with_nan_is_refused_at_construction(make, message):
    """NaN data used to surface only later, as NumPy's "All-NaN slice encountered" or a map of NaN."""
    x = np.linspace(-1, 1, 20)
    x[[3, 7, 11]] = np.nan
    with pytest.raises(ValueError, match=re.escape(message)):
        make(x, np.linspace(0, 1, 20))


@pytest.mark.parametrize("loss, y, kwargs, message", [
    ("cross_entropy", np.arange(12) % 4, {}, "y: cross_entropy: class-index target must be in [0, 3)"),
    ("nll", np.arange(12) % 3 - 1, {}, "got -1 at index (0,)"),
    ("cross_entropy", np.where(np.arange(12) == 5, 7, 0), {"ignore_index": 3}, "(or ignore_index=3), got 7"),
])
def test_targets_the_loss_refuses_are_refused_at_construction(loss, y, kwargs, message):
    """Under jit a class index out of range is a silent NaN: the labels are checked once, when the problem is built."""
    x = np.linspace(-1, 1, 12, dtype=np.float32)
    model = lambda p, t: t[:, None] * p["w"]  # noqa: E731  (12, 3) logits
    with pytest.raises(ValueError, match=re.escape(message)):
        ls.Problem.from_model(model, {"w": np.ones(3)}, x, y, loss=loss, **kwargs)
    ls.Problem.from_model(model, {"w": np.ones(3)}, x, np.where(y == 7, 3, y % 3), loss=loss, **kwargs)
