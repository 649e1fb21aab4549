"""Effective area of the focused beam versus energy.

The focused beam is the doubly reflected rays (primary then secondary); singly reflected stray light and
blocked rays are counted in the fate table of every result. One geometric trace is re-weighted at every
energy: the effective area is the sum of ray weights (entrance area per ray times the product of the two
reflectivities). Its uncertainty is the standard error of that sum over independent, identically
distributed rays.

Where a coating scatters (`coatings.scattering`), paths depend on the energy and the re-weighted geometric trace
(R_0 at both reflections, every path unchanged) becomes a control variate. At each energy the first n of the rays
(n_rays / 16, at least 65536; all of them for a photon list) are traced as `psf` traces them; their traced weights
W and re-weighted geometric ones G give the area as the sum of G over all rays plus (n_rays / n) times the sum of
W - G over those n. It is unbiased, so `area` and `psf` count the same photons within their errors, and costs a
sixteenth of a trace per energy; its error includes the correction's.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table

from coatings import check_energies
from coatings.threads import split_over_threads
from geometries import Optic

from ..engine import DEFAULT_CHUNK_SIZE, Fate, Rays, Source, Trace, check_ray_count
from ..engine.kernel import double_reflection_area_per_energy
from ..engine.rng import seed_key
from ..sources import ParallelBeam

SCATTER_SUBSAMPLE = 16  # where a coating scatters, each energy traces this share of the rays ...
MIN_SCATTER_RAYS = 65_536  # ... but at least this many


def effective_area(
    optic: Optic,
    energies_kev,
    beam: Source = ParallelBeam(),
    n_rays: int = 1_000_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress=None,
    on_chunk=None,
) -> Table:
    """Effective area (cm2) of the focused beam at each energy (keV) of a parallel beam or a point source at a finite
    distance: columns energy, effective_area, effective_area_err. `progress`, if given, is called with the
    share of the run's rays each finished chunk stands for (summing to n_rays); `on_chunk` (one energy only, e.g. a
    photon list) with each traced chunk, its weights including the reflectivities."""
    energies = check_energies(energies_kev)
    check_ray_count(n_rays)
    trace = Trace(optic, beam.at_energy(None))
    table = trace.reflectivity_table(energies)
    reflectivity = trace.kernel_table(table)
    scatters = table.scattering is not None
    traced = 0
    if scatters:
        traced = n_rays if on_chunk is not None else min(n_rays, max(n_rays // SCATTER_SUBSAMPLE, MIN_SCATTER_RAYS))
    share = n_rays / (n_rays + traced * table.energies_kev.size)  # of the rays traced, for `progress`
    sums = np.zeros(table.energies_kev.size)
    sums_sq = np.zeros_like(sums)
    geometric = 0.0
    s, s2 = np.empty_like(sums), np.empty_like(sums)
    run = trace.run(
        n_rays,
        seed,
        chunk_size,
        progress=None if progress is None else lambda n: progress(share * n),
        on_chunk=None
        if on_chunk is None or scatters
        else lambda rays: on_chunk(_weighted(rays, table, trace, float(energies[0]))),
    )
    for rays in run:
        split_over_threads(double_reflection_area_per_energy, sums.size, reflectivity, rays.columns(), s, s2)
        sums += s
        sums_sq += s2
        geometric += float(rays.weight[rays.fate == Fate.DOUBLE].sum())
    if scatters:
        sums, variance = _scattering_corrected(
            table,
            trace,
            n_rays,
            traced,
            seed,
            chunk_size,
            sums,
            sums_sq,
            None if progress is None else lambda n: progress(share * n),
            on_chunk,
        )
    else:
        variance = _variance(sums, sums_sq, n_rays)
    index = np.searchsorted(table.energies_kev, energies)
    meta = trace.metadata(
        n_rays,
        seed,
        run.fates,
        geometric_area_cm2=geometric,
        sampled_area_cm2=trace.aperture_area_cm2,
        coatings=", ".join(c.name for c in trace.coatings),
        definition="doubly reflected (primary then secondary) rays reaching the focal plane",
    )
    if scatters:
        meta["scattering_rays_per_energy"] = traced
    return Table(
        {
            "energy": energies * u.keV,
            "effective_area": sums[index] * u.cm**2,
            "effective_area_err": np.sqrt(variance[index]) * u.cm**2,
        },
        meta=meta,
    )


def _variance(sums, sums_sq, n: int):
    """n times the sample variance of n values with these sums and sums of squares: the variance of their sum."""
    return np.maximum(sums_sq - sums**2 / n, 0.0) * n / max(n - 1, 1)


def _scattering_corrected(table, trace, n_rays, traced, seed, chunk_size, sums, sums_sq, progress, on_chunk):
    """The areas and their variances at the table's energies, from the re-weighted geometric sums and sums of squares
    of all the rays (`sums`, `sums_sq`) and the first `traced` rays traced at each energy (the module's docstring):
    X = c W - (c - 1) G with c = n_rays / traced over those, G over the rest."""
    key = seed_key(seed)
    c = n_rays / traced
    at_energy = [trace.with_energy(float(e)) for e in table.energies_kev]
    x_sum, x_sq, g_sum, g_sq = (np.zeros_like(sums) for _ in range(4))
    buffer = Rays.empty(min(chunk_size, traced))
    for start in range(0, traced, chunk_size):
        m = min(chunk_size, traced - start)
        plain = trace.trace_range(key, start, m, n_rays)
        focused = plain.fate == Fate.DOUBLE
        coating = trace.shell_coating[plain.shell]
        for k, energy in enumerate(table.energies_kev):
            g = np.where(
                focused,
                plain.weight
                * table.lookup(coating, energy, plain.graze1)
                * table.lookup(coating, energy, plain.graze2),
                0.0,
            )
            rays = at_energy[k].trace_range(key, start, m, n_rays, out=buffer, table=table)
            w = np.where(rays.fate == Fate.DOUBLE, rays.weight, 0.0)
            x = c * w - (c - 1.0) * g
            x_sum[k] += x.sum()
            x_sq[k] += np.sum(x**2)
            g_sum[k] += g.sum()
            g_sq[k] += np.sum(g**2)
            if on_chunk is not None:
                on_chunk(rays)
            if progress is not None:
                progress(m)
    rest = n_rays - traced
    variance = _variance(x_sum, x_sq, traced) + (_variance(sums - g_sum, sums_sq - g_sq, rest) if rest else 0.0)
    return x_sum + sums - g_sum, variance


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
