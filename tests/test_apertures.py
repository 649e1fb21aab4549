"""Entrance apertures and partial-azimuth shells: exact geometric shares, concentrated sampling, the reference."""

import dataclasses
import math

import numpy as np
import pytest
from scipy.integrate import quad

from coatings import ConstantReflectivity
from geometries import Optic, PrescriptionError, Shell, load_optic, parse_aperture, read_prescription
from raytrace.analysis import effective_area
from raytrace.engine import Fate, Rays, Trace
from raytrace.engine.aperture import EntranceChannels
from raytrace.engine.reference import reference_start_points
from raytrace.engine.rng import seed_key
from raytrace.output import write_prescription
from raytrace.sources import ParallelBeam, PointSource

from .helpers import traced_like_reference

N = 400_000
SEPARATE = Optic(
    "three separate shells",
    7500.0,
    tuple(Shell(r, 0.5, 300.0, 300.0) for r in (100.0, 200.0, 300.0)),
    (ConstantReflectivity(1.0),) * 3,
)


def _focused(optic, source=ParallelBeam(), n=N, focal_plane_z_mm=0.0):
    rays = Trace(optic, source, focal_plane_z_mm).trace_range(seed_key(7), 0, n, n)
    focused = np.where(rays.fate == Fate.DOUBLE, rays.weight, 0.0)
    return focused.sum(), focused.std() * math.sqrt(n), rays  # the sum and its standard error


def test_a_30_degree_sector_keeps_a_twelfth(xmm_ideal):
    full, full_error, _ = _focused(xmm_ideal)
    wedge, wedge_error, rays = _focused(xmm_ideal.with_apertures(["sector:-10:20"]))
    assert wedge == pytest.approx(full / 12, abs=4 * math.hypot(wedge_error, full_error / 12))
    # sampling is concentrated on the open arc (widened by the sideways drift only): few rays are stopped
    assert np.count_nonzero(rays.fate == Fate.BLOCKED_APERTURE) < 0.05 * N


def test_an_off_axis_circle_keeps_its_overlap_with_the_open_annuli():
    """On axis the double-reflection region at the entrance is each shell's annulus [R3, R1]; its overlap with
    a circle of radius a about a point c from the axis is the integral of 2 r theta(r) dr over the annulus."""
    radius, cx, cy = 21.5, 150.0, 160.0
    c = math.hypot(cx, cy)

    def arc(r):
        cos_half = (r * r + c * c - radius * radius) / (2 * r * c)
        return 2 * r * math.acos(max(-1.0, min(1.0, cos_half)))

    r3, r1 = SEPARATE.intersect_radii_mm(), SEPARATE.entrance_radii_mm()
    exact = sum(quad(arc, a, b, points=[c - radius, c + radius])[0] for a, b in zip(r3, r1)) / 100.0
    traced, error, _ = _focused(SEPARATE.with_apertures([f"circle:{radius}@{cx},{cy}"]))
    assert traced == pytest.approx(exact, abs=4 * error)
    assert error < 0.02 * exact  # the comparison is sharp


def test_apertures_intersect_and_an_annulus_selects_shells():
    inner_only = SEPARATE.with_apertures(["annulus:0:150"])
    area, error, rays = _focused(inner_only)
    r3, r1 = SEPARATE.intersect_radii_mm()[0], SEPARATE.entrance_radii_mm()[0]
    assert area == pytest.approx(math.pi * (r1**2 - r3**2) / 100.0, abs=4 * error)
    assert set(np.unique(rays.shell[rays.fate == Fate.DOUBLE])) == {0}
    both = SEPARATE.with_apertures(["annulus:0:150", "sector:0:90"])
    quarter, quarter_error, _ = _focused(both)
    assert quarter == pytest.approx(area / 4, abs=4 * math.hypot(quarter_error, error / 4))
    with pytest.raises(ValueError, match="leave nothing"):
        Trace(SEPARATE.with_apertures(["annulus:0:50"]), ParallelBeam())


def test_a_wedge_of_shells_collects_its_share_and_lets_the_rest_through():
    wedge = dataclasses.replace(
        SEPARATE,
        shells=tuple(dataclasses.replace(s, azimuth_min_deg=30.0, azimuth_max_deg=60.0) for s in SEPARATE.shells),
    )
    full, full_error, _ = _focused(SEPARATE)
    part, part_error, rays = _focused(wedge, focal_plane_z_mm=-500.0)
    assert part == pytest.approx(full / 12, abs=4 * math.hypot(part_error, full_error / 12))
    focused = rays.fate == Fate.DOUBLE
    angle = np.degrees(np.arctan2(rays.y[focused], rays.x[focused]))  # behind the focus, opposite the mirror
    assert np.all((np.mod(angle, 360) > 200) & (np.mod(angle, 360) < 250))
    assert np.count_nonzero(rays.fate == Fate.NO_REFLECTION) > 0.8 * N
    concentrated = wedge.with_apertures(["sector:30:60"])
    assert _focused(concentrated)[0] == pytest.approx(part, abs=4 * part_error)


@pytest.mark.parametrize("source", [ParallelBeam(math.radians(3 / 60), 0.4), PointSource(60.0, size_mm=2.0)])
def test_kernel_matches_reference_with_apertures_and_partial_shells(babyiaxo, source):
    shells = tuple(
        dataclasses.replace(s, azimuth_min_deg=-20.0, azimuth_max_deg=100.0) if k % 2 else s
        for k, s in enumerate(babyiaxo.shells)
    )
    optic = dataclasses.replace(babyiaxo, shells=shells).with_apertures(["circle:120@90,60", "sector:-30:120"])
    trace = Trace(optic, source, -300.0)
    key = seed_key(9)
    rays = traced_like_reference(trace, key, 4000, 1e-8)
    assert {Fate.BLOCKED_APERTURE, Fate.DOUBLE} <= set(np.unique(rays.fate))


def test_sampling_finds_the_channel_among_empty_and_thin_ones():
    """The start points' channel lookup (a guide over the distinct channel ends; `aperture.KernelChannels`) gives
    numpy's searchsorted for channels that apertures emptied (in the middle and at the end) and one far thinner
    than the rest, whose ends crowd the guide's cells."""
    r_in = np.array([10.0, 50.0, 80.0, 80.0, 80.0, 120.0, 120.05, 160.0, 200.0, 200.0])
    r_out = np.array([50.0, 80.0, 80.0, 80.0, 120.0, 120.05, 160.0, 200.0, 200.0, 200.0])
    n = r_in.size
    turn_start, turn_span = np.zeros(n), np.ones(n)
    turn_start[7], turn_span[7] = 0.3, 0.25
    cumulative = np.cumsum(np.pi * (r_out**2 - r_in**2) * turn_span)
    channels = EntranceChannels(r_in, r_out, np.full(n, 900.0), turn_start, turn_span, cumulative, 7500.0)
    assert channels.kernel_channels.guide_width <= 2
    rays = Rays.empty(200_000)
    channels.sample(seed_key(4), 12345, rays)
    x, y, _, channel = reference_start_points(int(seed_key(4)), 12345, len(rays), channels)
    np.testing.assert_array_equal(rays.channel, channel)
    np.testing.assert_allclose(rays.x, x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(rays.y, y, rtol=0, atol=1e-9)
    assert set(np.unique(rays.channel)) == {0, 1, 4, 5, 6, 7}  # the thin channel too, the empty ones never


def test_apertures_and_azimuths_round_trip_through_the_shell_table(tmp_path):
    xmm = load_optic("xmm")
    shells = tuple(dataclasses.replace(s, azimuth_min_deg=0.0, azimuth_max_deg=30.0) for s in xmm.shells)
    optic = dataclasses.replace(xmm, shells=shells).with_apertures(
        ["circle:80@200,40", "annulus:150:300", "sector:5:25"]
    )
    path = write_prescription(optic, tmp_path / "wedge.ecsv")[-1]
    assert read_prescription(path) == optic
    area = effective_area(read_prescription(path), [1.5], n_rays=20_000)["effective_area"][0]
    assert area > 0


@pytest.mark.parametrize(
    "spec",
    ["circle:0", "circle:-3", "annulus:5:2", "sector:10:10", "sector:0:400", "square:3", "circle:1@2", "annulus:1"],
)
def test_bad_apertures_are_named(spec):
    with pytest.raises(PrescriptionError, match="aperture"):
        parse_aperture(spec)
