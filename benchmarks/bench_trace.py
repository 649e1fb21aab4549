"""Throughput and memory of the core engine: XMM on axis, 1.5 keV, Au reflectivity, PSF accumulation.

    python benchmarks/bench_trace.py [--rays 2e7] [--memory-rays 1e8]

Prints rays per second (compilation excluded: a small warm-up run comes first) and
the peak resident memory of a separate process tracing --memory-rays rays.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time

import numba


def trace_psf(n_rays: int) -> float:
    from geometries import load_optic
    from raytrace.analysis import psf

    optic = load_optic("xmm")
    psf(optic, 1.5, n_rays=50_000)  # compile / load the numba cache
    start = time.perf_counter()
    result = psf(optic, 1.5, n_rays=n_rays, seed=1)
    elapsed = time.perf_counter() - start
    assert result.effective_area_cm2 > 0
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rays", type=float, default=2e7)
    parser.add_argument("--memory-rays", type=float, default=1e8)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        trace_psf(int(args.child))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)  # MiB (ru_maxrss is KiB on Linux)
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numba threads {numba.get_num_threads()}, Python {platform.python_version()}, numba {numba.__version__}")
    n = int(args.rays)
    elapsed = trace_psf(n)
    print(f"XMM on axis, 1.5 keV, Au, PSF: {n:,} rays in {elapsed:.2f} s = {n / elapsed / 1e6:.2f} million rays/s")
    m = int(args.memory_rays)
    out = subprocess.run([sys.executable, __file__, "--child", str(m)], capture_output=True, text=True, check=True)
    print(f"peak resident memory for {m:,} rays: {float(out.stdout.strip().splitlines()[-1]):.0f} MiB")


if __name__ == "__main__":
    main()
