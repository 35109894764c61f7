"""Torch oracle for ``landscape.losses``: the shared case list, and the script writing ``losses_torch.npz``.

``tests/test_losses.py`` imports ``CASES`` and ``torch_oracle`` from this file: with torch installed it
compares against torch live, otherwise against the fixture this script writes. Regenerate with

    python tests/data/make_loss_fixtures.py

Keys: ``<case>/input``, ``<case>/target`` (to detect drifted inputs), ``<case>/value``, ``<case>/grad``
(gradient of ``loss.sum()`` w.r.t. the input), all from torch in float64 on float32-representable inputs.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).with_name("losses_torch.npz")
REDUCTIONS = ("none", "sum", "mean")
TORCH_FUNCTIONS = {  # landscape.losses name -> torch.nn.functional name (rmse is built from mse_loss)
    "mse": "mse_loss", "l1": "l1_loss", "huber": "huber_loss", "smooth_l1": "smooth_l1_loss",
    "cross_entropy": "cross_entropy", "nll": "nll_loss", "bce": "binary_cross_entropy",
    "bce_with_logits": "binary_cross_entropy_with_logits",
}


@dataclass
class Case:
    name: str
    loss: str
    input: np.ndarray
    target: np.ndarray
    kwargs: dict = field(default_factory=dict)  # torch and landscape share keyword names


def make_cases() -> list[Case]:
    rng = np.random.default_rng(1234)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    randn = lambda *s: f32(rng.standard_normal(s))  # noqa: E731
    idx = lambda hi, *s: rng.integers(0, hi, s).astype(np.int64)  # noqa: E731
    softmax = lambda a, ax: f32(np.exp(a) / np.exp(a).sum(ax, keepdims=True))  # noqa: E731
    base = []  # (name, loss, input, target, kwargs), each run under every reduction

    # Regression: 3 rows on a 1/8 grid (exact ties z == 0 and z == 0.5, 1, 2 = beta/delta), 3 random rows.
    x = np.concatenate([rng.integers(-16, 17, (3, 6)) / 8, rng.standard_normal((3, 6))]).astype(np.float32)
    y = np.concatenate([rng.integers(-16, 17, (3, 6)) / 8, rng.standard_normal((3, 6))]).astype(np.float32)
    y[0, :3] = x[0, :3]  # guaranteed ties
    y[1, :2], y[1, 2:4], y[2, :2] = x[1, :2] + 1, x[1, 2:4] - 0.5, x[2, :2] + 2  # guaranteed branch points
    base += [("mse", "mse", x, y, {}), ("mse_1d", "mse", randn(7), randn(7), {}), ("l1", "l1", x, y, {})]
    base += [(f"huber_d{d}", "huber", x, y, {"delta": d}) for d in (1.0, 0.5, 2.0)]
    base += [(f"smooth_l1_b{b}", "smooth_l1", x, y, {"beta": b}) for b in (1.0, 0.5, 0.0)]

    # Cross entropy / NLL: logits (6, 5); index targets with ignored entries; probability targets.
    N, C = 6, 5
    logits, w = 2 * randn(N, C), f32(rng.uniform(0.5, 2.0, C))
    t = idx(C, N)
    t_ign = t.copy()
    t_ign[[1, 4]] = -100
    t_all_ign = np.full(N, -100, np.int64)
    probs = softmax(randn(N, C), 1)
    base += [
        ("ce_idx", "cross_entropy", logits, t, {}),
        ("ce_idx_weight", "cross_entropy", logits, t, {"weight": w}),
        ("ce_idx_ignore", "cross_entropy", logits, t_ign, {}),
        ("ce_idx_ignore_class2", "cross_entropy", logits, np.arange(N) % C, {"ignore_index": 2, "weight": w}),
        ("ce_idx_smooth_ignore", "cross_entropy", logits, t_ign, {"label_smoothing": 0.1}),
        ("ce_idx_weight_smooth_ignore", "cross_entropy", logits, t_ign, {"weight": w, "label_smoothing": 0.2}),
        ("ce_idx_all_ignored", "cross_entropy", logits, t_all_ign, {}),
        ("ce_idx_all_ignored_smooth", "cross_entropy", logits, t_all_ign, {"weight": w, "label_smoothing": 0.1}),
        ("ce_prob", "cross_entropy", logits, probs, {}),
        ("ce_prob_weight_smooth", "cross_entropy", logits, probs, {"weight": w, "label_smoothing": 0.15}),
        ("ce_unbatched", "cross_entropy", randn(C), np.array(3, np.int64), {"weight": w, "label_smoothing": 0.1}),
        ("ce_unbatched_prob", "cross_entropy", randn(C), softmax(randn(C), 0), {"weight": w}),
    ]
    t_sp = idx(C, 3, 4)
    t_sp[0, 1] = t_sp[2, 3] = -100
    base += [
        ("ce_spatial", "cross_entropy", randn(3, C, 4), t_sp, {"weight": w, "label_smoothing": 0.1}),
        ("ce_spatial_prob", "cross_entropy", randn(3, C, 4), softmax(randn(3, C, 4), 1), {"label_smoothing": 0.1}),
    ]
    logp = lambda a, ax: f32(a - np.log(np.exp(a).sum(ax, keepdims=True)))  # noqa: E731
    base += [
        ("nll", "nll", logp(logits, 1), t, {}),
        ("nll_weight_ignore", "nll", logp(logits, 1), t_ign, {"weight": w}),
        ("nll_spatial", "nll", logp(randn(3, C, 4), 1), t_sp, {"weight": w}),
        ("nll_all_ignored", "nll", logp(logits, 1), t_all_ign, {}),
    ]

    # Binary cross entropy on probabilities: interior values, weights, and inputs at/near 0 and 1.
    p, yb = f32(rng.uniform(0.02, 0.98, (5, 4))), f32(rng.uniform(0, 1, (5, 4)))
    p_edge = f32([0, 0, 0, 1, 1, 1, 1e-8, 1 - 2**-24, 2**-24, 1e-30, 1e-45, 0.5, 1e-13, 1 - 2**-23])
    y_edge = f32([0, 1, 0.3, 0, 1, 0.7, 1, 0, 0, 1, 1, 0.5, 0.25, 0.75])
    base += [
        ("bce", "bce", p, yb, {}),
        ("bce_binary_targets", "bce", p, f32(yb > 0.5), {"weight": f32(rng.uniform(0.5, 2, 4))}),
        ("bce_weight_full", "bce", p, yb, {"weight": f32(rng.uniform(0.5, 2, (5, 4)))}),
        ("bce_edges", "bce", p_edge, y_edge, {}),
    ]
    z = 3 * randn(5, 4)
    z_edge = f32([-100, -50, -20, -1, 0, 1, 20, 50, 100])
    y_zedge = f32([0, 1, 0.5, 1, 0, 0, 1, 0, 0.5])
    base += [
        ("bcel", "bce_with_logits", z, yb, {}),
        ("bcel_weight", "bce_with_logits", z, yb, {"weight": f32(rng.uniform(0.5, 2, (5, 4)))}),
        ("bcel_pos_weight", "bce_with_logits", z, yb, {"pos_weight": f32(rng.uniform(0.5, 3, 4))}),
        ("bcel_both", "bce_with_logits", z, f32(yb > 0.5),
         {"weight": f32(rng.uniform(0.5, 2, 4)), "pos_weight": f32(rng.uniform(0.5, 3, 4))}),
        ("bcel_large_logits", "bce_with_logits", z_edge, y_zedge, {"pos_weight": f32([2.0])}),
    ]

    cases = [Case(f"{n}.{r}", loss, a, b, {**kw, "reduction": r}) for n, loss, a, b, kw in base for r in REDUCTIONS]
    cases += [Case("rmse", "rmse", x, y), Case("rmse_zero_error", "rmse", x, x.copy())]  # grad at 0 error: nan
    return cases


CASES = make_cases()


def torch_oracle(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """(value, gradient of value.sum() w.r.t. input) from torch in float64."""
    import torch
    import torch.nn.functional as F

    def tensor(a):
        a = np.asarray(a)
        return torch.tensor(a, dtype=torch.float64 if a.dtype.kind == "f" else torch.int64)

    x = tensor(case.input).requires_grad_(True)
    kwargs = {k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}
    if case.loss == "rmse":
        out = torch.sqrt(F.mse_loss(x, tensor(case.target), **kwargs))
    else:
        out = getattr(F, TORCH_FUNCTIONS[case.loss])(x, tensor(case.target), **kwargs)
    out.sum().backward()
    return out.detach().numpy(), x.grad.numpy()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez-compatible, but byte-reproducible (fixed zip timestamps), so regenerating gives no diff."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED)


def main() -> None:
    arrays = {}
    for case in CASES:
        value, grad = torch_oracle(case)
        arrays.update({f"{case.name}/input": case.input, f"{case.name}/target": case.target,
                       f"{case.name}/value": value, f"{case.name}/grad": grad})
    write_npz(FIXTURE, arrays)
    print(f"wrote {len(CASES)} cases to {FIXTURE}")


if __name__ == "__main__":
    main()
