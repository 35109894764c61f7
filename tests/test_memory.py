"""Memory promises: a job either fits the host memory its check computed (measured here as the peak resident memory
it adds) or refuses at once, naming the figure and what to change."""

import json
import subprocess
import sys

import numpy as np
import pytest

import landscape as ls
from landscape import _engine
from landscape.bench.common import reset_peak_rss

# One job of a given kind and size, measured in a fresh process: the largest figure the memory check computed, and
# the peak resident memory the job added (peak after it, less the resident memory before; imports and a first small
# job of the same kind come before the measurement).
MEASURE = r"""
import json, sys
import numpy as np
import landscape as ls
from landscape import _engine
from landscape.bench.common import peak_rss_bytes, reset_peak_rss, rss_bytes

checked = []
real = _engine.check_host_memory
def spy(needed, *args):
    checked.append(needed)
    return real(needed, *args)
_engine.check_host_memory = spy

kind, n, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from landscape.cli import main
def job(n):
    if kind == "sweep":
        return ls.sweep(ls.problems.seed_regression(), ls.optim.SGD, 5, lr=np.logspace(-3, 0, n),
                        momentum=np.linspace(0, 0.99, n), progress=False)
    if kind == "map":
        return ls.loss_map(ls.problems.get("rosenbrock"), ls.Axis("x", -2, 2, n), ls.Axis("y", -1, 3, n), grad=True,
                           progress=False)
    if kind == "cli_sweep":  # the figure, the table and the best setting too
        return main(["sweep", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "5", "--grid",
                     f"lr=log:1e-3:1:{n}", "--grid", f"momentum=lin:0:0.99:{n}", "--out", f"{tmp}/s.png",
                     "--csv", f"{tmp}/s.csv", "--quiet", "--no-cache"])
    if kind == "run":
        return ls.run(ls.problems.seed_regression(), ls.optim.SGD(lr=np.linspace(1e-3, 0.1, n)), 50, progress=False)
job(3)
checked.clear()
before = rss_bytes()
reset_peak_rss()
result = job(n)
print(json.dumps({"estimate": max(checked), "added": peak_rss_bytes() - before}))
"""


def measure(kind: str, n: int, tmp) -> dict:
    proc = subprocess.run([sys.executable, "-c", MEASURE, kind, str(n), str(tmp)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


needs_peak_reset = pytest.mark.skipif(not reset_peak_rss(), reason="needs /proc/self/clear_refs (Linux)")


@needs_peak_reset
@pytest.mark.parametrize("kind, sizes", [("sweep", (300, 1200)), ("map", (400, 2000)), ("run", (5_000, 40_000)),
                                         ("cli_sweep", (60, 300))])
def test_jobs_fit_the_memory_their_check_computed(kind, sizes, tmp_path):
    for n in sizes:
        figures = measure(kind, n, tmp_path)
        assert figures["added"] <= figures["estimate"], (kind, n, figures)
    # and the figure is a useful one: a job 10–20× bigger is not estimated wildly above what it takes
    assert figures["estimate"] <= 2 * figures["added"] + _engine.RUNTIME_BYTES + 64 * 2**20, figures


def test_a_job_too_big_for_the_memory_refuses_at_once_with_the_figure(monkeypatch):
    monkeypatch.setattr(_engine, "available_memory", lambda: 20 * 2**20)
    ran = []
    monkeypatch.setattr(_engine, "_run_tiles", lambda *args: ran.append(args))
    with pytest.raises(MemoryError, match=r"sweep: 1,000,000 settings needs [\d.]+ (MiB|GiB), more than the 20\.0 "
                                          r"MiB of memory available; ask for fewer"):
        ls.sweep(ls.problems.seed_regression(), ls.optim.SGD, 5, lr=np.logspace(-3, 0, 1000),
                 momentum=np.linspace(0, 0.99, 1000), progress=False)
    assert not ran  # refused before any tile ran
