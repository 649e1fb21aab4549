"""The magnet bore as the conversion volume: weights (l / L)^2 in closed form, its fate, and how it moves."""

import math

import numpy as np
import pytest

from raytrace.engine import Fate, Rays, Trace
from raytrace.engine.rng import seed_key
from raytrace.helioscope import Magnet
from raytrace.helioscope.tolerance import Misalignment
from raytrace.sources import SolarSource
from raytrace.sources.bore import Bore

from .helpers import traced_like_reference

BORE = Bore(radius_mm=350.0, length_mm=10_000.0, gap_mm=500.0)
ENTRANCE_Z = 7800.0


def _rays(x, y, direction):
    rays = Rays.empty(len(x))
    rays.x[:], rays.y[:], rays.z[:] = x, y, ENTRANCE_Z
    rays.dx[:], rays.dy[:], rays.dz[:] = direction
    rays.weight[:] = 1.0
    return rays


def test_rays_parallel_to_the_axis_weigh_one_inside_the_bore_and_are_flagged_outside():
    r = np.linspace(0.0, 400.0, 81)
    rays = _rays(r, np.zeros_like(r), (0.0, 0.0, -1.0))
    BORE.weigh(rays, ENTRANCE_Z)
    inside = r < 350.0
    np.testing.assert_array_equal(rays.weight[inside], 1.0)
    assert np.all(rays.fate[~inside] == Fate.NOT_FROM_BORE) and np.all(rays.weight[~inside] == 0)
    assert np.all(rays.fate[inside] == 0)


def test_an_inclined_line_counts_its_path_up_to_where_it_leaves_through_the_wall():
    """A line at angle b to the axis in the x-z plane, crossing the exit plane at x0, runs up through the field
    for min(L / cos b, (R - x0) / sin b) before it leaves through the wall (moving towards +x going up)."""
    b = 0.02
    x_exit = np.array([-300.0, 0.0, 200.0, 300.0, 340.0])
    direction = (-math.sin(b), 0.0, -math.cos(b))  # travelling down and towards -x: going up it moves towards +x
    x_start = x_exit - BORE.gap_mm * math.tan(b)  # where the line crosses the entrance plane, gap below the exit
    rays = _rays(x_start, np.zeros_like(x_start), direction)
    BORE.weigh(rays, ENTRANCE_Z)
    length = np.minimum(BORE.length_mm / math.cos(b), (BORE.radius_mm - x_exit) / math.sin(b))
    np.testing.assert_allclose(rays.weight, (length / BORE.length_mm) ** 2, rtol=1e-9)
    assert rays.weight[0] > 1.0 and rays.weight[-1] < 0.01  # slanted paths are a little longer than L


def test_the_bore_moves_with_the_magnet_when_the_optic_is_tilted_or_decentred(xmm):
    source = SolarSource(bore=Magnet().bore())
    tilt = math.radians(2 / 60)
    seen = Misalignment(tilt, 0.0, pivot_z_mm=0.0, decentre_x_mm=1.5).apparent_source(source, xmm)
    exit_z = xmm.top_z_mm().max() + source.bore.gap_mm
    assert seen.bore.axis_tilt_x_rad == pytest.approx(-tilt)
    assert seen.bore.exit_x_mm == pytest.approx(-exit_z * tilt - 1.5)
    assert seen.pointing_rad[0] == pytest.approx(tilt)


def test_solar_rays_outside_the_bore_keep_their_fate_in_the_kernel_and_the_reference(xmm):
    narrow = SolarSource(bore=Bore(radius_mm=250.0))
    trace = Trace(xmm, narrow)
    key = seed_key(3)
    rays = traced_like_reference(trace, key, 6000)
    counts = rays.fate_counts()
    assert counts[Fate.NOT_FROM_BORE] > 0 and counts[Fate.DOUBLE] > 0 and counts[0] == 0
    assert np.all(rays.weight[rays.fate == Fate.NOT_FROM_BORE] == 0)
    # the outer shells, beyond the bore, collect nothing
    assert rays.shell[rays.fate == Fate.DOUBLE].max() < np.searchsorted(xmm.intersect_radii_mm(), 250.0)
