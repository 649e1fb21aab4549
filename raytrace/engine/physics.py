"""The physics of one ray, as scalar functions (units in the names where they are not the engine's mm, radians and
keV): where a ray meets a surface, the surface's normal and slope errors, the reflection and its graze angle, surface
scattering, the entrance obstructions, and the fate a sequence of reflections gives.

The block kernel (`raytrace.engine.kernel`) and the per-ray specification (`raytrace.engine.specification`) both call
these; LLVM inlines them into the kernel's vectorised loops. Nothing here branches where a block's loop must stay
branch-free (`vector_math.select` instead), except where said.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from coatings.scattering import HC_KEV_NM, band_frequency, band_share, scattered_graze, towards_cutoff
from coatings.table import reflectivity_at

from .aperture import cos_sin_of_turn
from .geometry import (
    ANNULUS,
    APERTURE_KIND,
    APERTURE_P1,
    APERTURE_P2,
    APERTURE_P3,
    AZIMUTH_SPAN,
    AZIMUTH_START,
    CIRCLE,
    PRIMARY,
    PRIMARY_BACK,
    SECONDARY,
    SECONDARY_BACK,
    TWO_PI,
)
from .rays import Fate
from .rng import uniform
from .vector_math import floor, log, select

# Functions only kernels call are compiled without the Python and C wrappers (a first run would wait for them).
# error_model="numpy": divisions follow IEEE (x/0 = inf) instead of raising, which removes a branch per division.
_INTERNAL = dict(cache=True, error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True)
MAX_REFLECTIONS = 4  # a ray still in flight after these many reflections goes on to the focal plane
# The candidate surfaces of a ray's channel c, in the order they are tried: (c, PRIMARY), (c - 1, PRIMARY_BACK),
# (c, SECONDARY), (c - 1, SECONDARY_BACK) (`candidate_allowed`, `nearest_candidate`)
CANDIDATE_SURFACES = (PRIMARY, PRIMARY_BACK, SECONDARY, SECONDARY_BACK)
GRAZE_SERIES_LIMIT = 0.0625  # sin of the graze angle below which `graze_series` gives asin (every Wolter-I reflection)
FIRST_SLOPE_DRAW = 2  # draws 0 and 1 place the start point (raytrace.engine.aperture)
# A ray's sequence of reflections, base 3, most recent last: digit 1 a primary, 2 a secondary (`sequence_after`)
assert (PRIMARY, SECONDARY) == (0, 1), "sequence_after's digits are the surface + 1"
_NONE, _PRIMARY, _SECONDARY = np.int8(Fate.NO_REFLECTION), np.int8(Fate.PRIMARY_ONLY), np.int8(Fate.SECONDARY_ONLY)
_DOUBLE, _MULTIPLE = np.int8(Fate.DOUBLE), np.int8(Fate.MULTIPLE)


@numba.njit(cache=True, no_cfunc_wrapper=True, error_model="numpy")
def quadric_roots(big_a, big_b, big_c, z_ref, z_lo, z_hi, px, py, pz, dx, dy, dz):
    """Both t > 0 where p + t d meets the quadric x^2 + y^2 = A w^2 + B w + C (w = z - z_ref) within z_lo <= z <= z_hi
    (inf where there is none), without branches, so that a loop over a block's lanes vectorises.

    With F(t) = a t^2 + 2 b t + c, the roots are taken as c / q and q / a with
    q = -(b + sign(b) sqrt(b^2 - a c)), which stays accurate when a -> 0 (grazing rays,
    and exactly 0 for an on-axis ray and a paraboloid).
    """
    w = pz - z_ref
    a = dx * dx + dy * dy - big_a * dz * dz
    b = px * dx + py * dy - (big_a * w + 0.5 * big_b) * dz
    c = px * px + py * py - (big_a * w + big_b) * w - big_c
    disc = b * b - a * c
    # the surface is not wholly behind the ray, and the roots are real
    ahead = ((dz > 0.0) | (pz >= z_lo)) & ((dz < 0.0) | (pz <= z_hi)) & (disc >= 0.0)
    q = -(b + math.copysign(math.sqrt(max(disc, 0.0)), b))
    t1 = c / q
    t2 = q / a
    z1 = pz + t1 * dz
    z2 = pz + t2 * dz
    first = select(ahead & (q != 0.0) & (t1 > 0.0) & (z_lo <= z1) & (z1 <= z_hi), t1, np.inf)
    second = select(ahead & (a != 0.0) & (t2 > 0.0) & (z_lo <= z2) & (z2 <= z_hi), t2, np.inf)
    return first, second


@numba.njit(**_INTERNAL)
def covered(shell_azimuth, shell, px, py, dx, dy, t):
    """t where the shell covers the azimuth of the point p + t d (inf stays inf), else inf."""
    if t == np.inf:
        return t
    return (
        t
        if within_azimuth(
            shell_azimuth[shell, AZIMUTH_START], shell_azimuth[shell, AZIMUTH_SPAN], px + t * dx, py + t * dy
        )
        else np.inf
    )


@numba.njit(**_INTERNAL)
def within_azimuth(start, span, x, y):
    """Whether the point's azimuth lies in start .. start + span (always, for a full turn)."""
    if span >= TWO_PI:
        return True
    delta = math.atan2(y, x) - start
    return delta - TWO_PI * math.floor(delta / TWO_PI) < span


@numba.njit(**_INTERNAL)
def outside_apertures(apertures, plane_z, px, py, pz, dx, dy, dz):
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


@numba.njit(**_INTERNAL)
def approximate_azimuth(x, y):
    """atan2(y, x) within 2.1e-4 rad (octant reduction and a 7th-order polynomial for atan on [0, 1]); 0 at the
    origin. Selects only, no branches."""
    ax = abs(x)
    ay = abs(y)
    big = max(ax, ay)
    a = min(ax, ay) / big
    s = a * a
    angle = ((-0.0464964749 * s + 0.15931422) * s - 0.327622764) * s * a + a
    angle = select(ay > ax, 0.5 * math.pi - angle, angle)
    angle = select(x < 0.0, math.pi - angle, angle)
    angle = select(y < 0.0, -angle, angle)
    return select(big != 0.0, angle, 0.0)


@numba.njit(**_INTERNAL)
def on_bar(tan_half_wedge, half_width, cos_k, sin_k, qx, qy):
    """Exact test against the bar along (cos_k, sin_k): within its wedge or its constant-width strip,
    on its side of the axis."""
    along = cos_k * qx + sin_k * qy
    across = abs(cos_k * qy - sin_k * qx)
    return (along > 0.0) & ((across < tan_half_wedge * along) | (across < half_width))


@numba.njit(**_INTERNAL)
def on_bars(count, tan_half_wedge, half_width, cos_k, sin_k, cos_next, sin_next, qx, qy):
    """Whether the point (qx, qy) lies on one of a set of `count` radial bars (none if 0), given the directions of
    the two bars that bracket its azimuth (`bar_entry`): the nearest bar is one of them."""
    return (count != 0.0) & (
        on_bar(tan_half_wedge, half_width, cos_k, sin_k, qx, qy)
        | on_bar(tan_half_wedge, half_width, cos_next, sin_next, qx, qy)
    )


@numba.njit(**_INTERNAL)
def plane_crossing(plane_z, px, py, pz, ux, uy, uz):
    """(x, y) where the ray p + s u crosses the plane z = plane_z."""
    s = (plane_z - pz) / uz
    return px + s * ux, py + s * uy


@numba.njit(**_INTERNAL)
def bar_entry(count, rotation, first, last_entry, qx, qy):
    """The entry of KernelGeometry.bar_directions (`geometry.bar_directions`) for the bar at or before the azimuth of
    the point (qx, qy) in a set of `count` equally spaced radial bars turned by `rotation` (turns), whose bar 0 is at
    entry `first`; entry 0 if the set is empty (and for a point that is not a number).

    The nearest bar (the only one that can block, as wedges are narrower than the spacing and a strip's distance
    grows with the angle) is this one or the next: an approximate azimuth finds them (its error, 2.1e-4 rad, is far
    below half the spacing of the at most 360 bars allowed), and `on_bars` tests both exactly."""
    entry = first + floor((approximate_azimuth(qx, qy) * (0.5 / math.pi) - rotation) * count)
    entry = select((count != 0.0) & (entry >= 0.0), entry, 0.0)
    return int(min(entry, last_entry))


@numba.njit(**_INTERNAL)
def graze_series(sin_graze):
    """asin(sin_graze) by its odd Taylor series through x^9: below GRAZE_SERIES_LIMIT (every Wolter-I reflection)
    its truncation error is below 2e-15 rad, at a fraction of the cost of libm's asin."""
    s = sin_graze * sin_graze
    return sin_graze * (1.0 + s * (1.0 / 6.0 + s * (3.0 / 40.0 + s * (15.0 / 336.0 + s * (105.0 / 3456.0)))))


@numba.njit(cache=True, no_cfunc_wrapper=True, error_model="numpy")
def graze_angle(sin_graze):
    """asin(sin_graze): `graze_series` below GRAZE_SERIES_LIMIT, libm's asin above."""
    if sin_graze < GRAZE_SERIES_LIMIT:
        return graze_series(sin_graze)
    return math.asin(min(1.0, sin_graze))


@numba.njit(**_INTERNAL)
def tilted_normal(d_m, d_s, nx, ny, nz):
    """The normal (nx, ny, nz) of a surface of revolution at (nx, ny), tilted by slope errors d_m, d_s:
    N + |N| (d_m t_m + d_s t_s), with t_m = (x n_z / r, y n_z / r, -r) / |N| the unit tangent in the
    meridional plane and t_s = (-y, x, 0) / r the azimuthal one."""
    r = math.sqrt(nx * nx + ny * ny)
    length = math.sqrt(nx * nx + ny * ny + nz * nz)
    along = d_m * nz / r
    around = d_s * length / r
    return nx + along * nx - around * ny, ny + along * ny + around * nx, nz - d_m * r


# Compiled on its own, not inlined into the trace body: that keeps the body's registers as they are for the optics
# without scattering.
@numba.njit(cache=True, no_cfunc_wrapper=True, error_model="numpy", _nrt=False)
def scatter(table, coating, energy_kev, graze, index, reflection, ux, uy, uz, nx, ny, nz):
    """The direction after a reflection on a surface whose roughness scatters (first-order theory,
    `coatings.scattering`), and the factor the ray's weight takes: (ux, uy, uz) is the specular direction, N the
    normal it was reflected about and graze the angle of incidence (R_0 itself enters the weight in `_weights`).

    With probability 1 - exp(-L), L = max(TIS, tau) (TIS = (4 pi sigma sin a / lambda)^2, the band's Debye-Waller
    share; tau the first-order scattered flux per unit R_0, `scatter_fraction`), the ray leaves the specular beam,
    which keeps R_0 exp(-L). It then scatters by a frequency f of the PSD drawn over the frequencies that propagate
    (towards the surface only below (1 - cos a) / lambda) into the graze angle a_s of cos a_s = cos a -+ lambda f,
    in the plane of incidence (out of it the deviation is smaller by sin a), and its weight takes the factor that
    makes the scattered flux first order's: TIS m g, m the share of the PSD's power that propagates and
    g = sin a_s / sin a sqrt(R_0(a_s) / R_0(a)), whose mean over the draws is tau, times min(tau, 1 - exp(-L)) /
    (tau (1 - exp(-L))). The scattered flux is then R_0 min(tau, 1 - exp(-L)), distributed as first order's dS / df.
    Draws 2 k and 2 k + 1 of the scattering key for reflection k: one decides (and, rescaled, picks the side),
    one gives f."""
    f_hi, sigma = table.scattering[coating, 2], table.scattering[coating, 3]
    if f_hi <= 0.0 or sigma <= 0.0:
        return ux, uy, uz, 1.0
    wavelength = HC_KEV_NM / energy_kev
    sin_graze = math.sin(graze)
    tis = (4.0 * math.pi * sigma * sin_graze / wavelength) ** 2
    tau = reflectivity_at(table.scatter_fraction, table.energies, table.angle_step, coating, energy_kev, graze)
    leaves = -math.expm1(-max(tis, tau))
    u = uniform(table.scatter_key, index, 2 * reflection)
    if not u < leaves:
        return ux, uy, uz, 1.0
    psd_index, f_lo = table.scattering[coating, 0], table.scattering[coating, 1]
    towards_share = band_share(psd_index, f_lo, f_hi, towards_cutoff(graze, wavelength))
    towards = u / leaves * (1.0 + towards_share) < towards_share
    v = uniform(table.scatter_key, index, 2 * reflection + 1)
    f = band_frequency(psd_index, f_lo, f_hi, v * towards_share if towards else v)
    graze_s = scattered_graze(graze, wavelength, f, towards)
    r0 = reflectivity_at(table.values, table.energies, table.angle_step, coating, energy_kev, graze)
    r_s = reflectivity_at(table.scatter_values, table.energies, table.scatter_step, coating, energy_kev, graze_s)
    gain = math.sin(graze_s) / sin_graze * math.sqrt(max(r_s, 0.0) / r0) if r0 > 0.0 and tau > 0.0 else 0.0
    # the mean of tis m gain over the draws is tau: the factor's mean is min(tau, leaves) / leaves
    factor = tis * 0.5 * (1.0 + towards_share) * gain * min(tau, leaves) / (leaves * tau) if gain > 0.0 else 0.0
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
    return cos_s * ex + sin_s * mx, cos_s * ey + sin_s * my, cos_s * ez + sin_s * mz, factor


@numba.njit(**_INTERNAL)
def surface_normal(big_a, big_b, z_ref, x, y, z):
    """Half the gradient of x^2 + y^2 - A w^2 - B w - C (w = z - z_ref) at the point: the surface's outward normal,
    unnormalised."""
    w = z - z_ref
    return x, y, -(big_a * w + 0.5 * big_b)


@numba.njit(**_INTERNAL)
def specular(dx, dy, dz, nx, ny, nz):
    """The direction d' = d - 2 (d.N / N.N) N after a specular reflection about the normal N (unnormalised: no square
    root on the ray's path), and sin of the graze angle |d.N| / |N| (d a unit vector)."""
    dot = dx * nx + dy * ny + dz * nz
    norm2 = nx * nx + ny * ny + nz * nz
    factor = 2.0 * dot / norm2
    return dx - factor * nx, dy - factor * ny, dz - factor * nz, abs(dot) / math.sqrt(norm2)


@numba.njit(**_INTERNAL)
def slope_deviates(key, ray, reflection, sigma_core, sigma_sagittal, wing_fraction, sigma_wing):
    """Meridional and sagittal slope errors (rad) of reflection `reflection` of ray `ray`: two Gaussian deviates
    (Box-Muller, with `vector_math.log`, which vectorises) from draws d = FIRST_SLOPE_DRAW + 3 reflection and d + 1;
    the meridional one has rms sigma_wing with probability wing_fraction (draw d + 2), else sigma_core."""
    draw = FIRST_SLOPE_DRAW + 3 * reflection
    radius = math.sqrt(-2.0 * log(1.0 - uniform(key, ray, draw)))  # 1 - u >= 2^-53: log's argument is normal
    cos_phi, sin_phi = cos_sin_of_turn(uniform(key, ray, draw + 1))
    sigma_m = select(uniform(key, ray, draw + 2) < wing_fraction, sigma_wing, sigma_core)
    return sigma_m * radius * cos_phi, sigma_sagittal * radius * sin_phi


@numba.njit(**_INTERNAL)
def front_edge(top_z, r_front, thickness, px, py, pz, ux, uy, uz):
    """Where the ray crosses a wall's front plane z = top_z: (x, y) there, whether it meets the wall's front edge
    (r_front <= r < r_front + thickness), and whether it passes inside the edge (r < r_front) or outside it."""
    s = (top_z - pz) / uz
    qx = px + s * ux
    qy = py + s * uy
    r2 = qx * qx + qy * qy
    r_edge = r_front + thickness
    return qx, qy, (r_front * r_front <= r2) & (r2 < r_edge * r_edge), r2 < r_front * r_front, r2 >= r_edge * r_edge


@numba.njit(**_INTERNAL)
def candidate_allowed(outer, channel, n_shells, last, surface):
    """Whether a ray in `channel` may meet a candidate `surface`: the channel's outer mirror (`outer`) if there is an
    outer shell and the mirror did not reflect the ray last, the inner shell's back surface if there is an inner
    shell."""
    return select(outer, (channel < n_shells) & (last != surface), channel > 0)


@numba.njit(**_INTERNAL)
def nearest_candidate(t_primary, t_primary_back, t_secondary, t_secondary_back, uz):
    """The surface a ray meets first (-1 if none) and its distance, of the candidates' distances (inf: not met).
    Primaries and their backs lie above the intersection plane, secondaries below it: a downward ray that meets the
    upper zone meets it before anything in the lower one, which is tried only if nothing lies ahead above (or for an
    upward ray)."""
    hit = select(t_primary < np.inf, PRIMARY, -1)
    better = t_primary_back < t_primary
    t_best, hit = select(better, t_primary_back, t_primary), select(better, PRIMARY_BACK, hit)
    lower_open = (hit < 0) | (uz >= 0.0)
    better = (t_secondary < t_best) & lower_open
    t_best, hit = select(better, t_secondary, t_best), select(better, SECONDARY, hit)
    better = (t_secondary_back < t_best) & lower_open
    return select(better, SECONDARY_BACK, hit), select(better, t_secondary_back, t_best)


@numba.njit(**_INTERNAL)
def sequence_after(sequence, surface):
    """The sequence of reflections after one more on `surface` (PRIMARY or SECONDARY): a base-3 digit appended."""
    return 3 * sequence + surface + 1


@numba.njit(**_INTERNAL)
def fate_of_sequence(sequence):
    """The fate of a ray that reached the focal plane after this sequence of reflections (`sequence_after`)."""
    code = select(sequence == 5, _DOUBLE, _MULTIPLE)  # primary (1) then secondary (2): 1 * 3 + 2
    code = select(sequence == 2, _SECONDARY, code)
    code = select(sequence == 1, _PRIMARY, code)
    return select(sequence == 0, _NONE, code)
