"""landscape.optim schedules: step-by-step parity with torch.optim.lr_scheduler (live, or the committed
fixture), batching, validation, and how an optimizer consumes a schedule."""

import re
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import make_optim_fixtures as fx
from landscape import optim


def lr_sequence(schedule, losses):
    """The lr of each epoch (= optimizer step), advancing the schedule with ``losses[e]`` after epoch e."""
    def body(state, x):
        epoch, loss = x
        return schedule.advance(state, loss), schedule.value(state, epoch)

    return lax.scan(body, schedule.init(), (jnp.arange(len(losses)), losses))[1]


@lru_cache(maxsize=None)
def landscape_lrs(dtype):
    """{case id: lr sequence} for every SCHEDULE_CASES entry, in one compiled call."""
    with jax.enable_x64(dtype == "float64"):
        schedules = [fx.landscape_schedule(lr, spec) for _, lr, spec, _, _ in fx.SCHEDULE_CASES]
        losses = [np.zeros(n) if loss is None else loss for *_, loss, n in fx.SCHEDULE_CASES]
        losses = [jnp.asarray(x, dtype) for x in losses]
        lrs = jax.jit(lambda ss, ls: [lr_sequence(*a) for a in zip(ss, ls)])(schedules, losses)
    return {case[0]: np.asarray(x) for case, x in zip(fx.SCHEDULE_CASES, lrs)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", fx.SCHEDULE_CASES, ids=lambda c: c[0])
def test_schedule_matches_torch(case, dtype):
    ours, ref = landscape_lrs(dtype)[case[0]], fx.reference(f"schedule.{case[0]}")
    assert ours.shape == ref.shape and ours.dtype == dtype
    tol = 2e-6 if dtype == "float32" else 1e-12  # float32: γ itself is rounded (γ^60: ~8e-7)
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol * case[1])


def test_plateau_cases_exercise_every_rule():
    """The ReduceLROnPlateau references reduce the lr repeatedly, hit min_lr, and skip reductions below eps."""
    lrs = {c[0]: fx.reference(f"schedule.{c[0]}") for c in fx.SCHEDULE_CASES if c[2][0] == "ReduceLROnPlateau"}
    assert all(len(np.unique(x)) >= 3 for x in lrs.values())
    assert lrs["plateau-max-rel-min-lr"][-1] == 0.02
    assert np.isclose(lrs["plateau-max-abs-eps"].min(), 0.1 * 0.3**4)  # a further step would be < eps = 1e-3
    assert np.isclose(lrs["plateau-default"].min(), 1e-8)  # 1e-8 → 1e-9 would be < eps = 1e-8


def test_cosine_is_periodic_past_t_max():
    cosine = optim.CosineAnnealingLR(0.1, T_max=10, eta_min=0.01)
    values = np.asarray(jax.vmap(lambda e: cosine.value((), e))(jnp.arange(41)))
    np.testing.assert_allclose(values[[0, 10, 20, 30, 40]], [0.1, 0.01, 0.1, 0.01, 0.1], rtol=1e-6)
    np.testing.assert_allclose(values[11:20], values[9:0:-1], rtol=1e-6)


def test_batched_schedules_equal_single_ones():
    batches = [
        optim.StepLR(jnp.array([0.1, 0.2, 0.3]), step_size=jnp.array([2, 3, 5]), gamma=0.5),
        optim.ExponentialLR(0.1, gamma=jnp.array([0.9, 0.99])),
        optim.LinearWarmup(optim.CosineAnnealingLR(jnp.array([0.1, 0.2]), T_max=7), warmup_steps=jnp.array([0, 4])),
        optim.ReduceLROnPlateau(0.1, factor=jnp.array([0.5, 0.1]), patience=jnp.array([0, 2]),
                                cooldown=jnp.array([1, 0]), threshold_mode="abs", threshold=0.01),
    ]
    losses = jnp.asarray(fx.plateau_losses(n=40, seed=6))
    for batch in batches:
        n = optim.batch_shape(batch)[0]
        batched = jax.vmap(lambda s: lr_sequence(s, losses))(optim.broadcast(batch))
        leaves, treedef = jax.tree.flatten(optim.broadcast(batch))
        for i in range(n):
            single = treedef.unflatten([np.asarray(x)[i].item() for x in leaves])
            np.testing.assert_allclose(batched[i], lr_sequence(single, losses), rtol=1e-6, err_msg=repr(single))


def test_optimizer_uses_the_schedule_value_of_the_previous_epoch():
    """Step t (from 1) uses the schedule at epoch t − 1: on L(θ) = θ, SGD moves by −lr_{t−1}."""
    schedule = optim.LinearWarmup(optim.StepLR(0.1, step_size=2, gamma=0.5), warmup_steps=3, start_factor=0.25)
    opt = optim.SGD(lr=schedule)
    theta, state, moves = jnp.float32(0.0), opt.init(jnp.float32(0.0)), []
    for _ in range(9):
        new, state = opt.update(jnp.float32(1.0), state, theta)
        moves.append(float(theta - new))
        theta = new
    expected = [0.025, 0.05, 0.075, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    np.testing.assert_allclose(moves, expected, rtol=1e-6)
    np.testing.assert_allclose(moves, lr_sequence(schedule, jnp.zeros(9)), rtol=1e-6)
    assert int(state.count) == 9


@pytest.mark.parametrize("make,message", [
    (lambda: optim.StepLR(-0.1, step_size=3), "StepLR: lr must be >= 0, got lr=-0.1"),
    (lambda: optim.StepLR(0.1, step_size=0), "StepLR: step_size must be > 0, got step_size=0"),
    (lambda: optim.ExponentialLR(np.array([0.1, -1.0]), gamma=0.9), "ExponentialLR: lr must be >= 0, got lr=-1.0"),
    (lambda: optim.CosineAnnealingLR(0.1, T_max=0), "CosineAnnealingLR: T_max must be > 0, got T_max=0"),
    (lambda: optim.LinearWarmup(0.1, 5, start_factor=0.0),
     "LinearWarmup: start_factor must be in (0, 1], got start_factor=0.0"),
    (lambda: optim.LinearWarmup(0.1, -1), "LinearWarmup: warmup_steps must be >= 0, got warmup_steps=-1"),
    (lambda: optim.LinearWarmup(optim.ReduceLROnPlateau(0.1), 5), "LinearWarmup: lr cannot be a ReduceLROnPlateau"),
    (lambda: optim.ReduceLROnPlateau(0.1, factor=1.0), "ReduceLROnPlateau: factor must be < 1, got factor=1.0"),
    (lambda: optim.ReduceLROnPlateau(0.1, mode="low"),
     "ReduceLROnPlateau: mode must be 'min' or 'max', got mode='low'"),
    (lambda: optim.ReduceLROnPlateau(0.1, threshold_mode="x"), "threshold_mode must be 'rel' or 'abs'"),
])
def test_validation_names_argument_and_value(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_plateau_needs_the_loss():
    opt = optim.SGD(lr=optim.ReduceLROnPlateau(0.1))
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="ReduceLROnPlateau needs the loss"):
        opt.update(params, opt.init(params), params)


BATCHED_FIELDS = [  # (batch of schedules, one torch scheduler per member) for SGD(lr=0.1) on L(W) = W² from W = 4
    (optim.StepLR(0.1, step_size=np.array([1, 2, 3]), gamma=0.5),
     lambda opt, k: __import__("torch").optim.lr_scheduler.StepLR(opt, step_size=[1, 2, 3][k], gamma=0.5)),
    (optim.CosineAnnealingLR(0.1, T_max=np.array([2, 5]), eta_min=0.01),
     lambda opt, k: __import__("torch").optim.lr_scheduler.CosineAnnealingLR(opt, T_max=[2, 5][k], eta_min=0.01)),
    (optim.LinearWarmup(0.1, warmup_steps=3, start_factor=np.array([0.25, 0.5, 1.0])),
     lambda opt, k: __import__("torch").optim.lr_scheduler.LinearLR(opt, start_factor=[0.25, 0.5, 1.0][k],
                                                                    total_iters=3)),
]


@pytest.mark.parametrize("batch,_", BATCHED_FIELDS, ids=lambda c: type(c).__name__)
def test_batched_count_fields_rebuild_under_vmap_axes(batch, _):
    """JAX rebuilds a schedule with its transformations' values in the leaves (here vmap's axis spec 0 / None):
    validation, meant for what a caller passes, used to refuse them ("step_size must be > 0, got step_size=0")."""
    opt = optim.SGD(lr=batch)
    axes = jax.tree.map(lambda a: 0 if np.ndim(a) else None, opt)
    lrs = jax.vmap(lambda o: o.lr.value((), 4), in_axes=(axes,))(opt)
    leaves, treedef = jax.tree.flatten(batch)
    singles = [treedef.unflatten([np.asarray(x)[k].item() if np.ndim(x) else x for x in leaves])
               for k in range(optim.batch_shape(batch)[0])]
    np.testing.assert_allclose(lrs, [s.value((), 4) for s in singles], rtol=1e-6)


@pytest.mark.parametrize("batch,torch_schedule", BATCHED_FIELDS, ids=lambda c: type(c).__name__)
def test_run_of_a_batch_of_schedules_equals_each_schedule_and_torch(batch, torch_schedule):
    import landscape as ls

    torch = pytest.importorskip("torch")
    steps = 8
    traj = ls.run(ls.problems.bowl(), optim.SGD(lr=batch), steps)
    n = optim.batch_shape(batch)[0]
    assert traj.params["W"].shape == (n, steps + 1)
    leaves, treedef = jax.tree.flatten(batch)
    for k in range(n):
        single = treedef.unflatten([np.asarray(x)[k].item() if np.ndim(x) else x for x in leaves])
        np.testing.assert_allclose(traj.params["W"][k], ls.run(ls.problems.bowl(), optim.SGD(lr=single), steps)
                                   .params["W"], rtol=1e-6)
        w = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([w], lr=0.1)
        scheduler, path = torch_schedule(opt, k), [4.0]
        for _ in range(steps):
            opt.zero_grad()
            (w * w).backward()
            opt.step()
            scheduler.step()
            path.append(w.item())
        np.testing.assert_allclose(traj.params["W"][k], path, rtol=1e-5)


@pytest.mark.parametrize("make, name", [
    (lambda: optim.CosineAnnealingLR(lr=0.1, T_max=2.5), "T_max"),
    (lambda: optim.StepLR(lr=0.1, step_size=np.array([2.0, 1.5]), gamma=0.5), "step_size"),
    (lambda: optim.LinearWarmup(lr=0.1, warmup_steps=3.2), "warmup_steps"),
    (lambda: optim.ReduceLROnPlateau(lr=0.1, cooldown=0.5), "cooldown"),
])
def test_counts_of_steps_must_be_whole_numbers(make, name):
    # counted in int32: 2.5 would silently be 2 (torch's float arithmetic would give another schedule)
    with pytest.raises(ValueError, match=f"{name} must be a whole number of steps, got {name}="):
        make()


def test_whole_floats_and_batches_of_counts_are_accepted():
    optim.CosineAnnealingLR(lr=0.1, T_max=100.0)
    optim.StepLR(lr=0.1, step_size=np.array([1, 2, 3]), gamma=0.5)
