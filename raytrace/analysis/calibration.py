"""Slope errors that reproduce a measured PSF: HPD (and optionally W90) at one energy.

Every shell keeps the ratios of its slope errors (between technologies, and sagittal to
meridional); one common factor scales the core. A shell without any slope error gets an
isotropic core (sagittal = meridional). With a W90 target, the wing rms is fitted too, at a
fixed wing fraction. Each evaluation traces the same rays (same seed: common random numbers),
so the PSF widths are smooth monotonic functions of the parameters and Brent's method finds
the root. The focal plane is fixed beforehand (default: the best focus, `best_focus_z_mm`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from scipy.optimize import brentq

from geometries import Optic
from geometries.optic import MAX_SLOPE_ERROR_ARCSEC, SlopeErrors

from ..defaults import WING_FRACTION as DEFAULT_WING_FRACTION
from ..engine import Source
from ..sources import ParallelBeam
from .psf import best_focus_z_mm, psf

RELATIVE_TOLERANCE = 1e-3
MAX_ROUNDS = 8


class CalibrationError(ValueError):
    """The target cannot be reached by slope errors alone."""


@dataclass(frozen=True)
class Calibration:
    optic: Optic  # the input optic with the calibrated slope errors
    focal_plane_z_mm: float
    hpd_arcsec: float  # achieved
    w90_arcsec: float
    geometric_hpd_arcsec: float  # without slope errors
    geometric_w90_arcsec: float


def calibrate(
    optic: Optic,
    energy_kev: float,
    hpd_arcsec: float,
    w90_arcsec: float | None = None,
    wing_fraction: float | None = None,
    focal_plane_z_mm: float | None = None,
    beam: Source = ParallelBeam(),
    n_rays: int = 200_000,
    seed: int = 0,
) -> Calibration:
    """Slope errors giving the target HPD (and W90) in arcsec at `energy_kev` (keV) in the given focal plane
    (mm on the axis; None: the best focus)."""
    for name, value in (("HPD", hpd_arcsec), ("W90", w90_arcsec)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise CalibrationError(f"target {name} = {value} arcsec: must be a number > 0")
    if w90_arcsec is not None and w90_arcsec <= hpd_arcsec:
        raise CalibrationError(f"target W90 = {w90_arcsec} arcsec: must exceed the HPD ({hpd_arcsec} arcsec)")
    if wing_fraction is not None and not 0 < wing_fraction < 0.5:
        raise CalibrationError(f"wing fraction = {wing_fraction}: must lie in (0, 0.5)")
    base = [s.slope_errors for s in optic.shells]
    largest = max(e.meridional_arcsec for e in base)
    if largest == 0:
        base = [SlopeErrors(1.0, 1.0) for _ in base]
    else:
        base = [dataclasses.replace(e, meridional_arcsec=e.meridional_arcsec / largest,
                                    sagittal_arcsec=e.sagittal_arcsec / largest, wing_arcsec=e.wing_arcsec / largest)
                for e in base]
    if w90_arcsec is not None:
        fraction = wing_fraction or max((e.wing_fraction for e in base), default=0.0) or DEFAULT_WING_FRACTION
        base = [dataclasses.replace(e, wing_fraction=fraction) for e in base]
    if focal_plane_z_mm is None:
        focal_plane_z_mm = best_focus_z_mm(optic, beam.at_energy(energy_kev), n_rays, seed)

    @functools.cache  # brentq and the checks below ask again for points already traced
    def widths(core, wing):
        trial = optic.with_slope_errors([
            dataclasses.replace(e, meridional_arcsec=core * e.meridional_arcsec, sagittal_arcsec=core * e.sagittal_arcsec,
                                wing_arcsec=wing if w90_arcsec is not None else e.wing_arcsec * core)
            for e in base])
        result = psf(trial, energy_kev, beam, n_rays, seed, focal_plane_z_mm=focal_plane_z_mm, image_pixels=1)
        return trial, result.hpd_arcsec, result.w90_arcsec

    _, hpd0, w900 = widths(0.0, 0.0)
    if not hpd0 < hpd_arcsec:
        raise CalibrationError(
            f"{optic.name}: without slope errors the HPD is already {hpd0:.4g} arcsec at z = {focal_plane_z_mm:.2f} mm, "
            f"not below the target {hpd_arcsec:g} arcsec")
    core_limit = MAX_SLOPE_ERROR_ARCSEC / max(max(e.meridional_arcsec, e.sagittal_arcsec) for e in base)

    def solve(function, target, limit, what):
        if function(0.0) >= target:
            raise CalibrationError(f"{what}: already {function(0.0):.4g} arcsec without this component, above {target:g}")
        upper = min(target, limit)
        while function(upper) < target:
            if upper >= limit:
                raise CalibrationError(f"{what}: even {limit:.4g} arcsec does not reach {target:g} arcsec")
            upper = min(2 * upper, limit)
        return brentq(lambda v: function(v) - target, 0.0, upper, rtol=RELATIVE_TOLERANCE)

    wing = 0.0
    core = solve(lambda k: widths(k, wing)[1], hpd_arcsec, core_limit, "HPD")
    if w90_arcsec is not None:
        if widths(core, 0.0)[2] > w90_arcsec:
            raise CalibrationError(f"target W90 = {w90_arcsec:g} arcsec: the core that gives the HPD already "
                                   f"makes W90 wider ({widths(core, 0.0)[2]:.4g} arcsec)")
        for _ in range(MAX_ROUNDS):
            wing = solve(lambda v: widths(core, v)[2], w90_arcsec, MAX_SLOPE_ERROR_ARCSEC, "W90 (wing rms)")
            core = solve(lambda k: widths(k, wing)[1], hpd_arcsec, core_limit, "HPD")
            if abs(widths(core, wing)[2] / w90_arcsec - 1) < 10 * RELATIVE_TOLERANCE:
                break
    calibrated, hpd, w90 = widths(core, wing)
    return Calibration(calibrated, focal_plane_z_mm, hpd, w90, hpd0, w900)
