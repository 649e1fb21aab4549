"""Helpers the tests share: a single-shell optic and the ray-by-ray comparison of the kernel with the numpy
reference."""

import numpy as np

from coatings import ConstantReflectivity
from geometries import Optic, Shell
from raytrace.engine import Rays
from raytrace.engine.reference import reference_start_points, reference_trace


def single_shell(profile="wolter", r0=150.0, f=7500.0, length=300.0, thickness=0.5):
    return Optic(
        name=f"single {profile} shell",
        focal_length_mm=f,
        shells=(Shell(r0, thickness, length, length, profile),),
        coatings=(ConstantReflectivity(1.0),),
    )


def reference_of(trace, key, n):
    """The numpy reference's trace of the first n rays a trace's source emits (the source protocol), after
    checking the start points against the reference's own sampling of the entrance channels."""
    start = Rays.empty(n)
    trace.source.emit(key, 0, n, trace.aperture, start)
    x, y, z, channel = reference_start_points(int(key), 0, n, trace.aperture)
    np.testing.assert_array_equal(start.channel, channel)
    for mine, theirs in ((start.x, x), (start.y, y), (start.z, z)):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-9)
    return reference_trace(trace.packed, start, int(key), 0, trace.focal_plane_z_mm)


def traced_like_reference(trace, key, n, position_atol=1e-8):
    """The kernel's trace of the first n rays, after checking it ray by ray against the numpy reference: the same
    fates, channels and shells, positions within position_atol mm, directions and graze angles within 1e-12."""
    rays = trace.trace_range(key, 0, n, n)
    ref = reference_of(trace, key, n)
    for name in ("fate", "channel", "shell"):
        np.testing.assert_array_equal(getattr(rays, name), getattr(ref, name))
    for name in ("x", "y", "z"):
        np.testing.assert_allclose(getattr(rays, name), getattr(ref, name), rtol=0, atol=position_atol)
    for name in ("dx", "dy", "dz", "graze1", "graze2"):
        np.testing.assert_allclose(getattr(rays, name), getattr(ref, name), rtol=0, atol=1e-12)
    assert rays.fate_counts()[0] == 0  # every ray has a fate
    return rays
