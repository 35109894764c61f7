import re

import jax
import numpy as np
import pytest

import landscape as ls
from landscape import _engine, maps, problems


def numpy_seed_map(xs, ys, loss=lambda r: np.mean(r**2)):
    """Seed 000's double loop in NumPy float64: rows are weights (y), columns biases (x)."""
    x, y = (a.astype(np.float64) for a in problems.seed_regression().data)
    out = np.empty((len(ys), len(xs)))
    for i, w in enumerate(ys):
        for j, b in enumerate(xs):
            out[i, j] = loss(w * x + b - y)
    return out


def test_named_axes_match_numpy_double_loop_exactly_in_float64(x64):
    prob = problems.seed_regression()
    m = ls.loss_map(prob, ls.Axis("bias", -5, 8, 7), ls.Axis("weight", -5, 8, 5))
    assert m.values.shape == (5, 7) and m.values.dtype == np.float64
    np.testing.assert_array_equal(m.xs, np.linspace(-5, 8, 7))
    np.testing.assert_array_equal(m.ys, np.linspace(-5, 8, 5))
    np.testing.assert_allclose(m.values, numpy_seed_map(m.xs, m.ys), rtol=1e-13)
    assert (m.x_label, m.y_label) == ("bias", "weight")


def test_float32_map_within_float32_tolerance():
    prob = problems.seed_regression(loss="huber")
    m = ls.loss_map(prob, ls.Axis("bias", -5, 8, 33), ls.Axis("weight", -5, 8, 21))
    assert m.values.dtype == np.float32
    huber = lambda r: np.mean(np.where(np.abs(r) < 1, 0.5 * r**2, np.abs(r) - 0.5))
    np.testing.assert_allclose(m.values, numpy_seed_map(m.xs, m.ys, huber), rtol=2e-6)


def test_seed_000_map_orientation():
    """Seed 000 builds losses[wi][wb] and reverses the rows for imshow; ours is values[weight, bias], y upwards."""
    m = ls.loss_map(problems.seed_regression(), ls.Axis("bias", -5, 8, 101), ls.Axis("weight", -5, 8, 101))
    i, j = divmod(int(np.argmin(m.values)), 101)
    assert (round(m.ys[i], 2), round(m.xs[j], 2)) == (0.98, 2.54)  # nearest grid point to (w, b) ≈ (0.93, 2.48)
    assert m.argmin[:2] == (m.xs[j], m.ys[i])


def test_third_parameter_fixed_at_center(x64):
    prob = problems.quadratic_fit()
    center = {"a": 0.4, "b": -3.0, "c": 7.5}
    m = ls.loss_map(prob, ls.Axis("b", -10, 5, 6), ls.Axis("a", -1, 2, 4), center=center)
    t, speed = prob.data
    expected = np.array([[np.mean((a * t**2 + b * t + 7.5 - speed) ** 2) for b in m.xs] for a in m.ys])
    np.testing.assert_allclose(m.values, expected, rtol=1e-13)
    # default center is the problem's own parameters
    m0 = ls.loss_map(prob, ls.Axis("b", -10, 5, 6), ls.Axis("a", -1, 2, 4))
    c0 = float(prob.params["c"])
    expected0 = np.array([[np.mean((a * t**2 + b * t + c0 - speed) ** 2) for b in m.xs] for a in m.ys])
    np.testing.assert_allclose(m0.values, expected0, rtol=1e-13)


def test_direction_axes_are_offsets_from_center(x64):
    prob = problems.softmax_regression()
    key = jax.random.PRNGKey(0)
    center = jax.tree_util.tree_map(lambda p: p + 0.3, prob.params)
    dx, dy = ls.random_directions(center, key)
    m = ls.loss_map(prob, ls.Axis(dx, -1, 1, 5, label="α"), ls.Axis(dy, -1, 1, 3), center=center)
    assert (m.x_label, m.y_label) == ("α", "direction")
    for i, b in enumerate(m.ys):
        for j, a in enumerate(m.xs):
            point = jax.tree_util.tree_map(lambda c, u, v: c + a * u + b * v, center, dx, dy)
            np.testing.assert_allclose(m.values[i, j], float(prob.loss(point)), rtol=1e-12)


def test_named_axis_equals_unit_direction_through_zeroed_center(x64):
    prob = problems.seed_regression()
    named = ls.loss_map(prob, ls.Axis("bias", -2, 3, 6), ls.Axis("weight", 0, 1, 4))
    unit_b = {"bias": 1.0, "weight": 0.0}
    unit_w = {"bias": 0.0, "weight": 1.0}
    direct = ls.loss_map(prob, ls.Axis(unit_b, -2, 3, 6), ls.Axis(unit_w, 0, 1, 4), center={"bias": 0.0, "weight": 0.0})
    np.testing.assert_allclose(named.values, direct.values, rtol=1e-14)


def test_chunked_equals_unchunked():
    prob = problems.rosenbrock()
    x, y = ls.Axis("x", -2, 2, 37), ls.Axis("y", -1, 3, 29)
    whole = ls.loss_map(prob, x, y)
    for chunk in (1, 7, 100, 1072):
        np.testing.assert_array_equal(ls.loss_map(prob, x, y, chunk_size=chunk).values, whole.values)
    small_budget = ls.loss_map(prob, x, y, memory_budget=4096)
    np.testing.assert_array_equal(small_budget.values, whole.values)


def test_budget_sets_chunk_size(monkeypatch):
    captured = {}
    plan = _engine._plan_chunk

    def spy(compile_at, *args, **kwargs):
        captured["chunk"] = plan(compile_at, *args, **kwargs)
        captured["compile_at"] = compile_at
        return captured["chunk"]

    monkeypatch.setattr(_engine, "_plan_chunk", spy)
    m = ls.loss_map(problems.seed_regression(), ls.Axis("bias", -5, 8, 300), ls.Axis("weight", -5, 8, 300),
                    memory_budget=2**16, fast_path=False)
    chunk = captured["chunk"]
    assert chunk < 300 * 300 and chunk & (chunk - 1) == 0  # a power of two below the point count
    compiled, tile = captured["compile_at"](chunk)
    assert np.prod(tile) <= chunk and _engine._memory_bytes(compiled) <= 2**16
    np.testing.assert_allclose(m.values[::50, ::50], numpy_seed_map(m.xs[::50], m.ys[::50]), rtol=2e-6)


def test_second_call_with_same_shapes_does_not_recompile(count_compiles):
    prob = problems.booth()
    ls.loss_map(prob, ls.Axis("x", -10, 10, 40), ls.Axis("y", -10, 10, 30))
    with count_compiles() as counter:
        again = ls.loss_map(prob, ls.Axis("x", -5, 5, 40), ls.Axis("y", -3, 3, 30), center={"x": 1.0, "y": 2.0})
        ls.loss_map(problems.booth(), ls.Axis("x", -5, 5, 40), ls.Axis("y", -3, 3, 30))
    assert counter.count == 0
    assert again.values[0, 0] == pytest.approx(float(prob.loss({"x": -5.0, "y": -3.0})))
    with count_compiles() as counter:
        ls.loss_map(prob, ls.Axis("x", -5, 5, 41), ls.Axis("y", -3, 3, 30))
    assert counter.count >= 1  # the counter does see compilations


def test_gradient_field_matches_closed_form(x64):
    prob = problems.seed_regression()
    m = ls.loss_map(prob, ls.Axis("bias", -5, 8, 6), ls.Axis("weight", -5, 8, 4), grad=True)
    x, y = (a.astype(np.float64) for a in prob.data)
    for i, w in enumerate(m.ys):
        for j, b in enumerate(m.xs):
            r = w * x + b - y
            np.testing.assert_allclose(m.grad_x[i, j], 2 * np.mean(r), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(m.grad_y[i, j], 2 * np.mean(r * x), rtol=1e-12, atol=1e-12)
    plain = ls.loss_map(prob, ls.Axis("bias", -5, 8, 6), ls.Axis("weight", -5, 8, 4))
    np.testing.assert_array_equal(plain.values, m.values)
    assert plain.grad_x is None


def test_gradient_field_along_directions_is_directional_derivative():
    prob = problems.himmelblau()
    dx, dy = {"x": 1.0, "y": 1.0}, {"x": 1.0, "y": -1.0}
    m = ls.loss_map(prob, ls.Axis(dx, -1, 1, 3), ls.Axis(dy, -1, 1, 3), center={"x": 0.5, "y": 0.5}, grad=True)
    g = jax.grad(prob.loss)({"x": 0.5 + 1.0 - 1.0, "y": 0.5 + 1.0 + 1.0})  # a = 1, b = -1
    np.testing.assert_allclose(m.grad_x[0, 2], float(g["x"] + g["y"]), rtol=1e-5)
    np.testing.assert_allclose(m.grad_y[0, 2], float(g["x"] - g["y"]), rtol=1e-5)


def test_progress_bar(capsys):
    prob = problems.booth()
    ls.loss_map(prob, ls.Axis("x", 0, 1, 10), ls.Axis("y", 0, 1, 10), progress=True, chunk_size=30)  # 3 rows a chunk
    done, total = re.findall(r"(\d+)/(\d+) ", capsys.readouterr().err)[-1]  # (tiles differ on several devices)
    assert done == total and int(total) >= 2
    if jax.local_device_count() == 1:
        assert total == "4"
    ls.loss_map(prob, ls.Axis("x", 0, 1, 10), ls.Axis("y", 0, 1, 10), progress=False, chunk_size=25)
    ls.loss_map(prob, ls.Axis("x", 0, 1, 10), ls.Axis("y", 0, 1, 10), chunk_size=25)  # fast: no bar
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target="bias", lo=1, hi=1, num=5), "lo must be less than hi"),
        (dict(target="bias", lo=0, hi=1, num=1), r"num must be an integer ≥ 2, got 1"),
        (dict(target="bias", lo=0, hi=1, num=2.5), "num must be an integer"),
        (dict(target="bias", lo=float("nan"), hi=1, num=5), "lo must be a finite number"),
    ],
)
def test_axis_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ls.Axis(**kwargs)


def test_loss_map_argument_errors():
    prob = problems.seed_regression()
    b, w = ls.Axis("bias", 0, 1, 3), ls.Axis("weight", 0, 1, 3)
    with pytest.raises(ValueError, match=r"'slope' is not a parameter of problem 'seed-regression'.*bias, weight"):
        ls.loss_map(prob, ls.Axis("slope", 0, 1, 3), w)
    with pytest.raises(ValueError, match="both vary parameter 'bias'"):
        ls.loss_map(prob, b, b)
    with pytest.raises(ValueError, match="direction must have the parameters' structure"):
        ls.loss_map(prob, ls.Axis({"bias": 1.0}, 0, 1, 3), w)
    with pytest.raises(ValueError, match="all zeros"):
        ls.loss_map(prob, ls.Axis({"bias": 0.0, "weight": 0.0}, 0, 1, 3), w)
    with pytest.raises(TypeError, match="x must be an Axis"):
        ls.loss_map(prob, ("bias", 0, 1, 3), w)
    with pytest.raises(ValueError, match="memory_budget must be a positive number of bytes, got -1"):
        ls.loss_map(prob, b, w, memory_budget=-1)
    with pytest.raises(MemoryError, match=r"1000000×1000000 grid needs .* GiB"):
        ls.loss_map(prob, ls.Axis("bias", 0, 1, 10**6), ls.Axis("weight", 0, 1, 10**6))
    with pytest.raises(MemoryError, match="raise memory_budget"):
        ls.loss_map(prob, b, w, memory_budget=1, fast_path=False)


def test_metadata_records_problem_axes_and_dtype():
    m = ls.loss_map(problems.ols(), ls.Axis("intercept", -10, 10, 3), ls.Axis("slope", -10, 10, 4))
    assert m.meta["problem"] == "ols" and m.meta["dtype"] == "float32"
    assert m.meta["x_axis"] == {"target": "intercept", "lo": -10.0, "hi": 10.0, "num": 3, "label": "intercept"}
    assert m.meta["center"] == {"intercept": 2.0, "slope": 9.0}


@pytest.mark.parametrize("name", ["seed-regression", "ols", "logistic-regression", "softmax-regression"])
def test_sample_accumulation_equals_direct_evaluation(name):
    prob = problems.get(name)
    (xn, xb), (yn, yb) = list(prob.bounds.items())[:2]
    x, y = ls.Axis(xn, *xb, 23), ls.Axis(yn, *yb, 17)
    accumulated = ls.loss_map(prob, x, y, grad=True)
    direct = ls.loss_map(prob, x, y, grad=True, strategy="vmap")
    for field in ("values", "grad_x", "grad_y"):
        a, d = getattr(accumulated, field), getattr(direct, field)
        np.testing.assert_allclose(a, d, rtol=2e-5, atol=2e-5 * np.abs(d).max())


def test_accumulate_samples_needs_a_sample_mean_problem():
    with pytest.raises(ValueError, match="accumulate strategy needs"):
        ls.loss_map(problems.booth(), ls.Axis("x", 0, 1, 3), ls.Axis("y", 0, 1, 3), strategy="accumulate")


# ---------------------------------------------------------------------------------------------- least-squares fast path


@pytest.mark.parametrize("name", ["seed-regression", "ols", "quadratic-fit"])
def test_fast_path_agrees_with_direct_evaluation(name):
    prob = problems.get(name)
    (xn, xb), (yn, yb) = list(prob.bounds.items())[:2]
    x, y = ls.Axis(xn, *xb, 41), ls.Axis(yn, *yb, 37)
    fast = ls.loss_map(prob, x, y, grad=True)
    direct = ls.loss_map(prob, x, y, grad=True, fast_path=False)
    assert fast.meta["method"] == "least-squares quadratic" and direct.meta["method"] != fast.meta["method"]
    np.testing.assert_allclose(fast.values, direct.values, rtol=2e-5)
    for field in ("grad_x", "grad_y"):
        scale = np.abs(getattr(direct, field)).max()
        np.testing.assert_allclose(getattr(fast, field), getattr(direct, field), rtol=1e-4, atol=1e-5 * scale)


def test_fast_path_keeps_precision_near_the_minimum():
    """Seed 004: the loss is ≈ 1e-6 at the minimum, where float32 direct evaluation loses digits."""
    prob = problems.ols()
    m = prob.minimum
    x = ls.Axis("intercept", float(m["intercept"]) - 2e-3, float(m["intercept"]) + 2e-3, 31)
    y = ls.Axis("slope", float(m["slope"]) - 2e-3, float(m["slope"]) + 2e-3, 29)
    fast = ls.loss_map(prob, x, y)
    design = np.column_stack((np.ones(1000), prob.data[0]))
    truth = np.array([[np.mean((design @ [a, b] - prob.data[1]) ** 2) for a in fast.xs] for b in fast.ys])
    assert truth.min() < 1.2e-6
    np.testing.assert_allclose(fast.values, truth, rtol=1e-6)
    direct = ls.loss_map(prob, x, y, fast_path=False)
    assert np.max(np.abs(direct.values - truth) / truth) > 1e-4  # what float32 direct evaluation keeps there


def test_fast_path_on_random_directions_of_three_parameters(x64):
    prob = problems.quadratic_fit()
    dx, dy = ls.random_directions(prob.params, jax.random.PRNGKey(3), normalization=None, ignore=None)
    fast = ls.loss_map(prob, ls.Axis(dx, -2, 2, 9), ls.Axis(dy, -2, 2, 7), center=prob.minimum)
    direct = ls.loss_map(prob, ls.Axis(dx, -2, 2, 9), ls.Axis(dy, -2, 2, 7), center=prob.minimum, fast_path=False)
    assert fast.meta["method"] == "least-squares quadratic"
    np.testing.assert_allclose(fast.values, direct.values, rtol=1e-10)


def test_fast_path_falls_back_on_a_degenerate_plane():
    x, y = np.linspace(-1, 1, 20, dtype=np.float32), np.linspace(0, 2, 20, dtype=np.float32)
    prob = ls.Problem.from_model(lambda p, t: p["w"] * t + 0 * p["unused"], {"w": 1.0, "unused": 0.0}, x, y,
                                 loss="mse", linear=True)
    m = ls.loss_map(prob, ls.Axis("w", -1, 1, 5), ls.Axis("unused", -1, 1, 4))
    assert m.meta["method"] != "least-squares quadratic"
    np.testing.assert_allclose(m.values[0], [np.mean((w * x - y) ** 2) for w in m.xs], rtol=1e-6)
    assert (m.values == m.values[0]).all()


def test_fast_path_blocks_do_not_change_values(monkeypatch):
    prob = problems.ols()
    x, y = ls.Axis("intercept", -10, 10, 64), ls.Axis("slope", -10, 10, 150)
    whole = ls.loss_map(prob, x, y, grad=True)  # 150 rows: blocks of 32 rows, the last one short
    monkeypatch.setattr(maps, "_FAST_ROWS", 7)
    blocks = ls.loss_map(prob, x, y, grad=True)
    monkeypatch.setattr(maps, "_FAST_ROWS", 1000)  # one block
    single = ls.loss_map(prob, x, y, grad=True)
    for field in ("values", "grad_x", "grad_y"):
        np.testing.assert_array_equal(getattr(blocks, field), getattr(whole, field))
        np.testing.assert_array_equal(getattr(single, field), getattr(whole, field))
        assert getattr(whole, field).flags.writeable  # results are the caller's to change, as on the direct path


def test_strategy_is_chosen_by_model_and_every_strategy_gives_the_same_map():
    from landscape.maps import choose_strategy

    rng = np.random.default_rng(0)
    images = rng.normal(size=(12, 6, 6, 1)).astype(np.float32)
    labels = rng.integers(0, 3, 12)

    def cnn(p, x):
        h = jax.lax.conv_general_dilated(x, p["conv"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jax.nn.relu(h).reshape(len(x), -1) @ p["dense"]

    def mlp(p, x):
        return jax.nn.relu(x.reshape(len(x), -1) @ p["w1"]) @ p["w2"]

    conv_params = {"conv": rng.normal(size=(3, 3, 1, 4)).astype(np.float32) / 3,
                   "dense": rng.normal(size=(144, 3)).astype(np.float32) / 12}
    mlp_params = {"w1": rng.normal(size=(36, 16)).astype(np.float32) / 6,
                  "w2": rng.normal(size=(16, 3)).astype(np.float32) / 4}
    conv = ls.Problem.from_model(cnn, conv_params, images, labels, "cross_entropy")
    dense = ls.Problem.from_model(mlp, mlp_params, images, labels, "cross_entropy")
    assert choose_strategy(conv) == ("loop", 1)  # vectorised points would make grouped convolutions
    assert choose_strategy(dense).kind == "loop" and choose_strategy(dense).block > 1  # a tiny network: blocks
    assert choose_strategy(problems.rosenbrock()).kind == "vmap"
    assert choose_strategy(problems.seed_regression()).kind == "accumulate"
    for prob in (conv, dense):
        dx, dy = ls.random_directions(prob.params, jax.random.PRNGKey(2))
        x, y = ls.Axis(dx, -1, 1, 4), ls.Axis(dy, -1, 1, 3)
        chosen = ls.loss_map(prob, x, y)
        for strategy, block in (("vmap", None), ("loop", None), ("loop", 4)):
            other = ls.loss_map(prob, x, y, strategy=strategy, block=block)
            np.testing.assert_allclose(other.values, chosen.values, rtol=2e-5)
            assert other.meta["strategy"] == [strategy, block]
    with pytest.raises(ValueError, match="block=4 needs a strategy"):
        ls.loss_map(conv, x, y, block=4)
