"""Seeds 001 and 003: gradient descent step by step, the learning rate, and a quadratic fitted by SGD.

Writes W² descended with lr 0.3 from W = 4 (seed 001's worked example: 4, 1.6, 0.64, 0.256, …), the same with a
learning rate too small, good, too large (bouncing) and far too large (diverging), and seed 003's quadratic
a·t² + b·t + c fitted to 20 noisy speeds by SGD (lr 1e-5): the fit after some steps, and its loss curve.

    python examples/gradient_descent_basics.py [OUT_DIR] [--quick]
"""

import argparse
from pathlib import Path

import jax
import numpy as np

import landscape as ls


def parabola(ax, prob):
    """The loss curve under the path, across the path's range."""
    r = max(5.0, *np.abs(ax.get_xlim()))
    ws = np.linspace(-r, r, 201)
    ax.plot(ws, jax.vmap(lambda w: prob.loss({"W": w}))(ws), color="grey", linewidth=1, zorder=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="examples/out", help="folder for the figures (default examples/out)")
    parser.add_argument("--quick", action="store_true", help="fewer steps (for tests)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    bowl = ls.problems.bowl()  # L(W) = W², W₀ = 4
    traj = ls.run(bowl, ls.optim.SGD(lr=0.3), 10)
    print("W:", np.round(traj.params["W"][:5], 4))  # 4, 1.6, 0.64, 0.256, 0.1024
    fig, ax = ls.plot.grid_figure(1, size=(6, 4), title="L(W) = W², gradient descent with lr 0.3 from W = 4")
    ls.plot.trajectories(traj, ax=ax[0], colors=["C3"])
    parabola(ax[0], bowl)
    ls.plot.save(fig, out / "bowl.png")

    rates = {"too small (0.02)": 0.02, "good (0.3)": 0.3, "too large: bounces (0.9)": 0.9, "diverges (1.05)": 1.05}
    paths = ls.compare(bowl, [ls.optim.SGD(lr=lr) for lr in rates.values()], 10 if args.quick else 20,
                       labels=list(rates))
    fig, axes = ls.plot.grid_figure(5, cols=5, size=(3.6, 3.2), title="the learning rate on L(W) = W²")
    for ax, (label, path) in zip(axes, paths.items()):
        ls.plot.trajectories(path, ax=ax, colors=["C3"])
        parabola(ax, bowl)
        ax.set_title(label)
    ls.plot.loss_curves(paths, ax=axes[-1])
    ls.plot.save(fig, out / "learning_rates.png")

    fit = ls.problems.quadratic_fit()  # seed 003: speed = 0.5(t − 9.5)² + 1 + noise
    steps = 10 if args.quick else 40
    traj = ls.run(fit, ls.optim.SGD(lr=1e-5), steps)
    (t, speed), p = fit.data, traj.params
    fig, (left, right) = ls.plot.grid_figure(2, size=(5, 3.8), title="a·t² + b·t + c fitted by SGD, lr 1e-5")
    left.scatter(t, speed, color="C0", label="data")
    for k in [0, 1, 2, 4, steps]:
        left.plot(t, p["a"][k] * t**2 + p["b"][k] * t + p["c"][k], alpha=0.3 + 0.7 * k / steps, color="C3",
                  label=f"step {k}" if k in (0, steps) else None)
    left.set(xlabel="time", ylabel="speed", ylim=(-300, 100))
    left.legend()
    ls.plot.loss_curves(traj, ax=right)
    ls.plot.save(fig, out / "quadratic_fit.png")
    print(f"quadratic fit: loss {traj.loss[0]:.1f} → {traj.loss[-1]:.1f} in {steps} steps")


if __name__ == "__main__":
    main()
