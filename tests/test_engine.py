"""The engine: one batched evaluator for every front end, and the consumers the next capabilities bring (several
named outputs, an iterative computation per item, chunks handed to a sink, evaluation strategies)."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import _engine
from landscape._engine import Strategy, evaluate

# ---------------------------------------------------------------------------------------------------------- a model
# A two-layer tanh network on 2-D inputs with a train/test split: enough structure for several metrics, gradients
# and curvature, small enough for NumPy double loops and dense Hessians.

RNG = np.random.default_rng(0)
X_TRAIN, X_TEST = RNG.standard_normal((24, 2)), RNG.standard_normal((16, 2))
Y_TRAIN, Y_TEST = (X_TRAIN[:, 0] * X_TRAIN[:, 1] > 0).astype(float), (X_TEST[:, 0] * X_TEST[:, 1] > 0).astype(float)
SHAPES = {"w1": (2, 3), "b1": (3,), "w2": (3,)}
THETA0, DX, DY = (RNG.standard_normal(12) for _ in range(3))


def unflatten(theta):
    out, k = {}, 0
    for name, shape in SHAPES.items():
        size = int(np.prod(shape))
        out[name] = theta[k:k + size].reshape(shape)
        k += size
    return out


def logits(theta, x):
    p = unflatten(theta)
    return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"]


def bce(theta, x, y):
    z = logits(theta, x)
    return jnp.mean(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))))


def numpy_bce(theta, x, y):
    p = unflatten(theta)
    z = np.tanh(x @ p["w1"] + p["b1"]) @ p["w2"]
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


class Metrics(NamedTuple):
    """Per grid point: train and test loss, test accuracy, and the train loss's derivatives along the plane."""

    def __call__(self, index, args, data):
        i, j = index
        a, b = args["xs"][j], args["ys"][i]
        loss = lambda a, b: bce(args["theta"] + a * args["dx"] + b * args["dy"], *data)  # noqa: E731
        train, (grad_a, grad_b) = jax.value_and_grad(loss, argnums=(0, 1))(a, b)
        theta = args["theta"] + a * args["dx"] + b * args["dy"]
        return {"train": train, "test": bce(theta, args["x_test"], args["y_test"]),
                "accuracy": jnp.mean((logits(theta, args["x_test"]) > 0) == (args["y_test"] > 0.5)),
                "grad": (grad_a, grad_b)}


def plane_args(nx=5, ny=4):
    return {"theta": THETA0, "dx": DX, "dy": DY, "xs": np.linspace(-1, 1, nx), "ys": np.linspace(-2, 2, ny),
            "x_test": X_TEST, "y_test": Y_TEST}


def test_several_named_outputs_match_numpy_double_loops(x64):
    args = plane_args()
    out, tile = evaluate(Metrics(), (4, 5), args, (X_TRAIN, Y_TRAIN))
    assert set(out) == {"train", "test", "accuracy", "grad"} and tile == (4, 5)
    h = 1e-6
    for i, b in enumerate(args["ys"]):
        for j, a in enumerate(args["xs"]):
            theta = THETA0 + a * DX + b * DY
            np.testing.assert_allclose(out["train"][i, j], numpy_bce(theta, X_TRAIN, Y_TRAIN), rtol=1e-12)
            np.testing.assert_allclose(out["test"][i, j], numpy_bce(theta, X_TEST, Y_TEST), rtol=1e-12)
            p = unflatten(theta)
            correct = ((np.tanh(X_TEST @ p["w1"] + p["b1"]) @ p["w2"] > 0) == (Y_TEST > 0.5)).mean()
            assert out["accuracy"][i, j] == correct
            along = [(numpy_bce(theta + h * d, X_TRAIN, Y_TRAIN) - numpy_bce(theta - h * d, X_TRAIN, Y_TRAIN)) / (2 * h)
                     for d in (DX, DY)]  # central differences along the plane's axes
            np.testing.assert_allclose([out["grad"][0][i, j], out["grad"][1][i, j]], along, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------- curvature


def lanczos_extremes(hvp, dim: int, iterations: int):
    """The extreme eigenvalues of the tridiagonal matrix of ``iterations`` Lanczos steps (full reorthogonalisation)
    from a fixed start: exact for a symmetric ``dim × dim`` operator when ``iterations == dim``."""
    basis = jnp.zeros((iterations + 1, dim)).at[0].set(jnp.ones(dim) / jnp.sqrt(dim))

    def step(k, state):
        basis, alpha, beta = state
        w = hvp(basis[k])
        alpha = alpha.at[k].set(w @ basis[k])
        w = w - basis.T @ (basis @ w)  # against every earlier vector (zeros beyond k contribute nothing)
        w = w - basis.T @ (basis @ w)
        norm = jnp.linalg.norm(w)
        beta = beta.at[k].set(norm)
        return basis.at[k + 1].set(w / jnp.where(norm > 0, norm, 1.0)), alpha, beta

    _, alpha, beta = jax.lax.fori_loop(0, iterations, step, (basis, jnp.zeros(iterations), jnp.zeros(iterations)))
    tridiagonal = jnp.diag(alpha) + jnp.diag(beta[:-1], 1) + jnp.diag(beta[:-1], -1)
    eigenvalues = jnp.linalg.eigvalsh(tridiagonal)
    return eigenvalues[-1], eigenvalues[0]


class Curvature(NamedTuple):
    """Per grid point: the Hessian's extreme eigenvalues by Lanczos on forward-over-reverse Hessian-vector
    products, an iterative computation inside every item."""

    iterations: int

    def __call__(self, index, args, data):
        i, j = index
        theta = args["theta"] + args["xs"][j] * args["dx"] + args["ys"][i] * args["dy"]
        gradient = jax.grad(lambda t: bce(t, *data))
        hvp = lambda v: jax.jvp(gradient, (theta,), (v,))[1]  # noqa: E731
        top, bottom = lanczos_extremes(hvp, theta.size, self.iterations)
        return {"top": top, "bottom": bottom}


def test_lanczos_at_every_grid_point_matches_a_dense_eigendecomposition(x64):
    args = plane_args(nx=3, ny=2)
    out, _ = evaluate(Curvature(iterations=12), (2, 3), args, (X_TRAIN, Y_TRAIN))
    hessian = jax.hessian(lambda t: bce(t, X_TRAIN, Y_TRAIN))
    for i, b in enumerate(args["ys"]):
        for j, a in enumerate(args["xs"]):
            eigenvalues = np.linalg.eigh(np.asarray(hessian(THETA0 + a * DX + b * DY)))[0]
            np.testing.assert_allclose([out["top"][i, j], out["bottom"][i, j]], eigenvalues[[-1, 0]],
                                       rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------- sinks


def test_chunks_reach_the_sink_in_order_and_rebuild_the_result(tmp_path):
    chunks = []

    def to_disk(chunk):  # what a resumable or multi-process job does with each finished tile
        path = tmp_path / f"chunk{len(chunks)}.npz"
        np.savez(path, rows=[chunk.index[0].start, chunk.index[0].stop], cols=[chunk.index[1].start,
                 chunk.index[1].stop], **{name: v for name, v in chunk.outputs.items() if name != "grad"})
        chunks.append(path)

    args = plane_args(nx=7, ny=5)
    whole, _ = evaluate(Metrics(), (5, 7), args, (X_TRAIN, Y_TRAIN))
    streamed, tile = evaluate(Metrics(), (5, 7), args, (X_TRAIN, Y_TRAIN), chunk_size=14, sink=to_disk)
    assert tile == (2, 7) and len(chunks) == 3  # whole rows: 2 + 2 + 1
    rebuilt = {name: np.full((5, 7), np.nan) for name in ("train", "test", "accuracy")}
    covered = np.zeros((5, 7), int)
    for path in chunks:
        with np.load(path) as f:
            rows, cols = slice(*f["rows"]), slice(*f["cols"])
            covered[rows, cols] += 1
            for name in rebuilt:
                rebuilt[name][rows, cols] = f[name]
    assert (covered == 1).all()  # every item exactly once, padding cut off
    for name in rebuilt:
        np.testing.assert_array_equal(rebuilt[name], whole[name])
        np.testing.assert_array_equal(streamed[name], whole[name])


# ---------------------------------------------------------------------------------------------------------- strategies


class Squares(NamedTuple):
    """A per-item mean over samples (a loss), and a per-item vector output."""

    def __call__(self, index, args, data):
        (k,) = index
        w = args["w"][k]
        return {"loss": jnp.mean((w * data[0] - data[1]) ** 2), "vector": w * jnp.arange(3.0)}


@pytest.mark.parametrize("strategy", [Strategy("vmap"), Strategy("loop"), Strategy("loop", 4), Strategy("accumulate"),
                                      Strategy("accumulate", 3)])
def test_strategies_agree_with_numpy(strategy, x64):
    x, y = RNG.standard_normal(23), RNG.standard_normal(23)
    w = np.linspace(-2, 2, 37)
    out, _ = evaluate(Squares(), (37,), {"w": w}, (x, y), strategy=strategy, chunk_size=10)
    np.testing.assert_allclose(out["loss"], ((w[:, None] * x - y) ** 2).mean(axis=1), rtol=1e-13)
    if strategy.kind != "accumulate":  # (a vector that is not a mean over samples: accumulation averages it)
        np.testing.assert_allclose(out["vector"], w[:, None] * np.arange(3.0), rtol=1e-15)


def test_loop_over_a_plane_with_items_on_another_axis():
    args = plane_args(nx=6, ny=5)
    direct, _ = evaluate(Metrics(), (5, 6), args, (X_TRAIN, Y_TRAIN))
    looped, _ = evaluate(Metrics(), (5, 6), args, (X_TRAIN, Y_TRAIN), strategy=Strategy("loop", 2), chunk_size=12)
    for name in ("train", "test", "accuracy"):
        np.testing.assert_allclose(looped[name], direct[name], rtol=1e-6)
    moved, _ = evaluate(Squares(), (11,), {"w": np.arange(11.0)}, (np.ones(3), np.zeros(3)), out_axes={"vector": 1},
                        strategy=Strategy("loop"), chunk_size=4)
    assert moved["vector"].shape == (3, 11)
    np.testing.assert_allclose(moved["vector"], np.arange(3.0)[:, None] * np.arange(11.0))


def test_one_tile_is_handed_back_without_a_copy_when_asked():
    w, data = np.arange(8.0), (np.ones(3), np.zeros(3))
    copied, _ = evaluate(Squares(), (8,), {"w": w}, data)
    shared, tile = evaluate(Squares(), (8,), {"w": w}, data, copy=False)
    assert tile == (8,) and copied["loss"].flags.writeable
    np.testing.assert_array_equal(shared["loss"], copied["loss"])
    tiled, _ = evaluate(Squares(), (8,), {"w": w}, data, copy=False, chunk_size=3)  # several tiles: assembled
    assert tiled["loss"].flags.writeable
    np.testing.assert_array_equal(tiled["loss"], copied["loss"])


def test_same_shapes_compile_once(count_compiles):
    evaluate(Squares(), (37,), {"w": np.linspace(0, 1, 37)}, (np.ones(5), np.zeros(5)))
    with count_compiles() as counter:
        again, _ = evaluate(Squares(), (37,), {"w": np.linspace(1, 2, 37)}, (np.ones(5), np.zeros(5)))
    assert counter.count == 0 and again["loss"][0] == pytest.approx(1.0)


def test_eager_under_disable_jit():
    with jax.disable_jit():
        out, _ = evaluate(Squares(), (9,), {"w": np.arange(9.0)}, (np.ones(2), np.zeros(2)), chunk_size=4)
    np.testing.assert_allclose(out["loss"], np.arange(9.0) ** 2)


def test_budget_too_small_for_one_item():
    with pytest.raises(MemoryError, match="evaluate: one item needs about .* raise memory_budget"):
        evaluate(Squares(), (9,), {"w": np.arange(9.0)}, (np.ones(2), np.zeros(2)), memory_budget=1)


def test_strategy_errors():
    with pytest.raises(ValueError, match="strategy.kind must be 'vmap', 'loop' or 'accumulate', got 'scan'"):
        evaluate(Squares(), (3,), {"w": np.arange(3.0)}, (np.ones(2), np.zeros(2)), strategy=Strategy("scan"))
    with pytest.raises(ValueError, match="there is no data"):
        evaluate(Squares(), (3,), {"w": np.arange(3.0)}, strategy=Strategy("accumulate"))


def test_outputs_must_be_named():
    with pytest.raises(TypeError, match="must return a dict of outputs"):
        evaluate(lambda index, args, data: args["w"][index[0]], (3,), {"w": np.arange(3.0)})


# ---------------------------------------------------------------------------------------------------------- tiles


@pytest.mark.parametrize("multiple", [1, 2, 4, 8])
def test_tiles_cover_the_grid_evenly_within_the_chunk(multiple):
    rng = np.random.default_rng(multiple)
    for n, most in rng.integers(1, 3000, size=(500, 2)):
        size = _engine.block_length(int(n), int(most), multiple)
        assert 1 <= size <= most
        if most >= multiple:
            assert size % multiple == 0  # shardable
        fewest = -(-n // most)
        if size % multiple == 0 and -(-n // size) > fewest:  # more blocks than needed only to stay aligned
            assert most % multiple and -(-n // size) == -(-n // (most - most % multiple))
    assert _engine.tile_shape(2**20, (4096, 4096), 1) == (256, 4096)
    assert _engine.tile_shape(2**20, (2000, 2000), 1) == (500, 2000)  # four full tiles, no padded rows
    assert _engine.tile_shape(2**20, (101, 101), 4) == (104, 101)  # one tile, rows padded for four devices
    assert _engine.tile_shape(4096, (10, 5000), 1) == (1, 2504)  # a row split in two parts of 8k items
    assert _engine.tile_shape(2**16, (4_000_000,), 2) == (64_528,)  # 62 tiles of 16k items: 8 per device
    assert _engine.tile_shape(2**16, (1001,), 2) == (1002,)  # one tile: the grid, padded for the devices only
    assert _engine.tile_shape(16, (21, 33), 4) == (1, 12)  # too small a tile for 8 per device: shardable still
    assert _engine.tile_shape(100, (1000,), 4) == (100,)
    assert _engine.tile_shape(50, (3, 4, 10), 1) == (1, 4, 10)  # whole trailing blocks where they fit


# ---------------------------------------------------------------------------------------------------------- sample sums


@pytest.mark.parametrize("n", [1, 7, 19, 20, 23, 50, 1003])
@pytest.mark.parametrize("block", [1, 4, 10])
def test_mean_over_samples_equals_numpy_mean(x64, n, block):
    """Every sample counted once, whatever the blocks and the tail: a pytree of per-sample terms, vmapped."""
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    w = rng.standard_normal(5)

    def terms(batch):  # batch: one sample; returns a pytree over the 5 weights
        bx, by = batch
        return {"sq": jax.vmap(lambda wi: jnp.mean((wi * bx - by) ** 2))(w), "lin": jnp.mean(bx * by)}

    mean = _engine.mean_over_samples(terms, (jnp.asarray(x), jnp.asarray(y)), block=block)
    np.testing.assert_allclose(mean["sq"], ((w[:, None] * x - y) ** 2).mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(mean["lin"], np.mean(x * y), rtol=1e-12, atol=1e-15)


def test_pairwise_sum_is_more_accurate_than_a_running_sum():
    """float32 terms of very different sizes: the pairwise tree loses less than left-to-right accumulation."""
    terms = [np.float32(1.0)] + [np.float32(1e-8)] * 4095
    exact = 1.0 + 4095e-8
    running = np.float32(0)
    for t in terms:
        running = np.float32(running + t)
    pairwise = _engine._pairwise_sum([jnp.float32(t) for t in terms])
    assert abs(float(running) - exact) > 4e-5  # every tiny term is lost
    assert abs(float(pairwise) - exact) < 1e-6
