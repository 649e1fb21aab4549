"""What comes out: effective area, PSF and its figures, vignetting, and coating reflectivity curves.

The focused beam is the doubly reflected rays (primary then secondary); singly
reflected stray light and blocked rays are counted in the fate table of every result.
Effective area is the sum of ray weights (aperture area per ray times the product of
the two reflectivities). Its uncertainty is the standard error of that sum over
independent, identically distributed rays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import astropy.units as u
import numba
import numpy as np
from astropy.table import Table

from coatings import Stack
from coatings.materials import MAX_ENERGY_KEV, MIN_ENERGY_KEV
from geometries import Optic
from geometries.optic import SlopeErrors

from . import __version__, kernel
from .engine import DEFAULT_CHUNK_SIZE, BeamTrace, check_ray_count
from .rays import FATE_NAMES, Fate, Rays
from .rng import seed_key
from .sources import ParallelBeam

ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0
PILOT_RAYS = 1 << 16
RADIAL_BINS_PER_DECADE = 1000
RADIAL_MIN_MM = 1e-7
RADIAL_MAX_MM = 1e4
_DOUBLE = np.int8(Fate.DOUBLE)


def run_metadata(optic: Optic, beam, n_rays: int, seed: int, fates: np.ndarray, **extra) -> dict:
    meta = {
        "optic": optic.name,
        "focal_length_mm": optic.focal_length_mm,
        "source": beam.describe(),
        **beam.metadata(),
        "rays": int(n_rays),
        "seed": int(seed),
        "raytrace_version": __version__,
        "fates": {FATE_NAMES[i]: int(fates[i]) for i in range(1, len(fates))},
    }
    meta.update(extra)
    return meta


def effective_area(
    optic: Optic,
    energies_kev,
    beam: ParallelBeam = ParallelBeam(),
    n_rays: int = 1_000_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress=None,
) -> Table:
    """Effective area of the focused beam at each energy: one geometric trace, re-weighted per energy."""
    energies = np.asarray(energies_kev, dtype=float).ravel()
    check_energies(energies)
    check_ray_count(n_rays)
    trace = BeamTrace(optic, beam)
    table = trace.reflectivity_table(energies)
    sums = np.zeros(table.energies_kev.size)
    sums_sq = np.zeros_like(sums)
    fates = np.zeros(len(Fate) + 1, dtype=np.int64)
    geometric = 0.0
    for rays in trace.chunks(n_rays, seed, chunk_size=chunk_size):
        s, s2 = kernel.double_reflection_area_per_energy(
            table.values, table.energies_kev, table.angle_step_rad, trace.shell_coating,
            rays.channel, rays.fate, rays.weight, rays.graze1, rays.graze2,
        )
        sums += s
        sums_sq += s2
        fates += rays.fate_counts()
        geometric += float(rays.weight[rays.fate == Fate.DOUBLE].sum())
        if progress is not None:
            progress(len(rays))
    variance = np.maximum(sums_sq - sums**2 / n_rays, 0.0) * n_rays / max(n_rays - 1, 1)
    index = np.searchsorted(table.energies_kev, energies)
    out = Table(
        {
            "energy": energies * u.keV,
            "effective_area": sums[index] * u.cm**2,
            "effective_area_err": np.sqrt(variance[index]) * u.cm**2,
        },
        meta=run_metadata(
            optic, beam, n_rays, seed, fates,
            geometric_area_cm2=geometric,
            sampled_area_cm2=trace.sampled_area_cm2,
            coatings=", ".join(c.name for c in trace.coatings),
            definition="doubly reflected (primary then secondary) rays reaching the focal plane",
        ),
    )
    return out


def vignetting(
    optic: Optic,
    off_axis_arcmin,
    energy_kev: float,
    azimuth_deg: float = 0.0,
    n_rays: int = 200_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Table:
    """Effective area at one energy versus off-axis angle, and relative to on-axis."""
    angles = np.asarray(off_axis_arcmin, dtype=float).ravel()
    def area_at(angle):
        beam = ParallelBeam.from_angles(angle * u.arcmin, azimuth_deg * u.deg)
        area = effective_area(optic, [energy_kev], beam, n_rays, seed, chunk_size)
        return area["effective_area"][0], area["effective_area_err"][0]

    values = np.array([area_at(angle) for angle in angles])
    on_axis = values[angles == 0, 0][0] if np.any(angles == 0) else area_at(0.0)[0]
    return Table(
        {
            "off_axis": angles * u.arcmin,
            "effective_area": values[:, 0] * u.cm**2,
            "effective_area_err": values[:, 1] * u.cm**2,
            "relative_area": values[:, 0] / on_axis,
        },
        meta={"optic": optic.name, "energy_kev": float(energy_kev), "azimuth_deg": float(azimuth_deg),
              "rays": int(n_rays), "seed": int(seed), "raytrace_version": __version__},
    )


def reflectivity_curves(stack: Stack, energies_kev, angles_mrad, polarisation: str = "unpolarised") -> Table:
    """R of a coating at every (energy, graze angle): columns energy (keV), angle (mrad), reflectivity.

    Energies vary slowest. Angles are graze angles, measured from the mirror surface.
    """
    energies = np.atleast_1d(np.asarray(energies_kev, dtype=float))
    angles = np.atleast_1d(np.asarray(angles_mrad, dtype=float))
    values = stack.reflectivity_grid(energies, angles * 1e-3, polarisation)
    return Table(
        {
            "energy": np.repeat(energies, angles.size) * u.keV,
            "angle": np.tile(angles, energies.size) * u.mrad,
            "reflectivity": values.ravel(),
        },
        meta={
            "recipe": stack.name,
            "stack": stack.summary(),
            "description": stack.description,
            "optical_constants": ", ".join(sorted({m.optical_constants for m in stack.materials()})),
            "polarisation": polarisation,
            "raytrace_version": __version__,
        },
    )


@dataclass
class PsfResult:
    """PSF of the focused beam at one energy."""

    hpd_arcsec: float
    w80_arcsec: float
    w90_arcsec: float
    centroid_x_mm: float
    centroid_y_mm: float
    effective_area_cm2: float
    encircled: Table
    image: np.ndarray
    pixel_arcsec: float
    image_center_mm: tuple[float, float]
    meta: dict = field(default_factory=dict)

    def summary(self) -> dict:
        names = ("hpd_arcsec", "w80_arcsec", "w90_arcsec", "centroid_x_mm", "centroid_y_mm", "effective_area_cm2")
        return {name: float(getattr(self, name)) for name in names}


def psf(
    optic: Optic,
    energy_kev: float,
    beam: ParallelBeam = ParallelBeam(),
    n_rays: int = 1_000_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    focal_plane_z_mm: float = 0.0,
    pixel_arcsec: float = 0.5,
    image_pixels: int = 256,
    progress=None,
) -> PsfResult:
    """Encircled energy, HPD, W80, W90, centroid and an image of the focused beam.

    Radii are measured from a centre found on the first 65536 rays (fixed, so the
    result does not depend on the chunk size); the reported centroid uses all rays.
    Angles are focal-plane distances divided by the focal length.
    """
    check_energies(np.array([energy_kev]))
    check_ray_count(n_rays)
    if not (pixel_arcsec > 0 and math.isfinite(pixel_arcsec)):
        raise ValueError(f"pixel size = {pixel_arcsec} arcsec: must be > 0")
    if not 1 <= image_pixels <= 8192:
        raise ValueError(f"image size = {image_pixels} pixels: must be within 1-8192")
    trace = BeamTrace(optic, beam, focal_plane_z_mm)
    table = trace.reflectivity_table([energy_kev])

    pilot = trace.trace_range(seed_key(seed), 0, min(n_rays, PILOT_RAYS), n_rays, energy_kev, table=table)
    centre = _weighted_centroid(pilot)
    if centre is None:
        f_tan = optic.focal_length_mm * math.tan(beam.off_axis_rad)
        centre = (-f_tan * math.cos(beam.azimuth_rad), -f_tan * math.sin(beam.azimuth_rad))

    mm_per_arcsec = optic.focal_length_mm / ARCSEC_PER_RAD
    focused = _FocusedRays(centre, pixel_arcsec * mm_per_arcsec, image_pixels, min(chunk_size, n_rays))
    fates = np.zeros(len(Fate) + 1, dtype=np.int64)
    for rays in trace.chunks(n_rays, seed, energy_kev, chunk_size, table):
        focused.add(rays)
        fates += rays.fate_counts()
        if progress is not None:
            progress(len(rays))

    total, sum_x, sum_y = focused.sums
    edges_mm = focused.edges_mm()
    fraction = np.cumsum(focused.radial) / total if total > 0 else np.zeros_like(focused.radial)
    widths = [2.0 * _radius_at(fraction, edges_mm, q) / mm_per_arcsec for q in (0.5, 0.8, 0.9)]
    meta = run_metadata(optic, beam, n_rays, seed, fates, energy_kev=float(energy_kev),
                        focal_plane_z_mm=float(focal_plane_z_mm))
    result = PsfResult(
        hpd_arcsec=widths[0],
        w80_arcsec=widths[1],
        w90_arcsec=widths[2],
        centroid_x_mm=sum_x / total if total > 0 else math.nan,
        centroid_y_mm=sum_y / total if total > 0 else math.nan,
        effective_area_cm2=total,
        encircled=encircled_table(fraction, edges_mm, mm_per_arcsec, u.arcsec),
        image=focused.image,
        pixel_arcsec=pixel_arcsec,
        image_center_mm=(float(centre[0]), float(centre[1])),
        meta=meta,
    )
    result.encircled.meta.update(meta)
    result.encircled.meta.update(result.summary())
    return result


def best_focus_z_mm(
    optic: Optic,
    energy_kev: float,
    beam: ParallelBeam = ParallelBeam(),
    n_rays: int = 200_000,
    seed: int = 0,
    search_mm: float | None = None,
) -> float:
    """The focal-plane position z (mm) where the HPD of the focused beam of the ideal optic is smallest.

    Slope errors are left out: they blur the image about this plane, and with them the minimum
    would wander with the random draws. The focused rays of one trace are straight lines below the
    optic, so their crossing with any plane follows from their positions and directions at z = 0;
    the HPD (weighted median distance from the weighted centroid) is minimised over z within
    +-search_mm (default 2 % of f), first on a grid and then by bounded Brent. A true Wolter-I optic
    on axis has it at 0; a conical one behind it.
    """
    from scipy.optimize import minimize_scalar

    check_energies(np.array([energy_kev]))
    check_ray_count(n_rays)
    trace = BeamTrace(optic.with_slope_errors(SlopeErrors()), beam)
    table = trace.reflectivity_table([energy_kev])
    rays = trace.trace_range(seed_key(seed), 0, n_rays, n_rays, energy_kev, table=table)
    focused = (rays.fate == Fate.DOUBLE) & (rays.weight > 0)
    if not focused.any():
        raise ValueError(f"{optic.name}: no focused rays at {energy_kev} keV, so there is no best focus")
    x, y, w = rays.x[focused], rays.y[focused], rays.weight[focused]
    slope_x, slope_y = rays.dx[focused] / rays.dz[focused], rays.dy[focused] / rays.dz[focused]
    lowest_exit = float(trace.packed.surfaces[:, 1, 4].min())
    half_range = 0.02 * optic.focal_length_mm if search_mm is None else search_mm
    z_max = min(half_range, 0.5 * lowest_exit)

    def half_power_radius(z):
        px, py = x + z * slope_x, y + z * slope_y
        cx, cy = np.average(px, weights=w), np.average(py, weights=w)
        r = np.hypot(px - cx, py - cy)
        order = np.argsort(r)
        cumulative = np.cumsum(w[order])
        return float(r[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])

    grid = np.linspace(-half_range, z_max, 41)
    k = int(np.argmin([half_power_radius(z) for z in grid]))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    best = minimize_scalar(half_power_radius, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3})
    return float(best.x)


def spread_indices(size: int, count: int) -> np.ndarray:
    """Indices of up to `count` elements spread evenly over `size` (first and last included)."""
    return np.unique(np.linspace(0, size - 1, min(count, size)).round().astype(int))


def check_energies(energies: np.ndarray) -> None:
    if energies.size == 0:
        raise ValueError("no energies given")
    bad = energies[~((energies >= MIN_ENERGY_KEV) & (energies <= MAX_ENERGY_KEV))]
    if bad.size:
        raise ValueError(f"energy {bad[0]} keV: energies must lie within {MIN_ENERGY_KEV}-{MAX_ENERGY_KEV} keV")


def _weighted_centroid(rays: Rays):
    focused = rays.fate == Fate.DOUBLE
    w = rays.weight[focused]
    if w.sum() <= 0:
        return None
    return float(np.sum(w * rays.x[focused]) / w.sum()), float(np.sum(w * rays.y[focused]) / w.sum())


def _radius_at(fraction: np.ndarray, edges_mm: np.ndarray, q: float) -> float:
    """Radius enclosing fraction q, interpolated in log r inside the bin where the curve crosses q."""
    if fraction[-1] <= 0:
        return math.nan
    k = int(np.searchsorted(fraction, q, side="left"))
    k = min(k, fraction.size - 1)
    below = fraction[k - 1] if k > 0 else 0.0
    lo, hi = edges_mm[k], edges_mm[min(k + 1, edges_mm.size - 1)]
    share = (q - below) / (fraction[k] - below) if fraction[k] > below else 1.0
    if lo <= 0:
        return hi * share
    return lo * (hi / lo) ** share


def encircled_table(fraction: np.ndarray, edges_mm: np.ndarray, mm_per_unit: float, unit: u.Unit,
                    max_rows: int = 400) -> Table:
    """Encircled fraction versus radius from cumulative radial bins, radius in `unit` (mm_per_unit mm each)."""
    upper = edges_mm[1:]
    last_bin = fraction.size - 1  # the overflow bin has no finite upper edge
    used = np.flatnonzero(np.diff(np.concatenate([[0.0], fraction[:last_bin]])) > 0)
    if used.size == 0:
        rows = np.empty(0, dtype=int)
    else:
        rows = np.arange(used[0], used[-1] + 1)
        rows = rows[spread_indices(rows.size, max_rows)]
    return Table(
        {"radius": upper[rows] / mm_per_unit * unit, "encircled_fraction": fraction[rows]},
    )


class _FocusedRays:
    """Running sums over the focused rays: radial histogram about a fixed centre (log-spaced bins,
    bin 0 for r = 0 and a last bin beyond RADIAL_MAX_MM), image and centroid sums.

    Bin numbers are computed in parallel over rays. The three sums are then filled side by side,
    each by one serial loop in ray order, so the result is the same for any thread count and chunk
    size. Scratch arrays are allocated once for chunks of up to `max_chunk` rays.
    """

    def __init__(self, centre_mm, pixel_mm: float, image_pixels: int, max_chunk: int):
        self.centre_mm = centre_mm
        self.pixel_mm = pixel_mm
        self.n_radial = int(round(math.log10(RADIAL_MAX_MM / RADIAL_MIN_MM) * RADIAL_BINS_PER_DECADE))
        self.radial = np.zeros(self.n_radial + 2)
        self.image = np.zeros((image_pixels, image_pixels))
        self.sums = np.zeros(3)  # sum w, sum w x, sum w y
        self._radial_bin = np.empty(max_chunk, np.int32)
        self._pixel = np.empty(max_chunk, np.int32)
        self._weight = np.empty(max_chunk)

    def add(self, rays: Rays) -> None:
        n = len(rays)
        radial_bin, pixel, weight = self._radial_bin[:n], self._pixel[:n], self._weight[:n]
        _psf_bins(rays.x, rays.y, rays.weight, rays.fate, self.centre_mm[0], self.centre_mm[1],
                  math.log(RADIAL_MIN_MM), RADIAL_BINS_PER_DECADE / math.log(10.0), self.n_radial, self.pixel_mm,
                  self.image.shape[0], radial_bin, pixel, weight)
        _psf_sums(radial_bin, pixel, weight, rays.x, rays.y, self.radial, self.image.reshape(-1), self.sums)

    def edges_mm(self) -> np.ndarray:
        return np.concatenate([[0.0], RADIAL_MIN_MM * 10.0 ** (np.arange(self.n_radial + 1) / RADIAL_BINS_PER_DECADE)])


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _psf_bins(x, y, weight, fate, cx, cy, ln_r_min, bins_per_e_fold, n_radial, pixel_mm, n_pix,
              radial_bin, pixel, focused):
    """Per ray: radial bin (0 at r = 0, n_radial + 1 beyond the last edge), image pixel
    (row * n_pix + col, or -1 outside the image) and weight if doubly reflected (else 0).

    Natural logarithms: libm's log is twice as fast as log10; the bins are the same."""
    half = 0.5 * n_pix
    for i in numba.prange(x.shape[0]):
        ddx = x[i] - cx
        ddy = y[i] - cy
        r2 = ddx * ddx + ddy * ddy
        if r2 <= 0.0:
            k = 0
        else:
            k = int(math.floor((0.5 * math.log(r2) - ln_r_min) * bins_per_e_fold)) + 1
            k = min(max(k, 0), n_radial + 1)
        radial_bin[i] = k
        col = math.floor(ddx / pixel_mm + half)
        row = math.floor(ddy / pixel_mm + half)
        pixel[i] = int(row) * n_pix + int(col) if 0 <= col < n_pix and 0 <= row < n_pix else -1
        focused[i] = weight[i] if fate[i] == _DOUBLE else 0.0


@numba.njit(cache=True, parallel=True)
def _psf_sums(radial_bin, pixel, focused, x, y, radial, flat_image, sums):
    n = radial_bin.shape[0]
    for task in numba.prange(3):
        if task == 0:
            for i in range(n):
                radial[radial_bin[i]] += focused[i]
        elif task == 1:
            for i in range(n):
                if pixel[i] >= 0:
                    flat_image[pixel[i]] += focused[i]
        else:
            for i in range(n):
                sums[0] += focused[i]
                sums[1] += focused[i] * x[i]
                sums[2] += focused[i] * y[i]
