"""The block kernel equals the per-ray specification (`raytrace.engine.specification`) bit for bit: on every optic
and kind of source, with and without reflectivity weights and scattering, for any chunk size and thread count, and
on the steep-graze branch of the reflection."""

import dataclasses
import math

import numba
import numpy as np
import pytest

import raytrace
from coatings.threads import split_over_threads
from raytrace.engine import Fate, Trace
from raytrace.engine.physics import GRAZE_SERIES_LIMIT
from raytrace.engine.rng import seed_key, stream_key, uniform_array
from raytrace.engine.specification import specified_range
from raytrace.helioscope.merit import Magnet
from raytrace.sources import ParallelBeam, PointSource

pytestmark = pytest.mark.slow  # the specification compiles for each kind of optic

COLUMNS = ("x", "y", "z", "dx", "dy", "dz", "weight", "fate", "shell", "graze1", "graze2", "channel", "energy_kev")
RAYS = 12_001  # not whole blocks nor whole gathers: the last block is short


@dataclasses.dataclass(frozen=True)
class WideCone(PointSource):
    """Rays starting on the entrance channels in directions up to `spread_rad` from -z, many of them upward: rays that
    miss the focal plane, steep reflections, and every entrance test at odd angles."""

    spread_rad: float = 2.5

    def emit(self, key, first_index, n_total, aperture, rays):
        super().emit(key, first_index, n_total, aperture, rays)
        u = np.empty((2, len(rays)))
        for draw in range(2):
            split_over_threads(uniform_array, u.shape[1], stream_key(key, 3), np.uint64(first_index), draw, u[draw])
        theta, phi = self.spread_rad * u[0], 2.0 * np.pi * u[1]
        rays.dx[:], rays.dy[:], rays.dz[:] = np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), -np.cos(theta)

    def max_angle_rad(self, radius_mm, height_mm):
        return self.spread_rad


def _solar():
    return raytrace.solar_source(magnet=Magnet(bore_radius_mm=300.0))  # IAXO's bore, narrower than the optic


CASES = {  # optic, source: every kind of optic (as designed, scattering, segmented, partial shells) and of source
    "xmm design, off axis": ("xmm_design", lambda: ParallelBeam(math.radians(5 / 60), 0.7, 1.5)),
    "xmm, scattering gold": ("xmm", lambda: ParallelBeam(0.0002, 0.3, 6.4)),
    "custom optic, segmented": ("babyiaxo", lambda: ParallelBeam(0.0005, 0.2, 3.0)),
    "iaxo, segmented": ("iaxo", lambda: ParallelBeam(0.0, 0.0, 4.0)),
    "pathfinder at panter, partial shells": ("cast_pathfinder", lambda: PointSource(130.297, 0.0, 0.0, 0.42, 1.49)),
    "custom optic, solar axions from a narrower bore": ("babyiaxo", _solar),
    "xmm through an aperture": ("xmm+circle:60@200,0", lambda: ParallelBeam(0.0, 0.0, 8.0)),
    "steep graze angles": ("xmm_design", lambda: ParallelBeam(0.15, 0.5, 1.0)),
    "custom optic, a wide cone of directions": ("babyiaxo", lambda: WideCone(1000.0, energy_kev=3.0)),
}


def _optic(name):
    optic, _, aperture = name.partition("+")
    return raytrace.load(optic, apertures=[aperture] if aperture else ())


def _columns(rays):
    return {name: np.array(getattr(rays, name), copy=True) for name in COLUMNS}


def _assert_equal(block, spec):
    for name in COLUMNS:
        np.testing.assert_array_equal(block[name], spec[name], err_msg=name, strict=True)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize("weighted", [True, False], ids=["weighted", "geometric"])
def test_the_block_kernel_traces_each_ray_as_the_specification_does(case, weighted):
    optic, source = CASES[case]
    trace = Trace(_optic(optic), source())
    table = trace.reflectivity_table() if weighted else None
    key = seed_key(11)
    spec = _columns(specified_range(trace, key, 0, RAYS, RAYS, table))
    _assert_equal(_columns(trace.trace_range(key, 0, RAYS, RAYS, table=table)), spec)
    fates = np.bincount(spec["fate"], minlength=len(Fate) + 1)
    assert fates[Fate.DOUBLE] > 0 and np.count_nonzero(fates) >= 4, fates  # the sample holds rays of several fates
    if case == "steep graze angles":
        assert np.count_nonzero(spec["graze1"] >= GRAZE_SERIES_LIMIT) > 100  # past the series, on libm's asin
    if "solar" in case:
        assert fates[Fate.NOT_FROM_BORE] > 0  # rays whose source gave them a fate keep it
    if "wide cone" in case:
        assert fates[Fate.MISSED_FOCAL_PLANE] > 0 and fates[Fate.BLOCKED_BACK] > 0


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "source",
    [ParallelBeam(0.0005, 1.0, 3.0), PointSource(130.0, 0.001, 0.5, 2.0, 3.0)],
    ids=["started by the kernel", "emitted by the source"],
)
def test_any_chunk_size_and_thread_count_gives_the_specifications_rays(threads, source):
    trace = Trace(_optic("xmm"), source)
    table, key, n = trace.reflectivity_table(), seed_key(4), 10_001
    spec = _columns(specified_range(trace, key, 0, n, n, table))
    before = numba.get_num_threads()
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"numba has {numba.config.NUMBA_NUM_THREADS} thread(s) here")
    numba.set_num_threads(threads)
    try:
        for chunk in (n, 3_000, 257):
            chunks = [_columns(rays) for rays in trace.run(n, 4, chunk, table)]
            _assert_equal({name: np.concatenate([c[name] for c in chunks]) for name in COLUMNS}, spec)
    finally:
        numba.set_num_threads(before)


def test_a_table_in_any_memory_order_weighs_the_rays_as_the_specification_does():
    trace = Trace(_optic("babyiaxo"), _solar())
    table, key, n = trace.reflectivity_table(), seed_key(2), 3_001
    column_major = dataclasses.replace(table, values=np.asfortranarray(table.values))
    spec = _columns(specified_range(trace, key, 0, n, n, table))
    _assert_equal(_columns(trace.trace_range(key, 0, n, n, table=column_major)), spec)
