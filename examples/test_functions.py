"""Optimizers on classic test functions: Rosenbrock's valley, Himmelblau's four minima, Rastrigin's trap lattice.

For each function, the paths of SGD, SGD with momentum, RMSprop and Adam over its (log-scaled) contour map, their
loss curves, and Rastrigin's 3-D surface with the paths on it.

    python examples/test_functions.py [OUT_DIR] [--quick]
"""

import argparse
from pathlib import Path

import landscape as ls
from landscape.optim import SGD, Adam, RMSprop

RUNS = {  # problem: (steps, {label: optimizer}, how to draw its map)
    "rosenbrock": (2000, {"SGD 1e-3": SGD(lr=1e-3), "momentum 0.9": SGD(lr=1e-3, momentum=0.9),
                          "RMSprop 0.01": RMSprop(lr=0.01), "Adam 0.05": Adam(lr=0.05)},
                   {"kind": "filled", "log": True}),
    "himmelblau": (200, {"SGD 0.01": SGD(lr=0.01), "momentum 0.9": SGD(lr=0.01, momentum=0.9),
                         "RMSprop 0.05": RMSprop(lr=0.05), "Adam 0.1": Adam(lr=0.1)},
                   {"kind": "filled", "log": True}),
    "rastrigin": (300, {"SGD 0.002": SGD(lr=0.002), "momentum 0.95": SGD(lr=0.005, momentum=0.95),
                        "RMSprop 0.1": RMSprop(lr=0.1), "Adam 0.3": Adam(lr=0.3)},
                  {"kind": "heatmap", "cmap": "viridis"}),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="examples/out", help="folder for the figures (default examples/out)")
    parser.add_argument("--quick", action="store_true", help="coarse maps, short runs (for tests)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n = 60 if args.quick else 300
    maps_fig, maps = ls.plot.grid_figure(3, size=(5, 4.4))
    loss_fig, curves = ls.plot.grid_figure(3, size=(5, 3.6))
    for map_ax, curve_ax, (name, (steps, optimizers, style)) in zip(maps, curves, RUNS.items()):
        prob = ls.problems.get(name)
        steps = steps // 10 if args.quick else steps
        (x, (x0, x1)), (y, (y0, y1)) = prob.bounds.items()  # the problem's default view
        m = ls.loss_map(prob, ls.Axis(x, x0, x1, n), ls.Axis(y, y0, y1, n))
        paths = ls.compare(prob, optimizers.values(), steps, labels=list(optimizers), every=max(1, steps // 100))
        ls.plot.loss_map(m, ax=map_ax, **style, title=f"{name}, {steps} steps")
        ls.plot.trajectories(paths, ax=map_ax, markers=False, legend="lower left")
        ls.plot.loss_curves(paths, ax=curve_ax)
        curve_ax.set_title(name)
        if name == "rastrigin":
            ax = ls.plot.surface(m, trajs=paths, elev=50, azim=-70, cmap="viridis", resolution=60 if args.quick else 120).ax
            ls.plot.save(ax.figure, out / "rastrigin_surface.png")
        print(name + ": " + ", ".join(f"{k} {t.loss[-1]:.3g}" for k, t in paths.items()))
    ls.plot.save(maps_fig, out / "test_functions.png")
    ls.plot.save(loss_fig, out / "test_functions_losses.png")


if __name__ == "__main__":
    main()
