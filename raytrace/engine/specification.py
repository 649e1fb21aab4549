"""The trace of one ray at a time: the specification the block kernel (`raytrace.engine.kernel.trace`) is held to.

It reads like the physics, a ray from its start to its end, with the functions of `raytrace.engine.physics` that the
kernel's stages call: the entrance tests in the order a ray meets the obstructions; then, while it flies, the
nearest surface, the move onto it, its normal (tilted by the slope errors), the reflection and its graze angle, and
the scattering; last its fate, its point on the focal plane and its reflectivity weight. It takes the same named
tuples as the kernel (`KernelGeometry`, `KernelReflectivity`, `RayColumns`) and the rays as they entered the optic
(`Trace.entrance_range`), and writes the same columns. The tests require the two to agree bit for bit on every
optic and source kind, chunk size and thread count (`tests/test_specification.py`). It is slow, and only for them;
with NUMBA_DISABLE_JIT=1 it runs as plain Python.
"""

from __future__ import annotations

import numba
import numpy as np

from coatings.table import reflectivity_at

from .geometry import (
    AZIMUTH_SPAN,
    AZIMUTH_START,
    BAR_COLUMNS,
    BAR_COS,
    BAR_COUNT,
    BAR_FIRST,
    BAR_HALF_WIDTH_MM,
    BAR_NEXT_COS,
    BAR_NEXT_SIN,
    BAR_ROTATION_TURNS,
    BAR_SIN,
    BAR_TAN_HALF_WEDGE,
    CHANNEL_BARS,
    CHANNEL_SLOPES,
    CHANNEL_SURFACES,
    CHANNEL_WALLS,
    PRIMARY,
    QUAD_A,
    QUAD_B,
    QUAD_C,
    SECONDARY,
    SLOPE_MERIDIONAL,
    SLOPE_SAGITTAL,
    SURFACE_COLUMNS,
    WALL_COLUMNS,
    WALL_FRONT_R,
    WALL_THICKNESS,
    WALL_TOP_Z,
    WING_FRACTION,
    WING_RMS,
    Z_MAX,
    Z_MIN,
    Z_REF,
)
from .physics import (
    CANDIDATE_SURFACES,
    MAX_REFLECTIONS,
    bar_entry,
    candidate_allowed,
    covered,
    fate_of_sequence,
    front_edge,
    graze_angle,
    nearest_candidate,
    on_bars,
    outside_apertures,
    plane_crossing,
    quadric_roots,
    scatter,
    sequence_after,
    slope_deviates,
    specular,
    surface_normal,
    tilted_normal,
    within_azimuth,
)
from .rays import Fate
from .rng import stream_key
from .trace import SCATTER_STREAM

_APERTURE, _SPIDER, _FRONT = np.int8(Fate.BLOCKED_APERTURE), np.int8(Fate.BLOCKED_SPIDER), np.int8(Fate.BLOCKED_FRONT)
_LEAKED, _SPACER, _GAP = np.int8(Fate.LEAKED), np.int8(Fate.BLOCKED_SPACER), np.int8(Fate.SEGMENT_GAP)
_BACK, _MISSED = np.int8(Fate.BLOCKED_BACK), np.int8(Fate.MISSED_FOCAL_PLANE)
_PRIMARY_ONLY, _SECONDARY_ONLY = np.int8(Fate.PRIMARY_ONLY), np.int8(Fate.SECONDARY_ONLY)
_DOUBLE, _MULTIPLE = np.int8(Fate.DOUBLE), np.int8(Fate.MULTIPLE)


@numba.njit(cache=True, no_cfunc_wrapper=True, error_model="numpy")
def trace_rays(geometry, reflectivity, rays, key, first_index, partial_shells, apertures):
    """Trace each of the rays (rays first_index .. of a run, as they entered the optic) alone, as `kernel.trace` does
    in blocks, and write its end point, direction, shell, fate, first two graze angles and weight into the rays."""
    for i in range(rays.x.shape[0]):
        trace_ray(geometry, reflectivity, rays, i, key, first_index + np.uint64(i), partial_shells, apertures)


@numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, error_model="numpy")
def trace_ray(g, table, rays, i, key, ray, partial_shells, apertures):
    """Ray i of the rays (ray `ray` of the run) from its start to its end."""
    n_shells = g.top_z.shape[0]
    channel = g.channels
    c = rays.channel[i]
    px, py, pz = rays.x[i], rays.y[i], rays.z[i]
    ux, uy, uz = rays.dx[i], rays.dy[i], rays.dz[i]
    fate = rays.fate[i]  # a fate the source gave it stays
    shell = min(c, n_shells - 1)  # the channel's outer wall: the shell whose mirrors it can reflect on
    rays.shell[i] = shell
    rays.graze1[i] = 0.0
    rays.graze2[i] = 0.0

    # The entrance, in the order a ray meets the obstructions: the apertures and the spider in the spider plane; the
    # front edges of the channel's inner wall (shell c - 1), then of its outer wall (shell c), each in its own front
    # plane, or a leak past it into a neighbouring channel; a segmented shell's spacers and joins, where the ray crosses
    # the outer primary's intersection plane.
    if apertures is not None and fate == 0 and outside_apertures(g.apertures, g.spider_z, px, py, pz, ux, uy, uz):
        fate = _APERTURE
    last_entry = g.bar_directions.shape[1] - 1
    if g.spider[BAR_COUNT] > 0.0:
        qx, qy = plane_crossing(g.spider_z, px, py, pz, ux, uy, uz)
        if fate == 0 and _on_bar_set(g.spider, g.bar_directions, last_entry, qx, qy):
            fate = _SPIDER
    for k in range(2):
        column = CHANNEL_WALLS + k * WALL_COLUMNS
        qx, qy, on_edge, inside, outside = front_edge(
            channel[column + WALL_TOP_Z, c],
            channel[column + WALL_FRONT_R, c],
            channel[column + WALL_THICKNESS, c],
            px,
            py,
            pz,
            ux,
            uy,
            uz,
        )
        if partial_shells is not None:
            wall = max(c - 1, 0) if k == 0 else min(c, n_shells - 1)
            on_edge = on_edge & within_azimuth(
                g.shell_azimuth[wall, AZIMUTH_START], g.shell_azimuth[wall, AZIMUTH_SPAN], qx, qy
            )
        exists = c >= 1 if k == 0 else c < n_shells
        if fate == 0 and exists:
            fate = _FRONT if on_edge else _LEAKED if (inside if k == 0 else outside) else np.int8(0)
    if g.segmented:
        qx, qy = plane_crossing(channel[CHANNEL_SURFACES + Z_REF, c], px, py, pz, ux, uy, uz)
        for k in range(2):  # the spacers, then the joins
            bars = channel[CHANNEL_BARS + k * BAR_COLUMNS : CHANNEL_BARS + (k + 1) * BAR_COLUMNS, c]
            if fate == 0 and c < n_shells and _on_bar_set(bars, g.bar_directions, last_entry, qx, qy):
                fate = _SPACER if k == 0 else _GAP
    if fate != 0:
        rays.fate[i] = fate
        return

    # In flight: the nearest surface, the move onto it, and a reflection, until no surface lies ahead, a back
    # surface blocks it, or MAX_REFLECTIONS have been made.
    sigma_core = channel[CHANNEL_SLOPES + SLOPE_MERIDIONAL, c]
    sigma_sagittal = channel[CHANNEL_SLOPES + SLOPE_SAGITTAL, c]
    wing_fraction = channel[CHANNEL_SLOPES + WING_FRACTION, c]
    sigma_wing = channel[CHANNEL_SLOPES + WING_RMS, c]
    rough = (sigma_core > 0.0) | (sigma_sagittal > 0.0) | ((wing_fraction > 0.0) & (sigma_wing > 0.0))
    last, sequence, graze1, graze2 = -1, 0, 0.0, 0.0
    for reflection in range(MAX_REFLECTIONS):
        hit, t_best = _nearest_surface(g, channel, c, n_shells, last, partial_shells, px, py, pz, ux, uy, uz)
        if hit < 0:
            break
        px, py, pz = px + t_best * ux, py + t_best * uy, pz + t_best * uz
        if hit != PRIMARY and hit != SECONDARY:
            fate = _BACK
            break
        row = CHANNEL_SURFACES + (0 if hit == PRIMARY else 2) * SURFACE_COLUMNS  # its candidate's surface row
        nx, ny, nz = surface_normal(
            channel[row + QUAD_A, c], channel[row + QUAD_B, c], channel[row + Z_REF, c], px, py, pz
        )
        if rough:
            d_m, d_s = slope_deviates(key, ray, reflection, sigma_core, sigma_sagittal, wing_fraction, sigma_wing)
            nx, ny, nz = tilted_normal(d_m, d_s, nx, ny, nz)
        ux, uy, uz, sin_graze = specular(ux, uy, uz, nx, ny, nz)
        graze = graze_angle(sin_graze)
        if reflection == 0:
            graze1 = graze
        elif reflection == 1:
            graze2 = graze
        sequence = sequence_after(sequence, hit)
        last = hit
        if table.scatters and reflection < 2:
            coating = table.shell_coating[shell]
            ux, uy, uz, factor = scatter(
                table, coating, rays.energy_kev[i], graze, ray, np.int64(reflection), ux, uy, uz, nx, ny, nz
            )
            rays.weight[i] *= factor

    # The end: the fate by the sequence of reflections, and the point on the focal plane.
    if fate == 0:
        if (uz < 0.0) & (pz >= g.focal_plane_z):
            px, py = plane_crossing(g.focal_plane_z, px, py, pz, ux, uy, uz)
            pz = g.focal_plane_z
            fate = fate_of_sequence(sequence)
        else:
            fate = _MISSED
    rays.x[i], rays.y[i], rays.z[i] = px, py, pz
    rays.dx[i], rays.dy[i], rays.dz[i] = ux, uy, uz
    rays.graze1[i], rays.graze2[i] = graze1, graze2
    rays.fate[i] = fate

    # The weight: times the tabulated reflectivity of the reflections the ray carries to the focal plane (two for a
    # focused ray, one for a primary or secondary only), at its energy and graze angles.
    if table.weigh:
        carried = (
            2 if fate == _DOUBLE or fate == _MULTIPLE else 1 if fate == _PRIMARY_ONLY or fate == _SECONDARY_ONLY else 0
        )
        factor = 1.0
        coating = table.shell_coating[shell]
        for k in range(carried):
            factor = factor * reflectivity_at(
                table.values,
                table.energies,
                table.angle_step,
                coating,
                rays.energy_kev[i],
                graze1 if k == 0 else graze2,
            )
        rays.weight[i] *= factor


@numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, error_model="numpy")
def _on_bar_set(bars, bar_directions, last_entry, qx, qy):
    """Whether the point lies on one of a set of radial bars (a row of `geometry.radial_bars`): the two bars that
    bracket its azimuth, found in the table of bar directions."""
    entry = bar_entry(bars[BAR_COUNT], bars[BAR_ROTATION_TURNS], bars[BAR_FIRST], last_entry, qx, qy)
    return on_bars(
        bars[BAR_COUNT],
        bars[BAR_TAN_HALF_WEDGE],
        bars[BAR_HALF_WIDTH_MM],
        bar_directions[BAR_COS, entry],
        bar_directions[BAR_SIN, entry],
        bar_directions[BAR_NEXT_COS, entry],
        bar_directions[BAR_NEXT_SIN, entry],
        qx,
        qy,
    )


@numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, error_model="numpy")
def _nearest_surface(g, channel, c, n_shells, last, partial_shells, px, py, pz, ux, uy, uz):
    """The nearest of the channel's candidate surfaces ahead of the ray (-1 if none) and its distance
    (`physics.candidate_allowed`, `physics.nearest_candidate`)."""
    distances = np.empty(4)
    for k in range(4):
        which = CANDIDATE_SURFACES[k]
        outer = k % 2 == 0
        row = CHANNEL_SURFACES + k * SURFACE_COLUMNS
        first, second = quadric_roots(
            channel[row + QUAD_A, c],
            channel[row + QUAD_B, c],
            channel[row + QUAD_C, c],
            channel[row + Z_REF, c],
            channel[row + Z_MIN, c],
            channel[row + Z_MAX, c],
            px,
            py,
            pz,
            ux,
            uy,
            uz,
        )
        if partial_shells is not None:
            wall = min(c, n_shells - 1) if outer else max(c - 1, 0)
            first = covered(g.shell_azimuth, wall, px, py, ux, uy, first)
            second = covered(g.shell_azimuth, wall, px, py, ux, uy, second)
        distances[k] = min(first, second) if candidate_allowed(outer, c, n_shells, last, which) else np.inf
    return nearest_candidate(distances[0], distances[1], distances[2], distances[3], uz)


def specified_range(trace, key, first_index: int, n: int, n_total: int, table=None):
    """Rays first_index .. first_index + n - 1 of an n_total-ray run of `trace` (a `Trace`), each traced alone from
    where it entered the optic: what `Trace.trace_range` must give, bit for bit (a reflectivity `table` as there)."""
    rays = trace.entrance_range(key, first_index, n, n_total)
    kernel_table = trace.kernel_table(table)
    if kernel_table.scatters:
        kernel_table = kernel_table._replace(scatter_key=stream_key(key, SCATTER_STREAM))
    trace_rays(
        trace.geometry,
        kernel_table,
        rays.columns(),
        key,
        np.uint64(first_index),
        trace.partial_shells or None,
        trace.has_apertures or None,
    )
    return rays
