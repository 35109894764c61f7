"""Big jobs stay cheap: peak memory and wall time of a huge map drawn by the CLI, and of the same sweep from the CLI
and from the API, each as a fresh process.

    python -m landscape.bench.memory_use            # a 16384² map; 5000 × 5000 = 25M settings
    python -m landscape.bench.memory_use --quick    # a 4096² map; 1000 × 1000 settings

Measured (peak RSS from ``wait4``, wall time from this process; the compilation cache warm after a first 101² map):

- ``landscape map --problem seed-regression --num N``: wall, peak, the map's own time (printed by the command), and
  what drawing and saving add: wall − map time − (the same for a 101² map: start-up and a small figure);
- ``landscape sweep`` of SGD over lr × momentum (5 steps, PNG written) against ``ls.sweep`` of the same grid in a
  script: peak of each.

Targets (issue 13): the 16384² map under 2 GB peak, drawing and saving it within 3 s more than a 101² map's; the
CLI sweep's peak within 15 % of the API's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from landscape.bench.common import (add_output_arguments, busy_warning, print_notes_and_targets, print_table,
                                    save_result, short_device_tag)
from landscape.bench.startup import landscape_command, run_process

MAP_PEAK_TARGET = 2e9  # bytes, the 16384² map
DRAW_TARGET_S = 3.0  # drawing and saving a huge map beyond what a 101² map's figure takes
SWEEP_RATIO_TARGET = 1.15  # CLI peak ÷ API peak
STEPS = 5
API_SWEEP = ("import sys, numpy as np, landscape as ls; n = int(sys.argv[1]); "
             "ls.sweep(ls.problems.seed_regression(), ls.optim.SGD, {steps}, lr=np.logspace(-3, 0, n), "
             "momentum=np.linspace(0, 0.99, n), progress=False)")


def map_command(n: int, out: Path) -> list[str]:
    return ["map", "--problem", "seed-regression", "--num", str(n), "--out", str(out), "--quiet"]


def sweep_command(n: int, out: Path) -> list[str]:
    return ["sweep", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", str(STEPS), "--grid",
            f"lr=log:1e-3:1:{n}", "--grid", f"momentum=lin:0:0.99:{n}", "--out", str(out), "--quiet"]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m landscape.bench.memory_use", description=__doc__.split("\n\n")[0])
    p.add_argument("--map-size", type=int, help="points per side of the big map (default 16384; 4096 with --quick)")
    p.add_argument("--sweep-size", type=int, help="values per swept axis (default 5000; 1000 with --quick)")
    add_output_arguments(p, "smaller jobs")
    args = p.parse_args(argv)
    n_map = args.map_size or (4096 if args.quick else 16384)
    n_sweep = args.sweep_size or (1000 if args.quick else 5000)
    base = landscape_command()
    warnings, rows, runs = [], [], {}
    with tempfile.TemporaryDirectory(prefix="landscape-memory-") as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "LANDSCAPE_CACHE_DIR": str(tmp / "cache")}
        run_process(base + map_command(101, tmp / "warm.png"), env=env)  # fills the compilation cache
        runs["small_map"] = run_process(base + map_command(101, tmp / "small.png"), env=env)
        runs["big_map"] = run_process(base + map_command(n_map, tmp / "big.png"), env=env)
        runs["cli_sweep"] = run_process(base + sweep_command(n_sweep, tmp / "sweep.png"), env=env)
        runs["api_sweep"] = run_process([sys.executable, "-c", API_SWEEP.format(steps=STEPS), str(n_sweep)], env=env)
    errors = [f"{name}: {r['error'][-300:]}" for name, r in runs.items() if "error" in r]
    tag = args.tag or short_device_tag()
    small, big, cli, api = (runs[k] for k in ("small_map", "big_map", "cli_sweep", "api_sweep"))

    def row(workload, r, sizes, **extra):
        rows.append({"workload": workload, "sizes": sizes, "device": tag, "dtype": "float32", "compile_s": None,
                     "steady_s": r.get("wall_s"), "wall_s": r.get("wall_s"), "map_s": r.get("map_s"),
                     "peak_rss_bytes": r.get("peak_rss_bytes") if "error" not in r else None, **extra})

    targets = {}
    draw_s = None
    if "map_s" in big and "map_s" in small:
        draw_s = (big["wall_s"] - big["map_s"]) - (small["wall_s"] - small["map_s"])
        targets[f"landscape map {n_map}²: drawing and saving ≤ a 101² map's + {DRAW_TARGET_S:g} s"] = {
            "value": draw_s, "met": draw_s <= DRAW_TARGET_S, "unit": "s"}
    if "error" not in big and n_map >= 16384:
        targets[f"landscape map {n_map}² peak memory < {MAP_PEAK_TARGET / 1e9:g} GB"] = {
            "value": big["peak_rss_bytes"], "met": big["peak_rss_bytes"] < MAP_PEAK_TARGET}
    ratio = cli["peak_rss_bytes"] / api["peak_rss_bytes"] if not errors else None
    if ratio is not None:
        targets[f"landscape sweep peak ≤ {SWEEP_RATIO_TARGET:g} × ls.sweep's"] = {
            "value": ratio, "met": ratio <= SWEEP_RATIO_TARGET, "unit": "×"}
    row("landscape map 101² (fresh process)", small, "101²")
    row("landscape map (fresh process)", big, f"{n_map}²", draw_s=draw_s)
    row("landscape sweep (fresh process)", cli, f"{n_sweep ** 2:,} settings × {STEPS} steps", ratio=ratio)
    row("ls.sweep in a script (fresh process)", api, f"{n_sweep ** 2:,} settings × {STEPS} steps")
    if errors:
        warnings.append("failed runs: " + "; ".join(errors))
    warnings += [w for w in [busy_warning()] if w]

    shown = [{**r, "peak_mib": None if r["peak_rss_bytes"] is None else r["peak_rss_bytes"] / 2**20} for r in rows]
    print_table(shown, [("workload", "workload", ""), ("sizes", "sizes", ""), ("wall_s", "wall s", ".2f"),
                        ("peak_mib", "peak MiB", ".0f"), ("map_s", "map s", ".2f"), ("draw_s", "draw s", ".2f"),
                        ("ratio", "peak ÷ API", ".3f")])
    print_notes_and_targets(rows, targets)
    for w in warnings:
        print(f"WARNING: {w}")
    result = {"benchmark": "memory", "tag": tag, "rows": rows, "runs": runs, "targets": targets,
              "python": sys.version.split()[0], "cpu_count": os.cpu_count(), "args": vars(args), "warnings": warnings}
    save_result(args, "memory", tag, result)
    return result


if __name__ == "__main__":
    main()
