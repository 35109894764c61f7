"""Slicing real networks (Li et al. 2018): a Flax MLP and a small Flax CNN trained on scikit-learn's digits.

Trained with ``ls.run`` (Adam), then: a filter-normalised random plane (training loss, held-out loss and accuracy in
one pass), the path on its PCA plane and the interpolation from initial to trained weights. Needs the ``[nn]`` extra.

    python examples/real_network.py [OUT_DIR] [--quick]
"""

import argparse
from pathlib import Path

import flax.linen as nn
import jax
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import landscape as ls


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(10)(nn.relu(nn.Dense(32)(x)))


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[0], 8, 8, 1)  # NHWC: the layout XLA's CPU convolutions prefer
        x = nn.relu(nn.Conv(16, (3, 3))(nn.relu(nn.Conv(8, (3, 3))(x))))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def digits():  # 8×8 images, pixels in [0, 1]: 1347 training and 450 held-out images
    x, y = load_digits(return_X_y=True)
    return train_test_split((x / 16).astype(np.float32), y, test_size=0.25, random_state=0)


def slice_network(name: str, module: nn.Module, x_train, x_test, y_train, y_test, out: Path, steps: int, num: int):
    params = module.init(jax.random.PRNGKey(0), x_train[:1])["params"]
    prob = ls.Problem.from_model(lambda p, x: module.apply({"params": p}, x), params, x_train, y_train,
                                 "cross_entropy", held_out=(x_test, y_test), name=f"digits {name}")
    traj = ls.run(prob, ls.optim.Adam(lr=3e-3), steps=steps, batch_size=64, every=steps // 20)
    trained = jax.tree_util.tree_map(lambda a: a[-1], traj.params)
    metrics = {"accuracy": ls.losses.accuracy}
    dx, dy = ls.random_directions(trained, jax.random.PRNGKey(1))  # Flax kernels: filters on the last axis
    m = ls.loss_map(prob, ls.Axis(dx, -1, 1, num), ls.Axis(dy, -1, 1, num), center=trained, metrics=metrics)
    print(f"{name}: {len(prob.names)} parameters, trained loss {traj.final_loss:.4f}, held-out accuracy "
          f"{m.metrics['test_accuracy'][num // 2, num // 2]:.3f}")
    fig, axes = ls.plot.grid_figure(3, cols=3, size=(4.6, 3.9), title=f"{name}: a filter-normalised random plane")
    ls.plot.loss_map(m, kind="contour", log=True, ax=axes[0], title="training loss")
    ls.plot.loss_map(m, metric="test_loss", kind="contour", log=True, ax=axes[1], title="held-out loss")
    ls.plot.loss_map(m, metric="test_accuracy", ax=axes[2], title="held-out accuracy")
    ls.plot.save(fig, out / f"{name}_plane.png")
    plane = ls.directions.pca(traj)  # the path's plane (Li et al. Fig. 9); axes labelled with their variance share
    (x_lo, x_hi), (y_lo, y_hi), share = *plane.bounds(margin=0.3), plane.explained_variance
    pm = ls.loss_map(prob, ls.Axis(plane.dx, x_lo, x_hi, num, label=f"1st PC: {share[0]:.0%}"),
                     ls.Axis(plane.dy, y_lo, y_hi, num, label=f"2nd PC: {share[1]:.0%}"), center=plane.origin)
    drawn = ls.plot.loss_map(pm, kind="contour", log=True, title=f"{name}: the training path on its PCA plane")
    ls.plot.plane_path(plane.coords, ax=drawn.ax, label=f"Adam, {steps} steps")
    drawn.ax.legend(loc="best", fontsize="small")
    ls.plot.save(drawn.ax.figure, out / f"{name}_pca.png")
    line = ls.loss_line(prob, ls.Axis(ls.directions.between(params, trained), -0.5, 1.5, 4 * num + 1,
                                      label="initial (0) → trained (1)"), center=params, metrics=metrics)
    drawn = ls.plot.loss_line(line, log=True, title=f"{name}: linear interpolation")
    ls.plot.save(drawn.ax.figure, out / f"{name}_interpolation.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="examples/out", help="folder for the figures (default examples/out)")
    parser.add_argument("--quick", action="store_true", help="fewer steps and points (for tests)")
    (out := Path((args := parser.parse_args(argv)).out)).mkdir(parents=True, exist_ok=True)
    for name, module in (("mlp", MLP()), ("cnn", CNN())):
        slice_network(name, module, *digits(), out, *((30, 7) if args.quick else (400, 41)))


if __name__ == "__main__":
    main()
