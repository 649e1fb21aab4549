import csv
import math

import numpy as np
import pytest

from coatings import ConstantReflectivity
from geometries import Optic, PrescriptionError, Shell, Spider, load_optic, read_prescription
from geometries.surfaces import offset_surface, wolter_hyperboloid, wolter_paraboloid
from raytrace.output import write_prescription

from .helpers import single_shell


def test_xmm_check_values(xmm):
    """docs/physics/conventions.md, check values: R1 of shell 1, R5 of shell 58 and the open double-reflection area."""
    assert xmm.n_shells == 58
    assert xmm.entrance_radii_mm()[0] == pytest.approx(153.118, abs=5e-4)
    assert xmm.exit_radii_mm()[-1] == pytest.approx(336.139, abs=5e-4)
    assert xmm.open_area_cm2() == pytest.approx(2152.6, abs=0.05)
    t_over_r = xmm.thicknesses_mm() / xmm.intersect_radii_mm()
    assert np.ptp(t_over_r) < 1e-5  # thickness proportional to radius


def test_xmm_radii_match_published_true_wolter_table(xmm, shared_reference):
    with open(shared_reference / "xmm" / "xmm_shells.csv") as fh:
        rows = list(csv.DictReader(fh))
    r1 = np.array([float(r["r_entrance_exact_mm"]) for r in rows])
    r5 = np.array([float(r["r_exit_exact_mm"]) for r in rows])
    np.testing.assert_allclose(xmm.entrance_radii_mm(), r1, atol=1e-4)
    np.testing.assert_allclose(xmm.exit_radii_mm(), r5, atol=1e-4)


def test_wolter_surfaces_are_confocal():
    """Paraboloid focus z_P = f - r0/tan(2 alpha); the hyperboloid's foci are 0 and z_P:
    |d(P, 0) - d(P, z_P)| = 2a at every point of the hyperboloid."""
    r0, f = 200.0, 7500.0
    alpha = math.atan(r0 / f) / 4
    z_p = f - r0 / math.tan(2 * alpha)
    hyper = wolter_hyperboloid(r0, f, 300.0)
    z = np.linspace(f - 300, f, 7)
    r = hyper.radius_mm(z)
    two_a = np.abs(np.hypot(r, z) - np.hypot(r, z - z_p))
    np.testing.assert_allclose(two_a, two_a[0], rtol=0, atol=1e-9)
    para = wolter_paraboloid(r0, f, 300.0)
    zp = np.linspace(f, f + 300, 7)
    rp = para.radius_mm(zp)
    # parabola: distance to focus equals distance to the directrix z = 2 z_vertex - z_P
    z_vertex = f - r0 / (2 * math.tan(alpha))
    np.testing.assert_allclose(np.hypot(rp, zp - z_p), zp - (2 * z_vertex - z_p), rtol=1e-12)


def test_back_surface_follows_mirror_plus_thickness():
    for surface in (wolter_paraboloid(300.0, 7500.0, 300.0), wolter_hyperboloid(300.0, 7500.0, 300.0)):
        back = offset_surface(surface, 1.0)
        z = np.linspace(surface.z_min_mm, surface.z_max_mm, 101)
        np.testing.assert_allclose(back.radius_mm(z), surface.radius_mm(z) + 1.0, atol=1e-6)


def test_prescription_round_trip(tmp_path, xmm):
    path = tmp_path / "copy.ecsv"
    write_prescription(xmm, path)
    assert read_prescription(path) == xmm


def _optic(shells, f=7500.0):
    return Optic("test", f, tuple(shells), (ConstantReflectivity(1.0),) * len(shells))


@pytest.mark.parametrize(
    "shells, f, message",
    [
        ([Shell(150, 0.5, 300, 300)], 0.0, "focal_length_mm = 0.0"),
        ([Shell(150, 0.5, 300, 300)], -5.0, "focal_length_mm = -5.0"),
        ([Shell(150, 0.0, 300, 300)], 7500.0, "shell 1: thickness_mm = 0.0"),
        ([Shell(150, 0.5, -300, 300)], 7500.0, "shell 1: primary_length_mm = -300"),
        ([Shell(150, 0.5, 300, 300), Shell(140, 0.5, 300, 300)], 7500.0, "shell 2: r_intersect_mm = 140"),
        ([Shell(150, 0.5, 300, 300), Shell(151.0, 0.5, 300, 300)], 7500.0, "shadows shell 2"),
        ([Shell(150, 0.5, 300, 300, "parabolic")], 7500.0, "profile = 'parabolic'"),
    ],
)
def test_invalid_prescriptions_name_shell_and_value(shells, f, message):
    with pytest.raises(PrescriptionError, match=message):
        _optic(shells, f)


def test_overlapping_shells_are_rejected():
    # fronts clear each other but the thick inner shell reaches through the outer mirror lower down
    with pytest.raises(PrescriptionError, match="shadows|overlap"):
        _optic([Shell(150, 4.0, 300, 300), Shell(155.0, 0.5, 300, 300)])


def test_unknown_optic_and_bad_file(tmp_path):
    with pytest.raises(PrescriptionError, match="unknown optic 'hubble'"):
        load_optic("hubble")
    bad = tmp_path / "bad.ecsv"
    bad.write_text("not a table\n")
    with pytest.raises(PrescriptionError, match="bad.ecsv"):
        load_optic(bad)


def test_spider_validation():
    with pytest.raises(PrescriptionError, match="n_spokes = 0"):
        Spider(0)
    with pytest.raises(PrescriptionError, match="n_spokes = 1000"):
        Spider(1000)
    with pytest.raises(PrescriptionError, match="spoke_width_deg = 40"):
        Spider(16, 40.0)


def test_optic_is_immutable_value():
    optic = single_shell()
    other = optic.with_coating(ConstantReflectivity(0.5))
    assert optic.coatings[0].value == 1.0 and other.coatings[0].value == 0.5
    with pytest.raises(AttributeError):
        optic.focal_length_mm = 1.0
