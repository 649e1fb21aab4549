"""X-ray detector behind the optic: quantum efficiency, background level and the strongback opening.

Efficiency(E) = window transmission x absorption in the gas:

    T = prod over window layers exp(-mu/rho(E) rho t),   absorption = 1 - exp(-mu_photo/rho(E) rho_gas depth),

with mass attenuation coefficients from xraylib (total for the window, photoelectric for the gas, as
only photoabsorption makes a signal) and the gas density from the ideal-gas law. The strongback of the
window is opaque except for its central opening (a circle about the optical axis in the focal plane).

An energy threshold (optional, `threshold_kev`) sets the efficiency to 0 below it.

The energy resolution (optional) is a Gaussian whose FWHM grows as the square root of the energy, as the
number of primary electrons does in a gas detector: FWHM(E) = FWHM(E_ref) sqrt(E / E_ref). It gives the
redistribution matrix of an OGIP RMF (`Detector.redistribution`). It models the photopeak only: the argon
escape peak (E - 2.96 keV, above the K edge at 3.2 keV) and the gain's low-energy tail are not in it.

A detector is described by a TOML file (see `DEFAULT_DETECTOR_TOML`, the BabyIAXO Micromegas).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xraylib
from scipy.special import ndtr

from coatings import material as coating_material
from coatings.textfile import read_toml

GAS_CONSTANT_J_MOL_K = 8.314462618
BAR_PA = 1e5
MIN_ENERGY_KEV, MAX_ENERGY_KEV = 0.1, 100.0

# BabyIAXO Micromegas (Abeln et al., JHEP 05 (2021) 137): 4 um Mylar + 40 nm Al
# window, 3 cm of argon at 1.4 bar, background 1e-7 counts keV^-1 cm^-2 s^-1, 8 mm strongback opening.
# Resolution: 11 % FWHM at the 5.9 keV line of 55Fe, the value microbulk Micromegas reach in argon-isobutane
# (Dafni et al., arXiv:0906.0534, abstract).
DEFAULT_DETECTOR_TOML = """\
name = "babyiaxo_micromegas"
description = "BabyIAXO Micromegas: 4 um Mylar + 40 nm Al window, 3 cm Ar at 1.4 bar (isobutane quencher neglected)"
background_counts_kev_cm2_s = 1e-7
opening_diameter_mm = 8.0

[resolution]            # FWHM(E) = fwhm_kev x sqrt(E / energy_kev)
fwhm_kev = 0.649        # 11 % of 5.9 keV
energy_kev = 5.9

[[window]]
material = "C10H8O4"   # Mylar (PET)
density_g_cm3 = 1.39
thickness_um = 4.0

[[window]]
material = "Al"
density_g_cm3 = 2.699
thickness_um = 0.04

[gas]
material = "Ar"
pressure_bar = 1.4
temperature_k = 293.15
depth_cm = 3.0
"""


class DetectorError(ValueError):
    """A detector description that cannot be used."""


@dataclass(frozen=True)
class WindowLayer:
    formula: str
    thickness_um: float
    density_g_cm3: float


@dataclass(frozen=True)
class Gas:
    formula: str
    pressure_bar: float
    temperature_k: float
    depth_cm: float

    @property
    def density_g_cm3(self) -> float:
        molar_mass = xraylib.CompoundParser(self.formula)["molarMass"]
        return self.pressure_bar * BAR_PA * molar_mass / (GAS_CONSTANT_J_MOL_K * self.temperature_k) * 1e-6


@dataclass(frozen=True)
class Resolution:
    """A Gaussian photopeak of FWHM fwhm_kev at energy_kev, its FWHM growing as sqrt(E)."""

    fwhm_kev: float
    energy_kev: float

    def sigma_kev(self, energy_kev) -> np.ndarray:
        return self.fwhm_kev * np.sqrt(np.asarray(energy_kev, float) / self.energy_kev) / FWHM_PER_SIGMA

    def redistribution(self, energy_kev, edges_kev) -> np.ndarray:
        """The probability that a detected photon of each energy (keV) is recorded between each pair of consecutive
        edges (keV): the photopeak integrated over the bins, shape (energies, bins). A row sums to less than 1 only
        by what falls outside the edges."""
        energy = np.asarray(energy_kev, float)[:, None]
        cdf = ndtr((np.asarray(edges_kev, float)[None, :] - energy) / self.sigma_kev(energy))
        return np.diff(cdf, axis=1)


FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True)
class Detector:
    name: str
    window: tuple[WindowLayer, ...]
    gas: Gas
    background_counts_kev_cm2_s: float
    opening_diameter_mm: float
    description: str = ""
    resolution: Resolution | None = None
    threshold_kev: float = 0.0  # photons below it are not recorded

    def window_transmission(self, energy_kev) -> np.ndarray:
        energy = _checked(energy_kev)
        depth = np.zeros_like(energy)
        for layer in self.window:
            mu = np.array([xraylib.CS_Total_CP(layer.formula, float(e)) for e in energy.ravel()]).reshape(energy.shape)
            depth += mu * layer.density_g_cm3 * layer.thickness_um * 1e-4
        return np.exp(-depth)

    def gas_absorption(self, energy_kev) -> np.ndarray:
        energy = _checked(energy_kev)
        gas = self.gas
        mu = np.array([xraylib.CS_Photo_CP(gas.formula, float(e)) for e in energy.ravel()]).reshape(energy.shape)
        return -np.expm1(-mu * gas.density_g_cm3 * gas.depth_cm)

    def efficiency(self, energy_kev) -> np.ndarray:
        """Window transmission x gas absorption, 0 below the threshold (applied to the photon's energy: the
        photopeak's spread about the threshold is neglected)."""
        energy = _checked(energy_kev)
        return np.where(
            energy >= self.threshold_kev, self.window_transmission(energy) * self.gas_absorption(energy), 0.0
        )

    def redistribution(self, energy_kev, channel_edges_kev) -> np.ndarray:
        """The probability that a detected photon of each energy (keV) is recorded in each channel (between
        consecutive edges, keV): the Gaussian photopeak integrated over the channel, shape (energies, channels).
        A row sums to less than 1 only by what falls outside the channels."""
        if self.resolution is None:
            raise DetectorError(
                f"detector {self.name}: no energy resolution given (a [resolution] table with fwhm_kev and energy_kev)"
            )
        return self.resolution.redistribution(_checked(energy_kev), channel_edges_kev)


def load_detector(path: str | Path | None = None) -> Detector:
    """The default BabyIAXO Micromegas, or a detector TOML file (docs/formats.md).

    >>> detector = raytrace.load_detector()
    >>> print(f"{detector.name}: {detector.opening_diameter_mm:g} mm opening, b = "
    ...       f"{detector.background_counts_kev_cm2_s:g} keV^-1 cm^-2 s^-1")
    babyiaxo_micromegas: 8 mm opening, b = 1e-07 keV^-1 cm^-2 s^-1
    """
    if path is None:
        return detector_from_dict(tomllib.loads(DEFAULT_DETECTOR_TOML))
    path = Path(path)
    data = read_toml(path, "detector", DetectorError)
    try:
        return detector_from_dict(data)
    except DetectorError as exc:
        raise DetectorError(f"detector {path}: {exc}") from None


def detector_from_dict(data: dict) -> Detector:
    _check_keys(
        data,
        (
            "name",
            "description",
            "background_counts_kev_cm2_s",
            "opening_diameter_mm",
            "window",
            "gas",
            "resolution",
            "threshold_kev",
        ),
        "detector",
    )
    layers = data.get("window", [])
    if not isinstance(layers, list):
        raise DetectorError("'window' must be an array of tables: write [[window]]")
    window = []
    for i, entry in enumerate(layers, start=1):
        where = f"window layer {i}"
        _check_keys(entry, ("material", "thickness_um", "density_g_cm3"), where)
        formula = _formula(entry, where)
        density = entry.get("density_g_cm3")
        if density is None:
            try:
                density = coating_material(formula).density_g_cm3
            except ValueError as exc:
                raise DetectorError(f"{where}: {exc}") from None
        window.append(
            WindowLayer(formula, _positive(entry, "thickness_um", where), _positive({"d": density}, "d", where))
        )
    if "gas" not in data or not isinstance(data["gas"], dict):
        raise DetectorError("missing [gas] table (material, pressure_bar, temperature_k, depth_cm)")
    entry = data["gas"]
    _check_keys(entry, ("material", "pressure_bar", "temperature_k", "depth_cm"), "gas")
    gas = Gas(
        _formula(entry, "gas"),
        _positive(entry, "pressure_bar", "gas"),
        _positive(entry, "temperature_k", "gas"),
        _positive(entry, "depth_cm", "gas"),
    )
    resolution = None
    if "resolution" in data:
        entry = data["resolution"]
        _check_keys(entry, ("fwhm_kev", "energy_kev"), "resolution")
        resolution = Resolution(
            _positive(entry, "fwhm_kev", "resolution"), _positive(entry, "energy_kev", "resolution")
        )
    return Detector(
        name=str(data.get("name", "detector")),
        window=tuple(window),
        gas=gas,
        background_counts_kev_cm2_s=_positive(data, "background_counts_kev_cm2_s", "detector"),
        opening_diameter_mm=_positive(data, "opening_diameter_mm", "detector"),
        description=str(data.get("description", "")),
        resolution=resolution,
        threshold_kev=_positive(data, "threshold_kev", "detector") if "threshold_kev" in data else 0.0,
    )


def _checked(energy_kev) -> np.ndarray:
    energy = np.asarray(energy_kev, dtype=float)
    if energy.size and not np.all((energy >= MIN_ENERGY_KEV) & (energy <= MAX_ENERGY_KEV)):
        raise DetectorError(f"detector efficiency: energies must lie within {MIN_ENERGY_KEV}-{MAX_ENERGY_KEV} keV")
    return energy


def _formula(entry: dict, where: str) -> str:
    formula = entry.get("material")
    if not isinstance(formula, str):
        raise DetectorError(f"{where}: material = {formula!r}: must be a chemical formula in quotes")
    try:
        xraylib.CompoundParser(formula)
    except ValueError:
        raise DetectorError(f"{where}: material = {formula!r} is not a chemical formula xraylib can parse") from None
    return formula


def _positive(entry: dict, key: str, where: str) -> float:
    if key not in entry:
        raise DetectorError(f"{where}: missing field {key!r}")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise DetectorError(f"{where}: {key} = {value!r}: must be a number > 0")
    return float(value)


def _check_keys(entry, allowed, where: str) -> None:
    if not isinstance(entry, dict):
        raise DetectorError(f"{where}: must be a table")
    unknown = [k for k in entry if k not in allowed]
    if unknown:
        raise DetectorError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})")
