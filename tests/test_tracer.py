import math

import astropy.units as u
import mpmath
import numba
import numpy as np
import pytest

from coatings import ConstantReflectivity
from geometries import Spider, load_optic
from raytrace.analysis import effective_area, psf
from raytrace.engine import Trace
from raytrace.engine.aperture import cos_sin_of_turn as _cos_sin_of_turn
from raytrace.engine.physics import graze_angle, quadric_roots
from raytrace.engine.rays import Fate, Rays
from raytrace.engine.rng import seed_key
from raytrace.engine.vector_math import GATHER_LANES, copy, gather, select
from raytrace.engine.vector_math import log as _vector_log
from raytrace.sources import ParallelBeam, SolarSource

from .helpers import single_shell, traced_like_reference

ARCSEC = math.pi / 180 / 3600


BAR_AND_WEDGE_SPIDER = Spider(6, spoke_width_deg=3.0, spoke_width_mm=20.0, rotation_deg=17.0)
TURNED_SPIDER = Spider(11, spoke_width_deg=1.0, spoke_width_mm=15.0, rotation_deg=-463.0)  # more than a turn back


@pytest.mark.parametrize(
    "off_axis_arcmin, azimuth_deg, spider",
    [
        (0.0, 0.0, None),
        (4.0, 30.0, None),
        (20.0, 200.0, None),
        (0.0, 0.0, BAR_AND_WEDGE_SPIDER),
        (7.0, 100.0, BAR_AND_WEDGE_SPIDER),
        (3.0, 250.0, TURNED_SPIDER),
    ],
)
def test_kernel_matches_numpy_reference_ray_by_ray(xmm, off_axis_arcmin, azimuth_deg, spider):
    optic = xmm if spider is None else xmm.with_spider(spider)
    beam = ParallelBeam.from_angles(off_axis_arcmin * u.arcmin, azimuth_deg * u.deg)
    trace = Trace(optic, beam)
    n, key = 4000, seed_key(11)
    rays = traced_like_reference(trace, key, n, 1e-9)
    assert len(np.unique(rays.fate)) >= 4  # the comparison exercised several fates


def test_fast_elementary_functions_match_numpy():
    turns = np.concatenate([np.random.default_rng(3).random(20_000), np.arange(16) / 16, [1 - 2**-53]])
    cos_sin = np.array([_cos_sin_of_turn(t) for t in turns])
    np.testing.assert_allclose(cos_sin[:, 0], np.cos(2 * np.pi * turns), rtol=0, atol=1e-15)
    np.testing.assert_allclose(cos_sin[:, 1], np.sin(2 * np.pi * turns), rtol=0, atol=1e-15)
    sines = np.concatenate([np.linspace(0, 0.07, 7001), [0.0625 - 1e-17, 0.5, 1.0]])
    np.testing.assert_allclose([graze_angle(s) for s in sines], np.arcsin(sines), rtol=0, atol=2e-15)


def test_vectorisable_log_is_within_one_ulp_of_the_exact_value():
    rng = np.random.default_rng(5)
    special = [1.0, 2.0**-53, 1 - 2**-53, math.sqrt(2.0), 0.5 * math.sqrt(2.0)]
    args = np.concatenate(
        [
            10.0 ** rng.uniform(-307, 308, 3000),
            1.0 + rng.uniform(-1e-3, 1e-3, 1000),
            1.0 - rng.random(1000),
            2.0 ** np.arange(-1022, 1024, 37),
            special,
        ]
    )
    logs = np.array([_vector_log(a) for a in args])
    exact = np.array([float(mpmath.log(mpmath.mpf(a))) for a in args])  # mpmath's default 53 bits, rounded
    ulp = np.spacing(np.abs(exact))
    assert np.all(np.abs(logs - exact) <= ulp)
    assert np.all(np.abs(logs - np.log(args)) <= ulp)


@numba.njit
def _gathered_by_vectors(values, indices, first_index, count, out, first_out):
    for j in range(0, count, GATHER_LANES):
        gather(values, indices, first_index + j, out, first_out + j)


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_vector_gather_is_indexing(dtype):
    """`vector_math.gather` (the trace's gathers of channel data and its compaction) gives what numpy's indexing
    gives, at any offset of the indices and of the output."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=137).astype(dtype) if dtype == np.float64 else rng.integers(-(10**15), 10**15, 137)
    indices = rng.integers(0, values.size, 300)
    out = np.zeros(300, dtype)
    _gathered_by_vectors(values, indices, 5, 8 * 20, out, 11)
    np.testing.assert_array_equal(out[11 : 11 + 160], values[indices[5 : 5 + 160]])
    assert not out[:11].any() and not out[11 + 160 :].any()


@numba.njit
def _copied(source, first_source, out, first_out, n):
    copy(source, first_source, out, first_out, n)


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_copy_is_slice_assignment(dtype):
    """`vector_math.copy` (the trace's copies between the rays and its scratch) copies exactly the n values at those
    offsets, and nothing else."""
    source = np.arange(1, 101).astype(dtype) * 1.5 if dtype == np.float64 else np.arange(1, 101, dtype=dtype) * -7
    out = np.zeros(64, dtype)
    _copied(source, 37, out, 9, 41)
    np.testing.assert_array_equal(out[9:50], source[37:78])
    assert not out[:9].any() and not out[50:].any()


@numba.njit
def _selected(conditions, floats, integers, small):
    n = conditions.size
    out_floats, out_integers, out_mixed = np.empty(n), np.empty(n, np.int64), np.empty(n)
    for i in range(conditions.size):
        out_floats[i] = select(conditions[i], floats[i], -floats[i])
        out_integers[i] = select(conditions[i], small[i], integers[i])  # int8 and int64: int64
        out_mixed[i] = select(conditions[i], floats[i], integers[i])  # float64 and int64: float64
    return out_floats, out_integers, out_mixed


def test_select_is_the_conditional_expression():
    """`vector_math.select` (the trace's branch-free choices) gives `a if c else b`, in the type numpy's rules give the
    pair."""
    rng = np.random.default_rng(5)
    conditions = rng.random(200) < 0.5
    floats, integers = rng.normal(size=200), rng.integers(-(10**12), 10**12, 200)
    small = rng.integers(-128, 128, 200).astype(np.int8)
    out_floats, out_integers, out_mixed = _selected(conditions, floats, integers, small)
    np.testing.assert_array_equal(out_floats, np.where(conditions, floats, -floats))
    np.testing.assert_array_equal(out_integers, np.where(conditions, small.astype(np.int64), integers))
    np.testing.assert_array_equal(out_mixed, np.where(conditions, floats, integers.astype(np.float64)))


@pytest.mark.parametrize(
    "optic_name, source",
    [
        ("xmm_design", ParallelBeam.from_angles(3 * u.arcmin, energy=2.5 * u.keV)),
        ("babyiaxo", SolarSource(e_min_kev=1.0, e_max_kev=9.0)),
    ],
)
@pytest.mark.slow
def test_kernel_reflectivity_weights_equal_table_lookups(optic_name, source):
    """Rays weighted in the kernel carry aperture weight x R(E, g1) x R(E, g2) (one factor for single reflections):
    one energy and one coating, and a spectrum over the table's energy nodes on an optic of several coatings."""
    trace = Trace(load_optic(optic_name), source)
    table = trace.reflectivity_table()
    key = seed_key(4)
    geometric = trace.trace_range(key, 0, 20_000, 20_000)
    weighted = trace.trace_range(key, 0, 20_000, 20_000, table=table)
    coating = trace.shell_coating[geometric.shell]
    r1 = table.lookup(coating, geometric.energy_kev, geometric.graze1)
    r2 = table.lookup(coating, geometric.energy_kev, geometric.graze2)
    fate = geometric.fate
    expected = geometric.weight.copy()
    twice = (fate == Fate.DOUBLE) | (fate == Fate.MULTIPLE)
    once = (fate == Fate.PRIMARY_ONLY) | (fate == Fate.SECONDARY_ONLY)
    expected[twice] *= r1[twice] * r2[twice]
    expected[once] *= r1[once]
    np.testing.assert_allclose(weighted.weight, expected, rtol=1e-14, atol=0)
    assert np.count_nonzero(once) > 0 and np.count_nonzero(twice) > 0


def test_fates_sum_to_number_of_rays(xmm):
    table = effective_area(xmm, [1.5], ParallelBeam.from_angles(3 * u.arcmin), n_rays=100_003, chunk_size=30_000)
    assert sum(table.meta["fates"].values()) == 100_003


def test_collecting_area_of_xmm_with_perfect_mirrors(xmm_ideal):
    table = effective_area(xmm_ideal, [1.0], n_rays=1_000_000, seed=5)
    area, err = table["effective_area"][0], table["effective_area_err"][0]
    assert area == pytest.approx(2152.6, rel=3e-3)
    assert err < 0.001 * area


def test_constant_reflectivity_scales_area_by_r_squared(xmm_ideal):
    full = effective_area(xmm_ideal, [3.0], n_rays=50_000, seed=2)["effective_area"][0]
    half = effective_area(xmm_ideal.with_coating(ConstantReflectivity(0.7)), [3.0], n_rays=50_000, seed=2)
    assert half["effective_area"][0] == pytest.approx(0.49 * full, rel=1e-10)


def test_spider_removes_its_geometric_fraction(xmm_ideal):
    with_spider = xmm_ideal.with_spider(Spider(16, 2.29))
    open_area = effective_area(xmm_ideal, [1.0], n_rays=400_000, seed=3)["effective_area"][0]
    table = effective_area(with_spider, [1.0], n_rays=400_000, seed=3)
    assert table["effective_area"][0] / open_area == pytest.approx(1 - 16 * 2.29 / 360, abs=2e-3)


def test_true_wolter_shell_is_stigmatic_on_axis():
    result = psf(single_shell("wolter"), 1.0, n_rays=20_000, focal_plane_z_mm=0.0)
    assert result.hpd_arcsec < 0.01
    assert abs(result.centroid_x_mm) < 1e-9 and abs(result.centroid_y_mm) < 1e-9


def test_conical_shell_blur_matches_closed_form():
    """Meridional geometry of a cone pair: a ray meeting the primary at height u above the
    intersection plane leaves the secondary at depth v = u (tan2a - tana)/(tan3a - tan2a), inclined
    by exactly 4 alpha, and lands at rho(u) = r0 - v tan3a - (f - v) tan4a. Rays are spread over the
    primary's annulus (weight r(u)), so the HPD is twice the weighted median of |rho|: about alpha L / f."""
    r0, f, length = 150.0, 7500.0, 300.0
    alpha = math.atan(r0 / f) / 4
    u_grid = np.linspace(0, length, 200_001)
    v = u_grid * (math.tan(2 * alpha) - math.tan(alpha)) / (math.tan(3 * alpha) - math.tan(2 * alpha))
    rho = np.abs(r0 - v * math.tan(3 * alpha) - (f - v) * math.tan(4 * alpha))
    weight = r0 + u_grid * math.tan(alpha)
    order = np.argsort(rho)
    cumulative = np.cumsum(weight[order]) / weight.sum()
    expected_hpd = 2 * rho[order][np.searchsorted(cumulative, 0.5)] / f / ARCSEC
    result = psf(single_shell("conical", r0, f, length), 1.0, n_rays=200_000, focal_plane_z_mm=0.0)
    assert result.hpd_arcsec == pytest.approx(expected_hpd, rel=0.01)
    assert result.hpd_arcsec == pytest.approx(alpha * length / f / ARCSEC, rel=0.1)


def test_off_axis_centroid_moves_by_f_tan_theta(xmm):
    theta = 6 * u.arcmin
    result = psf(xmm, 1.5, ParallelBeam.from_angles(theta, 90 * u.deg), n_rays=100_000, focal_plane_z_mm=0.0)
    shift = math.hypot(result.centroid_x_mm, result.centroid_y_mm)
    assert shift == pytest.approx(7500 * math.tan(theta.to_value(u.rad)), rel=0.01)
    assert result.centroid_y_mm < 0  # image opposite to the source direction


def test_same_result_for_any_chunk_size(xmm):
    energies = [1.0, 2.5, 8.0]
    a = effective_area(xmm, energies, n_rays=60_000, seed=9, chunk_size=60_000)
    b = effective_area(xmm, energies, n_rays=60_000, seed=9, chunk_size=7_001)
    np.testing.assert_allclose(a["effective_area"], b["effective_area"], rtol=1e-12)
    assert a.meta["fates"] == b.meta["fates"]
    p1 = psf(xmm, 2.0, n_rays=70_000, seed=4, chunk_size=70_000, focal_plane_z_mm=0.0)
    p2 = psf(xmm, 2.0, n_rays=70_000, seed=4, chunk_size=9_999, focal_plane_z_mm=0.0)
    assert p1.hpd_arcsec == p2.hpd_arcsec
    np.testing.assert_allclose(p1.image, p2.image, rtol=1e-12, atol=0)


def test_same_rays_bit_for_bit_wherever_a_ray_falls_in_a_block(babyiaxo):
    """The kernel traces blocks of BLOCK_RAYS lanes (the last one of a chunk shorter), and the lanes in flight after
    the entrance in as many lanes as there are (in the vectorised part of a loop or its remainder): a ray's result
    must not depend on its lane or its block. Chunks of 1000 and 257 rays put every ray at other lanes (the custom
    optic off axis: spider, segment joins, spacers, slope errors, reflectivity weights)."""
    trace = Trace(babyiaxo, ParallelBeam.from_angles(1.5 * u.arcmin, 30 * u.deg, 3.0 * u.keV))
    table = trace.reflectivity_table()
    names = ("x", "y", "z", "dx", "dy", "dz", "weight", "fate", "shell", "graze1", "graze2")

    def traced(chunk_size):
        chunks = [
            {name: getattr(rays, name).copy() for name in names}
            for rays in trace.run(3000, seed=5, chunk_size=chunk_size, table=table)
        ]
        return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in names}

    whole, split = traced(1000), traced(257)
    assert len(set(whole["fate"])) >= 5  # spider, front edges, joins or spacers, backs, double reflections
    for name in names:
        np.testing.assert_array_equal(whole[name], split[name], err_msg=name)


class _EmittedBy:
    """A source that passes everything on to another, except that it never offers a shared ray: the trace then has the
    source emit every ray and the kernel reads them."""

    def __init__(self, source):
        self._source = source

    def __getattr__(self, name):
        return getattr(self._source, name)

    def shared_ray(self, aperture, n_total):
        return None


def test_kernel_started_beam_is_the_emitted_beam_bit_for_bit(babyiaxo):
    """A parallel beam is started by the trace's kernel, block by block; the same beam emitted by the source
    (`ParallelBeam.emit`, `aperture.sample`) and read by the kernel gives the same rays to the last bit, stopped ones
    included (the custom optic off axis, reflectivity weights, chunks that start inside a block)."""
    beam = ParallelBeam.from_angles(1.5 * u.arcmin, 30 * u.deg, 3.0 * u.keV)
    started, emitted = Trace(babyiaxo, beam), Trace(babyiaxo, _EmittedBy(beam))
    assert started.source.shared_ray(started.aperture, 10) is not None
    table = started.reflectivity_table()
    names = [name for name in Rays.__dataclass_fields__]
    for chunk_size in (3000, 1001):
        a = [rays.copy() for rays in started.run(3000, seed=8, chunk_size=chunk_size, table=table)]
        b = [rays.copy() for rays in emitted.run(3000, seed=8, chunk_size=chunk_size, table=table)]
        for name in names:
            np.testing.assert_array_equal(
                np.concatenate([getattr(r, name) for r in a]),
                np.concatenate([getattr(r, name) for r in b]),
                err_msg=name,
            )
    fates = np.concatenate([r.fate for r in a])
    assert {Fate.BLOCKED_SPIDER, Fate.BLOCKED_FRONT, Fate.DOUBLE} <= set(fates.tolist())


def test_same_rays_for_any_thread_count(xmm):
    trace = Trace(xmm, ParallelBeam.from_angles(2 * u.arcmin))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = trace.trace_range(seed_key(1), 0, 20_000, 20_000)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = trace.trace_range(seed_key(1), 0, 20_000, 20_000)
        numba.set_num_threads(1)
        psf_one = psf(xmm, 1.5, n_rays=40_000, seed=2, focal_plane_z_mm=0.0)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        psf_many = psf(xmm, 1.5, n_rays=40_000, seed=2, focal_plane_z_mm=0.0)
    finally:
        numba.set_num_threads(before)
    for name in ("x", "y", "fate", "graze1", "graze2"):
        np.testing.assert_array_equal(getattr(one, name), getattr(many, name))
    np.testing.assert_array_equal(psf_one.image, psf_many.image)
    assert psf_one.summary() == psf_many.summary()


def test_different_seeds_differ(xmm):
    a = effective_area(xmm, [1.0], n_rays=20_000, seed=1)["effective_area"][0]
    b = effective_area(xmm, [1.0], n_rays=20_000, seed=2)["effective_area"][0]
    assert a != b


def _exact_first_root(surface_row, p, d):
    with mpmath.workdps(60):
        a_coef, b_coef, c_coef, z_ref, z_lo, z_hi = (mpmath.mpf(v) for v in surface_row)
        px, py, pz = (mpmath.mpf(v) for v in p)
        dx, dy, dz = (mpmath.mpf(v) for v in d)
        w = pz - z_ref
        a = dx**2 + dy**2 - a_coef * dz**2
        b = 2 * (px * dx + py * dy - a_coef * w * dz - b_coef * dz / 2)
        c = px**2 + py**2 - a_coef * w**2 - b_coef * w - c_coef
        roots = [-c / b] if a == 0 else [(-b + s * mpmath.sqrt(b**2 - 4 * a * c)) / (2 * a) for s in (1, -1)]
        good = [t for t in roots if mpmath.im(t) == 0 and t > 0 and z_lo <= pz + t * dz <= z_hi]
        return min(good) if good else None


def test_intersection_is_accurate_for_grazing_rays(xmm):
    """The stable root formula against 60-digit arithmetic, for rays within a few arcmin of the axis."""
    trace = Trace(xmm, ParallelBeam())
    surfaces = trace.packed.surfaces
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        shell = int(rng.integers(0, 58))
        which = int(rng.integers(0, 2))
        theta = rng.uniform(0, 3e-3) * rng.integers(0, 2)  # half of them exactly on axis
        phi = rng.uniform(0, 2 * np.pi)
        d = -np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
        r = rng.uniform(trace.packed.exit_r[shell], trace.packed.front_r[shell])
        angle = rng.uniform(0, 2 * np.pi)
        p = np.array([r * np.cos(angle), r * np.sin(angle), trace.packed.top_z[shell]])
        exact = _exact_first_root(surfaces[shell, which], p, d)
        t = min(quadric_roots(*surfaces[shell, which], *p, *d))
        if exact is None:
            assert t == np.inf
        else:
            assert t == pytest.approx(float(exact), rel=1e-11, abs=1e-9)
            checked += 1
    assert checked > 50
