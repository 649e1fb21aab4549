"""The energy-resolved solar-axion signal (x, y, E): it adds up to the spot's image and expected counts, and its
file reads back with its WCS and energy bins."""

import numpy as np
import pytest
from astropy.io import fits

from raytrace import api
from raytrace.helioscope import Exposure
from raytrace.output import write_signal_cube


@pytest.fixture(scope="module")
def spot():
    return api.solar_spot("xmm", rays=200_000, exposure=Exposure(2e-11, 1.5e7, 0.8), cube_bin_kev=0.5)


@pytest.mark.slow
def test_the_cube_adds_up_to_the_image_and_to_the_spots_expected_counts(spot):
    assert spot.cube.shape == (18, 400, 400)
    np.testing.assert_allclose(spot.cube.sum(axis=0), spot.image, rtol=1e-12, atol=1e-15 * spot.image.max())
    # signal_counts = counts_per_cm2 x the detected signal in the spot, whatever the cube: so the cube, in counts,
    # relates to the spot's expected counts as the image's detected area to the spot's
    cube_counts = spot.cube.sum() * spot.counts_per_cm2
    assert cube_counts / spot.signal_counts == pytest.approx(spot.image.sum() / spot.spot_signal_cm2.sum(), rel=1e-9)
    # the counts scale as g^4 and with live time (T x efficiency)
    assert spot.counts_per_cm2 == pytest.approx(
        api.solar_spot("xmm", rays=20_000).counts_per_cm2 * 2**4 * 1.5 * 0.8, rel=1e-12
    )


def test_inside_the_spot_the_cube_gives_the_spots_counts_per_energy(spot):
    n = spot.image.shape[0]
    centre = np.array([spot.meta["image_centre_x_mm"], spot.meta["image_centre_y_mm"]])
    offsets = (np.arange(n) - (n - 1) / 2) * spot.pixel_mm
    x, y = np.meshgrid(centre[0] + offsets, centre[1] + offsets)
    inside = np.hypot(x - spot.centroid_mm[0], y - spot.centroid_mm[1]) < spot.radius_mm
    per_bin = spot.cube[:, inside].sum(axis=1) * spot.counts_per_cm2
    nodes_per_bin = spot.spot_signal_cm2.size // per_bin.size
    expected = spot.spot_signal_cm2.reshape(per_bin.size, nodes_per_bin).sum(axis=1) * spot.counts_per_cm2
    assert per_bin.sum() == pytest.approx(spot.signal_counts, rel=0.02)  # pixels cut by the circle
    np.testing.assert_allclose(per_bin, expected, rtol=0.03, atol=1e-3 * expected.max())


def test_the_cube_file_has_its_wcs_energy_bins_and_counts(spot, tmp_path):
    path = write_signal_cube(spot, tmp_path / "cube.fits")
    with fits.open(path) as hdus:
        data, h, bounds = hdus[0].data, hdus[0].header, hdus["EBOUNDS"].data
        assert data.sum() == pytest.approx(spot.cube.sum() * spot.counts_per_cm2, rel=1e-12)
        assert (h["BUNIT"], h["CUNIT1"], h["CUNIT1A"], h["CUNIT3"]) == ("count", "mm", "arcsec", "keV")
        np.testing.assert_allclose(bounds["E_MIN"][[0, -1]], [1.0, 9.5])
        np.testing.assert_allclose(bounds["E_MAX"][[0, -1]], [1.5, 10.0])
        # the signal's centroid from the WCS positions of the pixels is the spot's centroid
        image = data.sum(axis=0)
        x = h["CRVAL1"] + (np.arange(image.shape[1]) + 1 - h["CRPIX1"]) * h["CDELT1"]
        y = h["CRVAL2"] + (np.arange(image.shape[0]) + 1 - h["CRPIX2"]) * h["CDELT2"]
        centroid = ((image.sum(axis=0) * x).sum() / image.sum(), (image.sum(axis=1) * y).sum() / image.sum())
        assert np.hypot(*(np.array(centroid) - spot.centroid_mm)) < 0.02
        assert h["CDELT1A"] == pytest.approx(h["CDELT1"] * 206264.806 / spot.meta["focal_length_mm"], rel=1e-6)


@pytest.mark.slow
def test_the_default_cube_bin_is_the_whole_number_of_source_bins_nearest_half_a_kev(tmp_path, capsys):
    from astropy.io import fits

    from raytrace.cli import main

    path = tmp_path / "cube.fits"
    # 1-10.02 keV: 180 source bins of 50.11 eV, so 0.5 keV is not a whole number of them; 10 of them are
    assert main(["spot", "xmm", "--band", "1:10.02", "--rays", "20000", "--cube", str(path)]) == 0
    assert "18 energy bins of 0.501111 keV" in capsys.readouterr().out
    with fits.open(path) as hdus:
        bounds = hdus["EBOUNDS"].data
        assert bounds["E_MIN"][0] == 1.0 and bounds["E_MAX"][-1] == pytest.approx(10.02, rel=1e-12)
