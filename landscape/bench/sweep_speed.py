"""Sweep throughput (the suite's ``sweep``): ``landscape.sweep`` over SGD (lr × momentum) on ``seed_regression``, and
its peak memory.

    python -m landscape.bench.sweep_speed            # (a) 100 × 100 × 1000 steps + CLI, (b) 1000² × 100 (~4 min)
    python -m landscape.bench.sweep_speed --quick    # (a) 30 × 30 × 1000, (b) 100 × 100 × 100 (~40 s)

(a) 10,000 settings × 1000 full-batch steps through ``landscape.sweep`` (and the ``landscape sweep`` CLI, as a
subprocess wall time), (b) 1,000,000 settings × 100 steps, with the peak memory of each in a fresh process (target
< 4 GB for (b)). Baselines, measured in the same run and checked against the sweep's final losses: optax +
``jax.vmap`` (``jit(vmap(run_one))`` over ``inject_hyperparams(optax.sgd)``, final loss only; for (b) in chunks of
2^16 settings per call, as a user would) and seed 000's PyTorch loop once per setting (a few settings,
extrapolated); without PyTorch or optax their rows and targets are marked skipped. Diagnostics: chunk sizes via
``memory_budget=`` and optax chunk sizes. The baselines are those of :mod:`landscape.bench.run_speed`.

On CPU the process asks JAX for one device per core (``--cpu-devices auto``, what ``landscape sweep`` does), so
``landscape.sweep`` shards its settings over the cores; the baselines run as their users write them (one
``jit``, the default device). (a) is also timed in a fresh process with JAX's default single CPU device.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

import landscape as ls
from landscape.bench.common import (add_training_arguments, environment, finish_warnings, max_rel_err, peak_fields,
                                    peak_rss_bytes, peer, print_notes_and_targets, print_table, ratio_target, rss_bytes,
                                    run_child, save_result, set_cpu_devices, sgemm_roofline, skipped_row, start_run,
                                    timed, torch_peer)
from landscape.bench.run_speed import (FLOP_COUNT, FLOPS_PER_SAMPLE_STEP, LR_RANGE, MOMENTUM_RANGE, TOLERANCE,
                                       optax_runner, problem_and_data, settings, time_torch, torch_indices)

OPTAX_CHUNK = 2**16  # settings per optax call for large sweeps
PEAK_TARGET = 4 * 10**9


def axes(n_lr: int, n_mom: int) -> dict:
    return {"lr": np.logspace(np.log10(LR_RANGE[0]), np.log10(LR_RANGE[1]), n_lr),
            "momentum": np.linspace(*MOMENTUM_RANGE, n_mom)}


def run_sweep(prob, n_lr: int, n_mom: int, steps: int, memory_budget=None):
    return ls.sweep(prob, ls.optim.SGD, steps=steps, memory_budget=memory_budget, progress=False, **axes(n_lr, n_mom))


def optax_chunked(fn, lr: np.ndarray, mom: np.ndarray, chunk: int):
    """Final losses of all settings with ``fn = optax_runner(...)`` (jitted once: its compile cache lives on
    it), ``chunk`` settings per call (the last chunk padded: one compiled shape)."""
    n = len(lr)
    chunk = min(chunk, n)
    out = np.empty(n, np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        pad = chunk - (stop - start)
        lr_c, mom_c = (np.pad(a[start:stop], (0, pad), mode="edge") for a in (lr, mom))
        out[start:stop] = np.asarray(fn(lr_c, mom_c)["final_loss"])[: stop - start]
    return out


def compare(baseline: np.ndarray, sw) -> dict:
    ours = sw.final_loss.ravel()
    ok = (sw.status.ravel() != 2) & np.isfinite(baseline)
    return {"compared": int(ok.sum()), "diverged_ours": int((sw.status == 2).sum()),
            "nonfinite_baseline": int((~np.isfinite(baseline)).sum()),
            "final_loss": max_rel_err(baseline[ok], ours[ok]) if ok.any() else None}


def child(spec: str, n_lr: int, n_mom: int, steps: int, repeats: int) -> None:
    """Child mode: ``sweep`` or ``optax`` on an n_lr × n_mom grid, then print JSON with the peak RSS; or
    ``sweep-timed``: :func:`timed` figures of ``sweep`` (``repeats`` steady-state calls)."""
    prob, x, y = problem_and_data()
    if spec == "sweep-timed":
        t = timed(lambda: run_sweep(prob, n_lr, n_mom, steps), repeats=repeats, max_s=60.0)
        sw = t.pop("result")
        print(json.dumps({**t, "chunk": sw.meta["chunk"], "devices": sw.meta["devices"]}))
        return
    base_rss, base_peak = rss_bytes(), peak_rss_bytes()
    t0 = time.perf_counter()
    if spec == "sweep":
        sw = run_sweep(prob, n_lr, n_mom, steps)
        finite, extra = int(np.isfinite(sw.final_loss).sum()), {"chunk": sw.meta["chunk"]}
    else:
        lr, mom = settings(n_lr, n_mom)
        losses = optax_chunked(optax_runner(x, y, steps, False), lr, mom, OPTAX_CHUNK)
        finite, extra = int(np.isfinite(losses).sum()), {"chunk": OPTAX_CHUNK}
    wall = time.perf_counter() - t0
    print(json.dumps({"workload": spec, "settings": n_lr * n_mom, "steps": steps, "wall_s": wall,
                      "baseline_rss_bytes": base_rss, "baseline_peak_rss_bytes": base_peak,
                      "peak_rss_bytes": peak_rss_bytes(), "finite": finite, **extra}))


def child_argv(spec: str, n_lr: int, n_mom: int, steps: int, cpu_devices: str, repeats: int = 1) -> list[str]:
    """:func:`run_child`'s arguments for this module in child mode."""
    return ["-m", __spec__.name, "--child", spec, "--lrs-b", str(n_lr), "--momenta-b", str(n_mom),
            "--steps-b", str(steps), "--cpu-devices", cpu_devices, "--repeats", str(repeats)]


def peak_memory(spec: str, n_lr: int, n_mom: int, steps: int, part: str, cpu_devices: str) -> dict:
    out = run_child(child_argv(spec, n_lr, n_mom, steps, cpu_devices))
    out.update(part=part, workload=spec, target_bytes=PEAK_TARGET,
               method="fresh subprocess, first call (compile included); baseline after importing jax and landscape; "
               "peak = VmHWM at the end")
    if "peak_rss_bytes" in out:
        out["meets_target"] = out["peak_rss_bytes"] < PEAK_TARGET
    return out


def time_cli(n_lr: int, n_mom: int, steps: int) -> dict:
    """Wall time of the CLI command (a fresh process: imports, compile, sweep, CSV and PNG included)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "landscape", "sweep", "--problem", "seed-regression", "--optimizer", "sgd",
               "--steps", str(steps), "--grid", f"lr=log:{LR_RANGE[0]:g}:{LR_RANGE[1]:g}:{n_lr}",
               "--grid", f"momentum=lin:{MOMENTUM_RANGE[0]:g}:{MOMENTUM_RANGE[1]:g}:{n_mom}",
               "--csv", "s.csv", "--out", "s.png"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        shown = "landscape " + " ".join(cmd[3:])
        if proc.returncode != 0:
            return {"command": shown, "error": proc.stderr.strip()[-2000:]}
        return {"command": shown, "wall_s": wall, "csv_bytes": (Path(tmp) / "s.csv").stat().st_size,
                "png_bytes": (Path(tmp) / "s.png").stat().st_size if (Path(tmp) / "s.png").exists() else None}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m landscape.bench.sweep_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--lrs-a", type=int, help="(a) learning rates; default 100 (30 with --quick)")
    p.add_argument("--momenta-a", type=int, help="(a) momenta; default 100 (30 with --quick)")
    p.add_argument("--steps-a", type=int, default=1000)
    p.add_argument("--lrs-b", type=int, help="(b) learning rates; default 1000 (100 with --quick)")
    p.add_argument("--momenta-b", type=int, help="(b) momenta; default 1000 (100 with --quick)")
    p.add_argument("--steps-b", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3, help="steady-state repeats (median reported)")
    p.add_argument("--torch-settings", type=int, help="settings timed with the torch loop (default 5 for (a), 20 "
                   "for (b); 2 and 5 with --quick)")
    p.add_argument("--no-cli", action="store_true", help="skip timing the landscape sweep CLI")
    add_training_arguments(p, "smoke test: small grids", "skip the chunk-size diagnostics")
    args = p.parse_args(argv)
    set_cpu_devices(args.cpu_devices)
    q = args.quick
    n_lr_b, n_mom_b = args.lrs_b or (100 if q else 1000), args.momenta_b or (100 if q else 1000)
    if args.child:
        return child(args.child, n_lr_b, n_mom_b, args.steps_b, args.repeats)
    parts = {"a": (args.lrs_a or (30 if q else 100), args.momenta_a or (30 if q else 100), args.steps_a),
             "b": (n_lr_b, n_mom_b, args.steps_b)}
    k_torch = {"a": args.torch_settings or (2 if q else 5), "b": args.torch_settings or (5 if q else 20)}
    repeats = 2 if q and args.repeats == 3 else args.repeats
    tag, warnings = start_run(args)
    torch, torch_skipped = torch_peer(args)
    optax, optax_skipped = peer("optax", args.no_optax)
    prob, x, y = problem_and_data()
    n_samples = len(x)
    dtype = str(run_sweep(prob, 2, 2, 2).final_loss.dtype)  # initialises the backend before timing
    print(f"device: {jax.devices()}  tag: {tag}  dtype: {dtype}  problem: {prob.name} (mse, {n_samples} samples)"
          f"  (--cpu-devices {args.cpu_devices})")
    for part, (a, b, s) in parts.items():
        print(f"({part}) {a} lrs in logspace(-3, 0) × {b} momenta in linspace(0, 0.99) = {a * b:,} settings × {s} steps")
    print(f"torch: {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else torch_skipped}; "
          f"optax: {optax.__version__ if optax else optax_skipped}")
    sgemm = sgemm_roofline(1024 if q else 2048)
    print(f"SGEMM: jax {sgemm['jax']['gflops']:.1f} GFLOP/s, numpy {sgemm['numpy']['gflops']:.1f} GFLOP/s")

    rows, sweeps, extra = [], {}, {}

    def add(part, workload, t, *, s_per_setting=None, **more):
        n_lr, n_mom, steps = parts[part]
        n = n_lr * n_mom
        s_per_setting = s_per_setting or t["median_s"] / n
        row = {"part": part, "workload": workload, "settings": n, "steps": steps, "device": tag, "dtype": "float32",
               "compile_s": t.get("compile_s"), "steady_s": t.get("median_s"), "first_s": t.get("first_s"),
               "times_s": t.get("times_s"), "s_per_setting": s_per_setting, "settings_per_s": 1 / s_per_setting,
               "setting_steps_per_s": steps / s_per_setting,
               "useful_gflops": FLOPS_PER_SAMPLE_STEP * n_samples * steps / s_per_setting / 1e9, **peak_fields(t),
               **more}
        row["roofline_frac"] = row["useful_gflops"] / sgemm["gflops"]
        rows.append(row)
        print(f"  ({part}) {workload:<28} {row['steady_s'] or 0:.4g} s  ({row['compile_s'] or 0:.3g} s compile)  "
              f"{row['settings_per_s']:.3g} settings/s" + (f"  max rel err {more['max_rel_err']:.1e}"
                                                          if more.get("max_rel_err") is not None else ""), flush=True)
        return row

    for part, (n_lr, n_mom, steps) in parts.items():
        n = n_lr * n_mom
        lr, mom = settings(n_lr, n_mom)
        t = timed(lambda: run_sweep(prob, n_lr, n_mom, steps), repeats=repeats, max_s=60.0)
        sw = sweeps[part] = t.pop("result")
        add(part, "landscape.sweep", t, chunk=sw.meta["chunk"], devices=sw.meta["devices"],
            diverged=int((sw.status == 2).sum()),
            note=f"settings sharded over {sw.meta['devices']} {jax.default_backend()} devices"
            if sw.meta["devices"] > 1 else None)
        if part == "a" and jax.default_backend() == "cpu" and sw.meta["devices"] > 1:
            one = run_child(child_argv("sweep-timed", n_lr, n_mom, steps, "1", repeats))
            if "error" in one:
                warnings.append(f"landscape.sweep on 1 CPU device failed: {one['error'][-300:]}")
            else:
                add(part, "landscape.sweep, 1 CPU device", one, chunk=one["chunk"], devices=one["devices"],
                    note="a fresh process with JAX's default single CPU device (XLA splits each kernel over the "
                         "cores instead)")
        if part == "a" and not args.no_cli:
            cli = extra["cli"] = time_cli(n_lr, n_mom, steps)
            if "error" in cli:
                warnings.append(f"landscape sweep CLI failed: {cli['error'][-300:]}")
            else:
                add(part, "landscape sweep (CLI)", {"median_s": cli["wall_s"], "first_s": cli["wall_s"],
                                                    "times_s": [cli["wall_s"]]},
                    note="one fresh process: imports, compile, sweep, CSV and PNG; compile not separated")
        skipped = dict(part=part, settings=n, steps=steps, device=tag, dtype="float32")
        if optax is None:
            rows.append(skipped_row("optax+vmap final", optax_skipped, **skipped))
        else:
            chunk = n if n <= OPTAX_CHUNK else OPTAX_CHUNK
            fn = optax_runner(x, y, steps, False)
            t = timed(lambda: optax_chunked(fn, lr, mom, chunk), repeats=repeats, max_s=60.0)
            err = compare(t.pop("result"), sw)
            add(part, "optax+vmap final", t, chunk=chunk, max_rel_err=err["final_loss"], agreement=err,
                ok=err["final_loss"] is not None and err["final_loss"] < TOLERANCE,
                note=None if chunk == n else f"{-(-n // chunk)} calls of {chunk} settings (last one padded)")
        if torch is None:
            rows.append(skipped_row("torch loop (seed 000)", torch_skipped, **skipped))
        else:
            idx = torch_indices(n, k_torch[part])
            t = time_torch(torch, x, y, lr, mom, idx, steps, lean=False)
            res = t.pop("result")
            ok = [(r, i) for r, i in zip(res, idx) if sw.status.ravel()[i] != 2 and np.isfinite(r["final_loss"])]
            err = max_rel_err([r["final_loss"] for r, _ in ok], [sw.final_loss.ravel()[i] for _, i in ok]) if ok else None
            add(part, "torch loop (seed 000)", {**t, "compile_s": None}, s_per_setting=t["s_per_setting"],
                max_rel_err=err, ok=err is None or err < TOLERANCE, settings_timed=len(idx),
                torch_threads=torch.get_num_threads(), note=f"timed {len(idx)} settings, extrapolated to {n:,}")

    diagnostics = {}
    if not (args.no_diagnostics or q):
        n_lr, n_mom, steps = parts["b"]
        lr, mom = settings(n_lr, n_mom)
        budget_runs = []
        for budget in (2**22, 2**24, 2**26):
            t = timed(lambda: run_sweep(prob, n_lr, n_mom, steps, memory_budget=budget), repeats=1, warmup=1)
            chunk = t.pop("result").meta["chunk"]
            budget_runs.append({"memory_budget": budget, "chunk": chunk, "first_s": t["first_s"], "s": t["median_s"]})
            print(f"  (b) landscape.sweep memory_budget={budget >> 20} MiB: chunk {chunk}, {t['median_s']:.3g} s")
        diagnostics["landscape_memory_budget"] = budget_runs
        if optax is not None:
            optax_runs = []
            fn = optax_runner(x, y, steps, False)
            for chunk in (2**14, 2**18):
                t = timed(lambda: optax_chunked(fn, lr, mom, chunk), repeats=1, warmup=1)
                optax_runs.append({"chunk": chunk, "first_s": t["first_s"], "s": t["median_s"]})
                print(f"  (b) optax+vmap chunk {chunk}: {t['median_s']:.3g} s")
            diagnostics["optax_chunk"] = optax_runs

    for r in rows:
        base = next(o for o in rows if o["part"] == r["part"] and o["workload"] == "landscape.sweep")
        if r is not base and not r.get("skipped"):
            r["speedup"] = base["settings_per_s"] / r["settings_per_s"]
    targets = {}
    for r in rows:
        if r["workload"] == "torch loop (seed 000)":
            targets[f"({r['part']}) vs torch loop ≥ 2000×"] = ratio_target(r, "speedup", 2000)
        if r["workload"] == "optax+vmap final":
            targets[f"({r['part']}) vs optax+vmap ≥ 1× (issue 4)"] = ratio_target(r, "speedup", 1)
            targets[f"({r['part']}) vs optax+vmap ≥ 1.5× (issue 6)"] = ratio_target(r, "speedup", 1.5)
    peaks = []
    if not args.no_peak:
        specs = [("sweep", "b"), *([("optax", "b")] if optax is not None else []), ("sweep", "a")]
        peaks = [peak_memory(spec, *parts[part], part, args.cpu_devices) for spec, part in specs]
        pk = peaks[0]
        if "peak_rss_bytes" in pk:
            targets["(b) peak memory < 4 GB"] = {"value": pk["peak_rss_bytes"], "met": pk["meets_target"]}

    print(f"\n{prob.name} (mse, {n_samples} samples), SGD lr × momentum sweeps, {tag}, float32; SGEMM roofline "
          f"{sgemm['gflops']:.1f} GFLOP/s; speedup = landscape.sweep settings/s ÷ the row's, same part")
    print_table(rows, [("part", "part", ""), ("workload", "workload", ""), ("settings", "settings", "d"),
                       ("steps", "steps", "d"), ("compile_s", "compile s", ".3f"), ("steady_s", "steady s", ".4g"),
                       ("settings_per_s", "settings/s", ".3g"), ("setting_steps_per_s", "steps·settings/s", ".3g"),
                       ("useful_gflops", "GFLOP/s", ".3g"), ("roofline_frac", "of SGEMM", ".1%"),
                       ("speedup", "speedup", ".3g"), ("max_rel_err", "max rel err", ".1e")])
    if "cli" in extra and "error" in extra["cli"]:
        print(f"  note: CLI: {extra['cli']['error'][:300]}")
    print_notes_and_targets(rows, targets, lambda row: f"({row['part']}) {row['workload']}")
    for pk in peaks:
        if "error" in pk:
            print(f"peak memory ({pk['part']}) {pk['workload']}: FAILED: {pk['error'][-500:]}")
        else:
            print(f"peak memory ({pk['part']}) {pk['workload']:<6} {pk['settings']:>9,} settings × {pk['steps']} steps: "
                  f"{pk['peak_rss_bytes'] / 2**20:6.0f} MiB peak RSS (after import {pk['baseline_rss_bytes'] / 2**20:.0f}"
                  f" MiB), chunk {pk['chunk']}, {pk['wall_s']:.2f} s wall incl. compile")
    finish_warnings(warnings, [f"({r['part']}) {r['workload']}" for r in rows if r.get("ok") is False],
                    "landscape.sweep", TOLERANCE)

    result = {"benchmark": "sweep", "problem": f"{prob.name} (mse)", "n_samples": n_samples, "dtype": dtype,
              "optimizer": "SGD(lr, momentum), torch semantics",
              "parts": {k: {"lrs": [a, "logspace", *LR_RANGE], "momenta": [b, "linspace", *MOMENTUM_RANGE],
                            "settings": a * b, "steps": s} for k, (a, b, s) in parts.items()},
              "flop_count": FLOP_COUNT, "tolerance": TOLERANCE, "tag": tag, "args": vars(args),
              "devices": [str(d) for d in jax.devices()],
              "environment": environment(), "sgemm": sgemm, "rows": rows, "cli": extra.get("cli"),
              "targets": targets, "peak_memory": peaks, "diagnostics": diagnostics, "warnings": warnings}
    save_result(args, "sweep", tag, result)
    return result


if __name__ == "__main__":
    main()
