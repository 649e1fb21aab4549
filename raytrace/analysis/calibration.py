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

import numpy as np
from astropy.table import Table
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


@dataclass(frozen=True)
class PsfFit:
    """A fit of slope errors (and of the surfaces' scattering) to measured encircled-energy curves: the calibrated
    optic, each fitted parameter with its 1-sigma uncertainty, chi^2 and degrees of freedom, and the residuals
    (energy, radius, measured and model encircled fraction)."""

    optic: Optic
    focal_plane_z_mm: float
    parameters: dict  # name: (value, uncertainty)
    chi2: float
    dof: int
    residuals: Table


PSF_PARAMETERS = ("core_scale", "wing_fraction", "wing_arcsec", "psd_index")
PSD_BAND_PER_UM = (0.01, 10.0)


def king_encircled(radius_arcsec, core_arcsec: float, index: float) -> np.ndarray:
    """Encircled fraction of a King profile [1 + (r / r_c)^2]^-index (index > 1) within radius r, normalised over
    the whole plane: 1 - (1 + (r / r_c)^2)^(1 - index)."""
    if not (core_arcsec > 0 and index > 1):
        raise CalibrationError(f"King profile r_c = {core_arcsec}, index = {index}: need r_c > 0 and index > 1")
    r = np.asarray(radius_arcsec, dtype=float)
    return 1.0 - (1.0 + (r / core_arcsec) ** 2) ** (1.0 - index)


def with_psf_parameters(optic: Optic, core_scale: float, wing_fraction: float, wing_arcsec: float,
                        psd_index: float | None = None, psd_band_per_um: tuple[float, float] = PSD_BAND_PER_UM) -> Optic:
    """The optic with the parameters `fit_psf` fits: every shell's core slope errors scaled so that the largest
    meridional rms is core_scale arcsec (the shells keep their ratios; shells without slope errors get an isotropic
    core), a wing of this share and rms (arcsec) on every shell, and with psd_index a power-law PSD over
    psd_band_per_um (1/um) on every coating stack."""
    from coatings import Stack, SurfaceScattering

    base = [s.slope_errors for s in optic.shells]
    largest = max(e.meridional_arcsec for e in base)
    ratios = [(1.0, 1.0) if largest == 0 else (e.meridional_arcsec / largest, e.sagittal_arcsec / largest)
              for e in base]
    built = optic.with_slope_errors([
        SlopeErrors(core_scale * m, core_scale * s_, float(wing_fraction), float(wing_arcsec)) for m, s_ in ratios])
    if psd_index is None:
        return built
    model = SurfaceScattering(float(psd_index), *psd_band_per_um)
    return dataclasses.replace(built, coatings=tuple(dataclasses.replace(c, scattering=model) if isinstance(c, Stack)
                                                     else c for c in built.coatings))


def fit_psf(optic: Optic, targets, ee_error: float = 0.01, scattering: bool = True,
            psd_band_per_um: tuple[float, float] = PSD_BAND_PER_UM, focal_plane_z_mm: float | None = None,
            beam: Source = ParallelBeam(), n_rays: int = 200_000, seed: int = 0, start=None) -> PsfFit:
    """Fit the optic's slope errors to measured encircled-energy curves, `targets` = [(energy_kev, radii_arcsec,
    fractions), ...], each fraction known to +-ee_error: the scale of the core slope errors (each shell keeps its
    ratios, as in `calibrate`), the share and rms (arcsec) of a broad wing, and with `scattering` the index of
    a power-law PSD over psd_band_per_um (1/um) for every coating stack, whose roughness sets the scattered flux
    (`coatings.SurfaceScattering`). The focal plane is fixed beforehand (default: the best focus at the first
    energy). scipy's least_squares (trust-region reflective, bounded) minimises chi^2 over traces with common random
    numbers; the uncertainties are from its Jacobian, (J^T J)^-1 scaled by chi^2 / dof. `start`: initial values
    in the order of PSF_PARAMETERS."""
    from scipy.optimize import least_squares

    from coatings import Stack

    targets = [(float(e), np.asarray(r, float), np.asarray(f, float)) for e, r, f in targets]
    for energy, radii, fractions in targets:
        if radii.shape != fractions.shape or radii.size == 0 or not np.all(radii > 0):
            raise CalibrationError(f"target at {energy:g} keV: need radii > 0 arcsec and one fraction per radius")
        if not np.all((fractions > 0) & (fractions < 1)):
            raise CalibrationError(f"target at {energy:g} keV: encircled fractions must lie in (0, 1)")
    if not ee_error > 0:
        raise CalibrationError(f"ee_error = {ee_error}: must be > 0")
    if scattering and not any(isinstance(c, Stack) for c in optic.coatings):
        raise CalibrationError(f"{optic.name}: no coating stack whose roughness could scatter")
    largest = max(s.slope_errors.meridional_arcsec for s in optic.shells)
    names = PSF_PARAMETERS if scattering else PSF_PARAMETERS[:3]
    low = np.array([0.0, 0.0, 1.0, 0.5][:len(names)])
    high = np.array([MAX_SLOPE_ERROR_ARCSEC, 0.5, MAX_SLOPE_ERROR_ARCSEC, 4.0][:len(names)])
    x0 = np.array(start if start is not None else [max(largest, 1.0), 0.05, 60.0, 1.5][:len(names)], float)
    if x0.shape != low.shape or not np.all((x0 >= low) & (x0 <= high)):
        raise CalibrationError(f"start = {start}: need {len(names)} values within {list(zip(low, high))}")
    if focal_plane_z_mm is None:
        focal_plane_z_mm = best_focus_z_mm(optic, beam.at_energy(targets[0][0]), n_rays, seed)

    def trial(x) -> Optic:
        return with_psf_parameters(optic, *x[:3], psd_index=x[3] if scattering else None,
                                   psd_band_per_um=psd_band_per_um)

    def model_fractions(x) -> list[np.ndarray]:
        built = trial(x)
        out = []
        for energy, radii, _ in targets:
            result = psf(built, energy, beam, n_rays, seed, focal_plane_z_mm=focal_plane_z_mm, image_pixels=1)
            r = np.asarray(result.encircled["radius"], float)
            out.append(np.interp(np.log(radii), np.log(r), np.asarray(result.encircled["encircled_fraction"], float)))
        return out

    def residuals(x):
        return np.concatenate([(m - f) / ee_error for m, (_, _, f) in zip(model_fractions(x), targets)])

    solution = least_squares(residuals, x0, bounds=(low, high), x_scale=high - low, diff_step=0.02)
    chi2 = float(np.sum(solution.fun**2))
    dof = max(solution.fun.size - len(names), 1)
    jtj = solution.jac.T @ solution.jac
    covariance = np.linalg.pinv(jtj) * max(chi2 / dof, 1.0)
    errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    fitted = model_fractions(solution.x)
    rows = [(e, r, f, m) for (e, radii, fractions), model in zip(targets, fitted)
            for r, f, m in zip(radii, fractions, model)]
    residual_table = Table(rows=rows, names=("energy", "radius", "measured_fraction", "model_fraction"))
    residual_table["energy"].unit, residual_table["radius"].unit = "keV", "arcsec"
    return PsfFit(trial(solution.x), focal_plane_z_mm,
                  {name: (float(v), float(s)) for name, v, s in zip(names, solution.x, errors)}, chi2, dof,
                  residual_table)
