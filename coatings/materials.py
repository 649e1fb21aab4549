"""Optical constants n = 1 - delta + i beta from xraylib, always with an explicit density.

xraylib's `Refractive_Index_Re` returns 1 - delta and `Refractive_Index_Im` returns
+beta (from the total cross-section), for an energy in keV and a density in g/cm3.
Its calls are scalar, so values are cached per (formula, density, energy).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import xraylib

# Film densities in g/cm3. Bulk values for the metals (CRC Handbook of Chemistry and
# Physics); sputtered films can be a few per cent lighter, so recipes may override.
DEFAULT_DENSITY_G_CM3: dict[str, float] = {
    "Au": 19.32,
    "Ni": 8.908,
    "Ir": 22.56,
    "Pt": 21.45,
    "W": 19.25,
    "B4C": 2.52,
    "C": 2.2,
    "Si": 2.33,
    "SiO2": 2.2,  # fused silica / D263-like glass substrate
}

# xraylib's tabulated cross-sections start at 0.1 keV.
MIN_ENERGY_KEV = 0.1
MAX_ENERGY_KEV = 1000.0


class MaterialError(ValueError):
    """A material that xraylib cannot describe."""


@dataclass(frozen=True)
class Material:
    formula: str
    density_g_cm3: float

    def __post_init__(self):
        if not self.density_g_cm3 > 0:
            raise MaterialError(f"material {self.formula}: density_g_cm3 = {self.density_g_cm3}: must be > 0")
        try:
            xraylib.CompoundParser(self.formula)
        except ValueError:
            raise MaterialError(f"material {self.formula!r}: not a chemical formula xraylib understands") from None

    def refractive_index(self, energy_kev) -> np.ndarray:
        """Complex n = 1 - delta + i beta at each energy (keV)."""
        energies = np.asarray(energy_kev, dtype=float)
        if np.any(energies < MIN_ENERGY_KEV) or np.any(energies > MAX_ENERGY_KEV):
            raise MaterialError(
                f"energy outside {MIN_ENERGY_KEV}-{MAX_ENERGY_KEV} keV, the range of xraylib's cross-sections"
            )
        flat = [_index(self.formula, self.density_g_cm3, float(e)) for e in energies.ravel()]
        return np.array(flat, dtype=complex).reshape(energies.shape)

    def edge_energies_kev(self) -> np.ndarray:
        """Absorption-edge energies (K, L1-L3, M1-M5) of the material's elements, in keV."""
        shells = (xraylib.K_SHELL, xraylib.L1_SHELL, xraylib.L2_SHELL, xraylib.L3_SHELL,
                  xraylib.M1_SHELL, xraylib.M2_SHELL, xraylib.M3_SHELL, xraylib.M4_SHELL, xraylib.M5_SHELL)
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


def material(formula: str, density_g_cm3: float | None = None) -> Material:
    """A material with the given density, or its documented default film density."""
    if density_g_cm3 is None:
        if formula not in DEFAULT_DENSITY_G_CM3:
            raise MaterialError(
                f"material {formula!r} has no default density: give density_g_cm3 "
                f"(defaults exist for {', '.join(sorted(DEFAULT_DENSITY_G_CM3))})"
            )
        density_g_cm3 = DEFAULT_DENSITY_G_CM3[formula]
    return Material(formula, float(density_g_cm3))


@functools.lru_cache(maxsize=200_000)
def _index(formula: str, density: float, energy_kev: float) -> complex:
    return complex(
        xraylib.Refractive_Index_Re(formula, energy_kev, density),
        xraylib.Refractive_Index_Im(formula, energy_kev, density),
    )
