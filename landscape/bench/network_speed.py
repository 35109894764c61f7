"""Loss maps of real networks (the suite's ``networks``): ``landscape.loss_map`` of MLPs and a small CNN on
scikit-learn's digits, and of a ResNet-20 on synthetic 32×32×3 images, against the reference code's PyTorch
per-point loop and ``loss_landscapes.random_plane``; and training the CNN with ``landscape.run`` against a torch loop.

    python -m landscape.bench.network_speed            # 31², 21², 11², 11², 5² maps; strategy sweep; training: ~11 min
    python -m landscape.bench.network_speed --quick    # smaller maps, ~1 min
    python -m landscape.bench.network_speed --models mlp-1m cnn --json /tmp/networks.json

Data: ``sklearn.datasets.load_digits`` (X/16, float32), the training part of ``train_test_split(test_size=0.25,
random_state=0)``: 1347 samples of 64 features, 10 classes (without scikit-learn, a synthetic set of that shape).
Models, plain JAX with parameters a dict of arrays (``x @ W + b``, ``W`` shaped (in, out)): MLPs 64→50→10,
64→256→256→10 and 64→1000→1000→10, and a CNN on the 8×8 images (NHWC; 3×3 'SAME' convolutions 1→16 and 16→32
with ReLU, flatten, dense → 10); a ResNet-20 (0.27M parameters, no BatchNorm) on 256 synthetic 32×32×3 images per
point on CPU, 2048 on an accelerator, where its target is ≥ 30 % of the same-run SGEMM. Loss: cross entropy on the
whole training set; plane: two filter-normalised random directions (``landscape.random_directions``) over [-1, 1]².

Measured per model, in this process, after a same-run SGEMM (:func:`landscape.bench.common.sgemm_roofline`):

- ``loss_map`` with its default strategy (:func:`landscape.maps.choose_strategy`) and, unless ``--no-sweep``, the
  alternatives (``vmap``; ``loop`` with blocks 1, 4, 16, 64): compile time (first call minus the best steady-state
  call), steady-state time (best of ``--repeats`` ≥ 3 calls; an alternative stops repeating after 5 s of timed
  calls), points/s, forward GFLOP/s and its fraction of the SGEMM rate (the faster of two SGEMMs, at the start and
  at the end);
- the reference code's PyTorch loop (same weights and directions in the equivalent torch layout; per point: set
  θ0 + a·dx + b·dy, loss of the whole training set under ``no_grad``, ``.item()``), checked against the map;
- ``loss_landscapes.random_plane`` with the same steps (its own directions: only its time is compared);
- training (unless ``--no-training``): ``ls.run`` of the CNN (Adam, lr 1e-3, batches of 64 in the order of fixed
  shuffles, 10 epochs, 3 with ``--quick``) against the same training as a torch loop (the shuffles replayed), their
  full-data losses at every epoch checked against each other. ``ls.run`` also evaluates the full-data loss after
  every step (its best loss, divergence and steps to a tolerance are tracked on it), which the torch loop does not.

FLOPs per point (forward only): 2·N·Σ in·out for the dense layers + 2·N·H'·W'·Cin·Cout·k² per k×k convolution
(H', W': its output's side); bias, activations and the loss are not counted. ratio = loss_map's points/s ÷ the row's (> 1: loss_map faster).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import landscape as ls
from landscape.bench.common import (add_common_arguments, environment, finish_warnings, max_rel_err, peak_fields,
                                    peer, print_notes_and_targets, print_table, save_result, set_cpu_devices,
                                    sgemm_roofline, skipped_row, start_run, timed, torch_peer)

TOLERANCE = 1e-3  # max relative difference allowed between the torch loop's map and loss_map's
N_TRAIN = 1347  # digits' training part (1797 × 0.75, rounded up by train_test_split)
SWEEP = (("vmap", None), ("loop", 1), ("loop", 4), ("loop", 16), ("loop", 64))
SWEEP_MAX_S = 5.0  # an alternative stops repeating once its timed calls took this long (slow ones: fewer than 3)
FLOP_COUNT = ("forward flops per point = 2·N·Σ(in·out) over the dense layers + 2·N·H'·W'·Cin·Cout·k² per k×k "
              "convolution (H', W': its output's side), N = training samples; bias, activations and the loss are not "
              "counted")


# ---------------------------------------------------------------------------------------------------------------
# Data and models


def digits() -> tuple[np.ndarray, np.ndarray, str]:
    """``(X float32 (1347, 64) in [0, 1], y int32, source)``: digits' training split, else a synthetic stand-in."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        rng = np.random.default_rng(0)
        X = rng.random((N_TRAIN, 64), dtype=np.float32)
        y = rng.integers(0, 10, N_TRAIN).astype(np.int32)
        return X, y, "synthetic (scikit-learn not installed): NumPy Generator(0), 1347×64 uniform, 10 classes"
    X, y = load_digits(return_X_y=True)
    Xtr, _, ytr, _ = train_test_split((X / 16).astype(np.float32), y, test_size=0.25, random_state=0)
    return Xtr, ytr.astype(np.int32), "sklearn.datasets.load_digits, X/16, train_test_split(0.25, random_state=0)"


def mlp(params, x):
    n = len(params) // 2
    for i in range(n):
        x = x @ params[f"w{i}"] + params[f"b{i}"]
        if i < n - 1:
            x = jax.nn.relu(x)
    return x


def mlp_params(sizes, key) -> dict:
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, sub = jax.random.split(key)
        params[f"w{i}"] = jax.random.normal(sub, (fan_in, fan_out), jnp.float32) * np.sqrt(2.0 / fan_in)
        params[f"b{i}"] = jnp.full((fan_out,), 0.01, jnp.float32)
    return params


_CONV = ("NHWC", "HWIO", "NHWC")


def cnn(params, x):
    """``x``: (N, 8, 8, 1) NHWC."""
    for i in (1, 2):
        x = jax.lax.conv_general_dilated(x, params[f"conv{i}"], (1, 1), "SAME", dimension_numbers=_CONV)
        x = jax.nn.relu(x + params[f"conv{i}_b"])
    return x.reshape(x.shape[0], -1) @ params["w"] + params["b"]


def cnn_params(key) -> dict:
    k1, k2, k3 = jax.random.split(key, 3)
    return {"conv1": jax.random.normal(k1, (3, 3, 1, 16), jnp.float32) * np.sqrt(2.0 / 9),
            "conv1_b": jnp.full((16,), 0.01, jnp.float32),
            "conv2": jax.random.normal(k2, (3, 3, 16, 32), jnp.float32) * np.sqrt(2.0 / 144),
            "conv2_b": jnp.full((32,), 0.01, jnp.float32),
            "w": jax.random.normal(k3, (8 * 8 * 32, 10), jnp.float32) * np.sqrt(2.0 / 2048),
            "b": jnp.full((10,), 0.01, jnp.float32)}


# A ResNet-20 for 32×32×3 images (He et al. 2016, CIFAR): a 3×3 stem to 16 channels, three stages of three basic
# blocks (two 3×3 convolutions and the identity, or a strided 1×1 projection where the shape changes) of 16, 32 and
# 64 channels, global average pooling, dense → 10; no biases or BatchNorm (a slice holds them fixed anyway).
RESNET_STAGES = ((16, 1), (32, 2), (64, 2))
RESNET_BLOCKS = 3
RESNET_SAMPLES = {"cpu": 256, "default": 2048}  # synthetic images per point (2048 on an accelerator)


def _conv(x, kernel, stride: int):
    pad = (kernel.shape[0] - 1) // 2  # explicit, as torch's padding=k//2 (SAME pads stride-2 layers unevenly)
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), ((pad, pad), (pad, pad)),
                                        dimension_numbers=_CONV)


def resnet_layers():
    """``[(name, kernel size, in, out, stride, input side)]`` of every convolution, in execution order."""
    layers, side, cin = [("stem", 3, 3, 16, 1, 32)], 32, 16
    for s, (cout, stride) in enumerate(RESNET_STAGES):
        for b in range(RESNET_BLOCKS):
            st = stride if b == 0 else 1
            layers.append((f"s{s}b{b}c1", 3, cin, cout, st, side))
            layers.append((f"s{s}b{b}c2", 3, cout, cout, 1, side // st))
            if st != 1 or cin != cout:
                layers.append((f"s{s}b{b}proj", 1, cin, cout, st, side))
            side, cin = side // st, cout
    return layers


def resnet(params, x):
    """``x``: (N, 32, 32, 3) NHWC."""
    h = jax.nn.relu(_conv(x, params["stem"], 1))
    for s, (cout, stride) in enumerate(RESNET_STAGES):
        for b in range(RESNET_BLOCKS):
            st = stride if b == 0 else 1
            y = _conv(jax.nn.relu(_conv(h, params[f"s{s}b{b}c1"], st)), params[f"s{s}b{b}c2"], 1)
            shortcut = _conv(h, params[f"s{s}b{b}proj"], st) if f"s{s}b{b}proj" in params else h
            h = jax.nn.relu(y + shortcut)
    return jnp.mean(h, axis=(1, 2)) @ params["w"] + params["b"]


def resnet_params(key) -> dict:
    params = {}
    for name, k, cin, cout, _, _ in resnet_layers():
        key, sub = jax.random.split(key)
        scale = np.sqrt(2.0 / (k * k * cin)) * (0.1 if name.endswith("c2") else 1.0)  # (no BatchNorm: keep the
        params[name] = jax.random.normal(sub, (k, k, cin, cout), jnp.float32) * scale  # residual sums near 1)
    params["w"] = jax.random.normal(key, (64, 10), jnp.float32) * np.sqrt(1.0 / 64)
    params["b"] = jnp.full((10,), 0.01, jnp.float32)
    return params


def resnet_flops() -> int:
    """Forward flops per image: 2·(H/s)·(W/s)·k²·Cin·Cout per convolution + the dense layer."""
    return sum(2 * (side // st) ** 2 * k * k * cin * cout for _, k, cin, cout, st, side in resnet_layers()) + 2 * 640


# name → (description, MLP sizes or the kind of network, grid size, --quick grid size)
MODELS = {
    "mlp-3.8k": ("MLP 64→50→10", (64, 50, 10), 31, 15),
    "mlp-85k": ("MLP 64→256→256→10", (64, 256, 256, 10), 21, 9),
    "mlp-1m": ("MLP 64→1000→1000→10", (64, 1000, 1000, 10), 11, 5),
    "cnn": ("CNN 8×8: conv3×3 1→16, conv3×3 16→32, dense 2048→10", "cnn", 11, 7),
    "resnet": ("ResNet-20 on synthetic 32×32×3 images (0.27M params)", "resnet", 5, 2),
}


def build(name: str, X: np.ndarray, y: np.ndarray):
    """``(model, params, inputs, labels, forward flops per sample)`` of model ``name``."""
    _, sizes, _, _ = MODELS[name]
    key = jax.random.PRNGKey(0)
    if sizes == "cnn":
        flops = 2 * (8 * 8 * 1 * 16 * 9 + 8 * 8 * 16 * 32 * 9 + 2048 * 10)
        return cnn, cnn_params(key), X.reshape(-1, 8, 8, 1), y, flops
    if sizes == "resnet":
        n = RESNET_SAMPLES.get(jax.default_backend(), RESNET_SAMPLES["default"])
        rng = np.random.default_rng(0)
        images = rng.standard_normal((n, 32, 32, 3), dtype=np.float32)
        return resnet, resnet_params(key), images, rng.integers(0, 10, n).astype(np.int32), resnet_flops()
    return mlp, mlp_params(sizes, key), X, y, 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


# ---------------------------------------------------------------------------------------------------------------
# The torch side: the same weights in torch's layout


def torch_model(torch, name: str, params: dict):
    """An ``nn.Module`` computing the same function as the JAX model with ``params`` (copied)."""
    nn = torch.nn
    _, sizes, _, _ = MODELS[name]
    if sizes == "resnet":
        return _TorchResNet(torch, to_torch_layout(name, params))
    if sizes != "cnn":
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        model = nn.Sequential(*layers[:-1])
    else:
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                              nn.Flatten(), nn.Linear(2048, 10))
    with torch.no_grad():
        for p, value in zip(model.parameters(), to_torch_layout(name, params)):
            p.copy_(torch.from_numpy(value))
    return model


def to_torch_layout(name: str, tree: dict) -> list[np.ndarray]:
    """A parameter-shaped dict (parameters or a direction) as the arrays of :func:`torch_model`'s parameters."""
    a = {k: np.asarray(v, np.float32) for k, v in tree.items()}
    if MODELS[name][1] == "resnet":  # convolutions in execution order (HWIO → OIHW), then the dense layer
        return [a[layer[0]].transpose(3, 2, 0, 1).copy() for layer in resnet_layers()] + [a["w"].T.copy(), a["b"]]
    if MODELS[name][1] != "cnn":
        return [x for i in range(len(a) // 2) for x in (a[f"w{i}"].T.copy(), a[f"b{i}"])]
    # HWIO → OIHW; the dense layer's rows from NHWC flattening (h, w, c) to NCHW flattening (c, h, w)
    w = a["w"].reshape(8, 8, 32, 10).transpose(2, 0, 1, 3).reshape(2048, 10)
    return [a["conv1"].transpose(3, 2, 0, 1).copy(), a["conv1_b"], a["conv2"].transpose(3, 2, 0, 1).copy(),
            a["conv2_b"], w.T.copy(), a["b"]]


def _TorchResNet(torch, arrays):
    """:func:`resnet` in torch (NCHW), its parameters in :func:`to_torch_layout`'s order."""
    F = torch.nn.functional
    layers = resnet_layers()

    class ResNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = torch.nn.ParameterList([torch.nn.Parameter(torch.from_numpy(a)) for a in arrays])

        def forward(self, x):
            w = {layer[0]: p for layer, p in zip(layers, self.weights)}
            conv = {layer[0]: layer for layer in layers}

            def apply(h, name):
                _, k, _, _, stride, _ = conv[name]
                return F.conv2d(h, w[name], stride=stride, padding=k // 2)

            h = F.relu(apply(x, "stem"))
            for s, _ in enumerate(RESNET_STAGES):
                for b in range(RESNET_BLOCKS):
                    y = apply(F.relu(apply(h, f"s{s}b{b}c1")), f"s{s}b{b}c2")
                    h = F.relu(y + (apply(h, f"s{s}b{b}proj") if f"s{s}b{b}proj" in w else h))
            return F.linear(h.mean(dim=(2, 3)), self.weights[-2], self.weights[-1])

    return ResNet()


def torch_loop(torch, model, theta0, d1, d2, X, y, xs, ys) -> np.ndarray:
    """The reference code's loop: values[i, j] = loss at θ0 + xs[j]·d1 + ys[i]·d2, one point at a time."""
    F = torch.nn.functional
    params = list(model.parameters())
    values = np.empty((len(ys), len(xs)))
    with torch.no_grad():
        for i, b in enumerate(ys):
            for j, a in enumerate(xs):
                for p, p0, u, v in zip(params, theta0, d1, d2):
                    p.copy_(p0 + a * u + b * v)
                values[i, j] = F.cross_entropy(model(X), y).item()
    return values


# ---------------------------------------------------------------------------------------------------------------
# Training: ls.run of the CNN against a torch training loop on the same mini-batches


def torch_training(torch, model, X, y, permutations, steps: int, every: int, lr: float, batch_size: int,
                   track: bool) -> np.ndarray:
    """A torch training loop (Adam, the mini-batches of ``permutations``): the full-data loss every ``every`` steps
    from step 0, as ``ls.run`` records it; with ``track``, after every step, as ``ls.run`` tracks it."""
    F = torch.nn.functional
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    per_epoch = -(-len(X) // batch_size)
    losses = []
    for t in range(steps + 1):
        if t % every == 0 or track:
            with torch.no_grad():
                loss = F.cross_entropy(model(X), y).item()
            if t % every == 0:
                losses.append(loss)
        if t == steps:
            break
        epoch, k = divmod(t, per_epoch)
        batch = torch.from_numpy(permutations[epoch, k * batch_size:(k + 1) * batch_size])
        opt.zero_grad()
        F.cross_entropy(model(X[batch]), y[batch]).backward()
        opt.step()
    return np.array(losses)


def measure_training(torch, torch_skipped, X, y, tag: str, repeats: int, epochs: int) -> list[dict]:
    """Rows: ``ls.run`` (Adam, lr 1e-3, batches of 64, the full-data loss recorded once per epoch) of the CNN and
    the same training as a torch loop on the same shuffles, checked against each other."""
    name, batch_size, lr = "cnn", 64, 1e-3
    model, params, inputs, labels, _ = build(name, X, y)
    per_epoch = -(-len(inputs) // batch_size)
    steps = epochs * per_epoch
    rng = np.random.default_rng(0)
    permutations = np.stack([rng.permutation(len(inputs)) for _ in range(epochs)])
    prob = ls.Problem.from_model(model, params, inputs, labels, "cross_entropy", name=name)
    sizes = f"{steps} steps × {batch_size} ({len(inputs)} samples)"
    common = {"model": name, "sizes": sizes, "device": tag, "dtype": "float32", "unit": "steps/s"}
    print(f"\ntraining {name}: Adam lr {lr:g}, {epochs} epochs of {per_epoch} batches of {batch_size}, the full-data "
          f"loss recorded every epoch", flush=True)

    def run():
        return ls.run(prob, ls.optim.Adam(lr=lr), steps=steps, batch_size=batch_size, every=per_epoch,
                      permutations=permutations, progress=False)

    t = timed(run, repeats=repeats)
    best = min(t["times_s"])
    ours = {"workload": f"{name}: landscape.run (Adam, batch {batch_size})", **common, "first_s": t["first_s"],
            "compile_s": max(t["first_s"] - best, 0.0), "steady_s": best, "median_s": t["median_s"],
            "times_s": t["times_s"], "throughput": steps / best, **peak_fields(t)}
    print(f"  landscape.run: compile {fmt_s(ours['compile_s'])}  steady {best:.4g} s  {steps / best:.4g} steps/s",
          flush=True)
    loops = {"torch training loop": False, "torch training loop + the full-data loss after every step": True}
    if torch is None:
        return [ours] + [skipped_row(f"{name}: {loop}", torch_skipped, **common) for loop in loops]
    tX = torch.from_numpy(np.ascontiguousarray(inputs.transpose(0, 3, 1, 2)))
    ty = torch.from_numpy(labels.astype(np.int64))
    recorded = np.asarray(run().loss, float)
    rows = [ours]
    for loop, track in loops.items():
        t = timed(lambda: torch_training(torch, torch_model(torch, name, params), tX, ty, permutations, steps,
                                         per_epoch, lr, batch_size, track), repeats=repeats)
        best = min(t["times_s"])
        r = {"workload": f"{name}: {loop}", **common, "first_s": t["first_s"], "compile_s": None, "steady_s": best,
             "median_s": t["median_s"], "times_s": t["times_s"], "throughput": steps / best, **peak_fields(t)}
        r["max_rel_err"] = max_rel_err(recorded, t["result"])
        r["ok"] = r["max_rel_err"] < TOLERANCE
        r["ratio"] = ours["throughput"] / r["throughput"]
        print(f"  {loop}: steady {best:.4g} s  {steps / best:.4g} steps/s; recorded losses max rel err "
              f"{r['max_rel_err']:.2e} ({'ok' if r['ok'] else 'DISAGREE'}); landscape.run {r['ratio']:.3g}× its "
              "steps/s", flush=True)
        rows.append(r)
    return rows


# ---------------------------------------------------------------------------------------------------------------


def strategy_name(strategy) -> str:
    kind, block = strategy
    return kind if block is None else f"{kind}×{block}"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m landscape.bench.network_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=list(MODELS), help="default: all")
    p.add_argument("--size", type=int, help="grid size N (N×N points) for every model (default: per model)")
    p.add_argument("--repeats", type=int, default=3, help="steady-state calls per measurement, best reported (≥ 3)")
    p.add_argument("--no-sweep", action="store_true", help="measure only loss_map's default strategy, not the "
                   "alternatives (vmap; loop with blocks 1, 4, 16, 64)")
    p.add_argument("--no-loss-landscapes", action="store_true", help="skip the loss_landscapes baseline")
    p.add_argument("--no-training", action="store_true", help="skip the training workload (ls.run of the CNN "
                   "against a torch training loop)")
    p.add_argument("--sgemm", type=int, help="SGEMM size of the same-run roofline (default 2048; 1024 with --quick)")
    p.add_argument("--cpu-devices", default="1", help="CPU devices JAX exposes: 1 (JAX's default, as a Python user "
                   "gets it; the default), auto (one per core, as `landscape sweep` asks for) or a number")
    add_common_arguments(p, "smoke test: smaller maps and SGEMM")
    args = p.parse_args(argv)
    repeats = max(args.repeats, 3)
    if args.cpu_devices != "1":
        set_cpu_devices(args.cpu_devices)
    names = args.models or list(MODELS)

    tag, warnings = start_run(args)
    torch, torch_skipped = torch_peer(args)
    ll, ll_skipped = peer("loss_landscapes", args.no_loss_landscapes)
    if torch is None:
        ll, ll_skipped = None, f"needs torch ({torch_skipped})"
    X, y, source = digits()
    print(f"device: {jax.devices()}  tag: {tag}  dtype: float32  data: {source}: {X.shape[0]} samples × "
          f"{X.shape[1]} features, {len(np.unique(y))} classes")
    print(f"torch: {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else torch_skipped}  "
          f"loss_landscapes: {getattr(ll, '__version__', 'installed') if ll else ll_skipped}")
    if not source.startswith("sklearn"):
        warnings.append(f"data: {source}")

    sgemm_n = args.sgemm or (1024 if args.quick else 2048)
    sgemm = sgemm_roofline(sgemm_n)  # measured again at the end: the roofline is the faster of the two
    peak = sgemm["gflops"]
    print(f"SGEMM {sgemm['n']}²: jax {sgemm['jax']['gflops']:.1f} GFLOP/s, numpy {sgemm['numpy']['gflops']:.1f} "
          f"GFLOP/s", flush=True)

    rows, sweep, models, bad = [], [], {}, []
    for name in names:
        desc = MODELS[name][0]
        n = args.size or MODELS[name][3 if args.quick else 2]
        model, params, inputs, labels, flops_per_sample = build(name, X, y)
        n_samples = len(inputs)
        n_params = sum(int(np.size(v)) for v in params.values())
        flops_per_point = flops_per_sample * n_samples
        prob = ls.Problem.from_model(model, params, inputs, labels, "cross_entropy", name=name)
        dx, dy = ls.random_directions(params, jax.random.PRNGKey(1))
        auto = tuple(ls.maps.choose_strategy(prob))
        sizes = f"{n}² × {n_samples}"
        models[name] = {"description": desc, "params": n_params, "samples": n_samples, "size": n, "points": n * n,
                        "flops_per_sample": flops_per_sample, "flops_per_point": flops_per_point,
                        "default_strategy": list(auto)}
        print(f"\n{name}: {desc}, {n_params:,} params, {flops_per_point / 1e6:.4g} MFLOP per point, {n}² grid, "
              f"default strategy {strategy_name(auto)}", flush=True)

        def run_map(strategy=None, block=None, n=n):
            return ls.loss_map(prob, ls.Axis(dx, -1, 1, n), ls.Axis(dy, -1, 1, n), progress=False,
                               strategy=strategy, block=block).values

        def measure(workload, fn, compiled=True, max_s=None, **extra):
            t = timed(fn, repeats=repeats, warmup=1, max_s=max_s)
            best = min(t["times_s"])
            row = {"workload": f"{name}: {workload}", "model": name, "sizes": sizes, "size": n, "points": n * n,
                   "params": n_params, "samples": n_samples, "device": tag, "dtype": "float32",
                   "compile_s": max(t["first_s"] - best, 0.0) if compiled else None, "first_s": t["first_s"],
                   "steady_s": best, "median_s": t["median_s"], "times_s": t["times_s"],
                   "throughput": n * n / best, "unit": "points/s", "flops_per_point": flops_per_point,
                   "useful_gflops": flops_per_point * n * n / best / 1e9, **peak_fields(t), **extra}
            print(f"  {workload:<36} compile {fmt_s(row['compile_s'])}  steady {best:.4g} s  "
                  f"{row['throughput']:.4g} points/s  {row['useful_gflops']:.4g} GFLOP/s "
                  f"({row['useful_gflops'] / peak:.0%} of the first SGEMM)", flush=True)
            return row, t["result"]

        lm, values = measure(f"landscape.loss_map ({strategy_name(auto)})", run_map, strategy=list(auto))
        lm["default"] = True
        rows.append(lm)
        sweep.append({**lm, "workload": f"{name}: loss_map strategy={strategy_name(auto)} (default)"})
        if not args.no_sweep:
            for kind, block in SWEEP:
                if (kind, block) == auto:
                    continue
                r, _ = measure(f"loss_map strategy={strategy_name((kind, block))}",
                               lambda: run_map(kind, block), max_s=SWEEP_MAX_S, strategy=[kind, block],
                               diagnostic=True)
                r["ratio"] = lm["throughput"] / r["throughput"]
                sweep.append(r)
            fastest = max((r for r in sweep if r["model"] == name), key=lambda r: r["throughput"])
            models[name]["fastest_strategy"] = fastest["strategy"]
            models[name]["default_vs_fastest"] = lm["throughput"] / fastest["throughput"]
            print(f"  fastest: {strategy_name(fastest['strategy'])} "
                  f"(default at {models[name]['default_vs_fastest']:.2f}× its points/s)")
            if fastest["strategy"] != list(auto):
                rows.append({**fastest, "workload": f"{name}: fastest alternative, "
                             f"{fastest['workload'].split(': ', 1)[1]}", "diagnostic": True})

        xs, ys = (np.linspace(-1, 1, n).astype(np.float32) for _ in range(2))
        if torch is None:
            rows.append(skipped_row(f"{name}: torch per-point loop", torch_skipped, model=name, sizes=sizes,
                                    size=n, device=tag, dtype="float32"))
        else:
            tmodel = torch_model(torch, name, params)
            theta0, d1, d2 = ([torch.from_numpy(a) for a in to_torch_layout(name, t)] for t in (params, dx, dy))
            tX = torch.from_numpy(np.ascontiguousarray(inputs.transpose(0, 3, 1, 2) if inputs.ndim == 4 else inputs))
            ty = torch.from_numpy(labels.astype(np.int64))
            r, tvalues = measure("torch per-point loop", lambda: torch_loop(torch, tmodel, theta0, d1, d2, tX, ty,
                                                                           xs.tolist(), ys.tolist()),
                                 compiled=False)
            r["max_abs_diff"] = float(np.max(np.abs(tvalues - values)))
            r["max_rel_err"] = max_rel_err(values, tvalues)
            r["ok"] = r["max_rel_err"] < TOLERANCE
            r["ratio"] = lm["throughput"] / r["throughput"]
            print(f"  torch loop vs loss_map: max abs diff {r['max_abs_diff']:.2e}, max rel err "
                  f"{r['max_rel_err']:.2e} ({'ok' if r['ok'] else 'DISAGREE'}); loss_map {r['ratio']:.3g}× its "
                  f"points/s")
            if not r["ok"]:
                bad.append(r["workload"])
            rows.append(r)

        if ll is None:
            rows.append(skipped_row(f"{name}: loss_landscapes.random_plane", ll_skipped, model=name, sizes=sizes,
                                    size=n, device=tag, dtype="float32"))
        else:
            metric = ll.metrics.Loss(torch.nn.CrossEntropyLoss(), tX, ty)
            try:
                r, _ = measure("loss_landscapes.random_plane", lambda: ll.random_plane(
                    tmodel, metric, distance=1, steps=n, normalization="filter", deepcopy_model=True),
                    compiled=False, note="its own random directions: only the time is compared")
                r["ratio"] = lm["throughput"] / r["throughput"]
                rows.append(r)
            except Exception as err:  # an API drift on this torch version: the row says why
                rows.append(skipped_row(f"{name}: loss_landscapes.random_plane",
                                        f"{type(err).__name__}: {str(err)[:200]}", model=name, sizes=sizes, size=n,
                                        device=tag, dtype="float32"))

    training = [] if args.no_training else measure_training(torch, torch_skipped, X, y, tag, repeats,
                                                             epochs=3 if args.quick else 10)
    bad += [r["workload"] for r in training if r.get("ok") is False]

    sgemm_end = sgemm_roofline(sgemm_n)
    sgemm = {**max(sgemm, sgemm_end, key=lambda s: s["gflops"]), "start": sgemm, "end": sgemm_end}
    peak = sgemm["gflops"]
    print(f"\nSGEMM {sgemm_n}² at the end: {sgemm_end['gflops']:.1f} GFLOP/s; roofline (the faster): {peak:.1f}")
    for r in rows + sweep:
        if r.get("useful_gflops") is not None:
            r["sgemm_frac"] = r["useful_gflops"] / peak

    def row(name, workload):
        return next((r for r in rows if r["workload"] == f"{name}: {workload}"), None)

    targets = {}
    for name, minimum, sgemm_min in (("mlp-3.8k", 2.0, None), ("mlp-85k", 1.0, 0.6), ("mlp-1m", 1.0, 0.6),
                                     ("cnn", 1.0, None)):
        if name not in models:
            continue
        base = row(name, "torch per-point loop")
        desc = f"{name} ({models[name]['params']:,} params)"
        if base.get("skipped"):
            targets[f"{desc} loss_map ≥ {minimum:g}× the torch per-point loop"] = {
                "value": None, "met": None, "skipped": base["skipped"]}
        else:
            targets[f"{desc} loss_map ≥ {minimum:g}× the torch per-point loop"] = {
                "value": base["ratio"], "met": base["ratio"] >= minimum}
        if sgemm_min is not None:
            frac = next(r for r in rows if r["model"] == name and r.get("default"))["sgemm_frac"]
            targets[f"{desc} loss_map ≥ {sgemm_min:.0%} of the same-run SGEMM"] = {
                "value": frac, "met": frac >= sgemm_min, "unit": "fraction"}

    if "resnet" in models and jax.default_backend() != "cpu":  # the accelerator target
        frac = next(r for r in rows if r["model"] == "resnet" and r.get("default"))["sgemm_frac"]
        targets[f"resnet ({models['resnet']['params']:,} params) loss_map ≥ 30% of the same-run SGEMM "
                f"(on an accelerator)"] = {"value": frac, "met": frac >= 0.3, "unit": "fraction"}

    print(f"\nnetworks on digits ({len(X)} samples; resnet: synthetic images), {tag}, float32; SGEMM roofline "
          f"{peak:.1f} GFLOP/s; ratio = "
          "loss_map (default strategy) points/s ÷ the row's")
    columns = [("workload", "workload", ""), ("sizes", "sizes", ""), ("compile_s", "compile s", ".3f"),
               ("steady_s", "steady s", ".4g"), ("throughput", "points/s", ".4g"), ("useful_gflops", "GFLOP/s", ".3g"),
               ("sgemm_frac", "of SGEMM", ".1%"), ("ratio", "ratio", ".3g"), ("max_rel_err", "max rel err", ".1e")]
    print_table(rows, columns)
    if not args.no_sweep:
        print("\nstrategy sweep (ratio = default ÷ this strategy: > 1, the default is faster)")
        print_table(sweep, columns[:-1])
    if training:
        print("\ntraining (ratio = landscape.run steps/s ÷ the row's)")
        print_table(training, [("workload", "workload", ""), ("sizes", "sizes", ""), ("compile_s", "compile s", ".3f"),
                               ("steady_s", "steady s", ".4g"), ("throughput", "steps/s", ".4g"),
                               ("ratio", "ratio", ".3g"), ("max_rel_err", "max rel err", ".1e")])
    print_notes_and_targets(rows, targets)
    finish_warnings(warnings, bad, "loss_map and landscape.run", TOLERANCE)

    result = {"benchmark": "networks", "tag": tag, "dtype": "float32", "data": source, "n_samples": len(X),
              "cpu_devices": jax.local_device_count(),
              "models": models, "flop_count": FLOP_COUNT, "tolerance": TOLERANCE, "sgemm": sgemm,
              "rows": rows + training, "sweep": sweep, "targets": targets, "args": vars(args),
              "environment": environment(),
              "warnings": warnings}
    save_result(args, "networks", tag, result)
    if bad:
        raise SystemExit(f"a torch baseline disagrees with landscape (max rel err ≥ {TOLERANCE}): "
                         f"{', '.join(bad)}; the speed comparison is not of the same computation")
    return result


def fmt_s(value) -> str:
    return "-" if value is None else f"{value:.3g} s"


if __name__ == "__main__":
    main()
