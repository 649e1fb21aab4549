"""Axion-photon conversion in the magnet's bore, in vacuum or with a buffer gas.

In natural units (eV), for an axion of mass m_a and energy E crossing a field B over a length L (van Bibber et
al., Phys. Rev. D 39 (1989) 2089; CAST Collaboration, Arik et al., JCAP 02 (2009) 008, eq. 2.1):

    P = (g B / 2)^2 [1 + exp(-Gamma L) - 2 exp(-Gamma L / 2) cos(q L)] / (q^2 + Gamma^2 / 4),
    q = (m_a^2 - m_gamma^2) / (2 E),

with Gamma the photon's absorption coefficient in the gas and m_gamma its plasma mass, m_gamma^2 = 4 pi alpha n_e /
m_e (hbar omega_p = 28.816 eV sqrt(rho <Z/A>), rho in g/cm3: PDG, Review of Particle Physics, "Passage of
particles through matter", table 34.1). In vacuum and for q L -> 0, P -> (g B L / 2)^2. Gamma is the gas density
times xraylib's total attenuation cross-section of helium (photoabsorption and scattering: a scattered photon
leaves the coherent beam).
"""

from __future__ import annotations

import math

import astropy.constants as const
import astropy.units as u
import numpy as np

HBAR_C_EV_M = float((const.hbar * const.c).to_value(u.eV * u.m))
METRE_IN_INV_EV = 1.0 / HBAR_C_EV_M
# B^2 / (2 mu0) in SI is B^2 / 2 in Heaviside-Lorentz natural units: 1 T = sqrt((hbar c)^3 / (e mu0)) eV^2
TESLA_IN_EV2 = math.sqrt(HBAR_C_EV_M**3 / (const.e.si.value * const.mu0.si.value))
HELIUM_4_MASS_U = 4.002602  # atomic mass of 4He (AME2020); 2 electrons per atom
HELIUM_Z = 2


def photon_mass_ev(density_g_cm3) -> np.ndarray:
    """Plasma mass of a photon in 4He of the given density (g/cm3): sqrt(4 pi alpha n_e (hbar c)^3 / m_e c^2)."""
    density = _non_negative(density_g_cm3, "density_g_cm3")
    electrons_per_m3 = density * 1e6 * const.N_A.value * HELIUM_Z / HELIUM_4_MASS_U
    m_e_ev = float((const.m_e * const.c**2).to_value(u.eV))
    return np.sqrt(4.0 * math.pi * const.alpha.value * electrons_per_m3 * HBAR_C_EV_M**3 / m_e_ev)


def density_for_photon_mass(mass_ev) -> np.ndarray:
    """The 4He density (g/cm3) that gives photons this plasma mass (eV): the inverse of `photon_mass_ev`."""
    mass = _non_negative(mass_ev, "photon mass (eV)")
    return mass**2 / photon_mass_ev(1.0) ** 2


def absorption_ev(energy_kev, density_g_cm3) -> np.ndarray:
    """Absorption coefficient Gamma of photons of `energy_kev` in 4He of the given density, in eV (the inverse
    absorption length times hbar c): rho x xraylib's total cross-section of He."""
    import xraylib

    from coatings import check_energies

    energy = np.asarray(energy_kev, dtype=float)
    density = _non_negative(density_g_cm3, "density_g_cm3")
    if not np.any(density > 0):  # vacuum: nothing absorbs, at any energy
        return np.zeros(np.broadcast_shapes(energy.shape, density.shape))
    cross_section_cm2_g = np.array([xraylib.CS_Total(HELIUM_Z, float(e)) for e in check_energies(energy)]).reshape(
        energy.shape
    )
    return density * cross_section_cm2_g * 100.0 * HBAR_C_EV_M  # cm^-1 -> m^-1 -> eV


def conversion_probability(
    g_agamma_per_gev, field_tesla, length_m, energy_kev=None, axion_mass_ev=0.0, gas_density_g_cm3=0.0
) -> np.ndarray:
    """Probability that an axion converts into a photon in the bore (module docstring), broadcast over its
    arguments: coupling (GeV^-1), field (T), length (m), axion energy (keV) and mass (eV), 4He density (g/cm3).
    Without an energy, the coherent vacuum limit (g B L / 2)^2."""
    g_b = 0.5 * np.asarray(g_agamma_per_gev, dtype=float) * 1e-9 * np.asarray(field_tesla, dtype=float) * TESLA_IN_EV2
    length = np.asarray(length_m, dtype=float) * METRE_IN_INV_EV
    if energy_kev is None:
        return (g_b * length) ** 2
    energy_ev = np.asarray(energy_kev, dtype=float) * 1e3
    if not np.all(energy_ev > 0):
        raise ValueError(f"energy_kev = {energy_kev}: the axion energy must be > 0")
    gamma = absorption_ev(energy_kev, gas_density_g_cm3)
    q = (np.asarray(axion_mass_ev, dtype=float) ** 2 - photon_mass_ev(gas_density_g_cm3) ** 2) / (2.0 * energy_ev)
    half_gamma_l, q_l = 0.5 * gamma * length, q * length
    phase_space = half_gamma_l**2 + q_l**2  # (q^2 + Gamma^2 / 4) L^2
    with np.errstate(invalid="ignore", divide="ignore"):
        general = (1.0 + np.exp(-2.0 * half_gamma_l) - 2.0 * np.exp(-half_gamma_l) * np.cos(q_l)) / phase_space
    # For (q^2 + Gamma^2 / 4) L^2 -> 0 the ratio is 0 / 0; its series to second order has an error below 1e-9 here.
    series = 1.0 - half_gamma_l + 7.0 / 12.0 * half_gamma_l**2 - q_l**2 / 12.0
    return (g_b * length) ** 2 * np.where(phase_space < 1e-6, series, general)


def _non_negative(value, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} = {value}: must be a finite number >= 0")
    return array
