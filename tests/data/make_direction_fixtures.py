"""Torch oracle for loss slices along Li et al. directions: the shared case, and the script writing
``directions_torch.npz``.

``tests/test_directions.py`` imports ``make_case``, ``li_direction``, ``torch_map`` and ``torch_line`` from this
file: with torch installed it compares ``landscape`` against torch live, otherwise against the fixture this
script writes. Regenerate with

    python tests/data/make_direction_fixtures.py

The case (all from a NumPy Generator, float32): a 8→6→3 tanh MLP in Flax layout (``kernel`` ``(in, out)``,
``x @ kernel + bias``) on 40 samples with 3 classes; two directions filter-normalised as Li et al. (2018) do
(``li_direction``, biases zeroed: ``ignore="biasbn"``); a 5×4 grid of offsets; a second point ``b`` and 9 offsets
``t`` for the line ``(1 − t)·a + t·b``.

Keys: ``x``, ``y``, ``theta/<leaf>``, ``dx/<leaf>``, ``dy/<leaf>``, ``b/<leaf>``, ``xs``, ``ys``, ``ts`` (the
inputs, to detect drift) and ``map`` ``(len(ys), len(xs))`` and ``line`` ``(len(ts),)``: torch's
``F.cross_entropy`` of ``nn.Linear`` layers (``weight = kernel.T``) set under ``no_grad`` at every point, in
float64.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from make_loss_fixtures import write_npz  # byte-reproducible npz (fixed zip timestamps)

FIXTURE = Path(__file__).with_name("directions_torch.npz")
LAYERS = ("Dense_0", "Dense_1")
GRID = {"xs": (-1.0, 1.0, 5), "ys": (-0.75, 0.75, 4), "ts": (-0.5, 1.5, 9)}  # (lo, hi, num): ls.Axis's arguments


def li_direction(d, w, axis, normalization="filter", ignore="biasbn"):
    """One leaf of a direction as Li et al.'s ``net_plotter.normalize_directions_for_weights`` makes it, in
    float64 NumPy: for a bias / normalisation leaf (``axis`` None), zeros (``ignore == "biasbn"``) or a copy of
    the weights; otherwise ``"filter"``: each filter ``i`` (index ``i`` along ``axis``) scaled by
    ``‖w_i‖ / (‖d_i‖ + 1e-10)``, ``"layer"``: the whole leaf by ``‖w‖ / ‖d‖``."""
    d, w = np.array(d, np.float64), np.asarray(w, np.float64)
    if axis is None:
        return np.zeros_like(d) if ignore == "biasbn" else w.copy()
    if normalization == "filter":
        d_f, w_f = np.moveaxis(d, axis, 0), np.moveaxis(w, axis, 0)  # views: d_f[i] is filter i of d
        for i in range(d_f.shape[0]):
            d_f[i] *= np.linalg.norm(w_f[i]) / (np.linalg.norm(d_f[i]) + 1e-10)
    elif normalization == "layer":
        d *= np.linalg.norm(w) / np.linalg.norm(d)
    return d


def make_case() -> dict:
    rng = np.random.default_rng(2018)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    sizes = ((8, 6), (6, 3))
    theta = {name: {"kernel": f32(rng.standard_normal(s) / np.sqrt(s[0])), "bias": f32(0.1 * rng.standard_normal(s[1]))}
             for name, s in zip(LAYERS, sizes)}

    def direction():
        # Flax layout: a kernel's filters (output units) are its last axis; biases are zeroed (ignore="biasbn").
        return {name: {"kernel": f32(li_direction(rng.standard_normal(layer["kernel"].shape), layer["kernel"], -1)),
                       "bias": f32(li_direction(rng.standard_normal(layer["bias"].shape), layer["bias"], None))}
                for name, layer in theta.items()}

    dx, dy = direction(), direction()
    b = {name: {k: f32(v + 0.5 * rng.standard_normal(v.shape)) for k, v in layer.items()}
         for name, layer in theta.items()}
    x = f32(rng.standard_normal((40, 8)))
    y = rng.integers(0, 3, 40).astype(np.int64)
    grid = {k: np.linspace(*v) for k, v in GRID.items()}
    return {"x": x, "y": y, "theta": theta, "dx": dx, "dy": dy, "b": b, **grid}


def _torch_net(case):
    import torch

    (n_in, n_hidden), (_, n_out) = (case["theta"][name]["kernel"].shape for name in LAYERS)
    net = torch.nn.Sequential(torch.nn.Linear(n_in, n_hidden), torch.nn.Tanh(), torch.nn.Linear(n_hidden, n_out))
    return net.double(), [net[0], net[2]]


def _torch_losses(case, points):
    """``F.cross_entropy`` of the torch net at each parameter point (Flax-layout dicts), in float64."""
    import torch
    import torch.nn.functional as F

    net, linears = _torch_net(case)
    x, y = torch.tensor(case["x"], dtype=torch.float64), torch.tensor(case["y"])
    out = []
    with torch.no_grad():
        for point in points:
            for linear, name in zip(linears, LAYERS):
                linear.weight.copy_(torch.tensor(point[name]["kernel"].T))  # torch layout (out, in)
                linear.bias.copy_(torch.tensor(point[name]["bias"]))
            out.append(F.cross_entropy(net(x), y).item())
    return np.array(out)


def combine(coefficients, trees):
    """``Σ c·tree`` leaf by leaf (float64)."""
    return {name: {k: sum(c * np.asarray(t[name][k], np.float64) for c, t in zip(coefficients, trees))
                   for k in ("kernel", "bias")} for name in LAYERS}


def torch_map(case) -> np.ndarray:
    """The loss at ``theta + a·dx + b·dy`` for ``b`` in ``ys`` (rows), ``a`` in ``xs`` (columns)."""
    points = [combine((1.0, a, b), (case["theta"], case["dx"], case["dy"])) for b in case["ys"] for a in case["xs"]]
    return _torch_losses(case, points).reshape(len(case["ys"]), len(case["xs"]))


def torch_line(case) -> np.ndarray:
    """The loss at ``(1 − t)·theta + t·b`` for ``t`` in ``ts``."""
    return _torch_losses(case, [combine((1.0 - t, t), (case["theta"], case["b"])) for t in case["ts"]])


def flat_inputs(case) -> dict[str, np.ndarray]:
    """The case's arrays under the fixture's keys."""
    out = {k: case[k] for k in ("x", "y", "xs", "ys", "ts")}
    for tree in ("theta", "dx", "dy", "b"):
        out.update({f"{tree}/{name}.{k}": v for name, layer in case[tree].items() for k, v in layer.items()})
    return out


def main() -> None:
    case = make_case()
    arrays = {**flat_inputs(case), "map": torch_map(case), "line": torch_line(case)}
    write_npz(FIXTURE, arrays)
    print(f"wrote {len(arrays)} arrays to {FIXTURE}")


if __name__ == "__main__":
    main()
