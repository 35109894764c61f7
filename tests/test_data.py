import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import data


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

    mean = data.mean_over_samples(terms, (jnp.asarray(x), jnp.asarray(y)), block=block)
    np.testing.assert_allclose(mean["sq"], ((w[:, None] * x - y) ** 2).mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(mean["lin"], np.mean(x * y), rtol=1e-12, atol=1e-15)


def test_pairwise_sum_is_more_accurate_than_a_running_sum():
    """float32 terms of very different sizes: the pairwise tree loses less than left-to-right accumulation."""
    terms = [np.float32(1.0)] + [np.float32(1e-8)] * 4095
    exact = 1.0 + 4095e-8
    running = np.float32(0)
    for t in terms:
        running = np.float32(running + t)
    pairwise = data._pairwise_sum([jnp.float32(t) for t in terms])
    assert abs(float(running) - exact) > 4e-5  # every tiny term is lost
    assert abs(float(pairwise) - exact) < 1e-6
