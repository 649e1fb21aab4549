"""The PSF of the focused beam: HPD, W80, W90, encircled energy, centroid, image, and the best focus.

Angles are focal-plane distances divided by the image distance: the focal length for a source at
infinity, s' = f D / (D - f) for a source at distance D (the plate scale a test facility measures with).
The focal plane is by default the best focus (`best_focus_z_mm`), as on the command line; for a source at
a finite distance it lies near z = f - s', behind the nominal focus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table

from coatings import check_energies
from geometries import ARCSEC_PER_RAD, Optic
from geometries.optic import SlopeErrors

from ..engine import DEFAULT_CHUNK_SIZE, Fate, Rays, Source, Trace, check_ray_count
from ..engine.rng import seed_key
from ..sources import ParallelBeam
from ..sources.point import image_distance_mm
from .encircled import (
    PILOT_RAYS,
    FocusedImage,
    check_focused,
    encircled_table,
    focused_centroid,
    radial_edges_mm,
    radial_histogram,
    radius_at,
)

FOCUS_RAYS = 200_000  # at most this many rays find the best focus
MAX_IMAGE_PIXELS = 8192
# the default image holds at least 99 % of the focused flux: it holds the circle that encloses this share of the
# pilot rays' focused flux (the margin covers the pilot's statistics)
PILOT_IMAGE_SHARE = 0.995
PIXEL_STEPS_ARCSEC = tuple(m * 10.0**k for k in range(0, 5) for m in (0.5, 1.0, 2.0))  # 0.5, 1, 2, 5, ... 20000


@dataclass
class PsfResult:
    """PSF of the focused beam at one energy: widths in arcsec (diameters), centroid in mm, focused area in cm2,
    the encircled-energy table (radius in arcsec) and the image (cm2 per pixel of `pixel_arcsec`), which holds
    `image_fraction` of the focused flux."""

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
    image_fraction: float
    meta: dict = field(default_factory=dict)

    def summary(self) -> dict:
        names = (
            "hpd_arcsec",
            "w80_arcsec",
            "w90_arcsec",
            "centroid_x_mm",
            "centroid_y_mm",
            "effective_area_cm2",
            "image_fraction",
        )
        return {name: float(getattr(self, name)) for name in names}


def psf(
    optic: Optic,
    energy_kev: float,
    beam: Source = ParallelBeam(),
    n_rays: int = 1_000_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    focal_plane_z_mm: float | str = "best",
    pixel_arcsec: float | None = None,
    image_pixels: int = 256,
    progress=None,
    on_chunk=None,
) -> PsfResult:
    """Encircled energy, HPD, W80, W90, centroid and an image of the focused beam of a monochromatic source (a
    parallel beam or a point source at a finite distance; `beam.at_energy` gives it `energy_kev`).

    `focal_plane_z_mm` is a position on the axis in mm (0: the nominal focus) or "best" (default: the best
    focus of the optic without slope errors, from min(n_rays, 200000) rays). Radii are measured from a centre
    found on the first 65536 rays (fixed, so the result does not depend on the chunk size); the reported
    centroid uses all rays. The image has image_pixels x image_pixels pixels of `pixel_arcsec` about that centre;
    by default the pixel is the smallest of 0.5, 1, 2, 5, 10, ... arcsec with which the image holds at least 99 %
    of the focused flux (judged on those first rays; `image_fraction` says how much it holds). `progress`, if
    given, is called with the number of rays of each finished chunk, `on_chunk` (e.g. a photon list) with each
    traced chunk.
    """
    check_energies([energy_kev])
    check_ray_count(n_rays)
    if pixel_arcsec is not None and not (pixel_arcsec > 0 and math.isfinite(pixel_arcsec)):
        raise ValueError(f"pixel size = {pixel_arcsec} arcsec: must be > 0")
    if not 1 <= image_pixels <= MAX_IMAGE_PIXELS:
        raise ValueError(f"image size = {image_pixels} pixels: must be within 1-{MAX_IMAGE_PIXELS}")
    source = beam.at_energy(float(energy_kev))
    if focal_plane_z_mm == "best":
        focal_plane_z_mm = best_focus_z_mm(optic, source, min(n_rays, FOCUS_RAYS), seed)
    trace = Trace(optic, source, focal_plane_z_mm)
    table = trace.reflectivity_table()

    pilot = trace.trace_range(seed_key(seed), 0, min(n_rays, PILOT_RAYS), n_rays, table=table)
    image_mm = image_distance_mm(optic.focal_length_mm, source.distance_m)
    centre = focused_centroid(pilot)
    if centre is None:
        offset, azimuth = source.pointing_rad
        shift = image_mm * math.tan(offset)
        centre = (-shift * math.cos(azimuth), -shift * math.sin(azimuth))

    mm_per_arcsec = image_mm / ARCSEC_PER_RAD
    if pixel_arcsec is None:
        pixel_arcsec = _holding_pixel_arcsec(pilot, centre, mm_per_arcsec, image_pixels)
    focused = FocusedImage(centre, pixel_arcsec * mm_per_arcsec, image_pixels, min(chunk_size, n_rays))
    run = trace.run(n_rays, seed, chunk_size, table, progress, on_chunk)
    for rays in run:
        focused.add(rays)

    check_focused(int(run.fates[Fate.DOUBLE]), f"{optic.name}: PSF at {energy_kev:g} keV")
    edges_mm = radial_edges_mm()
    fraction = focused.cumulative_fraction()
    widths = [2.0 * radius_at(fraction, edges_mm, q) / mm_per_arcsec for q in (0.5, 0.8, 0.9)]
    meta = trace.metadata(n_rays, seed, run.fates, image_distance_mm=image_mm)
    centroid = focused.centroid_mm()
    result = PsfResult(
        hpd_arcsec=widths[0],
        w80_arcsec=widths[1],
        w90_arcsec=widths[2],
        centroid_x_mm=centroid[0],
        centroid_y_mm=centroid[1],
        effective_area_cm2=focused.total,
        encircled=encircled_table(fraction, edges_mm, mm_per_arcsec, u.arcsec),
        image=focused.image,
        pixel_arcsec=pixel_arcsec,
        image_center_mm=(float(centre[0]), float(centre[1])),
        image_fraction=float(focused.image.sum() / focused.total),
        meta=meta,
    )
    result.encircled.meta.update(meta | result.summary())
    return result


def _holding_pixel_arcsec(pilot: Rays, centre, mm_per_arcsec: float, image_pixels: int) -> float:
    """The smallest of PIXEL_STEPS_ARCSEC with which the image holds the circle that encloses PILOT_IMAGE_SHARE of
    the pilot rays' focused flux (the largest step if none does, the smallest if they focus nothing)."""
    focused = pilot.fate == Fate.DOUBLE
    if not pilot.weight[focused].sum() > 0:
        return PIXEL_STEPS_ARCSEC[0]
    radial = radial_histogram(pilot.x[focused], pilot.y[focused], pilot.weight[focused], centre)
    radius_arcsec = radius_at(np.cumsum(radial) / radial.sum(), radial_edges_mm(), PILOT_IMAGE_SHARE) / mm_per_arcsec
    return next(
        (step for step in PIXEL_STEPS_ARCSEC if step * image_pixels / 2 >= radius_arcsec), PIXEL_STEPS_ARCSEC[-1]
    )


def best_focus_z_mm(
    optic: Optic, source: Source, n_rays: int = FOCUS_RAYS, seed: int = 0, search_mm: float | None = None
) -> float:
    """The focal-plane position z (mm) where the HPD of the focused beam of the ideal optic is smallest.

    `source` must have energies (a beam with an energy, or a spectrum). Slope errors are left out: they
    blur the image about this plane, and with them the minimum would wander with the random draws. The
    focused rays of one trace are straight lines below the optic, so their crossing with any plane follows
    from their positions and directions at z = 0; the HPD (weighted median distance from the weighted
    centroid) is minimised over z within +-search_mm (default 2 % of the image distance s') of the paraxial
    image z = f - s', first on a grid and then by bounded Brent. A true Wolter-I optic on axis with a source at
    infinity has it at 0; a conical one behind it.
    """
    from scipy.optimize import minimize_scalar

    check_energies(source.energy_nodes())
    check_ray_count(n_rays)
    trace = Trace(optic.with_slope_errors(SlopeErrors()), source)
    rays = trace.trace_range(seed_key(seed), 0, n_rays, n_rays, table=trace.reflectivity_table())
    focused = (rays.fate == Fate.DOUBLE) & (rays.weight > 0)
    if focused.any():
        check_focused(int(focused.sum()), f"{optic.name}: best focus")
    else:
        hint = ""
        if math.isfinite(source.distance_m):
            hint = (
                f" (a Wolter-I optic focuses a source only beyond about 4 f = "
                f"{4 * optic.focal_length_mm / 1000:g} m: nearer, the diverging rays leave the primary too steeply "
                "for the secondary)"
            )
        raise ValueError(f"{optic.name}: no focused rays from {source.describe()}, so there is no best focus{hint}")
    x, y, w = rays.x[focused], rays.y[focused], rays.weight[focused]
    slope_x, slope_y = rays.dx[focused] / rays.dz[focused], rays.dy[focused] / rays.dz[focused]
    image_mm = image_distance_mm(optic.focal_length_mm, source.distance_m)
    nominal = optic.focal_length_mm - image_mm
    half_range = 0.02 * image_mm if search_mm is None else search_mm
    z_max = min(nominal + half_range, 0.5 * trace.packed.lowest_exit_z_mm)

    def half_power_radius(z):
        px, py = x + z * slope_x, y + z * slope_y
        cx, cy = np.average(px, weights=w), np.average(py, weights=w)
        r = np.hypot(px - cx, py - cy)
        order = np.argsort(r)
        cumulative = np.cumsum(w[order])
        return float(r[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])

    grid = np.linspace(nominal - half_range, z_max, 41)
    k = int(np.argmin([half_power_radius(z) for z in grid]))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    best = minimize_scalar(half_power_radius, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3})
    return float(best.x)
