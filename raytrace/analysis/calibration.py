"""Calibration of an optic to measurements: slope errors that reproduce a measured HPD (and optionally W90) at one
energy (`calibrate`), and a least-squares fit of slope errors, surface scattering, obscuration and roughness to
measured encircled-energy curves and on-axis areas at several energies (`fit_psf`).

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

from ..defaults import PSD_BAND_PER_UM
from ..defaults import WING_FRACTION as DEFAULT_WING_FRACTION
from ..engine import Source
from ..errors import InputError
from ..sources import ParallelBeam
from .psf import FOCUS_RAYS, best_focus_z_mm, psf

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
        base = [
            dataclasses.replace(
                e,
                meridional_arcsec=e.meridional_arcsec / largest,
                sagittal_arcsec=e.sagittal_arcsec / largest,
                wing_arcsec=e.wing_arcsec / largest,
            )
            for e in base
        ]
    if w90_arcsec is not None:
        fraction = wing_fraction or max((e.wing_fraction for e in base), default=0.0) or DEFAULT_WING_FRACTION
        base = [dataclasses.replace(e, wing_fraction=fraction) for e in base]
    if focal_plane_z_mm is None:
        focal_plane_z_mm = best_focus_z_mm(optic, beam.at_energy(energy_kev), min(n_rays, FOCUS_RAYS), seed)

    @functools.cache  # brentq and the checks below ask again for points already traced
    def widths(core, wing):
        trial = optic.with_slope_errors(
            [
                dataclasses.replace(
                    e,
                    meridional_arcsec=core * e.meridional_arcsec,
                    sagittal_arcsec=core * e.sagittal_arcsec,
                    wing_arcsec=wing if w90_arcsec is not None else e.wing_arcsec * core,
                )
                for e in base
            ]
        )
        result = psf(trial, energy_kev, beam, n_rays, seed, focal_plane_z_mm=focal_plane_z_mm, image_pixels=1)
        return trial, result.hpd_arcsec, result.w90_arcsec

    _, hpd0, w900 = widths(0.0, 0.0)
    if not hpd0 < hpd_arcsec:
        raise CalibrationError(
            f"{optic.name}: without slope errors the HPD is already {hpd0:.4g} arcsec at z = "
            f"{focal_plane_z_mm:.2f} mm, "
            f"not below the target {hpd_arcsec:g} arcsec"
        )
    # the core scale at which the widest component (the wing too, when it scales with the core) reaches the limit
    core_limit = MAX_SLOPE_ERROR_ARCSEC / max(
        max(e.meridional_arcsec, e.sagittal_arcsec, e.wing_arcsec if w90_arcsec is None else 0.0) for e in base
    )

    def solve(function, target, limit, what):
        if function(0.0) >= target:
            raise CalibrationError(
                f"{what}: already {function(0.0):.4g} arcsec without this component, above {target:g}"
            )
        upper = min(target, limit)
        while function(upper) < target:
            if upper >= limit:
                raise CalibrationError(
                    f"target {what} = {target:g} arcsec: the widest slope errors allowed ({MAX_SLOPE_ERROR_ARCSEC:g} "
                    f"arcsec rms) give only {function(limit):.4g} arcsec"
                )
            upper = min(2 * upper, limit)
        return brentq(lambda v: function(v) - target, 0.0, upper, rtol=RELATIVE_TOLERANCE)

    wing = 0.0
    core = solve(lambda k: widths(k, wing)[1], hpd_arcsec, core_limit, "HPD")
    if w90_arcsec is not None:
        if widths(core, 0.0)[2] > w90_arcsec:
            raise CalibrationError(
                f"target W90 = {w90_arcsec:g} arcsec: the core that gives the HPD already "
                f"makes W90 wider ({widths(core, 0.0)[2]:.4g} arcsec)"
            )
        for _ in range(MAX_ROUNDS):
            wing = solve(lambda v: widths(core, v)[2], w90_arcsec, MAX_SLOPE_ERROR_ARCSEC, "W90 (wing rms)")
            core = solve(lambda k: widths(k, wing)[1], hpd_arcsec, core_limit, "HPD")
            if abs(widths(core, wing)[2] / w90_arcsec - 1) < 10 * RELATIVE_TOLERANCE:
                break
    calibrated, hpd, w90 = widths(core, wing)
    return Calibration(calibrated, focal_plane_z_mm, hpd, w90, hpd0, w900)


@dataclass(frozen=True)
class PsfFit:
    """A fit of an optic to measured encircled-energy curves and on-axis areas: the calibrated optic, each fitted
    parameter with its 1-sigma uncertainty, chi^2 and degrees of freedom, and the residuals (`residuals`: energy,
    radius, measured and model encircled fraction; `area_residuals`: energy, measured and model area)."""

    optic: Optic
    focal_plane_z_mm: float
    parameters: dict  # name: (value, uncertainty)
    chi2: float
    dof: int
    residuals: Table
    area_residuals: Table


# name: (lower bound, upper bound, start when the optic gives none)
PARAMETER_BOUNDS = {
    "core_scale": (0.0, MAX_SLOPE_ERROR_ARCSEC, 1.0),
    "wing_fraction": (0.0, 0.5, 0.05),
    "wing_arcsec": (1.0, MAX_SLOPE_ERROR_ARCSEC, 60.0),
    "psd_index": (0.5, 4.0, 1.5),
    "spider_width": (0.0, None, 0.0),  # the upper bound is the widest the spider allows
    "roughness_nm": (0.0, 3.0, 0.4),
}


def king_encircled(radius_arcsec, core_arcsec: float, index: float) -> np.ndarray:
    """Encircled fraction of a King profile [1 + (r / r_c)^2]^-index (index > 1) within radius r, normalised over
    the whole plane: 1 - (1 + (r / r_c)^2)^(1 - index)."""
    if not (core_arcsec > 0 and index > 1):
        raise CalibrationError(f"King profile r_c = {core_arcsec}, index = {index}: need r_c > 0 and index > 1")
    r = np.asarray(radius_arcsec, dtype=float)
    return 1.0 - (1.0 + (r / core_arcsec) ** 2) ** (1.0 - index)


def with_parameters(optic: Optic, values: dict, psd_band_per_um: tuple[float, float] = PSD_BAND_PER_UM) -> Optic:
    """The optic with the parameters `fit_psf` fits (any of PARAMETER_BOUNDS' names):
    - core_scale: every shell's core slope errors scaled so that the largest meridional rms is core_scale arcsec
      (the shells keep their ratios; shells without slope errors get an isotropic core);
    - wing_fraction, wing_arcsec: a broad wing of this share and rms (arcsec) on every shell;
    - psd_index: a power-law PSD over psd_band_per_um (1/um) on every coating stack (a stack's own band rms kept);
    - spider_width: the spider's spoke width, in its own unit (degrees of a wedge, or mm of a bar);
    - roughness_nm: every interface's roughness in every coating stack."""
    from coatings import Stack, SurfaceScattering

    if "core_scale" in values or "wing_fraction" in values or "wing_arcsec" in values:
        base = [s.slope_errors for s in optic.shells]
        largest = max(e.meridional_arcsec for e in base)
        scale = values.get("core_scale", largest)
        errors = []
        for e in base:
            m, s_ = (1.0, 1.0) if largest == 0 else (e.meridional_arcsec / largest, e.sagittal_arcsec / largest)
            errors.append(
                SlopeErrors(
                    scale * m,
                    scale * s_,
                    float(values.get("wing_fraction", e.wing_fraction)),
                    float(values.get("wing_arcsec", e.wing_arcsec)),
                )
            )
        optic = optic.with_slope_errors(errors)
    if "spider_width" in values:
        field = "spoke_width_deg" if optic.spider.spoke_width_deg > 0 else "spoke_width_mm"
        optic = optic.with_spider(dataclasses.replace(optic.spider, **{field: float(values["spider_width"])}))
    coatings = optic.coatings
    if "roughness_nm" in values:
        coatings = tuple(
            c.with_roughness(float(values["roughness_nm"])) if isinstance(c, Stack) else c for c in coatings
        )
    if "psd_index" in values:
        coatings = tuple(
            dataclasses.replace(
                c,
                scattering=SurfaceScattering(
                    float(values["psd_index"]), *psd_band_per_um, c.scattering.roughness_nm if c.scattering else None
                ),
            )
            if isinstance(c, Stack)
            else c
            for c in coatings
        )
    return dataclasses.replace(optic, coatings=coatings)


def fit_psf(
    optic: Optic,
    targets=(),
    areas=(),
    ee_error: float = 0.01,
    area_radius_arcsec: float = math.inf,
    normalise_arcsec: float = math.inf,
    scattering: bool = True,
    psd_band_per_um: tuple[float, float] = PSD_BAND_PER_UM,
    focal_plane_z_mm: float | None = None,
    beam: Source = ParallelBeam(),
    n_rays: int = 200_000,
    seed: int = 0,
    start: dict | None = None,
    fixed: dict | None = None,
) -> PsfFit:
    """Fit an optic to measured encircled-energy curves and on-axis effective areas.

    targets = [(energy_kev, radii_arcsec, fractions), ...], each fraction known to +-ee_error and of the flux within
    normalise_arcsec (inf: all the focused flux; in-orbit tables are often normalised at 5 arcmin, and the model's
    fractions are then formed the same way); they fit the core slope errors, a broad wing (share and rms) and, with
    `scattering`, the PSD index of the coating stacks (`with_parameters`). areas = [(energy_kev, area_cm2, error_cm2),
    ...], the area collected within area_radius_arcsec of the image centre; they fit the spider's spoke width (the
    obscuration: the same at every energy) and the stacks' roughness (which grows with energy). Model areas and curves
    come from the same traces (`psf`, common random numbers). The focal plane is fixed beforehand (default: the best
    focus at the first energy). scipy's least_squares (trust-region reflective, bounded) minimises chi^2; the
    uncertainties are from its Jacobian, (J^T J)^-1 scaled by chi^2 / dof when that exceeds 1. `start`: initial values
    by name; `fixed`: parameters held at these values (by name), e.g. the wing's share when only two widths are
    measured."""
    from scipy.optimize import least_squares

    from coatings import Stack

    targets = [(float(e), np.asarray(r, float), np.asarray(f, float)) for e, r, f in targets]
    areas = [(float(e), float(a), float(s_)) for e, a, s_ in areas]
    if not targets and not areas:
        raise CalibrationError("nothing to fit: give encircled-energy curves, on-axis areas or both")
    for energy, radii, fractions in targets:
        if radii.shape != fractions.shape or radii.size == 0 or not np.all(radii > 0):
            raise CalibrationError(f"target at {energy:g} keV: need radii > 0 arcsec and one fraction per radius")
        if not np.all((fractions > 0) & (fractions < 1)):
            raise CalibrationError(f"target at {energy:g} keV: encircled fractions must lie in (0, 1)")
    for energy, area, error in areas:
        if not (area > 0 and error > 0):
            raise CalibrationError(f"area at {energy:g} keV: need an area and an error > 0 cm2")
    if not ee_error > 0:
        raise InputError("ee_error", ee_error, "must be > 0")
    for name, radius in (("area_radius_arcsec", area_radius_arcsec), ("normalise_arcsec", normalise_arcsec)):
        if not radius > 0:
            raise InputError(name, radius, "must be a radius > 0 arcsec")
    has_stacks = any(isinstance(c, Stack) for c in optic.coatings)
    names = []
    if targets:
        names += ["core_scale", "wing_fraction", "wing_arcsec"] + (["psd_index"] if scattering and has_stacks else [])
    if areas:
        if optic.spider is None:
            raise CalibrationError(f"{optic.name}: areas fit the spider's width as the obscuration, and it has none")
        names += ["spider_width"] + (["roughness_nm"] if has_stacks else [])
    fixed = dict(fixed or {})
    unknown = [n for n in fixed if n not in PARAMETER_BOUNDS]
    if unknown:
        raise InputError("fixed", unknown[0], f"the fitted parameters are {', '.join(PARAMETER_BOUNDS)}")
    for name, value in fixed.items():
        if name == "spider_width" and optic.spider is None:
            raise CalibrationError(f"fixed spider_width: {optic.name} has no spider")
        if not PARAMETER_BOUNDS[name][0] <= value <= _upper_bound(optic, name):
            raise CalibrationError(
                f"fixed {name} = {value:g}: must lie within {PARAMETER_BOUNDS[name][0]:g}-{_upper_bound(optic, name):g}"
            )
    names = [n for n in names if n not in fixed]
    if not names:
        raise CalibrationError("every parameter is fixed: nothing left to fit")
    low = np.array([PARAMETER_BOUNDS[n][0] for n in names])
    high = np.array([_upper_bound(optic, n) for n in names])
    x0 = np.array([(start or {}).get(n, _current(optic, n)) for n in names], float)
    x0 = np.clip(x0, low, high)
    if focal_plane_z_mm is None:
        focal_plane_z_mm = best_focus_z_mm(
            optic, beam.at_energy((targets or areas)[0][0]), min(n_rays, FOCUS_RAYS), seed
        )
    energies = sorted({e for e, *_ in targets} | {e for e, *_ in areas})

    def trial(x) -> Optic:
        return with_parameters(optic, fixed | dict(zip(names, x)), psd_band_per_um)

    def models(x):
        built = trial(x)
        traced = {}
        for energy in energies:
            result = psf(built, energy, beam, n_rays, seed, focal_plane_z_mm=focal_plane_z_mm, image_pixels=1)
            r = np.asarray(result.encircled["radius"], float)
            f = np.asarray(result.encircled["encircled_fraction"], float)
            traced[energy] = (r, f, result.effective_area_cm2)

        def within(energy, radii):
            r, f, _ = traced[energy]
            return np.where(np.isinf(radii), 1.0, np.interp(np.log(radii), np.log(r), f))

        curves = [within(e, radii) / within(e, normalise_arcsec) for e, radii, _ in targets]
        collected = [float(traced[e][2] * within(e, area_radius_arcsec)) for e, *_ in areas]
        return curves, collected

    def residuals(x):
        curves, collected = models(x)
        return np.concatenate(
            [(m - f) / ee_error for m, (_, _, f) in zip(curves, targets)]
            + [np.array([(m - a) / s_ for m, (_, a, s_) in zip(collected, areas)])]
        )

    solution = least_squares(residuals, x0, bounds=(low, high), x_scale=high - low, diff_step=0.02)
    chi2 = float(np.sum(solution.fun**2))
    dof = solution.fun.size - len(names)  # 0 when the data fix the parameters exactly (two areas, two parameters)
    covariance = np.linalg.pinv(solution.jac.T @ solution.jac) * max(chi2 / max(dof, 1), 1.0)
    errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    curves, collected = models(solution.x)
    residual_table = Table(
        rows=[
            (e, r, f, m)
            for (e, radii, fractions), model in zip(targets, curves)
            for r, f, m in zip(radii, fractions, model)
        ]
        or None,
        names=("energy", "radius", "measured_fraction", "model_fraction"),
        dtype=(float, float, float, float),
    )
    residual_table["energy"].unit, residual_table["radius"].unit = "keV", "arcsec"
    area_table = Table(
        rows=[(e, a, s_, m) for (e, a, s_), m in zip(areas, collected)] or None,
        names=("energy", "measured_area", "measured_error", "model_area"),
        dtype=(float, float, float, float),
    )
    area_table["energy"].unit = "keV"
    for name in ("measured_area", "measured_error", "model_area"):
        area_table[name].unit = "cm2"
    return PsfFit(
        trial(solution.x),
        focal_plane_z_mm,
        {name: (float(v), float(s_)) for name, v, s_ in zip(names, solution.x, errors)},
        chi2,
        dof,
        residual_table,
        area_table,
    )


def _current(optic: Optic, name: str) -> float:
    """The optic's own value of a fitted parameter, to start from (the default start where it has none)."""
    from coatings import Stack

    errors = [s.slope_errors for s in optic.shells]
    stacks = [c for c in optic.coatings if isinstance(c, Stack)]
    value = {
        "core_scale": max(e.meridional_arcsec for e in errors),
        "wing_fraction": max(e.wing_fraction for e in errors),
        "wing_arcsec": max(e.wing_arcsec for e in errors),
        "psd_index": next((c.scattering.psd_index for c in stacks if c.scattering is not None), 0.0),
        "spider_width": (0.0 if optic.spider is None else optic.spider.spoke_width_deg or optic.spider.spoke_width_mm),
        "roughness_nm": stacks[0].substrate_roughness_nm if stacks else 0.0,
    }[name]
    return value if value > 0 else PARAMETER_BOUNDS[name][2]


def _upper_bound(optic: Optic, name: str) -> float:
    if name != "spider_width":
        return PARAMETER_BOUNDS[name][1]
    spider = optic.spider
    return 0.5 * 360.0 / spider.n_spokes if spider.spoke_width_deg > 0 else 50.0
