"""Shared benchmark helpers: device description, timing, roofline measurements, memory, peer libraries, result
files, tables.

Every workload (``map_speed``, ``run_speed``, ``sweep_speed``, ``startup``, ``roofline``) reports the same things
the same way: device, dtype, sizes, compile time apart from steady-state time, throughput, and ratios to baselines
measured in the same run. The peer libraries of the baselines, PyTorch and optax, are optional (:func:`peer`): a
baseline whose library is missing is a row marked ``skipped``, and so is every target that needs it.

Importing this module does not start JAX's backend (the suite's parent process imports it).
"""

from __future__ import annotations

import importlib
import argparse
import itertools
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from landscape._files import atomic_write_text


def device_tag() -> str:
    """Short name for the result file: ``cpu-2core``, ``gpu-nvidia-h100-80gb-hbm3``, …"""
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"cpu-{os.cpu_count()}core"
    return f"{dev.platform}-" + re.sub(r"[^a-z0-9]+", "-", dev.device_kind.lower()).strip("-")


def short_device_tag() -> str:
    """The suite's result name: ``cpu-2core`` on CPU, the accelerator model on GPUs (``h100``, ``h200``, ``a100``…),
    else :func:`device_tag`."""
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return device_tag()
    m = re.search(r"\b([a-z]{1,2}\d{2,4}[a-z]?)\b", dev.device_kind.lower())  # "NVIDIA H100 80GB HBM3" → h100
    return m.group(1) if m else device_tag()


def environment() -> dict:
    """What the numbers were measured on."""
    env = {
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "platform": jax.devices()[0].platform,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "numpy": np.__version__,
        "x64": bool(jax.config.jax_enable_x64),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    for name in PEERS:
        module, _ = peer(name)
        if module is not None:
            env[name] = module.__version__
    return env


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_busy(interval: float = 0.5) -> float | None:
    """Fraction of all CPUs that other processes kept busy over ``interval`` seconds (Linux /proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4], time.process_time()  # total, idle + iowait, our CPU time
    try:
        (t0, i0, c0), _, (t1, i1, c1) = sample(), time.sleep(interval), sample()
    except OSError:
        return None
    ours = (c1 - c0) * os.sysconf("SC_CLK_TCK")  # our own threads (e.g. spinning thread pools), in ticks
    return max(0.0, 1 - (i1 - i0 + ours) / max(t1 - t0, 1))


def busy_warning() -> str | None:
    """A warning when other processes keep the CPUs busy (≥ 25 % of the machine while we sleep)."""
    busy = cpu_busy()
    if busy is not None and busy >= 0.25:
        return (f"other processes kept {busy:.0%} of the {os.cpu_count()} CPUs busy when sampled: "
                "timings are noisy, rerun on a quiet machine")
    return None


PEERS = ("torch", "optax")  # the optional libraries of the baselines: `pip install "landscape[bench]"`


def peer(name: str, off: bool = False):
    """A peer library of the baselines: ``(module, None)``, or ``(None, why it is skipped)``: ``"not installed"``,
    or ``"--no-<name>"`` when ``off``."""
    if off:
        return None, f"--no-{name}"
    try:
        return importlib.import_module(name), None
    except ImportError:
        return None, "not installed"


def torch_peer(args):
    """:func:`peer` for PyTorch from the common flags, its threads set."""
    torch, skipped = peer("torch", args.no_torch)
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
    return torch, skipped


def skipped_row(workload: str, reason: str, **fields) -> dict:
    """The row of a baseline that did not run; the table shows it as "skipped (<reason>)"."""
    print(f"  {workload}: skipped ({reason})")
    return {"workload": workload, "skipped": reason, **fields}


def ratio_target(row: dict, key: str, minimum: float) -> dict:
    """The target ``row[key] ≥ minimum`` on a baseline's row; skipped, for the row's reason, when it did not run."""
    if row.get("skipped"):
        return {"value": None, "met": None, "skipped": row["skipped"]}
    return {"value": row[key], "met": row[key] >= minimum}


def format_target(name: str, tgt: dict) -> str:
    """``"<name>: <value> — met"`` (or ``MISSED``, or ``skipped (<reason>)``)."""
    if tgt.get("skipped"):
        return f"{name}: skipped ({tgt['skipped']})"
    v = tgt.get("value")
    if tgt.get("unit") == "fraction":
        shown = f"{v:.1%}"
    elif tgt.get("unit") == "s":
        shown = f"{v:.2f} s"
    elif "memory" in name and isinstance(v, (int, float)) and v > 1e5:
        shown = f"{v / 2**20:.0f} MiB"
    else:
        shown = (f"{v:,.0f}" if 1000 <= abs(v) < 1e6 else f"{v:.3g}") if isinstance(v, (int, float)) else str(v)
    return f"{name}: {shown} — {'met' if tgt.get('met') else 'MISSED'}"


def add_common_arguments(p, quick_help: str) -> None:
    """The flags every workload with baselines shares: torch baselines, --quick, --tag and --json."""
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch baselines")
    p.add_argument("--torch-threads", type=int, default=os.cpu_count(),
                   help="torch.set_num_threads (default: all CPUs)")
    add_output_arguments(p, quick_help)


def add_output_arguments(p, quick_help: str) -> None:
    """--quick, --tag and --json."""
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--tag", help="device tag naming the result (default from the device, e.g. cpu-2core)")
    p.add_argument("--json", help="result path (default: a new landscape-bench-<workload>-<tag>[-quick]-<date>.json "
                   "in the current directory)")


def add_training_arguments(p, quick_help: str, diagnostics_help: str) -> None:
    """The flags of the run and sweep workloads: their optax and peak-memory measurements, diagnostics, the CPU
    device count, the common flags and the hidden ``--child`` of their fresh-process measurements."""
    p.add_argument("--no-optax", action="store_true", help="skip the optax baselines")
    p.add_argument("--no-peak", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--no-diagnostics", action="store_true", help=diagnostics_help)
    p.add_argument("--cpu-devices", default="auto", help="CPU devices JAX exposes: auto (one per core, at most 8, "
                   "as `landscape sweep` asks for; the default) or a number (1: JAX's default)")
    add_common_arguments(p, quick_help)
    p.add_argument("--child", help=argparse.SUPPRESS)


def set_cpu_devices(setting: str) -> None:
    """``--cpu-devices``: ``auto``, one CPU device per core (``landscape.one_device_per_cpu_core``); N, that many.
    Call before JAX's first computation."""
    if setting == "auto":
        import landscape

        landscape.one_device_per_cpu_core()
    elif setting.isdigit() and int(setting) >= 1:
        jax.config.update("jax_num_cpu_devices", int(setting))
    else:
        raise SystemExit(f"--cpu-devices must be 'auto' or a whole number ≥ 1, got {setting!r}")


def start_run(args):
    """``(tag, warnings so far)`` from the common flags."""
    return args.tag or device_tag(), [f"at start: {w}" for w in [busy_warning()] if w]


def timed(fn, *, repeats: int = 3, warmup: int = 1, max_s: float | None = None) -> dict:
    """Time ``fn()``: the first call on its own (compile + run for a fresh shape), then ``repeats`` calls.

    The first ``warmup`` calls are not part of the median (the first of them is reported as ``first_s``; with
    ``warmup=0`` the first timed call is).
    ``jax.block_until_ready`` is applied to every result, so asynchronously dispatched work is counted.
    ``max_s`` stops repeating once that much time went into the timed calls (at least one is always made).
    Returns ``first_s``, ``warmup_s`` (every untimed call), ``times_s``, ``median_s``, ``compile_s`` (first minus
    median), the last result, and the process's peak resident memory over these calls (``peak_rss_bytes``, None
    where it cannot be reset) with its resident memory before them (``rss_before_bytes``).
    """
    rss_before, peak_reset = rss_bytes(), reset_peak_rss()
    warmups = []
    for _ in range(warmup):
        t0 = time.perf_counter()
        result = jax.block_until_ready(fn())
        warmups.append(time.perf_counter() - t0)
    first = warmups[0] if warmups else None
    times = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        result = jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
        if max_s is not None and sum(times) > max_s:
            break
    first = times[0] if first is None else first
    median = statistics.median(times)
    return {"first_s": first, "warmup_s": warmups, "times_s": times, "median_s": median,
            "compile_s": max(first - median, 0.0), "result": result,
            "peak_rss_bytes": peak_rss_bytes() if peak_reset else None, "rss_before_bytes": rss_before}


def sgemm_roofline(n: int = 2048, repeats: int = 5) -> dict:
    """GFLOP/s of an ``n×n`` float32 matrix product (2n³ flops), with jitted ``jnp.dot`` and with NumPy.

    ``precision="highest"``: true float32 arithmetic on GPUs too (the default lets XLA use TF32 tensor cores on
    Ampere and later, several times the FP32 rate, which is not the roofline of float32 workloads).
    """
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    dot = jax.jit(lambda u, v: jnp.dot(u, v, precision="highest"))
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    flops = 2.0 * n**3
    out = {"n": n, "dtype": "float32", "precision": "highest", "flops": flops}
    for name, fn in (("jax", lambda: dot(ja, jb)), ("numpy", lambda: a @ b)):
        t = timed(fn, repeats=repeats)
        out[name] = {"median_s": t["median_s"], "gflops": flops / t["median_s"] / 1e9}
    out["gflops"] = max(out["jax"]["gflops"], out["numpy"]["gflops"])
    return out


def copy_bandwidth(nbytes: int = 256 * 2**20, repeats: int = 5) -> dict:
    """Device memory bandwidth: a jitted ``x + 1`` over a float32 array of ``nbytes`` (each call reads and writes
    ``nbytes``: ``2 * nbytes`` moved), STREAM-style; on CPU also NumPy's ``np.add(x, 1, out=y)``.

    ``x + 1`` rather than ``x + 0`` or ``jnp.copy``: XLA folds ``x + 0`` and JAX may forward an unchanged input
    without running anything. ``gbytes_per_s`` is the best of the measured ones (bytes read + written per second).
    """
    n = max(int(nbytes) // 4, 1)
    moved = 2.0 * n * 4
    out = {"bytes": n * 4, "bytes_moved_per_call": moved, "dtype": "float32",
           "method": "jit(lambda x: x + 1) on a float32 array; bytes read + written per second (median of repeats)"}

    def measure(kind):  # its arrays are freed on return, before the next measurement allocates its own
        if kind == "jax":
            add_one = jax.jit(lambda a: a + 1.0)
            x = jax.block_until_ready(jnp.ones((n,), jnp.float32))
            median = timed(lambda: add_one(x), repeats=repeats)["median_s"]
        else:
            a, b = np.ones(n, np.float32), np.empty(n, np.float32)
            median = timed(lambda: np.add(a, 1.0, out=b), repeats=repeats)["median_s"]
        return {"median_s": median, "gbytes_per_s": moved / median / 1e9}

    out["jax"] = measure("jax")
    if jax.devices()[0].platform == "cpu":
        out["numpy"] = measure("numpy")
    out["gbytes_per_s"] = max(v["gbytes_per_s"] for k, v in out.items() if k in ("jax", "numpy"))
    return out


def max_rel_err(values, reference) -> float:
    """Largest ``|values − reference| / |reference|`` (reference floored at 1e-30)."""
    values, reference = np.asarray(values, np.float64), np.asarray(reference, np.float64)
    if values.shape != reference.shape:
        raise ValueError(f"shape mismatch: {values.shape} vs {reference.shape}")
    return float(np.max(np.abs(values - reference) / np.maximum(np.abs(reference), 1e-30)))


def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def rss_bytes() -> int:
    """Current resident set size of this process (Linux), else 0."""
    return _proc_status("VmRSS") or 0


def ru_maxrss_bytes() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in bytes (KiB on Linux, bytes on macOS).

    On Linux it survives fork + exec: a child started from a process with 1.5 GB resident reports at least
    1.5 GB however little it uses itself. Prefer :func:`peak_rss_bytes`.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this process image: ``VmHWM`` on Linux (reset by exec), else ru_maxrss."""
    return _proc_status("VmHWM") or ru_maxrss_bytes()


def print_notes_and_targets(rows: list[dict], targets: dict, label=lambda row: row["workload"]) -> None:
    """Print each row's note (under ``label(row)``), then the targets, met or not."""
    for row in rows:
        if row.get("note"):
            print(f"  note: {label(row)}: {row['note']}")
    print("targets:")
    for name, tgt in targets.items():
        print(f"  {format_target(name, tgt)}")


def finish_warnings(warnings: list[str], disagreeing: list[str], library: str, tolerance: float) -> None:
    """Add the baselines that disagree with ``library`` and the CPU-busy check at the end to ``warnings``, and
    print them all."""
    if disagreeing:
        warnings.append(f"baselines disagree with {library} (max rel err ≥ {tolerance}): {', '.join(disagreeing)}")
    warnings += [f"at end: {w}" for w in [busy_warning()] if w]
    for w in warnings:
        print(f"WARNING: {w}")


def reset_peak_rss() -> bool:
    """Reset this process's peak resident memory (``VmHWM``) to its current RSS; False where that is unsupported
    (it needs Linux ≥ 4.0: writing 5 to ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _proc_status("VmHWM") is not None
    except OSError:
        return False


def peak_fields(t: dict) -> dict:
    """A result row's memory fields from :func:`timed`'s figures: the peak and what the workload added to the
    resident memory it started with."""
    peak, before = t.get("peak_rss_bytes"), t.get("rss_before_bytes")
    return {"peak_rss_bytes": peak, "rss_before_bytes": before,
            "peak_added_bytes": peak - before if peak is not None and before is not None else None}


def write_json(path, obj) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically: a failure leaves any previous file untouched."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def _jsonable(value):
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def new_result_path(stem: str) -> Path:
    """``<stem>-<YYYYmmdd-HHMMSS>.json`` in the current directory, with ``-2``, ``-3``… added while a ``.json`` or
    ``.md`` file of that name exists: results never overwrite earlier ones."""
    name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for candidate in itertools.chain([name], (f"{name}-{k}" for k in itertools.count(2))):
        if not any((Path.cwd() / f"{candidate}{suffix}").exists() for suffix in (".json", ".md")):
            return Path.cwd() / f"{candidate}.json"


def save_result(args, name: str, tag: str, result: dict) -> Path:
    """Write a workload's ``result`` to ``--json``, else to a new file in the current directory, and say where."""
    path = Path(args.json) if args.json else new_result_path(f"landscape-bench-{name}-{tag}"
                                                              f"{'-quick' if args.quick else ''}")
    print(f"saved {write_json(path, result)}")
    return path


def fmt(value, spec: str = ".3g") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return format(value, spec)


def print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """Print ``rows`` as an aligned text table; ``columns`` are ``(key, header, format spec)``."""
    cells = [[header for _, header, _ in columns]]
    cells += [[fmt(row.get(key), spec) for key, _, spec in columns] for row in rows]
    widths = [max(len(r[c]) for r in cells) for c in range(len(columns))]
    for k, r in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            print("  ".join("-" * w for w in widths))


# ---------------------------------------------------------------------------------------------------------------
# Fresh-process measurements and compiled-loop diagnostics


def run_child(argv: list[str], timeout: float | None = None, env: dict | None = None) -> dict:
    """Run ``[sys.executable, *argv]`` in a fresh process and parse the JSON object on its last stdout line.

    Returns ``{"error": ...}`` when the child fails. Measure peak memory this way: ``VmHWM`` is reset by exec.
    """
    try:
        proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip() or proc.stdout.strip())[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


_HLO_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%([\w.\-]+)\s*=\s*")
_HLO_COMP = re.compile(r"^(?:ENTRY\s+)?%([\w.\-]+)\s*\(.*\{\s*$")
_TRIVIAL = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}


def _split_type(rest: str) -> tuple[str, str]:
    """``rest`` = ``<type> <opcode>(...)...``: split off the (possibly tuple-typed) shape."""
    if rest.startswith("("):
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                return rest[: i + 1], rest[i + 1:].lstrip()
    shape, _, tail = rest.partition(" ")
    return shape, tail


def parse_hlo(text: str) -> dict:
    """Optimized HLO text → ``{computation: [(name, shape, opcode, called computations), ...]}``."""
    comps, current = {}, None
    for line in text.splitlines():
        m = _HLO_COMP.match(line)
        if m and not _HLO_INSTR.match(line):
            current = comps.setdefault(m.group(1), [])
            continue
        m = _HLO_INSTR.match(line)
        if m and current is not None:
            shape, tail = _split_type(line[m.end():])
            opcode = tail.split("(", 1)[0].strip()
            called = re.findall(r"(?:calls|body|condition|to_apply)=%([\w.\-]+)", tail)
            current.append((m.group(1), shape, opcode, called))
    return comps


def hlo_loop_stats(text: str) -> dict:
    """Per-iteration work of the innermost ``while`` loop (the scan over steps) of an optimized HLO module.

    ``kernels``: non-trivial top-level instructions of the loop body (fusions, copies, custom calls: what runs
    once per step); ``fused_ops``: instructions inside them (recursively); ``big_ops``: instructions whose
    result has two or more non-unit dimensions (e.g. ``f32[settings, samples]``: the costly ones);
    ``big_kernels``: top-level instructions producing such arrays; ``opcodes``: top-level opcode counts.
    """
    comps = parse_hlo(text)
    bodies = [re.search(r"body=%([\w.\-]+)", line).group(1) for line in text.splitlines()
              if " while(" in line and "body=%" in line]
    if not bodies:
        return {"error": "no while loop found"}

    def has_while(comp):
        return any(op == "while" for _, _, op, _ in comps.get(comp, []))

    body = next((b for b in bodies if not has_while(b)), bodies[-1])  # innermost

    def big(shape):
        dims = re.findall(r"\[([\d,]*)\]", shape)
        return any(sum(int(d) > 1 for d in ds.split(",") if d) >= 2 for ds in dims)

    def count(comp, seen):
        n = nb = 0
        for _, shape, op, called in comps.get(comp, []):
            if op in _TRIVIAL:
                continue
            n += 1
            nb += big(shape)
            for c in called:
                if c not in seen:
                    seen.add(c)
                    a, b = count(c, seen)
                    n, nb = n + a, nb + b
        return n, nb

    top = [(s, op, called) for _, s, op, called in comps[body] if op not in _TRIVIAL]
    opcodes: dict[str, int] = {}
    for _, op, _ in top:
        opcodes[op] = opcodes.get(op, 0) + 1
    fused, big_fused = count(body, set())
    return {"loop_body": body, "kernels": len(top), "big_kernels": sum(big(s) for s, _, _ in top),
            "fused_ops": fused, "big_ops": big_fused, "opcodes": opcodes, "hlo_lines": text.count("\n")}


def compiled_loop_stats(argv: list[str]) -> dict:
    """:func:`hlo_loop_stats` of the (largest) program with a loop that the fresh process ``[sys.executable, *argv]``
    compiles, read from XLA's dump of the optimized HLO (``--xla_dump_to``): no private API needed."""
    with tempfile.TemporaryDirectory(prefix="landscape-hlo-") as dump:
        flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={dump} --xla_dump_hlo_as_text".strip()
        out = run_child(argv, env={**os.environ, "XLA_FLAGS": flags})
        if "error" in out:
            return out
        loops = [(p.name, p.read_text()) for p in Path(dump).glob("*after_optimizations.txt")]
        loops = [(name, text) for name, text in loops if " while(" in text]
        if not loops:
            return {"error": "no compiled loop in XLA's dump"}
        name, text = max(loops, key=lambda loop: len(loop[1]))
        return {"module": name, **hlo_loop_stats(text)}
