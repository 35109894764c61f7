"""`landscape bench`: the suite runner's logic (no real benchmark runs: fake scripts and sample JSON)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from landscape import benchcmd
from landscape.benchcmd import BenchError

REPO = Path(__file__).resolve().parents[1]

ROOFLINE = {"benchmark": "roofline", "tag": "cpu-2core", "device_kind": "cpu", "platform": "cpu",
            "sgemm": {"n": 1024, "gflops": 100.0}, "copy": {"bytes": 2**28, "gbytes_per_s": 10.0},
            "ridge_flops_per_byte": 10.0, "warnings": []}

GRID = {"benchmark": "grid", "tag": "cpu-2core", "dtype": "float32", "flops_per_point": 250, "rows": [
    {"workload": "landscape.loss_map", "size": 4096, "device": "cpu-2core", "dtype": "float32", "compile_s": 0.3,
     "steady_s": 0.5, "points_per_s": 3.2e7, "useful_gflops": 8.0},
    {"workload": "numpy broadcast rows", "size": 4096, "device": "cpu-2core", "dtype": "float32", "compile_s": None,
     "steady_s": 8.0, "points_per_s": 2e6, "useful_gflops": 0.5, "speedup_same_size": 16.0, "max_rel_err": 1e-7,
     "ok": True, "note": "timed 512 of 4096 rows, extrapolated", "peak_rss_bytes": 800 * 2**20,
     "peak_added_bytes": 30 * 2**20},
    {"workload": "loss_map fast path (ols)", "size": 4096, "device": "cpu-2core", "dtype": "float32",
     "compile_s": 0.1, "steady_s": 0.05, "points_per_s": 3e8, "useful_gflops": None},
], "peak_memory": {"size": 8192, "points": 8192**2, "wall_s": 2.0, "peak_rss_bytes": 700 * 2**20,
                   "baseline_rss_bytes": 200 * 2**20},
    "warnings": ["at start: busy"]}

TRAJ = {"benchmark": "trajectories", "steps": 1000, "rows": [
    {"workload": "landscape.run every=1", "settings": 10000, "steps": 1000, "records": 1001, "device": "cpu-2core",
     "dtype": "float32", "compile_s": 0.9, "steady_s": 1.0, "setting_steps_per_s": 1e7, "useful_gflops": 4.5,
     "peak_rss_bytes": 900 * 2**20, "peak_added_bytes": 50 * 2**20},
    {"workload": "landscape.run every=1000", "settings": 10000, "steps": 1000, "records": 2, "device": "cpu-2core",
     "dtype": "float32", "compile_s": 0.8, "steady_s": 0.5, "setting_steps_per_s": 2e7, "useful_gflops": 9.0},
    {"workload": "optax+vmap history", "settings": 10000, "steps": 1000, "records": 1001, "device": "cpu-2core",
     "dtype": "float32", "steady_s": 2.0, "setting_steps_per_s": 5e6, "useful_gflops": 2.25,
     "speedup_every1": 2.0, "speedup_every_steps": 4.0},
    {"workload": "optax+vmap final", "settings": 10000, "steps": 1000, "records": 1, "device": "cpu-2core",
     "dtype": "float32", "steady_s": 2.0, "setting_steps_per_s": 5e6, "useful_gflops": 2.25,
     "speedup_every1": 2.0, "speedup_every_steps": 4.0},
], "peak_memory": [{"workload": "landscape:1", "settings": 10000, "steps": 1000, "peak_rss_bytes": 400 * 2**20,
                    "baseline_rss_bytes": 150 * 2**20},
                   {"workload": "optax:1000", "settings": 10000, "steps": 1000, "peak_rss_bytes": 300 * 2**20}],
    "targets": {"every=1000 vs optax final ≥ 1.5× (issue 6)": {"value": 4.0, "met": True}}}

SWEEP = {"benchmark": "sweep", "rows": [
    {"part": "a", "workload": "landscape.sweep", "settings": 10000, "steps": 1000, "device": "cpu-2core",
     "dtype": "float32", "compile_s": 0.7, "steady_s": 0.6, "setting_steps_per_s": 1.6e7, "useful_gflops": 7.2},
    {"part": "a", "workload": "optax+vmap final", "settings": 10000, "steps": 1000, "device": "cpu-2core",
     "dtype": "float32", "compile_s": 0.2, "steady_s": 0.9, "setting_steps_per_s": 1.1e7, "useful_gflops": 5.0,
     "speedup": 1.45},
], "peak_memory": [{"workload": "sweep", "part": "a", "settings": 10000, "steps": 1000, "peak_rss_bytes": 5 * 2**20}],
    "targets": {"(a) vs optax+vmap ≥ 1.5× (issue 6)": {"value": 1.45, "met": False}}}

STARTUP = {"benchmark": "startup", "command": "landscape map …", "rows": [
    {"workload": "landscape map (first process, empty cache)", "sizes": "101²", "device": "cpu-2core",
     "dtype": "float32", "steady_s": 3.0, "wall_s": 3.0, "ratio": 2.0, "peak_rss_bytes": 300 * 2**20},
    {"workload": "landscape map (second process, same cache)", "sizes": "101²", "device": "cpu-2core",
     "dtype": "float32", "steady_s": 1.5, "wall_s": 1.5, "peak_rss_bytes": 260 * 2**20},
], "targets": {"second-process landscape map 101² < 3 s wall (issue 6)": {"value": 1.5, "met": True, "unit": "s"}}}


def sample_results():
    return {"grid": GRID, "trajectories": TRAJ, "sweep": SWEEP, "startup": STARTUP}


# ------------------------------------------------------------------------------------------------ --only


def test_parse_only_keeps_suite_order_and_drops_blanks():
    assert benchcmd.parse_only("sweep,grid") == ["grid", "sweep"]
    assert benchcmd.parse_only(" startup , GRID,, ") == ["grid", "startup"]
    assert benchcmd.parse_only("grid,grid") == ["grid"]


@pytest.mark.parametrize("text", ["maps", "grid,nope", "", ",", " "])
def test_parse_only_rejects_unknown_or_empty(text):
    with pytest.raises(BenchError, match="--only"):
        benchcmd.parse_only(text)


# ------------------------------------------------------------------------------------------------ merging


def test_merge_rows_ratios_roofline_and_peaks():
    merged = benchcmd.merge(sample_results(), ROOFLINE)
    rows = {(r["bench"], r["workload"], r["sizes"]): r for r in merged["rows"]}
    assert [r["bench"] for r in merged["rows"]][:1] == ["grid"] and merged["rows"][-1]["bench"] == "startup"

    lm = rows[("grid", "landscape.loss_map", "4096²")]
    assert lm["throughput"] == 3.2e7 and lm["unit"] == "points/s" and lm["ratio"] is None
    assert lm["flop_frac"] == pytest.approx(0.08)
    assert lm["gbytes_per_s"] == pytest.approx(3.2e7 * 4 / 1e9)
    assert lm["bound"] == "compute" and lm["roofline_frac"] == pytest.approx(0.08)
    assert rows[("grid", "numpy broadcast rows", "4096²")]["ratio"] == 16.0
    fresh = rows[("grid", "landscape.loss_map, fresh process", "8192²")]
    assert fresh["peak_rss_bytes"] == 700 * 2**20 and fresh["throughput"] == pytest.approx(8192**2 / 2.0)
    assert fresh["peak_added_bytes"] == 500 * 2**20 and fresh["peak_fresh_process"]
    numpy_rows = rows[("grid", "numpy broadcast rows", "4096²")]  # measured in the bench's own process
    assert numpy_rows["peak_rss_bytes"] == 800 * 2**20 and numpy_rows["peak_added_bytes"] == 30 * 2**20
    assert not numpy_rows["peak_fresh_process"]

    hist = rows[("trajectories", "optax+vmap history", "10,000×1000")]
    final = rows[("trajectories", "optax+vmap final", "10,000×1000")]
    assert hist["ratio"] == 2.0 and final["ratio"] == 4.0  # paired with the landscape row recording as much
    assert hist["gbytes_per_s"] == pytest.approx(5e6 * 36 / 1e9)  # state 32 B + 4 B loss per setting-step
    assert final["peak_rss_bytes"] == 300 * 2**20
    every1 = rows[("trajectories", "landscape.run every=1", "10,000×1000")]
    assert every1["peak_rss_bytes"] == 400 * 2**20 and every1["peak_added_bytes"] == 250 * 2**20  # fresh wins
    assert every1["peak_fresh_process"] and final["peak_added_bytes"] is None  # no baseline recorded

    sweep = rows[("sweep", "optax+vmap final", "(a) 10,000×1000")]
    assert sweep["ratio"] == 1.45 and sweep["unit"] == "setting-steps/s"
    assert rows[("sweep", "landscape.sweep", "(a) 10,000×1000")]["peak_rss_bytes"] == 5 * 2**20
    assert rows[("startup", "landscape map (first process, empty cache)", "101²")]["ratio"] == 2.0

    t = merged["targets"]
    assert t["sweep: (a) vs optax+vmap ≥ 1.5× (issue 6)"]["met"] is False
    assert t["startup: second-process landscape map 101² < 3 s wall (issue 6)"]["met"] is True
    assert t["grid: loss_map 4096² ≥ 25 % of the SGEMM roofline (issue 6)"]["met"] is False
    assert t["grid: loss_map 4096² ≥ 10× NumPy broadcasting (issue 6)"]["met"] is True
    assert t["grid: loss_map fast path (ols) 4096² ≥ 1e9 points/s (issue 6)"]["met"] is False
    fast = rows[("grid", "loss_map fast path (ols)", "4096²")]
    assert fast["bound"] == "memory" and fast["roofline_frac"] == pytest.approx(3e8 * 4 / 1e9 / 10.0)
    assert merged["warnings"] == ["grid: at start: busy"] and merged["errors"] == {}


def test_memory_bound_row_uses_the_copy():
    rows = [{"gflops": 1.0, "gbytes_per_s": 5.0}, {"gflops": None, "gbytes_per_s": None}]
    benchcmd.apply_roofline(rows, ROOFLINE)
    assert rows[0]["bound"] == "memory" and rows[0]["roofline_frac"] == pytest.approx(0.5)
    assert "bound" not in rows[1]


def test_failed_script_is_reported_not_merged():
    merged = benchcmd.merge({"grid": {"error": "exit code 1: boom"}, "startup": STARTUP}, {"error": "x"})
    assert {r["bench"] for r in merged["rows"]} == {"startup"}
    assert merged["errors"] == {"roofline": "x", "grid": "exit code 1: boom"}
    assert all(r.get("roofline_frac") is None for r in merged["rows"])


def test_one_table_with_every_row_and_markdown():
    suite = {"tag": "cpu-2core", "quick": False, "command": "landscape bench", "device_kind": "cpu",
             "roofline": ROOFLINE, **benchcmd.merge(sample_results(), ROOFLINE), "benchmarks": sample_results()}
    table = benchcmd.format_table(suite["rows"])
    lines = table.splitlines()
    assert len(lines) == 2 + len(suite["rows"]) and set(lines[1]) <= {"-", " "}
    for header in ("workload", "sizes", "device", "dtype", "compile s", "steady s", "throughput", "ratio",
                   "GFLOP/s", "GB/s", "of roofline", "peak MiB", "added MiB"):
        assert header in lines[0]
    assert "16×" in table and "8.0%" in table and "32M points/s" in table
    assert " 400* " in table and " +250" in table  # fresh-process peak and what it added after the imports
    report = benchcmd.format_report(suite)
    assert "SGEMM 1024²" in report and "MISSED" in report and "second process 1.50 s" in report
    assert "indicative only" not in report and "indicative only" in benchcmd.format_report({**suite, "quick": True})
    md = benchcmd.format_report(suite, markdown=True)
    assert "`landscape bench`" in md and md.count("\n| ") == 1 + len(suite["rows"])


# ------------------------------------------------------------------------------------------------ writing


def test_write_json_is_atomic(tmp_path):
    path = tmp_path / "r.json"
    benchcmd.write_json(path, {"a": 1, "nan": float("nan")})
    assert json.loads(path.read_text())["a"] == 1
    with pytest.raises(TypeError):
        benchcmd.write_json(path, {"bad": object()})
    assert json.loads(path.read_text())["a"] == 1  # the previous file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # and no temporary file is left


def test_check_writable(tmp_path):
    assert benchcmd.check_writable(tmp_path / "ok.json") == tmp_path / "ok.json"
    with pytest.raises(BenchError, match="does not exist"):
        benchcmd.check_writable(tmp_path / "missing" / "x.json")
    with pytest.raises(BenchError, match="directory"):
        benchcmd.check_writable(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(BenchError):
        benchcmd.check_writable(tmp_path / "file" / "x.json")
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]


# ------------------------------------------------------------------------------------------------ the command


FAKE = '''
import argparse, json, sys
p = argparse.ArgumentParser()
p.add_argument("--json"); p.add_argument("--tag"); p.add_argument("--quick", action="store_true")
p.add_argument("--no-diagnostics", action="store_true"); p.add_argument("--no-cli", action="store_true")
a = p.parse_args()
data = json.loads({data!r})
data["args"] = vars(a)
if {fail!r}:
    print("boom", file=sys.stderr); sys.exit(3)
json.dump(data, open(a.json, "w"))
'''


def fake_bench(tmp_path, fail=()) -> Path:
    bench = tmp_path / "bench"
    bench.mkdir()
    for name, data in {"roofline": ROOFLINE, **sample_results()}.items():
        (bench / f"{name}.py").write_text(textwrap.dedent(FAKE.format(data=json.dumps(data), fail=name in fail)))
    return bench


def test_suite_runs_scripts_and_merges(tmp_path, capsys):
    bench = fake_bench(tmp_path)
    out = tmp_path / "suite.json"
    assert benchcmd.main(["--quick", "--only", "sweep,grid", "--json", str(out)], bench=bench) == 0
    suite = json.loads(out.read_text())
    assert suite["only"] == ["grid", "sweep"] and suite["tag"] == "cpu-2core" and suite["quick"] is True
    assert {r["bench"] for r in suite["rows"]} == {"grid", "sweep"}
    assert suite["benchmarks"]["grid"]["args"]["quick"] and suite["benchmarks"]["grid"]["args"]["tag"] == "cpu-2core"
    assert suite["benchmarks"]["sweep"]["args"]["no_cli"]  # the suite's --quick cuts
    assert suite["command"] == f"landscape bench --quick --only grid,sweep --json {out}"
    assert (tmp_path / "suite.md").read_text().startswith("Produced by `landscape bench --quick")
    printed = capsys.readouterr().out
    assert sum(line.startswith("bench ") for line in printed.splitlines()) == 1  # one table
    assert "numpy broadcast rows" in printed and "landscape.sweep" in printed


def test_default_path_and_failed_script(tmp_path, capsys):
    bench = fake_bench(tmp_path, fail=("startup",))
    assert benchcmd.main(["--only", "startup,grid", "--tag", "box"], bench=bench) == 1
    suite = json.loads((bench / "results" / "box.json").read_text())
    assert "boom" in suite["errors"]["startup"] and suite["benchmarks"]["grid"]["args"]["tag"] == "box"
    assert "FAILED startup" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--only", "grid,maps"], "unknown benchmark 'maps'"),
    (["--json", "/nonexistent-dir/x.json"], "does not exist"),
    (["--tag", "a/b"], "--tag"),
    (["--frobnicate"], "unrecognized"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    assert benchcmd.main(argv, bench=fake_bench(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_missing_bench_dir_exits_2(tmp_path, capsys):
    assert benchcmd.main([], bench=tmp_path / "nowhere") == 2
    err = capsys.readouterr().err.strip()
    assert "no benchmark scripts" in err and "\n" not in err


def test_cli_bench_errors(tmp_path, capsys, monkeypatch):
    from landscape import cli

    if "bench" not in cli.build_parser().format_help():
        pytest.skip("`landscape bench` is not registered in the CLI")
    assert cli.main(["bench", "--only", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown benchmark 'nope'" in err and "\n" not in err
    monkeypatch.setattr(benchcmd, "bench_dir", lambda: tmp_path / "nowhere")
    assert cli.main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no benchmark scripts" in err and "\n" not in err


def test_bench_dir_is_next_to_the_package():
    assert benchcmd.bench_dir() == REPO / "bench"
    benchcmd.check_bench_dir(REPO / "bench", benchcmd.SUITE)  # every suite script exists in the source tree


# ------------------------------------------------------------------------------------------------ helpers


def test_copy_bandwidth_small_array():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from _common import copy_bandwidth
    finally:
        sys.path.remove(str(REPO / "bench"))
    out = copy_bandwidth(1 << 16, repeats=2)
    assert out["gbytes_per_s"] > 0 and out["jax"]["gbytes_per_s"] > 0 and out["bytes"] == 1 << 16
