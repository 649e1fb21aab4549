"""A point source at a finite distance (X-ray test facilities): focus, weights, the parallel-beam limit."""

import math

import numpy as np
import pytest

from coatings import ConstantReflectivity
from geometries import Optic, Shell
from raytrace.analysis import best_focus_z_mm
from raytrace.engine import Fate, Rays, Trace
from raytrace.engine.rng import seed_key
from raytrace.sources import ParallelBeam, PointSource
from raytrace.sources.point import image_distance_mm

from .helpers import single_shell, traced_like_reference


@pytest.mark.parametrize(
    "f_mm, r0_mm, length_mm, distance_m",
    [(7500.0, 150.0, 300.0, 130.0), (7500.0, 150.0, 300.0, 1000.0), (1600.0, 60.0, 60.0, 14.0)],
)
def test_wolter_shell_focuses_at_the_thin_lens_image(f_mm, r0_mm, length_mm, distance_m):
    """A true Wolter-I shell images a source at distance D at s' = f D / (D - f) behind its intersection plane.
    The CAST X-ray finger (14 m) needs a short focal length (CAST's XMM-type optic has f = 1.6 m): D must exceed
    about 4 f (next test). So close, the shell's aberrations move the best focus by 0.27 % of f for 300 mm
    mirrors; a short shell (60 mm) shows the thin-lens image."""
    optic = single_shell("wolter", r0=r0_mm, f=f_mm, length=length_mm)
    z = best_focus_z_mm(optic, PointSource(distance_m, energy_kev=1.0), n_rays=100_000, seed=1)
    expected = image_distance_mm(f_mm, distance_m)
    assert f_mm - z == pytest.approx(expected, abs=1e-3 * f_mm)
    assert z < 0  # behind the nominal focus


def test_no_double_reflection_from_a_source_closer_than_four_focal_lengths():
    """On axis a ray diverges at delta = r / D and leaves the primary inward at 2 alpha + delta; the secondary
    (3 alpha) catches it only if delta < alpha = r / 4f, i.e. D > 4 f. XMM (f = 7.5 m) at 14 m: none."""
    rays = Trace(single_shell("wolter"), PointSource(14.0), -9000.0).trace_range(seed_key(2), 0, 20_000, 20_000)
    assert np.count_nonzero(rays.fate == Fate.DOUBLE) == 0
    assert np.count_nonzero(rays.fate == Fate.PRIMARY_ONLY) > 0


def test_share_of_primary_reflections_reaching_a_conical_secondary():
    """Thin conical shell, equal lengths: a ray hitting the primary h above the intersection plane meets the
    secondary h (alpha + delta) / (alpha - delta) below it, so a share (alpha - delta) / (alpha + delta) of the
    primary's reflections reach it (delta = r0 / D, to first order in the shell length)."""
    r0, f, length, distance = 150.0, 7500.0, 60.0, 80.0
    optic = Optic("cone", f, (Shell(r0, 0.01, length, length, "conical"),), (ConstantReflectivity(1.0),))
    rays = Trace(optic, PointSource(distance), -700.0).trace_range(seed_key(3), 0, 200_000, 200_000)
    alpha, delta = math.atan2(r0, f) / 4, r0 / (distance * 1000.0)
    double = rays.weight[rays.fate == Fate.DOUBLE].sum()
    primary = rays.weight[rays.fate == Fate.PRIMARY_ONLY].sum()
    assert double / (double + primary) == pytest.approx((alpha - delta) / (alpha + delta), rel=0.03)


def test_weights_are_the_solid_angle_of_each_annulus():
    """Summed over the entrance, the weights are sum over channels of the closed-form integral of
    cos(alpha) D^2 / rho^2 over the annulus at height h below the source: 2 pi h D^2 (1/rho_in - 1/rho_out)."""
    optic = single_shell("wolter")
    source = PointSource(14.0)
    trace = Trace(optic, source)
    n = 400_000
    rays = Rays.empty(n)
    source.emit(seed_key(4), 0, n, trace.aperture, rays)
    ap = trace.aperture
    h = source.centre_mm(ap.intersection_z_mm)[2] - ap.z_start
    d = source.distance_m * 1000.0
    exact = np.sum(2 * np.pi * h * d**2 * (1 / np.hypot(ap.r_in, h) - 1 / np.hypot(ap.r_out, h))) / 100.0
    standard_error = rays.weight.std() * math.sqrt(n)
    assert abs(rays.weight.sum() - exact) < 4 * standard_error
    assert standard_error < 1e-3 * exact  # the comparison is sharp


def test_a_distant_source_is_the_parallel_beam_ray_for_ray(xmm):
    far, parallel = PointSource(1e12, math.radians(3 / 60), 0.7), ParallelBeam(math.radians(3 / 60), 0.7)
    a = Trace(xmm, far).trace_range(seed_key(5), 0, 20_000, 20_000)
    b = Trace(xmm, parallel).trace_range(seed_key(5), 0, 20_000, 20_000)
    np.testing.assert_array_equal(a.fate, b.fate)
    for name in ("x", "y"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.weight, b.weight, rtol=1e-9)


@pytest.mark.parametrize("source", [PointSource(130.0, size_mm=3.0), PointSource(40.0, math.radians(4 / 60), 2.0)])
def test_kernel_matches_reference_for_a_point_source(babyiaxo, source):
    trace = Trace(babyiaxo, source, -300.0)
    key = seed_key(6)
    traced_like_reference(trace, key, 3000)


def test_bad_point_sources_are_named():
    with pytest.raises(ValueError, match="source distance = 0.5 m"):
        PointSource(0.5)
    with pytest.raises(ValueError, match="source size"):
        PointSource(10.0, size_mm=200.0)
    with pytest.raises(ValueError, match="within the focal length"):
        image_distance_mm(7500.0, 5.0)
