"""landscape.optim update rules: parity with torch.optim (live, or the committed fixture), batching,
jit, float64, validation, and Lion against optax and a NumPy closed form."""

import re
from collections import defaultdict
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import make_optim_fixtures as fx
from landscape import optim


LOSSES = {name: partial(loss, xp=jnp) for name, (_, loss) in fx.PROBLEMS.items()}


def problem(name, dtype="float32"):
    params, data = fx.PROBLEMS[name][0]()
    return ({k: jnp.asarray(v, dtype) for k, v in params.items()}, tuple(jnp.asarray(d, dtype) for d in data))


def trajectory(opt, params, data, loss_fn, steps):
    """Rows t = 0..steps of [loss(θ_t), θ_t flattened], from a lax.scan of ``opt.update``."""
    def row(loss, p):
        return jnp.concatenate([loss[None], *(x.reshape(-1) for x in jax.tree.leaves(p))])

    def body(carry, _):
        p, state = carry
        loss, g = jax.value_and_grad(loss_fn)(p, data)
        return opt.update(g, state, p, loss), row(loss, p)

    (p, _), rows = lax.scan(body, (params, opt.init(params)), length=steps)
    return jnp.concatenate([rows, row(loss_fn(p, data), p)[None]])


run = jax.jit(trajectory, static_argnums=(3, 4))


@partial(jax.jit, static_argnums=(3, 4))
def run_groups(groups, params, data, loss_fn, steps):
    """Trajectories of each batched optimizer in the tuple ``groups``, in one compiled call."""
    return tuple(jax.vmap(lambda o: trajectory(o, params, data, loss_fn, steps))(optim.broadcast(g)) for g in groups)


def stack(opts):
    """One batched optimizer from optimizers of the same pytree structure."""
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *opts)


@lru_cache(maxsize=None)
def landscape_runs(case_ids, name, steps, dtype):
    """{case id: trajectory} for the cases ``case_ids``, batched per pytree structure."""
    groups = defaultdict(list)
    for case_id in case_ids:
        opt = fx.landscape_optimizer(fx.BY_ID[case_id])
        groups[jax.tree.structure(opt)].append((case_id, opt))
    with jax.enable_x64(dtype == "float64"):
        params, data = problem(name, dtype)
        rows = run_groups(tuple(stack([o for _, o in g]) for g in groups.values()), params, data, LOSSES[name], steps)
    return {case_id: r for g, batch in zip(groups.values(), rows) for (case_id, _), r in zip(g, np.asarray(batch))}


def rel_err(ours, ref):
    """Largest |ours − ref| relative to |ref|, floored at 1% of the column's largest |ref| (parameters
    crossing zero)."""
    scale = np.maximum(np.abs(ref), 1e-2 * np.abs(ref).max(axis=0))
    return float((np.abs(ours - ref) / scale).max())


# ----------------------------------------------------------------------------- parity with torch

def assert_matches_torch(cases, all_cases, name, steps, dtype):
    """Loss and parameters of ``cases`` at every step match torch: float32 to rtol 1e-4, float64 to
    1e-9 (the same arithmetic up to rounding). All of ``all_cases`` are run in one compiled call."""
    runs = landscape_runs(tuple(case[0] for case in all_cases), name, steps, dtype)
    rtol = 1e-4 if dtype == "float32" else 1e-9
    for case_id, *_ in cases:
        ours, ref = runs[case_id], fx.reference(f"{case_id}.{name}.{dtype}")
        assert ours.shape == ref.shape
        assert rel_err(ours, ref) < rtol, (case_id, rel_err(ours, ref))


@pytest.mark.parametrize("name,steps,dtype", fx.RUNS)
@pytest.mark.parametrize("cls", sorted({case[1] for case in fx.CASES}))
def test_matches_torch(cls, name, steps, dtype):
    assert_matches_torch([case for case in fx.CASES if case[1] == cls], fx.CASES, name, steps, dtype)


def test_scheduled_optimizers_match_torch():
    """Optimizers with a schedule as lr: torch optimizer + lr_scheduler stepped once per step."""
    assert_matches_torch(fx.SCHEDULED_CASES, fx.SCHEDULED_CASES, *fx.RUNS[0])


def test_fixture_matches_live_torch():
    if fx.torch_or_none() is None:
        pytest.skip("torch not installed")
    fixture = fx.fixture()
    assert sorted(fixture) == sorted(fx.NAMES)
    for name in fx.NAMES:
        assert rel_err(fx.live(name), fixture[name]) < 1e-5, name  # bitwise equal where it was written


def test_seed_facts():
    params, data = problem("regression")
    rows = np.asarray(run(optim.SGD(lr=0.1), params, data, LOSSES["regression"], 99))
    np.testing.assert_allclose(rows[:4, 0], [53.078270, 34.729504, 22.891207, 15.226043], rtol=1e-6)
    np.testing.assert_allclose(rows[99, 0], 0.499441, rtol=1e-5)

    w = np.asarray(run(optim.SGD(lr=0.3), {"W": jnp.float32(4.0)}, (), lambda p, _: p["W"] ** 2, 4))
    np.testing.assert_allclose(w[1:, 1], [1.6, 0.64, 0.256, 0.1024], rtol=1e-6)

    v = np.asarray(run(optim.SGD(lr=0.1, momentum=0.9), jnp.float32(1.0), (), lambda p, _: p**2 / 2, 2))
    np.testing.assert_allclose(-np.diff(v[:, 1]), [0.1, 0.18], rtol=1e-6)


# ----------------------------------------------------------------------------- pytrees, batching, jit

SWEEPS = [
    optim.SGD(lr=jnp.array([0.01, 0.05, 0.1, 0.02]), momentum=jnp.array([0.9, 0.5, 0.0, 0.9]),
              nesterov=jnp.array([True, False, False, False]), maximize=jnp.array([False, False, False, True])),
    optim.Adam(lr=optim.StepLR(jnp.array([0.1, 0.2, 0.05]), step_size=3), amsgrad=jnp.array([True, False, True]),
               betas=(jnp.array([0.9, 0.3, 0.5]), 0.99), weight_decay=0.1),
    optim.AdamW(lr=0.1, amsgrad=jnp.array([True, False])),
    optim.NAdam(lr=0.05, decoupled_weight_decay=jnp.array([True, False]), weight_decay=0.1),
    optim.RAdam(lr=optim.LinearWarmup(optim.CosineAnnealingLR(0.05, T_max=jnp.array([3, 5])), warmup_steps=2),
                decoupled_weight_decay=jnp.array([True, False]), weight_decay=0.1),
    optim.RMSprop(lr=0.01, centered=jnp.array([True, False, True]), momentum=jnp.array([0.0, 0.5, 0.9])),
    optim.Adagrad(lr=jnp.array([0.1, 0.3]), lr_decay=jnp.array([0.0, 0.1]), initial_accumulator_value=0.5),
    optim.Adadelta(rho=jnp.array([0.5, 0.9]), maximize=jnp.array([True, False])),
    optim.Adamax(lr=optim.ReduceLROnPlateau(jnp.array([0.1, 0.2]), patience=1, threshold=0.1), eps=1e-3),
    optim.Lion(lr=jnp.array([1e-3, 1e-2]), betas=(0.9, jnp.array([0.99, 0.5])), weight_decay=0.1),
]


def unstack(opts):
    """The single optimizers of a batch, with Python scalar fields."""
    leaves, treedef = jax.tree.flatten(optim.broadcast(opts))
    n = optim.batch_shape(opts)[0]
    return [treedef.unflatten([np.asarray(x)[i].item() for x in leaves]) for i in range(n)]


def test_batch_equals_loop_of_single_optimizers():
    """A batch (array fields, swept booleans, batched schedules) under vmap equals a loop (lax.map)
    of the single optimizers it holds."""
    params, data = problem("regression")

    def one(opt):
        assert optim.batch_shape(opt) == ()
        return trajectory(opt, params, data, LOSSES["regression"], 8)

    batched, looped = jax.jit(lambda sweeps: ([jax.vmap(one)(optim.broadcast(o)) for o in sweeps],
                                              [lax.map(one, optim.broadcast(o)) for o in sweeps]))(SWEEPS)
    for opts, vmapped, mapped in zip(SWEEPS, batched, looped):
        assert vmapped.shape[0] == optim.batch_shape(opts)[0] > 1
        np.testing.assert_allclose(vmapped, mapped, rtol=1e-6, err_msg=type(opts).__name__)


@pytest.mark.parametrize("opts", [SWEEPS[1], SWEEPS[3], SWEEPS[8]], ids=lambda o: type(o).__name__)
def test_jit_equals_no_jit(opts):
    opt = unstack(opts)[0]
    params, data = problem("regression")
    grad = jax.jit(jax.value_and_grad(LOSSES["regression"]))
    step = jax.jit(lambda o, g, s, p, loss: o.update(g, s, p, loss))
    state = opt.init(params)
    p_jit, s_jit = params, state
    for _ in range(5):
        loss, g = grad(params, data)
        params, state = opt.update(g, state, params, loss)
        loss, g = grad(p_jit, data)
        p_jit, s_jit = step(opt, g, s_jit, p_jit, loss)
        for a, b in zip(jax.tree.leaves((params, state)), jax.tree.leaves((p_jit, s_jit))):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_optimizer_is_a_pytree():
    opt = optim.Adam(lr=optim.StepLR(0.1, step_size=5), betas=(0.8, 0.9), amsgrad=True)
    leaves, treedef = jax.tree.flatten(opt)
    assert len(leaves) == 3 + 2 + 5 and treedef.unflatten(leaves) == opt
    assert jax.tree.map(lambda x: x, opt) == opt
    assert optim.batch_shape(opt) == () and optim.batch_shape(opt._replace(eps=np.ones((2, 1)))) == (2, 1)
    plateau = optim.SGD(lr=optim.ReduceLROnPlateau(0.1, mode="max", threshold_mode="abs"))
    assert len(jax.tree.leaves(plateau)) == 7 + 5  # mode strings are static
    assert jax.tree.map(lambda x: x, plateau) == plateau
    assert jax.jit(lambda o: o)(plateau).lr.mode == "max"


def test_dtype_follows_params():
    params = {"a": jnp.ones(3, jnp.float32), "b": jnp.ones((2, 2), jnp.bfloat16)}
    opt = optim.Adam(lr=optim.ExponentialLR(0.1, gamma=0.9))
    state = opt.init(params)
    new, state = opt.update(params, state, params)
    assert new["a"].dtype == jnp.float32 and new["b"].dtype == jnp.bfloat16
    assert state.exp_avg["b"].dtype == jnp.bfloat16 and state.count.dtype == jnp.int32
    with jax.enable_x64(True):
        params = {"w": jnp.ones(2, jnp.float64)}
        singles = [unstack(opts)[0] for opts in SWEEPS]
        for new, state in jax.jit(lambda os: [o.update(params, o.init(params), params, 1.0) for o in os])(singles):
            assert new["w"].dtype == jnp.float64
            assert {x.dtype for x in jax.tree.leaves(state)} <= set(map(np.dtype, ["float64", "float32", "int32"]))


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize("make,message", [
    (lambda: optim.SGD(lr=-0.1), "SGD: lr must be >= 0, got lr=-0.1"),
    (lambda: optim.SGD(lr=0.1, nesterov=True),
     "SGD: nesterov=True requires momentum > 0 and dampening = 0, got nesterov=True, momentum=0.0, dampening=0.0"),
    (lambda: optim.SGD(momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
    (lambda: optim.SGD(momentum=-0.5), "SGD: momentum must be >= 0, got momentum=-0.5"),
    (lambda: optim.SGD(lr=np.array([0.1, -0.2])), "SGD: lr must be >= 0, got lr=-0.2"),
    (lambda: optim.SGD(momentum=np.array([0.9, 0.0]), nesterov=np.array([True, True])), "momentum=0.0"),
    (lambda: optim.Adam(betas=(0.9, 1.0)), "Adam: betas[1] must be in [0, 1), got betas[1]=1.0"),
    (lambda: optim.AdamW(betas=(-0.1, 0.9)), "AdamW: betas[0] must be in [0, 1), got betas[0]=-0.1"),
    (lambda: optim.Adam(eps=-1e-8), "Adam: eps must be >= 0, got eps=-1e-08"),
    (lambda: optim.NAdam(weight_decay=-1.0), "NAdam: weight_decay must be >= 0, got weight_decay=-1.0"),
    (lambda: optim.NAdam(momentum_decay=-1.0), "NAdam: momentum_decay must be >= 0"),
    (lambda: optim.RAdam(lr=jnp.array([-1.0])), "RAdam: lr must be >= 0, got lr=-1.0"),
    (lambda: optim.Adamax(betas=(0.9, 1.5)), "Adamax: betas[1]"),
    (lambda: optim.RMSprop(alpha=-0.1), "RMSprop: alpha must be >= 0, got alpha=-0.1"),
    (lambda: optim.RMSprop(momentum=-0.1), "RMSprop: momentum"),
    (lambda: optim.Adagrad(lr_decay=-0.1), "Adagrad: lr_decay must be >= 0, got lr_decay=-0.1"),
    (lambda: optim.Adagrad(initial_accumulator_value=-1.0), "Adagrad: initial_accumulator_value"),
    (lambda: optim.Adadelta(rho=1.5), "Adadelta: rho must be in [0, 1], got rho=1.5"),
    (lambda: optim.Lion(lr=-1.0), "Lion: lr must be >= 0"),
    (lambda: optim.SGD(lr=0.1)._replace(lr=-1.0), "SGD: lr must be >= 0, got lr=-1.0"),
])
def test_validation_names_argument_and_value(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


@pytest.mark.parametrize("make,error,message", [
    (lambda: optim.SGD({"w": jnp.ones(3)}, lr=0.1), TypeError, "landscape optimizers take no parameters"),
    (lambda: optim.Adam({"w": jnp.ones(3)}, 0.9), TypeError, "Adam: lr must be a number, an array of numbers"),
    (lambda: optim.SGD(lr="0.1"), TypeError, "SGD: lr must be a number, an array of numbers (a batch) or a "
                                             "schedule, got a str ('0.1')"),
    (lambda: optim.SGD(lr=[0.1, 0.2]), TypeError, "pass an array, e.g. np.array"),
    (lambda: optim.SGD(momentum=None), TypeError, "SGD: momentum must be a number or an array of numbers"),
    (lambda: optim.RMSprop(alpha=np.array(["0.9"])), TypeError, "RMSprop: alpha must be a number"),
    (lambda: optim.Adam(betas=(0.9,)), ValueError, "Adam: betas must be a pair (beta1, beta2)"),
    (lambda: optim.Lion(betas=np.array([0.9, 0.99])), ValueError, "Lion: betas must be a pair"),
    (lambda: optim.NAdam(betas=(0.9, "0.999")), TypeError, "NAdam: betas[1] must be a number"),
    (lambda: optim.StepLR(optim.SGD(lr=0.1), step_size=3), TypeError, "A schedule wraps the learning rate"),
    (lambda: optim.CosineAnnealingLR(0.1, T_max="10"), TypeError, "CosineAnnealingLR: T_max must be a number"),
])
def test_wrong_types_are_refused_at_construction(make, error, message):
    """Values that are not numbers, arrays or (for lr) schedules used to be accepted, then fail deep in JAX."""
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_traced_hyperparameters():
    """Validation skips tracers: an optimizer built under jit/grad works (d θ_1/d lr = −(g + μ·g))."""
    params = {"w": jnp.float32(2.0)}

    def after_one_step(lr):
        opt = optim.SGD(lr=lr, momentum=0.9, nesterov=True)
        return opt.update(params, opt.init(params), params)[0]["w"]

    np.testing.assert_allclose(jax.jit(jax.grad(after_one_step))(0.5), -3.8, rtol=1e-6)
    batch = optim.SGD(lr=jnp.linspace(0.01, 0.2, 1000), momentum=0.9)
    assert optim.batch_shape(batch) == (1000,)
    lrs = jax.vmap(lambda o: o.lr)(optim.broadcast(batch))
    np.testing.assert_allclose(lrs, np.linspace(0.01, 0.2, 1000), rtol=1e-6)


# ----------------------------------------------------------------------------- Lion

def lion_numpy(lr, b1, b2, wd, params, data, steps):
    """Lion on the regression problem in float64 NumPy, with the closed-form MSE gradient."""
    x, y = (np.asarray(d, np.float64) for d in data)
    theta = np.array([params["bias"], params["weight"]], np.float64)
    m, out = np.zeros(2), [theta.copy()]
    for _ in range(steps):
        r = 2 * (theta[1] * x + theta[0] - y)
        g = np.array([r.mean(), (r * x).mean()])
        theta = theta - lr * (np.sign(b1 * m + (1 - b1) * g) + wd * theta)
        m = b2 * m + (1 - b2) * g
        out.append(theta.copy())
    return np.array(out)


LION = [(0.05, 0.9, 0.99, 0.0), (0.02, 0.5, 0.9, 0.1), (0.1, 0.95, 0.98, 0.01)]


def test_lion_matches_optax_and_numpy():
    optax = pytest.importorskip("optax")
    params, data = problem("regression")
    loss, steps = LOSSES["regression"], 100
    lions = stack([optim.Lion(lr=lr, betas=(b1, b2), weight_decay=wd) for lr, b1, b2, wd in LION])
    ours = np.asarray(run_groups((lions,), params, data, loss, steps)[0])
    maximized = run_groups((lions._replace(maximize=True),), params, data, lambda p, d: -loss(p, d), steps)[0]
    np.testing.assert_allclose(maximized[..., 1:], ours[..., 1:], rtol=1e-6)

    def optax_run(tx):
        def body(carry, _):
            p, state = carry
            updates, state = tx.update(jax.grad(loss)(p, data), state, p)
            p = optax.apply_updates(p, updates)
            return (p, state), jnp.stack([p["bias"], p["weight"]])
        return lax.scan(body, (params, tx.init(params)), length=steps)[1]

    theirs = jax.jit(lambda: [optax_run(optax.lion(lr, b1=b1, b2=b2, weight_decay=wd)) for lr, b1, b2, wd in LION])()
    for i, (setting, reference) in enumerate(zip(LION, theirs)):
        np.testing.assert_allclose(ours[i, 1:, 1:], reference, rtol=1e-6, atol=1e-7, err_msg=str(setting))
        # float64 closed form; float32 rounding accumulates ~t·ulp in the ±lr sign steps
        np.testing.assert_allclose(ours[i, :, 1:], lion_numpy(*setting, params, data, steps), rtol=1e-5, atol=1e-5)
