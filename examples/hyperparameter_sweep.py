"""Which settings work? 100 × 100 learning rates × momenta of SGD, and learning rates × β₁ of Adam, in one call each.

On seed 000's regression (MSE, from weight 6, bias −3, 100 steps): heatmaps of the final loss and of the steps to
converge, with diverged settings in grey, the settings that end within the tolerance outlined and the best one (the
fastest of those, ``sw.best()``) starred; and the final loss against the learning rate at a few momenta.

    python examples/hyperparameter_sweep.py [OUT_DIR] [--quick]
"""

import argparse
from pathlib import Path

import numpy as np

import landscape as ls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="examples/out", help="folder for the figures (default examples/out)")
    parser.add_argument("--quick", action="store_true", help="a 12 × 12 sweep (for tests)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n = 12 if args.quick else 100
    prob = ls.problems.seed_regression()
    sweeps = {"sgd": ls.sweep(prob, ls.optim.SGD, 100, lr=np.logspace(-3, 1, n), momentum=np.linspace(0, 0.99, n)),
              "adam": ls.sweep(prob, ls.optim.Adam, 100, lr=np.logspace(-3, 1, n), beta1=np.linspace(0, 0.99, n))}
    for name, sw in sweeps.items():
        best = sw.best()
        print(f"{name}: best {best['setting']}: final loss {best['final_loss']:.5g}, within tol after "
              f"{best['steps_to_tol']} steps ({best['rule']}); {(sw.status == ls.Status.DIVERGED).sum()} of "
              f"{sw.size} settings diverged")
        fig, axes = ls.plot.grid_figure(2, size=(6, 5.4))
        ls.plot.sweep(sw, ax=axes[0])  # final loss: diverged in grey, within tol outlined, the best starred
        ls.plot.sweep(sw, ax=axes[1], metric="steps_to_tol")  # steps until within 1e-3 of the minimum
        ls.plot.save(fig, out / f"sweep_{name}.png")

    sgd = sweeps["sgd"]
    ax = None
    for momentum in sgd.axes["momentum"][[0, n // 2, -n // 10]]:  # 1-D slices: final loss against lr
        ax = ls.plot.sweep(sgd.select(momentum=momentum), ax=ax, mark_best=False, label=f"momentum {momentum:.2f}",
                           title="SGD on seed-regression: final loss after 100 steps").ax
    ls.plot.save(ax.figure, out / "sweep_lr.png")

if __name__ == "__main__":
    main()
