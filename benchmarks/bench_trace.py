"""Throughput and memory of the engine: on-axis PSF accumulation with reflectivity weighting for
XMM as designed at 1.5 keV (with and without its slope errors), the segmented BabyIAXO custom optic at 3 keV and the
calibrated XMM, whose gold surface scatters.

    python benchmarks/bench_trace.py [--rays 2e7] [--memory-rays 1e8] [--vector-report]

Prints rays per second (compilation excluded: a small warm-up run comes first) and
the peak resident memory of a separate process tracing --memory-rays rays (XMM as designed; 0 leaves it out).
--vector-report compiles the kernels afresh (numba cannot show the machine code of cached ones) and prints, per
kernel (for the trace: per stage over a block of rays), how many of its instructions work on packed doubles in
512- and 256-bit registers and how many are packed and scalar square roots and divisions: a stage whose loops LLVM
vectorised shows packed instructions, and one that fell back to scalar code shows none. The custom optic's trace
comes last, so that the stages only segmented optics use (the spacers and joins) are compiled too.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time

if "--vector-report" in sys.argv:  # before numba is imported: an empty cache, so that every kernel is compiled here
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-vector-report-")

import coatings.numba_cache  # noqa: F401  (first: it sets where numba caches)

# isort: split
import numba

CASES = (("xmm_design", 1.5, True), ("xmm_design", 1.5, False), ("babyiaxo", 3.0, True), ("xmm", 1.5, True))


def trace_psf(n_rays: int, name: str = "xmm_design", energy_kev: float = 1.5, slope_errors: bool = True) -> float:
    from geometries import load_optic
    from geometries.optic import SlopeErrors
    from raytrace.analysis import psf

    optic = load_optic(name)
    if not slope_errors:
        optic = optic.with_slope_errors(SlopeErrors())
    psf(optic, energy_kev, n_rays=50_000, focal_plane_z_mm=0.0)  # compile / load the numba cache
    start = time.perf_counter()
    result = psf(optic, energy_kev, n_rays=n_rays, seed=1, focal_plane_z_mm=0.0)
    elapsed = time.perf_counter() - start
    assert result.effective_area_cm2 > 0
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rays", type=float, default=2e7)
    parser.add_argument("--memory-rays", type=float, default=1e8)
    parser.add_argument("--vector-report", action="store_true")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        trace_psf(int(args.child))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)  # MiB (ru_maxrss is KiB on Linux)
        return
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numba threads {numba.get_num_threads()}, Python {platform.python_version()}, numba {numba.__version__}"
    )
    n = int(args.rays)
    for name, energy, slope_errors in CASES:
        elapsed = trace_psf(n, name, energy, slope_errors)
        label = f"{name} on axis, {energy:g} keV, PSF, {'with' if slope_errors else 'without'} slope errors"
        print(f"{label}: {n:,} rays in {elapsed:.2f} s = {n / elapsed / 1e6:.2f} million rays/s")
    if args.vector_report:
        vector_report()
    m = int(args.memory_rays)
    if m <= 0:
        return
    out = subprocess.run([sys.executable, __file__, "--child", str(m)], capture_output=True, text=True, check=True)
    print(f"peak resident memory for {m:,} rays: {float(out.stdout.strip().splitlines()[-1]):.0f} MiB")


def vector_report() -> None:
    """Packed and scalar floating-point instructions of each kernel the runs above compiled."""
    from coatings import parratt, table
    from raytrace.analysis import encircled
    from raytrace.engine import aperture, kernel

    kernels = [
        kernel._load,
        aperture.start_block,
        kernel._start,
        kernel._entrance,
        kernel._compact,
        kernel._search,
        kernel._deviates,
        kernel._reflect,
        kernel._finish,
        kernel._weights,
        kernel.double_reflection_area_per_energy,
        encircled._bins,
        encircled._sums,
        parratt._parratt_energy,
        table._lookup_many,
    ]
    print("kernel: packed doubles in zmm / ymm registers; packed / scalar sqrt and div")
    for dispatcher in kernels:
        for overload in dispatcher.overloads.values():
            asm = overload.library.get_asm_str()
            zmm = len(re.findall(r"\bv\w+pd\b[^\n]*%zmm", asm))
            ymm = len(re.findall(r"\bv\w+pd\b[^\n]*%ymm", asm))
            packed = len(re.findall(r"\bv(?:sqrt|div)pd\b", asm))
            scalar = len(re.findall(r"\bv(?:sqrt|div)sd\b", asm))
            print(f"  {dispatcher.__module__}.{dispatcher.__name__}: {zmm} / {ymm}; {packed} / {scalar}")


if __name__ == "__main__":
    main()
