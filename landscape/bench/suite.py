"""``landscape bench``: run the benchmark suite and print one table.

Each workload (:data:`WORKLOADS`: modules of this package) runs as a fresh process with ``--json`` (and
``--quick``), so it measures its own compile times and peak memory; this module merges their JSON into one suite
JSON (``--json``, else a new ``landscape-bench-<tag>[-quick]-<date>.json`` in the current directory), one table
(stdout, and a Markdown copy next to the JSON), and the issues' targets.

The roofline comes from :mod:`landscape.bench.roofline`, run first in the same suite run on the same device: a
float32 SGEMM (FLOP/s) and a device-to-device copy (bytes read + written per second). Each workload's "of
roofline" is its useful FLOP/s over the SGEMM's or its compulsory bytes/s over the copy's, whichever bounds it (the
classic roofline: memory-bound when its flops per byte are below the SGEMM/copy ridge).

The parent process never starts JAX's backend: it holds no accelerator the children need.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from landscape._files import atomic_write_text
from landscape.bench.common import format_target, new_result_path, write_json

SUITE = ("grid", "networks", "trajectories", "sweep", "startup", "memory")
# How each workload runs: the command its flags follow (the suite's names stay those of the result files and tables)
WORKLOADS = {name: [sys.executable, "-m", f"landscape.bench.{module}"] for name, module in (
    ("roofline", "roofline"), ("grid", "map_speed"), ("networks", "network_speed"), ("trajectories", "run_speed"),
    ("sweep", "sweep_speed"), ("startup", "startup"), ("memory", "memory_use"))}
# extra flags for --quick: the workloads' own --quick plus the cuts that bring the suite to about a minute on 2 cores
QUICK_FLAGS = {"roofline": [], "grid": [], "networks": ["--no-sweep"], "trajectories": ["--no-diagnostics"],
               "sweep": ["--no-cli"], "startup": [], "memory": []}
TIMEOUT_S = {True: 600.0, False: 3600.0}  # per workload, quick / full

# Compulsory device-memory traffic of each workload (the memory side of the roofline), float32:
MAP_VALUE_BYTES = 4  # a map writes one value per point (the data is read once and stays in cache)
STATE_RW_BYTES = 32  # SGD with momentum on (weight, bias): 4 floats of state read and written every step
RECORD_BYTES = 4  # one loss per recorded step
BYTES_MODEL = ("maps: 4 B written per point (networks: none counted, compute-bound); runs and sweeps: the optimizer "
               "state (weight, bias and their momentum buffers, 16 B per setting) read and written every step (32 B "
               "per setting-step: a scan carries it through device memory) + 4 B per recorded loss")
FLOPS_MODEL = ("maps: 5 useful flops per point per sample; networks: the forward pass's, 2·in·out per sample per "
               "dense layer and 2·H'·W'·Cin·Cout·k² per k×k convolution; runs and sweeps: 9 per setting per step per "
               "sample (the workloads' flop_count)")


class BenchError(ValueError):
    """A user error: one line on stderr, exit code 2."""


# ------------------------------------------------------------------------------------------------ parsing, checking


def parse_only(text: str) -> list[str]:
    """``"sweep,grid"`` → ``["grid", "sweep"]`` (suite order); unknown or empty → :class:`BenchError`."""
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        raise BenchError(f"--only {text!r}: unknown benchmark {unknown[0]!r}; expected a comma-separated subset of "
                         f"{', '.join(SUITE)}")
    if not names:
        raise BenchError(f"--only {text!r}: no benchmark named; expected a comma-separated subset of {', '.join(SUITE)}")
    return [n for n in SUITE if n in names]


def _only_type(text: str) -> list[str]:
    try:
        return parse_only(text)
    except BenchError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def check_writable(path: Path) -> Path:
    """Raise :class:`BenchError` unless a file can be created at ``--json`` ``path`` (tried for real, then removed)."""
    path = Path(path)
    what = f"--json {str(path)!r}"
    if path.is_dir():
        raise BenchError(f"{what} is a directory; give a file path such as {path / 'bench.json'}")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise BenchError(f"{what}: directory {str(directory)!r} does not exist")
    check_directory(directory, what)
    if path.exists() and not os.access(path, os.W_OK):
        raise BenchError(f"{what}: not writable")
    return path


def check_directory(directory: Path, what: str) -> None:
    """Raise :class:`BenchError` (about ``what``) unless a file can be created in ``directory``."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".landscape-bench.", suffix=".probe")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise BenchError(f"{what}: not writable ({err.strerror or err})") from None


def check_tag(tag: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", tag):
        raise BenchError(f"--tag {tag!r}: use letters, digits, '.', '_' and '-' (it names the result file)")
    return tag


# ------------------------------------------------------------------------------------------------ running


def run_workload(command: list[str], json_path: Path, flags: list[str], log_path: Path, timeout: float) -> dict:
    """Run ``command --json json_path *flags`` as a fresh process; its JSON, or ``{"error": ...}``."""
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run([*command, "--json", str(json_path), *flags], stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout, check=False)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    wall = time.perf_counter() - t0
    tail = log_path.read_text(errors="replace").strip()[-3000:]
    if rc is None:
        return {"error": f"timed out after {timeout:.0f} s", "log_tail": tail, "suite_wall_s": wall}
    if rc != 0:
        return {"error": f"exit code {rc}: {_last_line(tail)}", "log_tail": tail, "suite_wall_s": wall}
    try:
        data = json.loads(json_path.read_text())
    except (OSError, ValueError) as err:
        return {"error": f"no result JSON ({err})", "log_tail": tail, "suite_wall_s": wall}
    data["suite_wall_s"] = wall
    return data


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1][-300:] if lines else "(no output)"


# ------------------------------------------------------------------------------------------------ merging


def _peak_index(name: str, data: dict) -> dict:
    """``(workload, sizes) → (peak RSS, peak minus RSS after import)`` from a workload's fresh-process
    ``peak_memory`` entries."""
    out = {}
    peaks = data.get("peak_memory") or []
    peaks = [peaks] if isinstance(peaks, dict) else peaks
    for pk in peaks:
        if "peak_rss_bytes" not in pk:
            continue
        figures = (pk["peak_rss_bytes"], _added(pk["peak_rss_bytes"], pk.get("baseline_rss_bytes")))
        if name == "trajectories":
            kind, _, every = str(pk.get("workload", "")).partition(":")
            steps = pk.get("steps") or data.get("steps")
            if kind == "landscape":
                key = f"landscape.run every={every}"
            else:
                key = "optax+vmap history" if every == "1" else "optax+vmap final"
            out[(key, _run_sizes(pk.get("settings"), steps))] = figures
        elif name == "sweep":
            key = "landscape.sweep" if pk.get("workload") == "sweep" else "optax+vmap final"
            out[(key, _run_sizes(pk.get("settings"), pk.get("steps"), pk.get("part")))] = figures
    return out


def _added(peak, before):
    return peak - before if peak is not None and before is not None else None


def _run_sizes(settings, steps, part=None) -> str:
    text = f"{settings:,}×{steps}" if isinstance(settings, int) else f"{settings}×{steps}"
    return f"({part}) {text}" if part else text


def _base_row(bench: str, r: dict, **fields) -> dict:
    row = {"bench": bench, "workload": r.get("workload", "?"), "device": r.get("device"), "dtype": r.get("dtype"),
           "compile_s": r.get("compile_s"), "steady_s": r.get("steady_s"), "first_s": r.get("first_s"),
           "throughput": None, "unit": None, "ratio": None, "gflops": r.get("useful_gflops"), "gbytes_per_s": None,
           "peak_rss_bytes": r.get("peak_rss_bytes"), "peak_added_bytes": r.get("peak_added_bytes"),
           "peak_fresh_process": False, "diagnostic": bool(r.get("diagnostic")), "skipped": r.get("skipped"),
           "max_rel_err": r.get("max_rel_err"), "ok": r.get("ok"), "note": r.get("note")}
    row.update(fields)
    return row


def normalize(name: str, data: dict) -> list[dict]:
    """One workload's JSON → the suite's rows (same keys for every bench)."""
    if not data or "error" in data:
        return []
    rows, peaks = [], _peak_index(name, data)
    for r in data.get("rows", []):
        if name == "grid":
            throughput = r.get("points_per_s")
            row = _base_row(name, r, sizes=f"{r['size']}²" if r.get("size") else "-", throughput=throughput,
                            unit="points/s", ratio=r.get("speedup_same_size"),
                            bytes_per_unit=r.get("bytes_per_point", MAP_VALUE_BYTES))
        elif name in ("trajectories", "sweep"):
            steps = r.get("steps") or 1
            throughput = r.get("setting_steps_per_s")
            if name == "trajectories":
                records = r.get("records") or 1
                ratio = r.get("speedup_every1") if records > 2 else r.get("speedup_every_steps")
                sizes = _run_sizes(r.get("settings"), steps)
            else:
                records = 2  # the final loss
                ratio = r.get("speedup")
                sizes = _run_sizes(r.get("settings"), steps, r.get("part"))
            row = _base_row(name, r, sizes=sizes, throughput=throughput, unit="setting-steps/s", ratio=ratio,
                            bytes_per_unit=STATE_RW_BYTES + RECORD_BYTES * max(records - 1, 0) / steps)
            if (row["workload"], sizes) in peaks:  # a fresh process's figure counts only what the workload needs
                row["peak_rss_bytes"], row["peak_added_bytes"] = peaks[(row["workload"], sizes)]
                row["peak_fresh_process"] = True
        else:  # startup and any future workload: rows already in the suite's shape
            row = _base_row(name, r, sizes=r.get("sizes", "-"), throughput=r.get("throughput"), unit=r.get("unit"),
                            ratio=r.get("ratio"), bytes_per_unit=r.get("bytes_per_unit"),
                            peak_fresh_process=name in ("startup", "memory"))
        if row["throughput"] and row.get("bytes_per_unit"):
            row["gbytes_per_s"] = row["throughput"] * row["bytes_per_unit"] / 1e9
        rows.append(row)
    if name == "grid" and isinstance(data.get("peak_memory"), dict) and "peak_rss_bytes" in data["peak_memory"]:
        pk = data["peak_memory"]
        n, wall = pk.get("size"), pk.get("wall_s")
        points = pk.get("points") or (n * n if n else None)
        rows.append(_base_row(name, {"workload": "landscape.loss_map, fresh process", "device": data.get("tag"),
                                     "dtype": data.get("dtype")},
                              sizes=f"{n}²", steady_s=wall, peak_rss_bytes=pk["peak_rss_bytes"],
                              peak_added_bytes=_added(pk["peak_rss_bytes"], pk.get("baseline_rss_bytes")),
                              peak_fresh_process=True,
                              throughput=points / wall if points and wall else None, unit="points/s",
                              note="one call in a fresh process (peak memory run): import excluded, compile "
                              "included in the time"))
    return rows


def apply_roofline(rows: list[dict], roofline: dict | None) -> None:
    """Fill ``flop_frac``, ``mem_frac``, ``roofline_frac`` and ``bound`` from the suite's SGEMM and copy."""
    if not roofline or "error" in roofline:
        return
    peak_gflops = roofline["sgemm"]["gflops"]
    peak_gbps = roofline["copy"]["gbytes_per_s"]
    for row in rows:
        flop = row["gflops"] / peak_gflops if row.get("gflops") else None
        mem = row["gbytes_per_s"] / peak_gbps if row.get("gbytes_per_s") else None
        row["flop_frac"], row["mem_frac"] = flop, mem
        if flop is None and mem is None:
            continue
        # memory-bound ⇔ flops per byte below the ridge (SGEMM ÷ copy) ⇔ the bytes fraction is the larger one
        row["bound"] = "memory" if (mem or 0) > (flop or 0) else "compute"
        row["roofline_frac"] = max(flop or 0, mem or 0)


def collect_targets(results: dict, rows: list[dict], roofline: dict | None) -> dict:
    """The workloads' own targets (prefixed with their name) plus the issue's map targets computed here."""
    out = {}
    for name, data in results.items():
        for tname, tgt in (data.get("targets") or {}).items():
            out[f"{name}: {tname}"] = tgt
    for key, tgt in list(out.items()):  # a network's share of the SGEMM: judged on the table's roofline, as shown
        share = re.search(r"^networks: (\S+) .*≥ (\d+)% of the same-run SGEMM", key)
        row = share and next((r for r in rows if r["bench"] == "networks" and r.get("flop_frac") is not None
                              and r["workload"].startswith(f"{share.group(1)}: landscape.loss_map")), None)
        if row:
            out[key] = {**tgt, "value": row["flop_frac"], "met": row["flop_frac"] >= int(share.group(2)) / 100,
                        "of_workload_sgemm": tgt["value"]}
    if "grid" in results and not (results["grid"].get("targets")):
        lm = next((r for r in rows if r["bench"] == "grid" and r["workload"] == "landscape.loss_map"
                   and r["sizes"] == "4096²"), None)
        if lm is not None and lm.get("flop_frac") is not None:
            out["grid: loss_map 4096² ≥ 25 % of the SGEMM roofline (issue 6)"] = {
                "value": lm["flop_frac"], "met": lm["flop_frac"] >= 0.25, "unit": "fraction"}
        npb = next((r for r in rows if r["bench"] == "grid" and r["workload"] == "numpy broadcast rows"
                    and r["sizes"] == "4096²"), None)
        if npb is not None and npb.get("ratio"):
            out["grid: loss_map 4096² ≥ 10× NumPy broadcasting (issue 6)"] = {"value": npb["ratio"],
                                                                             "met": npb["ratio"] >= 10}
        fast = next((r for r in rows if r["bench"] == "grid" and "fast path" in r["workload"]
                     and r["sizes"] == "4096²" and r.get("throughput")), None)
        if fast is not None:
            out[f"grid: {fast['workload']} 4096² ≥ 1e9 points/s (issue 6)"] = {
                "value": fast["throughput"], "met": fast["throughput"] >= 1e9}
    return out


def merge(results: dict, roofline: dict | None) -> dict:
    """The workloads' JSON (``{bench: json}``, suite order) → ``{"rows", "targets", "warnings", "errors"}``."""
    rows = [row for name, data in results.items() for row in normalize(name, data)]
    apply_roofline(rows, roofline)
    warnings = [f"{name}: {w}" for name, data in ({"roofline": roofline or {}} | results).items()
                for w in data.get("warnings") or []]
    errors = {name: data["error"] for name, data in ({"roofline": roofline or {}} | results).items()
              if "error" in data}
    return {"rows": rows, "targets": collect_targets(results, rows, roofline), "warnings": warnings,
            "errors": errors}


# ------------------------------------------------------------------------------------------------ the table


def _si(value) -> str:
    if value is None:
        return "-"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _cell(row: dict, key: str) -> str:
    v = row.get(key)
    if key == "workload":
        return v + (" [diag]" if row.get("diagnostic") else "")
    if key == "throughput" and row.get("skipped"):
        return f"skipped ({row['skipped']})"
    if v is None or v == "":
        return "-"
    if key in ("compile_s", "steady_s"):
        return f"{v:.3g}"
    if key == "throughput":
        return f"{_si(v)} {row.get('unit') or ''}".strip()
    if key == "ratio":
        return f"{v:,.0f}×" if v >= 1000 else f"{v:.3g}×"
    if key in ("gflops", "gbytes_per_s"):
        return f"{v:.3g}"
    if key in ("roofline_frac", "flop_frac", "mem_frac"):
        return f"{v:.1%}" if v >= 0.01 else f"{100 * v:.2g}%"
    if key == "peak_rss_bytes":
        return f"{v / 2**20:.0f}" + ("*" if row.get("peak_fresh_process") else "")
    if key == "peak_added_bytes":
        return f"{v / 2**20:+.0f}"
    return str(v)


COLUMNS = [("bench", "bench"), ("workload", "workload"), ("sizes", "sizes"), ("device", "device"), ("dtype", "dtype"),
           ("compile_s", "compile s"), ("steady_s", "steady s"), ("throughput", "throughput"), ("ratio", "ratio"),
           ("gflops", "GFLOP/s"), ("gbytes_per_s", "GB/s"), ("bound", "bound"), ("roofline_frac", "of roofline"),
           ("peak_rss_bytes", "peak MiB"), ("peak_added_bytes", "added MiB")]
_LEFT = {"bench", "workload", "sizes", "device", "dtype", "bound"}


def format_table(rows: list[dict], markdown: bool = False) -> str:
    """``rows`` as one aligned text table (or a Markdown table)."""
    cells = [[header for _, header in COLUMNS]] + [[_cell(r, key) for key, _ in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(cells[0]) + " |",
                 "|" + "|".join("---" if key in _LEFT else "---:" for key, _ in COLUMNS) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells[1:]]
        return "\n".join(lines)
    widths = [max(len(r[c]) for r in cells) for c in range(len(COLUMNS))]
    lines = []
    for k, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if key in _LEFT else c.rjust(w)
                               for c, w, (key, _) in zip(r, widths, COLUMNS)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_notes(suite: dict) -> list[str]:
    """The lines under the table: roofline figures, what the columns mean, startup, targets, warnings."""
    notes = []
    roof = suite.get("roofline") or {}
    if "sgemm" in roof:
        s, c = roof["sgemm"], roof["copy"]
        notes.append(f"roofline (same run, {roof.get('device_kind', '?')}): SGEMM {s['n']}² float32 {s['gflops']:.4g} "
                     f"GFLOP/s; copy of {c['bytes'] / 2**20:.0f} MiB {c['gbytes_per_s']:.4g} GB/s (read + written); "
                     f"ridge {roof.get('ridge_flops_per_byte', s['gflops'] / c['gbytes_per_s']):.3g} flop/B")
    elif "roofline" in suite.get("errors", {}):
        notes.append(f"roofline: FAILED ({suite['errors']['roofline'][:200]}): no 'of roofline' column")
    notes.append("ratio = the landscape row's throughput ÷ this row's (maps: same size; networks: loss_map's default "
                 "strategy, same model and grid, or landscape.run, same training; runs: the landscape.run row "
                 "recording as much; sweeps: same part; startup: this process's wall ÷ the second process's)")
    notes.append(f"GFLOP/s: useful flops ({FLOPS_MODEL}); GB/s: compulsory traffic ({BYTES_MODEL}); of roofline: "
                 "GFLOP/s ÷ SGEMM or GB/s ÷ copy, whichever bounds the workload; [diag] = diagnostic, not a baseline")
    notes.append("peak MiB: the peak resident memory (VmHWM, reset before the workload) of the process that ran it: "
                 "* = a fresh process of its own (added = above its resident memory after the imports); otherwise "
                 "the workload process over its timed calls (added = above its resident memory "
                 "before them, which holds the interpreter, JAX, PyTorch and earlier results)")
    start = suite.get("benchmarks", {}).get("startup") or {}
    if start.get("rows"):
        by = {r["workload"]: r for r in start["rows"]}

        def wall(word):
            r = next((v for k, v in by.items() if word in k), None)
            return "-" if r is None or r.get("wall_s") is None else f"{r['wall_s']:.2f} s"

        notes.append(f"startup: `{start.get('command')}` as a fresh process: first process (empty cache) "
                     f"{wall('first process')}, second process {wall('second process')}, no cache "
                     f"{wall('no cache') if wall('no cache') != '-' else wall('--no-cache')}; "
                     f"`python -c \"import landscape\"` {wall('import landscape')}")
    for r in suite.get("rows", []):
        if r.get("note"):
            notes.append(f"note: {r['bench']} {r['workload']} {r['sizes']}: {r['note']}")
    if suite.get("quick") and suite.get("targets"):
        notes.append("targets below are at --quick sizes, where fixed costs weigh more: indicative only; the "
                     "issues' targets apply to the full run")
    for name, tgt in suite.get("targets", {}).items():
        notes.append(f"target {format_target(name, tgt)}")
    for name, err in suite.get("errors", {}).items():
        notes.append(f"FAILED {name}: {err}")
    for w in suite.get("warnings", []):
        notes.append(f"WARNING: {w}")
    return notes


def format_report(suite: dict, markdown: bool = False) -> str:
    rows = suite.get("rows", [])
    head = (f"landscape bench{' --quick' if suite.get('quick') else ''}: {suite.get('device_kind', '?')} "
            f"({suite.get('tag')}), {suite.get('date', '')}")
    table = format_table(rows, markdown=markdown)
    notes = format_notes(suite)
    if markdown:
        produced = (f"Produced by `{suite.get('command')}` on {suite.get('device_kind', '?')} ({suite.get('tag')}), "
                    f"{suite.get('date', '')}, landscape {suite.get('version', '?')}:")
        return "\n".join([produced, "", table, "", *[f"- {n}" for n in notes], ""])
    return "\n".join([head, table, *notes])


# ------------------------------------------------------------------------------------------------ the command


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The description and options of ``landscape bench`` on ``p``."""
    p.description = ("Run the benchmark suite (loss maps, loss maps of networks, runs, sweeps, startup, each with "
                     "its baselines and the device's roofline) on the device JAX sees, each workload in a fresh "
                     "process; print one table and save it as JSON and Markdown: with --json PATH there, else to a new "
                     "landscape-bench-<tag>[-quick]-<date>.json and .md in the current directory. PyTorch and optax "
                     "baselines need `pip install \"landscape[bench]\"` and are skipped without it. "
                     "Example: landscape bench --quick")
    p.add_argument("--quick", action="store_true", help="smoke-test sizes: about a minute on 2 CPU cores")
    p.add_argument("--json", metavar="PATH", help="suite result (default: a new landscape-bench-<tag>[-quick]-<date>"
                   ".json in the current directory); the Markdown table goes next to it with the suffix .md")
    p.add_argument("--tag", help="device tag naming the result (default from the device: cpu-2core, h100, …)")
    p.add_argument("--only", type=_only_type, metavar="LIST",
                   help=f"comma-separated subset of {','.join(SUITE)} (default: all)")


def _command_line(args, only: list[str]) -> str:
    parts = ["landscape bench"]
    if args.quick:
        parts.append("--quick")
    if only != list(SUITE):
        parts.append(f"--only {','.join(only)}")
    if args.tag:
        parts.append(f"--tag {args.tag}")
    if args.json:
        parts.append(f"--json {args.json}")
    return " ".join(parts)


def run_suite(args, workloads: dict[str, list[str]] | None = None, out=None, err=None) -> int:
    """Run the suite described by ``args`` (``quick``, ``json``, ``tag``, ``only``); returns the exit code.

    ``workloads``: how to run each workload (default :data:`WORKLOADS`).
    """
    out, err = out or sys.stdout, err or sys.stderr
    workloads = WORKLOADS if workloads is None else workloads
    only = args.only or list(SUITE)
    tag = check_tag(args.tag) if args.tag else None
    json_path = check_writable(Path(args.json)) if args.json else None
    if json_path is None:
        check_directory(Path.cwd(), f"the current directory {str(Path.cwd())!r} (results go there without --json)")
    quick = bool(args.quick)
    timeout = TIMEOUT_S[quick]
    t_start = time.perf_counter()

    def progress(text: str) -> None:
        print(f"landscape bench: {text}", file=err, flush=True)

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="landscape-bench-") as tmp:
        tmp = Path(tmp)

        def run(name: str) -> dict:
            flags = (["--quick", *QUICK_FLAGS.get(name, [])] if quick else []) + (["--tag", tag] if tag else [])
            progress(f"{name} …")
            data = run_workload(workloads[name], tmp / f"{name}.json", flags, tmp / f"{name}.log", timeout)
            status = f"FAILED: {data['error']}" if "error" in data else "done"
            progress(f"{name} {status} ({data['suite_wall_s']:.1f} s)")
            return data

        roofline = run("roofline")
        if tag is None:  # the device's, as the roofline workload saw it; passed on so every row names it alike
            tag = roofline.get("tag") or _fallback_tag()
        for name in only:
            results[name] = run(name)

    merged = merge(results, roofline)
    env = roofline.get("environment") or {}
    from landscape import __version__

    suite = {"benchmark": "suite", "tag": tag, "quick": quick, "only": only, "command": _command_line(args, only),
             "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "device_kind": roofline.get("device_kind"),
             "platform": roofline.get("platform"), "version": __version__, "environment": env,
             "roofline": roofline, "flops_model": FLOPS_MODEL, "bytes_model": BYTES_MODEL, **merged,
             "wall_s": time.perf_counter() - t_start,
             "script_wall_s": {n: d.get("suite_wall_s") for n, d in {"roofline": roofline, **results}.items()},
             "benchmarks": results}
    suite["table"] = format_table(suite["rows"])
    path = json_path or new_result_path(f"landscape-bench-{tag}{'-quick' if quick else ''}")
    md_path = path.with_suffix(".md") if path.suffix != ".md" else path.with_name(path.name + ".table.md")
    print(format_report(suite), file=out, flush=True)
    write_json(path, suite)
    atomic_write_text(md_path, format_report(suite, markdown=True))
    progress(f"{len(suite['rows'])} rows in {suite['wall_s']:.0f} s; saved {path} and {md_path}")
    return 1 if suite["errors"] else 0


def _fallback_tag() -> str:
    return f"cpu-{os.cpu_count()}core"


def command(args) -> int:
    """``landscape bench`` (the CLI turns a :class:`BenchError`, a ValueError, into one line and exit code 2)."""
    return run_suite(args)


def main(argv: list[str] | None = None, workloads: dict[str, list[str]] | None = None) -> int:
    """Stand-alone entry (``python bench/suite.py`` in a checkout): same options and exit codes as
    ``landscape bench``; ``workloads`` as in :func:`run_suite`."""
    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise BenchError(f"{self.prog}: {message} (see --help)")

    p = Parser(prog="landscape bench")
    add_arguments(p)
    try:
        return run_suite(p.parse_args(argv), workloads=workloads)
    except BenchError as e:
        print(f"landscape bench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("landscape bench: interrupted", file=sys.stderr)
        return 130
