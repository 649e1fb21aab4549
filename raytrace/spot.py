"""The focused solar-axion image, its spot area and the figures of merit of DESIGN.md section 7.

Definitions (all spectrum averages < > are over the solar-axion spectrum in the source's band):
- throughput eps_O(E) = A_eff(E) / A_bore, A_bore = the magnet bore's cross-section (70 cm diameter);
- the spot: the circle about the centroid of the focused signal (optics only) holding a fraction eta
  of it; by default the radius that maximises eta / sqrt(a) (signal-to-noise optimal over a flat
  background); the areas holding 50, 80 and 90 % are reported too;
- f_O = <eps_O> eta / sqrt(a),  f_D = <eps_D> / sqrt(b),  f_DO = <eps_D eps_O> eta / sqrt(b a),
  with a in cm2 and b in counts keV^-1 cm^-2 s^-1. The sensitivity to g_agamma scales as f_DO^(-1/2).
- expected counts: signal = exposure x efficiency x Phi_band(g) x P(g, B, L) x <A_eff eps_D>_in spot,
  with P = (g B L / 2)^2 in natural units (1 T = 195.35 eV^2, 1 m = 5.0677e6 eV^-1); the axion flux
  scales as g^2 too, so the signal as g^4. Background = b x a x (band width) x exposure x efficiency.

Rays are weighted by the aperture area they stand for times their two reflectivities, so sums over
the focused rays are spectrum-averaged effective areas directly (energies are drawn from the spectrum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table
from scipy.integrate import trapezoid

from geometries import Optic

from .analysis import PILOT_RAYS, _FocusedRays, _radius_at, encircled_table, run_metadata
from .detector import Detector
from .engine import DEFAULT_CHUNK_SIZE, BeamTrace, check_ray_count
from .rays import Fate
from .rng import seed_key
from .solar import SolarSource

BORE_DIAMETER_MM = 700.0
TESLA_IN_EV2 = 195.35
METRE_IN_INV_EV = 1.0 / 1.97326980e-7
FRACTIONS = (0.5, 0.8, 0.9)
IMAGE_PIXEL_MM = 0.1
IMAGE_PIXELS = 400


def conversion_probability(g_agamma_per_gev: float, field_tesla: float, length_m: float) -> float:
    """Axion-photon conversion probability in a vacuum magnet: (g B L / 2)^2 (coherent, m_a -> 0)."""
    g = g_agamma_per_gev * 1e-9  # eV^-1
    return (0.5 * g * field_tesla * TESLA_IN_EV2 * length_m * METRE_IN_INV_EV) ** 2


@dataclass(frozen=True)
class Magnet:
    field_tesla: float = 2.0
    length_m: float = 10.0
    bore_diameter_mm: float = BORE_DIAMETER_MM

    @property
    def bore_area_cm2(self) -> float:
        return math.pi * (self.bore_diameter_mm / 20.0) ** 2


@dataclass
class SpotResult:
    radius_mm: float  # the signal-to-noise optimal spot
    area_cm2: float
    eta: float
    areas_cm2: dict  # for 50, 80, 90 % of the signal
    centroid_mm: tuple[float, float]
    mean_effective_area_cm2: float  # <A_eff>
    mean_eps_o: float
    mean_eps_d: float
    mean_eps_do: float
    f_o: float
    f_d: float
    f_do: float
    opening_fraction: float  # of the focused (detected) signal inside the detector's central opening
    signal_counts: float
    background_counts: float
    image: np.ndarray
    pixel_mm: float
    encircled: Table
    meta: dict = field(default_factory=dict)

    def summary(self) -> dict:
        out = {name: float(getattr(self, name)) for name in (
            "radius_mm", "area_cm2", "eta", "mean_effective_area_cm2", "mean_eps_o", "mean_eps_d", "mean_eps_do",
            "f_o", "f_d", "f_do", "opening_fraction", "signal_counts", "background_counts")}
        out.update({f"area_{int(q * 100)}_cm2": float(a) for q, a in self.areas_cm2.items()})
        out["centroid_x_mm"], out["centroid_y_mm"] = (float(v) for v in self.centroid_mm)
        return out


def solar_spot(
    optic: Optic,
    source: SolarSource,
    detector: Detector,
    n_rays: int = 1_000_000,
    seed: int = 0,
    focal_plane_z_mm: float = 0.0,
    magnet: Magnet = Magnet(),
    g_agamma_per_gev: float = 1e-11,
    exposure_s: float = 1.0e7,
    efficiency: float = 1.0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress=None,
) -> SpotResult:
    """Trace the solar-axion source through the optic and score the focused image (module docstring)."""
    check_ray_count(n_rays)
    for name, value in (("g_agamma", g_agamma_per_gev), ("exposure", exposure_s), ("magnet field", magnet.field_tesla),
                        ("magnet length", magnet.length_m)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} = {value}: must be a number > 0")
    if not 0 < efficiency <= 1:
        raise ValueError(f"efficiency = {efficiency}: must lie in (0, 1]")
    trace = BeamTrace(optic, source, focal_plane_z_mm)
    nodes = source.energy_nodes()
    table = trace.reflectivity_table(nodes)
    detector_efficiency = detector.efficiency(nodes)

    pilot = trace.trace_range(seed_key(seed), 0, min(n_rays, PILOT_RAYS), n_rays, 0.0, table=table)
    focused = pilot.fate == Fate.DOUBLE
    centre = (0.0, 0.0)
    if pilot.weight[focused].sum() > 0:
        centre = tuple(float(np.average(v[focused], weights=pilot.weight[focused])) for v in (pilot.x, pilot.y))

    optics_only = _FocusedRays(centre, IMAGE_PIXEL_MM, IMAGE_PIXELS, min(chunk_size, n_rays))
    detected = _FocusedRays(centre, IMAGE_PIXEL_MM, 1, min(chunk_size, n_rays))
    opening_r2 = (0.5 * detector.opening_diameter_mm) ** 2
    in_opening = 0.0
    fates = np.zeros(len(Fate) + 1, dtype=np.int64)
    for rays in trace.chunks(n_rays, seed, chunk_size=chunk_size, table=table):
        optics_only.add(rays)
        rays.weight *= detector_efficiency[np.searchsorted(nodes, rays.energy_kev)]
        detected.add(rays)
        inside = (rays.fate == Fate.DOUBLE) & (rays.x**2 + rays.y**2 < opening_r2)
        in_opening += float(rays.weight[inside].sum())
        fates += rays.fate_counts()
        if progress is not None:
            progress(len(rays))

    edges_mm = optics_only.edges_mm()
    total_o, total_d = optics_only.sums[0], detected.sums[0]
    if total_o <= 0:
        raise ValueError(f"{optic.name}: no solar-axion photon reaches the focal plane")
    fraction = np.cumsum(optics_only.radial) / total_o
    upper = edges_mm[1:]  # outer edge of radial bins 0 .. n (the last bin, beyond the grid, has none)
    best = best_spot_index(upper, fraction[:-1])
    radius, eta = float(upper[best]), float(fraction[best])
    area_cm2 = math.pi * (radius / 10.0) ** 2
    areas = {q: math.pi * (_radius_at(fraction, edges_mm, q) / 10.0) ** 2 for q in FRACTIONS}
    detected_in_spot = float(np.sum(detected.radial[: best + 1]))

    mean_eps_d = _spectrum_mean(source, detector)
    bore = magnet.bore_area_cm2
    mean_eps_o, mean_eps_do = total_o / bore, total_d / bore
    b = detector.background_counts_kev_cm2_s
    g10 = g_agamma_per_gev / 1e-10
    rate = source.band_flux() * g10**2 * conversion_probability(g_agamma_per_gev, magnet.field_tesla, magnet.length_m)
    width_kev = source.e_max_kev - source.e_min_kev
    meta = run_metadata(optic, source, n_rays, seed, fates, focal_plane_z_mm=float(focal_plane_z_mm),
                        detector=detector.name, background_counts_kev_cm2_s=b,
                        opening_diameter_mm=detector.opening_diameter_mm, magnet_field_tesla=magnet.field_tesla,
                        magnet_length_m=magnet.length_m, bore_area_cm2=bore, g_agamma_per_gev=g_agamma_per_gev,
                        exposure_s=exposure_s, efficiency=efficiency)
    result = SpotResult(
        radius_mm=radius,
        area_cm2=area_cm2,
        eta=eta,
        areas_cm2=areas,
        centroid_mm=(optics_only.sums[1] / total_o, optics_only.sums[2] / total_o),
        mean_effective_area_cm2=total_o,
        mean_eps_o=mean_eps_o,
        mean_eps_d=mean_eps_d,
        mean_eps_do=mean_eps_do,
        f_o=mean_eps_o * eta / math.sqrt(area_cm2),
        f_d=mean_eps_d / math.sqrt(b),
        f_do=mean_eps_do * eta / math.sqrt(b * area_cm2),
        opening_fraction=in_opening / total_d if total_d > 0 else 0.0,
        signal_counts=exposure_s * efficiency * rate * detected_in_spot,
        background_counts=b * area_cm2 * width_kev * exposure_s * efficiency,
        image=optics_only.image,
        pixel_mm=IMAGE_PIXEL_MM,
        encircled=encircled_table(fraction, edges_mm, 1.0, u.mm),
        meta=meta,
    )
    result.encircled.meta.update(meta | result.summary())
    return result


def best_spot_index(radius: np.ndarray, cumulative: np.ndarray) -> int:
    """Index of the radius that maximises eta / sqrt(a), i.e. eta / r, given the encircled fraction there."""
    ratio = np.divide(cumulative, radius, out=np.zeros_like(cumulative), where=radius > 0)
    return int(np.argmax(ratio))


def _spectrum_mean(source: SolarSource, detector: Detector) -> float:
    """<eps_D> over the model spectrum in the band (trapezoidal rule on 1 eV steps)."""
    energy = np.linspace(source.e_min_kev, source.e_max_kev, int(round((source.e_max_kev - source.e_min_kev) * 1000)) + 1)
    weight = source.model.flux_density(energy)
    return float(trapezoid(weight * detector.efficiency(energy), energy) / trapezoid(weight, energy))
