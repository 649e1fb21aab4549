"""The numba kernels: beam sampling, the trace through the shells and reflectivity weighting.

One ray never interacts with another, so every kernel is a `prange` over rays and
its result does not depend on the number of threads. `raytrace.reference` holds
the same physics in plain numpy; the tests compare the two ray by ray.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from coatings.table import reflectivity_at

from .rays import Fate
from .rng import uniform

_SPIDER = np.int8(Fate.BLOCKED_SPIDER)
_FRONT = np.int8(Fate.BLOCKED_FRONT)
_BACK = np.int8(Fate.BLOCKED_BACK)
_LEAKED = np.int8(Fate.LEAKED)
_NONE = np.int8(Fate.NO_REFLECTION)
_PRIMARY = np.int8(Fate.PRIMARY_ONLY)
_SECONDARY = np.int8(Fate.SECONDARY_ONLY)
_DOUBLE = np.int8(Fate.DOUBLE)
_MULTIPLE = np.int8(Fate.MULTIPLE)
_MISSED = np.int8(Fate.MISSED_FOCAL_PLANE)
MAX_REFLECTIONS = 4


@numba.njit(cache=True, parallel=True)
def sample_parallel_beam(key, first_index, r_in, cumulative_area, z_start, direction, weight, energy_kev,
                         x, y, z, dx, dy, dz, energy, w, channel):
    """Uniform sampling of the entrance channels (area-proportional, so all weights are equal)."""
    total = cumulative_area[cumulative_area.shape[0] - 1]
    for i in numba.prange(x.shape[0]):
        index = first_index + i
        s = uniform(key, index, 0) * total
        c = np.searchsorted(cumulative_area, s, side="right")
        if c >= cumulative_area.shape[0]:
            c = cumulative_area.shape[0] - 1
        below = cumulative_area[c - 1] if c > 0 else 0.0
        r = math.sqrt(r_in[c] * r_in[c] + (s - below) / math.pi)
        phi = 2.0 * math.pi * uniform(key, index, 1)
        x[i] = r * math.cos(phi)
        y[i] = r * math.sin(phi)
        z[i] = z_start[c]
        dx[i] = direction[0]
        dy[i] = direction[1]
        dz[i] = direction[2]
        energy[i] = energy_kev
        w[i] = weight
        channel[i] = c


@numba.njit(cache=True, inline="always")
def first_hit(surfaces, shell, which, px, py, pz, dx, dy, dz):
    """Smallest t > 0 where p + t d meets the quadric within its z range; inf if none.

    With F(t) = a t^2 + 2 b t + c, the roots are taken as q / a and c / q with
    q = -(b + sign(b) sqrt(b^2 - a c)), which stays accurate when a -> 0 (grazing rays,
    and exactly 0 for an on-axis ray and a paraboloid).
    """
    z_lo = surfaces[shell, which, 4]
    z_hi = surfaces[shell, which, 5]
    if (dz <= 0.0 and pz < z_lo) or (dz >= 0.0 and pz > z_hi):
        return np.inf  # the surface lies wholly behind the ray
    big_a = surfaces[shell, which, 0]
    big_b = surfaces[shell, which, 1]
    big_c = surfaces[shell, which, 2]
    w = pz - surfaces[shell, which, 3]
    a = dx * dx + dy * dy - big_a * dz * dz
    b = px * dx + py * dy - (big_a * w + 0.5 * big_b) * dz
    c = px * px + py * py - (big_a * w + big_b) * w - big_c
    disc = b * b - a * c
    if disc < 0.0:
        return np.inf
    q = -(b + math.copysign(math.sqrt(disc), b))
    best = np.inf
    if q != 0.0:
        t = c / q
        if t > 0.0:
            zh = pz + t * dz
            if z_lo <= zh <= z_hi:
                best = t
    if a != 0.0:
        t = q / a
        if 0.0 < t < best:
            zh = pz + t * dz
            if z_lo <= zh <= z_hi:
                best = t
    return best


@numba.njit(cache=True, inline="always")
def _spider_blocks(spider, px, py, pz, dx, dy, dz):
    n_spokes = spider[0]
    if n_spokes == 0.0:
        return False
    s = (spider[4] - pz) / dz
    qx = px + s * dx
    qy = py + s * dy
    period = 2.0 * math.pi / n_spokes
    phi = math.atan2(qy, qx) - spider[3]
    delta = phi - period * math.floor(phi / period + 0.5)
    if abs(delta) < spider[1]:
        return True
    return abs(delta) < 0.5 * math.pi and math.hypot(qx, qy) * abs(math.sin(delta)) < spider[2]


@numba.njit(cache=True, inline="always")
def _entrance_fate(top_z, front_r, thickness, wall, is_inner, px, py, pz, dx, dy, dz):
    """Front-edge check of one wall of the channel, on that wall's own front plane."""
    s = (top_z[wall] - pz) / dz
    r = math.hypot(px + s * dx, py + s * dy)
    if front_r[wall] <= r < front_r[wall] + thickness[wall]:
        return _FRONT
    if is_inner and r < front_r[wall]:
        return _LEAKED
    if not is_inner and r >= front_r[wall] + thickness[wall]:
        return _LEAKED
    return np.int8(0)


@numba.njit(cache=True, parallel=True)
def trace(surfaces, top_z, front_r, thickness, spider, focal_plane_z, x, y, z, dx, dy, dz, channel, fate, graze1, graze2):
    """Trace every ray through its channel and onto the plane z = focal_plane_z, in place."""
    n_shells = top_z.shape[0]
    for i in numba.prange(x.shape[0]):
        px, py, pz = x[i], y[i], z[i]
        ux, uy, uz = dx[i], dy[i], dz[i]
        c = channel[i]
        g1 = 0.0
        g2 = 0.0
        outcome = np.int8(0)
        if _spider_blocks(spider, px, py, pz, ux, uy, uz):
            outcome = _SPIDER
        if outcome == 0 and c > 0:
            outcome = _entrance_fate(top_z, front_r, thickness, c - 1, True, px, py, pz, ux, uy, uz)
        if outcome == 0 and c < n_shells:
            outcome = _entrance_fate(top_z, front_r, thickness, c, False, px, py, pz, ux, uy, uz)
        sequence = 0  # reflections encoded in base 3: 1 = primary, 2 = secondary
        n_reflections = 0
        last = -1
        while outcome == 0:
            t_best = np.inf
            hit = -1
            if c < n_shells:
                for which in range(2):
                    if which != last:
                        t = first_hit(surfaces, c, which, px, py, pz, ux, uy, uz)
                        if t < t_best:
                            t_best, hit = t, which
            if c > 0:
                for which in range(2, 4):
                    t = first_hit(surfaces, c - 1, which, px, py, pz, ux, uy, uz)
                    if t < t_best:
                        t_best, hit = t, which
            if hit < 0:
                break
            px += t_best * ux
            py += t_best * uy
            pz += t_best * uz
            if hit >= 2:
                outcome = _BACK
                break
            # Outward normal of x^2 + y^2 - A w^2 - B w - C = 0 is the gradient (2x, 2y, -(2 A w + B)).
            w = pz - surfaces[c, hit, 3]
            nx, ny = px, py
            nz = -(surfaces[c, hit, 0] * w + 0.5 * surfaces[c, hit, 1])
            norm = math.sqrt(nx * nx + ny * ny + nz * nz)
            nx /= norm
            ny /= norm
            nz /= norm
            dot = ux * nx + uy * ny + uz * nz
            ux -= 2.0 * dot * nx
            uy -= 2.0 * dot * ny
            uz -= 2.0 * dot * nz
            graze = math.asin(min(1.0, abs(dot)))
            if n_reflections == 0:
                g1 = graze
            elif n_reflections == 1:
                g2 = graze
            sequence = 3 * sequence + hit + 1
            n_reflections += 1
            last = hit
            if n_reflections == MAX_REFLECTIONS:
                break
        if outcome == 0:
            if sequence == 0:
                outcome = _NONE
            elif sequence == 1:
                outcome = _PRIMARY
            elif sequence == 2:
                outcome = _SECONDARY
            elif sequence == 5:
                outcome = _DOUBLE
            else:
                outcome = _MULTIPLE
            if uz < 0.0 and pz >= focal_plane_z:
                s = (focal_plane_z - pz) / uz
                px += s * ux
                py += s * uy
                pz = focal_plane_z
            else:
                outcome = _MISSED
        x[i], y[i], z[i] = px, py, pz
        dx[i], dy[i], dz[i] = ux, uy, uz
        fate[i] = outcome
        graze1[i] = g1
        graze2[i] = g2


@numba.njit(cache=True, parallel=True)
def apply_reflectivity(values, energies, angle_step, shell_coating, channel, fate, energy, graze1, graze2, weight):
    """Multiply each reflected ray's weight by R at each of its first two reflections."""
    n_shells = shell_coating.shape[0]
    for i in numba.prange(weight.shape[0]):
        f = fate[i]
        if f == _DOUBLE or f == _PRIMARY or f == _SECONDARY or f == _MULTIPLE:
            coating = shell_coating[min(channel[i], n_shells - 1)]
            r = reflectivity_at(values, energies, angle_step, coating, energy[i], graze1[i])
            if f == _DOUBLE or f == _MULTIPLE:
                r *= reflectivity_at(values, energies, angle_step, coating, energy[i], graze2[i])
            weight[i] *= r


@numba.njit(cache=True, parallel=True)
def double_reflection_area_per_energy(values, energies, angle_step, shell_coating, channel, fate, weight, graze1, graze2):
    """Sum and sum of squares over doubly reflected rays of weight R(E, g1) R(E, g2), per table energy.

    Parallel over energies, so each sum runs over the rays in their fixed order.
    """
    n_e = energies.shape[0]
    sums = np.zeros(n_e)
    sums_sq = np.zeros(n_e)
    n_shells = shell_coating.shape[0]
    for k in numba.prange(n_e):
        e = energies[k]
        acc = 0.0
        acc_sq = 0.0
        for i in range(weight.shape[0]):
            if fate[i] == _DOUBLE:
                coating = shell_coating[min(channel[i], n_shells - 1)]
                v = weight[i]
                v *= reflectivity_at(values, energies, angle_step, coating, e, graze1[i])
                v *= reflectivity_at(values, energies, angle_step, coating, e, graze2[i])
                acc += v
                acc_sq += v * v
        sums[k] = acc
        sums_sq[k] = acc_sq
    return sums, sums_sq
