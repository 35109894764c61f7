"""The device's limits, measured in this run: a float32 SGEMM (arithmetic) and a device-to-device copy (memory).

    python bench/roofline.py            # SGEMM 2048², copy of a 256 MiB array
    python bench/roofline.py --quick    # SGEMM 1024², same copy size (it must exceed the caches)

``landscape bench`` runs this first, in its own process, and divides every workload's useful FLOP/s and bytes/s
by these figures (the "of roofline" column). See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402

from _common import (RESULTS, busy_warning, copy_bandwidth, environment, save_json, sgemm_roofline,  # noqa: E402
                     short_device_tag)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sgemm", type=int, help="SGEMM size (default 2048; 1024 with --quick)")
    p.add_argument("--copy-mib", type=int, default=256, help="array size of the copy, MiB (default 256)")
    p.add_argument("--quick", action="store_true", help="smaller SGEMM")
    p.add_argument("--tag", help="device tag (default e.g. cpu-2core, h100)")
    p.add_argument("--json", help="result path (default bench/results/roofline-<tag>[-quick].json)")
    args = p.parse_args(argv)
    warnings = [f"at start: {w}" for w in [busy_warning()] if w]
    tag = args.tag or short_device_tag()
    path = Path(args.json) if args.json else RESULTS / f"roofline-{tag}{'-quick' if args.quick else ''}.json"
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
    print(f"saved {save_json(path, result)}")
    return result


if __name__ == "__main__":
    main()
