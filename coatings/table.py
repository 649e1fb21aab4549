"""Tabulated R(E, graze angle) for the tracer's per-ray lookup, with a controlled interpolation error.

Angles are a uniform grid from 0 (an index, not a search, per lookup). Its step is halved until
linear interpolation reproduces R at every midpoint within the tolerance. Energies are nodes:
- `ReflectivityTable.build`: exactly the energies asked for (a trace at fixed energies looks R up
  only there, so the energy direction is exact);
- `ReflectivityTable.for_band`: a continuous band for sources with a spectrum: a uniform grid plus
  nodes 0.1 eV below and above every absorption edge of the coatings' materials (R jumps there),
  each interval split in four until R at its quarter points is reproduced within the tolerance
  (down to 1 eV).
Each coating's grid ends at its own largest angle (`max_angle_rad` may be one per coating: a coating
on inner shells never meets the graze angles of the outer ones, and a multilayer's fine structure
there would make the shared step tiny and the table huge); beyond it the table holds the coating's
last value. The tables reach past the largest graze angle a traced optic produces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .stack import Coating

DEFAULT_TOLERANCE = 5e-4
COARSEST_ANGLE_STEP_RAD = 1e-4
FINEST_ANGLE_STEP_RAD = 1e-7
EDGE_OFFSET_KEV = 1e-4
FINEST_ENERGY_STEP_KEV = 1e-3
PROBE_FRACTIONS = (0.25, 0.5, 0.75)  # where each energy interval is checked (R has kinks just above edges)


@dataclass(frozen=True)
class ReflectivityTable:
    """values[coating, energy node, angle node] on a shared grid."""

    energies_kev: np.ndarray
    angle_step_rad: float
    values: np.ndarray

    @classmethod
    def build(cls, coatings, energies_kev, max_angle_rad, tolerance: float = DEFAULT_TOLERANCE):
        """A table at exactly these energies (keV), over graze angles 0 .. max_angle_rad (one, or one per coating)."""
        energies = np.unique(np.asarray(energies_kev, dtype=float))
        step, values, _ = _angle_grid(coatings, energies, max_angle_rad, tolerance)
        return cls(energies, step, values)

    @classmethod
    def for_band(cls, coatings, e_min_kev: float, e_max_kev: float, max_angle_rad,
                 tolerance: float = DEFAULT_TOLERANCE, start_step_kev: float = 0.1):
        """A table for any energy in [e_min, e_max] keV with edge-aware, error-controlled nodes (angles as in `build`)."""
        if not (0 < e_min_kev < e_max_kev and np.isfinite(e_max_kev)):
            raise ValueError(f"energy band {e_min_kev}-{e_max_kev} keV: need 0 < e_min < e_max")
        energies = edge_aware_energies(coatings, e_min_kev, e_max_kev, start_step_kev)
        step, values, counts = _angle_grid(coatings, energies, max_angle_rad, tolerance)
        nodes = dict(zip(energies, np.moveaxis(values, 1, 0)))
        jumps = _edges_between(coatings, energies)
        pending = [(a, b) for a, b, jump in zip(energies[:-1], energies[1:], jumps) if not jump]
        while pending:
            probes = np.array([a + f * (b - a) for a, b in pending for f in PROBE_FRACTIONS])
            direct = np.moveaxis(_grid(coatings, probes, step, counts), 1, 0)
            direct = direct.reshape(len(pending), len(PROBE_FRACTIONS), *direct.shape[1:])
            split = []
            for (a, b), inside in zip(pending, direct):
                interpolated = [(1 - f) * nodes[a] + f * nodes[b] for f in PROBE_FRACTIONS]
                if np.abs(inside - np.array(interpolated)).max() > tolerance:
                    points = [a] + [a + f * (b - a) for f in PROBE_FRACTIONS] + [b]
                    nodes.update(zip(points[1:-1], inside))
                    if (b - a) / (len(points) - 1) > FINEST_ENERGY_STEP_KEV:
                        split += list(zip(points[:-1], points[1:]))
            pending = split
        energies = np.array(sorted(nodes))
        return cls(energies, step, np.stack([nodes[e] for e in energies], axis=1))

    def lookup(self, coating_index, energy_kev, graze_rad) -> np.ndarray:
        """Interpolated R for arrays of coating index, energy (keV) and graze angle (rad)."""
        c, e, g = np.broadcast_arrays(
            np.asarray(coating_index, np.int64), np.asarray(energy_kev, float), np.asarray(graze_rad, float)
        )
        out = np.empty(c.size)
        _lookup_many(self.values, self.energies_kev, self.angle_step_rad, c.ravel(), e.ravel(), g.ravel(), out)
        return out.reshape(c.shape)


def edge_aware_energies(coatings: list[Coating], e_min_kev: float, e_max_kev: float, step_kev: float) -> np.ndarray:
    """A uniform grid from e_min to e_max plus nodes 0.1 eV below and above every absorption edge of the coatings."""
    grid = np.append(np.arange(e_min_kev, e_max_kev, step_kev), e_max_kev)
    edges = np.concatenate([c.edge_energies_kev() for c in coatings] + [np.empty(0)])
    edges = edges[(edges - EDGE_OFFSET_KEV > e_min_kev) & (edges + EDGE_OFFSET_KEV < e_max_kev)]
    near_edge = np.any(np.abs(grid[:, None] - edges[None, :]) <= EDGE_OFFSET_KEV, axis=1)
    return np.unique(np.concatenate([grid[~near_edge], edges - EDGE_OFFSET_KEV, edges + EDGE_OFFSET_KEV]))


def _edges_between(coatings, energies: np.ndarray) -> np.ndarray:
    """For each interval between neighbouring nodes, whether an absorption edge lies inside it."""
    edges = np.concatenate([c.edge_energies_kev() for c in coatings] + [np.empty(0)])
    return np.array([np.any((edges > a) & (edges < b)) for a, b in zip(energies[:-1], energies[1:])], dtype=bool)


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
def reflectivity_at(values, energies, angle_step, coating, energy, graze):
    """Bilinear interpolation in (energy node, uniform angle grid); clamped at the grid ends."""
    n_e = energies.shape[0]
    n_a = values.shape[2]
    if n_e == 1 or energy <= energies[0]:
        ie, fe = 0, 0.0
    elif energy >= energies[n_e - 1]:
        ie, fe = n_e - 2, 1.0
    else:
        ie = np.searchsorted(energies, energy, side="right") - 1
        fe = (energy - energies[ie]) / (energies[ie + 1] - energies[ie])
    x = abs(graze) / angle_step
    if x >= n_a - 1:
        ia, fa = n_a - 2, 1.0
    else:
        ia = int(x)
        fa = x - ia
    r0 = values[coating, ie, ia] * (1.0 - fa) + values[coating, ie, ia + 1] * fa
    if fe == 0.0:
        return r0
    r1 = values[coating, ie + 1, ia] * (1.0 - fa) + values[coating, ie + 1, ia + 1] * fa
    return r0 * (1.0 - fe) + r1 * fe


@numba.njit(cache=True, parallel=True)
def _lookup_many(values, energies, angle_step, coating, energy, graze, out):
    for i in numba.prange(out.shape[0]):
        out[i] = reflectivity_at(values, energies, angle_step, coating[i], energy[i], graze[i])
