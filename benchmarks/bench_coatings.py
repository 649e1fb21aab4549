"""Speed of the coating code: a large multilayer reflectivity grid and the per-ray table lookup.

    python benchmarks/bench_coatings.py

1. R of a 300-layer (150-bilayer) depth-graded W/B4C stack on 600 energies x 300 graze angles
   (compilation excluded: a small warm-up call comes first).
2. The per-ray cost of reflectivity inside the tracer: XMM as designed (its gold does not scatter, so the
   reflectivity is the only difference) on axis at 1.5 keV traced with and without weighting by the Au table
   (two lookups per doubly reflected ray), same rays.
3. The lookup alone at random angles and energies of a table on the solar source's 50 eV nodes (1-10 keV).
"""

from __future__ import annotations

import os
import platform
import time

import coatings.numba_cache  # noqa: F401  (first: it sets where numba caches)

# isort: split
import numba
import numpy as np


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def multilayer_grid() -> None:
    from coatings import Multilayer, Stack, material

    stack = Stack(
        "W/B4C 150 bilayers",
        material("SiO2"),
        multilayer=Multilayer(
            material("W"), material("B4C"), 150, 0.4, d_min_nm=2.5, d_max_nm=12.0, c=0.25, roughness_nm=0.4
        ),
    )
    energies = np.linspace(1.0, 80.0, 600)
    angles = np.linspace(0.5e-3, 20e-3, 300)
    stack.reflectivity_grid(energies[:2], angles[:2])  # compile / load the cache
    first = best_of(1, lambda: stack.reflectivity_grid(energies, angles))
    elapsed = best_of(3, lambda: stack.reflectivity_grid(energies, angles))
    print(
        f"300-layer W/B4C on 600 energies x 300 angles: {elapsed:.2f} s "
        f"({first:.2f} s on first use, which includes fetching the optical constants from xraylib)"
    )


def lookup_in_tracer() -> None:
    from geometries import load_optic
    from raytrace.engine import Fate, Rays, Trace
    from raytrace.engine.rng import seed_key
    from raytrace.sources import ParallelBeam

    trace = Trace(load_optic("xmm_design"), ParallelBeam(energy_kev=1.5))
    table = trace.reflectivity_table()
    n, key = 1 << 21, seed_key(1)
    buffer = Rays.empty(n)
    for weigh in (None, table):
        trace.trace_range(key, 0, n, n, out=buffer, table=weigh)
    geometric = best_of(5, lambda: trace.trace_range(key, 0, n, n, out=buffer))
    weighted = best_of(5, lambda: trace.trace_range(key, 0, n, n, out=buffer, table=table))
    lookups = 2 * np.count_nonzero(buffer.fate == Fate.DOUBLE) + np.count_nonzero(
        (buffer.fate == Fate.PRIMARY_ONLY) | (buffer.fate == Fate.SECONDARY_ONLY)
    )
    print(
        f"tracer, XMM as designed (no scattering) at 1.5 keV ({lookups / n:.2f} lookups per ray): "
        f"{n / geometric / 1e6:.1f} M rays/s geometric, "
        f"{n / weighted / 1e6:.1f} M rays/s with Au reflectivity, "
        f"i.e. {(weighted - geometric) / n * 1e9:+.1f} ns per ray "
        "(the lookups overlap with the trace's dependency chain; differences below ~2 ns are noise)"
    )


def lookup_in_band_table() -> None:
    from coatings import load_recipe
    from coatings.table import ReflectivityTable
    from raytrace.sources import SolarSource

    nodes = SolarSource().energy_nodes()
    table = ReflectivityTable.build([load_recipe("au250_ni")], nodes, 0.02)
    rng = np.random.default_rng(0)
    n = 10_000_000
    energy, graze, coating = rng.choice(nodes, n), rng.uniform(0.0, 0.02, n), np.zeros(n, int)
    table.lookup(coating[:10], energy[:10], graze[:10])
    elapsed = best_of(3, lambda: table.lookup(coating, energy, graze))
    print(
        f"table lookup (Au, 1-10 keV, {table.energies_kev.size} energy nodes, angle step "
        f"{table.angle_step_rad * 1e6:.1f} urad), random energies and angles: {elapsed / n * 1e9:.1f} ns per lookup "
        f"({numba.get_num_threads()} threads)"
    )


def main():
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numba threads {numba.get_num_threads()}, Python {platform.python_version()}, numba {numba.__version__}"
    )
    multilayer_grid()
    lookup_in_tracer()
    lookup_in_band_table()


if __name__ == "__main__":
    main()
