"""Seed 004: gradient descent, momentum, RMSprop and Adam on least squares from (9, 2) at lr 0.1.

Writes the contour of √loss with each optimizer's path and its −lr·gradient arrows (first 30 steps, beside
plain GD in white), the four paths together, the 3-D surface with the paths on it, and a GIF of them unfolding.

    python examples/optimizer_comparison.py [OUT_DIR] [--quick]
"""

import argparse
from pathlib import Path

import landscape as ls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="examples/out", help="folder for the figures (default examples/out)")
    parser.add_argument("--quick", action="store_true", help="a coarse map and a short GIF (for tests)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    prob = ls.problems.ols()  # y = −2 + 2x + noise, MSE in (intercept, slope)
    n = 80 if args.quick else 400  # seed 004 maps [−10, 10)² in steps of 0.05: 400 × 400 points
    m = ls.loss_map(prob, ls.Axis("intercept", -10, 10, n), ls.Axis("slope", -10, 10, n))
    optimizers = {"GD": ls.optim.SGD(lr=0.1), "GD + momentum 0.2": ls.optim.SGD(lr=0.1, momentum=0.2),
                  "RMSprop": ls.optim.RMSprop(lr=0.1), "Adam": ls.optim.Adam(lr=0.1)}
    # seed 004's init = (9, 2) sets the torch layer's (weight, bias): slope 9, intercept 2
    start = {"intercept": 2.0, "slope": 9.0}
    paths = ls.compare(prob, optimizers.values(), 100, labels=list(optimizers), init=start, record_grads=True)

    fig, axes = ls.plot.grid_figure(4, cols=2, size=(5.6, 4.6), title="first 30 steps; arrows: −0.03·∇loss")
    for ax, label in zip(axes, paths):  # seed 004's figures: each optimizer (blue) beside plain GD (white)
        ls.plot.loss_map(m, ax=ax, kind="filled", sqrt=True, title=label if label == "GD" else f"{label} and GD")
        if label != "GD":
            ls.plot.trajectories({"GD": paths["GD"]}, ax=ax, until=30, colors=["white"], legend=False)
        ls.plot.trajectories({label: paths[label]}, ax=ax, arrows=True, arrow_scale=0.03, until=30, every=1 if "GD" in label else 3,
                             colors=["white" if label == "GD" else "C0"], legend="lower left")
    ls.plot.save(fig, out / "optimizers_arrows.png")

    colors = ["white", "C0", "C2", "C3"]
    ax = ls.plot.loss_map(m, kind="filled", sqrt=True, title="four optimizers, lr 0.1, 100 steps").ax
    ls.plot.trajectories(paths, ax=ax, colors=colors, legend="lower left")
    ls.plot.save(ax.figure, out / "optimizers_contour.png")

    ax = ls.plot.surface(m, trajs=paths, elev=60, azim=35, colors=["black", *colors[1:]]).ax
    ls.plot.save(ax.figure, out / "optimizers_surface.png")

    gif = ls.plot.animate(m, paths, out / "optimizers.gif", sqrt=True, colors=colors, legend="lower left",
                          max_frames=15 if args.quick else 60)
    print(f"{out}: optimizers_arrows.png, optimizers_contour.png, optimizers_surface.png, {gif.path.name} "
          f"({gif.frames} frames)")
    for label, traj in paths.items():
        print(f"  {label}: loss {traj.loss[0]:.4g} → {traj.loss[-1]:.4g} after {traj.steps[-1]} steps")


if __name__ == "__main__":
    main()
