"""Tabulated R(E, graze angle) for the tracer's per-ray lookup, with a controlled interpolation error.

Angles are a uniform grid from 0 (an index, not a search, per lookup). Its step is halved until
linear interpolation reproduces R at every midpoint within the tolerance. Energies are nodes: exactly
the energies asked for. Every source traces its rays at such nodes (a parallel beam at its energy, a
spectrum at the centres of its energy bins), so the energy direction is exact and no node is needed at
the absorption edges. Each coating's grid ends at its own largest angle (`max_angle_rad` may be one per coating: a coating
on inner shells never meets the graze angles of the outer ones, and a multilayer's fine structure
there would make the shared step tiny and the table huge); beyond it the table holds the coating's
last value. The tables reach past the largest graze angle a traced optic produces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .threads import split_over_threads


DEFAULT_TOLERANCE = 5e-4
COARSEST_ANGLE_STEP_RAD = 1e-4
FINEST_ANGLE_STEP_RAD = 1e-7


@dataclass(frozen=True)
class ReflectivityTable:
    """values[coating, energy node, angle node] on a shared grid: the reflectivity a ray's weight carries.

    If a coating scatters (a `coatings.stack.Stack` with `scattering`), its values are those of the smooth stack
    (specular plus scattered flux), `specular_values` holds the rough stack's (the specular beam alone; equal to
    `values` for the other coatings), and `scattering[coating]` = (PSD index, f_min, f_max in 1/nm; all 0 for a
    coating that does not scatter). Without any scattering coating both are None."""

    energies_kev: np.ndarray
    angle_step_rad: float
    values: np.ndarray
    specular_values: np.ndarray | None = None
    scattering: np.ndarray | None = None

    @classmethod
    def build(cls, coatings, energies_kev, max_angle_rad, tolerance: float = DEFAULT_TOLERANCE):
        """A table at exactly these energies (keV), over graze angles 0 .. max_angle_rad (one, or one per coating);
        the angle step is chosen on the specular reflectivity."""
        energies = np.unique(np.asarray(energies_kev, dtype=float))
        step, values, counts = _angle_grid(coatings, energies, max_angle_rad, tolerance)
        models = [getattr(c, "scattering", None) for c in coatings]
        if all(m is None for m in models):
            return cls(energies, step, values)
        total = values.copy()  # the smooth stack: the rough one's specular beam plus what its roughness scatters
        for k, (coating, model) in enumerate(zip(coatings, models)):
            if model is not None:
                smooth = coating.with_roughness(0.0).reflectivity_grid(energies, np.arange(counts[k]) * step)
                total[k, :, :counts[k]] = smooth
                total[k, :, counts[k]:] = smooth[:, -1:]
        scattering = np.array([[0.0, 0.0, 0.0] if m is None else [m.psd_index, 1e-3 * m.f_min_per_um,
                                                                   1e-3 * m.f_max_per_um] for m in models])
        return cls(energies, step, total, values, scattering)

    def lookup(self, coating_index, energy_kev, graze_rad) -> np.ndarray:
        """Interpolated R for arrays of coating index, energy (keV) and graze angle (rad)."""
        c, e, g = np.broadcast_arrays(
            np.asarray(coating_index, np.int64), np.asarray(energy_kev, float), np.asarray(graze_rad, float)
        )
        out = np.empty(c.size)
        split_over_threads(_lookup_many, out.size, self.values, self.energies_kev, self.angle_step_rad, c.ravel(),
                           e.ravel(), g.ravel(), out)
        return out.reshape(c.shape)


def _angle_counts(coatings, max_angle_rad, step: float) -> np.ndarray:
    """Number of angle nodes of each coating's grid at this step."""
    limits = np.broadcast_to(np.asarray(max_angle_rad, dtype=float), (len(coatings),))
    if not np.all(np.isfinite(limits) & (limits > 0)):
        raise ValueError(f"max_angle_rad = {max_angle_rad}: must be > 0 (one value, or one per coating)")
    return np.ceil(limits / step).astype(int) + 1


def _grid(coatings, energies: np.ndarray, step: float, counts: np.ndarray) -> np.ndarray:
    """values[coating, energy, angle]: each coating on its own counts[c] angles, then held at its last value."""
    n = counts.max()
    return np.stack([np.pad(c.reflectivity_grid(energies, np.arange(m) * step), ((0, 0), (0, n - m)), mode="edge")
                     for c, m in zip(coatings, counts)])


def _angle_grid(coatings, energies: np.ndarray, max_angle_rad, tolerance: float):
    """The coarsest uniform angle step (halving from 1e-4 rad) whose midpoints interpolate within tolerance.

    The grid at step h/2 holds the midpoints of the grid at step h; once they pass, the finer grid
    (already computed) is kept.
    """
    if not tolerance > 0:
        raise ValueError(f"tolerance = {tolerance}: must be > 0")
    step = COARSEST_ANGLE_STEP_RAD
    while True:
        counts = 2 * _angle_counts(coatings, max_angle_rad, step) - 1
        values = _grid(coatings, energies, 0.5 * step, counts)
        error = np.abs(values[:, :, 1::2] - 0.5 * (values[:, :, :-1:2] + values[:, :, 2::2])).max(initial=0.0)
        if error <= tolerance or step / 2 < FINEST_ANGLE_STEP_RAD:
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
