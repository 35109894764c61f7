"""How many CPU devices JAX exposes, for sweeps and batched runs that split their settings over local devices.

On CPU, JAX exposes one device by default and XLA splits each kernel across threads. A sweep's step is dozens of
small kernels (a few thousand settings each), and on them that splitting costs more than it gains: one device
per core, each running its shard of settings on its own core, made the 10,000-setting × 1000-step SGD sweep of
the sweep benchmark (``landscape.bench.sweep_speed``) about 1.9× faster on 2 cores. Loss maps go the other way
(big tiles that XLA already spreads over every core: a 4096² map was about 25 % slower on 2 CPU devices), so this
is a choice, made once per process before JAX's first computation; ``landscape sweep`` makes it unless told
otherwise.
"""

from __future__ import annotations

import os

import jax

from landscape import _checks

MAX_CPU_DEVICES = 8  # beyond this, each device's shard of a 10,000-setting chunk gets too small to pay


def one_device_per_cpu_core(max_devices: int = MAX_CPU_DEVICES) -> int | None:
    """Ask JAX for one CPU device per available core (at most ``max_devices``); call it right after the imports.

    Returns the number of CPU devices requested, or None when the count was already chosen by the user
    (``JAX_NUM_CPU_DEVICES``, ``jax.config.update("jax_num_cpu_devices", n)`` or
    ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``), which is left as it is. GPU and TPU devices are
    not affected. Raises RuntimeError once JAX has run a computation: the count is fixed from then on.
    """
    _checks.integer("one_device_per_cpu_core", "max_devices", max_devices, 1)
    chosen = "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
    if jax.config.jax_num_cpu_devices != -1 or chosen:
        return None
    count = min(available_cores(), max_devices)
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:
        raise RuntimeError("one_device_per_cpu_core() must run before JAX's first computation (the number of CPU "
                           "devices is fixed then): call it right after `import landscape`, or set "
                           f"JAX_NUM_CPU_DEVICES={count} in the environment.") from None
    return count


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
