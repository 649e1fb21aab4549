"""The spot's response files: the detector's photopeak against its closed form, the ARF and RMF folding back to the
spot's expected counts, and a faked solar-axion spectrum fitted back through them, by a reimplementation of the
OGIP folding that XSPEC and Sherpa do (always) and by Sherpa itself (where it is installed)."""

import math

import numpy as np
import pytest
from astropy.io import fits
from scipy.optimize import minimize_scalar

from raytrace import api
from raytrace.helioscope import Exposure, load_detector, spot_arf, spot_rmf
from raytrace.helioscope.detector import DetectorError, Resolution
from raytrace.output import write_arf, write_rmf

G_PER_GEV = 1e-10
EXPOSURE_S = 2e7  # x a data-taking efficiency of 0.5, with G_PER_GEV: about 1300 detectable signal counts for XMM


@pytest.fixture(scope="module")
def spot():
    return api.solar_spot("xmm", rays=200_000, focal_plane_z_mm=0.0, exposure=Exposure(G_PER_GEV, EXPOSURE_S, 0.5))


def _live_time_s(spot):
    return spot.meta["exposure_s"] * spot.meta["efficiency"]


@pytest.fixture(scope="module")
def files(spot, tmp_path_factory):
    """ARF and RMF paths for each place of the detector efficiency."""
    folder = tmp_path_factory.mktemp("response")
    out = {}
    for place in ("arf", "rmf"):
        out[place] = (
            write_arf(spot_arf(spot, place), folder / f"spot_{place}.arf"),
            write_rmf(spot_rmf(spot, place), folder / f"spot_{place}.rmf"),
        )
    return out


def _flux_per_s(spot, lo, hi):
    """Photons per cm2 and s leaving the magnet in each bin [lo, hi] keV, for the spot's g: the spectrum integrated
    over the bin times P(g, B, L)."""
    source = api.solar_source()
    share = np.array([source.model.flux(a, b) for a, b in zip(lo, hi)]) / source.band_flux()
    return spot.counts_per_cm2 / _live_time_s(spot) * share


def _read_ogip(arf_path, rmf_path):
    """ARF and RMF as XSPEC reads them: SPECRESP on ENERG_LO/HI; the matrix unpacked from its groups (F_CHAN counted
    from the column's TLMIN), channel bounds from EBOUNDS."""
    with fits.open(arf_path) as arf, fits.open(rmf_path) as rmf:
        spec = arf["SPECRESP"].data
        matrix_hdu = rmf["MATRIX"]
        first_channel = matrix_hdu.header.get(f"TLMIN{matrix_hdu.columns.names.index('F_CHAN') + 1}", 1)
        n_chan = matrix_hdu.header["DETCHANS"]
        dense = np.zeros((len(matrix_hdu.data), n_chan))
        for row, entry in enumerate(matrix_hdu.data):
            f_chan, n = np.atleast_1d(entry["F_CHAN"]), np.atleast_1d(entry["N_CHAN"])
            values, at = np.asarray(entry["MATRIX"], float), 0
            for start, count in zip(f_chan[: entry["N_GRP"]], n[: entry["N_GRP"]]):
                dense[row, start - first_channel : start - first_channel + count] = values[at : at + count]
                at += count
        bounds = rmf["EBOUNDS"].data
        np.testing.assert_array_equal(matrix_hdu.data["ENERG_LO"], spec["ENERG_LO"])  # XSPEC requires one grid
        return (
            np.asarray(spec["ENERG_LO"], float),
            np.asarray(spec["ENERG_HI"], float),
            np.asarray(spec["SPECRESP"], float),
            dense,
            np.asarray(bounds["E_MIN"], float),
            np.asarray(bounds["E_MAX"], float),
            matrix_hdu.header["HDUCLAS3"],
        )


def test_the_photopeak_is_a_gaussian_whose_fwhm_grows_as_the_root_of_the_energy():
    detector = load_detector()
    assert detector.resolution == Resolution(0.649, 5.9)  # 11 % FWHM at 5.9 keV
    width = 0.01
    channels = width * np.arange(1501)
    for energy in (1.0, 3.0, 5.9, 9.5):
        row = detector.redistribution([energy], channels)[0]
        centres = channels[:-1] + width / 2
        mean = (row * centres).sum()
        variance = (row * (centres - mean) ** 2).sum() - width**2 / 12  # Sheppard's correction for the channels
        fwhm = 2 * math.sqrt(2 * math.log(2)) * math.sqrt(variance)
        assert row.sum() == pytest.approx(1.0, abs=1e-12)
        assert mean == pytest.approx(energy, abs=1e-9)
        assert fwhm == pytest.approx(0.649 * math.sqrt(energy / 5.9), rel=1e-4)


@pytest.mark.slow
def test_a_detector_without_resolution_has_no_rmf(spot):
    import dataclasses

    bare = dataclasses.replace(spot, detector=dataclasses.replace(spot.detector, resolution=None))
    spot_arf(bare)  # the ARF does not need it
    with pytest.raises(DetectorError, match="needs its energy resolution"):
        spot_rmf(bare)
    with pytest.raises(ValueError, match="in the arf or the rmf"):
        spot_arf(spot, "pha")


@pytest.mark.parametrize("place", ["arf", "rmf"])
def test_folded_through_arf_and_rmf_the_flux_gives_the_spots_detectable_counts(spot, files, place):
    arf, rmf = spot_arf(spot, place), spot_rmf(spot, place)
    edges = spot.energy_edges_kev
    flux = _flux_per_s(spot, edges[:-1], edges[1:])
    counts = arf.meta["live_time_s"] * (flux * arf["effective_area"].value) @ rmf.matrix
    assert arf.meta["live_time_s"] == EXPOSURE_S * 0.5
    assert counts.sum() == pytest.approx(spot.detectable_signal_counts, rel=1e-9)
    # the files hold single precision: read back, to 1e-6
    lo, hi, area, matrix, *_ = _read_ogip(*files[place])
    from_files = arf.meta["live_time_s"] * (_flux_per_s(spot, lo, hi) * area) @ matrix
    assert from_files.sum() == pytest.approx(spot.detectable_signal_counts, rel=1e-6)
    # XMM's spot (4.8 mm radius) is wider than the Micromegas' opening (4 mm): the strongback takes a share
    assert 0.7 < spot.detectable_signal_counts / spot.signal_counts < 0.95
    # the photopeak keeps the counts near their energy: the counts recorded in 1-10 keV miss only the wings
    recorded = 0.5 * (rmf.channel_edges_kev[:-1] + rmf.channel_edges_kev[1:])
    assert counts[(recorded > 1) & (recorded < 10)].sum() / counts.sum() == pytest.approx(1.0, abs=0.03)


def test_the_detector_efficiency_is_in_one_file_only(spot, files):
    efficiency = spot.detector.efficiency(0.5 * (spot.energy_edges_kev[:-1] + spot.energy_edges_kev[1:]))
    with_eff, without = spot_arf(spot, "arf"), spot_arf(spot, "rmf")
    np.testing.assert_allclose(with_eff["effective_area"] / without["effective_area"], efficiency, rtol=1e-12)
    np.testing.assert_allclose(spot_rmf(spot, "rmf").matrix.sum(axis=1), efficiency, rtol=1e-12)
    np.testing.assert_allclose(spot_rmf(spot, "arf").matrix.sum(axis=1), 1.0, rtol=1e-12)
    assert _read_ogip(*files["arf"])[-1] == "REDIST" and _read_ogip(*files["rmf"])[-1] == "DETECTOR"
    with fits.open(files["arf"][0]) as hdus:
        assert hdus["SPECRESP"].header["DETECTOR_EFFICIENCY"] == "in the ARF"
        assert hdus["SPECRESP"].header["SPOT_RADIUS_MM"] == pytest.approx(spot.radius_mm)


def test_the_arf_is_the_optics_area_times_the_share_of_the_sun_inside_the_spot(spot):
    """Sum over bins of share x ARF is the detectable part of <A_eff eps_D eta_D> (cm2). Per energy, the ARF without
    eps_D is the optic's on-axis area times the share of the solar emission at that energy that the region holds
    (the spot's circle cut by the detector's opening; the model's radial profile narrows with energy), times a
    constant near 1 (the bore's shadow and the PSF's wing)."""
    from raytrace.sources.solar import sun_radius_rad

    arf = spot_arf(spot, "arf")
    edges = spot.energy_edges_kev
    share = _flux_per_s(spot, edges[:-1], edges[1:]) / (spot.counts_per_cm2 / _live_time_s(spot))
    assert (share * arf["effective_area"].value).sum() == pytest.approx(
        spot.figures.mean_eps_do_in_spot
        * spot.meta["bore_area_cm2"]
        * spot.detectable_signal_counts
        / spot.signal_counts,
        rel=1e-9,
    )
    energies = np.array([1.5, 3.0, 5.0, 7.0, 8.5])
    on_axis = api.effective_area("xmm", energies, rays=200_000)["effective_area"].value
    optics_only = spot_arf(spot, "rmf")
    near = np.abs(optics_only["energy"].value[None, :] - energies[:, None]) < 0.5
    spot_area = (near * optics_only["effective_area"].value).sum(axis=1) / near.sum(axis=1)
    # the spot and the opening are circles about the axis (on axis): their overlap is the smaller one
    region_mm = min(spot.radius_mm, 0.5 * spot.detector.opening_diameter_mm)
    sun_in_spot = api.solar_source().model.radial_cdf(
        region_mm / (spot.meta["focal_length_mm"] * math.tan(sun_radius_rad())), energies
    )
    assert sun_in_spot[[0, -1]] == pytest.approx([0.30, 0.81], abs=0.01)
    ratio = spot_area / (on_axis * sun_in_spot)
    assert np.all((ratio > 0.85) & (ratio < 1.05)) and ratio.max() / ratio.min() < 1.12, ratio  # 3 % noise


def _fake_and_fit_by_cash(spot, arf_path, rmf_path, seed):
    """Poisson counts from the folded model plus the spot's flat background, then the Cash statistic minimised over
    the normalisation (g / g_spot)^4: the reimplementation of the fit Sherpa does below."""
    lo, hi, area, matrix, e_min, e_max, _ = _read_ogip(arf_path, rmf_path)
    signal = _live_time_s(spot) * (_flux_per_s(spot, lo, hi) * area) @ matrix
    background = spot.background_counts / (hi[-1] - lo[0]) * (e_max - e_min)  # flat in recorded energy
    band = (e_min >= 1.0) & (e_max <= 10.0)
    data = np.random.default_rng(seed).poisson(signal + background)[band]
    signal, background = signal[band], background[band]

    def cash(norm):
        model = norm * signal + background
        return 2 * (model - data * np.log(model)).sum()

    best = minimize_scalar(cash, bounds=(0.1, 10), method="bounded", options={"xatol": 1e-10}).x
    curvature = 2 * (data * signal**2 / (best * signal + background) ** 2).sum()  # d2(cash)/dnorm2
    return best, math.sqrt(2 / curvature), signal.sum()


@pytest.mark.parametrize("place", ["arf", "rmf"])
def test_a_faked_solar_axion_spectrum_gives_back_its_coupling(spot, files, place):
    fits_ = [_fake_and_fit_by_cash(spot, *files[place], seed) for seed in range(20)]
    norms, errors = np.array([f[0] for f in fits_]), np.array([f[1] for f in fits_])
    expected_error = 1 / math.sqrt(fits_[0][2])  # Poisson: sigma(N) / N
    assert errors.mean() == pytest.approx(expected_error, rel=0.05)
    pulls = (norms - 1) / errors
    assert abs(pulls.mean()) < 3 / math.sqrt(len(pulls)) and 0.5 < pulls.std() < 1.5


def test_sherpa_reads_the_files_and_fits_g_to_the_fourth_back(spot, files):
    ui = pytest.importorskip("sherpa.astro.ui")
    arf_path, rmf_path = files["arf"]
    ui.clean()
    rmf, arf = ui.unpack_rmf(str(rmf_path)), ui.unpack_arf(str(arf_path))
    ui.dataspace1d(1, rmf.detchans, dstype=ui.DataPHA)
    ui.set_arf(arf)
    ui.set_rmf(rmf)
    ui.set_exposure(_live_time_s(spot))

    def axion(pars, lo, hi=None):  # photons cm^-2 s^-1 per bin, times (g / g_spot)^4
        return pars[0] * _flux_per_s(spot, np.asarray(lo), np.asarray(hi))

    def background(pars, channel, hi=None):  # counts per channel, flat in recorded energy at all channels (a
        # filter would not do: Sherpa 4.19 evaluates this on the noticed channels and the response on all of them)
        width = float(rmf.e_max[0] - rmf.e_min[0])
        return np.full(len(channel), pars[0] * width)

    ui.load_user_model(axion, "axion")
    ui.add_user_pars("axion", ["g4"], [1.0], parmins=[0.0], parmaxs=[100.0])
    ui.load_user_model(background, "flat")
    ui.add_user_pars("flat", ["per_kev"], [spot.background_counts / 9.0], parfrozen=[True])
    ui.set_full_model(ui.get_response()(ui.get_model_component("axion")) + ui.get_model_component("flat"))
    ui.set_rng(np.random.default_rng(7))
    ui.fake_pha(1, arf, rmf, exposure=_live_time_s(spot))
    counts = ui.get_data().counts
    ui.set_stat("cstat")
    ui.get_model_component("axion").g4 = 0.5
    ui.fit()
    ui.covar()
    result = ui.get_covar_results()
    g4, error = result.parvals[0], result.parmaxes[0]
    background = spot.background_counts / 9.0 * (rmf.e_max[-1] - rmf.e_min[0])  # over all the channels
    assert abs(counts.sum() - spot.detectable_signal_counts - background) < 5 * math.sqrt(counts.sum())
    assert error == pytest.approx(1 / math.sqrt(spot.detectable_signal_counts), rel=0.1)
    assert abs(g4 - 1.0) < 3 * error


@pytest.mark.slow
def test_an_arf_from_few_rays_is_written_with_its_empty_bins_counted(tmp_path):
    sparse = api.solar_spot("xmm", rays=3000, focal_plane_z_mm=0.0)
    arf = spot_arf(sparse)
    assert arf.meta["bins_without_rays"] == int(np.sum(arf["effective_area"] <= 0)) > 0
    assert 0 < arf.meta["median_relative_error"] <= arf.meta["largest_relative_error"] < np.inf
    with fits.open(write_arf(arf, tmp_path / "sparse.arf")) as hdus:
        assert hdus["SPECRESP"].header["BINS_WITHOUT_RAYS"] == arf.meta["bins_without_rays"]
