"""Seed 000: SGD's parameters on a linear fit, seen on the loss map of each loss function.

For the L2 (MSE), L1, Huber and SmoothL1 losses, the loss over (bias, weight) on the seed's 101 × 101 grid with
the path of SGD (lr 0.1, 100 steps, from weight 6, bias −3); then the same four panels with momentum 0.9,
Nesterov momentum, Nesterov with weight decay, and momentum with dampening 0.8 (figures 4–9 of the article).

    python examples/sgd_parameters.py [OUT_DIR] [--quick]
"""

import argparse
from pathlib import Path

import landscape as ls

LOSSES = {"L2": "mse", "L1": "l1", "Huber": "huber", "SmoothL1": "smooth_l1"}
SETTINGS = {  # figure name: SGD hyperparameters besides lr = 0.1
    "sgd": {},
    "sgd_momentum": {"momentum": 0.9},
    "sgd_nesterov": {"momentum": 0.9, "nesterov": True},
    "sgd_nesterov_weight_decay": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
    "sgd_dampening": {"momentum": 0.9, "dampening": 0.8},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="examples/out", help="folder for the figures (default examples/out)")
    parser.add_argument("--quick", action="store_true", help="a coarse grid (for tests)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n = 41 if args.quick else 101
    problems = {name: ls.problems.seed_regression(loss=loss) for name, loss in LOSSES.items()}
    maps = {name: ls.loss_map(prob, ls.Axis("bias", -5, 8, n), ls.Axis("weight", -5, 8, n))
            for name, prob in problems.items()}
    for figure, hyperparameters in SETTINGS.items():
        optimizer = ls.optim.SGD(lr=0.1, **hyperparameters)
        fig, axes = ls.plot.grid_figure(4, size=(4.2, 3.7), title=ls.optim.describe(optimizer) + ", 100 steps")
        for ax, (name, prob) in zip(axes, problems.items()):
            ls.plot.loss_map(maps[name], ax=ax, title=f"{name} loss")
            ls.plot.trajectories(ls.run(prob, optimizer, 100), ax=ax, colors=["red"])
        ls.plot.save(fig, out / f"{figure}.png")
        print(f"{out / figure}.png")


if __name__ == "__main__":
    main()
