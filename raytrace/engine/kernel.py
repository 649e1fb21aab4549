"""The numba kernel: the trace through the shells with reflectivity weighting (one pass per ray), and the
per-energy re-weighting of a geometric trace.

The kernel traces rays a source has already started (`raytrace.engine.source`): it reads each ray's start
point, direction, energy and weight and overwrites them with the result. One ray never interacts with
another, so every kernel takes a range (of blocks of rays, or of energies) that
`coatings.threads.split_over_threads` shares out between threads, and its result does not depend on the
number of threads or the chunk size.
Geometry, reflectivity and rays reach it as named tuples (`KernelGeometry`, `KernelReflectivity`,
`RayColumns`) with named column constants. `raytrace.engine.reference` holds the same physics in plain
numpy; the tests compare the two ray by ray.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from coatings.table import reflectivity_at, reflectivity_at_node

from .aperture import cos_sin_of_turn
from .geometry import (ANNULUS, APERTURE_KIND, APERTURE_P1, APERTURE_P2, APERTURE_P3, AZIMUTH_SPAN, AZIMUTH_START,
                       BAR_COS_STEP, BAR_COUNT, BAR_HALF_WIDTH_MM, BAR_ROTATION_TURNS, BAR_SIN_STEP, BAR_TAN_HALF_WEDGE,
                       CIRCLE, JOINS, PRIMARY, PRIMARY_BACK, QUAD_A, QUAD_B, QUAD_C, SECONDARY, SECONDARY_BACK,
                       SLOPE_MERIDIONAL, SLOPE_SAGITTAL, SPACERS, TWO_PI, WING_FRACTION, WING_RMS, Z_MAX, Z_MIN, Z_REF)
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
_GAP = np.int8(Fate.SEGMENT_GAP)
_SPACER = np.int8(Fate.BLOCKED_SPACER)
_APERTURE = np.int8(Fate.BLOCKED_APERTURE)
MAX_REFLECTIONS = 4
BLOCK_RAYS = 1024  # rays per call of the compiled trace body
FIRST_SLOPE_DRAW = 2  # draws 0 and 1 place the start point (raytrace.engine.aperture)


class KernelReflectivity(NamedTuple):
    """A reflectivity table (`coatings.table.ReflectivityTable`) and each shell's coating in it; with weigh
    False the kernel leaves the weights geometric and reads nothing else. With `scatters` (read by the kernels
    compiled for scattering), `specular` holds the specular reflectivity, `scattering` each coating's PSD (index,
    f_min, f_max in 1/nm; f_max = 0: none) and scatter_key the key of the scattering draws (`_scatter`)."""

    weigh: bool
    values: np.ndarray
    energies: np.ndarray
    angle_step: float
    shell_coating: np.ndarray
    scatters: bool = False
    specular: np.ndarray = np.zeros((1, 1, 2))
    scattering: np.ndarray = np.zeros((1, 3))
    scatter_key: np.uint64 = np.uint64(0)


HC_KEV_NM = 1.2398419843320026  # h c: wavelength (nm) x photon energy (keV)


# error_model="numpy": divisions follow IEEE (x/0 = inf) instead of raising, which removes a
# branch per division; every division below has a non-zero or an explicitly handled divisor.
@numba.njit(cache=True, inline="always", error_model="numpy")
def _roots_in_range(surfaces, shell, which, px, py, pz, dx, dy, dz):
    """Both t > 0 where p + t d meets the quadric within its z range (inf where there is none).

    With F(t) = a t^2 + 2 b t + c, the roots are taken as c / q and q / a with
    q = -(b + sign(b) sqrt(b^2 - a c)), which stays accurate when a -> 0 (grazing rays,
    and exactly 0 for an on-axis ray and a paraboloid).
    """
    z_lo = surfaces[shell, which, Z_MIN]
    z_hi = surfaces[shell, which, Z_MAX]
    if (dz <= 0.0 and pz < z_lo) or (dz >= 0.0 and pz > z_hi):
        return np.inf, np.inf  # the surface lies wholly behind the ray
    big_a = surfaces[shell, which, QUAD_A]
    big_b = surfaces[shell, which, QUAD_B]
    big_c = surfaces[shell, which, QUAD_C]
    w = pz - surfaces[shell, which, Z_REF]
    a = dx * dx + dy * dy - big_a * dz * dz
    b = px * dx + py * dy - (big_a * w + 0.5 * big_b) * dz
    c = px * px + py * py - (big_a * w + big_b) * w - big_c
    disc = b * b - a * c
    if disc < 0.0:
        return np.inf, np.inf
    q = -(b + math.copysign(math.sqrt(disc), b))
    first = np.inf
    second = np.inf
    if q != 0.0:
        t = c / q
        if t > 0.0 and z_lo <= pz + t * dz <= z_hi:
            first = t
    if a != 0.0:
        t = q / a
        if t > 0.0 and z_lo <= pz + t * dz <= z_hi:
            second = t
    return first, second


@numba.njit(cache=True, inline="always", error_model="numpy")
def first_hit(surfaces, shell_azimuth, partial, shell, which, px, py, pz, dx, dy, dz):
    """Smallest t > 0 where p + t d meets the quadric within its z range and (if `partial`) where the shell covers
    the hit point's azimuth; inf if none."""
    first, second = _roots_in_range(surfaces, shell, which, px, py, pz, dx, dy, dz)
    if partial:
        start = shell_azimuth[shell, AZIMUTH_START]
        span = shell_azimuth[shell, AZIMUTH_SPAN]
        if first < np.inf and not within_azimuth(start, span, px + first * dx, py + first * dy):
            first = np.inf
        if second < np.inf and not within_azimuth(start, span, px + second * dx, py + second * dy):
            second = np.inf
    return min(first, second)


@numba.njit(cache=True, inline="always", error_model="numpy")
def within_azimuth(start, span, x, y):
    """Whether the point's azimuth lies in start .. start + span (always, for a full turn)."""
    if span >= TWO_PI:
        return True
    delta = math.atan2(y, x) - start
    return delta - TWO_PI * math.floor(delta / TWO_PI) < span


@numba.njit(cache=True, inline="always", error_model="numpy")
def _outside_apertures(apertures, plane_z, px, py, pz, dx, dy, dz):
    """Whether the ray crosses the plane z = plane_z outside any of the apertures (they intersect)."""
    s = (plane_z - pz) / dz
    x = px + s * dx
    y = py + s * dy
    for k in range(apertures.shape[0]):
        kind = apertures[k, APERTURE_KIND]
        p1 = apertures[k, APERTURE_P1]
        p2 = apertures[k, APERTURE_P2]
        if kind == CIRCLE:
            ox = x - p2
            oy = y - apertures[k, APERTURE_P3]
            if ox * ox + oy * oy >= p1:
                return True
        elif kind == ANNULUS:
            r2 = x * x + y * y
            if r2 < p1 or r2 >= p2:
                return True
        elif not within_azimuth(p1, p2, x, y):
            return True
    return False


@numba.njit(cache=True, inline="always", error_model="numpy")
def _approximate_azimuth(x, y):
    """atan2(y, x) within 2.1e-4 rad (octant reduction and a 7th-order polynomial for atan on [0, 1])."""
    ax = abs(x)
    ay = abs(y)
    big = max(ax, ay)
    if big == 0.0:
        return 0.0
    a = min(ax, ay) / big
    s = a * a
    angle = ((-0.0464964749 * s + 0.15931422) * s - 0.327622764) * s * a + a
    if ay > ax:
        angle = 0.5 * math.pi - angle
    if x < 0.0:
        angle = math.pi - angle
    return -angle if y < 0.0 else angle


@numba.njit(cache=True, inline="always", error_model="numpy")
def _bar_blocks(bars, cos_k, sin_k, qx, qy):
    """Exact test against the bar along (cos_k, sin_k): within its wedge or its constant-width strip,
    on its side of the axis."""
    along = cos_k * qx + sin_k * qy
    across = abs(cos_k * qy - sin_k * qx)
    return along > 0.0 and (across < bars[BAR_TAN_HALF_WEDGE] * along or across < bars[BAR_HALF_WIDTH_MM])


@numba.njit(cache=True, inline="always", error_model="numpy")
def _bars_block(bars, qx, qy):
    """Whether the point (qx, qy) lies on one of the count > 0 equally spaced radial bars (geometry.radial_bars).

    The nearest bar (the only one that can block, as wedges are narrower than the spacing and a
    strip's distance grows with the angle) is one of the two that bracket the point's azimuth; an
    approximate azimuth finds them (its error, 2.1e-4 rad, is far below half the spacing of the at
    most 360 bars allowed) and both are tested exactly, the second rotated from the first by the spacing.
    """
    count = bars[BAR_COUNT]
    k = math.floor((_approximate_azimuth(qx, qy) * (0.5 / math.pi) - bars[BAR_ROTATION_TURNS]) * count)
    turn = bars[BAR_ROTATION_TURNS] + k / count
    cos_k, sin_k = cos_sin_of_turn(turn - math.floor(turn))
    cos_step, sin_step = bars[BAR_COS_STEP], bars[BAR_SIN_STEP]
    for _ in range(2):  # a loop rather than two calls: each inlined call site costs compile time
        if _bar_blocks(bars, cos_k, sin_k, qx, qy):
            return True
        cos_k, sin_k = cos_k * cos_step - sin_k * sin_step, sin_k * cos_step + cos_k * sin_step
    return False


@numba.njit(cache=True, inline="always", error_model="numpy")
def _bars_block_at(bars, plane_z, px, py, pz, dx, dy, dz):
    """`_bars_block` where the ray crosses the plane z = plane_z."""
    if bars[BAR_COUNT] == 0.0:
        return False
    s = (plane_z - pz) / dz
    return _bars_block(bars, px + s * dx, py + s * dy)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _entrance_fate(top_z, front_r, thickness, shell_azimuth, wall, is_inner, px, py, pz, dx, dy, dz):
    """Front-edge check of one wall of the channel, on that wall's own front plane. Leaks are decided by radius
    alone (they keep each line of sight in one channel); a partial-azimuth wall blocks only where it is."""
    s = (top_z[wall] - pz) / dz
    qx = px + s * dx
    qy = py + s * dy
    r2 = qx * qx + qy * qy
    r_front = front_r[wall]
    r_edge = r_front + thickness[wall]
    if r_front * r_front <= r2 < r_edge * r_edge:
        if within_azimuth(shell_azimuth[wall, AZIMUTH_START], shell_azimuth[wall, AZIMUTH_SPAN], qx, qy):
            return _FRONT
        return np.int8(0)
    if is_inner and r2 < r_front * r_front:
        return _LEAKED
    if not is_inner and r2 >= r_edge * r_edge:
        return _LEAKED
    return np.int8(0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _graze_angle(sin_graze):
    """asin(sin_graze): below 0.0625 (every Wolter-I reflection) by its odd Taylor series through x^9,
    whose truncation error there is below 2e-15 rad, at a fraction of the cost of libm's asin."""
    if sin_graze < 0.0625:
        s = sin_graze * sin_graze
        return sin_graze * (1.0 + s * (1.0 / 6.0 + s * (3.0 / 40.0 + s * (15.0 / 336.0 + s * (105.0 / 3456.0)))))
    return math.asin(min(1.0, sin_graze))


@numba.njit(cache=True, inline="always", error_model="numpy")
def _slope_deviates(key, index, first_draw, sigma_core, sigma_sagittal, wing_fraction, sigma_wing):
    """Meridional and sagittal slope errors (rad) of one reflection: two Gaussian deviates (Box-Muller)
    from draws first_draw, first_draw + 1; the meridional one has rms sigma_wing with probability
    wing_fraction (draw first_draw + 2), else sigma_core."""
    radius = math.sqrt(-2.0 * math.log(1.0 - uniform(key, index, first_draw)))
    cos_phi, sin_phi = cos_sin_of_turn(uniform(key, index, first_draw + 1))
    sigma_m = sigma_wing if uniform(key, index, first_draw + 2) < wing_fraction else sigma_core
    return sigma_m * radius * cos_phi, sigma_sagittal * radius * sin_phi


@numba.njit(cache=True, inline="always", error_model="numpy")
def _tilted_normal(d_m, d_s, nx, ny, nz):
    """The normal (nx, ny, nz) of a surface of revolution at (nx, ny), tilted by slope errors d_m, d_s:
    N + |N| (d_m t_m + d_s t_s), with t_m = (x n_z / r, y n_z / r, -r) / |N| the unit tangent in the
    meridional plane and t_s = (-y, x, 0) / r the azimuthal one."""
    r = math.sqrt(nx * nx + ny * ny)
    length = math.sqrt(nx * nx + ny * ny + nz * nz)
    along = d_m * nz / r
    around = d_s * length / r
    return nx + along * nx - around * ny, ny + along * ny + around * nx, nz - d_m * r


@numba.njit(cache=True, inline="always", error_model="numpy")
def _nearest_surface(surfaces, shell_azimuth, partial, c, n_shells, last, px, py, pz, dx, dy, dz):
    """Nearest hit of a ray in channel c: (t, which), which = -1 if none. The candidates are the channel's outer
    mirror (unless it reflected last) and the inner shell's back surface, first of the primary zone, then of the
    secondary zone. Primaries and their backs lie above the intersection plane z = f, secondaries below it: a
    downward ray that hits the upper zone meets it before any surface of the lower zone. `partial`: a wall of
    the channel covers only some azimuths (the full-turn path stays free of azimuth tests)."""
    t_best = np.inf
    hit = -1
    for candidate in range(4):  # one loop, not four calls: each inlined call site costs compile time
        if candidate == 2 and hit >= 0 and dz < 0.0:
            break
        if candidate % 2 == 0:
            shell = c
            which = PRIMARY if candidate == 0 else SECONDARY
            possible = c < n_shells and which != last
        else:
            shell = c - 1
            which = PRIMARY_BACK if candidate == 1 else SECONDARY_BACK
            possible = c > 0
        if possible:
            t = first_hit(surfaces, shell_azimuth, partial, shell, which, px, py, pz, dx, dy, dz)
            if t < t_best:
                t_best = t
                hit = which
    return t_best, hit


@numba.njit(cache=True, nogil=True, error_model="numpy")
def trace(geometry, reflectivity, rays, key, first_index, partial_shells, scattering, first_block, end_block):
    """Trace blocks first_block .. end_block - 1 (BLOCK_RAYS rays each) of rays first_index .. of a run from where
    their source started them to the focal plane (`coatings.threads.split_over_threads` shares the blocks out).

    Reads each ray's start point, channel, direction, energy, weight and fate (a ray whose source gave it a fate
    is left as it is); writes the end point, the direction, the shell, the fate and the first two graze angles,
    and (with reflectivity.weigh) multiplies the weight by the tabulated reflectivity of the reflections it
    carries. `partial_shells` (True for optics with partial-azimuth shells, else None) and `scattering` (the
    coatings' scattering table, or None when none scatters) choose what is compiled: numba compiles a kernel for
    each type of these arguments and leaves out the tests that None turns off, so an optic of full-turn shells
    without scattering compiles neither the azimuth tests' branch nor `_scatter`.
    """
    for block in range(first_block, end_block):
        _trace_block(geometry, reflectivity, rays, key, first_index, block, partial_shells, scattering)


# Compiled on its own, so that the trace kernel's loop over blocks is one call (inlined into `prange` loops, as it
# once was, the body took a minute to compile). Without reference counting (_nrt=False; it allocates nothing), a
# call per block of rays costs nothing measurable.
@numba.njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _trace_block(geometry, reflectivity, rays, key, first_index, block, partial_shells, scattering):
    """Trace rays block * BLOCK_RAYS .. (block + 1) * BLOCK_RAYS - 1 of the chunk (see `trace`), each from its start
    point to the plane z = focal_plane_z. Segment joins and spacers are tested where the incoming ray crosses the
    intersection plane. Slope errors use draws FIRST_SLOPE_DRAW + 3 k .. + 2 of the ray for reflection k.
    With `partial_shells` (None: every shell is a full turn) the walls' azimuth ranges are tested; with `scattering`
    (None: none; numba then leaves `_scatter` out) the first two reflections scatter."""
    g = geometry
    surfaces = g.surfaces
    n_shells = g.top_z.shape[0]
    x = rays.x
    y = rays.y
    z = rays.z
    dx = rays.dx
    dy = rays.dy
    dz = rays.dz
    weight = rays.weight
    shells = rays.shell
    fate = rays.fate
    graze1 = rays.graze1
    graze2 = rays.graze2
    for i in range(block * BLOCK_RAYS, min(x.shape[0], (block + 1) * BLOCK_RAYS)):
        c = rays.channel[i]
        shell = min(c, n_shells - 1)
        shells[i] = shell
        if fate[i] != 0:  # the source gave the ray its fate (e.g. not from the magnet bore): it stays where it starts
            graze1[i] = 0.0
            graze2[i] = 0.0
            continue
        index = first_index + np.uint64(i)
        px = x[i]
        py = y[i]
        pz = z[i]
        ux = dx[i]
        uy = dy[i]
        uz = dz[i]
        g1 = 0.0
        g2 = 0.0
        outcome = np.int8(0)
        if g.apertures.shape[0] > 0 and _outside_apertures(g.apertures, g.spider_z, px, py, pz, ux, uy, uz):
            outcome = _APERTURE
        # The obstructions in the order the ray meets them: the spider, the front edges of the channel's inner and
        # outer walls, then the outer shell's spacers and segment joins (tested where the ray crosses the
        # intersection plane). A loop rather than a call per obstruction, as each inlined call site costs compile time.
        for step in range(5):
            if outcome != 0:
                break
            if step == 1 or step == 2:
                wall = c - 1 if step == 1 else c
                if 0 <= wall < n_shells:
                    outcome = _entrance_fate(g.top_z, g.front_r, g.thickness, g.shell_azimuth, wall, step == 1,
                                             px, py, pz, ux, uy, uz)
            elif step == 0 or c < n_shells:
                bars = g.spider if step == 0 else g.segments[c, SPACERS if step == 3 else JOINS]
                plane_z = g.spider_z if step == 0 else surfaces[c, PRIMARY, Z_REF]
                if _bars_block_at(bars, plane_z, px, py, pz, ux, uy, uz):
                    outcome = _SPIDER if step == 0 else (_SPACER if step == 3 else _GAP)
        sigma_core = g.slope_errors[shell, SLOPE_MERIDIONAL]
        sigma_sagittal = g.slope_errors[shell, SLOPE_SAGITTAL]
        wing_fraction = g.slope_errors[shell, WING_FRACTION]
        sigma_wing = g.slope_errors[shell, WING_RMS]
        rough = sigma_core > 0.0 or sigma_sagittal > 0.0 or (wing_fraction > 0.0 and sigma_wing > 0.0)
        partial = partial_shells is not None and (g.shell_azimuth[shell, AZIMUTH_SPAN] < TWO_PI
                                      or (c > 0 and g.shell_azimuth[c - 1, AZIMUTH_SPAN] < TWO_PI))
        # The first two reflections' deviates depend only on the ray's index: drawn up front, they are
        # computed while the intersections are, off the ray's dependency chain.
        d_m0 = d_s0 = d_m1 = d_s1 = 0.0
        if rough and outcome == 0:
            d_m0, d_s0 = _slope_deviates(key, index, FIRST_SLOPE_DRAW, sigma_core, sigma_sagittal, wing_fraction,
                                         sigma_wing)
            d_m1, d_s1 = _slope_deviates(key, index, FIRST_SLOPE_DRAW + 3, sigma_core, sigma_sagittal, wing_fraction,
                                         sigma_wing)
        sequence = 0  # reflections encoded in base 3: 1 = primary, 2 = secondary
        n_reflections = 0
        last = -1
        while outcome == 0:
            t_best, hit = _nearest_surface(surfaces, g.shell_azimuth, partial, c, n_shells, last, px, py, pz, ux, uy, uz)
            if hit < 0:
                break
            px += t_best * ux
            py += t_best * uy
            pz += t_best * uz
            if hit == PRIMARY_BACK or hit == SECONDARY_BACK:
                outcome = _BACK
                break
            # Outward normal of x^2 + y^2 - A w^2 - B w - C = 0 is the gradient (2x, 2y, -(2 A w + B)). It is
            # used unnormalised, d' = d - 2 (d.N / N.N) N: the next step does not wait for a square root.
            w = pz - surfaces[c, hit, Z_REF]
            nx, ny = px, py
            nz = -(surfaces[c, hit, QUAD_A] * w + 0.5 * surfaces[c, hit, QUAD_B])
            if rough:
                if n_reflections == 0:
                    d_m, d_s = d_m0, d_s0
                elif n_reflections == 1:
                    d_m, d_s = d_m1, d_s1
                else:
                    d_m, d_s = _slope_deviates(key, index, FIRST_SLOPE_DRAW + 3 * n_reflections, sigma_core,
                                               sigma_sagittal, wing_fraction, sigma_wing)
                nx, ny, nz = _tilted_normal(d_m, d_s, nx, ny, nz)
            dot = ux * nx + uy * ny + uz * nz
            norm2 = nx * nx + ny * ny + nz * nz
            factor = 2.0 * dot / norm2
            ux -= factor * nx
            uy -= factor * ny
            uz -= factor * nz
            graze = _graze_angle(abs(dot) / math.sqrt(norm2))
            if scattering is not None and n_reflections < 2:
                ux, uy, uz = _scatter(reflectivity, reflectivity.shell_coating[shell], rays.energy_kev[i], graze, index,
                                     np.int64(n_reflections), ux, uy, uz, nx, ny, nz)
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
            if uz < 0.0 and pz >= g.focal_plane_z:
                s = (g.focal_plane_z - pz) / uz
                px += s * ux
                py += s * uy
                pz = g.focal_plane_z
            else:
                outcome = _MISSED
        if reflectivity.weigh:
            weight[i] *= _reflectivity_factor(reflectivity, reflectivity.shell_coating[shell], rays.energy_kev[i],
                                              outcome, g1, g2)
        x[i] = px
        y[i] = py
        z[i] = pz
        dx[i] = ux
        dy[i] = uy
        dz[i] = uz
        fate[i] = outcome
        graze1[i] = g1
        graze2[i] = g2


# Compiled on its own, not inlined into the trace body: that keeps the body's registers as they are for the optics
# without scattering.
@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _scatter(table, coating, energy_kev, graze, index, reflection, ux, uy, uz, nx, ny, nz):
    """The direction after a reflection on a rough surface that scatters: (ux, uy, uz) is the specular one, N the
    normal it was reflected about and graze the angle of incidence.

    The ray's weight carries the smooth surface's reflectivity R_0; with probability 1 - R / R_0 (R the rough
    surface's specular reflectivity) the ray is scattered, so that specular and scattered flux add up to R_0 and
    the specular part is R. The scattered ray stays in the plane of incidence (out of it the scatter is smaller
    by the sine of the graze angle) at the graze angle a_s given by first-order perturbation theory in the
    grazing limit, |cos a_s - cos a| = lambda f (Church and Takacs, Proc. SPIE 1165 (1989) 136; Stover, "Optical
    Scattering", 3rd ed., SPIE 2012, chapter 4), with f drawn from the power-law PSD over its band by the exact
    inverse of its cumulative, towards the surface or away from it with equal probability. Frequencies that
    would scatter below the surface (cos a_s > 1) scatter away from it, keeping the scattered total.
    Draws 2 k and 2 k + 1 of the scattering key for reflection k: one decides (and, rescaled, picks the side),
    one gives f."""
    if table.scattering[coating, 2] <= 0.0:
        return ux, uy, uz
    total = specular = 0.0
    for k in range(2):  # one inlined call site, not two
        r = reflectivity_at(table.values if k == 0 else table.specular, table.energies, table.angle_step, coating,
                            energy_kev, graze)
        if k == 0:
            total = r
        else:
            specular = r
    share = 1.0 - specular / total if total > 0.0 else 0.0
    u = uniform(table.scatter_key, index, 2 * reflection)
    if not u < share:
        return ux, uy, uz
    index_n = table.scattering[coating, 0]
    f_lo = table.scattering[coating, 1]
    f_hi = table.scattering[coating, 2]
    v = uniform(table.scatter_key, index, 2 * reflection + 1)
    if abs(index_n - 1.0) < 1e-9:
        f = f_lo * (f_hi / f_lo) ** v
    else:
        e = 1.0 - index_n
        f = (f_lo**e + v * (f_hi**e - f_lo**e)) ** (1.0 / e)
    # cos a = 1 - 2 sin^2(a / 2): the half-angle form keeps the digits of a graze angle's cosine
    half = math.sin(0.5 * graze) ** 2
    step = 0.5 * HC_KEV_NM / energy_kev * f
    towards = u < 0.5 * share and half > step
    half_s = min(half - step if towards else half + step, 0.5)
    graze_s = 2.0 * math.asin(math.sqrt(half_s))
    # d_s = cos(a_s) e + sin(a_s) m: e the unit specular direction's part along the surface, m the unit normal
    # on the side the ray leaves to
    norm = math.sqrt(nx * nx + ny * ny + nz * nz)
    mx, my, mz = nx / norm, ny / norm, nz / norm
    along = ux * mx + uy * my + uz * mz
    if along < 0.0:
        mx, my, mz, along = -mx, -my, -mz, -along
    ex, ey, ez = ux - along * mx, uy - along * my, uz - along * mz
    e_norm = math.sqrt(ex * ex + ey * ey + ez * ez)
    cos_s = math.cos(graze_s) / e_norm
    sin_s = math.sin(graze_s)
    return cos_s * ex + sin_s * mx, cos_s * ey + sin_s * my, cos_s * ez + sin_s * mz


@numba.njit(cache=True, inline="always", error_model="numpy")
def _reflectivity_factor(table, coating, energy_kev, outcome, g1, g2):
    """Product of the tabulated reflectivities of the reflections a ray's weight carries (the first two)."""
    carried = 2 if outcome == _DOUBLE or outcome == _MULTIPLE else (1 if outcome == _PRIMARY or outcome == _SECONDARY
                                                                     else 0)
    factor = 1.0
    for k in range(carried):  # one inlined call site, not three
        factor *= reflectivity_at(table.values, table.energies, table.angle_step, coating, energy_kev,
                                  g1 if k == 0 else g2)
    return factor


@numba.njit(cache=True, nogil=True)
def double_reflection_area_per_energy(table, rays, sums, sums_sq, first_node, end_node):
    """Sum and sum of squares over doubly reflected rays of weight R(E, g1) R(E, g2), at the table's energy nodes
    first_node .. end_node - 1, into sums and sums_sq.

    Shared out over energies (`coatings.threads.split_over_threads`), so each sum runs over the rays in their fixed
    order.
    """
    for k in range(first_node, end_node):
        acc = 0.0
        acc_sq = 0.0
        for i in range(rays.weight.shape[0]):
            if rays.fate[i] == _DOUBLE:
                coating = table.shell_coating[rays.shell[i]]
                v = rays.weight[i]
                for reflection in range(2):  # one inlined call site, not two
                    v *= reflectivity_at_node(table.values, table.angle_step, coating, k,
                                              rays.graze1[i] if reflection == 0 else rays.graze2[i])
                acc += v
                acc_sq += v * v
        sums[k] = acc
        sums_sq[k] = acc_sq
