"""Tests for landscape.directions, and the maps built on its directions, against independent references.

- Li et al. (2018) normalisation reimplemented in NumPy (``make_direction_fixtures.li_direction``, from
  ``net_plotter.normalize_directions_for_weights``) applied to the library's own raw Gaussian draws;
- framework layouts (Flax Linen / NNX, Equinox: importorskip) by per-filter norms along the layout's filter axis;
- a map and a line of a torch MLP (live torch, else the committed ``directions_torch.npz``) and a NumPy loop;
- PCA against scikit-learn (importorskip) and a NumPy eigendecomposition of the covariance;
- between / plane_through / orthogonalize / project by exact reconstruction in float64;
- model state, held-out data and metrics in maps and lines against NumPy double loops.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import landscape as ls
import make_direction_fixtures as fx  # the torch case and the NumPy Li et al. reference (tests/data)

try:
    import torch
except ImportError:
    torch = None


# ---------------------------------------------------------------------------------------------------------- helpers
def _named_leaves(tree):
    """``[(name, leaf)]`` in tree_flatten order; names are the path keys joined by '.', NNX's '.value' dropped."""
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = jax.tree_util.keystr(path, simple=True, separator=".")
        out.append((name[: -len(".value")] if name.endswith(".value") else name, leaf))
    return out


def _leaves64(tree):
    return [np.asarray(a, np.float64) for a in jax.tree_util.tree_leaves(tree)]


def _vec(tree):
    return np.concatenate([a.ravel() for a in _leaves64(tree)])


def _filter_norms(a, axis):
    a = np.moveaxis(np.asarray(a, np.float64), axis, 0)
    return np.sqrt(np.sum(a.reshape(a.shape[0], -1) ** 2, axis=1))


def _random_params(shapes, filter_axes, seed):
    """float32 weights whose filters have very different scales (so that filter normalisation is not trivial)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        w = rng.standard_normal(shape)
        axis = filter_axes[name]
        if axis is not None:
            scale_shape = [1] * len(shape)
            scale_shape[axis] = shape[axis]
            w = w * rng.uniform(0.05, 5.0, scale_shape)
        module, leaf = name.split(".")
        out.setdefault(module, {})[leaf] = np.asarray(w, np.float32)
    return out


def _filled(abstract, seed=0):
    """A model's pytree with every abstract array (``jax.eval_shape``'s ShapeDtypeStruct) replaced by NumPy draws:
    the real framework structure, without compiling the framework's random initialisers."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(
        lambda s: np.asarray(rng.standard_normal(s.shape) * rng.uniform(0.1, 3), s.dtype)
        if isinstance(s, jax.ShapeDtypeStruct) else s, abstract)


def check_li_directions(params, axes, key, normalization, ignore, filter_axis=None):
    """``random_directions(params, key, normalization, ignore=ignore)`` against the NumPy Li et al. reference
    applied to the raw draws (``normalization=None, ignore=None``: the same Gaussians, untouched). ``axes``:
    ``{leaf name: expected filter axis or None}``, from the framework's layout (not from the library)."""
    raw = ls.random_directions(params, key, None, ignore=None)
    directions = ls.random_directions(params, key, normalization, ignore=ignore, filter_axis=filter_axis)
    named = _named_leaves(params)
    assert sorted(n for n, _ in named) == sorted(axes)
    for r, d in zip(raw, directions):
        assert jax.tree_util.tree_structure(d) == jax.tree_util.tree_structure(params)
        for (name, w), raw_leaf, got in zip(named, jax.tree_util.tree_leaves(r), jax.tree_util.tree_leaves(d)):
            w64, got64, axis = np.asarray(w, np.float64), np.asarray(got, np.float64), axes[name]
            assert got.shape == w.shape and got.dtype == w.dtype, name
            expected = fx.li_direction(raw_leaf, w64, axis, normalization, ignore)
            np.testing.assert_allclose(got64, expected, rtol=1e-6, atol=1e-7 * np.abs(expected).max(), err_msg=name)
            if axis is None:
                if ignore == "biasbn":
                    assert not np.any(got64), name
                else:
                    np.testing.assert_array_equal(got, w, err_msg=name)
            elif normalization == "filter":
                ratio = _filter_norms(got64, axis) / _filter_norms(w64, axis)
                np.testing.assert_allclose(ratio, 1.0, atol=1e-5, err_msg=name)
                assert np.all(np.sign(got64) == np.sign(np.asarray(raw_leaf))), name  # a positive rescaling
            else:
                np.testing.assert_allclose(np.linalg.norm(got64) / np.linalg.norm(w64), 1.0, atol=1e-5, err_msg=name)
    # the two directions are independent draws
    assert not np.allclose(_vec(directions[0]), _vec(directions[1]))


# ------------------------------------------------------------------------------- 1. Li et al. on plain dicts
# Every random_directions call compiles one Gaussian draw per distinct leaf shape (seconds each on 2 busy cores):
# the tests share a few shapes, (4,), (3,), (4, 3), (3, 4), (4, 4), (3, 3, 2, 4), (4, 2, 3, 3).
TORCH_LAYOUT = {  # PyTorch state_dict layout: weight (out, in, …): filters on axis 0
    "shapes": {"conv.weight": (4, 2, 3, 3), "conv.bias": (4,), "fc.weight": (3, 4), "fc.bias": (3,),
               "bn.weight": (4,), "bn.bias": (4,)},
    "axes": {"conv.weight": 0, "conv.bias": None, "fc.weight": 0, "fc.bias": None, "bn.weight": None,
             "bn.bias": None},
}
FLAX_LAYOUT = {  # Flax layout: kernel (…, in, out): filters on the last axis
    "shapes": {"Conv_0.kernel": (3, 3, 2, 4), "Conv_0.bias": (4,), "Dense_0.kernel": (4, 3), "Dense_0.bias": (3,),
               "BatchNorm_0.scale": (4,), "BatchNorm_0.bias": (4,)},
    "axes": {"Conv_0.kernel": 3, "Conv_0.bias": None, "Dense_0.kernel": 1, "Dense_0.bias": None,
             "BatchNorm_0.scale": None, "BatchNorm_0.bias": None},
}


@pytest.mark.parametrize("layout", [TORCH_LAYOUT, FLAX_LAYOUT], ids=["torch", "flax"])
@pytest.mark.parametrize("normalization", ["filter", "layer"])
@pytest.mark.parametrize("ignore", ["biasbn", None])
def test_li_normalisation_matches_numpy_reference(layout, normalization, ignore):
    params = _random_params(layout["shapes"], layout["axes"], seed=7)
    check_li_directions(params, layout["axes"], jax.random.PRNGKey(3), normalization, ignore)


def test_filter_axes_follow_layout_names():
    for layout in (TORCH_LAYOUT, FLAX_LAYOUT):
        params = _random_params(layout["shapes"], layout["axes"], seed=0)
        names = [n for n, _ in _named_leaves(params)]
        assert ls.directions.filter_axes(params) == [layout["axes"][n] for n in names]


def test_unnormalised_draws_are_standard_normal_and_key_deterministic():
    params = {"w": [np.zeros((4, 3), np.float32)] * 30, "b": np.ones(4, np.float32)}  # 360 draws per direction
    key = jax.random.PRNGKey(11)
    dx, dy = ls.random_directions(params, key, None, ignore=None)
    for d in (dx, dy):
        a = np.concatenate([np.ravel(w) for w in d["w"]]).astype(np.float64)
        assert abs(a.mean()) < 5 / np.sqrt(a.size) and abs(a.std() - 1) < 0.15  # ~5 standard errors
        assert len({np.asarray(w).tobytes() for w in d["w"]}) == 30  # every leaf has its own draws
        assert not np.array_equal(np.asarray(d["b"]), params["b"])  # raw draws, not the weights
    again = ls.random_directions(params, key, None, ignore=None)
    np.testing.assert_array_equal(_vec(again[0]), _vec(dx))
    other = ls.random_directions(params, jax.random.PRNGKey(12), None, ignore=None)
    assert not np.allclose(_vec(other[0]), _vec(dx))
    # without normalisation, biasbn still zeroes the biases and leaves the draws of the weights as they are
    zx, _ = ls.random_directions(params, key, None, ignore="biasbn")
    assert not np.any(np.asarray(zx["b"]))
    np.testing.assert_array_equal(_vec(zx["w"]), _vec(dx["w"]))


def test_zero_filter_gets_zero_direction():
    """A dead filter (all-zero weights) gets a zero direction: ‖w_i‖ = 0 (and no nan)."""
    w = np.arange(12, dtype=np.float32).reshape(4, 3) + 1
    w[1] = 0
    dx, _ = ls.random_directions({"weight": w}, jax.random.PRNGKey(0))
    d = np.asarray(dx["weight"])
    assert np.all(np.isfinite(d)) and not np.any(d[1]) and np.all(d[[0, 2]] != 0)


# ---------------------------------------------------------------------------------- 2. framework layouts
def _kernel_axes(params):
    """Flax rule, written out: a ``kernel``'s filters are its last axis; everything else is a bias/scale."""
    return {n: (np.ndim(a) - 1 if n.split(".")[-1] == "kernel" else None) for n, a in _named_leaves(params)}


def test_flax_linen_params():
    nn = pytest.importorskip("flax.linen")

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            x = nn.Conv(4, (3, 3))(x)
            x = nn.BatchNorm(use_running_average=not train)(x)
            x = nn.relu(x).reshape(x.shape[0], -1)
            return nn.Dense(3)(x)

    variables = _filled(jax.eval_shape(Net().init, jax.random.PRNGKey(0), jnp.ones((1, 1, 1, 2))))  # SAME padding
    params = variables["params"]
    axes = _kernel_axes(params)
    assert axes == {"BatchNorm_0.bias": None, "BatchNorm_0.scale": None, "Conv_0.bias": None, "Conv_0.kernel": 3,
                    "Dense_0.bias": None, "Dense_0.kernel": 1}
    assert variables["params"]["Conv_0"]["kernel"].shape == (3, 3, 2, 4)
    for ignore in ("biasbn", None):
        check_li_directions(params, axes, jax.random.PRNGKey(1), "filter", ignore)
    assert "batch_stats" in variables  # state lives beside params: random_directions never sees it


def test_flax_nnx_params_state():
    nnx = pytest.importorskip("flax.nnx")

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.conv = nnx.Conv(2, 4, (3, 3), rngs=rngs)
            self.bn = nnx.BatchNorm(4, rngs=rngs)
            self.linear = nnx.Linear(4, 3, rngs=rngs)

    _, params, _ = nnx.split(nnx.eval_shape(lambda: Net(nnx.Rngs(0))), nnx.Param, ...)
    params = _filled(params)
    raw_names = [jax.tree_util.keystr(p, simple=True, separator=".") for p, _ in
                 jax.tree_util.tree_flatten_with_path(params)[0]]
    assert all(n.endswith(".value") for n in raw_names), raw_names
    axes = _kernel_axes(params)
    assert axes["conv.kernel"] == 3 and axes["linear.kernel"] == 1 and axes["bn.scale"] is None
    assert ls.directions.filter_axes(params) == [axes[n] for n, _ in _named_leaves(params)]
    for ignore in ("biasbn", None):
        check_li_directions(params, axes, jax.random.PRNGKey(2), "filter", ignore)
    dx, _ = ls.random_directions(params, jax.random.PRNGKey(2))
    assert type(dx) is type(params)


def test_equinox_modules():
    eqx = pytest.importorskip("equinox")

    def make():
        k = jax.random.split(jax.random.PRNGKey(0), 3)
        return [eqx.nn.Conv2d(2, 4, 3, key=k[0]), eqx.nn.Linear(4, 3, key=k[1]), eqx.nn.MLP(4, 3, 4, 1, key=k[2])]

    model = _filled(eqx.filter_eval_shape(make))
    params, static = eqx.partition(model, eqx.is_array)
    # torch layout: weight (out, in, …) filters on axis 0; every bias, even the conv's (out, 1, 1), is a bias
    axes = {n: (0 if n.split(".")[-1] == "weight" else None) for n, _ in _named_leaves(params)}
    shapes = {n: np.shape(a) for n, a in _named_leaves(params)}
    assert shapes["0.bias"] == (4, 1, 1) and axes["0.bias"] is None and axes["2.layers.1.weight"] == 0
    for ignore in ("biasbn", None):
        check_li_directions(params, axes, jax.random.PRNGKey(3), "filter", ignore)
    dx, _ = ls.random_directions(params, jax.random.PRNGKey(3))
    moved = eqx.combine(jax.tree_util.tree_map(lambda p, d: p + np.asarray(d), params, dx), static)
    assert isinstance(moved[2], eqx.nn.MLP) and moved[0].weight.shape == (4, 2, 3, 3)


def test_filter_axis_override():
    rng = np.random.default_rng(5)
    params = {"w1": np.asarray(rng.standard_normal((4, 3)) * rng.uniform(0.1, 4, (1, 3)), np.float32),  # (in, out)
              "b1": np.zeros(3, np.float32),
              "w2": np.asarray(rng.standard_normal((3, 4)) * rng.uniform(0.1, 4, (3, 1)), np.float32)}  # (out, in)
    assert ls.directions.filter_axes(params) == [None, 0, 0]  # b1, w1, w2: a plain matrix is torch layout
    assert ls.directions.filter_axes(params, {"w1": -1}) == [None, 1, 0]
    key = jax.random.PRNGKey(4)
    check_li_directions(params, {"b1": None, "w1": 0, "w2": 0}, key, "filter", "biasbn")
    for override in ({"w1": -1}, {"w1": 1}):
        check_li_directions(params, {"b1": None, "w1": 1, "w2": 0}, key, "filter", "biasbn", filter_axis=override)
    check_li_directions(params, {"b1": None, "w1": 1, "w2": 0}, key, "filter", None, filter_axis={"w1": -1})
    # the override changes which norms w1's direction carries: its columns', not its rows'
    dx, _ = ls.random_directions(params, key, filter_axis={"w1": -1})
    np.testing.assert_allclose(_filter_norms(dx["w1"], 1), _filter_norms(params["w1"], 1), rtol=1e-5)
    assert not np.allclose(_filter_norms(dx["w1"], 0), _filter_norms(params["w1"], 0), rtol=1e-2)
    # a 1-D leaf named in filter_axis is normalised entry by entry (|d_i| = |w_i|) instead of zeroed
    b = np.array([1.0, -2.0, 3.0], np.float32)
    assert ls.directions.filter_axes({"w": params["w2"], "b": b}, {"b": 0}) == [0, 0]
    dx, _ = ls.random_directions({"w": params["w2"], "b": b}, key, filter_axis={"b": 0})
    np.testing.assert_allclose(np.abs(np.asarray(dx["b"])), np.abs(b), rtol=1e-6)


def test_filter_axis_errors():
    params = {"layer": {"kernel": np.ones((3, 2), np.float32), "bias": np.ones(2, np.float32)}}
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match=r"filter_axis names leaf 'kernel'.*layer\.kernel"):
        ls.random_directions(params, key, filter_axis={"kernel": 0})  # the full name is layer.kernel
    with pytest.raises(ValueError, match=r"filter_axis\['layer\.kernel'\] must be an axis of its leaf of shape "
                                         r"\(3, 2\)"):
        ls.random_directions(params, key, filter_axis={"layer.kernel": 2})
    with pytest.raises(ValueError, match=r"must be an axis"):
        ls.random_directions(params, key, filter_axis={"layer.kernel": -3})
    with pytest.raises(ValueError, match=r"must be an axis"):
        ls.random_directions(params, key, filter_axis={"layer.kernel": "0"})
    with pytest.raises(ValueError, match=r"must be an axis"):
        ls.directions.filter_axes(params, {"layer.kernel": 1.0})
    with pytest.raises(ValueError, match="normalization"):
        ls.random_directions(params, key, "weight")
    with pytest.raises(ValueError, match="ignore"):
        ls.random_directions(params, key, ignore="bn")


def test_only_biases_with_biasbn_raises():
    scalars = {"a": np.float32(1.0), "b": np.float32(-2.0)}
    with pytest.raises(ValueError, match=r"ignore='biasbn' zeroes them all; pass ignore=None"):
        ls.random_directions(scalars, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="ignore=None"):
        ls.random_directions({"bias": np.ones((3, 1, 1), np.float32), "v": np.ones(3, np.float32)},
                             jax.random.PRNGKey(0), "layer")
    dx, dy = ls.random_directions(scalars, jax.random.PRNGKey(0), ignore=None)  # the weights themselves
    assert float(dx["a"]) == 1.0 and float(dy["b"]) == -2.0


# ------------------------------------------------------------------------ 3. torch MLP map and line
CASE = fx.make_case()


def _mlp(params, x):  # Flax layout, as the torch oracle's nn.Linear with weight = kernel.T
    h = jnp.tanh(x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
    return h @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]


def _numpy_ce(point, x, y):
    p = {name: {k: np.asarray(v, np.float64) for k, v in layer.items()} for name, layer in point.items()}
    logits = np.tanh(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]) @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float(np.mean(lse - logits[np.arange(len(y)), y]))


@pytest.fixture(scope="module")
def fixture_file():
    assert fx.FIXTURE.exists(), "run tests/data/make_direction_fixtures.py to create the torch fixture"
    with np.load(fx.FIXTURE, allow_pickle=False) as data:
        return dict(data)


@pytest.fixture(scope="module")
def torch_oracle(fixture_file):
    """``{"map", "line"}`` from torch: live when torch is importable, else the committed fixture."""
    if torch is None:
        return {"map": fixture_file["map"], "line": fixture_file["line"]}
    return {"map": fx.torch_map(CASE), "line": fx.torch_line(CASE)}


@pytest.fixture(scope="module")
def mlp_problem():
    return ls.Problem.from_model(_mlp, CASE["theta"], CASE["x"], CASE["y"], loss="cross_entropy", name="mlp")


def test_case_directions_are_li_filter_normalised():
    """The case's directions (made by the fixture script's NumPy reference) are Li et al.'s, as the library makes
    them: per-filter norms of the weights along the kernels' last axis, zero biases."""
    for d in (CASE["dx"], CASE["dy"]):
        for name in fx.LAYERS:
            ratio = _filter_norms(d[name]["kernel"], -1) / _filter_norms(CASE["theta"][name]["kernel"], -1)
            np.testing.assert_allclose(ratio, 1.0, atol=1e-5)
            assert not np.any(d[name]["bias"])
    axes = ls.directions.filter_axes(CASE["theta"])
    assert axes == [None, 1, None, 1]  # Dense_0.bias, Dense_0.kernel, Dense_1.bias, Dense_1.kernel


def test_map_on_li_directions_matches_torch_loop(mlp_problem, torch_oracle):
    m = ls.loss_map(mlp_problem, ls.Axis(CASE["dx"], *fx.GRID["xs"]), ls.Axis(CASE["dy"], *fx.GRID["ys"]))
    np.testing.assert_array_equal(m.xs, CASE["xs"])
    np.testing.assert_array_equal(m.ys, CASE["ys"])
    assert m.values.shape == (len(CASE["ys"]), len(CASE["xs"])) == torch_oracle["map"].shape
    np.testing.assert_allclose(m.values, torch_oracle["map"], rtol=1e-5)
    # and a NumPy float64 loop (no torch needed)
    numpy_map = [[_numpy_ce(fx.combine((1.0, a, b), (CASE["theta"], CASE["dx"], CASE["dy"])), CASE["x"], CASE["y"])
                  for a in CASE["xs"]] for b in CASE["ys"]]
    np.testing.assert_allclose(m.values, numpy_map, rtol=1e-5)
    np.testing.assert_allclose(torch_oracle["map"], numpy_map, rtol=1e-10)


def test_line_between_two_points_matches_torch_loop(mlp_problem, torch_oracle):
    a, b = CASE["theta"], CASE["b"]
    direction = ls.directions.between(a, b)
    for name in fx.LAYERS:
        for k in ("kernel", "bias"):
            np.testing.assert_array_equal(np.asarray(direction[name][k]), b[name][k] - a[name][k])
    line = ls.loss_line(mlp_problem, ls.Axis(direction, *fx.GRID["ts"]), center=a)
    np.testing.assert_array_equal(line.xs, CASE["ts"])
    np.testing.assert_allclose(line.values, torch_oracle["line"], rtol=1e-5)
    numpy_line = [_numpy_ce(fx.combine((1.0 - t, t), (a, b)), CASE["x"], CASE["y"]) for t in CASE["ts"]]
    np.testing.assert_allclose(line.values, numpy_line, rtol=1e-5)
    np.testing.assert_allclose(line.values[[2, 6]], [_numpy_ce(a, CASE["x"], CASE["y"]),
                                                     _numpy_ce(b, CASE["x"], CASE["y"])], rtol=1e-5)  # t = 0, 1


def test_fixture_matches_current_case(fixture_file):
    """Stale fixture (no torch needed): generated from the same inputs the tests build."""
    inputs = fx.flat_inputs(CASE)
    assert set(fixture_file) == set(inputs) | {"map", "line"}, "regenerate with tests/data/make_direction_fixtures.py"
    for key, value in inputs.items():
        np.testing.assert_array_equal(fixture_file[key], value, err_msg=key)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_fixture_matches_live_torch(fixture_file, torch_oracle):
    for key in ("map", "line"):
        np.testing.assert_allclose(fixture_file[key], torch_oracle[key], rtol=1e-10, err_msg=key)


# ------------------------------------------------------------------------------------------------ 4. PCA
@pytest.fixture(scope="module")
def trajectory():
    """30 SGD steps (lr 0.5) on the softmax-regression loss (plain, not the sample-accumulated form: half the
    compile time)."""
    builtin = ls.problems.softmax_regression()
    prob = ls.Problem(name="softmax", fn=builtin.fn, params=builtin.params, data=builtin.data)
    return ls.run(prob, ls.optim.SGD(lr=0.5), 30)


def _stacked_rows(points_tree):
    """``(T, n)``: rows of a stacked params pytree (leaves ``(T, …)``), tree_flatten order."""
    leaves = _leaves64(points_tree)
    return np.concatenate([a.reshape(a.shape[0], -1) for a in leaves], axis=1)


def _numpy_pca(diffs):
    """Top-2 eigenvectors of the covariance of the rows (sign: largest-|.| entry positive) and their variance
    fractions."""
    evals, evecs = np.linalg.eigh(np.cov(diffs, rowvar=False))
    order = np.argsort(evals)[::-1][:2]
    comps = evecs[:, order].T
    comps *= np.sign(comps[np.arange(2), np.argmax(np.abs(comps), axis=1)])[:, None]
    return comps, evals[order] / evals.sum()


def _check_plane_against(plane, rows, comps, ratio, center_row):
    dx, dy = _vec(plane.dx), _vec(plane.dy)
    for got, ref in ((dx, comps[0]), (dy, comps[1])):
        np.testing.assert_allclose(np.linalg.norm(got), 1.0, rtol=1e-6)
        assert got[np.argmax(np.abs(got))] > 0  # the sign convention
        np.testing.assert_allclose(got, ref, atol=2e-6)
    assert abs(dx @ dy) < 1e-6
    np.testing.assert_allclose(plane.explained_variance, ratio, rtol=1e-6)
    np.testing.assert_allclose(_vec(plane.origin), center_row, rtol=1e-6)
    diffs = rows - center_row
    coords = np.stack([diffs @ dx, diffs @ dy], axis=1)
    assert plane.coords.shape == (len(rows), 2)
    np.testing.assert_allclose(plane.coords, coords, rtol=1e-5, atol=1e-6 * np.abs(coords).max())


def test_pca_matches_numpy_eigendecomposition(trajectory):
    rows = _stacked_rows(trajectory.params)
    assert rows.shape == (31, 9)
    diffs = rows - rows[-1]
    comps, ratio = _numpy_pca(diffs)
    plane = ls.directions.pca(trajectory)
    _check_plane_against(plane, rows, comps, ratio, rows[-1])
    assert plane.explained_variance[0] >= plane.explained_variance[1] > 0
    assert plane.coords[-1] == pytest.approx([0.0, 0.0], abs=1e-12)  # the last point is the origin
    # the stacked params pytree and the Trajectory give the same plane
    same = ls.directions.pca(trajectory.params)
    np.testing.assert_array_equal(same.coords, plane.coords)
    # project() of the trajectory onto its own (orthonormal) PCA plane gives the same coordinates
    np.testing.assert_allclose(ls.directions.project(trajectory, plane), plane.coords, rtol=1e-5, atol=1e-6)


def test_pca_matches_sklearn(trajectory):
    decomposition = pytest.importorskip("sklearn.decomposition")
    rows = _stacked_rows(trajectory.params)
    diffs = rows - rows[-1]
    sk = decomposition.PCA(n_components=2).fit(diffs)
    plane = ls.directions.pca(trajectory)
    for got, ref in zip((_vec(plane.dx), _vec(plane.dy)), sk.components_):
        sign = np.sign(got @ ref)
        np.testing.assert_allclose(got, sign * ref, atol=2e-6)
    np.testing.assert_allclose(plane.explained_variance, sk.explained_variance_ratio_, rtol=1e-6)
    # sklearn's transform is of the centred rows: it differs from coords by the rows' mean, projected
    shift = (diffs.mean(axis=0) @ np.stack([_vec(plane.dx), _vec(plane.dy)]).T)
    np.testing.assert_allclose(np.abs(plane.coords - shift), np.abs(sk.transform(diffs)), rtol=1e-4, atol=1e-6)


def test_pca_of_checkpoint_list_and_center(trajectory):
    steps = list(range(0, 31, 3))  # 0, 3, …, 30: the last checkpoint is the last step
    checkpoints = [jax.tree_util.tree_map(lambda a, t=t: a[t], trajectory.params) for t in steps]
    rows = _stacked_rows(trajectory.params)[steps]
    comps, ratio = _numpy_pca(rows - rows[-1])
    stacked = ls.directions.stack(checkpoints)
    _check_plane_against(ls.directions.pca(stacked), rows, comps, ratio, rows[-1])
    _check_plane_against(ls.directions.pca(ls.directions.stack(tuple(checkpoints))), rows, comps, ratio, rows[-1])
    # another centre: the differences (and so the components) change, coords are (θ_t − centre)·d
    centre = checkpoints[0]
    comps0, ratio0 = _numpy_pca(rows - rows[0])
    _check_plane_against(ls.directions.pca(stacked, center=centre), rows, comps0, ratio0, rows[0])
    with pytest.raises(ValueError, match="one structure"):
        ls.directions.stack([checkpoints[0], {"other": np.zeros(2)}])


def test_pca_ignore_biasbn_zeroes_bias_coordinates(trajectory):
    rows = _stacked_rows(trajectory.params)
    names = [n for n, _ in _named_leaves(trajectory.params)]
    assert names == ["bias", "weight"]  # bias (3,) first: coordinates 0..2
    is_bias = np.arange(9) < 3
    diffs = rows - rows[-1]
    comps, ratio = _numpy_pca(diffs * ~is_bias)
    plane = ls.directions.pca(trajectory, ignore="biasbn")
    _check_plane_against(plane, rows, comps, ratio, rows[-1])  # coords: the bias moves are orthogonal to the plane
    for d in (plane.dx, plane.dy):  # zero, as random_directions' biasbn leaves are (not SVD round-off, ~1e-15)
        assert not np.any(np.asarray(d["bias"])), np.asarray(d["bias"])


def test_pca_errors(trajectory):
    # a batch of two runs, as ls.run(..., SGD(lr=jnp.array([a, b])), …) returns it: batch axes before time
    batched = dataclasses.replace(trajectory, batch_axes=("optimizer",), params=jax.tree_util.tree_map(
        lambda a: np.stack([a, a]), trajectory.params))
    with pytest.raises(ValueError, match=r"batch of runs") as batch_error:
        ls.directions.pca(batched)
    two = [jax.tree_util.tree_map(lambda a, t=t: a[t], trajectory.params) for t in (0, 30)]
    with pytest.raises(ValueError, match="at least 3 points"):
        ls.directions.pca(ls.directions.stack(two))
    line = [{"w": np.array([t, 2 * t, -t])} for t in (0.0, 1.0, 2.0, 3.0)]
    with pytest.raises(ValueError, match="on a line"):
        ls.directions.pca(ls.directions.stack(line))
    with pytest.raises(ValueError, match="stacked along a common leading axis"):
        ls.directions.pca([{"w": np.zeros((2, 3))}, {"w": np.zeros(3)}])  # not stacked: stack checkpoints first
    with pytest.raises(ValueError, match="ignore"):
        ls.directions.pca(trajectory, ignore="bn")
    # the batch error's advice must be something a Trajectory can do
    message = str(batch_error.value)
    assert "select(" not in message or hasattr(batched, "select"), message


def test_pca_of_trajectory_with_list_params(trajectory):
    """A model whose parameters are a list of layers (e.g. an Equinox list of modules, a list of dicts): its
    trajectory's params are a list of stacked dicts (leaves (T, …)), to be read as T points, not as
    len(list) checkpoints."""
    weight = np.asarray(trajectory.params["weight"])  # (31, 3, 2): three "layers" of two parameters
    layers = [{"w": weight[:, k]} for k in range(3)]
    traj = dataclasses.replace(trajectory, params=layers)
    rows = _stacked_rows(traj.params)
    assert rows.shape == (31, 6)
    comps, ratio = _numpy_pca(rows - rows[-1])
    for points in (traj, traj.params):
        plane = ls.directions.pca(points)
        assert plane.coords.shape == (31, 2)
        _check_plane_against(plane, rows, comps, ratio, rows[-1])


# ------------------------------------------------------------- 5. between, plane_through, orthogonalize, project
def _tree(rng):
    return {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2), "s": np.float64(rng.standard_normal())}


def _axpy(origin, coefficients, trees):
    return jax.tree_util.tree_map(lambda o, *ds: np.asarray(o) + sum(c * np.asarray(d) for c, d in
                                                                     zip(coefficients, ds)), origin, *trees)


def test_plane_through_three_points(x64):
    rng = np.random.default_rng(0)
    a, b, c = _tree(rng), _tree(rng), _tree(rng)
    plane = ls.directions.plane_through(a, b, c)
    va, vb, vc = _vec(a), _vec(b), _vec(c)
    t = (vc - va) @ (vb - va) / ((vb - va) @ (vb - va))
    np.testing.assert_allclose(plane.coords, [[0, 0], [1, 0], [t, 1]], rtol=1e-12)
    np.testing.assert_allclose(_vec(plane.origin), va, rtol=0)
    np.testing.assert_allclose(_vec(plane.dx), vb - va, rtol=1e-15)
    vx, vy = _vec(plane.dx), _vec(plane.dy)
    assert abs(vx @ vy) < 1e-12 * np.linalg.norm(vx) * np.linalg.norm(vy)
    for (alpha, beta), point in zip(plane.coords, (va, vb, vc)):
        np.testing.assert_allclose(_vec(plane.origin) + alpha * _vec(plane.dx) + beta * _vec(plane.dy), point,
                                   rtol=1e-12, atol=1e-12)
    # project() recovers the three points' coordinates
    np.testing.assert_allclose(ls.directions.project(ls.directions.stack([a, b, c]), plane), plane.coords, atol=1e-12)
    assert plane.explained_variance is None
    with pytest.raises(ValueError, match="same structure"):
        ls.directions.plane_through(a, b, {"w": c["w"], "b": c["b"]})
    with pytest.raises(ValueError, match="parallel"):
        ls.directions.plane_through(a, b, _axpy(a, (2.0,), (ls.directions.between(a, b),)))


def test_project_points_in_a_non_orthogonal_plane(x64):
    rng = np.random.default_rng(1)
    origin, dx = _tree(rng), _tree(rng)
    dy = _axpy(dx, (0.3,), (_tree(rng),))  # far from orthogonal to dx
    cos = _vec(dx) @ _vec(dy) / np.linalg.norm(_vec(dx)) / np.linalg.norm(_vec(dy))
    assert abs(cos) > 0.5
    plane = ls.directions.Plane(origin, dx, dy, np.zeros((0, 2)))
    coords = np.array([[0.0, 0.0], [1.5, -2.0], [-0.25, 0.75], [3.0, 1.0], [-1.0, -1.0]])
    points = [_axpy(origin, c, (dx, dy)) for c in coords]
    stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *points)
    np.testing.assert_allclose(ls.directions.project(stacked, plane), coords, rtol=1e-10, atol=1e-12)
    # a point off the plane: the least-squares coordinates (NumPy normal equations)
    off = _axpy(points[1], (1.0,), (_tree(rng),))
    basis = np.stack([_vec(dx), _vec(dy)], axis=1)
    expected = np.linalg.solve(basis.T @ basis, basis.T @ (_vec(off) - _vec(origin)))
    np.testing.assert_allclose(ls.directions.project(ls.directions.stack([off, origin, origin]), plane)[0], expected, rtol=1e-10)


def test_orthogonalize(x64):
    rng = np.random.default_rng(2)
    dx, dy = _tree(rng), _tree(rng)
    out = ls.directions.orthogonalize(dx, dy)
    vx, vy, vo = _vec(dx), _vec(dy), _vec(out)
    np.testing.assert_allclose(vo, vy - (vy @ vx) / (vx @ vx) * vx, rtol=1e-13, atol=1e-15)
    assert abs(vo @ vx) < 1e-13 * np.linalg.norm(vx) * np.linalg.norm(vy)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(dy)
    with pytest.raises(ValueError, match="parallel"):
        ls.directions.orthogonalize(dx, jax.tree_util.tree_map(lambda a: -2.5 * a, dx))
    with pytest.raises(ValueError, match="all zeros"):
        ls.directions.orthogonalize(jax.tree_util.tree_map(np.zeros_like, dx), dy)
    with pytest.raises(ValueError, match="same structure"):
        ls.directions.orthogonalize(dx, {"w": dy["w"]})


def test_orthogonalize_float32_parallel_raises():
    rng = np.random.default_rng(3)
    dx = {"w": np.asarray(rng.standard_normal((4, 3)), np.float32), "b": np.asarray(rng.standard_normal(4), np.float32)}
    for factor in (0.1, 3.0, -1.7, 1 / 3):
        with pytest.raises(ValueError, match="parallel"):
            ls.directions.orthogonalize(dx, jax.tree_util.tree_map(lambda a: a * factor, dx))


def test_between(x64):
    rng = np.random.default_rng(4)
    a, b = _tree(rng), _tree(rng)
    d = ls.directions.between(a, b)
    np.testing.assert_allclose(_vec(d), _vec(b) - _vec(a), rtol=1e-15)
    for t in (-0.5, 0.0, 0.3, 1.0, 1.5):
        np.testing.assert_allclose(_vec(_axpy(a, (t,), (d,))), (1 - t) * _vec(a) + t * _vec(b), rtol=1e-12,
                                   atol=1e-14)
    with pytest.raises(ValueError, match="same structure"):
        ls.directions.between(a, {"w": b["w"], "b": b["b"], "s": b["w"]})


def test_plane_bounds_cover_coords_and_origin():
    coords = np.array([[1.0, 2.0], [3.0, 5.0], [2.0, 4.0]])  # the origin (0, 0) is outside the points' box
    plane = ls.directions.Plane({"w": np.zeros(2)}, {"w": np.ones(2)}, {"w": np.ones(2)}, coords)
    (alo, ahi), (blo, bhi) = plane.bounds(margin=0.0)
    assert (alo, ahi, blo, bhi) == (0.0, 3.0, 0.0, 5.0)
    (alo, ahi), (blo, bhi) = plane.bounds()  # 25% of the extent on each side
    assert (alo, ahi, blo, bhi) == pytest.approx((-0.75, 3.75, -1.25, 6.25))
    points = np.vstack([coords, [0, 0]])
    assert alo < points[:, 0].min() and ahi > points[:, 0].max()
    assert blo < points[:, 1].min() and bhi > points[:, 1].max()
    (alo, ahi), (blo, bhi) = ls.directions.Plane(None, None, None, np.zeros((3, 2))).bounds()  # degenerate: still a box
    assert alo < ahi and blo < bhi
    with pytest.raises(ValueError, match="margin"):
        plane.bounds(margin=float("nan"))


# ------------------------------------------------------------------- 6. model state, held-out data, metrics
def _bn_model(params, state, x, train):
    """Dense → BatchNorm (running statistics in ``state``) → tanh → Dense."""
    h = x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"]
    if train:
        mean, var = jnp.mean(h, axis=0), jnp.var(h, axis=0)
        new_state = {"mean": 0.9 * state["mean"] + 0.1 * mean, "var": 0.9 * state["var"] + 0.1 * var}
    else:
        mean, var, new_state = state["mean"], state["var"], state
    h = (h - mean) / jnp.sqrt(var + 1e-5) * params["BatchNorm_0"]["scale"] + params["BatchNorm_0"]["bias"]
    return jnp.tanh(h) @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"], new_state


def _np_bn_predict(params, state, x):
    p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    s = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), state)
    h = x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
    h = (h - s["mean"]) / np.sqrt(s["var"] + 1e-5) * p["BatchNorm_0"]["scale"] + p["BatchNorm_0"]["bias"]
    return np.tanh(h) @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]


def _np_ce_acc(logits, y):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float(np.mean(lse - logits[np.arange(len(y)), y])), float(np.mean(np.argmax(logits, axis=1) == y))


@pytest.fixture(scope="module")
def bn_case():
    rng = np.random.default_rng(6)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    params = {"Dense_0": {"kernel": f32(rng.standard_normal((4, 4))), "bias": f32(0.1 * rng.standard_normal(4))},
              "BatchNorm_0": {"scale": f32(1 + 0.2 * rng.standard_normal(4)),
                              "bias": f32(0.1 * rng.standard_normal(4))},
              "Dense_1": {"kernel": f32(rng.standard_normal((4, 3))), "bias": f32(0.1 * rng.standard_normal(3))}}
    state = {"mean": f32(0.3 * rng.standard_normal(4)), "var": f32(1 + 0.3 * rng.uniform(size=4))}
    x, y = f32(rng.standard_normal((30, 4))), rng.integers(0, 3, 30)
    xt, yt = f32(rng.standard_normal((20, 4))), rng.integers(0, 3, 20)
    sx = {"mean": f32(0.3 * rng.standard_normal(4)), "var": f32(rng.uniform(-0.2, 0.2, 4))}
    sy = {"mean": f32(0.3 * rng.standard_normal(4)), "var": f32(rng.uniform(-0.2, 0.2, 4))}
    dx, dy = ls.random_directions(params, jax.random.PRNGKey(8))
    prob = ls.Problem.from_model(_bn_model, params, x, y, loss="cross_entropy", state=state, held_out=(xt, yt))
    return dict(params=params, state=state, x=x, y=y, xt=xt, yt=yt, sx=sx, sy=sy, dx=dx, dy=dy, prob=prob)


def _np_state_loop(c, xs, ys, moved_state):
    """``{name: (len(ys), len(xs))}``: loss, accuracy, test loss and accuracy at each point, in float64."""
    out = {k: np.empty((len(ys), len(xs))) for k in ("values", "accuracy", "test_loss", "test_accuracy")}
    for i, b in enumerate(ys):
        for j, a in enumerate(xs):
            params = _axpy(c["params"], (a, b), (c["dx"], c["dy"]))
            state = _axpy(c["state"], (a, b), (c["sx"], c["sy"])) if moved_state else c["state"]
            out["values"][i, j], out["accuracy"][i, j] = _np_ce_acc(_np_bn_predict(params, state, c["x"]), c["y"])
            out["test_loss"][i, j], out["test_accuracy"][i, j] = _np_ce_acc(_np_bn_predict(params, state, c["xt"]),
                                                                            c["yt"])
    return out


def _check_metrics(result, expected):
    assert set(result.metrics) == {"accuracy", "test_loss", "test_accuracy"}
    np.testing.assert_allclose(result.values, expected["values"], rtol=1e-5)
    np.testing.assert_allclose(result.metrics["test_loss"], expected["test_loss"], rtol=1e-5)
    for name in ("accuracy", "test_accuracy"):
        np.testing.assert_allclose(result.metrics[name], expected[name], rtol=1e-6, err_msg=name)


def test_map_with_state_held_fixed_and_metrics(bn_case):
    c = bn_case
    x_axis, y_axis = ls.Axis(c["dx"], -1, 1, 5), ls.Axis(c["dy"], -1, 1, 4)
    m = ls.loss_map(c["prob"], x_axis, y_axis, metrics={"accuracy": ls.losses.accuracy})
    expected = _np_state_loop(c, m.xs, m.ys, moved_state=False)
    _check_metrics(m, expected)
    assert len(np.unique(expected["accuracy"])) > 1  # the metric varies over the map


def test_map_with_state_directions_moves_the_state(bn_case):
    c = bn_case
    m = ls.loss_map(c["prob"], ls.Axis(c["dx"], -1, 1, 5), ls.Axis(c["dy"], -1, 1, 4),
                    metrics={"accuracy": ls.losses.accuracy}, state_directions=(c["sx"], c["sy"]))
    moved = _np_state_loop(c, m.xs, m.ys, moved_state=True)
    _check_metrics(m, moved)
    fixed = _np_state_loop(c, m.xs, m.ys, moved_state=False)
    assert not np.allclose(moved["values"], fixed["values"], rtol=1e-3)  # moving the state matters here


def test_line_with_state_and_metrics(bn_case):
    c = bn_case
    xs = np.linspace(-1, 1, 7)
    for state_directions, moved in ((None, False), ((c["sx"],), True)):
        line = ls.loss_line(c["prob"], ls.Axis(c["dx"], -1, 1, 7), metrics={"accuracy": ls.losses.accuracy},
                            state_directions=state_directions)
        expected = _np_state_loop({**c, "dy": c["dx"], "sy": c["sx"]}, xs, [0.0], moved_state=moved)
        _check_metrics(line, {k: v[0] for k, v in expected.items()})


def test_state_errors(bn_case):
    c = bn_case
    x = c["x"]
    with pytest.raises(TypeError, match="state"):
        ls.Problem.from_model(lambda p, inputs: (inputs @ p["w"], {"n": jnp.zeros(())}),
                              {"w": np.zeros((4, 3), np.float32)}, x, c["y"], loss="cross_entropy")
    stateless = ls.Problem.from_model(lambda p, inputs: inputs @ p["w"], {"w": np.ones((4, 3), np.float32)}, x,
                                      c["y"], loss="cross_entropy")
    w_axis = ls.Axis({"w": np.ones((4, 3), np.float32)}, -1, 1, 3)
    with pytest.raises(ValueError, match="has no state"):
        ls.loss_map(stateless, w_axis, w_axis, state_directions=({"w": 0}, {"w": 0}))
    with pytest.raises(ValueError, match="state_directions must be 2"):
        ls.loss_map(c["prob"], ls.Axis(c["dx"], -1, 1, 3), ls.Axis(c["dy"], -1, 1, 3), state_directions=(c["sx"],))
    with pytest.raises(ValueError, match="state's structure"):
        ls.loss_map(c["prob"], ls.Axis(c["dx"], -1, 1, 3), ls.Axis(c["dy"], -1, 1, 3),
                    state_directions=(c["sx"], {"mean": c["sy"]["mean"]}))


def test_grad_on_accuracy_loss_raises():
    prob = ls.Problem.from_model(_mlp, CASE["theta"], CASE["x"], CASE["y"],
                                 loss=lambda p, t: ls.losses.accuracy(p, t))
    axes = ls.Axis(CASE["dx"], -1, 1, 3), ls.Axis(CASE["dy"], -1, 1, 3)
    with pytest.raises(ValueError, match="not differentiable"):
        ls.loss_map(prob, *axes, grad=True)
    with pytest.raises(ValueError, match="not differentiable"):
        ls.loss_line(prob, axes[0], grad=True)
    # the same loss without grad: the accuracy at each point (NumPy)
    line = ls.loss_line(prob, axes[0])
    for a, value in zip(line.xs, line.values):
        p = fx.combine((1.0, a), (CASE["theta"], CASE["dx"]))
        logits = np.tanh(CASE["x"] @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]) @ p["Dense_1"]["kernel"] \
            + p["Dense_1"]["bias"]
        assert value == pytest.approx(np.mean(np.argmax(logits, axis=1) == CASE["y"]), rel=1e-6)
