"""As-built conical shells: measured radii R1, R2, R4, R5 and a gap between primary and secondary."""

import dataclasses
import warnings

import numpy as np
import pytest

from coatings import ConstantReflectivity
from geometries import Optic, PrescriptionError, Shell, read_prescription
from raytrace.analysis import best_focus_z_mm, effective_area
from raytrace.engine import Fate, Trace
from raytrace.engine.rng import seed_key
from raytrace.output import write_prescription
from raytrace.sources import ParallelBeam

from .conftest import traced_like_reference


def _as_built_copy(optic: Optic, gap_mm: float = 0.0) -> Optic:
    """The optic's conical shells given by the radii their profile implies (R2 = R4 = r0)."""
    f = optic.focal_length_mm
    shells = tuple(Shell.as_built(s.entrance_radius_mm(f), s.r_intersect_mm, s.r_intersect_mm, s.exit_radius_mm(f),
                                  s.primary_length_mm, s.secondary_length_mm, s.thickness_mm, gap_mm,
                                  segmentation=s.segmentation, slope_errors=s.slope_errors) for s in optic.shells)
    return dataclasses.replace(optic, shells=shells)


def test_radii_of_a_profile_reproduce_its_area_and_focus(babyiaxo):
    built = _as_built_copy(babyiaxo)
    for a, b in zip(babyiaxo.surfaces()[::17], built.surfaces()[::17]):
        for p, q in zip(a, b):
            np.testing.assert_allclose(p.as_row(), q.as_row(), rtol=1e-12, atol=1e-9)
    energies = [1.5, 3.0, 7.0]
    np.testing.assert_allclose(effective_area(built, energies, n_rays=100_000)["effective_area"],
                               effective_area(babyiaxo, energies, n_rays=100_000)["effective_area"], rtol=1e-9)
    beam = ParallelBeam(energy_kev=3.0)
    assert best_focus_z_mm(built, beam, 50_000) == pytest.approx(best_focus_z_mm(babyiaxo, beam, 50_000), abs=1e-3)


def test_the_gap_between_primary_and_secondary_is_honoured(babyiaxo):
    gap = 20.0
    built = _as_built_copy(babyiaxo, gap)
    f = built.focal_length_mm
    shell = built.shells[10]
    assert shell.primary(f).z_min_mm == pytest.approx(f + gap / 2) and shell.secondary(f).z_max_mm == pytest.approx(f - gap / 2)
    trace = Trace(built, ParallelBeam(2e-4, 0.3), -300.0)
    key = seed_key(3)
    traced_like_reference(trace, key, 4000)
    # a primary lifted by g/2 sends its rays g lower down the secondary: fewer reach it than without the gap
    closed = Trace(_as_built_copy(babyiaxo), ParallelBeam(2e-4, 0.3), -300.0).trace_range(key, 0, 40_000, 40_000)
    opened = Trace(built, ParallelBeam(2e-4, 0.3), -300.0).trace_range(key, 0, 40_000, 40_000)
    assert np.count_nonzero(opened.fate == Fate.PRIMARY_ONLY) > np.count_nonzero(closed.fate == Fate.PRIMARY_ONLY)


def _pair(outer_r2):
    inner = Shell.as_built(101.0, 100.0, 100.0, 98.0, 100.0, 100.0, 0.5)
    outer = Shell.as_built(outer_r2 + 1.0, outer_r2, outer_r2, outer_r2 - 2.0, 100.0, 100.0, 0.5)
    return Optic("pair", 5000.0, (inner, outer), (ConstantReflectivity(1.0),) * 2)


def test_small_as_built_overlaps_warn_and_large_ones_are_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _pair(101.6)  # clear
    with pytest.warns(UserWarning, match="shells 1 and 2 overlap by 30 um"):
        _pair(101.47)
    with pytest.raises(PrescriptionError, match="shells 1 and 2 overlap|shadows shell 2"):
        _pair(101.3)
    with pytest.raises(PrescriptionError, match="narrows towards the focus"):
        Optic("widening", 5000.0, (Shell.as_built(99.0, 100.0, 100.0, 98.0, 100.0, 100.0, 0.5),),
              (ConstantReflectivity(1.0),))


def test_as_built_shells_round_trip_through_the_shell_table(tmp_path, babyiaxo):
    built = _as_built_copy(babyiaxo, 3.0)
    path = write_prescription(built, tmp_path / "as_built.ecsv")[-1]
    assert read_prescription(path) == built
