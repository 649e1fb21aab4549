"""The ABC solar-axion flux (axion-electron coupling): the shipped table against the published one, its sampling, the
spot's counts as g_ae^2 g_agamma^2, and the (g_ae g_agamma)^1/2 limit against the closed-form Asimov limit."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import chisquare, kstest

import raytrace
from raytrace.cli import main
from raytrace.helioscope import Exposure, Magnet
from raytrace.helioscope.sensitivity import ABC, YEAR_S, constant_response, sensitivity
from raytrace.sources.abc import DATA, abc_model, derive_table

REFERENCE = Path(__file__).parents[2] / "shared" / "reference" / "axion" / "solar_flux"
DAT, SPT = REFERENCE / "ABC_LennertHoof_202203.dat", REFERENCE / "ABC_LennertHoof_202203.spt"


def needs_reference(test):
    """Compares with the published ABC table in ../shared/reference: marked reference_data, skipped without it."""
    return pytest.mark.reference_data(
        pytest.mark.skipif(not DAT.exists(), reason="../shared/reference (the published ABC table) absent")(test)
    )


@needs_reference
def test_the_shipped_table_is_derived_from_the_published_one():
    from astropy.table import Table

    shipped, derived = Table.read(DATA, format="ascii.ecsv"), derive_table(DAT, SPT)
    for name in derived.colnames:
        np.testing.assert_array_equal(shipped[name], derived[name])


@needs_reference
def test_the_model_gives_the_published_spectrum_total_flux_and_lines():
    continuum, spt = np.loadtxt(DAT), np.loadtxt(SPT)
    model = abc_model()
    # the published total for g_ae = 1e-13: 2.563e9 (continuum) + 2.05e7 (lines) cm^-2 s^-1
    total = continuum.sum() * 0.1 + spt[1:].sum()
    assert model.flux() == pytest.approx(total, rel=1e-12) and total == pytest.approx(2.583e9, rel=1e-3)
    per_bin = continuum.sum(axis=0) * 0.1
    lines_in = [spt[1:, (spt[0] >= 0.1 * j) & (spt[0] < 0.1 * (j + 1))].sum() for j in range(200)]
    model_bins = [model.flux(0.1 * j, 0.1 * (j + 1)) for j in range(200)]
    np.testing.assert_allclose(model_bins, per_bin + np.array(lines_in), rtol=1e-9)
    # its peak lies near 1 keV, and the 6.6 keV Fe lines stand out of the continuum
    assert 0.7 < 0.1 * (np.argmax(per_bin) + 0.5) < 1.2
    assert model.flux(6.6, 6.7) > 1.5 * model.flux(6.0, 6.1)


@needs_reference
def test_the_radial_profile_follows_the_published_rings():
    continuum = np.loadtxt(DAT)
    model = abc_model()
    edges = np.arange(101) / 100.0
    worst = 0.0
    for j in range(5, 100):  # 0.5-10 keV
        cumulative = np.concatenate([[0.0], np.cumsum(continuum[:, j]) / continuum[:, j].sum()])
        worst = max(worst, np.abs(model.radial_cdf(edges, 0.1 * j + 0.05) - cumulative).max())
    assert worst < 0.02
    # nearer the core than the Primakoff emission: half within 0.11 solar radii at 1 keV (Primakoff: 0.19)
    half = brentq(lambda r: float(model.radial_cdf(r, 1.05)) - 0.5, 0.01, 0.9)
    assert half == pytest.approx(0.106, abs=0.005)


def test_sampling_follows_the_spectrum_and_each_parts_radial_profile():
    model = abc_model()
    u = np.random.default_rng(3).random((2, 400_000))
    energy, rho = model.sample(u[0], u[1], 0.5, 10.0)
    assert energy.min() >= 0.5 and energy.max() < 10.0
    edges = np.arange(0.5, 10.001, 0.25)
    expected = np.array([model.flux(a, b) for a, b in zip(edges[:-1], edges[1:])]) / model.flux(0.5, 10.0)
    counts, _ = np.histogram(energy, edges)
    assert chisquare(counts, expected * counts.sum()).pvalue > 1e-3
    # a line's photons sit at its energy, in its share; the continuum's radii follow its Weibull profile
    strongest = np.argmax(model.line_flux * ((model.line_kev >= 0.5) & (model.line_kev < 10)))
    expected_at_line = energy.size * model.line_flux[strongest] / model.flux(0.5, 10.0)
    assert abs(np.sum(energy == model.line_kev[strongest]) - expected_at_line) < 4 * math.sqrt(expected_at_line)
    in_bin = (energy > 3.01) & (energy < 3.09)
    assert kstest(rho[in_bin], lambda r: model.radial_cdf(r, 3.05)).pvalue > 1e-3
    assert model.mean(lambda e: e, 0.5, 10.0) == pytest.approx(energy.mean(), rel=3e-3)


@pytest.mark.slow
def test_the_spots_counts_go_as_gae_squared_times_gagamma_squared():
    optic = raytrace.load("xmm")
    source = raytrace.solar_source(flux="abc")
    assert (source.e_min_kev, source.e_max_kev) == (0.5, 10.0)

    def counts(g, g_ae):
        return raytrace.solar_spot(
            optic, source=source, rays=20_000, focal_plane_z_mm=0.0, exposure=Exposure(g, 1e7, 1.0, g_ae)
        ).signal_counts

    base = counts(1e-11, 1e-13)
    assert counts(1e-11, 3e-13) / base == pytest.approx(9.0, rel=1e-12)
    assert counts(2e-11, 1e-13) / base == pytest.approx(4.0, rel=1e-12)
    with pytest.raises(ValueError, match="it chooses a Primakoff model; the ABC flux has one"):
        raytrace.solar_source("hoof2022", flux="abc")


def test_the_abc_limit_is_the_closed_form_asimov_limit():
    """Flat efficiency, one spot, one energy bin, m_a -> 0: the expected 95 % limit on mu = ((g_ae g_agamma)^1/2 /
    (1e-13 x 1e-10 GeV^-1)^1/2)^4 solves 2 [mu S - B ln(1 + mu S / B)] = 1.645^2 on Asimov data n = B."""
    model, magnet, live = abc_model(), Magnet(), 1.5 * YEAR_S * 0.5
    area, efficiency, spot, b = 3848.0, 0.3, 0.3, 1e-7
    response = constant_response(model, [0.5, 10.0], area, efficiency, spot, b, "one bin")
    # independently: the table's flux in the band, and P = (g B L / 2)^2 in natural units (1 T = 195.35 eV^2,
    # 1 m = 5.0677e6 eV^-1) at g_agamma = 1e-10 GeV^-1 = 1e-19 eV^-1
    flux = sum(
        f * (min(hi, 10.0) - max(lo, 0.5)) / (hi - lo)
        for lo, hi, f in zip(model.edges_kev[:-1], model.edges_kev[1:], model.bin_flux)
        if hi > 0.5 and lo < 10.0
    )
    flux += model.line_flux[(model.line_kev >= 0.5) & (model.line_kev < 10.0)].sum()
    probability = (1e-19 * 2.0 * 195.35 * 10.0 * 5.0677e6 / 2) ** 2
    signal = live * flux * area * efficiency * probability
    background = b * spot * 9.5 * live
    mu = brentq(
        lambda m: 2 * (m * signal - background * math.log1p(m * signal / background)) - 1.6448536**2, 1e-12, 1e6
    )
    limit = sensitivity([response], magnet, [1e-5], [0.5, 10.0], live, None, coupling=ABC).low_mass(
        "sqrt_gae_gagamma_vacuum"
    )
    assert limit == pytest.approx(math.sqrt(1e-23) * mu**0.25, rel=2e-3)


@pytest.mark.slow
def test_sensitivity_to_gae_from_the_command_line(tmp_path, capsys):
    table_path = tmp_path / "abc.ecsv"
    assert (
        main(
            [
                "sensitivity",
                "--coupling",
                "gae",
                "--optics",
                "xmm",
                "--rays",
                "20000",
                "--mass",
                "1e-3,0.1",
                "--gas-years",
                "0",
                "-o",
                str(table_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "limits on (g_ae g_agamma)^1/2" in out and "GeV^-1/2" in out
    assert "below CAST 2013's low-mass limit (9e-12, which holds below 0.01 eV)" in out
    from astropy.table import Table

    table = Table.read(table_path)
    assert str(table["sqrt_gae_gagamma_vacuum"].unit) == "1 / GeV(1/2)"
    assert table.meta["coupling"] == "sqrt_gae_gagamma" and table.meta["solar_model"] == "abc_hoof2022"
    for argv, message in (
        (["sensitivity", "--coupling", "gae", "--solar-model", "cast2007"], "--solar-model"),
        (["spot", "xmm", "--gae", "1e-12"], "--gae: the axion-electron coupling sets the ABC flux"),
        (["spot", "xmm", "--flux", "abc", "--solar-model", "cast2007"], "--solar-model"),
    ):
        assert main(argv) == 2
        assert message in capsys.readouterr().err


def test_the_optimiser_refuses_to_rank_by_a_g_agamma_the_abc_flux_does_not_give():
    with pytest.raises(ValueError, match="ranks designs by g_agamma from the Primakoff flux"):
        raytrace.optimise([5000], source=raytrace.solar_source(flux="abc"), objective="sensitivity", rays=1000)


@pytest.mark.slow
def test_a_detector_threshold_takes_away_the_signal_below_it():
    import dataclasses
    import tomllib

    from raytrace.helioscope.detector import DEFAULT_DETECTOR_TOML, DetectorError, detector_from_dict

    base = raytrace.load_detector()
    cut = detector_from_dict(tomllib.loads(DEFAULT_DETECTOR_TOML) | {"threshold_kev": 1.0})
    assert cut == dataclasses.replace(base, threshold_kev=1.0)
    energies = np.array([0.6, 0.99, 1.0, 3.0])
    np.testing.assert_array_equal(cut.efficiency(energies)[:2], 0.0)
    np.testing.assert_array_equal(cut.efficiency(energies)[2:], base.efficiency(energies)[2:])
    source = raytrace.solar_source(flux="abc")
    full, above = (
        raytrace.solar_spot("xmm", source=source, detector=d, rays=20_000, focal_plane_z_mm=0.0) for d in (base, cut)
    )
    below = source.model.mean(lambda e: base.efficiency(e) * (e < 1.0), 0.5, 10.0)
    assert above.figures.mean_eps_d == pytest.approx(full.figures.mean_eps_d - below, rel=1e-9)
    assert above.signal_counts < full.signal_counts
    with pytest.raises(DetectorError, match="threshold_kev = -1: must be a number > 0"):
        detector_from_dict(tomllib.loads(DEFAULT_DETECTOR_TOML) | {"threshold_kev": -1})
