"""Optical constants n = 1 - delta + i beta, always with an explicit density.

Two databases:
- "xraylib" (default): `Refractive_Index_Re` returns 1 - delta with delta from Z + f' (Kissel's
  anomalous scattering factors) and `Refractive_Index_Im` returns +beta from the total
  cross-section, for an energy in keV and a density in g/cm3. Its calls are scalar, so values
  are cached per (formula, density, energy). Range 0.1-800 keV (xraylib's cross sections end below 1 MeV).
- "henke": the Henke/CXRO atomic scattering factors f1, f2 (Henke, Gullikson & Davis, At. Data
  Nucl. Data Tables 54 (1993) 181, with the CXRO updates) as tabulated by the `periodictable`
  package. These are the constants behind CXRO's on-line calculator and most IMD files.
  Range 0.03 - 30 keV.
The two differ by up to a few per cent in delta (more just above absorption edges), which moves
the steep part of R(theta) near the critical angle; docs/guide/coatings.md gives the size of the effect.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
import periodictable
import periodictable.xsf
import xraylib

# Film densities in g/cm3, used when a recipe gives none. Metals: bulk values (CRC Handbook of
# Chemistry and Physics, 97th ed.); sputtered films are typically 1-5 % lighter, so recipes
# describing a measured film should give its density. Light materials: typical sputtered-film
# values used in multilayer modelling (e.g. Windt, IMD; Madsen et al. 2009 for NuSTAR).
DEFAULT_DENSITY_G_CM3: dict[str, float] = {
    "Au": 19.32,
    "Ni": 8.908,
    "Ir": 22.56,
    "Pt": 21.45,
    "W": 19.25,
    "Cr": 7.19,
    "B4C": 2.52,  # bulk boron carbide; sputtered films 2.2-2.5
    "C": 2.2,  # sputtered amorphous carbon, 1.9-2.3 reported
    "Si": 2.33,
    "SiC": 3.21,
    "SiO2": 2.2,  # fused silica; also the stand-in for borosilicate (D263-like) glass substrates
}

OPTICAL_CONSTANTS = ("xraylib", "henke")
ENERGY_RANGE_KEV = {"xraylib": (0.1, 800.0), "henke": (0.03, 30.0)}  # xraylib's cross sections end below 1 MeV
MIN_ENERGY_KEV = min(lo for lo, _ in ENERGY_RANGE_KEV.values())
MAX_ENERGY_KEV = max(hi for _, hi in ENERGY_RANGE_KEV.values())


def check_energies(energies_kev) -> np.ndarray:
    """The energies (keV) as a flat array, or an error naming the first one outside the optical constants' range."""
    energies = np.asarray(energies_kev, dtype=float).ravel()
    if energies.size == 0:
        raise ValueError("no energies given")
    bad = energies[~((energies >= MIN_ENERGY_KEV) & (energies <= MAX_ENERGY_KEV))]
    if bad.size:
        raise ValueError(f"energy {bad[0]} keV: energies must lie within {MIN_ENERGY_KEV}-{MAX_ENERGY_KEV} keV")
    return energies


class MaterialError(ValueError):
    """A material that the chosen database cannot describe."""


@dataclass(frozen=True)
class Material:
    formula: str
    density_g_cm3: float
    optical_constants: str = "xraylib"

    def __post_init__(self):
        density = self.density_g_cm3
        if (
            isinstance(density, bool)
            or not isinstance(density, numbers.Real)
            or not (math.isfinite(density) and density > 0)
        ):
            raise MaterialError(f"material {self.formula}: density_g_cm3 = {density!r}: must be a number > 0")
        if self.optical_constants not in OPTICAL_CONSTANTS:
            raise MaterialError(
                f"material {self.formula}: optical_constants = {self.optical_constants!r}: "
                f"allowed values are {', '.join(OPTICAL_CONSTANTS)}"
            )
        try:
            xraylib.CompoundParser(self.formula)
            if self.optical_constants == "henke":
                periodictable.formula(self.formula)
        except (ValueError, TypeError):
            raise MaterialError(f"material {self.formula!r}: not a chemical formula xraylib understands") from None

    def refractive_index(self, energy_kev) -> np.ndarray:
        """Complex n = 1 - delta + i beta at each energy (keV)."""
        energies = np.asarray(energy_kev, dtype=float)
        lo, hi = ENERGY_RANGE_KEV[self.optical_constants]
        if np.any(~(energies >= lo)) or np.any(~(energies <= hi)):
            raise MaterialError(
                f"material {self.formula}: energy outside {lo}-{hi} keV, the range of the {self.optical_constants} "
                "optical constants"
            )
        if self.optical_constants == "henke":
            return _henke_index(self.formula, self.density_g_cm3, energies)
        flat = [_xraylib_index(self.formula, self.density_g_cm3, float(e)) for e in energies.ravel()]
        return np.array(flat, dtype=complex).reshape(energies.shape)

    def edge_energies_kev(self) -> np.ndarray:
        """Absorption-edge energies (K, L1-L3, M1-M5) of the material's elements, in keV (xraylib)."""
        shells = (
            xraylib.K_SHELL,
            xraylib.L1_SHELL,
            xraylib.L2_SHELL,
            xraylib.L3_SHELL,
            xraylib.M1_SHELL,
            xraylib.M2_SHELL,
            xraylib.M3_SHELL,
            xraylib.M4_SHELL,
            xraylib.M5_SHELL,
        )
        edges = []
        for z in xraylib.CompoundParser(self.formula)["Elements"]:
            for shell in shells:
                try:
                    e = xraylib.EdgeEnergy(z, shell)
                except ValueError:
                    continue
                if e > 0:
                    edges.append(e)
        return np.unique(edges)


def material(formula: str, density_g_cm3: float | None = None, optical_constants: str = "xraylib") -> Material:
    """A material with the given density, or its documented default film density."""
    if density_g_cm3 is None:
        if formula not in DEFAULT_DENSITY_G_CM3:
            raise MaterialError(
                f"material {formula!r} has no default density: give density_g_cm3 "
                f"(defaults exist for {', '.join(sorted(DEFAULT_DENSITY_G_CM3))})"
            )
        density_g_cm3 = DEFAULT_DENSITY_G_CM3[formula]
    return Material(formula, density_g_cm3, optical_constants)


@functools.lru_cache(maxsize=200_000)
def _xraylib_index(formula: str, density: float, energy_kev: float) -> complex:
    return complex(
        xraylib.Refractive_Index_Re(formula, energy_kev, density),
        xraylib.Refractive_Index_Im(formula, energy_kev, density),
    )


def _henke_index(formula: str, density: float, energies: np.ndarray) -> np.ndarray:
    # periodictable returns n = 1 - delta - i beta (the opposite sign convention for the imaginary part)
    n = periodictable.xsf.index_of_refraction(formula, density=density, energy=energies.ravel())
    return np.conj(np.asarray(n, dtype=complex)).reshape(energies.shape)
