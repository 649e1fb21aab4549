"""Speed of the optimiser: f_DO scan of the BabyIAXO custom optic over 25 focal lengths (3-9 m) with the
coating of each of 4 layer groups optimised (W/B4C multilayer, Ir, Au), on local worker processes.

    python benchmarks/bench_optimise.py [--workers 2] [--output-dir DIR]

Prints the wall time (target: under 3 minutes on 2 cores) and the f_DO curve.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def main():
    import raytrace
    from raytrace.helioscope.optimise import local_executor

    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output-dir", type=Path)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.workers} workers")
    focal_lengths = np.arange(3000.0, 9000.0 + 1, 250.0)
    out = args.output_dir or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with local_executor(args.workers) as executor:
        result = raytrace.optimise(focal_lengths, executor=executor)
    elapsed = time.perf_counter() - start
    table = result.table
    print(
        f"{len(focal_lengths)} focal lengths x {table.meta['groups']} groups, {table.meta['rays_per_focal_length']:,} "
        f"rays each: {elapsed:.0f} s ({elapsed / 60:.1f} min), the verifying full trace included",
        flush=True,
    )
    raytrace.write_table(table, out / "scan.ecsv")
    raytrace.write_design(result.best_design, out / "best_design.toml")
    for row in table:
        print(
            f"  f = {row['focal_length']:6.0f} mm  f_DO {row['f_do']:7.1f}  a {row['spot_area']:.3f} cm2  "
            f"throughput {row['throughput']:.3f}"
        )
    print(
        f"best: f = {table.meta['best_focal_length_mm']:g} mm, f_DO {max(table['f_do']):.1f}; full trace "
        f"{result.verified.f_do:.1f}; outputs in {out}"
    )


if __name__ == "__main__":
    main()
