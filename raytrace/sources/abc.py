"""The ABC solar-axion flux: axions from atomic recombination and de-excitation, bremsstrahlung and Compton
scattering in the Sun, set by the axion-electron coupling g_ae (the flux scales as g_ae^2; the photons then convert
in the magnet with P(g_agamma)). Its spectrum peaks near 1 keV, with lines, and it comes from nearer the solar core
than the Primakoff flux (half of it within 0.11 solar radii at 1 keV, against 0.19).

`TabulatedSolarModel` holds it as published tables are: a continuum given per energy bin (flat within a bin) and
monochromatic lines, each with its own radial profile on the disc, the Weibull distribution of
`raytrace.sources.solar` matched to the radii that hold 50 and 90 % of its flux. It offers the interface of
`raytrace.sources.solar.SolarAxionModel` (flux, spectrum-weighted means, joint sampling of energy and radius), so a
`SolarSource` carries either.

The shipped table (`data/abc_hoof2022.ecsv`) is made by `derive_table` from the ABC tables of the SolarAxionFlux
library (Hoof, Jaeckel, Thormaehlen, arXiv:2101.08789): ABC_LennertHoof_202203.dat (100 rings x 200 bins of
0.1 keV, cm^-2 s^-1 keV^-1 at Earth) and .spt (77 lines, cm^-2 s^-1 per ring) of rest-for-physics/axionlib-data
(CC BY 4.0), for g_ae = 1e-13: per bin and per line, the flux integrated over the disc and its two Weibull
parameters. Regenerate it with `python -m raytrace.sources.abc DIR` (DIR holding the two tables).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "abc_hoof2022.ecsv"
G_AE_REF = 1e-13  # the coupling the table is given for
TABLE_BIN_KEV = 0.1
MEAN_POINTS = 8  # Gauss-Legendre points per continuum bin for spectrum-weighted means


@dataclass(frozen=True, eq=False)
class TabulatedSolarModel:
    """A solar-axion flux given as a binned continuum and lines (energies in keV, fluxes in cm^-2 s^-1 at Earth for
    the reference coupling, integrated over the disc and over each bin), each with Weibull radial parameters
    (lambda, k) in solar radii."""

    name: str
    reference: str
    coupling: str  # which coupling the flux scales with, squared: "g_ae"
    reference_coupling: float
    edges_kev: np.ndarray
    bin_flux: np.ndarray
    bin_weibull: np.ndarray  # (bins, 2): lambda, k
    line_kev: np.ndarray
    line_flux: np.ndarray
    line_weibull: np.ndarray  # (lines, 2)

    def flux_scale(self, g_agamma_per_gev: float, g_ae: float) -> float:
        """The flux at these couplings over the table's: (g_ae / reference)^2."""
        return (g_ae / self.reference_coupling) ** 2

    def _components(self, e_min_kev: float, e_max_kev: float):
        """Energy intervals (lo, hi; lo == hi for a line), fluxes and Weibull parameters of the parts of the
        spectrum in [e_min, e_max): the continuum bins cut to the band, then the lines."""
        lo = np.maximum(self.edges_kev[:-1], e_min_kev)
        hi = np.minimum(self.edges_kev[1:], e_max_kev)
        width = self.edges_kev[1:] - self.edges_kev[:-1]
        keep = hi > lo
        lines = (self.line_kev >= e_min_kev) & (self.line_kev < e_max_kev)
        return (
            np.concatenate([lo[keep], self.line_kev[lines]]),
            np.concatenate([hi[keep], self.line_kev[lines]]),
            np.concatenate([self.bin_flux[keep] * (hi - lo)[keep] / width[keep], self.line_flux[lines]]),
            np.concatenate([self.bin_weibull[keep], self.line_weibull[lines]]),
        )

    def flux(self, e_min_kev: float = 0.0, e_max_kev: float = np.inf) -> float:
        """Integrated flux (cm^-2 s^-1) in [e_min, e_max) keV at the reference coupling."""
        return float(self._components(e_min_kev, e_max_kev)[2].sum())

    def mean(self, function, e_min_kev: float, e_max_kev: float) -> float:
        """The spectrum-weighted mean of function(E) over [e_min, e_max) keV: Gauss-Legendre within each continuum
        bin (flat spectrum there), the lines at their energies."""
        lo, hi, flux, _ = self._components(e_min_kev, e_max_kev)
        x, w = np.polynomial.legendre.leggauss(MEAN_POINTS)
        energy = 0.5 * (lo + hi)[:, None] + 0.5 * (hi - lo)[:, None] * x
        values = np.asarray(function(energy.ravel()), float).reshape(energy.shape) @ (0.5 * w)
        return float((flux * values).sum() / flux.sum())

    def radial_cdf(self, rho, energy_kev) -> np.ndarray:
        """Fraction of the continuum's flux at energy E inside projected radius rho (solar radii), on the disc."""
        lam, k = self.bin_weibull[self._bin(energy_kev)].T
        rho = np.minimum(np.asarray(rho, dtype=float), 1.0)
        return (1 - np.exp(-((rho / lam) ** k))) / (1 - np.exp(-((1.0 / lam) ** k)))

    def _bin(self, energy_kev):
        index = np.searchsorted(self.edges_kev, np.asarray(energy_kev, float), side="right") - 1
        return np.clip(index, 0, self.bin_flux.size - 1)

    def sample(self, u_energy, u_radius, e_min_kev: float, e_max_kev: float):
        """Energies (keV) and projected radii (solar radii) from uniform deviates by inverse transforms: the part of
        the spectrum (a bin or a line) from the cumulative flux, the energy within a bin linearly, then the radius
        from that part's own radial profile."""
        lo, hi, flux, weibull = self._components(e_min_kev, e_max_kev)
        cumulative = np.cumsum(flux)
        target = np.asarray(u_energy, float) * cumulative[-1]
        part = np.minimum(np.searchsorted(cumulative, target, side="right"), flux.size - 1)
        below = np.where(part > 0, cumulative[np.maximum(part - 1, 0)], 0.0)
        within = np.clip((target - below) / flux[part], 0.0, 1.0)
        energy = np.minimum(lo[part] + within * (hi[part] - lo[part]), np.nextafter(e_max_kev, 0.0))
        lam, k = weibull[part].T
        inside_limb = 1 - np.exp(-((1.0 / lam) ** k))
        rho = lam * (-np.log1p(-np.asarray(u_radius) * inside_limb)) ** (1 / k)
        return energy, rho


def _weibull(ring_flux: np.ndarray) -> tuple[float, float]:
    """(lambda, k) of the Weibull profile holding 50 and 90 % of a ring-integrated flux (rings of equal width from
    the disc centre out) at the same radii (the method of `raytrace.sources.solar.fit_model`)."""
    radius = np.arange(ring_flux.size + 1) / ring_flux.size
    cumulative = np.concatenate([[0.0], np.cumsum(ring_flux) / ring_flux.sum()])
    r50, r90 = np.interp([0.5, 0.9], cumulative, radius)
    k = math.log(math.log(10) / math.log(2)) / math.log(r90 / r50)
    return r50 / math.log(2) ** (1 / k), k


def derive_table(dat_path, spt_path):
    """The shipped ABC table (an astropy Table, one row per continuum bin then per line) from the SolarAxionFlux
    library's ABC tables (module docstring)."""
    from astropy.table import Table

    continuum = np.loadtxt(dat_path)  # rings x bins, cm^-2 s^-1 keV^-1 per ring
    spt = np.loadtxt(spt_path)
    energies, lines = spt[0], spt[1:]  # line energies (keV); rings x lines, cm^-2 s^-1 per ring
    if continuum.shape != (100, 200) or lines.shape != (100, energies.size):
        raise ValueError(f"{dat_path}, {spt_path}: expected 100 rings x 200 bins of 0.1 keV and 100 rings of lines")
    edges = np.round(TABLE_BIN_KEV * np.arange(continuum.shape[1] + 1), 9)
    rows = []
    for j in range(continuum.shape[1]):
        column = continuum[:, j]
        if column.sum() > 0:
            rows.append((edges[j], edges[j + 1], column.sum() * TABLE_BIN_KEV, *_weibull(column)))
    for j in np.argsort(energies, kind="stable"):
        if lines[:, j].sum() > 0:
            rows.append((energies[j], energies[j], lines[:, j].sum(), *_weibull(lines[:, j])))
    table = Table(rows=rows, names=("energy_lo", "energy_hi", "flux", "weibull_lambda", "weibull_k"))
    table["energy_lo"].unit = table["energy_hi"].unit = "keV"
    table["flux"].unit = "cm-2 s-1"
    table.meta.update(
        name="abc_hoof2022",
        coupling="g_ae",
        reference_coupling=G_AE_REF,
        reference="Derived (raytrace.sources.abc.derive_table) from the ABC tables ABC_LennertHoof_202203.dat/.spt "
        "of rest-for-physics/axionlib-data (CC BY 4.0), made with the SolarAxionFlux library (Hoof, "
        "Jaeckel, Thormaehlen, arXiv:2101.08789), for g_ae = 1e-13",
        description="Solar ABC axion flux at Earth (1 AU) for g_ae = 1e-13: rows with energy_lo < energy_hi are "
        "continuum bins (flux integrated over the bin and the disc, flat within the bin), rows with "
        "energy_lo = energy_hi lines; weibull_lambda and weibull_k (solar radii) give each part's "
        "radial profile on the disc, F(rho) = 1 - exp(-(rho / lambda)^k), matched at its 50 and 90 % "
        "radii",
    )
    return table


@cache
def abc_model() -> TabulatedSolarModel:
    """The shipped ABC model (Hoof et al. 2022, g_ae = 1e-13)."""
    from astropy.table import Table

    table = Table.read(DATA, format="ascii.ecsv")
    line = table["energy_lo"] == table["energy_hi"]
    weibull = np.column_stack([table["weibull_lambda"], table["weibull_k"]]).astype(float)
    bins = table[~line]
    edges = np.append(np.asarray(bins["energy_lo"], float), float(bins["energy_hi"][-1]))
    if not np.allclose(edges[1:-1], np.asarray(bins["energy_hi"], float)[:-1]):
        raise ValueError(f"{DATA}: the continuum bins must follow each other")
    return TabulatedSolarModel(
        table.meta["name"],
        table.meta["reference"],
        table.meta["coupling"],
        float(table.meta["reference_coupling"]),
        edges,
        np.asarray(bins["flux"], float),
        weibull[~line],
        np.asarray(table["energy_lo"][line], float),
        np.asarray(table["flux"][line], float),
        weibull[line],
    )


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    derived = derive_table(folder / "ABC_LennertHoof_202203.dat", folder / "ABC_LennertHoof_202203.spt")
    DATA.parent.mkdir(exist_ok=True)
    derived.write(DATA, format="ascii.ecsv", overwrite=True)
    print(f"wrote {DATA}: {len(derived)} rows")
