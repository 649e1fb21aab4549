"""The projected g_agamma sensitivity: scaling laws, the buffer-gas schedule, the traced signal's bookkeeping, REST's
published BabyIAXO curves and the command line."""

import math

import numpy as np
import pytest

import raytrace
from raytrace.analysis.encircled import FocusedImage
from raytrace.cli import main
from raytrace.helioscope import Magnet, load_magnet
from raytrace.helioscope.conversion import conversion_probability
from raytrace.helioscope.sensitivity import (
    G_REF_PER_GEV,
    REFERENCE_ENERGY_KEV,
    REST2019_MAGNET,
    YEAR_S,
    SignalResponse,
    constant_response,
    density_for_photon_mass,
    density_steps,
    gas_schedule,
    rest2019,
    sensitivity,
    vacuum_spread,
)
from raytrace.sources import MODELS

MODEL = MODELS["hoof2022"]
EDGES = np.linspace(1.0, 10.0, 19)


def flat_response(rate_scale=1.0, spot_cm2=0.3, background=1e-7, name="bore"):
    return constant_response(MODEL, EDGES, 3848.0 * rate_scale, 0.25, spot_cm2, background, name)


def test_in_the_background_dominated_regime_g_goes_as_f_do_to_the_minus_quarter():
    # g^4 is proportional to sqrt(B) / S, i.e. to sqrt(b a) / <eps eta> = 1 / f_DO: g scales as f_DO^(-1/4)
    magnet, live = Magnet(), 1e3 * YEAR_S  # enough background counts for the asymptotic regime
    base = sensitivity([flat_response(background=1e-3)], magnet, [1e-3], EDGES, live, None).low_mass("g_agamma_vacuum")
    for rate, spot, f_do_ratio in ((4.0, 0.3, 4.0), (1.0, 1.2, 0.5), (2.0, 4.8, 0.5)):
        g = sensitivity([flat_response(rate, spot, 1e-3)], magnet, [1e-3], EDGES, live, None).low_mass(
            "g_agamma_vacuum"
        )
        assert g / base == pytest.approx(f_do_ratio**-0.25, rel=2e-3)


def test_low_mass_limit_is_the_counting_closed_form():
    # one bin, much background: mu = 1.645 sqrt(b) / s (one-sided 95 %), g = G_REF mu^(1/4)
    magnet, live = Magnet(), 1.5 * YEAR_S * 0.5
    response = constant_response(MODEL, [1.0, 10.0], 3848.0, 0.25, 0.3, 1e-3, "one bin")
    signal = live * response.axion_rate_s[0] * float(conversion_probability(G_REF_PER_GEV, 2.0, 10.0))
    background = 1e-3 * 0.3 * 9.0 * live
    expected = G_REF_PER_GEV * (1.6448536 * math.sqrt(background) / signal) ** 0.25
    g = sensitivity([response], magnet, [1e-4], [1.0, 10.0], live, None).low_mass("g_agamma_vacuum")
    assert g == pytest.approx(expected, rel=2e-3)


@pytest.mark.slow
def test_gas_steps_cover_the_masses_without_gaps_and_share_the_exposure():
    magnet = REST2019_MAGNET
    bores = [flat_response()] * 2
    schedule = gas_schedule(bores, magnet, 1.5 * YEAR_S * 0.5, 0.25)
    masses, densities = schedule.photon_mass_ev, schedule.density_g_cm3
    assert masses.size == 73  # "73 density settings" up to 0.25 eV (REST, axionlib examples/03.IAXO/README.md)
    assert masses[-2] < 0.25 <= masses[-1] and np.all(np.diff(masses) > 0)
    assert schedule.live_time_s.sum() == pytest.approx(1.5 * YEAR_S * 0.5, rel=1e-12)
    np.testing.assert_allclose(schedule.live_time_s[:5], schedule.live_time_s.sum() / 3 / 5, rtol=1e-12)
    # every mass up to the last step converts with at least half the peak probability of some step (or of vacuum)
    probe = np.linspace(0.0, masses[-1], 4000)
    coverage = [
        float(
            conversion_probability(1.0, magnet.field_tesla, magnet.length_m, REFERENCE_ENERGY_KEV, probe, 0.0)[k]
            / conversion_probability(1.0, magnet.field_tesla, 10.0)
        )
        for k in range(probe.size)
    ]
    for m_gamma, density in zip(masses, densities):
        peak = conversion_probability(1.0, magnet.field_tesla, magnet.length_m, REFERENCE_ENERGY_KEV, m_gamma, density)
        share = (
            conversion_probability(1.0, magnet.field_tesla, magnet.length_m, REFERENCE_ENERGY_KEV, probe, density)
            / peak
        )
        coverage = np.maximum(coverage, share)
    assert coverage.min() >= 0.5 - 1e-9
    # at high mass the steps are one resonance width apart: more steps per eV as the resonance narrows
    assert np.diff(masses)[-1] < 0.2 * np.diff(masses)[0]
    assert density_for_photon_mass(masses[-1]) == pytest.approx(1.51e-4, rel=0.02)  # 4He at ~1.2 bar, 293 K


def test_density_steps_refuse_a_bad_mass_and_one_needing_helium_denser_than_liquid():
    with pytest.raises(ValueError, match="max_gas_mass_ev"):
        density_steps(Magnet(), -1.0)
    # m_gamma = 28.77 eV sqrt(rho Z / A) (rho in g/cm3): 7.19 eV for liquid 4He's 0.125 g/cm3
    with pytest.raises(ValueError, match=r"denser than liquid helium \(0.125 g/cm3, photon mass 7.20 eV\)"):
        density_steps(Magnet(), 7.25)


@pytest.mark.slow
def test_the_traced_signal_adds_up_to_the_figures_of_merit():
    optic = raytrace.load("xmm")
    magnet = Magnet()
    source = raytrace.solar_source(magnet=magnet)
    spot = raytrace.solar_spot(optic, source=source, magnet=magnet, rays=100_000, focal_plane_z_mm=0.0)
    assert spot.spot_signal_cm2.sum() == pytest.approx(
        spot.figures.mean_eps_do_in_spot * magnet.bore_area_cm2, rel=1e-12
    )
    assert spot.spot_signal_cm2.size == spot.energy_edges_kev.size - 1 == source.energy_nodes().size
    from raytrace.helioscope.sensitivity import traced_response

    response = traced_response(spot, source, "xmm")
    assert response.resolution == spot.detector.resolution
    import dataclasses

    result = sensitivity([dataclasses.replace(response, resolution=None)], magnet, [1e-4], EDGES, 1.0, None)
    # the vacuum counts at low mass are the spot's detectable counts (in the spot and on the detector's opening) at
    # g = 1e-10 for 1 s (two code paths; the detector's resolution would move a little of them out of the window)
    at_reference = raytrace.solar_spot(
        optic,
        source=source,
        magnet=magnet,
        rays=100_000,
        focal_plane_z_mm=0.0,
        exposure=raytrace.Exposure(G_REF_PER_GEV, 1.0, 1.0),
    )
    assert result.meta["vacuum_signal_counts_at_reference"][0] == pytest.approx(
        at_reference.detectable_signal_counts, rel=1e-9
    )
    # XMM's spot is wider than the 8 mm opening: the strongback takes part of its signal and of its area
    assert 0.7 < at_reference.detectable_signal_counts / at_reference.signal_counts < 0.95
    overlap = math.pi * 0.4**2  # cm2: the spot's circle, about the axis, holds the opening's
    assert spot.radius_mm > 4.0 and response.spot_area_cm2 == pytest.approx(overlap, rel=1e-3)


def test_the_area_two_circles_share():
    from raytrace.helioscope.merit import circle_overlap_cm2

    assert circle_overlap_cm2(3.0, 5.0, 1.0) == pytest.approx(math.pi * 0.09)  # one inside the other
    assert circle_overlap_cm2(3.0, 5.0, 8.0) == 0.0
    assert circle_overlap_cm2(1.0, 1.0, 0.0) == pytest.approx(math.pi / 100)
    # equal circles one radius apart: 2 r^2 (pi/3 - sqrt(3)/4) (mm2)
    assert circle_overlap_cm2(2.0, 2.0, 2.0) == pytest.approx(2 * 4.0 * (math.pi / 3 - math.sqrt(3) / 4) / 100)
    points = np.random.default_rng(2).uniform(-5, 5, (2, 400_000))
    inside = (np.hypot(*points) < 4.0) & (np.hypot(points[0] - 3.0, points[1]) < 2.5)
    assert circle_overlap_cm2(4.0, 2.5, 3.0) == pytest.approx(inside.mean() * 100 / 100, rel=0.01)


def test_energy_nodes_histograms_add_up_to_the_whole():
    rng = np.random.default_rng(1)
    from raytrace.engine import Fate, Rays

    rays = Rays.empty(5000)
    rays.x[:], rays.y[:] = rng.normal(0, 1, (2, 5000))
    rays.weight[:] = rng.random(5000)
    nodes = np.array([1.025, 1.075, 1.125])
    rays.energy_kev[:] = nodes[rng.integers(0, 3, 5000)]
    rays.fate[:] = Fate.DOUBLE
    image = FocusedImage((0.0, 0.0), 0.1, 10, 5000, nodes)
    image.add(rays)
    np.testing.assert_allclose(image.radial_by_node.sum(axis=0), image.radial, rtol=1e-12, atol=1e-15)
    for k, node in enumerate(nodes):
        assert image.radial_by_node[k].sum() == pytest.approx(rays.weight[rays.energy_kev == node].sum(), rel=1e-12)
    rays.energy_kev[0] = 2.0
    with pytest.raises(ValueError, match="energy nodes"):
        image.add(rays)


@pytest.mark.slow
def test_rest2019_preset_reproduces_rest_published_curves(shared_reference):
    folder = shared_reference / "axion" / "sensitivity"
    vacuum = np.loadtxt(folder / "REST_BabyIAXO_Vacuum.csv")
    combined = np.loadtxt(folder / "REST_BabyIAXO_Combined.csv")
    keep = vacuum[:, 0] <= 0.25
    assert np.array_equal(vacuum[keep, 0], combined[keep, 0])
    result = rest2019(vacuum[keep, 0], MODEL)
    dev_vacuum = np.asarray(result.table["g_agamma_vacuum"]) / vacuum[keep, 1] - 1
    dev_combined = np.asarray(result.table["g_agamma_combined"]) / combined[keep, 1] - 1
    # REST draws one unbinned mock data set per curve (a few to 14 events), whose own spread at low mass is about
    # +-7 % (16-84 %); its published vacuum value lies above its median, ours is -4.8 % at low mass. Above 0.03 eV
    # REST's single mock set and the bin-centre sampling of the oscillating probability make its vacuum curve jagged.
    assert abs(dev_vacuum[0]) < 0.05 and abs(dev_combined[0]) < 0.05
    assert np.mean(np.abs(dev_combined) < 0.05) > 0.9 and np.abs(dev_combined).max() < 0.08
    assert np.mean(np.abs(dev_vacuum) < 0.07) > 0.9 and np.abs(dev_vacuum).max() < 0.16


def test_magnet_files_are_checked(tmp_path):
    path = tmp_path / "magnet.toml"
    path.write_text('name = "IAXO"\nfield_tesla = 2.5\nlength_m = 20\nbores = 8\nbore_radius_mm = 300\n')
    magnet = load_magnet(path)
    assert (magnet.field_tesla, magnet.length_m, magnet.bores, magnet.bore_radius_mm) == (2.5, 20.0, 8, 300.0)
    assert magnet.bore_gap_mm == Magnet().bore_gap_mm
    for text, message in (
        ("bores = 1.5\n", "bores = 1.5: must be a whole number"),
        ("field_tesla = -1\n", "field_tesla = -1.0: must be a number > 0"),
        ("length = 3\n", "unknown field 'length'"),
        ("field_tesla = 'x'\n", "must be a number"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_magnet(path)


def test_sensitivity_refuses_mismatched_bores_and_bins():
    with pytest.raises(ValueError, match="3 given for a magnet of 2 bores"):
        raytrace.sensitivity(["xmm", "xmm", "xmm"])
    with pytest.raises(ValueError, match="not a whole number of"):
        raytrace.sensitivity(energy_bins_kev=(1.0, 10.0, 0.7))
    with pytest.raises(ValueError, match="covers only"):
        sensitivity([flat_response()], Magnet(), [1e-3], [0.5, 10.0], 1.0, None)
    with pytest.raises(ValueError, match="rates"):
        SignalResponse("x", np.array([1.0, 2.0]), np.array([0.0]), 0.3, 1e-7)


def test_cli_preset_writes_the_table_and_plot(tmp_path, capsys):
    code = main(
        [
            "sensitivity",
            "--preset",
            "rest2019",
            "--mass",
            "1e-3:0.3:40log",
            "-o",
            str(tmp_path / "s.ecsv"),
            "--plot",
            str(tmp_path / "s.png"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "combined: 1.6" in out and "73 density steps" in out
    from astropy.table import Table

    table = Table.read(tmp_path / "s.ecsv")
    assert table.colnames == ["m_a", "g_agamma_vacuum", "g_agamma_gas", "g_agamma_combined"]
    assert str(table["m_a"].unit) == "eV" and str(table["g_agamma_combined"].unit) == "1 / GeV"
    assert table.meta["preset"] == "rest2019" and table.meta["gas_steps"] == 73
    assert (tmp_path / "s.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "args, message",
    [
        (("--preset", "rest2019", "--optics", "xmm"), "drop --optics"),
        (("--mass", "1:0.1:30log"), "a log grid needs 0 < START < STOP"),
        (("--mass", "1e-3:1:2.5log"), "COUNT must be a whole number"),
        (("--bins", "1:10"), "START:STOP:STEP"),
        (("--preset", "rest2019", "--rays", "5000"), "drop --rays"),
        (("--confidence", "1.5"), "--confidence 1.5: must lie between 0 and 1"),
        (("--optics", "xmm,nosuch"), "unknown optic 'nosuch'"),
    ],
)
def test_cli_bad_input_is_named(args, message, capsys):
    assert main(["sensitivity", *args]) == 2
    assert message in capsys.readouterr().err


def test_pseudo_experiments_scatter_about_the_asimov_median():
    bores = [flat_response()] * 2
    magnet, live = REST2019_MAGNET, 1.5 * YEAR_S * 0.5
    asimov = sensitivity(bores, magnet, [1e-3], EDGES, live, None).low_mass("g_agamma_vacuum")
    spread = vacuum_spread(bores, magnet, 1e-3, EDGES, live, 400, seed=2)
    assert spread["percentile_16"] < asimov < spread["percentile_84"]
    assert spread["median"] == pytest.approx(asimov, rel=0.03)
    assert 0.05 < spread["percentile_84"] / spread["median"] - 1 < 0.25  # ~10-20 background counts: wide


def test_a_fits_table_keeps_the_list_valued_provenance(tmp_path):
    import json

    from astropy.io import fits

    from raytrace.output import write_table

    result = rest2019(np.geomspace(1e-3, 0.1, 5), MODEL)
    write_table(result.table, tmp_path / "s.fits")
    header = fits.getheader(tmp_path / "s.fits", 1)
    masses = json.loads(header["gas_step_photon_mass_ev"])
    assert len(masses) == 73 and masses == pytest.approx(result.meta["gas_step_photon_mass_ev"], rel=1e-15)
    assert json.loads(header["energy_edges_kev"])[-1] == 10.0


def test_the_detectors_resolution_spreads_the_signal_over_the_bins_and_barely_moves_the_limit():
    import dataclasses

    from raytrace.helioscope import load_detector
    from raytrace.helioscope.detector import Resolution
    from raytrace.helioscope.sensitivity import _bin_counts

    magnet, live = Magnet(), 1.5 * YEAR_S * 0.5
    resolution = load_detector().resolution
    sharp = flat_response()
    smeared = dataclasses.replace(sharp, resolution=resolution)
    # the counts move between bins, but inside the window they are kept, except what leaks past its edges
    counts_sharp, counts_smeared = (_bin_counts(r, magnet, np.array([1e-4]), 0.0, EDGES)[0] for r in (sharp, smeared))
    assert counts_smeared.sum() == pytest.approx(counts_sharp.sum(), rel=5e-3)
    assert counts_smeared.sum() < counts_sharp.sum()
    assert np.abs(counts_smeared - counts_sharp).max() > 1e-3 * counts_sharp.max()
    # a photopeak far narrower than a bin gives back the sharp counts
    narrow = dataclasses.replace(sharp, resolution=Resolution(1e-4, 5.9))
    np.testing.assert_allclose(
        _bin_counts(narrow, magnet, np.array([1e-4]), 0.0, EDGES)[0],
        counts_sharp,
        rtol=1e-9,
        atol=1e-12 * counts_sharp.max(),
    )
    g_sharp, g_smeared = (
        sensitivity([r], magnet, [1e-3], EDGES, live, None).low_mass("g_agamma_vacuum") for r in (sharp, smeared)
    )
    assert 0 < g_smeared / g_sharp - 1 < 3e-3


@pytest.mark.slow
def test_signal_from_beyond_the_window_that_resolution_would_bring_in_is_negligible():
    """The traced band is the analysis window, so no signal is spread into it from outside. Tracing 0.5-10.5 keV and
    analysing 1-10 keV with and without the nodes outside the window bounds what that leaves out."""
    import dataclasses

    optic, magnet = raytrace.load("xmm"), Magnet()
    source = raytrace.solar_source(band_kev=(0.5, 10.5), magnet=magnet)
    spot = raytrace.solar_spot(optic, source=source, magnet=magnet, rays=100_000, focal_plane_z_mm=0.0)
    from raytrace.helioscope.sensitivity import traced_response

    wide = traced_response(spot, source, "xmm")
    assert wide.resolution is not None
    inside = (wide.energy_edges_kev[:-1] >= 1.0 - 1e-9) & (wide.energy_edges_kev[1:] <= 10.0 + 1e-9)
    first, last = np.flatnonzero(inside)[[0, -1]]
    window = dataclasses.replace(
        wide, energy_edges_kev=wide.energy_edges_kev[first : last + 2], axion_rate_s=wide.axion_rate_s[inside]
    )
    live = 1.5 * YEAR_S * 0.5
    g_wide, g_window = (
        sensitivity([r], magnet, [1e-3], EDGES, live, None).low_mass("g_agamma_vacuum") for r in (wide, window)
    )
    assert abs(g_window / g_wide - 1) < 1e-3
