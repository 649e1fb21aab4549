"""Solar axions converted to X-rays in the magnet: the spectrum, where on the solar disc they come from,
and the photon directions they give at the optic.

A model is a Primakoff spectrum dPhi/dE = a E^b exp(-E / c) (cm^-2 s^-1 keV^-1 at Earth, E in keV, for
g_agamma = 1e-10 GeV^-1; the flux scales with g10^2) and the energy-dependent radial profile of the
emission as seen on the disc: the fraction of the flux at energy E inside projected radius rho (in
units of the solar radius) is a Weibull distribution

    F(rho; E) = 1 - exp(-(rho / lambda(E))^k(E)),
    ln lambda(E) = polynomial in ln E,   k(E) = polynomial in ln E (cubics),

truncated at the limb (rho = 1). `fit_model` derives all coefficients from a published table of 100 rings x 200 energy
bins (the format of rest-for-physics/axionlib-data `solarFlux/*.dat`): the spectrum by least squares on the
disc-integrated flux between 0.5 and 12 keV (Poisson-like weights); at each 0.1 keV bin from 0.5 to 15 keV the Weibull
parameters that reproduce the radii holding 50 and 90 % of the flux (interpolated in the cumulative ring fractions): k =
ln(ln 10 / ln 2) / ln(r90 / r50), lambda = r50 / (ln 2)^(1/k); then the cubics in ln E by least squares. (Matching these
two radii describes the profile better than a least-squares fit of the whole cumulative, which misses the median by 3 %
at 1 keV: the profile is not exactly Weibull, its cumulative is within 0.015 of it.) The shipped coefficients below are
its output; the tables are not shipped (tests refit them when ../shared/reference is present).

Energy and radius are sampled jointly: E by the exact inverse of the spectrum's cumulative (a
regularised incomplete gamma function) within the band, then rho from F(rho; E) by its inverse.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import gammainc, gammaincinv

from coatings.threads import split_over_threads

from ..defaults import SOLAR_MODEL as DEFAULT_MODEL
from ..engine.aperture import EntranceChannels
from ..engine.rays import Rays
from ..engine.rng import stream_key, uniform_array
from ..engine.source import tilted_pointing
from .bore import Bore

# Sun's angular radius at 1 AU (959.64 arcsec: R_sun = 696000 km seen from 1 au; the classical 959.63).
SUN_RADIUS_KM = 696_000.0
AU_KM = 149_597_870.7
FIT_SPECTRUM_BAND_KEV = (0.5, 12.0)
FIT_PROFILE_BAND_KEV = (0.5, 15.0)
SOURCE_STREAM = 1  # the source's draws use their own counter stream, apart from the trace's
ENERGY_BIN_KEV = 0.05
MAX_OFFSET_RAD = math.radians(1.0)


@dataclass(frozen=True)
class SolarAxionModel:
    """A Primakoff solar-axion model: spectrum coefficients (a, b, c) and the radial-profile cubics."""

    name: str
    reference: str
    spectrum_abc: tuple[float, float, float]
    log_lambda_poly: tuple[float, ...]  # numpy.polyval order, in ln(E / keV)
    k_poly: tuple[float, ...]

    coupling = "g_agamma"  # the flux scales with its square
    reference_coupling = 1e-10  # GeV^-1, the coupling the coefficients are given for

    def flux_scale(self, g_agamma_per_gev: float, g_ae: float) -> float:
        """The flux at these couplings over the model's: (g_agamma / 1e-10 GeV^-1)^2."""
        return (g_agamma_per_gev / self.reference_coupling) ** 2

    def mean(self, function, e_min_kev: float, e_max_kev: float) -> float:
        """The spectrum-weighted mean of function(E) over the band (trapezoidal rule on 1 eV steps)."""
        n = int(round((e_max_kev - e_min_kev) * 1000)) + 1
        energy = np.linspace(e_min_kev, e_max_kev, n)
        weight = self.flux_density(energy)
        return float(np.trapezoid(weight * function(energy), energy) / np.trapezoid(weight, energy))

    def flux_density(self, energy_kev) -> np.ndarray:
        """dPhi/dE in cm^-2 s^-1 keV^-1 for g_agamma = 1e-10 GeV^-1."""
        a, b, c = self.spectrum_abc
        e = np.asarray(energy_kev, dtype=float)
        return a * e**b * np.exp(-e / c)

    def flux(self, e_min_kev: float = 0.0, e_max_kev: float = np.inf) -> float:
        """Integrated flux (cm^-2 s^-1) between two energies, for g_agamma = 1e-10 GeV^-1: a c^(b+1) Gamma(b+1) x
        the difference of the regularised incomplete gamma function."""
        a, b, c = self.spectrum_abc
        return a * c ** (b + 1) * math.gamma(b + 1) * float(self._cdf(e_max_kev) - self._cdf(e_min_kev))

    def radial_parameters(self, energy_kev):
        """(lambda, k) of the Weibull radial profile at these energies."""
        x = np.log(np.asarray(energy_kev, dtype=float))
        return np.exp(np.polyval(self.log_lambda_poly, x)), np.polyval(self.k_poly, x)

    def radial_cdf(self, rho, energy_kev) -> np.ndarray:
        """Fraction of the flux at energy E inside projected radius rho (solar radii), normalised on the disc."""
        lam, k = self.radial_parameters(energy_kev)
        rho = np.minimum(np.asarray(rho, dtype=float), 1.0)
        return (1 - np.exp(-((rho / lam) ** k))) / (1 - np.exp(-((1.0 / lam) ** k)))

    def sample(self, u_energy, u_radius, e_min_kev: float, e_max_kev: float):
        """Energies (keV) and projected radii (solar radii) from uniform deviates: exact inverse transforms."""
        a, b, c = self.spectrum_abc
        low, high = self._cdf(e_min_kev), self._cdf(e_max_kev)
        energy = c * gammaincinv(b + 1, low + np.asarray(u_energy) * (high - low))
        lam, k = self.radial_parameters(energy)
        inside_limb = 1 - np.exp(-((1.0 / lam) ** k))
        rho = lam * (-np.log1p(-np.asarray(u_radius) * inside_limb)) ** (1 / k)
        return energy, rho

    def _cdf(self, energy_kev):
        _, b, c = self.spectrum_abc
        return gammainc(b + 1, np.asarray(energy_kev, dtype=float) / c)


# Radial profile fitted to Hoof, Jaeckel & Thormaehlen's Primakoff table (below); the CAST 2007 paper gives only the
# spectrum, and the 50 % radii quoted in docs/physics/conventions.md (0.19 ... 0.074 R_sun at 1 ... 8 keV) are those of
# this table.
_HOOF_LOG_LAMBDA = (0.01422333, -0.07838145, -0.37759625, -1.41090062)
_HOOF_K = (-0.01376917, 0.05050291, 0.03336321, 1.71352814)

MODELS = {
    "cast2007": SolarAxionModel(
        "cast2007",
        "CAST Collaboration, Andriamonje et al., JCAP 04 (2007) 010, hep-ex/0702006: dPhi/dE = 6.02e10 g10^2 "
        "E^2.481 exp(-E/1.205) cm^-2 s^-1 keV^-1; radial profile fitted to the Hoof et al. 2022 table",
        (6.02e10, 2.481, 1.205),
        _HOOF_LOG_LAMBDA,
        _HOOF_K,
    ),
    "hoof2022": SolarAxionModel(
        "hoof2022",
        "Fit (raytrace.solar.fit_model) to the Primakoff table of the SolarAxionFlux library (Hoof, Jaeckel, "
        "Thormaehlen, arXiv:2101.08789; table Primakoff_LennertHoof_202203 of rest-for-physics/axionlib-data, "
        "CC BY 4.0, IAXO Collaboration, JHEP 02 (2025) 159)",
        (5.83290340e10, 2.49321081, 1.18255484),
        _HOOF_LOG_LAMBDA,
        _HOOF_K,
    ),
    "giannotti2019": SolarAxionModel(
        "giannotti2019",
        "Fit (raytrace.solar.fit_model) to M. Giannotti's Primakoff table (Primakoff_Gianotti_201904 of "
        "rest-for-physics/axionlib-data, CC BY 4.0)",
        (6.26484244e10, 2.41942228, 1.20793911),
        (0.01343883, -0.07429389, -0.3758771, -1.42697166),
        (-0.01481258, 0.05469526, 0.0299792, 1.71472373),
    ),
}


@dataclass(frozen=True)
class SolarSource:
    """Photons from solar axions converted in the magnet, arriving at the optic.

    Each ray gets an energy and an emission point on the solar disc, sampled jointly from the model;
    it travels from that point (at angular offset rho x the Sun's angular radius, uniform azimuth),
    plus the pointing offset of the Sun from the optical axis. Energies are traced at the centre of
    their 50 eV bin, so the reflectivity table has exact nodes there (no energy interpolation).
    Start points are spread uniformly over the optic's entrance channels; each ray's weight is the
    aperture area it stands for projected normal to its direction (cm2), times (l / L)^2 if the photons come
    from a magnet `bore` (`raytrace.sources.bore`; None: from anywhere, as if the bore were infinitely wide).
    """

    model: SolarAxionModel = MODELS[DEFAULT_MODEL]  # or a tabulated flux (raytrace.sources.abc)
    e_min_kev: float = 1.0
    e_max_kev: float = 10.0
    distance_au: float = 1.0
    offset_rad: float = 0.0
    offset_azimuth_rad: float = 0.0
    bore: Bore | None = None

    def __post_init__(self):
        if not (0.1 <= self.e_min_kev < self.e_max_kev <= 20.0):
            raise ValueError(
                f"solar energy band {self.e_min_kev}-{self.e_max_kev} keV: need 0.1 <= min < max <= 20 keV"
            )
        if not (math.isfinite(self.offset_rad) and 0.0 <= self.offset_rad <= MAX_OFFSET_RAD):
            raise ValueError(
                f"pointing offset = {math.degrees(self.offset_rad) * 60:.4g} arcmin: must be within 0-60 arcmin"
            )
        if not math.isfinite(self.offset_azimuth_rad):
            raise ValueError(f"pointing offset azimuth = {self.offset_azimuth_rad}: must be finite")
        sun_radius_rad(self.distance_au)

    def max_angle_rad(self, radius_mm: float = 0.0, height_mm: float = 0.0) -> float:
        """The largest angle between a ray and the optical axis: the Sun's radius plus the pointing offset."""
        return sun_radius_rad(self.distance_au) + self.offset_rad

    @property
    def distance_m(self) -> float:
        return math.inf

    @property
    def pointing_rad(self) -> tuple[float, float]:
        return self.offset_rad, self.offset_azimuth_rad

    def with_pointing(self, offset_rad: float, azimuth_rad: float) -> "SolarSource":
        return dataclasses.replace(self, offset_rad=offset_rad, offset_azimuth_rad=azimuth_rad)

    def seen_from_tilted_optic(
        self, tilt_x_rad, tilt_y_rad, pivot_z_mm, decentre_x_mm, decentre_y_mm, entrance_z_mm
    ) -> "SolarSource":
        """The Sun offset by minus the tilt; the bore, fixed to the magnet, moved into the optic's frame."""
        seen = self.with_pointing(*tilted_pointing(self.pointing_rad, tilt_x_rad, tilt_y_rad))
        if self.bore is None:
            return seen
        bore = self.bore.seen_from_tilted_optic(
            tilt_x_rad, tilt_y_rad, pivot_z_mm, decentre_x_mm, decentre_y_mm, entrance_z_mm + self.bore.gap_mm
        )
        return dataclasses.replace(seen, bore=bore)

    def energy_nodes(self) -> np.ndarray:
        """The energies rays are traced at: centres of the 50 eV bins covering the band."""
        edges = self.energy_edges()
        return 0.5 * (edges[:-1] + edges[1:])

    def energy_edges(self) -> np.ndarray:
        """Edges (keV) of the bins whose centres rays are traced at: about ENERGY_BIN_KEV wide, covering the band."""
        n = max(1, int(round((self.e_max_kev - self.e_min_kev) / ENERGY_BIN_KEV)))
        return np.linspace(self.e_min_kev, self.e_max_kev, n + 1)

    def band_flux(self) -> float:
        """Photon flux from axions in the band (cm^-2 s^-1) at the model's reference coupling (Primakoff: g_agamma =
        1e-10 GeV^-1; ABC: g_ae = 1e-13), before conversion."""
        return self.model.flux(self.e_min_kev, self.e_max_kev)

    def shared_ray(self, aperture: EntranceChannels, n_total: int) -> None:
        return None  # directions and energies differ from ray to ray

    def emit(self, key, first_index: int, n_total: int, aperture: EntranceChannels, rays: Rays) -> None:
        """Start points over the aperture, then each ray's energy, emission point and direction, drawn from the
        source's own random stream; the weight is the entrance area per ray projected normal to the ray (cm2)."""
        aperture.sample(key, first_index, rays)
        n = len(rays)
        u = np.empty((3, n))
        source = stream_key(key, SOURCE_STREAM)
        for draw in range(3):
            split_over_threads(uniform_array, u.shape[1], source, np.uint64(first_index), draw, u[draw])
        energy, rho = self.model.sample(u[0], u[1], self.e_min_kev, self.e_max_kev)
        edges = self.energy_edges()
        nodes = 0.5 * (edges[:-1] + edges[1:])
        # side="right": a line on an edge belongs to the bin above, as in the models' [lo, hi) fluxes
        rays.energy_kev[:] = nodes[np.clip(np.searchsorted(edges, energy, side="right") - 1, 0, nodes.size - 1)]
        radius = rho * sun_radius_rad(self.distance_au)
        phi = 2.0 * np.pi * u[2]
        # small-angle sum of the offset on the disc and the pointing offset, then the exact direction
        tx = radius * np.cos(phi) + self.offset_rad * math.cos(self.offset_azimuth_rad)
        ty = radius * np.sin(phi) + self.offset_rad * math.sin(self.offset_azimuth_rad)
        theta = np.hypot(tx, ty)
        sin_theta = np.sin(theta)
        scale = np.divide(sin_theta, theta, out=np.ones_like(theta), where=theta > 0)
        rays.dx[:] = -tx * scale
        rays.dy[:] = -ty * scale
        rays.dz[:] = -np.cos(theta)
        rays.weight[:] = aperture.area_cm2 * np.cos(theta) / n_total
        if self.bore is not None:
            self.bore.weigh(rays, float(aperture.z_start.max()))

    def metadata(self) -> dict:
        return {
            "solar_model": self.model.name,
            "solar_model_reference": self.model.reference,
            "e_min_kev": self.e_min_kev,
            "e_max_kev": self.e_max_kev,
            "earth_sun_distance_au": self.distance_au,
            "pointing_offset_arcmin": math.degrees(self.offset_rad) * 60.0,
            "pointing_azimuth_deg": math.degrees(self.offset_azimuth_rad),
            **({} if self.bore is None else self.bore.metadata()),
        }

    def describe(self) -> str:
        text = (
            f"solar axions ({self.model.name}), {self.e_min_kev:g}-{self.e_max_kev:g} keV, Sun radius "
            f"{math.degrees(sun_radius_rad(self.distance_au)) * 3600:.2f} arcsec at {self.distance_au:.5g} AU"
        )
        if self.bore is not None:
            text += f", {self.bore.describe()}"
        if self.offset_rad:
            text += (
                f", pointing offset {math.degrees(self.offset_rad) * 60:.4g} arcmin at azimuth "
                f"{math.degrees(self.offset_azimuth_rad):.4g} deg"
            )
        return text


def sun_radius_rad(distance_au: float = 1.0) -> float:
    """Angular radius of the Sun seen from this distance (959.64 arcsec at 1 AU)."""
    if not (math.isfinite(distance_au) and 0.9 <= distance_au <= 1.1):
        raise ValueError(f"Earth-Sun distance = {distance_au} AU: must lie within 0.9-1.1 AU")
    return math.asin(SUN_RADIUS_KM / (distance_au * AU_KM))


EPHEMERIS_YEARS = (1900, 2100)


def earth_sun_distance_au(date: str) -> float:
    """Earth-Sun distance on a date (ISO format, e.g. 2026-07-04), from astropy's solar ephemeris."""
    from astropy.coordinates import get_sun
    from astropy.time import Time
    from erfa import ErfaWarning

    with warnings.catch_warnings():
        # "dubious year": UTC beyond the leap-second table; it shifts the time by seconds, the distance by nothing
        warnings.simplefilter("ignore", ErfaWarning)
        try:
            time = Time(date, scale="utc")
        except ValueError:
            raise ValueError(f"date {date!r}: expected an ISO date such as 2026-07-04") from None
        if not EPHEMERIS_YEARS[0] <= time.ymdhms.year <= EPHEMERIS_YEARS[1]:
            raise ValueError(
                f"date {date!r}: astropy's built-in solar ephemeris (ERFA epv00) covers the years "
                f"{EPHEMERIS_YEARS[0]}-{EPHEMERIS_YEARS[1]}"
            )
        return float(get_sun(time).distance.to_value("AU"))


def fit_model(table: np.ndarray, name: str, reference: str) -> SolarAxionModel:
    """Fit a model to a (100 rings x 200 bins of 0.1 keV) table of ring-integrated flux (method in the module doc)."""
    from scipy.optimize import curve_fit

    energy = (np.arange(table.shape[1]) + 0.5) * 0.1
    spectrum = table.sum(axis=0)
    band = (energy > FIT_SPECTRUM_BAND_KEV[0]) & (energy < FIT_SPECTRUM_BAND_KEV[1])

    def shape(e, a, b, c):
        return a * e**b * np.exp(-e / c)

    abc, _ = curve_fit(shape, energy[band], spectrum[band], p0=(6e10, 2.48, 1.2), sigma=np.sqrt(spectrum[band]))
    radius = np.arange(table.shape[0] + 1) / table.shape[0]  # ring edges, axis first
    lam, k, fitted_energy = [], [], []
    for j in np.flatnonzero((energy > FIT_PROFILE_BAND_KEV[0]) & (energy < FIT_PROFILE_BAND_KEV[1])):
        cumulative = np.concatenate([[0.0], np.cumsum(table[:, j]) / table[:, j].sum()])
        r50, r90 = np.interp([0.5, 0.9], cumulative, radius)
        shape = math.log(math.log(10) / math.log(2)) / math.log(r90 / r50)
        lam.append(r50 / math.log(2) ** (1 / shape))
        k.append(shape)
        fitted_energy.append(energy[j])
    x = np.log(fitted_energy)
    return SolarAxionModel(
        name,
        reference,
        tuple(float(v) for v in abc),
        tuple(float(v) for v in np.polyfit(x, np.log(lam), 3)),
        tuple(float(v) for v in np.polyfit(x, k, 3)),
    )
