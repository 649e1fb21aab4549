"""Effective area of the focused beam versus energy.

The focused beam is the doubly reflected rays (primary then secondary); singly reflected stray light and
blocked rays are counted in the fate table of every result. One geometric trace is re-weighted at every
energy: the effective area is the sum of ray weights (entrance area per ray times the product of the two
reflectivities). Its uncertainty is the standard error of that sum over independent, identically
distributed rays. Where a coating scatters, the paths depend on the energy: each energy is then traced on its
own, with the rays and the reflectivity table that `psf` traces at that energy, so both count the same photons.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table

from coatings import check_energies
from coatings.threads import split_over_threads
from geometries import Optic

from ..engine import DEFAULT_CHUNK_SIZE, Fate, Source, Trace, check_ray_count
from ..engine.kernel import double_reflection_area_per_energy
from ..sources import ParallelBeam


def effective_area(optic: Optic, energies_kev, beam: Source = ParallelBeam(), n_rays: int = 1_000_000,
                   seed: int = 0, chunk_size: int = DEFAULT_CHUNK_SIZE, progress=None, on_chunk=None) -> Table:
    """Effective area (cm2) of the focused beam at each energy (keV) of a parallel beam or a point source at a finite
    distance: columns energy, effective_area, effective_area_err. `progress`, if given, is called with the
    number of rays of each finished chunk (where the coatings scatter, that number over the number of traces: one
    geometric and one per energy); `on_chunk` (one energy only, e.g. a photon list) with each traced chunk, its
    weights including the reflectivities."""
    energies = check_energies(energies_kev)
    check_ray_count(n_rays)
    if on_chunk is not None and energies.size != 1:
        raise ValueError(f"{energies.size} energies: a photon list is written for one energy")
    trace = Trace(optic, beam.at_energy(None))
    table = trace.reflectivity_table(energies)
    scatters = table.scattering is not None
    reflectivity = trace.kernel_table(table)
    sums = np.zeros(table.energies_kev.size)
    sums_sq = np.zeros_like(sums)
    fates = np.zeros(len(Fate) + 1, dtype=np.int64)
    geometric = 0.0
    s, s2 = np.empty_like(sums), np.empty_like(sums)
    share = 1.0 / (1 + energies.size) if scatters else 1.0  # of a chunk's rays in the whole run, for `progress`
    for rays in trace.chunks(n_rays, seed, chunk_size):
        geometric += float(rays.weight[rays.fate == Fate.DOUBLE].sum())
        if progress is not None:
            progress(share * len(rays))
        if scatters:
            continue
        split_over_threads(double_reflection_area_per_energy, sums.size, reflectivity, rays.columns(), s, s2)
        if on_chunk is not None:
            on_chunk(_weighted(rays, table, trace, float(energies[0])))
        sums += s
        sums_sq += s2
        fates += rays.fate_counts()
    if scatters:
        for k, energy in enumerate(table.energies_kev):
            at_energy = Trace(optic, beam.at_energy(float(energy)))
            for rays in at_energy.chunks(n_rays, seed, chunk_size, at_energy.reflectivity_table()):
                focused = rays.weight[rays.fate == Fate.DOUBLE]
                sums[k] += focused.sum()
                sums_sq[k] += np.sum(focused**2)
                fates += rays.fate_counts()
                if on_chunk is not None:
                    on_chunk(rays)
                if progress is not None:
                    progress(share * len(rays))
    variance = np.maximum(sums_sq - sums**2 / n_rays, 0.0) * n_rays / max(n_rays - 1, 1)
    index = np.searchsorted(table.energies_kev, energies)
    meta = trace.metadata(n_rays, seed, fates, geometric_area_cm2=geometric, sampled_area_cm2=trace.aperture_area_cm2,
                          coatings=", ".join(c.name for c in trace.coatings),
                          definition="doubly reflected (primary then secondary) rays reaching the focal plane")
    if scatters:
        meta.update(traces=int(table.energies_kev.size),
                    fates_over="one trace per energy (the coatings scatter: paths depend on the energy)")
    return Table({"energy": energies * u.keV, "effective_area": sums[index] * u.cm**2,
                  "effective_area_err": np.sqrt(variance[index]) * u.cm**2}, meta=meta)


def _weighted(rays, table, trace: Trace, energy_kev: float):
    """A copy of a geometric chunk at one energy, its weights times the reflectivities (as the kernel weighs them)."""
    out = rays.copy()
    out.energy_kev[:] = energy_kev
    coating = trace.shell_coating[out.shell]
    r1 = table.lookup(coating, energy_kev, out.graze1)
    r2 = table.lookup(coating, energy_kev, out.graze2)
    twice = (out.fate == Fate.DOUBLE) | (out.fate == Fate.MULTIPLE)
    once = (out.fate == Fate.PRIMARY_ONLY) | (out.fate == Fate.SECONDARY_ONLY)
    out.weight[twice] *= r1[twice] * r2[twice]
    out.weight[once] *= r1[once]
    return out
