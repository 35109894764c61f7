"""Fast start: wall time of ``landscape map`` for a 101² map as a fresh process, with and without a warm cache.

    python -m landscape.bench.startup            # import ×5, --no-cache ×2, first process, second process ×3
    python -m landscape.bench.startup --quick    # import ×2, --no-cache ×1, first, second ×1

Measured, each as a fresh process started from this one (which has imported landscape, but not started JAX's
backend, before the timed processes; a child's peak RSS from ``wait4`` is at least this process's resident memory,
about that of ``import landscape`` alone):

- ``python -c "import landscape"`` (median of repeats, after one untimed warm-up that fills the OS file cache);
- ``landscape map --problem seed-regression --x bias:-5:8:101 --y weight:-5:8:101 --out <tmp>/map.png``
  with ``--no-cache`` (twice: the persistent compilation cache off, so every process compiles);
- the same command with ``LANDSCAPE_CACHE_DIR`` set to a fresh empty directory (first process: compiles and
  fills the cache) and then again with the same directory (second process: loads the compiled code).

Reported: wall time, CPU time and peak RSS (``wait4``) of each process, the map time the command prints, and the
cache directory's size after each run. Target (issue 6): the second process under 3 s wall on CPU.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from landscape.bench.common import add_output_arguments, busy_warning, format_target, save_result, short_device_tag

TARGET_S = 3.0
MAP_ARGS = ["map", "--problem", "seed-regression", "--x", "bias:-5:8:101", "--y", "weight:-5:8:101"]


def landscape_command() -> list[str]:
    """The ``landscape`` console script next to this Python, else ``python -m landscape``."""
    script = Path(sys.executable).parent / "landscape"
    return [str(script)] if script.exists() else [sys.executable, "-m", "landscape"]


def run_process(cmd: list[str], env: dict | None = None, timeout: float = 300.0) -> dict:
    """Run ``cmd`` as a fresh process: wall time, CPU time and peak RSS of that process alone (``wait4``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    result = {"wall_s": wall, "rc": proc.returncode, "cpu_s": usage.ru_utime + usage.ru_stime,
              "peak_rss_bytes": peak, "stdout": stdout.strip()[-500:]}
    if wall > timeout:
        result["error"] = f"timed out after {timeout:.0f} s"
    elif proc.returncode != 0:
        result["error"] = (stderr.strip() or stdout.strip())[-2000:]
    m = re.search(r"points, ([\d.]+) s\)", stdout)
    if m:
        result["map_s"] = float(m.group(1))  # the loss_map time the command prints (compile included)
    return result


def dir_size(path: Path) -> dict:
    files = [p for p in path.rglob("*") if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m landscape.bench.startup", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, help="timed imports (default 5; 2 with --quick)")
    p.add_argument("--second", type=int, help="second-process runs (default 3; 1 with --quick); median reported")
    p.add_argument("--no-cache-runs", type=int, help="--no-cache runs (default 2; 1 with --quick)")
    add_output_arguments(p, "fewer repeats")
    args = p.parse_args(argv)
    q = args.quick
    repeats = args.repeats or (2 if q else 5)
    n_second = args.second or (1 if q else 3)
    n_nocache = args.no_cache_runs or (1 if q else 2)
    load_start = os.getloadavg()

    base = landscape_command()
    warnings, runs, rows = [], {}, []
    with tempfile.TemporaryDirectory(prefix="landscape-startup-") as tmp:
        tmp = Path(tmp)
        cmd = base + MAP_ARGS + ["--out", str(tmp / "map.png")]
        shown = "landscape " + " ".join(MAP_ARGS + ["--out", "<tmp>/map.png"])

        def env_with(cache_dir: Path) -> dict:
            return {**os.environ, "LANDSCAPE_CACHE_DIR": str(cache_dir)}

        imp = [sys.executable, "-c", "import landscape"]
        run_process(imp)  # warm-up: the OS file cache, not timed
        runs["import"] = [run_process(imp) for _ in range(repeats)]

        runs["no_cache"] = []
        for k in range(n_nocache):
            d = tmp / f"nocache-{k}"
            d.mkdir()
            r = run_process(base + ["--no-cache"] + cmd[len(base):], env=env_with(d))
            r["cache_after"] = dir_size(d)
            runs["no_cache"].append(r)

        cache = tmp / "cache"
        cache.mkdir()
        first = run_process(cmd, env=env_with(cache))
        first["cache_after"] = dir_size(cache)
        runs["first"] = first
        runs["second"] = []
        for _ in range(n_second):
            r = run_process(cmd, env=env_with(cache))
            r["cache_after"] = dir_size(cache)
            runs["second"].append(r)

    def med(key, rs):
        vals = [r[key] for r in rs if key in r and "error" not in r]
        return statistics.median(vals) if vals else None

    errors = [f"{name}: {r['error'][-500:]}" for name, rs in runs.items()
              for r in (rs if isinstance(rs, list) else [rs]) if "error" in r]
    second_s = med("wall_s", runs["second"])

    def row(workload, rs, **extra):
        rs = rs if isinstance(rs, list) else [rs]
        ok = [r for r in rs if "error" not in r]
        wall = med("wall_s", rs)
        out = {"workload": workload, "sizes": extra.pop("sizes", "101²"), "device": args.tag or "-", "dtype": "float32",
               "compile_s": None, "steady_s": wall, "wall_s": wall, "times_s": [r["wall_s"] for r in rs],
               "first_s": rs[0]["wall_s"] if rs else None, "runs": len(rs), "failed": len(rs) - len(ok),
               "cpu_s": med("cpu_s", rs), "map_s": med("map_s", rs), "peak_rss_bytes": max(
                   (r["peak_rss_bytes"] for r in ok), default=None), **extra}
        if wall is not None and second_s and "ratio" not in out:
            out["ratio"] = wall / second_s  # how many times longer than the second process
        rows.append(out)
        return out

    row('python -c "import landscape"', runs["import"], sizes="-", ratio=None)
    row("landscape map (--no-cache)", runs["no_cache"])
    row("landscape map (first process, empty cache)", runs["first"])
    row("landscape map (second process, same cache)", runs["second"], ratio=None)

    cache_used = runs["first"].get("cache_after", {}).get("files", 0) > 0
    if not cache_used:
        warnings.append("the compilation cache directory stayed empty after the first process: the CLI did not "
                        "use LANDSCAPE_CACHE_DIR, so first and second process both compiled")
    if errors:
        warnings.append("failed runs: " + "; ".join(errors))
    targets = {}
    if second_s is not None:
        targets[f"second-process landscape map 101² < {TARGET_S:g} s wall (issue 6)"] = {
            "value": second_s, "met": second_s < TARGET_S, "unit": "s"}

    warnings += [f"at end: {w}" for w in [busy_warning()] if w]
    if max(load_start[0], os.getloadavg()[0]) >= 0.5 * (os.cpu_count() or 1):
        warnings.append(f"load average {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end on "
                        f"{os.cpu_count()} CPUs: wall times are noisy")
    tag = args.tag
    if tag is None:
        tag = short_device_tag()  # starts JAX's backend: only after the timed processes
        for r in rows:
            r["device"] = tag

    print(f"{shown}\n  as fresh processes; cache used: {cache_used}")
    for r in rows:
        print(f"  {r['workload']:<46} {r['wall_s'] or float('nan'):6.2f} s wall  (runs {r['runs']}, cpu "
              f"{r['cpu_s'] or float('nan'):.2f} s, peak {(r['peak_rss_bytes'] or 0) / 2**20:.0f} MiB"
              + (f", map {r['map_s']:.2f} s" if r.get("map_s") is not None else "") + ")")
    for name, tgt in targets.items():
        print(f"  target {format_target(name, tgt)}")
    for w in warnings:
        print(f"WARNING: {w}")
    result = {"benchmark": "startup", "command": shown, "map_points": 101 * 101, "tag": tag, "rows": rows,
              "runs": runs, "cache_used": cache_used, "targets": targets,
              "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
              "loadavg": {"start": load_start, "end": os.getloadavg()}, "args": vars(args), "warnings": warnings}
    save_result(args, "startup", tag, result)
    return result


if __name__ == "__main__":
    main()
