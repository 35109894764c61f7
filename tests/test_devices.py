"""landscape.devices: one CPU device per core, chosen before JAX starts, and the CLI's use of it."""

import os
import subprocess
import sys

import numpy as np
import pytest

import landscape as ls


def python(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env})


CORES = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(), 8)


def test_one_device_per_core_before_jax_starts():
    out = python("import jax, landscape as ls; n = ls.one_device_per_cpu_core(); print(n, len(jax.devices('cpu')))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(CORES), str(CORES)]
    out = python("import jax, landscape as ls; n = ls.one_device_per_cpu_core(max_devices=1); "
                 "print(n, len(jax.devices('cpu')))")
    assert out.stdout.split() == ["1", "1"]


@pytest.mark.parametrize("env", [{"JAX_NUM_CPU_DEVICES": "3"}, {"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}])
def test_a_count_the_user_chose_is_kept(env):
    out = python("import jax, landscape as ls; n = ls.one_device_per_cpu_core(); print(n, len(jax.devices('cpu')))",
                 **env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "3"]


def test_too_late_says_how_to_fix_it():
    out = python("import jax, jax.numpy as jnp, landscape as ls; jnp.ones(2).block_until_ready(); "
                 "ls.one_device_per_cpu_core()")
    assert out.returncode != 0
    assert "must run before JAX's first computation" in out.stderr and "JAX_NUM_CPU_DEVICES=" in out.stderr
    with pytest.raises(ValueError, match="max_devices must be an integer ≥ 1, got 0"):
        ls.one_device_per_cpu_core(max_devices=0)


def test_cli_sweep_shards_over_one_device_per_core_with_the_same_results(tmp_path):
    command = [sys.executable, "-m", "landscape", "sweep", "--problem", "seed-regression", "--optimizer", "sgd",
               "--steps", "50", "--grid", "lr=log:1e-3:0.1:6", "--grid", "momentum=lin:0:0.9:5", "--quiet",
               "--no-cache", "--out", str(tmp_path / "s.png")]
    clean = {k: v for k, v in os.environ.items() if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    for name, env in (("auto", clean), ("one", {**clean, "JAX_NUM_CPU_DEVICES": "1"})):
        subprocess.run([*command, "--save", str(tmp_path / f"{name}.npz")], env=env, check=True, capture_output=True)
    auto, one = ls.Sweep.load(tmp_path / "auto.npz"), ls.Sweep.load(tmp_path / "one.npz")
    assert auto.meta["devices"] == CORES and one.meta["devices"] == 1
    np.testing.assert_allclose(auto.final_loss, one.final_loss, rtol=1e-6)
    np.testing.assert_array_equal(auto.status, one.status)
