"""PSF files for SIXTE: a library read back exactly as SIXTE's reader (libsixt/psf.c, thdauser/sixte at 575fe094)
reads it gives the image and the position of the project's own PSF."""

import math

import numpy as np
import pytest
from astropy.io import fits

from raytrace import api
from raytrace.output import OutputError, write_psf

ENERGIES_KEV = (1.5, 4.5, 7.5)
ANGLES_ARCMIN = (0.0, 5.0, 10.0)
AZIMUTHS_DEG = (0.0, 120.0)


def sixte_load(path, focal_length_m):
    """newPSF: every image HDU, the primary included; ENERGY (eV), THETA (arcmin), PHI (deg), the WCS scaled from
    arcsec to m with a float focal length; each image kept as its cumulative table, x outer and y inner."""
    items = {}
    with fits.open(path) as hdus:
        for hdu in hdus:
            if not hdu.is_image:
                continue
            h = hdu.header
            key = (h["ENERGY"] * 1e-3, h["THETA"] * math.pi / 180 / 60, h["PHI"] * math.pi / 180)
            cdelt, crpix, crval = [h["CDELT1"], h["CDELT2"]], [h["CRPIX1"], h["CRPIX2"]], [h["CRVAL1"], h["CRVAL2"]]
            units = (h["CUNIT1"].rstrip(), h["CUNIT2"].rstrip())
            if units == ("arcsec", "arcsec"):
                scaling = np.float32(math.tan(1 / 3600 * math.pi / 180) * np.float32(focal_length_m))
                cdelt, crval = [c * scaling for c in cdelt], [c * scaling for c in crval]
            elif units != ("m", "m"):
                raise ValueError("PSF pixel width must be given either in [m] or in [arcsec]")
            image = np.asarray(hdu.data, float)  # [y, x]
            cumulative = np.cumsum(image.T.ravel()) * (1.0 / image.sum())
            items[key] = (cumulative, image.shape[0], crpix, cdelt, crval)
    return items


def sixte_positions(items, key, focal_length_m, count, rng):
    """get_psf_pos for photons at exactly a grid point (no interpolation draw, no rotation): metres."""
    cumulative, ny, crpix, cdelt, crval = items[key]
    _, theta, phi = key
    k = np.searchsorted(cumulative, rng.random(count), "left")
    x1, y1 = np.divmod(k, ny)
    distance = focal_length_m * math.tan(theta)
    x = distance * math.cos(phi) + (x1 - crpix[0] + 0.5 + rng.random(count)) * cdelt[0] + crval[0]
    y = distance * math.sin(phi) + (y1 - crpix[1] + 0.5 + rng.random(count)) * cdelt[1] + crval[1]
    return x, y


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    results = api.psf_library("xmm", ENERGIES_KEV, ANGLES_ARCMIN, azimuth_deg=AZIMUTHS_DEG, rays=20_000, pixels=128)
    path = write_psf(results, tmp_path_factory.mktemp("psf") / "xmm_library.fits")
    return results, path


def test_the_library_is_a_full_ogip_grid_starting_in_the_primary_hdu(library):
    results, path = library
    with fits.open(path) as hdus:
        assert len(hdus) == len(ENERGIES_KEV) * len(ANGLES_ARCMIN) * len(AZIMUTHS_DEG) and hdus[0].is_image
        keys = {(h.header["ENERGY"], h.header["THETA"], h.header["PHI"]) for h in hdus}
        assert keys == {(1e3 * e, a, p) for e in ENERGIES_KEV for a in ANGLES_ARCMIN for p in AZIMUTHS_DEG}
        for hdu in hdus:
            assert (hdu.header["HDUCLASS"], hdu.header["HDUCLAS2"], hdu.header["CCNM0001"]) == ("OGIP", "PSF", "2D_PSF")
    with pytest.raises(OutputError, match="full grid"):
        write_psf(results[:-1], path.with_name("partial.fits"))


@pytest.mark.parametrize(
    "energy_kev, angle_arcmin, azimuth_deg", [(1.5, 0.0, 0.0), (4.5, 5.0, 0.0), (7.5, 10.0, 120.0)]
)
def test_sixtes_reader_puts_the_psf_where_the_optic_does(library, energy_kev, angle_arcmin, azimuth_deg):
    results, path = library
    result = next(
        r
        for r in results
        if np.allclose(
            (r.meta["energy_kev"], r.meta["off_axis_arcmin"], r.meta["azimuth_deg"]),
            (energy_kev, angle_arcmin, azimuth_deg),
        )
    )
    f_m = result.meta["focal_length_mm"] / 1e3
    items = sixte_load(path, f_m)
    key = next(
        k
        for k in items
        if math.isclose(k[0], energy_kev)
        and math.isclose(k[1], math.radians(angle_arcmin / 60), abs_tol=1e-12)
        and math.isclose(k[2], math.radians(azimuth_deg))
    )
    x, y = sixte_positions(items, key, f_m, 200_000, np.random.default_rng(1))
    x_mm, y_mm = -1e3 * x, -1e3 * y  # SIXTE's frame is the focal plane turned by 180 deg
    # the image's own centroid (the file holds the image, not the rays outside it)
    n = result.image.shape[0]
    pixel_mm = result.pixel_arcsec * result.meta["focal_length_mm"] / 206264.80624709636
    offsets = (np.arange(n) - (n - 1) / 2) * pixel_mm
    total = result.image.sum()
    centroid = (
        result.image_center_mm[0] + (result.image.sum(axis=0) * offsets).sum() / total,
        result.image_center_mm[1] + (result.image.sum(axis=1) * offsets).sum() / total,
    )
    assert abs(x_mm.mean() - centroid[0]) < 0.05 * pixel_mm and abs(y_mm.mean() - centroid[1]) < 0.05 * pixel_mm
    # the nominal image point is counted once: the spot lies at -f tan(theta) (cos phi, sin phi), as traced
    nominal = (
        -f_m
        * 1e3
        * math.tan(math.radians(angle_arcmin / 60))
        * np.array([math.cos(math.radians(azimuth_deg)), math.sin(math.radians(azimuth_deg))])
    )
    assert np.hypot(*(np.array(centroid) - nominal)) < 5 * pixel_mm
    # the same image: the sampled photons binned on the image's own pixels
    edges = [result.image_center_mm[k] + np.append(offsets - pixel_mm / 2, offsets[-1] + pixel_mm / 2) for k in (0, 1)]
    sampled, _, _ = np.histogram2d(y_mm, x_mm, bins=(edges[1], edges[0]))
    share = result.image / total
    noise = np.sqrt(2 * share * (1 - share) / (math.pi * sampled.sum())).sum()  # E sum |h - p| of a multinomial
    assert np.abs(sampled / sampled.sum() - share).sum() < 1.2 * noise


def test_fits_products_name_their_creator_and_date_and_a_set_date_reproduces_them(library, tmp_path, monkeypatch):
    results, _ = library
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796601600")
    first, second = (write_psf(results[:1], tmp_path / f"{k}.fits") for k in (1, 2))
    assert first.read_bytes() == second.read_bytes()
    header = fits.getheader(first)
    assert header["DATE"] == "2026-12-07T00:00:00" and header["CREATOR"].startswith("raytrace ")


def test_a_finite_source_distance_keeps_the_image_scale_for_sixte(tmp_path):
    """At a finite distance the image forms beyond f, where an arcsec is wider; SIXTE converts arcsec with f."""
    result = api.psf("xmm", 3.0, source="point:100", rays=20_000, pixels=128, focal_plane_z_mm=0.0)
    f_m = result.meta["focal_length_mm"] / 1e3
    path = write_psf(result, tmp_path / "near.fits")
    items = sixte_load(path, f_m)
    x, y = sixte_positions(items, next(iter(items)), f_m, 200_000, np.random.default_rng(2))
    n = result.image.shape[0]
    pixel_mm = result.pixel_arcsec * result.meta["image_distance_mm"] / 206264.80624709636
    offsets = (np.arange(n) - (n - 1) / 2) * pixel_mm
    share = result.image / result.image.sum()
    rms_image = math.sqrt((share.sum(axis=0) * offsets**2).sum() - (share.sum(axis=0) * offsets).sum() ** 2)
    assert 1e3 * x.std() == pytest.approx(rms_image, rel=0.01)
