"""A plain numpy implementation of the entrance sampling and the trace, for checking the kernels.

Written array-wise (all rays step together, all candidate surfaces at once) so that
it shares no code with `raytrace.engine.kernel` or `raytrace.engine.aperture`; it is slow and meant
for a few thousand rays. It follows the source protocol: `reference_trace` traces the rays any source
emitted. The tests compare its output with the kernel's ray by ray.
"""

from __future__ import annotations

import numpy as np

from coatings.scattering import HC_KEV_NM

from .aperture import EntranceChannels
from .geometry import (
    ANNULUS,
    BAR_COLUMNS,
    BAR_COUNT,
    BAR_HALF_WIDTH_MM,
    BAR_ROTATION_TURNS,
    BAR_TAN_HALF_WEDGE,
    CIRCLE,
    JOINS,
    PRIMARY,
    QUAD_A,
    QUAD_B,
    QUAD_C,
    SECONDARY,
    SLOPE_MERIDIONAL,
    SLOPE_SAGITTAL,
    SPACERS,
    WING_FRACTION,
    WING_RMS,
    Z_MAX,
    Z_MIN,
    Z_REF,
    PackedOptic,
)
from .rays import Fate, Rays
from .rng import DRAWS_PER_RAY


def reference_uniform(key: int, ray_index: np.ndarray, draw) -> np.ndarray:
    """The counter-based stream of raytrace.rng, in numpy uint64 arithmetic."""
    with np.errstate(over="ignore"):
        counter = (
            ray_index.astype(np.uint64) * np.uint64(DRAWS_PER_RAY) + np.asarray(draw).astype(np.uint64) + np.uint64(1)
        )
        z = np.uint64(key) + counter * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / 2.0**53


def reference_start_points(key, first_index, n, channels: EntranceChannels):
    """(x, y, z, channel) of rays first_index .. first_index + n - 1: uniform over the channels' area."""
    index = np.arange(first_index, first_index + n)
    s = reference_uniform(key, index, 0) * channels.total_area_mm2
    c = np.minimum(np.searchsorted(channels.cumulative_area_mm2, s, side="right"), len(channels.r_in) - 1)
    below = np.where(c > 0, channels.cumulative_area_mm2[np.maximum(c - 1, 0)], 0.0)
    r = np.sqrt(channels.r_in[c] ** 2 + (s - below) / (np.pi * channels.turn_span[c]))
    phi = 2 * np.pi * (channels.turn_start[c] + reference_uniform(key, index, 1) * channels.turn_span[c])
    return r * np.cos(phi), r * np.sin(phi), channels.z_start[c], c


def _roots(coef, p, d):
    """Both intersection parameters with quadrics given per ray (coef: (n, 6)); NaN where absent."""
    big_a, big_b, big_c, z_ref = coef[:, QUAD_A], coef[:, QUAD_B], coef[:, QUAD_C], coef[:, Z_REF]
    w = p[:, 2] - z_ref
    a = d[:, 0] ** 2 + d[:, 1] ** 2 - big_a * d[:, 2] ** 2
    half_b = p[:, 0] * d[:, 0] + p[:, 1] * d[:, 1] - (big_a * w + big_b / 2) * d[:, 2]
    c = p[:, 0] ** 2 + p[:, 1] ** 2 - big_a * w**2 - big_b * w - big_c
    disc = half_b**2 - a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(disc)
        q = -(half_b + np.where(half_b >= 0, root, -root))
        t1 = np.where(a != 0, q / a, np.nan)
        t2 = np.where(q != 0, c / q, np.nan)
    valid = disc >= 0
    return np.where(valid, t1, np.nan), np.where(valid, t2, np.nan)


def _first_hit(coef, azimuth, p, d, allowed):
    best = np.full(len(p), np.inf)
    for t in _roots(coef, p, d):
        hit = p + t[:, None] * d
        ok = allowed & (t > 0) & (hit[:, 2] >= coef[:, Z_MIN]) & (hit[:, 2] <= coef[:, Z_MAX])
        best = np.where(ok & _in_arc(azimuth, hit[:, 0], hit[:, 1]) & (t < best), t, best)
    return best


def _in_arc(azimuth, x, y):
    """Whether points lie within rows of (start, span) azimuth ranges, in radians."""
    start, span = azimuth[..., 0], azimuth[..., 1]
    return (span >= 2 * np.pi) | (np.mod(np.arctan2(y, x) - start, 2 * np.pi) < span)


def _outside_apertures(apertures, p, d, plane_z):
    s = (plane_z - p[:, 2]) / d[:, 2]
    x, y = p[:, 0] + s * d[:, 0], p[:, 1] + s * d[:, 1]
    outside = np.zeros(len(p), dtype=bool)
    for kind, a, b, c in apertures:
        if kind == CIRCLE:
            outside |= (x - b) ** 2 + (y - c) ** 2 >= a
        elif kind == ANNULUS:
            outside |= (x**2 + y**2 < a) | (x**2 + y**2 >= b)
        else:
            outside |= ~_in_arc(np.array([a, b]), x, y)
    return outside


def _on_bars(bars, p, d, plane_z):
    """Rays crossing the plane z = plane_z on one of the radial bars (rows of `bars`, or one row for all)."""
    bars = np.broadcast_to(bars, (len(p), BAR_COLUMNS))
    count = np.maximum(bars[:, BAR_COUNT], 1.0)
    s = (plane_z - p[:, 2]) / d[:, 2]
    q = p[:, :2] + s[:, None] * d[:, :2]
    period = 2 * np.pi / count
    delta = (
        np.mod(np.arctan2(q[:, 1], q[:, 0]) - 2 * np.pi * bars[:, BAR_ROTATION_TURNS] + period / 2, period) - period / 2
    )
    strip = (np.abs(delta) < np.pi / 2) & (
        np.hypot(q[:, 0], q[:, 1]) * np.abs(np.sin(delta)) < bars[:, BAR_HALF_WIDTH_MM]
    )
    return (bars[:, BAR_COUNT] > 0) & ((np.abs(delta) < np.arctan(bars[:, BAR_TAN_HALF_WEDGE])) | strip)


def _tilt(normal, p, sigma, key, index, first_draw):
    """Unit normals tilted by the slope-error model of `raytrace.engine.physics.tilted_normal` (draws per ray)."""
    u = [reference_uniform(key, index, first_draw + j) for j in range(3)]
    radius = np.sqrt(-2 * np.log(1 - u[0]))
    sigma_m = np.where(u[2] < sigma[:, WING_FRACTION], sigma[:, WING_RMS], sigma[:, SLOPE_MERIDIONAL])
    d_m = sigma_m * radius * np.cos(2 * np.pi * u[1])
    d_s = sigma[:, SLOPE_SAGITTAL] * radius * np.sin(2 * np.pi * u[1])
    r = np.hypot(p[:, 0], p[:, 1])
    t_m = np.stack(
        [p[:, 0] / r * normal[:, 2], p[:, 1] / r * normal[:, 2], -np.hypot(normal[:, 0], normal[:, 1])], axis=1
    )
    t_s = np.stack([-p[:, 1] / r, p[:, 0] / r, np.zeros(len(p))], axis=1)
    return normal + d_m[:, None] * t_m + d_s[:, None] * t_s


def _table_value(values, energies, angle_step, coating, energy, graze):
    """Bilinear interpolation of values[coating, energy node, angle node] (angles 0, angle_step, ...), clamped."""
    n_e, n_a = values.shape[1], values.shape[2]
    ie = np.clip(np.searchsorted(energies, energy, side="right") - 1, 0, max(n_e - 2, 0))
    fe = (
        np.zeros(len(energy))
        if n_e == 1
        else np.clip((energy - energies[ie]) / (energies[ie + 1] - energies[ie]), 0.0, 1.0)
    )
    x = np.minimum(np.abs(graze) / angle_step, n_a - 1)
    ia = np.minimum(np.floor(x).astype(int), n_a - 2)
    fa = x - ia

    def at(node):
        return values[coating, node, ia] * (1 - fa) + values[coating, node, ia + 1] * fa

    return at(ie) if n_e == 1 else at(ie) * (1 - fe) + at(np.minimum(ie + 1, n_e - 1)) * fe


def _power_law_frequency(psd_index, f_lo, f_hi, share):
    """The frequency below which `share` of a power law's power over [f_lo, f_hi] lies."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e = 1 - psd_index
        power = (f_lo**e + share * (f_hi**e - f_lo**e)) ** (1 / e)
        return np.where(np.abs(psd_index - 1) < 1e-9, f_lo * (f_hi / f_lo) ** share, power)


def _power_law_share(psd_index, f_lo, f_hi, f):
    """The share of a power law's power over [f_lo, f_hi] below f (clamped to the band)."""
    f = np.clip(f, f_lo, f_hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = 1 - psd_index
        return np.where(
            np.abs(psd_index - 1) < 1e-9, np.log(f / f_lo) / np.log(f_hi / f_lo), (f**e - f_lo**e) / (f_hi**e - f_lo**e)
        )


def _scattered(d, normal, graze, energy, coating, table, scatter_key, index, slot, active):
    """Directions and weight factors after rough-surface scattering (`raytrace.engine.physics.scatter`), for the rays
    in `active` (the others keep their direction and factor 1)."""
    psd = table.scattering[coating]
    n_psd, sigma = psd[:, 0], psd[:, 3]
    f_lo, f_hi = np.where(psd[:, 2] > 0, psd[:, 1], 1.0), np.where(psd[:, 2] > 0, psd[:, 2], 2.0)
    wavelength = HC_KEV_NM / energy
    tis = (4 * np.pi * sigma * np.sin(graze) / wavelength) ** 2
    tau = _table_value(table.scatter_fraction, table.energies_kev, table.angle_step_rad, coating, energy, graze)
    leaves = -np.expm1(-np.maximum(tis, tau))
    u = reference_uniform(scatter_key, index, 2 * slot)
    v = reference_uniform(scatter_key, index, 2 * slot + 1)
    scatter = active & (psd[:, 2] > 0) & (sigma > 0) & (u < leaves)
    towards_share = _power_law_share(n_psd, f_lo, f_hi, (1 - np.cos(graze)) / wavelength)
    with np.errstate(divide="ignore", invalid="ignore"):
        towards = u / leaves * (1 + towards_share) < towards_share
    f = _power_law_frequency(n_psd, f_lo, f_hi, np.where(towards, v * towards_share, v))
    cos_s = np.cos(graze) + np.where(towards, 1.0, -1.0) * wavelength * f
    graze_s = np.arccos(np.clip(cos_s, 0.0, 1.0))
    r0 = _table_value(table.values, table.energies_kev, table.angle_step_rad, coating, energy, graze)
    r_s = _table_value(table.scatter_values, table.energies_kev, table.scatter_step_rad, coating, energy, graze_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where((r0 > 0) & (tau > 0), np.sin(graze_s) / np.sin(graze) * np.sqrt(np.maximum(r_s, 0) / r0), 0.0)
        factor = np.where(
            gain > 0, tis * 0.5 * (1 + towards_share) * gain * np.minimum(tau, leaves) / (leaves * tau), 0.0
        )
    side = np.sign(np.sum(d * normal, axis=1))[:, None] * normal
    along_surface = d - np.sum(d * side, axis=1)[:, None] * side
    along_surface /= np.linalg.norm(along_surface, axis=1)[:, None]
    new = np.cos(graze_s)[:, None] * along_surface + np.sin(graze_s)[:, None] * side
    return np.where(scatter[:, None], new, d), np.where(scatter, factor, 1.0)


def reference_trace(
    packed: PackedOptic,
    rays: Rays,
    key: int = 0,
    first_index: int = 0,
    focal_plane_z: float = 0.0,
    table=None,
    shell_coating=None,
    scatter_key: int = 0,
) -> Rays:
    """Trace rays first_index .. of a run with this key, as a source emitted them (the key and indices drive
    the slope-error draws). With a reflectivity table whose coatings scatter (`coatings.table.ReflectivityTable`,
    each shell's coating in it and the key of the scattering draws), the first two reflections scatter as in the
    kernel, and the weights take the scattering's factors (not the reflectivities)."""
    out = rays.copy()
    index = np.arange(first_index, first_index + len(out))
    n_shells = packed.n_shells
    p = np.stack([out.x, out.y, out.z], axis=1)
    d = np.stack([out.dx, out.dy, out.dz], axis=1)
    c = out.channel.astype(int)
    given = out.fate.copy()  # fates a source set: those rays are left where they start
    fate = np.zeros(len(out), dtype=np.int8)

    fate[_outside_apertures(packed.apertures, p, d, packed.top_z.max())] = Fate.BLOCKED_APERTURE
    fate[(fate == 0) & _on_bars(packed.spider, p, d, packed.top_z.max())] = Fate.BLOCKED_SPIDER
    for wall, inner in ((c - 1, True), (c, False)):
        exists = (wall >= 0) & (wall < n_shells) & (fate == 0)
        wi = np.clip(wall, 0, n_shells - 1)
        s = (packed.top_z[wi] - p[:, 2]) / d[:, 2]
        x, y = p[:, 0] + s * d[:, 0], p[:, 1] + s * d[:, 1]
        r = np.hypot(x, y)
        lo, hi = packed.front_r[wi], packed.front_r[wi] + packed.thickness[wi]
        on_front = exists & (r >= lo) & (r < hi) & _in_arc(packed.shell_azimuth[wi], x, y)
        leaked = exists & ((r < lo) if inner else (r >= hi))  # by radius alone, as in the kernel
        fate[on_front] = Fate.BLOCKED_FRONT
        fate[leaked] = Fate.LEAKED

    outer = np.clip(c, 0, n_shells - 1)
    inner_shell = np.clip(c - 1, 0, n_shells - 1)
    has_outer, has_inner = c < n_shells, c > 0
    plane_z = packed.surfaces[outer, PRIMARY, Z_REF]
    for kind, code in ((SPACERS, Fate.BLOCKED_SPACER), (JOINS, Fate.SEGMENT_GAP)):
        fate[has_outer & (fate == 0) & _on_bars(packed.segments[outer, kind], p, d, plane_z)] = code
    sigma = packed.slope_errors[outer]
    candidates = [(packed.surfaces[outer, k], packed.shell_azimuth[outer], has_outer, k) for k in (PRIMARY, SECONDARY)]
    candidates += [(packed.surfaces[inner_shell, k], packed.shell_azimuth[inner_shell], has_inner, k) for k in (2, 3)]

    active = fate == 0
    sequence = np.zeros(len(out), dtype=int)
    n_refl = np.zeros(len(out), dtype=int)
    last = np.full(len(out), -1)
    graze = np.zeros((len(out), 2))
    for _ in range(4):
        if not active.any():
            break
        ts = np.stack(
            [
                _first_hit(coef, azimuth, p, d, allowed & active & (last != k))
                for coef, azimuth, allowed, k in candidates
            ],
            axis=1,
        )
        hit = np.argmin(ts, axis=1)
        t = ts[np.arange(len(out)), hit]
        moving = active & np.isfinite(t)
        p[moving] += t[moving, None] * d[moving]
        back = moving & (hit >= 2)
        fate[back] = Fate.BLOCKED_BACK
        refl = moving & (hit < 2)
        coef = packed.surfaces[outer, np.clip(hit, PRIMARY, SECONDARY)]
        w = p[:, 2] - coef[:, Z_REF]
        normal = np.stack([p[:, 0], p[:, 1], -(coef[:, QUAD_A] * w + coef[:, QUAD_B] / 2)], axis=1)
        normal /= np.linalg.norm(normal, axis=1)[:, None]
        normal = _tilt(normal, p, sigma, key, index, 2 + 3 * n_refl)
        normal /= np.linalg.norm(normal, axis=1)[:, None]
        dot = np.sum(d * normal, axis=1)
        d[refl] -= 2 * dot[refl, None] * normal[refl]
        angle = np.arcsin(np.minimum(1.0, np.abs(dot)))
        if table is not None and table.scattering is not None:
            for slot in (0, 1):
                d, factor = _scattered(
                    d,
                    normal,
                    angle,
                    out.energy_kev,
                    shell_coating[outer],
                    table,
                    scatter_key,
                    index,
                    slot,
                    refl & (n_refl == slot),
                )
                out.weight *= factor
        for slot in (0, 1):
            put = refl & (n_refl == slot)
            graze[put, slot] = angle[put]
        sequence[refl] = 3 * sequence[refl] + hit[refl] + 1
        n_refl[refl] += 1
        last[refl] = hit[refl]
        active = refl & (n_refl < 4)

    open_rays = fate == 0
    by_sequence = {0: Fate.NO_REFLECTION, 1: Fate.PRIMARY_ONLY, 2: Fate.SECONDARY_ONLY, 5: Fate.DOUBLE}
    for seq, code in by_sequence.items():
        fate[open_rays & (sequence == seq)] = code
    fate[open_rays & ~np.isin(sequence, list(by_sequence))] = Fate.MULTIPLE
    reaches = open_rays & (d[:, 2] < 0) & (p[:, 2] >= focal_plane_z)
    fate[open_rays & ~reaches] = Fate.MISSED_FOCAL_PLANE
    s = np.where(reaches, (focal_plane_z - p[:, 2]) / np.where(reaches, d[:, 2], -1.0), 0.0)
    p += s[:, None] * d
    p[reaches, 2] = focal_plane_z

    keep = given != 0
    p[keep] = np.stack([rays.x, rays.y, rays.z], axis=1)[keep]
    d[keep] = np.stack([rays.dx, rays.dy, rays.dz], axis=1)[keep]
    fate[keep] = given[keep]
    graze[keep] = 0.0
    out.x, out.y, out.z = p[:, 0], p[:, 1], p[:, 2]
    out.dx, out.dy, out.dz = d[:, 0], d[:, 1], d[:, 2]
    out.shell = outer.astype(np.int32)
    out.fate = fate
    out.graze1, out.graze2 = graze[:, 0], graze[:, 1]
    return out
