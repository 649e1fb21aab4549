"""Alignment: spot shifts for pointing offsets, rotations and decentres; the tolerance search."""

import math

import numpy as np
import pytest

from raytrace.helioscope.detector import load_detector
from raytrace.helioscope.tolerance import Misalignment, focal_plane_signal, largest_tilt, tilt_scan
from raytrace.sources import ParallelBeam

ARCMIN = math.pi / 180 / 60


def _shift(optic, misalignment, source=ParallelBeam(energy_kev=3.0)):
    return focal_plane_signal(optic, source, load_detector(), misalignment, 0.0, 40_000, 1).centroid_mm


def test_pointing_offset_moves_the_spot_by_f_tan_theta(xmm_ideal):
    theta = 3 * ARCMIN
    x, y = _shift(xmm_ideal, Misalignment(), ParallelBeam(theta, math.radians(60), 3.0))
    expected = -xmm_ideal.focal_length_mm * math.tan(theta)
    assert (x, y) == pytest.approx(
        (expected * math.cos(math.radians(60)), expected * math.sin(math.radians(60))), rel=0.01
    )


@pytest.mark.parametrize("s_mm", [-2000.0, 1000.0, 8000.0])
def test_rotation_moves_the_spot_by_s_theta(xmm_ideal, s_mm):
    """About a pivot at distance s from the nodal (intersection) plane the spot moves by about s theta."""
    theta = 2 * ARCMIN
    f = xmm_ideal.focal_length_mm
    x, y = _shift(xmm_ideal, Misalignment(theta, 0.0, f + s_mm))
    assert x == pytest.approx(f * math.tan(theta) - (f + s_mm) * math.sin(theta), rel=0.01)
    assert abs(x) == pytest.approx(abs(s_mm) * theta, rel=0.02) and abs(y) < 1e-3


def test_small_rotation_seen_8_m_away(xmm_ideal):
    """The example of docs/physics/conventions.md: 0.0032 deg about a pivot 8 m from the nodal plane moves the spot
    about 0.45 mm."""
    x, _ = _shift(xmm_ideal, Misalignment(math.radians(0.0032), 0.0, xmm_ideal.focal_length_mm - 8000.0))
    assert x == pytest.approx(0.447, abs=0.005)


def test_rotation_about_the_nodal_point_keeps_the_spot(xmm_ideal):
    x, y = _shift(xmm_ideal, Misalignment(4 * ARCMIN, math.radians(30)))
    assert math.hypot(x, y) < 0.02 * xmm_ideal.focal_length_mm * 4 * ARCMIN


def test_decentre_moves_the_spot_one_to_one(xmm_ideal):
    x, y = _shift(xmm_ideal, Misalignment(decentre_x_mm=0.5, decentre_y_mm=-0.2))
    assert (x, y) == pytest.approx((0.5, -0.2), abs=2e-3)


def test_largest_tilt_interpolates_where_the_kept_fraction_crosses():
    assert largest_tilt([0, 1, 2, 3], [1.0, 0.98, 0.94, 0.9], 0.95) == pytest.approx(1.75)
    assert largest_tilt([0, 1, 2], [1.0, 0.99, 0.97], 0.95) == 2.0  # never below: the scan's end
    assert math.isnan(largest_tilt([1, 2], [0.9, 0.8], 0.95))


@pytest.mark.slow
def test_tilt_scan_of_the_solar_image(xmm):
    from raytrace.sources import SolarSource

    table = tilt_scan(xmm, SolarSource(), load_detector(), np.array([0.0, 2.0, 4.0]) * ARCMIN, n_rays=40_000)
    assert table["relative_in_opening"][0] == pytest.approx(1.0)
    assert np.all(np.diff(table["relative_in_opening"]) < 0)
    assert 2.0 < table.meta["tolerance_arcmin"] < 4.0
    assert 0.4 < table.meta["aligned_in_opening_fraction"] < 0.7  # the XMM solar image is larger than 8 mm
