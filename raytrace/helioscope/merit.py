"""The figures of merit of a helioscope's optic and detector (docs/physics/conventions.md), computed in one place.

Spectrum averages < > are over the solar-axion spectrum in the source's band. Rays are drawn from that
spectrum and weighted by the entrance area they stand for times their two reflectivities, so a sum of
weights over the focused rays is the spectrum-averaged effective area <A_eff> (cm2) directly.
- throughput eps_O(E) = A_eff(E) / A_bore, A_bore the magnet bore's cross-section (70 cm diameter);
- detected signal: each focused ray's weight times the detector efficiency eps_D(E) (window x gas);
- the spot: the circle about the centroid of the detected signal whose radius maximises eta_D / sqrt(a),
  eta_D the fraction of the detected signal inside it (signal-to-noise optimal over a flat background);
- f_DO = <eps_D eps_O eta_D> / sqrt(b a), with a the spot area (cm2) and b the background
  (counts keV^-1 cm^-2 s^-1), so f_DO is proportional to S / sqrt(B) of the expected counts:
  S / sqrt(B) = f_DO x A_bore x Phi_band x P x sqrt(T / dE) (T exposure x efficiency, dE the band width);
- f_D = <eps_D> / sqrt(b) (the spectrum mean of the model, not of the rays);
- f_O = <eps_O eta_O> / sqrt(a_O), the optics alone: eta_O and a_O from its own optimal spot of the
  focused signal before the detector, so that f_O does not depend on the detector;
- expected counts in the spot: signal = T x Phi_band(g) x P(g, B, L) x <A_eff eps_D eta_D>, with
  P = (g B L / 2)^2 in natural units (1 T = 195.35 eV^2, 1 m = 5.0677e6 eV^-1); Phi scales as g^2, so the
  signal as g^4. Background = b x a x dE x T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from coatings.textfile import read_toml

from ..analysis.encircled import radial_edges_mm, radius_at
from ..defaults import EFFICIENCY, EXPOSURE_S, G_AE, G_AGAMMA_PER_GEV, MAGNET_BORES, MAGNET_FIELD_T, MAGNET_LENGTH_M
from ..sources.bore import BABYIAXO_BORE_GAP_MM, BABYIAXO_BORE_RADIUS_MM, Bore
from .conversion import conversion_probability
from .detector import Detector

if TYPE_CHECKING:  # only annotations: the solar models load scipy.special
    from ..sources import SolarSource

SPOT_FRACTIONS = (0.5, 0.8, 0.9)


@dataclass(frozen=True)
class Magnet:
    """The magnet: field (T), length (m), radius of each bore (mm), number of bores, and the distance from a bore's
    end to its optic's entrance (mm, an assumption: not published); defaults: BabyIAXO. The figures of merit are
    per bore; a sensitivity adds the bores up (`raytrace.helioscope.sensitivity`)."""

    field_tesla: float = MAGNET_FIELD_T
    length_m: float = MAGNET_LENGTH_M
    bore_radius_mm: float = BABYIAXO_BORE_RADIUS_MM
    bore_gap_mm: float = BABYIAXO_BORE_GAP_MM
    bores: int = MAGNET_BORES

    def __post_init__(self):
        for name in ("field_tesla", "length_m", "bore_radius_mm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"magnet {name} = {value}: must be a number > 0")
        if not (math.isfinite(self.bore_gap_mm) and self.bore_gap_mm >= 0):
            raise ValueError(f"magnet bore_gap_mm = {self.bore_gap_mm}: must be a number >= 0")
        if isinstance(self.bores, bool) or not isinstance(self.bores, (int, np.integer)) or self.bores < 1:
            raise ValueError(f"magnet bores = {self.bores!r}: must be a whole number >= 1")

    @property
    def bore_area_cm2(self) -> float:
        return math.pi * (self.bore_radius_mm / 10.0) ** 2

    def bore(self) -> Bore:
        """The bore as the conversion volume of a solar-axion source (`raytrace.sources.bore`)."""
        return Bore(self.bore_radius_mm, self.length_m * 1000.0, self.bore_gap_mm)


MAGNET_KEYS = ("name", "description", "field_tesla", "length_m", "bore_radius_mm", "bore_gap_mm", "bores")


def load_magnet(path: str | Path | None = None) -> Magnet:
    """The default BabyIAXO magnet, or one from a TOML file with the keys of `Magnet` (field_tesla, length_m,
    bore_radius_mm, bore_gap_mm, bores; any left out keep BabyIAXO's value) and optional name and description.

    >>> magnet = raytrace.load_magnet()
    >>> print(f"{magnet.field_tesla:g} T, {magnet.length_m:g} m, {magnet.bores} bores of "
    ...       f"{magnet.bore_area_cm2:.0f} cm2")
    2 T, 10 m, 2 bores of 3848 cm2
    """
    if path is None:
        return Magnet()
    path = Path(path)
    return magnet_from_dict(read_toml(path, "magnet", ValueError), f"magnet {path}")


def magnet_from_dict(data: dict, where: str) -> Magnet:
    """A magnet from a table with the keys of `Magnet` (any left out keep BabyIAXO's); `where` names it in errors."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: must be a table")
    unknown = [key for key in data if key not in MAGNET_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(MAGNET_KEYS)})")
    values = {key: data[key] for key in MAGNET_KEYS[2:] if key in data}
    for key, value in values.items():
        whole = key == "bores"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise ValueError(f"{where}: {key} = {value!r}: must be a {'whole number' if whole else 'number'}")
    try:
        return Magnet(**{key: value if key == "bores" else float(value) for key, value in values.items()})
    except ValueError as exc:
        raise ValueError(f"{where}: {exc.args[0].removeprefix('magnet ')}") from None


@dataclass(frozen=True)
class Spot:
    radius_mm: float
    area_cm2: float
    fraction: float  # of the scored signal inside it


def best_spot(radial_signal: np.ndarray) -> Spot:
    """The spot maximising eta / sqrt(a), i.e. eta / r, over the outer edges of a radial histogram's bins
    (`raytrace.analysis.encircled.radial_edges_mm`; the overflow bin, which has no outer edge, is never one)."""
    total = radial_signal.sum()
    if not total > 0:
        raise ValueError("no signal reaches the focal plane, so there is no spot")
    fraction = np.cumsum(radial_signal)[:-1] / total
    upper = radial_edges_mm()[1:]
    ratio = np.divide(fraction, upper, out=np.zeros_like(fraction), where=upper > 0)
    k = int(np.argmax(ratio))
    return Spot(float(upper[k]), math.pi * (upper[k] / 10.0) ** 2, float(fraction[k]))


def area_holding(radial_signal: np.ndarray, q: float) -> float:
    """Area (cm2) of the circle holding the fraction q of a radial histogram's signal."""
    fraction = np.cumsum(radial_signal) / radial_signal.sum()
    return math.pi * (radius_at(fraction, radial_edges_mm(), q) / 10.0) ** 2


def circle_overlap_cm2(radius_a_mm: float, radius_b_mm: float, distance_mm: float) -> float:
    """The area (cm2) common to two circles of these radii (mm) whose centres lie distance_mm apart."""
    a, b, d = float(radius_a_mm), float(radius_b_mm), abs(float(distance_mm))
    if d >= a + b:
        return 0.0
    if d <= abs(a - b):
        return math.pi * min(a, b) ** 2 / 100.0
    half_a = math.acos((d * d + a * a - b * b) / (2 * d * a))  # half the angle the chord subtends at each centre
    half_b = math.acos((d * d + b * b - a * a) / (2 * d * b))
    lens = a * a * (half_a - math.sin(2 * half_a) / 2) + b * b * (half_b - math.sin(2 * half_b) / 2)
    return lens / 100.0


def spectrum_mean(source: SolarSource, function) -> float:
    """The spectrum-weighted mean of function(E) over the source's band (the model's `mean`)."""
    return source.model.mean(function, source.e_min_kev, source.e_max_kev)


@dataclass(frozen=True)
class FiguresOfMerit:
    spot: Spot  # of the detected signal: spot.fraction is eta_D
    optics_spot: Spot  # of the signal before the detector, for f_O
    areas_cm2: dict  # spot areas holding SPOT_FRACTIONS of the detected signal
    mean_effective_area_cm2: float  # <A_eff>
    mean_eps_o: float
    mean_eps_d: float
    mean_eps_do: float  # <eps_D eps_O>, the whole focused image
    mean_eps_do_in_spot: float  # <eps_D eps_O eta_D>
    f_o: float
    f_d: float
    f_do: float

    def summary(self) -> dict:
        out = {
            "radius_mm": self.spot.radius_mm,
            "area_cm2": self.spot.area_cm2,
            "eta_d": self.spot.fraction,
            "optics_spot_area_cm2": self.optics_spot.area_cm2,
            "eta_o": self.optics_spot.fraction,
        }
        out.update(
            {
                name: float(getattr(self, name))
                for name in (
                    "mean_effective_area_cm2",
                    "mean_eps_o",
                    "mean_eps_d",
                    "mean_eps_do",
                    "mean_eps_do_in_spot",
                    "f_o",
                    "f_d",
                    "f_do",
                )
            }
        )
        out.update({f"area_{int(q * 100)}_cm2": float(a) for q, a in self.areas_cm2.items()})
        return out


def figures_of_merit(
    radial_optics: np.ndarray, radial_detected: np.ndarray, magnet: Magnet, background: float, mean_eps_d: float
) -> FiguresOfMerit:
    """The figures from radial histograms (cm2 of spectrum-averaged effective area per bin) of the focused
    signal before and after the detector, each about its own centroid."""
    if not (math.isfinite(background) and background > 0):
        raise ValueError(f"background = {background} counts/keV/cm2/s: must be a number > 0")
    spot, optics_spot = best_spot(radial_detected), best_spot(radial_optics)
    bore = magnet.bore_area_cm2
    total_o, total_d = float(radial_optics.sum()), float(radial_detected.sum())
    in_spot = total_d * spot.fraction / bore
    return FiguresOfMerit(
        spot=spot,
        optics_spot=optics_spot,
        areas_cm2={q: area_holding(radial_detected, q) for q in SPOT_FRACTIONS},
        mean_effective_area_cm2=total_o,
        mean_eps_o=total_o / bore,
        mean_eps_d=mean_eps_d,
        mean_eps_do=total_d / bore,
        mean_eps_do_in_spot=in_spot,
        f_o=total_o * optics_spot.fraction / bore / math.sqrt(optics_spot.area_cm2),
        f_d=mean_eps_d / math.sqrt(background),
        f_do=in_spot / math.sqrt(background * spot.area_cm2),
    )


@dataclass(frozen=True)
class Exposure:
    """Sun-tracking time (s) times the data-taking efficiency, and the couplings the counts are given for: g_agamma
    (GeV^-1) and, for the ABC flux, g_ae."""

    g_agamma_per_gev: float = G_AGAMMA_PER_GEV
    exposure_s: float = EXPOSURE_S
    efficiency: float = EFFICIENCY
    g_ae: float = G_AE

    def __post_init__(self):
        for name in ("g_agamma_per_gev", "exposure_s", "g_ae"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} = {value}: must be a number > 0")
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"efficiency = {self.efficiency}: must lie in (0, 1]")

    @property
    def live_time_s(self) -> float:
        return self.exposure_s * self.efficiency


def signal_counts_per_cm2(source: SolarSource, magnet: Magnet, exposure: Exposure) -> float:
    """Expected signal counts per cm2 of detected effective area (a sum of detected ray weights):
    T x Phi_band x P(g_agamma, B, L), the flux scaled to the couplings (Primakoff: g_agamma^2; ABC: g_ae^2)."""
    g = exposure.g_agamma_per_gev
    flux = source.band_flux() * source.model.flux_scale(g, exposure.g_ae)
    return exposure.live_time_s * flux * conversion_probability(g, magnet.field_tesla, magnet.length_m)


def expected_counts(
    figures: FiguresOfMerit, source: SolarSource, magnet: Magnet, background: float, exposure: Exposure
) -> tuple[float, float]:
    """Expected signal and background counts in the spot (module docstring)."""
    signal = signal_counts_per_cm2(source, magnet, exposure) * figures.mean_eps_do_in_spot * magnet.bore_area_cm2
    width_kev = source.e_max_kev - source.e_min_kev
    return signal, background * figures.spot.area_cm2 * width_kev * exposure.live_time_s


def detector_weights(detector: Detector, energies_kev: np.ndarray):
    """A function giving each ray's detected weight (weight x eps_D(E)) for rays traced at `energies_kev` nodes."""
    nodes = np.asarray(energies_kev, dtype=float)
    efficiency = detector.efficiency(nodes)

    def detected(weight, energy_kev):
        return weight * efficiency[np.searchsorted(nodes, energy_kev)]

    return detected
