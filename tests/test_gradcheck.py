import jax
import jax.numpy as jnp
import numpy as np
import pytest

import landscape as ls
from landscape import problems


@pytest.mark.parametrize("name", problems.names())
def test_autodiff_agrees_with_finite_differences(name):
    result = ls.check_grad(problems.get(name))
    assert result.rel_error < 2e-3, (name, result)
    assert result.names == problems.get(name).names
    assert result.autodiff.shape == result.numeric.shape == (len(result.names),)


def test_float64_is_much_tighter(x64):
    result = ls.check_grad(problems.rosenbrock(), {"x": 0.3, "y": -0.7})
    assert result.rel_error < 1e-8
    np.testing.assert_allclose(result.autodiff, [2 * (0.3 - 1) - 400 * 0.3 * (-0.7 - 0.09), 200 * (-0.7 - 0.09)])


def test_detects_a_wrong_gradient():
    @jax.custom_vjp
    def square(w):
        return w**2

    square.defvjp(lambda w: (w**2, w), lambda w, g: (g * 3 * w,))  # wrong: d(w²)/dw is 2w
    prob = ls.Problem(name="wrong", fn=lambda p, _: square(p["w"]), params={"w": jnp.float32(1.5)})
    result = ls.check_grad(prob)
    np.testing.assert_allclose(result.autodiff, [4.5])
    np.testing.assert_allclose(result.numeric, [3.0], rtol=1e-3)
    assert result.rel_error > 0.3


def test_bad_step():
    with pytest.raises(ValueError, match="step must be positive"):
        ls.check_grad(problems.bowl(), step=0.0)
