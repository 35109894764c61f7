"""Loss-map throughput (the suite's ``grid``): ``landscape.loss_map`` on ``seed_regression`` (MSE) against the
usual baselines.

    python -m landscape.bench.map_speed            # 1024² and 4096², baselines, SGEMM roofline, 8192² peak memory
    python -m landscape.bench.map_speed --quick    # 512² smoke test (~10 s)
    python -m landscape.bench.map_speed --sizes 2048 --tag mybox --json /tmp/grid.json

Baselines, all measured in the same run and checked against ``loss_map``'s values: seed 000's per-point
Python loop with ``torch.nn.MSELoss`` and seed 004's per-point NumPy loop (on a 101² grid, throughput
extrapolated), NumPy and PyTorch broadcasting over chunks of grid rows, and a float32 SGEMM as the
arithmetic roofline. Without PyTorch its rows are marked skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import jax
import numpy as np

import landscape as ls
from landscape.bench.common import (add_common_arguments, environment, finish_warnings, max_rel_err, peak_fields,
                                    peak_rss_bytes, print_table, rss_bytes, ru_maxrss_bytes, run_child, save_result,
                                    sgemm_roofline, skipped_row, start_run, timed, torch_peer)

LO, HI = -5.0, 8.0  # seed 000's view, for both bias (x axis) and weight (y axis)
FLOPS_PER_SAMPLE = 5
FLOP_COUNT = ("useful flops per grid point per sample = 5: 2 for weight·x + bias, 1 for − y, 1 for the square, "
              "1 for the sum; the per-point mean's divide and the grid bookkeeping are not counted")
TOLERANCE = 1e-4  # max relative error allowed between a baseline and loss_map
# Untimed calls before the steady-state repeats: the first compiles; the second is the first to allocate a fresh
# result while the previous one is alive, which on Linux with transparent huge pages can wait for the kernel to
# compact memory. Both stay in the JSON (``first_s``, ``warmup_s``).
WARMUP = 2


def problem():
    return ls.problems.seed_regression("mse")


def run_loss_map(prob, n: int) -> np.ndarray:
    """The direct path (the model at every point): the least-squares fast path is measured separately."""
    return ls.loss_map(prob, x=ls.Axis("bias", LO, HI, n), y=ls.Axis("weight", LO, HI, n), progress=False,
                       fast_path=False).values


def run_fast_path(prob, n: int, fast: bool = True) -> np.ndarray:
    """``ols`` (seed 004, 1000 samples) over its default view, with or without the least-squares fast path."""
    return ls.loss_map(prob, x=ls.Axis("intercept", -10, 10, n), y=ls.Axis("slope", -10, 10, n), progress=False,
                       fast_path=fast).values


def grid(n: int) -> np.ndarray:
    """The axis values as loss_map sees them (float32)."""
    return np.linspace(LO, HI, n).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Baselines; each returns values[i, j] = loss at weight = ws[i], bias = bs[j]


def torch_loop(torch, x, y, n: int) -> np.ndarray:
    """Seed 000's ``get_loss_map`` (without its final row flip for imshow)."""
    loss_fn = torch.nn.MSELoss()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    losses = [[0.0] * n for _ in range(n)]
    for wi in range(n):
        for wb in range(n):
            w = LO + (HI - LO) * wi / (n - 1)
            b = LO + (HI - LO) * wb / (n - 1)
            ywb = x * w + b
            losses[wi][wb] = loss_fn(ywb, y).item()
    return np.array(losses)


def numpy_loop(x, y, n: int) -> np.ndarray:
    """Seed 004's style: one ``np.mean`` per grid point."""
    values = np.zeros((n, n))
    axis = grid(n).tolist()
    for i, w in enumerate(axis):
        for j, b in enumerate(axis):
            values[i, j] = np.mean((y - (b + w * x)) ** 2)
    return values


def numpy_rows(x, y, ws, bs):
    """Broadcasting over a block of rows: a (rows, N, samples) float32 temporary."""
    return np.mean((ws[:, None, None] * x + bs[None, :, None] - y) ** 2, axis=-1)


def torch_rows(x, y, ws, bs):
    return ((ws[:, None, None] * x + bs[None, :, None] - y) ** 2).mean(-1)


def time_rows(step, n: int, rows: int, limit_s: float) -> dict:
    """Time ``step(r0, r1)`` over all n rows in blocks of ``rows``; if a full pass would take longer than
    ``limit_s`` (estimated from one warm-up block), time only the first rows and extrapolate."""
    t0 = time.perf_counter()
    step(0, min(rows, n))
    t_block = time.perf_counter() - t0
    n_rows = n if t_block * n / rows <= limit_s else min(n, max(1, int(limit_s / t_block)) * rows)

    def run():
        return np.concatenate([np.asarray(step(r, min(r + rows, n_rows))) for r in range(0, n_rows, rows)])

    t = timed(run, repeats=3, warmup=0, max_s=limit_s / 2)
    return {**t, "rows_timed": n_rows, "extrapolated": n_rows < n, "s_per_point": t["median_s"] / (n_rows * n)}


# ---------------------------------------------------------------------------------------------------------------


def peak_memory_child(n: int) -> None:
    """Run in a fresh process: one n×n map, then print RSS figures as JSON on the last line."""
    prob = problem()
    base_rss, base_peak = rss_bytes(), peak_rss_bytes()
    t0 = time.perf_counter()
    values = run_loss_map(prob, n)
    wall = time.perf_counter() - t0
    print(json.dumps({
        "size": n, "points": n * n, "wall_s": wall, "baseline_rss_bytes": base_rss,
        "baseline_peak_rss_bytes": base_peak, "peak_rss_bytes": peak_rss_bytes(), "ru_maxrss_bytes": ru_maxrss_bytes(),
        "values_bytes": values.nbytes, "finite": bool(np.isfinite(values).all()), "min": float(values.min()),
        "device": str(jax.devices()[0]),
    }))


def peak_memory(n: int) -> dict:
    out = run_child(["-m", __spec__.name, "--peak-memory", str(n)])  # this module, in a fresh process
    if "error" in out:
        return {"size": n, **out}
    out.update(target_bytes=2 * 10**9, meets_target=out["peak_rss_bytes"] < 2 * 10**9,
               method="fresh subprocess; baseline after importing jax and landscape; peak = VmHWM at the end "
               "(ru_maxrss is also recorded, but on Linux it carries over the parent's peak through fork + exec)")
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m landscape.bench.map_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", help="map sizes N (N×N points); default 1024 4096")
    p.add_argument("--loop-size", type=int, default=101, help="grid size for the per-point loop baselines")
    p.add_argument("--rows", type=int, default=64, help="grid rows per block for the broadcasting baselines")
    p.add_argument("--limit-s", type=float, default=20.0, help="time a broadcasting baseline on a subset of rows "
                   "and extrapolate when a full pass would take longer than this")
    p.add_argument("--repeats", type=int, default=7, help="steady-state repeats of loss_map (median reported)")
    p.add_argument("--sgemm", type=int, help="SGEMM roofline size (default 2048)")
    p.add_argument("--peak-size", type=int, help="size of the peak-memory map, 0 to skip (default 8192)")
    add_common_arguments(p, "smoke test: 512², small SGEMM and peak-memory map")
    p.add_argument("--peak-memory", type=int, metavar="N", help=argparse.SUPPRESS)  # child mode
    args = p.parse_args(argv)
    if args.peak_memory:
        return peak_memory_child(args.peak_memory)

    sizes = args.sizes or ([512] if args.quick else [1024, 4096])
    sgemm_n = args.sgemm or (1024 if args.quick else 2048)
    peak_n = args.peak_size if args.peak_size is not None else (1024 if args.quick else 8192)
    tag, warnings = start_run(args)
    torch, torch_skipped = torch_peer(args)
    prob = problem()
    x, y = (np.asarray(a, np.float32) for a in prob.data)
    n_samples = len(x)
    dtype = str(run_loss_map(prob, 2).dtype)  # also initialises the backend before anything is timed
    print(f"device: {jax.devices()}  tag: {tag}  dtype: {dtype}  problem: {prob.name} (mse, {n_samples} samples)")
    print(f"sizes: {sizes}  loop size: {args.loop_size}  row block: {args.rows}  torch: "
          f"{torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else torch_skipped}")

    sgemm = sgemm_roofline(sgemm_n)
    print(f"SGEMM {sgemm_n}²: jax {sgemm['jax']['gflops']:.1f} GFLOP/s, numpy {sgemm['numpy']['gflops']:.1f} GFLOP/s")
    rows, maps = [], {}

    def add(workload, n, points, t, **extra):
        s_per_point = extra.pop("s_per_point", None) or t["median_s"] / points
        row = {"workload": workload, "size": n, "points": points, "device": tag, "dtype": "float32",
               "compile_s": t.get("compile_s"), "steady_s": t["median_s"], "first_s": t["first_s"],
               "times_s": t["times_s"], "s_per_point": s_per_point, "points_per_s": 1 / s_per_point,
               "useful_gflops": FLOPS_PER_SAMPLE * n_samples / s_per_point / 1e9, **peak_fields(t), **extra}
        row["roofline_frac"] = row["useful_gflops"] / sgemm["gflops"]
        rows.append(row)
        print(f"  {workload:<22} {n:>5}²  {t['median_s']:.4g} s  {row['points_per_s']:.3g} points/s"
              + (f"  max rel err {extra['max_rel_err']:.2e}" if "max_rel_err" in extra else ""), flush=True)
        return row

    for n in [args.loop_size, *sizes]:
        t = timed(lambda: run_loss_map(prob, n), repeats=args.repeats, warmup=WARMUP, max_s=10.0)
        maps[n] = t.pop("result")
        add("landscape.loss_map", n, n * n, t)

    def skip(workload, n):
        rows.append(skipped_row(workload, torch_skipped, size=n, points=n * n, device=tag, dtype="float32"))

    # per-point loops, against loss_map on the same 101² grid (None: without PyTorch)
    m = args.loop_size
    loops = [("torch per-point loop", (lambda: torch_loop(torch, x, y, m)) if torch else None),
             ("numpy per-point loop", lambda: numpy_loop(x, y, m))]
    for name, fn in loops:
        if fn is None:
            skip(name, m)
            continue
        t = timed(fn, repeats=3, warmup=1, max_s=10.0)
        add(name, m, m * m, {**t, "compile_s": None}, max_rel_err=max_rel_err(t["result"], maps[m]),
            note="throughput extrapolated from this grid (cost per point is constant)")

    # broadcasting over row blocks, at the benchmark sizes
    def torch_block(ws, bs):
        tx, ty, tb = (torch.from_numpy(a) for a in (x, y, bs))
        return lambda r0, r1: torch_rows(tx, ty, torch.from_numpy(ws[r0:r1]), tb)

    blocks = [("numpy broadcast rows", lambda ws, bs: lambda r0, r1: numpy_rows(x, y, ws[r0:r1], bs)),
              ("torch broadcast rows", torch_block if torch else None)]
    for n in sizes:
        ws = bs = grid(n)
        for name, make in blocks:
            if make is None:
                skip(name, n)
                continue
            with torch.inference_mode() if torch is not None else contextlib.nullcontext():
                t = time_rows(make(ws, bs), n, args.rows, args.limit_s)
            values = t.pop("result")
            add(name, n, n * n, {**t, "compile_s": None}, s_per_point=t["s_per_point"],
                max_rel_err=max_rel_err(values, maps[n][: t["rows_timed"]]), rows_timed=t["rows_timed"],
                extrapolated=t["extrapolated"], block_rows=args.rows,
                note=f"timed {t['rows_timed']} of {n} rows, extrapolated" if t["extrapolated"] else None)

    # ratios: loss_map's throughput over each baseline's, at the same size, and at the largest size
    best = {r["size"]: r for r in rows if r["workload"] == "landscape.loss_map"}
    for r in rows:
        if r["workload"] not in ("landscape.loss_map", "loss_map fast path (ols)") and not r.get("skipped"):
            r["speedup_same_size"] = best[r["size"]]["points_per_s"] / r["points_per_s"]
            r["speedup_vs_largest"] = best[max(sizes)]["points_per_s"] / r["points_per_s"]
            r["ok"] = r["max_rel_err"] < TOLERANCE
    # the exact least-squares fast path on ols (n = 1000): checked against the direct path, target ≥ 1e9 points/s
    ols = ls.problems.ols()
    for n in sizes:
        t = timed(lambda: run_fast_path(ols, n), repeats=args.repeats, warmup=WARMUP, max_s=10.0)
        fast_values = t.pop("result")
        check_n = min(n, 1024)
        err = max_rel_err(run_fast_path(ols, check_n), run_fast_path(ols, check_n, fast=False))
        row = add("loss_map fast path (ols)", n, n * n, t, max_rel_err=err,
                  note=f"least-squares quadratic (memory-bound: no FLOP count); checked against the direct path "
                       f"on a {check_n}² grid")
        row.update(useful_gflops=None, roofline_frac=None, meets_1e9_target=row["points_per_s"] >= 1e9)
        del fast_values
    peak = peak_memory(peak_n) if peak_n else None

    print(f"\n{prob.name} (mse, {n_samples} samples), {tag}, float32; SGEMM roofline {sgemm['gflops']:.1f} GFLOP/s"
          f"; speedup = loss_map points/s ÷ baseline points/s (same size | loss_map at {max(sizes)}²)")
    print_table(rows, [("workload", "workload", ""), ("size", "size", "d"), ("device", "device", ""),
                       ("dtype", "dtype", ""), ("compile_s", "compile s", ".3f"), ("steady_s", "steady s", ".4g"),
                       ("points_per_s", "points/s", ".3g"), ("useful_gflops", "GFLOP/s", ".3g"),
                       ("roofline_frac", "of SGEMM", ".1%"), ("speedup_same_size", "speedup", ".3g"),
                       ("speedup_vs_largest", f"vs {max(sizes)}²", ".3g"), ("max_rel_err", "max rel err", ".1e")])
    for r in rows:
        if r.get("note"):
            print(f"  note: {r['workload']} {r['size']}²: {r['note']}")
    if peak:
        if "error" in peak:
            print(f"peak memory {peak_n}²: FAILED: {peak['error']}")
        else:
            print(f"peak memory {peak_n}²: {peak['peak_rss_bytes'] / 2**20:.0f} MiB peak RSS (baseline after import "
                  f"{peak['baseline_rss_bytes'] / 2**20:.0f} MiB, map values {peak['values_bytes'] / 2**20:.0f} MiB), "
                  f"{peak['wall_s']:.2f} s wall; target < 2 GB: {'met' if peak['meets_target'] else 'MISSED'}")
    bad = [f"{r['workload']} {r['size']}²" for r in rows if r.get("ok") is False
           or (r["workload"].startswith("loss_map fast path") and r["max_rel_err"] >= TOLERANCE)]
    finish_warnings(warnings, bad, "loss_map", TOLERANCE)

    result = {"benchmark": "grid", "problem": f"{prob.name} (mse)", "n_samples": n_samples, "dtype": dtype,
              "bounds": {"bias": [LO, HI], "weight": [LO, HI]}, "sizes": sizes, "flop_count": FLOP_COUNT,
              "flops_per_point": FLOPS_PER_SAMPLE * n_samples, "tolerance": TOLERANCE, "tag": tag,
              "args": vars(args), "environment": environment(), "sgemm": sgemm, "rows": rows, "peak_memory": peak,
              "warnings": warnings}
    save_result(args, "grid", tag, result)
    return result


if __name__ == "__main__":
    main()
