"""`landscape bench`: the suite runner's logic (fake workloads and sample JSON), and one real quick run of the
installed package without PyTorch and optax."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import landscape
from landscape.bench import BenchError, common, suite

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
    assert suite.parse_only("sweep,grid") == ["grid", "sweep"]
    assert suite.parse_only(" startup , GRID,, ") == ["grid", "startup"]
    assert suite.parse_only("grid,grid") == ["grid"]


@pytest.mark.parametrize("text", ["maps", "grid,nope", "", ",", " "])
def test_parse_only_rejects_unknown_or_empty(text):
    with pytest.raises(BenchError, match="--only"):
        suite.parse_only(text)


# ------------------------------------------------------------------------------------------------ merging


def test_merge_rows_ratios_roofline_and_peaks():
    merged = suite.merge(sample_results(), ROOFLINE)
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
    suite.apply_roofline(rows, ROOFLINE)
    assert rows[0]["bound"] == "memory" and rows[0]["roofline_frac"] == pytest.approx(0.5)
    assert "bound" not in rows[1]


def test_failed_script_is_reported_not_merged():
    merged = suite.merge({"grid": {"error": "exit code 1: boom"}, "startup": STARTUP}, {"error": "x"})
    assert {r["bench"] for r in merged["rows"]} == {"startup"}
    assert merged["errors"] == {"roofline": "x", "grid": "exit code 1: boom"}
    assert all(r.get("roofline_frac") is None for r in merged["rows"])


def test_one_table_with_every_row_and_markdown():
    result = {"tag": "cpu-2core", "quick": False, "command": "landscape bench", "device_kind": "cpu",
              "roofline": ROOFLINE, **suite.merge(sample_results(), ROOFLINE), "benchmarks": sample_results()}
    table = suite.format_table(result["rows"])
    lines = table.splitlines()
    assert len(lines) == 2 + len(result["rows"]) and set(lines[1]) <= {"-", " "}
    for header in ("workload", "sizes", "device", "dtype", "compile s", "steady s", "throughput", "ratio",
                   "GFLOP/s", "GB/s", "of roofline", "peak MiB", "added MiB"):
        assert header in lines[0]
    assert "16×" in table and "8.0%" in table and "32M points/s" in table
    assert " 400* " in table and " +250" in table  # fresh-process peak and what it added after the imports
    report = suite.format_report(result)
    assert "SGEMM 1024²" in report and "MISSED" in report and "second process 1.50 s" in report
    assert "indicative only" not in report and "indicative only" in suite.format_report({**result, "quick": True})
    md = suite.format_report(result, markdown=True)
    assert "`landscape bench`" in md and md.count("\n| ") == 1 + len(result["rows"])


SKIPPED_TRAJ = {"benchmark": "trajectories", "steps": 1000, "rows": [
    TRAJ["rows"][0],
    {"workload": "optax+vmap history", "settings": 10000, "steps": 1000, "records": 1001, "device": "cpu-2core",
     "dtype": "float32", "skipped": "not installed"},
    {"workload": "torch loop (seed 000)", "settings": 10000, "steps": 1000, "records": 1001, "device": "cpu-2core",
     "dtype": "float32", "skipped": "--no-torch"},
], "targets": {"vs torch loop ≥ 2000×": {"value": None, "met": None, "skipped": "--no-torch"},
               "every=1 vs optax history ≥ 1× (issue 3)": {"value": None, "met": None, "skipped": "not installed"}}}


def test_skipped_baselines_are_rows_and_targets_marked_skipped():
    merged = suite.merge({"trajectories": SKIPPED_TRAJ}, ROOFLINE)
    rows = {r["workload"]: r for r in merged["rows"]}
    assert rows["optax+vmap history"]["skipped"] == "not installed" and rows["optax+vmap history"]["ratio"] is None
    assert rows["landscape.run every=1"]["skipped"] is None and merged["errors"] == {}
    report = suite.format_report({"tag": "cpu-2core", "roofline": ROOFLINE, **merged})
    assert "skipped (not installed)" in report and "skipped (--no-torch)" in report
    assert "target trajectories: every=1 vs optax history ≥ 1× (issue 3): skipped (not installed)" in report
    assert "MISSED" not in report


NETWORKS = {"benchmark": "networks", "tag": "cpu-2core", "rows": [  # network_speed's rows: already the suite's shape
    {"workload": "cnn: landscape.loss_map (loop×1)", "model": "cnn", "sizes": "11² × 1347", "device": "cpu-2core",
     "dtype": "float32", "compile_s": 0.6, "steady_s": 0.8, "throughput": 150.0, "unit": "points/s",
     "useful_gflops": 50.0, "default": True},
    {"workload": "cnn: fastest alternative, loss_map strategy=loop×4", "model": "cnn", "sizes": "11² × 1347",
     "device": "cpu-2core", "dtype": "float32", "compile_s": 0.5, "steady_s": 0.4, "throughput": 300.0,
     "unit": "points/s", "useful_gflops": 100.0, "ratio": 0.5, "diagnostic": True},
    {"workload": "cnn: torch per-point loop", "model": "cnn", "sizes": "11² × 1347", "device": "cpu-2core",
     "dtype": "float32", "compile_s": None, "steady_s": 1.6, "throughput": 75.0, "unit": "points/s",
     "useful_gflops": 25.0, "ratio": 2.0, "max_rel_err": 3e-7, "ok": True},
    {"workload": "cnn: loss_landscapes.random_plane", "model": "cnn", "sizes": "11² × 1347", "device": "cpu-2core",
     "dtype": "float32", "skipped": "not installed"},
], "targets": {"cnn (25,290 params) loss_map ≥ 1× the torch per-point loop": {"value": 2.0, "met": True}}}


def test_network_rows_merge_as_they_are():
    merged = suite.merge({"networks": NETWORKS}, ROOFLINE)
    rows = {r["workload"]: r for r in merged["rows"]}
    lm = rows["cnn: landscape.loss_map (loop×1)"]
    assert lm["throughput"] == 150.0 and lm["sizes"] == "11² × 1347" and lm["ratio"] is None
    assert lm["flop_frac"] == pytest.approx(0.5) and lm["bound"] == "compute"
    assert rows["cnn: torch per-point loop"]["ratio"] == 2.0
    assert rows["cnn: fastest alternative, loss_map strategy=loop×4"]["diagnostic"]
    assert rows["cnn: loss_landscapes.random_plane"]["skipped"] == "not installed"
    assert merged["targets"]["networks: cnn (25,290 params) loss_map ≥ 1× the torch per-point loop"]["met"]
    report = suite.format_report({"tag": "cpu-2core", "roofline": ROOFLINE, **merged})
    assert "loop×4 [diag]" in report and "skipped (not installed)" in report and "2×" in report


def test_peer_libraries_are_optional():
    assert common.peer("json") == (json, None)
    assert common.peer("json", off=True) == (None, "--no-json")
    assert common.peer("landscape_no_such_library") == (None, "not installed")
    assert common.ratio_target({"speedup": 3.0}, "speedup", 2) == {"value": 3.0, "met": True}
    assert common.ratio_target({"skipped": "not installed"}, "speedup", 2)["skipped"] == "not installed"


# ------------------------------------------------------------------------------------------------ writing


def test_write_json_is_atomic(tmp_path):
    path = tmp_path / "r.json"
    common.write_json(path, {"a": 1, "nan": float("nan")})
    assert json.loads(path.read_text())["a"] == 1
    with pytest.raises(TypeError):
        common.write_json(path, {"bad": object()})
    assert json.loads(path.read_text())["a"] == 1  # the previous file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # and no temporary file is left


def test_check_writable(tmp_path):
    assert suite.check_writable(tmp_path / "ok.json") == tmp_path / "ok.json"
    with pytest.raises(BenchError, match="does not exist"):
        suite.check_writable(tmp_path / "missing" / "x.json")
    with pytest.raises(BenchError, match="directory"):
        suite.check_writable(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(BenchError):
        suite.check_writable(tmp_path / "file" / "x.json")
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]


# ------------------------------------------------------------------------------------------------ the command


FAKE = """
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
"""


def fake_workloads(directory: Path, fail=()) -> dict[str, list[str]]:
    """``suite.WORKLOADS`` with fake workloads in ``directory`` that print the sample JSON (or fail)."""
    directory.mkdir()
    workloads = {}
    for name, data in {"roofline": ROOFLINE, **sample_results()}.items():
        script = directory / f"{name}.py"
        script.write_text(textwrap.dedent(FAKE.format(data=json.dumps(data), fail=name in fail)))
        workloads[name] = [sys.executable, str(script)]
    return workloads


def test_suite_runs_workloads_and_merges(tmp_path, capsys):
    out = tmp_path / "suite.json"
    workloads = fake_workloads(tmp_path / "fake")
    assert suite.main(["--quick", "--only", "sweep,grid", "--json", str(out)], workloads=workloads) == 0
    result = json.loads(out.read_text())
    assert result["only"] == ["grid", "sweep"] and result["tag"] == "cpu-2core" and result["quick"] is True
    assert {r["bench"] for r in result["rows"]} == {"grid", "sweep"}
    assert result["benchmarks"]["grid"]["args"]["quick"] and result["benchmarks"]["grid"]["args"]["tag"] == "cpu-2core"
    assert result["benchmarks"]["sweep"]["args"]["no_cli"]  # the suite's --quick cuts
    assert result["command"] == f"landscape bench --quick --only grid,sweep --json {out}"
    assert (tmp_path / "suite.md").read_text().startswith("Produced by `landscape bench --quick")
    printed = capsys.readouterr().out
    assert sum(line.startswith("bench ") for line in printed.splitlines()) == 1  # one table
    assert "numpy broadcast rows" in printed and "landscape.sweep" in printed


def test_default_path_and_failed_workload(tmp_path, capsys, monkeypatch):
    workloads = fake_workloads(tmp_path / "fake", fail=("startup",))
    monkeypatch.chdir(tmp_path)
    assert suite.main(["--only", "startup,grid", "--tag", "box"], workloads=workloads) == 1
    [path] = tmp_path.glob("landscape-bench-box-*.json")  # a new file in the current directory
    assert path.with_suffix(".md").is_file()
    result = json.loads(path.read_text())
    assert "boom" in result["errors"]["startup"] and result["benchmarks"]["grid"]["args"]["tag"] == "box"
    assert "FAILED startup" in capsys.readouterr().out


def test_default_results_never_overwrite(tmp_path, monkeypatch):
    workloads = fake_workloads(tmp_path / "fake")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda fmt, *t: "20240102-030405")  # every run in the same second
    taken = tmp_path / "landscape-bench-box-quick-20240102-030405.json"
    taken.write_text("mine")
    for _ in range(2):
        assert suite.main(["--quick", "--only", "grid", "--tag", "box"], workloads=workloads) == 0
    assert taken.read_text() == "mine"
    stem = "landscape-bench-box-quick-20240102-030405"
    assert sorted(p.name for p in tmp_path.glob("landscape-bench-*")) == [
        f"{stem}-2.json", f"{stem}-2.md", f"{stem}-3.json", f"{stem}-3.md", f"{stem}.json"]
    assert json.loads((tmp_path / f"{stem}-3.json").read_text())["tag"] == "box"


@pytest.mark.parametrize("argv, message", [
    (["--only", "grid,maps"], "unknown benchmark 'maps'"),
    (["--json", "/nonexistent-dir/x.json"], "does not exist"),
    (["--tag", "a/b"], "--tag"),
    (["--frobnicate"], "unrecognized"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    assert suite.main(argv, workloads=fake_workloads(tmp_path / "fake")) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_cli_bench_errors(tmp_path, capsys):
    from landscape import cli

    assert cli.main(["bench", "--only", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown benchmark 'nope'" in err and "\n" not in err
    assert cli.main(["bench", "--quick", "--json", str(tmp_path / "missing" / "x.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not exist" in err and "\n" not in err


def test_suite_workloads_are_modules_of_the_package():
    package = Path(landscape.__file__).resolve().parent
    assert set(suite.WORKLOADS) == {"roofline", *suite.SUITE}
    for name, command in suite.WORKLOADS.items():
        assert command[:2] == [sys.executable, "-m"], name
        module = importlib.import_module(command[2])
        assert Path(module.__file__).resolve().parent == package / "bench" and callable(module.main)
        assert module.__name__.rpartition(".")[2] not in landscape.__all__  # no module named like a function


def test_installed_package_runs_without_torch_and_optax(tmp_path):
    """A non-editable install (no source tree next to it) with PyTorch and optax missing: the quick map suite exits
    0, writes where --json says, and marks the torch rows skipped."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "landscape", src / "landscape", ignore=ignore)  # no build/ debris in the checkout
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--disable-pip-version-check", "--no-compile", "--target", str(tmp_path / "site"), str(src)],
                   check=True, capture_output=True)
    for name in ("torch", "optax"):
        (tmp_path / "stubs" / name).mkdir(parents=True)
        (tmp_path / "stubs" / name / "__init__.py").write_text(f'raise ImportError("No module named {name!r}")\n')
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "stubs"), str(tmp_path / "site")])}
    where = subprocess.run([sys.executable, "-c", "import landscape; print(landscape.__file__)"], env=env, cwd=work,
                           capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).parent == tmp_path / "site" / "landscape"
    installed = {p for p in (tmp_path / "site").rglob("*") if "__pycache__" not in p.parts}
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "landscape", "bench", "--quick", "--only", "grid", "--json", str(out)],
                          env=env, cwd=work, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    rows = {r["workload"]: r for r in result["rows"]}
    assert rows["landscape.loss_map"]["throughput"] > 0 and rows["numpy broadcast rows"]["ratio"] > 0
    for name in ("torch per-point loop", "torch broadcast rows"):
        assert rows[name]["skipped"] == "not installed" and rows[name]["throughput"] is None
    assert "skipped (not installed)" in proc.stdout and result["errors"] == {}
    assert "torch" not in result["benchmarks"]["grid"]["environment"]
    assert out.with_suffix(".md").is_file() and list(work.iterdir()) == []  # nothing written anywhere else
    assert {p for p in (tmp_path / "site").rglob("*") if "__pycache__" not in p.parts} == installed


# ------------------------------------------------------------------------------------------------ helpers


def test_copy_bandwidth_small_array():
    out = common.copy_bandwidth(1 << 16, repeats=2)
    assert out["gbytes_per_s"] > 0 and out["jax"]["gbytes_per_s"] > 0 and out["bytes"] == 1 << 16
