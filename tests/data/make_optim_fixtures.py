"""Case definitions and torch reference data for tests/test_optim.py and tests/test_schedules.py.

The tests import this module: with torch installed they compare against live torch runs of the
cases below; without it, against ``optim_torch.npz`` written by running this script (torch 2.13):

    python tests/data/make_optim_fixtures.py
"""

import functools
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).with_name("optim_torch.npz")

# ----------------------------------------------------------------------------- problems


def regression_problem():
    """Seed 000: 50 points, y = 0.75x² + x + 2 + noise; model weight·x + bias; MSE, full batch."""
    np.random.seed(20240215)
    n = 50
    x = np.array(np.random.randn(n), dtype=np.float32)
    y = np.array(0.75 * x**2 + 1.0 * x + 2.0 + 0.3 * np.random.randn(n), dtype=np.float32)
    return {"weight": np.float32(6.0), "bias": np.float32(-3.0)}, (x, y)


def regression_loss(p, data, xp):
    x, y = data
    return xp.mean((p["weight"] * x + p["bias"] - y) ** 2)


def net_problem():
    """A 2-3-1 tanh net on 16 fixed random points; MSE, full batch."""
    rng = np.random.RandomState(7)
    X = rng.randn(16, 2).astype(np.float32)
    Y = (np.sin(2 * X[:, :1]) + 0.5 * X[:, 1:] ** 2).astype(np.float32)
    params = {"W1": 0.8 * rng.randn(3, 2), "b1": 0.3 * rng.randn(3),
              "W2": 0.8 * rng.randn(1, 3), "b2": 0.3 * rng.randn(1)}
    return {k: v.astype(np.float32) for k, v in params.items()}, (X, Y)


def net_loss(p, data, xp):
    X, Y = data
    h = xp.tanh(X @ p["W1"].T + p["b1"])
    return xp.mean((h @ p["W2"].T + p["b2"] - Y) ** 2)


PROBLEMS = {"regression": (regression_problem, regression_loss), "net": (net_problem, net_loss)}

# (problem, steps, dtype) of the reference runs of CASES; SCHEDULED_CASES run on the first only
RUNS = [("regression", 200, "float32"), ("net", 20, "float32"), ("regression", 20, "float64")]

# ----------------------------------------------------------------------------- cases

# (id, torch.optim class, kwargs, schedule); a schedule is None, (name, kwargs) or, for LinearWarmup,
# (name, kwargs, inner schedule or None). Every option is exercised (booleans both ways, weight decay on
# and off, several lrs, eps and betas large enough to matter); settings are kept where float32 rounding is
# not amplified past 1e-4 over the run (e.g. centered RMSprop with alpha = 0.8 on "regression" is not: there
# torch's own float32 run drifts 2e-4 from its float64 run).
CASES = [
    ("sgd-default", "SGD", {}, None),
    ("sgd", "SGD", dict(lr=0.1), None),
    ("sgd-momentum", "SGD", dict(lr=0.05, momentum=0.9), None),
    ("sgd-nesterov", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True), None),
    ("sgd-dampening-wd", "SGD", dict(lr=0.03, momentum=0.6, dampening=0.3, weight_decay=0.1), None),
    ("sgd-nesterov-wd", "SGD", dict(lr=0.02, momentum=0.95, nesterov=True, weight_decay=0.05), None),
    ("sgd-maximize", "SGD", dict(lr=0.002, momentum=0.5, weight_decay=0.5, maximize=True), None),
    ("adam-default", "Adam", {}, None),
    ("adam", "Adam", dict(lr=0.1), None),
    ("adam-amsgrad", "Adam", dict(lr=0.2, amsgrad=True), None),
    ("adam-betas-eps", "Adam", dict(lr=0.05, betas=(0.3, 0.8), eps=0.1), None),
    ("adam-wd", "Adam", dict(lr=0.05, weight_decay=0.2), None),
    ("adam-decoupled", "Adam", dict(lr=0.05, weight_decay=0.2, decoupled_weight_decay=True, amsgrad=True), None),
    ("adam-maximize", "Adam", dict(lr=0.01, weight_decay=0.1, maximize=True), None),
    ("adamw-default", "AdamW", {}, None),
    ("adamw", "AdamW", dict(lr=0.1, weight_decay=0.1), None),
    ("adamw-amsgrad", "AdamW", dict(lr=0.05, betas=(0.85, 0.95), eps=1e-3, amsgrad=True), None),
    ("adamw-maximize", "AdamW", dict(lr=0.01, weight_decay=0.5, maximize=True), None),
    ("nadam-default", "NAdam", {}, None),
    ("nadam", "NAdam", dict(lr=0.05), None),
    ("nadam-psi-betas-eps", "NAdam", dict(lr=0.05, momentum_decay=0.1, betas=(0.4, 0.9), eps=1e-2), None),
    ("nadam-wd", "NAdam", dict(lr=0.05, weight_decay=0.1), None),
    ("nadam-decoupled", "NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("nadam-maximize", "NAdam", dict(lr=0.01, maximize=True), None),
    ("radam-default", "RAdam", {}, None),
    ("radam", "RAdam", dict(lr=0.1), None),
    ("radam-betas-eps", "RAdam", dict(lr=0.05, betas=(0.5, 0.9), eps=0.1), None),
    ("radam-wd", "RAdam", dict(lr=0.05, weight_decay=0.1), None),
    ("radam-decoupled", "RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("radam-maximize", "RAdam", dict(lr=0.01, betas=(0.9, 0.95), maximize=True), None),
    ("adamax-default", "Adamax", {}, None),
    ("adamax", "Adamax", dict(lr=0.1), None),
    ("adamax-betas-eps", "Adamax", dict(lr=0.05, betas=(0.3, 0.5), eps=0.5), None),
    ("adamax-wd", "Adamax", dict(lr=0.05, weight_decay=0.1), None),
    ("adamax-maximize", "Adamax", dict(lr=0.01, maximize=True), None),
    ("rmsprop-default", "RMSprop", {}, None),
    ("rmsprop-alpha", "RMSprop", dict(lr=0.01, alpha=0.9), None),
    ("rmsprop-centered", "RMSprop", dict(lr=0.01, centered=True), None),
    ("rmsprop-momentum", "RMSprop", dict(lr=0.005, momentum=0.9), None),
    ("rmsprop-all", "RMSprop",
     dict(lr=0.005, alpha=0.95, eps=1e-2, momentum=0.5, centered=True, weight_decay=0.1), None),
    ("rmsprop-maximize", "RMSprop", dict(lr=0.002, maximize=True), None),
    ("adagrad-default", "Adagrad", {}, None),
    ("adagrad", "Adagrad", dict(lr=0.3), None),
    ("adagrad-lr-decay", "Adagrad", dict(lr=0.5, lr_decay=0.05), None),
    ("adagrad-init-eps", "Adagrad", dict(lr=0.3, initial_accumulator_value=2.0, eps=0.5), None),
    ("adagrad-wd", "Adagrad", dict(lr=0.3, weight_decay=0.1), None),
    ("adagrad-maximize", "Adagrad", dict(lr=0.05, maximize=True), None),
    ("adadelta-default", "Adadelta", {}, None),
    ("adadelta-rho-eps", "Adadelta", dict(lr=0.5, rho=0.5, eps=1e-3), None),
    ("adadelta-wd", "Adadelta", dict(rho=0.95, weight_decay=0.1), None),
    ("adadelta-maximize", "Adadelta", dict(lr=0.2, maximize=True), None),
]

SCHEDULED_CASES = [
    ("sgd+step", "SGD", dict(lr=0.1, momentum=0.5), ("StepLR", dict(step_size=15, gamma=0.5))),
    ("sgd+exp", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True), ("ExponentialLR", dict(gamma=0.98))),
    ("adam+cosine", "Adam", dict(lr=0.3), ("CosineAnnealingLR", dict(T_max=60, eta_min=0.01))),
    ("adamw+warmup-cosine", "AdamW", dict(lr=0.2),
     ("LinearWarmup", dict(warmup_steps=10, start_factor=0.1), ("CosineAnnealingLR", dict(T_max=100)))),
    ("rmsprop+warmup", "RMSprop", dict(lr=0.05), ("LinearWarmup", dict(warmup_steps=15, start_factor=0.2), None)),
    ("sgd+plateau", "SGD", dict(lr=0.1), ("ReduceLROnPlateau", dict(patience=2, threshold=0.01, factor=0.5))),
    ("adam+plateau", "Adam", dict(lr=0.5),
     ("ReduceLROnPlateau", dict(patience=3, threshold=1e-3, threshold_mode="abs", cooldown=2, min_lr=0.01))),
]


def plateau_losses(n=90, seed=0):
    """A loss sequence with plateaus, slow drifts and jumps, in float32 (both sides see the same values)."""
    rng = np.random.RandomState(seed)
    level, out = 10.0, []
    while len(out) < n:
        kind, length = rng.randint(3), rng.randint(2, 12)
        drift = {0: 1.0, 1: 0.9995, 2: 0.9}[kind]  # flat, creeping (below a 1e-3 threshold), falling
        for _ in range(length):
            level *= drift
            out.append(level * (1 + 1e-5 * rng.randn()))
        level *= rng.choice([1.0, 1.3])  # occasional jump up
    return np.array(out[:n], dtype=np.float32)


# (id, lr, schedule, losses or None, epochs)
SCHEDULE_CASES = [
    ("step", 0.1, ("StepLR", dict(step_size=7, gamma=0.5)), None, 40),
    ("exponential", 0.1, ("ExponentialLR", dict(gamma=0.95)), None, 60),
    ("cosine", 0.1, ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)), None, 65),
    ("cosine-zero-min", 1.0, ("CosineAnnealingLR", dict(T_max=25)), None, 120),
    ("warmup", 0.1, ("LinearWarmup", dict(warmup_steps=5, start_factor=0.25), None), None, 20),
    ("warmup-cosine", 0.1,
     ("LinearWarmup", dict(warmup_steps=10, start_factor=0.1), ("CosineAnnealingLR", dict(T_max=20, eta_min=0.01))),
     None, 70),
    ("warmup-step", 0.2, ("LinearWarmup", dict(warmup_steps=3), ("StepLR", dict(step_size=4, gamma=0.5))), None, 25),
    ("warmup-exponential", 0.2,
     ("LinearWarmup", dict(warmup_steps=4, start_factor=0.5), ("ExponentialLR", dict(gamma=0.9))), None, 25),
    ("plateau-min-rel", 0.1, ("ReduceLROnPlateau", dict(patience=3)), plateau_losses(seed=1), 90),
    ("plateau-min-abs-cooldown", 0.1,
     ("ReduceLROnPlateau", dict(threshold_mode="abs", threshold=0.05, patience=2, cooldown=3)),
     plateau_losses(seed=2), 90),
    ("plateau-max-rel-min-lr", 0.1,
     ("ReduceLROnPlateau", dict(mode="max", factor=0.5, patience=1, threshold=1e-3, min_lr=0.02)),
     -plateau_losses(seed=3), 90),
    ("plateau-max-abs-eps", 0.1,
     ("ReduceLROnPlateau", dict(mode="max", threshold_mode="abs", threshold=0.01, patience=0, factor=0.3,
                                cooldown=1, eps=1e-3)),
     1 / plateau_losses(seed=4), 90),
    ("plateau-default", 0.1, ("ReduceLROnPlateau", {}), plateau_losses(seed=5), 90),
]

# ----------------------------------------------------------------------------- landscape side


def landscape_schedule(lr, spec):
    """The landscape.optim schedule (or plain lr) for a schedule spec."""
    from landscape import optim

    if spec is None:
        return lr
    if spec[0] == "LinearWarmup":
        return optim.LinearWarmup(landscape_schedule(lr, spec[2]), **spec[1])
    return getattr(optim, spec[0])(lr, **spec[1])


def landscape_optimizer(case):
    """The landscape.optim optimizer of a case."""
    from landscape import optim

    _, cls, kwargs, spec = case
    opt = getattr(optim, cls)(**kwargs)
    return opt._replace(lr=landscape_schedule(opt.lr, spec))


# ----------------------------------------------------------------------------- torch side


def torch_scheduler(opt, spec):
    """The torch scheduler for a schedule spec (None for a constant lr)."""
    from torch.optim import lr_scheduler

    if spec is None:
        return None
    name, kwargs = spec[:2]
    if name == "LinearWarmup":
        w, s = kwargs["warmup_steps"], kwargs.get("start_factor", 1 / 3)
        warmup = lr_scheduler.LinearLR(opt, start_factor=s, total_iters=w)
        if spec[2] is None:
            return warmup
        return lr_scheduler.SequentialLR(opt, [warmup, torch_scheduler(opt, spec[2])], milestones=[w])
    return getattr(lr_scheduler, name)(opt, **kwargs)


def torch_trajectory(case, problem, steps, dtype):
    """Rows t = 0..steps of [loss(θ_t), θ_t flattened (parameters in sorted-name order)], from torch."""
    import torch

    _, cls, kwargs, spec = case
    make, loss_fn = PROBLEMS[problem]
    tdtype = getattr(torch, dtype)
    p0, data = make()
    params = {k: torch.tensor(p0[k], dtype=tdtype, requires_grad=True) for k in sorted(p0)}
    data = tuple(torch.tensor(d, dtype=tdtype) for d in data)
    opt = getattr(torch.optim, cls)(params.values(), **kwargs, foreach=False)
    sched = torch_scheduler(opt, spec)
    rows = []
    for _ in range(steps + 1):
        opt.zero_grad()
        loss = loss_fn(params, data, torch)
        rows.append(torch.cat([loss.detach().reshape(1), *(v.detach().reshape(-1) for v in params.values())]))
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(loss.item()) if spec[0] == "ReduceLROnPlateau" else sched.step()
    return torch.stack(rows).numpy()


def torch_lrs(case):
    """The lr torch uses at each epoch of a schedule case."""
    import torch

    _, lr, spec, losses, epochs = case
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = torch_scheduler(opt, spec)
    out = []
    for e in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(float(losses[e])) if losses is not None else sched.step()
    return np.array(out)


BY_ID = {case[0]: case for case in CASES + SCHEDULED_CASES}

NAMES = ([f"{case[0]}.{problem}.{dtype}" for case in CASES for problem, _, dtype in RUNS]
         + [f"{case[0]}.{RUNS[0][0]}.{RUNS[0][2]}" for case in SCHEDULED_CASES]
         + [f"schedule.{case[0]}" for case in SCHEDULE_CASES])


@functools.lru_cache(maxsize=None)
def live(name):
    """Reference array ``name`` (one of ``NAMES``) computed by torch now."""
    if name.startswith("schedule."):
        return torch_lrs(next(c for c in SCHEDULE_CASES if f"schedule.{c[0]}" == name))
    case_id, problem, dtype = name.split(".")
    steps = next(s for p, s, d in RUNS if (p, d) == (problem, dtype))
    return torch_trajectory(BY_ID[case_id], problem, steps, dtype)


def torch_or_none():
    """The torch module if it imports, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


@functools.lru_cache(maxsize=None)
def fixture():
    """The committed reference arrays, by name."""
    with np.load(FIXTURE, allow_pickle=False) as f:
        return dict(f)


def reference(name):
    """Reference array ``name``: from live torch when it imports, else from the committed fixture."""
    return live(name) if torch_or_none() is not None else fixture()[name]


if __name__ == "__main__":
    np.savez_compressed(FIXTURE, **{name: live(name) for name in NAMES})
    print(f"wrote {FIXTURE}")
