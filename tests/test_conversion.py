"""Axion-photon conversion in vacuum and in a 4He buffer gas, against closed forms and published numbers."""

import math

import mpmath
import numpy as np
import pytest

from raytrace.helioscope.conversion import (
    METRE_IN_INV_EV,
    TESLA_IN_EV2,
    absorption_ev,
    conversion_probability,
    photon_mass_ev,
)

G, B, L = 1e-11, 2.0, 10.0  # BabyIAXO-like: GeV^-1, T, m


def test_vacuum_massless_axions_convert_coherently():
    coherent = (0.5 * G * 1e-9 * B * TESLA_IN_EV2 * L * METRE_IN_INV_EV) ** 2
    assert conversion_probability(G, B, L) == pytest.approx(coherent, rel=1e-15)
    np.testing.assert_allclose(conversion_probability(G, B, L, np.array([1.0, 4.2, 10.0])), coherent, rtol=1e-15)
    assert TESLA_IN_EV2 == pytest.approx(195.35, rel=1e-4)  # 1 T = 195.35 eV^2 (Heaviside-Lorentz natural units)
    assert 1 / METRE_IN_INV_EV == pytest.approx(1.97326980e-7, rel=1e-8)  # hbar c in eV m
    # CAST (9 T, 9.26 m, g = 1e-10 GeV^-1): P = 1.7e-17 (CAST, Andriamonje et al., JCAP 04 (2007) 010)
    assert conversion_probability(1e-10, 9.0, 9.26) == pytest.approx(1.7e-17, rel=0.02)


@pytest.mark.parametrize("mass_ev", [0.005, 0.02, 0.05, 0.3])
def test_massive_axions_in_vacuum_lose_coherence_as_sin_qL_over_q(mass_ev):
    energy_kev = 4.2
    q = mass_ev**2 / (2 * energy_kev * 1e3)
    length = L * METRE_IN_INV_EV
    expected = (G * 1e-9 * B * TESLA_IN_EV2 / q) ** 2 * math.sin(q * length / 2) ** 2
    assert conversion_probability(G, B, L, energy_kev, mass_ev) == pytest.approx(expected, rel=1e-9)


def test_at_the_gas_resonance_only_absorption_limits_the_conversion():
    density = 1e-4  # g/cm3
    energy_kev = 3.0
    gamma = float(absorption_ev(energy_kev, density))
    length = L * METRE_IN_INV_EV
    expected = (0.5 * G * 1e-9 * B * TESLA_IN_EV2) ** 2 * (1 - math.exp(-gamma * length / 2)) ** 2 / (gamma / 2) ** 2
    p = conversion_probability(G, B, L, energy_kev, float(photon_mass_ev(density)), density)
    assert p == pytest.approx(expected, rel=1e-9)
    assert p < conversion_probability(G, B, L)  # absorption costs signal


def test_photon_mass_is_the_plasma_frequency():
    # PDG, "Passage of particles through matter" (table 34.1): hbar omega_p = 28.816 eV sqrt(rho <Z/A>)
    for density in (1e-5, 1e-3, 0.1):
        assert photon_mass_ev(density) == pytest.approx(28.816 * math.sqrt(density * 2 / 4.002602), rel=2e-5)
    # CAST's 4He phase (Arik et al., JCAP 02 (2009) 008): m_gamma = sqrt(0.02 p / T) eV, p in mbar, T in K
    pressure_pa, temperature_k = 10.0 * 100, 1.8
    density = pressure_pa * 4.002602e-3 / (8.314462618 * temperature_k) * 1e-3  # ideal gas, g/cm3
    assert photon_mass_ev(density) == pytest.approx(math.sqrt(0.02 * 10.0 / temperature_k), rel=2e-3)


def test_near_coherence_the_probability_keeps_its_digits():
    energy_kev, density = 4.0, 1e-7
    m_gamma = float(photon_mass_ev(density))
    gamma = float(absorption_ev(energy_kev, density))
    length = L * METRE_IN_INV_EV
    # masses that put (q^2 + Gamma^2 / 4) L^2 on both sides of the switch to the series at 1e-6
    masses = m_gamma + np.linspace(-4e-5, 4e-5, 41)
    p = conversion_probability(G, B, L, energy_kev, masses, density) / conversion_probability(G, B, L)
    with mpmath.workdps(50):
        for mass, value in zip(masses, p):
            half_gamma_l = mpmath.mpf(gamma) * length / 2
            q_l = (mpmath.mpf(mass) ** 2 - mpmath.mpf(m_gamma) ** 2) / (2 * energy_kev * 1e3) * length
            exact = (1 + mpmath.exp(-2 * half_gamma_l) - 2 * mpmath.exp(-half_gamma_l) * mpmath.cos(q_l)) / (
                half_gamma_l**2 + q_l**2
            )
            assert value == pytest.approx(float(exact), rel=1e-9)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="density_g_cm3 = -1"):
        conversion_probability(G, B, L, 4.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="energy_kev = 0"):
        conversion_probability(G, B, L, 0.0)
    with pytest.raises(ValueError, match=r"energy 0.01 keV: energies must lie within"):  # xraylib's range, in gas
        conversion_probability(G, B, L, 0.01, 0.1, 1e-4)
    assert conversion_probability(G, B, L, 0.01, 0.0, 0.0) == pytest.approx(conversion_probability(G, B, L))


def test_the_coherence_first_vanishes_at_qL_two_pi():
    energy_kev = 4.2
    length = L * METRE_IN_INV_EV
    first_zero = math.sqrt(2 * math.pi / length * 2 * energy_kev * 1e3)  # q L = 2 pi, q = m^2 / 2E
    coherent = conversion_probability(G, B, L)
    assert conversion_probability(G, B, L, energy_kev, first_zero) < 1e-20 * coherent
    for mass in (0.99 * first_zero, 1.01 * first_zero):
        assert conversion_probability(G, B, L, energy_kev, mass) > 1e-6 * coherent
    assert first_zero == pytest.approx(0.0322, rel=1e-2)  # BabyIAXO's vacuum reach: a few 1e-2 eV
