"""Solar axion source, detector model and the spot / figure-of-merit analysis."""

import math

import numpy as np
import pytest
from astropy.table import Table

from geometries import load_optic
from raytrace.engine import Rays, Trace
from raytrace.engine.rng import seed_key
from raytrace.helioscope.conversion import METRE_IN_INV_EV, TESLA_IN_EV2, conversion_probability
from raytrace.helioscope.detector import DetectorError, detector_from_dict, load_detector
from raytrace.helioscope.merit import Exposure, Magnet
from raytrace.helioscope.spot import solar_spot
from raytrace.sources.solar import MODELS, SolarSource, earth_sun_distance_au, fit_model, sun_radius_rad

PUBLISHED_RADII = {0.5: 0.108, 0.8: 0.183, 0.9: 0.235}  # docs/physics/conventions.md, all energies
HALF_RADII_BY_ENERGY = {1: 0.19, 2: 0.15, 3: 0.12, 4: 0.105, 6: 0.086, 8: 0.074}


def test_cast2007_spectrum_integrates_to_the_published_total():
    assert MODELS["cast2007"].flux() == pytest.approx(3.75e11, rel=0.01)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sampled_radial_profile_encloses_the_published_fractions(name):
    u = np.random.default_rng(1).random((2, 1_000_000))
    energy, rho = MODELS[name].sample(u[0], u[1], 0.1, 20.0)
    for q, radius in PUBLISHED_RADII.items():
        assert np.quantile(rho, q) == pytest.approx(radius, rel=0.03)
    assert rho.max() <= 1.0


def test_half_flux_radius_shrinks_with_energy_as_published():
    """The radii at 1 ... 8 keV are those of the tables' 0.1 keV bins starting there: compare at their centres."""
    model = MODELS["hoof2022"]
    grid = np.linspace(0, 1, 100_001)
    for energy, radius in HALF_RADII_BY_ENERGY.items():
        half = grid[np.searchsorted(model.radial_cdf(grid, energy + 0.05), 0.5)]
        assert half == pytest.approx(radius, rel=0.03)


def test_sampled_energies_follow_the_spectrum():
    model = MODELS["cast2007"]
    u = np.random.default_rng(2).random((2, 400_000))
    energy, _ = model.sample(u[0], u[1], 1.0, 10.0)
    counts, edges = np.histogram(energy, bins=np.linspace(1, 10, 19))
    expected = [model.flux(a, b) / model.flux(1, 10) * energy.size for a, b in zip(edges[:-1], edges[1:])]
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected))


def test_shipped_coefficients_are_the_fit_to_the_published_tables(shared_reference):
    folder = shared_reference / "axion" / "solar_flux"
    for name, table in (("hoof2022", "Primakoff_LennertHoof_202203"), ("giannotti2019", "Primakoff_Gianotti_201904")):
        data = np.loadtxt(folder / f"{table}.dat")
        fitted = fit_model(data, name, "")
        shipped = MODELS[name]
        np.testing.assert_allclose(fitted.spectrum_abc, shipped.spectrum_abc, rtol=1e-6)
        np.testing.assert_allclose(fitted.log_lambda_poly, shipped.log_lambda_poly, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(fitted.k_poly, shipped.k_poly, rtol=1e-5, atol=1e-7)
        energy = (np.arange(200) + 0.5) * 0.1
        band = (energy > 1) & (energy < 10)
        spectrum = data.sum(axis=0)  # summed over rings, per keV
        assert np.abs(shipped.flux_density(energy[band]) / spectrum[band] - 1).max() < 0.02
        radii = (np.arange(100) + 1) / 100
        for j in np.flatnonzero(band)[::10]:
            cumulative = np.cumsum(data[:, j]) / data[:, j].sum()
            assert np.abs(shipped.radial_cdf(radii, energy[j]) - cumulative).max() < 0.02


def test_sun_radius_and_distance():
    assert math.degrees(sun_radius_rad(1.0)) * 3600 == pytest.approx(959.645, abs=0.001)  # asin(696000 km / 1 au)
    assert earth_sun_distance_au("2027-01-03") == pytest.approx(0.9833, abs=2e-4)  # perihelion
    assert earth_sun_distance_au("2027-07-05") == pytest.approx(1.0167, abs=2e-4)  # aphelion
    with pytest.raises(ValueError, match="0.9-1.1 AU"):
        sun_radius_rad(2.0)


def test_solar_rays_come_from_the_disc_plus_the_pointing_offset():
    offset = math.radians(2 / 60)
    source = SolarSource(offset_rad=offset, offset_azimuth_rad=math.radians(30))
    trace = Trace(load_optic("xmm"), source)
    rays = Rays.empty(200_000)
    source.emit(seed_key(3), 0, len(rays), trace.aperture, rays)
    direction = np.stack([rays.dx, rays.dy, rays.dz])
    np.testing.assert_allclose(np.linalg.norm(direction, axis=0), 1.0, atol=1e-15)
    tx, ty = -rays.dx, -rays.dy
    np.testing.assert_allclose(
        [tx.mean(), ty.mean()], [offset * math.cos(math.radians(30)), offset * math.sin(math.radians(30))], atol=2e-6
    )
    from_centre = np.hypot(tx - tx.mean(), ty - ty.mean())
    assert from_centre.max() <= sun_radius_rad() * 1.0001
    assert np.isin(rays.energy_kev, source.energy_nodes()).all()
    assert rays.weight.sum() == pytest.approx(trace.aperture_area_cm2, rel=1e-5)  # cos(theta) of at most 16 arcmin


def test_detector_matches_the_reference_efficiency(shared_reference):
    ref = Table.read(shared_reference / "axion" / "detector" / "detector_efficiency_derived.csv", format="ascii.csv")
    energy = np.asarray(ref["E_keV"])
    band = (energy >= 1.0) & (energy <= 10.0)
    ours = load_detector().efficiency(energy[band])
    theirs = np.asarray(ref["eff_MM_mylar4um_Al40nm_Ar1.4bar_3cm"])[band]
    above = energy[band] >= 1.3  # below, xraylib's and Henke's Mylar attenuation differ by up to 5 %
    assert np.abs(ours[above] / theirs[above] - 1).max() < 0.03
    weight = MODELS["cast2007"].flux_density(energy[band])
    assert np.sum(weight * ours) / np.sum(weight) == pytest.approx(0.775, rel=0.01)


def test_gas_density_and_default_detector():
    detector = load_detector()
    assert detector.gas.density_g_cm3 == pytest.approx(1.4e5 * 39.948e-3 / (8.314462618 * 293.15) * 1e-3, rel=1e-3)
    assert detector.opening_diameter_mm == 8.0 and detector.background_counts_kev_cm2_s == 1e-7
    # above the Ar K edge the gas absorbs more: a step in efficiency at 3.206 keV
    below, above = detector.efficiency([3.19, 3.22])
    assert above > 1.4 * below


@pytest.mark.parametrize(
    "change, message",
    [
        ({"gas": {"material": "Ar", "pressure_bar": -1, "temperature_k": 293, "depth_cm": 3}}, "pressure_bar = -1"),
        ({"window": [{"material": "Qq", "thickness_um": 1}]}, "not a chemical formula"),
        ({"window": [{"material": "Al", "thickness_um": 1, "colour": "red"}]}, "unknown field 'colour'"),
        ({"background_counts_kev_cm2_s": 0}, "background_counts_kev_cm2_s = 0"),
    ],
)
def test_bad_detector_descriptions_name_the_field(change, message):
    import tomllib

    from raytrace.helioscope.detector import DEFAULT_DETECTOR_TOML

    data = tomllib.loads(DEFAULT_DETECTOR_TOML) | change
    with pytest.raises(DetectorError, match=message):
        detector_from_dict(data)


def test_conversion_probability_matches_cast():
    """CAST: P = 1.7e-17 for g = 1e-10 GeV^-1, B = 9 T, L = 9.26 m (Andriamonje et al. 2007)."""
    assert conversion_probability(1e-10, 9.0, 9.26) == pytest.approx(1.7e-17, rel=0.02)


@pytest.mark.slow
def test_spot_of_an_ideal_optic_is_the_sun_imaged_at_f(xmm_ideal):
    """With R = 1 and no slope errors the detected signal is the solar disc profile, weighted by the detector's
    efficiency at each energy, scaled by f tan."""
    source, detector = SolarSource(), load_detector()
    result = solar_spot(xmm_ideal, source, detector, n_rays=300_000, seed=4)
    u = np.random.default_rng(5).random((2, 2_000_000))
    energy, rho = source.model.sample(u[0], u[1], source.e_min_kev, source.e_max_kev)
    order = np.argsort(rho)
    cumulative = np.cumsum(detector.efficiency(energy)[order])
    for q in (0.5, 0.8, 0.9):
        quantile = rho[order][np.searchsorted(cumulative, q * cumulative[-1])]
        expected_mm = xmm_ideal.focal_length_mm * math.tan(quantile * sun_radius_rad())
        assert math.sqrt(result.figures.areas_cm2[q] / math.pi) * 10 == pytest.approx(expected_mm, rel=0.03)


def _encircled(result):
    return result.encircled["radius"].value, np.asarray(result.encircled["encircled_fraction"])


@pytest.mark.slow
def test_figures_of_merit_follow_their_definitions(xmm):
    source, detector = SolarSource(), load_detector()
    one = solar_spot(xmm, source, detector, n_rays=100_000, seed=6)
    two = solar_spot(
        xmm,
        source,
        detector,
        n_rays=100_000,
        seed=6,
        magnet=Magnet(4.0, 5.0),
        exposure=Exposure(g_agamma_per_gev=2e-11),
    )
    fom, bore = one.figures, math.pi * 35.0**2
    assert fom.mean_eps_o == pytest.approx(fom.mean_effective_area_cm2 / bore, rel=1e-12)
    assert fom.mean_eps_do_in_spot == pytest.approx(fom.mean_eps_do * one.eta_d, rel=1e-12)
    assert fom.f_do == pytest.approx(fom.mean_eps_do_in_spot / math.sqrt(1e-7 * one.area_cm2), rel=1e-12)
    assert fom.f_o == pytest.approx(
        fom.mean_eps_o * fom.optics_spot.fraction / math.sqrt(fom.optics_spot.area_cm2), rel=1e-12
    )
    assert fom.f_d == pytest.approx(fom.mean_eps_d / math.sqrt(1e-7), rel=1e-12)
    assert 0.7 < fom.mean_eps_do / fom.mean_eps_o < 0.85  # the detector's efficiency over the focused spectrum
    assert two.signal_counts / one.signal_counts == pytest.approx(16.0, rel=1e-9)  # g^4, same B L
    # the spot radius maximises eta_D / r on the detected signal
    radius, fraction = _encircled(one)
    assert one.eta_d / one.radius_mm >= (fraction / radius).max() * (1 - 1e-9)


def test_f_do_is_proportional_to_signal_over_sqrt_background():
    """S / sqrt(B) = f_DO x A_bore x Phi_band(g) x P(g, B, L) x sqrt(T / dE), constants in closed form."""
    optic = load_optic("babyiaxo")
    source = SolarSource(e_min_kev=2.0, e_max_kev=7.0)
    magnet, exposure = Magnet(2.5, 10.0), Exposure(3e-11, 4.7e7, 0.5)
    result = solar_spot(
        optic, source, load_detector(), n_rays=50_000, seed=2, focal_plane_z_mm=-28.0, magnet=magnet, exposure=exposure
    )
    g = 3e-11
    flux = source.model.flux(2.0, 7.0) * (g / 1e-10) ** 2
    # P = (g B L / 2)^2 with g in eV^-1, B in eV^2 (1 T = 195.35 eV^2), L in eV^-1 (hbar c = 1.97327e-7 eV m)
    probability = (0.5 * g * 1e-9 * 2.5 * TESLA_IN_EV2 * 10.0 * METRE_IN_INV_EV) ** 2
    constant = math.pi * 35.0**2 * flux * probability * math.sqrt(4.7e7 * 0.5 / 5.0)
    ratio = result.signal_counts / math.sqrt(result.background_counts)
    assert ratio == pytest.approx(constant * result.f_do, rel=1e-12)
