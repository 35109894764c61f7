"""Tests for landscape.losses: torch parity (live torch, else committed fixtures), closed forms, errors, jit/vmap."""
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import make_loss_fixtures as fx  # the case list and torch oracle, shared by live runs and fixtures (tests/data)
from landscape import losses as L

try:
    import torch
except ImportError:
    torch = None

CASES = {c.name: c for c in fx.CASES}
RTOL, ATOL = 1e-5, 1e-6  # float32 landscape vs float64 torch
# Tiny arrays: LLVM optimization only costs compile time here (HLO passes still run; no fast-math either way).
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})


def _close(actual, expected, rtol=RTOL, atol=ATOL, err_msg=""):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol, atol=atol, err_msg=err_msg)


def _value_grad(case, x):
    """(loss, gradient of loss.sum() w.r.t. the input), as the torch oracle computes them."""
    value, pullback = jax.vjp(lambda x: L.get(case.loss)(x, case.target, **case.kwargs), x)
    return value, pullback(jnp.ones_like(value))[0]


@pytest.fixture(scope="module")
def jax_results():
    """Every case's (value, grad) from one jitted call: one compilation instead of ~100 keeps the file fast."""
    cases = list(CASES.values())
    out = _jit(lambda xs: [_value_grad(c, x) for c, x in zip(cases, xs)])([c.input for c in cases])
    return dict(zip(CASES, out))


@pytest.fixture(scope="module")
def fixture_file():
    assert fx.FIXTURE.exists(), "run tests/data/make_loss_fixtures.py to create the torch fixtures"
    with np.load(fx.FIXTURE, allow_pickle=False) as data:
        return dict(data)


@pytest.fixture(scope="module")
def oracle(fixture_file):
    """Case name -> torch's (value, grad): computed live when torch is importable, else the committed fixture."""
    if torch is None:
        return {n: (fixture_file[f"{n}/value"], fixture_file[f"{n}/grad"]) for n in CASES}
    return {n: fx.torch_oracle(c) for n, c in CASES.items()}


# ------------------------------------------------------------------------------------- torch parity
@pytest.mark.parametrize("name", CASES)
def test_torch_parity(name, jax_results, oracle):
    value, grad = jax_results[name]
    ref_value, ref_grad = oracle[name]
    assert value.shape == np.shape(ref_value) and value.dtype == jnp.float32
    _close(value, ref_value)
    _close(grad, ref_grad)


def test_fixture_covers_current_cases(fixture_file):
    """Stale fixtures (no torch needed): every case present, generated from the same inputs."""
    missing = [c.name for c in fx.CASES if f"{c.name}/value" not in fixture_file]
    assert not missing, f"regenerate with tests/data/make_loss_fixtures.py; missing cases: {missing}"
    for case in fx.CASES:
        np.testing.assert_array_equal(fixture_file[f"{case.name}/input"], case.input, err_msg=case.name)
        np.testing.assert_array_equal(fixture_file[f"{case.name}/target"], case.target, err_msg=case.name)
    assert len(fixture_file) == 4 * len(fx.CASES)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_fixture_matches_live_torch(fixture_file, oracle):
    """Stale fixtures: the committed values agree with the installed torch."""
    for name, (value, grad) in oracle.items():
        _close(fixture_file[f"{name}/value"], value, rtol=1e-10, atol=0)
        _close(fixture_file[f"{name}/grad"], grad, rtol=1e-10, atol=0)


# ------------------------------------------------------------------------- closed forms, no torch
# Each test evaluates everything it checks in a single jitted call (one compilation, not one per op).
def _xy(seed=0, shape=(8, 3)):
    r = np.random.default_rng(seed)
    x, y = (r.standard_normal(shape).astype(np.float32) for _ in range(2))
    y[0] = x[0]  # ties
    return x, y


def _grad_sum(f, x):
    return jax.grad(lambda x: f(x).sum())(x)


def test_mse_l1_rmse_match_numpy():
    x, y = _xy()
    d = x.astype(np.float64) - y
    out = _jit(lambda x: [(L.mse(x, y, r), L.l1(x, y, r), _grad_sum(lambda x: L.l1(x, y, r), x)) for r in L.REDUCTIONS]
               + [L.rmse(x, y)])(x)
    for r, (mse, l1, l1_grad) in zip(L.REDUCTIONS, out):
        red = {"none": lambda a: a, "sum": np.sum, "mean": np.mean}[r]
        _close(mse, red(d**2))
        _close(l1, red(np.abs(d)))
        _close(l1_grad, np.sign(d) / (d.size if r == "mean" else 1))  # 0 at ties
    _close(out[-1], np.sqrt(np.mean(d**2)))


def test_huber_is_delta_times_smooth_l1():
    x, y = _xy(1)
    deltas = (0.3, 1.0, 2.5)
    out = _jit(lambda x: [(f(x), _grad_sum(f, x)) for d in deltas for f in
                          (lambda x: L.huber(x, y, d, "none"), lambda x: d * L.smooth_l1(x, y, d, "none"))])(x)
    for (hv, hg), (sv, sg) in zip(out[::2], out[1::2]):
        _close(hv, sv, rtol=1e-6)
        _close(hg, sg, rtol=1e-6)


def test_smooth_l1_beta0_is_l1():
    x, y = _xy(2)
    fs = [lambda x: L.smooth_l1(x, y, beta=0.0, reduction="none"), lambda x: L.l1(x, y, reduction="none")]
    (sv, sg), (lv, lg) = _jit(lambda x: [(f(x), _grad_sum(f, x)) for f in fs])(x)
    np.testing.assert_array_equal(sv, lv)
    np.testing.assert_array_equal(sg, lg)
    assert np.all(sg[0] == 0)  # ties


def test_cross_entropy_onehot_equals_indices_and_nll():
    r = np.random.default_rng(3)
    x, t, w = r.standard_normal((7, 4)).astype(np.float32), r.integers(0, 4, 7), r.uniform(0.5, 2, 4).astype(np.float32)
    onehot = np.eye(4, dtype=np.float32)[t]
    # weighted means differ by design (Σ w[y_n] vs N), so weights only with 'none' and 'sum'
    settings = [(red, weight, ls) for red in L.REDUCTIONS for weight in (None, w)[: 1 + (red != "mean")]
                for ls in (0.0, 0.2)]

    def run(x):
        out = []
        for red, weight, ls in settings:
            fs = [lambda x, tgt=tgt: L.cross_entropy(x, tgt, weight, reduction=red, label_smoothing=ls)
                  for tgt in (t, onehot)]
            out.append([(f(x), _grad_sum(f, x)) for f in fs] + [L.nll(jax.nn.log_softmax(x), t, weight, reduction=red)])
        return out

    for (red, weight, ls), ((vi, gi), (vp, gp), nll) in zip(settings, _jit(run)(x)):
        _close(vi, vp, rtol=1e-6, err_msg=f"{red} {ls}")
        _close(gi, gp, rtol=1e-6, err_msg=f"{red} {ls}")
        if ls == 0:
            _close(nll, vi, rtol=1e-6)


def test_bce_matches_bce_with_logits_away_from_clamp():
    r = np.random.default_rng(4)
    p, y = r.uniform(0.05, 0.95, (6, 3)).astype(np.float32), r.uniform(0, 1, (6, 3)).astype(np.float32)
    z = np.log(p / (1 - p))
    fp, fz = lambda p: L.bce(p, y, reduction="none"), lambda z: L.bce_with_logits(z, y, reduction="none")
    vp, gp, vz, gz = _jit(lambda p, z: (fp(p), _grad_sum(fp, p), fz(z), _grad_sum(fz, z)))(p, z)
    _close(vp, vz, rtol=1e-5)
    _close(gz, gp * p * (1 - p), rtol=1e-4)  # chain rule through p = σ(z)


def test_bce_clamps_and_gradients_at_0_and_1():
    x, y = np.float32([0, 1, 0, 1]), np.float32([1, 0, 0, 1])
    f = lambda x, y: L.bce(x, y, reduction="none")  # noqa: E731
    v, gx, gy = _jit(lambda x, y: (f(x, y), _grad_sum(lambda x: f(x, y), x),
                                   _grad_sum(lambda y: f(x * 0 + 0.3, y), y * 0 + 0.5)))(x, y)
    np.testing.assert_allclose(v, [100, 100, 0, 0])
    np.testing.assert_allclose(gx, [-1e12, 1e12, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(gy, np.log(0.7) - np.log(0.3), rtol=1e-6)  # target gradient, as torch


def test_rmse_gradient_at_zero_error_is_nan_like_torch():
    x = np.ones(3, np.float32)
    v, g = _jit(jax.value_and_grad(lambda x: L.rmse(x, np.ones(3))))(x)
    assert v == 0 and np.all(np.isnan(g))


def test_all_ignored_mean_is_nan_with_zero_gradient():
    x, t = np.ones((3, 4), np.float32), np.full(3, -100)
    mean, total, g = _jit(lambda x: (L.cross_entropy(x, t), L.cross_entropy(x, t, reduction="sum"),
                                     jax.grad(lambda x: L.cross_entropy(x, t))(x)))(x)
    assert np.isnan(mean) and total == 0
    np.testing.assert_array_equal(g, 0)


def test_dtype_follows_input():
    f32, f64 = jax.ShapeDtypeStruct((2, 3), np.float32), jax.ShapeDtypeStruct((2, 3), np.float64)
    assert jax.eval_shape(L.mse, np.ones(3), np.ones(3)).dtype == jnp.float32  # numpy float64, x64 off
    with jax.enable_x64(True):
        for name in ("mse", "huber", "bce", "bce_with_logits", "cross_entropy"):
            assert jax.eval_shape(L.get(name), f64, f64).dtype == jnp.float64, name
            assert jax.eval_shape(L.get(name), f32, f32).dtype == jnp.float32, name
        assert jax.eval_shape(L.cross_entropy, f64, jax.ShapeDtypeStruct((2,), np.int64)).dtype == jnp.float64
        assert jax.eval_shape(lambda x: L.bce(x, x, weight=np.ones(3, np.float32)), f64).dtype == jnp.float64


def test_float64_parity(oracle):
    """With x64 enabled, the same computations agree with torch's float64 to ~1e-12."""
    names = ["ce_idx_weight_smooth_ignore.mean", "ce_spatial_prob.mean", "nll_weight_ignore.sum", "bce_edges.none",
             "bcel_large_logits.none", "smooth_l1_b0.5.none", "huber_d2.0.mean"]
    with jax.enable_x64(True):
        out = _jit(lambda xs: [_value_grad(CASES[n], x) for n, x in zip(names, xs)])(
            [CASES[n].input.astype(np.float64) for n in names])
        out = jax.tree.map(np.asarray, out)
    for name, (value, grad) in zip(names, out):
        ref_value, ref_grad = oracle[name]
        assert value.dtype == grad.dtype == np.float64
        _close(value, ref_value, rtol=1e-12, atol=1e-12)
        _close(grad, ref_grad, rtol=1e-12, atol=1e-12)


# -------------------------------------------------------------------------------------- errors
# Abstract inputs under jax.eval_shape: validation must happen at trace time, on static shapes and dtypes.
def _raises(pattern, f, *shapes_dtypes):
    args = [jax.ShapeDtypeStruct(s, np.dtype(d)) for s, d in shapes_dtypes]
    with pytest.raises(ValueError, match=pattern):
        jax.eval_shape(f, *args)


F32, I32 = "float32", "int32"


@pytest.mark.parametrize("name", ["mse", "l1", "huber", "smooth_l1", "bce", "bce_with_logits", "rmse"])
def test_shape_mismatch_names_both_shapes(name):
    _raises(r"input shape \(50,\) and target shape \(50, 1\) differ", L.get(name), ((50,), F32), ((50, 1), F32))


def test_cross_entropy_target_shape_errors():
    x = ((4, 3), F32)
    _raises(r"shape \(4,\).*\(4, 3\).*\(4, 1\)", L.cross_entropy, x, ((4, 1), I32))
    _raises(r"\(4, 2\).*\(4, 3\)", L.cross_entropy, x, ((4, 2), F32))
    # an integer one-hot target is not a probability target
    _raises(r"shape \(4,\) for input shape \(4, 3\); got int32 with shape \(4, 3\)", L.cross_entropy, x, ((4, 3), I32))
    _raises(r"\(2, 5, 7\).*\(2, 5\)", L.cross_entropy, ((2, 3, 5, 7), F32), ((2, 5), I32))
    _raises("integer", L.nll, x, ((4,), F32))
    _raises(r"weight shape \(4,\)", lambda x, t, w: L.cross_entropy(x, t, weight=w), x, ((4,), I32), ((4,), F32))
    _raises(r"pos_weight shape \(2,\)", lambda x, p: L.bce_with_logits(x, x, pos_weight=p), x, ((2,), F32))
    _raises(r"weight shape \(4,\) does not broadcast", lambda x, w: L.bce(x, x, weight=w), x, ((4,), F32))


def _target(name):
    return ((2,), I32) if name in ("cross_entropy", "nll") else ((2, 3), F32)


@pytest.mark.parametrize("name", L.names())
def test_bad_reduction(name):
    _raises("'avg'.*mean", lambda x, y: L.get(name)(x, y, reduction="avg"), ((2, 3), F32), _target(name))


@pytest.mark.parametrize("name", L.names())
def test_integer_input_rejected(name):
    _raises("input dtype int32 is not floating", L.get(name), ((2, 3), I32), _target(name))


@pytest.mark.parametrize("call, pattern", [
    (lambda x: L.huber(x, x, delta=-1.0), "delta"), (lambda x: L.huber(x, x, delta=0.0), "delta"),
    (lambda x: L.smooth_l1(x, x, beta=-0.5), "beta"), (lambda x: L.rmse(x, x, reduction="sum"), "'sum'"),
    (lambda x: L.cross_entropy(x, x, label_smoothing=1.5), "label_smoothing"),
])
def test_bad_hyperparameters(call, pattern):
    _raises(pattern, call, ((2, 3), F32))


def test_registry():
    assert L.names() == ("mse", "l1", "huber", "smooth_l1", "cross_entropy", "nll", "bce", "bce_with_logits", "rmse")
    assert L.get("smooth-l1") is L.smooth_l1 and L.get("bce-with-logits") is L.bce_with_logits
    assert all(L.get(n) is getattr(L, n) for n in L.names())
    with pytest.raises(ValueError, match="'hinge'.*mse.*rmse"):
        L.get("hinge")


# ---------------------------------------------------------------------------------- jit and vmap
def test_vmap_matches_loop():
    """Under jit, vmap over a batch of inputs (values and grads) equals a Python loop over it."""
    names = ("smooth_l1_b0.0", "ce_idx_weight_smooth_ignore", "ce_spatial_prob", "bce_edges")
    cases = [CASES[f"{n}.mean"] for n in names]
    batches = [np.stack([c.input, c.input[::-1] * 0.5]) for c in cases]

    def run(batches):
        vgs = [lambda x, c=c: _value_grad(c, x) for c in cases]
        return [(jax.vmap(vg)(xs), [vg(x) for x in xs]) for vg, xs in zip(vgs, batches)]

    for case, ((v, g), loop) in zip(cases, _jit(run)(batches)):
        _close(v, np.stack([lv for lv, _ in loop]), rtol=1e-6, err_msg=case.name)
        _close(g, np.stack([lg for _, lg in loop]), rtol=1e-6, err_msg=case.name)


def test_traced_hyperparameters_under_vmap():
    x, y = _xy(5)
    t = np.arange(8) % 3

    def run(betas, eps):
        by_vmap = (jax.vmap(lambda b: L.smooth_l1(x, y, beta=b))(betas),
                   jax.vmap(lambda b: L.huber(x, y, delta=b))(betas[1:]),
                   jax.vmap(lambda e: L.cross_entropy(x, t, label_smoothing=e))(eps),
                   jax.vmap(jax.grad(lambda b: L.smooth_l1(x * b, y, beta=b)))(betas))
        by_loop = ([L.smooth_l1(x, y, beta=b) for b in (0.0, 0.5, 1.0)], [L.huber(x, y, delta=b) for b in (0.5, 1.0)],
                   [L.cross_entropy(x, t, label_smoothing=e) for e in (0.0, 0.1)])
        return by_vmap, by_loop

    by_vmap, by_loop = _jit(run)(jnp.array([0.0, 0.5, 1.0]), jnp.array([0.0, 0.1]))
    for v, loop in zip(by_vmap, by_loop):
        _close(v, np.array(loop), rtol=1e-6)
    assert np.all(np.isfinite(by_vmap[3]))  # beta = 0 traced: no nan from the unused quadratic branch


def test_accuracy_metrics_against_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4))
    labels = rng.integers(0, 4, 50)
    assert float(L.accuracy(logits, labels)) == pytest.approx(np.mean(logits.argmax(1) == labels))
    assert float(L.accuracy(logits, np.eye(4)[labels])) == pytest.approx(np.mean(logits.argmax(1) == labels))
    probs, targets = rng.uniform(size=30), rng.integers(0, 2, 30)
    assert float(L.binary_accuracy(probs, targets)) == pytest.approx(np.mean((probs > 0.5) == targets))
    assert float(L.binary_accuracy(probs - 0.5, targets, threshold=0.0)) == pytest.approx(
        np.mean((probs > 0.5) == targets))
    with pytest.raises(ValueError, match="binary_accuracy"):
        L.accuracy(probs, targets)


# ----------------------------------------------------------------------------------- values torch refuses
_LOGITS = np.float32([[0.2, -1.0, 0.5], [1.0, 0.0, -0.5], [0.3, 0.3, 0.3], [-2.0, 1.0, 0.0]])
_PROBS = np.float32([0.2, 0.9, 0.5])
REFUSED = [  # (name, input, target, kwargs, what our message says)
    ("cross_entropy", _LOGITS, np.array([0, 1, 5, 2]), {}, "target must be in [0, 3) for 3 classes (or ignore_index=-100), got 5"),
    ("cross_entropy", _LOGITS, np.array([0, -1, 1, 2]), {}, "got -1 at index (1,)"),
    ("cross_entropy", _LOGITS[0], np.array(3), {}, "target must be in [0, 3)"),
    ("cross_entropy", _LOGITS, np.array([0, 1, -100, 2]), {"ignore_index": 5}, "(or ignore_index=5), got -100"),
    ("nll", _LOGITS.T[None], np.array([[0, 1, 3, 2]]), {}, "nll: class-index target must be in [0, 3)"),
    ("bce", _PROBS, np.float32([0.0, 2.0, 1.0]), {}, "bce: target must be in [0, 1], got 2.0 at index (1,)"),
    ("bce", _PROBS, np.float32([-0.1, 1.0, np.nan]), {}, "got -0.1 at index (0,) (2 such values)"),
    ("bce", np.float32([0.5, 1.5, -1.0]), np.float32([0, 1, 0]), {}, "bce: input must be a probability in [0, 1]"),
]


@pytest.mark.parametrize("name, x, target, kwargs, message", REFUSED, ids=lambda c: c if isinstance(c, str) else "")
def test_values_torch_refuses_raise_when_concrete(name, x, target, kwargs, message):
    """They used to give NaN (class 5 of 3) or a plausible number (bce target 2.0: 0.693)."""
    if torch is not None:
        with pytest.raises((IndexError, RuntimeError)):
            getattr(torch.nn.functional, fx.TORCH_FUNCTIONS[name])(torch.from_numpy(x), torch.from_numpy(target),
                                                                  **kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        L.get(name)(x, target, **kwargs)
    assert np.shape(_jit(lambda x, t: L.get(name)(x, t, **kwargs))(x, target)) == ()  # traced: unchecked


def test_values_torch_accepts_pass():
    kept = [L.cross_entropy(_LOGITS, np.array([0, 1, -100, 2])), L.cross_entropy(_LOGITS, np.array([0, 1, 5, 2]),
                                                                                ignore_index=5),
            L.bce(_PROBS, np.float32([0.0, 0.3, 1.0])), L.bce(np.float32([0.0, 1.0]), np.float32([0.0, 1.0]))]
    assert all(np.isfinite(kept))
    L.check_target("cross_entropy", np.array([0, 2, -100]), (3, 3))
    with pytest.raises(ValueError, match=re.escape("cross_entropy: class-index target must be in [0, 3)")):
        L.check_target("cross-entropy", np.array([0, 3]), (2, 3))
    with pytest.raises(ValueError, match=re.escape("bce: target must be in [0, 1], got 2.0")):
        L.check_target("bce", np.float32([1.0, 2.0]), (2,))
