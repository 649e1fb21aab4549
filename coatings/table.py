"""Tabulated R(E, graze angle) for the tracer's per-ray lookup, with a controlled interpolation error.

Angles are a uniform grid from 0 (an index, not a search, per lookup). Its step is halved until linear interpolation
reproduces R at every midpoint within the tolerance. Energies are nodes: exactly the energies asked for. Every source
traces its rays at such nodes (a parallel beam at its energy, a spectrum at the centres of its energy bins), so the
energy direction is exact and no node is needed at the absorption edges. Each coating's grid ends at its own largest
angle (`max_angle_rad` may be one per coating: a coating on inner shells never meets the graze angles of the outer ones,
and a multilayer's fine structure there would make the shared step tiny and the table huge); beyond it the table holds
the coating's last value. The tables reach past the largest graze angle a traced optic produces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from .scattering import HC_KEV_NM, band_frequency, band_share, scattered_graze, towards_cutoff
from .threads import split_over_threads

DEFAULT_TOLERANCE = 5e-4
COARSEST_ANGLE_STEP_RAD = 1e-4
FINEST_ANGLE_STEP_RAD = 1e-7
# R_0 at the angles rays scatter to enters their flux under a square root and averaged over the PSD: a looser grid
# suffices, and it reaches far beyond the graze angles (0.22 rad for 10 /um at 0.5 keV), where a multilayer's
# Kiessig fringes would otherwise make it huge
SCATTER_TOLERANCE = 2e-3
SCATTER_FINEST_STEP_RAD = 2.5e-5
QUADRATURE_NODES = 48  # per side of the specular beam, graded towards the end of its frequencies (below)


@dataclass(frozen=True)
class ReflectivityTable:
    """values[coating, energy node, angle node] on a shared grid: the reflectivity a ray's weight carries.

    If a coating scatters (a `coatings.stack.Stack` with `scattering`, see `coatings.scattering`), its values are
    R_0, those of the stack without its top surface's roughness in the scattering band, and `scattering[coating]`
    = (PSD index, f_min, f_max in 1/nm, band rms in nm; all 0 for a coating that does not scatter);
    `scatter_values` holds R_0 at the angles rays scatter to (angle step `scatter_step_rad`) and
    `scatter_fraction` the first-order scattered flux per unit R_0 (tau) on the grid of `values`. Without any
    scattering coating these are None."""

    energies_kev: np.ndarray
    angle_step_rad: float
    values: np.ndarray
    scattering: np.ndarray | None = None
    scatter_step_rad: float = 0.0
    scatter_values: np.ndarray | None = None
    scatter_fraction: np.ndarray | None = None

    @classmethod
    def build(cls, coatings, energies_kev, max_angle_rad, tolerance: float = DEFAULT_TOLERANCE):
        """A table at exactly these energies (keV), over graze angles 0 .. max_angle_rad (one, or one per coating);
        the angle step is chosen on the reflectivity the weights carry."""
        energies = np.unique(np.asarray(energies_kev, dtype=float))
        models = [getattr(c, "scattering", None) for c in coatings]
        grids = [c.reflectivity_grid if m is None else c.smooth_reflectivity_grid for c, m in zip(coatings, models)]
        step, values, counts = _angle_grid(grids, energies, max_angle_rad, tolerance)
        if all(m is None for m in models):
            return cls(energies, step, values)
        psd = np.array(
            [
                [0.0] * 4
                if m is None
                else [m.psd_index, 1e-3 * m.f_min_per_um, 1e-3 * m.f_max_per_um, c.band_roughness_nm]
                for c, m in zip(coatings, models)
            ]
        )
        largest = np.broadcast_to(np.asarray(max_angle_rad, dtype=float), (len(coatings),))
        cos_reach = np.cos(largest) - HC_KEV_NM / energies[0] * psd[:, 2]
        reach = np.where(psd[:, 2] > 0, np.arccos(np.clip(cos_reach, 0.0, 1.0)), COARSEST_ANGLE_STEP_RAD)
        scatter_step, scatter_values, _ = _angle_grid(
            grids, energies, reach, SCATTER_TOLERANCE, SCATTER_FINEST_STEP_RAD
        )
        fraction = np.zeros_like(values)
        split_over_threads(
            _scatter_fraction,
            energies.size,
            values,
            step,
            scatter_values,
            scatter_step,
            energies,
            psd,
            counts,
            fraction,
        )
        return cls(energies, step, values, psd, scatter_step, scatter_values, fraction)

    def lookup(self, coating_index, energy_kev, graze_rad) -> np.ndarray:
        """Interpolated R for arrays of coating index, energy (keV) and graze angle (rad)."""
        return _interpolated(self.values, self.energies_kev, self.angle_step_rad, coating_index, energy_kev, graze_rad)

    def scatter_fraction_at(self, coating_index, energy_kev, graze_rad) -> np.ndarray:
        """Interpolated tau (`scatter_fraction`), as `lookup` interpolates R."""
        return _interpolated(
            self.scatter_fraction, self.energies_kev, self.angle_step_rad, coating_index, energy_kev, graze_rad
        )


def _interpolated(values, energies, angle_step, coating_index, energy_kev, graze_rad) -> np.ndarray:
    c, e, g = np.broadcast_arrays(
        np.asarray(coating_index, np.int64), np.asarray(energy_kev, float), np.asarray(graze_rad, float)
    )
    out = np.empty(c.size)
    split_over_threads(_lookup_many, out.size, values, energies, angle_step, c.ravel(), e.ravel(), g.ravel(), out)
    return out.reshape(c.shape)


def _angle_counts(grids, max_angle_rad, step: float) -> np.ndarray:
    """Number of angle nodes of each coating's grid at this step."""
    limits = np.broadcast_to(np.asarray(max_angle_rad, dtype=float), (len(grids),))
    if not np.all(np.isfinite(limits) & (limits > 0)):
        raise ValueError(f"max_angle_rad = {max_angle_rad}: must be > 0 (one value, or one per coating)")
    return np.ceil(limits / step).astype(int) + 1


def _grid(grids, energies: np.ndarray, step: float, counts: np.ndarray) -> np.ndarray:
    """values[coating, energy, angle]: each coating's grid function on its own counts[c] angles, then held at its last
    value."""
    n = counts.max()
    return np.stack(
        [
            np.pad(grid(energies, np.arange(m) * step), ((0, 0), (0, n - m)), mode="edge")
            for grid, m in zip(grids, counts)
        ]
    )


def _angle_grid(grids, energies: np.ndarray, max_angle_rad, tolerance: float, finest: float = FINEST_ANGLE_STEP_RAD):
    """The coarsest uniform angle step (halving from 1e-4 rad, down to `finest`) whose midpoints interpolate within
    tolerance, for the grid functions `grids` (one per coating: energies, angles -> R).

    The grid at step h/2 holds the midpoints of the grid at step h; once they pass, the finer grid
    (already computed) is kept.
    """
    if not tolerance > 0:
        raise ValueError(f"tolerance = {tolerance}: must be > 0")
    step = COARSEST_ANGLE_STEP_RAD
    while True:
        counts = 2 * _angle_counts(grids, max_angle_rad, step) - 1
        values = _grid(grids, energies, 0.5 * step, counts)
        error = np.abs(values[:, :, 1::2] - 0.5 * (values[:, :, :-1:2] + values[:, :, 2::2])).max(initial=0.0)
        if error <= tolerance or step / 2 < finest:
            return 0.5 * step, values, counts
        step *= 0.5


@numba.njit(cache=True, inline="always")
def energy_node(energies, energy):
    """(node, weight): the energy node at or below `energy` (keV) and the interpolation weight of the next one,
    clamped at the grid ends (node 0 and weight 0 for a single node)."""
    n_e = energies.shape[0]
    if n_e == 1 or energy <= energies[0]:
        return 0, 0.0
    if energy >= energies[n_e - 1]:
        return n_e - 2, 1.0
    # numpy's searchsorted(side="right") - 1 by bisection: numba's searchsorted compiles comparisons for every dtype
    # (complex and NaN orderings included), 0.3 s of every first run that traces
    node, above = 0, n_e - 1  # energies[node] <= energy < energies[above]
    while above - node > 1:
        middle = (node + above) // 2
        if energies[middle] <= energy:
            node = middle
        else:
            above = middle
    return node, (energy - energies[node]) / (energies[node + 1] - energies[node])


@numba.njit(cache=True, inline="always")
def reflectivity_at(values, energies, angle_step, coating, energy, graze):
    """Bilinear interpolation in (energy node, uniform angle grid); clamped at the grid ends."""
    ie, fe = energy_node(energies, energy)
    r0 = reflectivity_at_node(values, angle_step, coating, ie, graze)
    if fe == 0.0:
        return r0
    r1 = reflectivity_at_node(values, angle_step, coating, ie + 1, graze)
    return r0 * (1.0 - fe) + r1 * fe


@numba.njit(cache=True, inline="always")
def reflectivity_at_node(values, angle_step, coating, node, graze):
    """`reflectivity_at` at the table's energy node `node` (the same number): linear in the graze angle only."""
    n_a = values.shape[2]
    x = abs(graze) / angle_step
    if x >= n_a - 1:
        ia, fa = n_a - 2, 1.0
    else:
        ia = int(x)
        fa = x - ia
    return values[coating, node, ia] * (1.0 - fa) + values[coating, node, ia + 1] * fa


@numba.njit(cache=True, no_cfunc_wrapper=True, nogil=True)
def _lookup_many(values, energies, angle_step, coating, energy, graze, out, start, stop):
    """`reflectivity_at` of points start .. stop - 1 (`coatings.threads.split_over_threads`)."""
    for i in range(start, stop):
        out[i] = reflectivity_at(values, energies, angle_step, coating[i], energy[i], graze[i])


@numba.njit(cache=True, no_cfunc_wrapper=True, nogil=True, error_model="numpy")
def _scatter_fraction(values, angle_step, scatter_values, scatter_step, energies, psd, counts, out, first, end):
    """The first-order scattered flux per unit R_0 (tau, `coatings.scattering`) at energy nodes first .. end - 1 of
    every coating's angle nodes 1 .. counts[c] - 1 (held beyond); R_0 from `values` at the graze angle and from
    `scatter_values` at the scattered one. The integral runs over each side's share v of the PSD's power, by the
    midpoint rule in t with v = 1 - (1 - t)^2: towards the surface sin a_s falls to 0 like sqrt(1 - v) at the
    highest frequency that propagates, and is smooth in t."""
    n_a = values.shape[2]
    for c in range(values.shape[0]):
        psd_index, f_lo, f_hi, sigma = psd[c, 0], psd[c, 1], psd[c, 2], psd[c, 3]
        if f_hi <= 0.0 or sigma <= 0.0:
            continue
        for k in range(first, end):
            wavelength = HC_KEV_NM / energies[k]
            for j in range(1, counts[c]):
                graze = j * angle_step
                r0 = values[c, k, j]
                if r0 <= 0.0:
                    continue
                towards_share = band_share(psd_index, f_lo, f_hi, towards_cutoff(graze, wavelength))
                total = 0.0
                for side in range(2):
                    share = 1.0 if side == 0 else towards_share
                    if share <= 0.0:
                        continue
                    acc = 0.0
                    for i in range(QUADRATURE_NODES):
                        rest = 1.0 - (i + 0.5) / QUADRATURE_NODES  # 1 - t
                        f = band_frequency(psd_index, f_lo, f_hi, share * (1.0 - rest * rest))
                        graze_s = scattered_graze(graze, wavelength, f, side == 1)
                        r_s = reflectivity_at_node(scatter_values, scatter_step, c, k, graze_s)
                        acc += 2.0 * rest * math.sin(graze_s) * math.sqrt(max(r_s, 0.0) / r0)
                    total += share * acc / QUADRATURE_NODES
                tis = (4.0 * math.pi * sigma * math.sin(graze) / wavelength) ** 2
                out[c, k, j] = 0.5 * tis * total / math.sin(graze)
            for j in range(counts[c], n_a):
                out[c, k, j] = out[c, k, counts[c] - 1]
