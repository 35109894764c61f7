"""The device's limits, measured in this run: a float32 SGEMM (arithmetic) and a device-to-device copy (memory).

    python -m landscape.bench.roofline            # SGEMM 2048², copy of a 256 MiB array
    python -m landscape.bench.roofline --quick    # SGEMM 1024², same copy size (it must exceed the caches)

``landscape bench`` runs this first, in its own process, and divides every workload's useful FLOP/s and bytes/s
by these figures (the "of roofline" column).
"""

from __future__ import annotations

import argparse

import jax

from landscape.bench.common import (add_output_arguments, busy_warning, copy_bandwidth, environment, save_result,
                                    sgemm_roofline, short_device_tag)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m landscape.bench.roofline", description=__doc__.split("\n\n")[0])
    p.add_argument("--sgemm", type=int, help="SGEMM size (default 2048; 1024 with --quick)")
    p.add_argument("--copy-mib", type=int, default=256, help="array size of the copy, MiB (default 256)")
    add_output_arguments(p, "smaller SGEMM")
    args = p.parse_args(argv)
    warnings = [f"at start: {w}" for w in [busy_warning()] if w]
    tag = args.tag or short_device_tag()
    sgemm = sgemm_roofline(args.sgemm or (1024 if args.quick else 2048))
    copy = copy_bandwidth(args.copy_mib * 2**20)
    warnings += [f"at end: {w}" for w in [busy_warning()] if w]
    print(f"device: {jax.devices()}  tag: {tag}")
    print(f"SGEMM {sgemm['n']}²: {sgemm['gflops']:.1f} GFLOP/s (jax {sgemm['jax']['gflops']:.1f}"
          + (f", numpy {sgemm['numpy']['gflops']:.1f})" if "numpy" in sgemm else ")"))
    print(f"copy {args.copy_mib} MiB: {copy['gbytes_per_s']:.1f} GB/s read + written (jax {copy['jax']['gbytes_per_s']:.1f}"
          + (f", numpy {copy['numpy']['gbytes_per_s']:.1f})" if "numpy" in copy else ")"))
    for w in warnings:
        print(f"WARNING: {w}")
    result = {"benchmark": "roofline", "tag": tag, "device_kind": jax.devices()[0].device_kind,
              "platform": jax.devices()[0].platform, "sgemm": sgemm, "copy": copy,
              "ridge_flops_per_byte": sgemm["gflops"] / copy["gbytes_per_s"], "environment": environment(),
              "args": vars(args), "warnings": warnings}
    save_result(args, "roofline", tag, result)
    return result


if __name__ == "__main__":
    main()
