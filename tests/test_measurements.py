"""The readers of measured optics data (raytrace.read_encircled, read_areas, read_king) give fit_encircled's inputs
from the shipped measurement files, and name the file and the problem when one is wrong."""

from pathlib import Path

import numpy as np
import pytest

import raytrace

DATA = Path(__file__).resolve().parents[1] / "geometries" / "data"


def test_encircled_curves_are_grouped_by_energy():
    curves = raytrace.read_encircled(DATA / "cast_pathfinder_panter_psf.csv")
    assert [round(e, 4) for e, _, _ in curves] == [1.4867, 4.5109, 6.4039]
    energy, radii, fractions = curves[0]
    np.testing.assert_array_equal(radii, [103.0, 198.5, 274.5])  # the measured HPD / 2, W80 / 2, W90 / 2
    np.testing.assert_array_equal(fractions, [0.5, 0.8, 0.9])


def test_areas_take_the_given_relative_error_where_the_file_has_none():
    areas = raytrace.read_areas(DATA / "xmm_ground_calibration.csv", relative_error=0.02)
    assert [(e, a) for e, a, _ in areas] == [(1.5, 1430.0), (8.0, 610.0)]
    given = raytrace.read_areas(DATA / "xmm_ground_calibration.csv")
    assert all(s > 0 for _, _, s in given)


def test_king_curves_follow_the_closed_form_and_its_normalisation():
    radii = np.array([5.0, 15.0, 60.0, 300.0])
    ((energy, r, fraction),) = raytrace.read_king(DATA / "xmm_king_psf_mos1.csv", [1.5], radii)
    core, index = 4.720, 1.457  # the file's row at 1.5 keV
    np.testing.assert_allclose(fraction, 1 - (1 + (radii / core) ** 2) ** (1 - index), rtol=1e-12)
    ((_, _, within_5),) = raytrace.read_king(DATA / "xmm_king_psf_mos1.csv", [1.5], radii, normalise_arcsec=300.0)
    assert within_5[-1] == pytest.approx(1.0) and within_5[0] == pytest.approx(fraction[0] / fraction[-1])
    assert energy == 1.5 and np.array_equal(r, radii)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: raytrace.read_encircled("no_such.csv"), "'no_such.csv': no such file"),
        (lambda: raytrace.read_encircled(DATA / "xmm_king_psf_mos1.csv"), "missing column 'radius_arcsec'"),
        (lambda: raytrace.read_king(DATA / "xmm_king_psf_mos1.csv", [2.0], [10.0]), "no row at 2 keV (it has 0.1, 1.5"),
        (lambda: raytrace.read_areas(DATA / "xmm_ground_calibration.csv", relative_error=0.0), "relative_error = 0.0"),
        (
            lambda: raytrace.read_king(DATA / "xmm_king_psf_mos1.csv", [1.5], [10.0], normalise_arcsec=-1),
            "must be a radius",
        ),
    ],
)
def test_bad_files_and_values_are_named(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)
