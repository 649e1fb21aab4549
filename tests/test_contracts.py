"""Contract tests: every source and every coating implementation passes the same checks, so a new one is
tested by adding it to a list below."""

import math

import numba
import numpy as np
import pytest

from coatings import ConstantReflectivity, load_recipe, shipped_recipes
from raytrace.engine import Fate, Rays, Source, Trace
from raytrace.engine.rng import seed_key
from raytrace.helioscope import Magnet
from raytrace.sources import ParallelBeam, PointSource, SolarSource

SOURCES = {
    "parallel on axis": ParallelBeam(energy_kev=3.0),
    "parallel off axis": ParallelBeam(math.radians(7 / 60), math.radians(130), 6.4),
    "solar axions": SolarSource(),
    "solar axions, offset": SolarSource(e_min_kev=2.0, e_max_kev=8.0, offset_rad=math.radians(2 / 60)),
    "solar axions from the magnet bore": SolarSource(bore=Magnet().bore()),
    "point source at 130 m": PointSource(130.0, energy_kev=1.5),
    "disc source at 40 m, off axis": PointSource(40.0, math.radians(5 / 60), 2.0, 1.5, 8.0),
}
# (coating, R at grazing incidence: 1 for a real surface, which reflects totally there; the value for a constant)
COATINGS = [(load_recipe(name), 1.0) for name in shipped_recipes()] + [(ConstantReflectivity(0.7), 0.7)]
N = 6_000


def _trace_all(trace, chunk):
    table = trace.reflectivity_table()
    return [rays.copy() for rays in trace.run(N, 5, chunk, table)]


@pytest.mark.slow
@pytest.mark.parametrize("name", SOURCES)
def test_source_contract(xmm, name):
    source = SOURCES[name]
    assert isinstance(source, Source)
    trace = Trace(xmm, source, -500.0)
    rays = Rays.empty(N)
    source.emit(seed_key(5), 0, N, trace.aperture, rays)
    assert np.all(rays.weight >= 0) and rays.weight.sum() > 0
    assert set(np.unique(rays.fate)) <= {0, Fate.NOT_FROM_BORE}  # only a source's own fates
    np.testing.assert_allclose(np.sqrt(rays.dx**2 + rays.dy**2 + rays.dz**2), 1.0, atol=1e-14)
    assert np.all(rays.dz < 0)
    angles = np.arccos(-rays.dz)
    assert angles.max() <= trace.max_angle_rad * (1 + 1e-9) + 1e-15
    assert np.isin(rays.energy_kev, source.energy_nodes()).all()
    shared = source.shared_ray(trace.aperture, N)
    if shared is not None:  # then the trace's kernel starts the rays: they must be what emit gives
        for column, value in zip(
            (rays.dx, rays.dy, rays.dz, rays.energy_kev, rays.weight),
            (*shared.direction, shared.energy_kev, shared.weight),
        ):
            assert np.all(column == value)
    # the weights stand for the entrance area (projected normal to the rays; nearer a point source, denser)
    assert rays.weight.sum() == pytest.approx(trace.aperture_area_cm2, rel=0.05)  # a bore clips a few per cent

    whole = _trace_all(trace, N)[0]
    counts = whole.fate_counts()
    assert counts[0] == 0 and counts.sum() == N  # every ray has exactly one fate
    assert counts[Fate.DOUBLE] > 0 and np.all(whole.weight >= 0)
    parts = _trace_all(trace, 997)
    for field in ("x", "y", "dx", "weight", "energy_kev", "fate", "shell", "graze1"):
        np.testing.assert_array_equal(getattr(whole, field), np.concatenate([getattr(p, field) for p in parts]))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = _trace_all(trace, N)[0]
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(whole.x, single.x)
    np.testing.assert_array_equal(whole.weight, single.weight)

    meta = trace.metadata(N, 5, counts)
    assert meta["source"] == source.describe() and meta["rays"] == N and sum(meta["fates"].values()) == N
    assert set(source.metadata()) <= set(meta)
    moved = source.with_pointing(math.radians(1 / 60), 0.5)
    assert moved.pointing_rad == pytest.approx((math.radians(1 / 60), 0.5))


@pytest.mark.parametrize("coating, at_grazing", COATINGS, ids=lambda c: getattr(c, "name", str(c)))
def test_coating_contract(coating, at_grazing):
    energies = np.array([1.0, 2.2, 3.5, 6.4, 9.9])
    angles = np.array([0.0, 1e-4, 2e-3, 5e-3, 1.2e-2, 3e-2])
    grid = coating.reflectivity_grid(energies, angles)
    assert grid.shape == (energies.size, angles.size)
    assert np.all((grid >= 0) & (grid <= 1))
    pointwise = coating.reflectivity(np.repeat(energies, angles.size), np.tile(angles, energies.size))
    np.testing.assert_allclose(pointwise, grid.ravel(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grid[:, 0], at_grazing, atol=1e-9)  # the Fresnel limit: total reflection at 0
    assert np.all(grid[:, 1] >= grid[:, -1] - 1e-12)  # far below the critical angle it reflects more than far above
    assert np.all(np.diff(coating.edge_energies_kev()) >= 0)
