"""One way to give a source: ``source=`` (an object or its text) in the API, the same text in ``--source``."""

import math

import numpy as np
import pytest
from astropy.table import Table

import raytrace
from raytrace.cli import main
from raytrace.errors import InputError
from raytrace.sources.spec import parse_source


@pytest.mark.parametrize(
    "text, expected",
    [
        ("parallel", ("parallel", math.inf, 0.0, None, None)),
        ("point:130", ("point", 130.0, 0.0, None, None)),
        ("disc:130.297:0.42", ("disc", 130.297, 0.42, None, None)),
        ("parallel@5", ("parallel", math.inf, 0.0, 5.0, 0.0)),
        (" point:14@2.5,-30 ", ("point", 14.0, 0.0, 2.5, -30.0)),
        ("sun", ("sun", math.inf, 0.0, None, None)),
    ],
)
def test_the_text_forms(text, expected):
    spec = parse_source(text)
    assert (spec.kind, spec.distance_m, spec.size_mm, spec.off_axis_arcmin, spec.azimuth_deg) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("beam", "expected parallel, point:DISTANCE_M or disc:DISTANCE_M:RADIUS_MM"),
        ("point", "expected parallel"),
        ("point:130:2", "expected parallel"),
        ("disc:130", "expected parallel"),
        ("point:far", "expected parallel"),
        ("parallel@", "expected parallel"),
        ("parallel@1,2,3", "expected parallel"),
        ("point:nan", "must be finite"),
        ("disc:130:-1", "radius (-1 mm) must be >= 0"),
        ("parallel@-2", "off-axis angle (-2 arcmin) must be >= 0"),
    ],
)
def test_a_wrong_text_names_the_parameter_and_the_forms(text, reason):
    with pytest.raises(InputError, match="^source ") as caught:
        parse_source(text)
    assert caught.value.parameter == "source" and reason in str(caught.value)


def test_text_and_object_trace_the_same_rays():
    by_text = raytrace.effective_area("xmm_design", [1.5, 6.4], source="disc:130:1.5@4,30", rays=20_000)
    by_object = raytrace.effective_area(
        "xmm_design", [1.5, 6.4], rays=20_000, source=raytrace.make_source(4, 30, 130, 1.5)
    )
    assert np.array_equal(by_text["effective_area"], by_object["effective_area"])
    assert by_text.meta["source"] == "1.5 mm radius disc at 130 m, off-axis 4 arcmin, azimuth 30 deg"


def test_the_previous_keywords_work_for_one_release_with_a_warning():
    with pytest.warns(FutureWarning, match="psf: off_axis_arcmin, source_distance_m are now given as source="):
        old = raytrace.psf(
            "xmm_design", 1.5, off_axis_arcmin=3.0, source_distance_m=130, rays=20_000, focal_plane_z_mm=0.0
        )
    new = raytrace.psf("xmm_design", 1.5, source="point:130@3", rays=20_000, focal_plane_z_mm=0.0)
    assert (old.hpd_arcsec, old.centroid_x_mm) == (new.hpd_arcsec, new.centroid_x_mm)
    with pytest.raises(TypeError, match="give source= or off_axis_arcmin, not both"):
        raytrace.psf("xmm_design", 1.5, source="parallel", off_axis_arcmin=3.0)


def test_functions_over_a_grid_of_directions_take_an_undirected_source():
    with pytest.raises(InputError, match="off_axis_arcmin and azimuth_deg give the directions"):
        raytrace.offaxis_response("xmm_design", [1.5], [0, 5], source="point:130@5")
    with pytest.raises(InputError, match="give an on-axis source"):
        raytrace.vignetting("xmm_design", 1.5, [0, 5], source=raytrace.make_source(off_axis_arcmin=5))
    with pytest.raises(InputError, match="this traces X-rays of given energies"):
        raytrace.effective_area("xmm_design", [1.5], source="sun")
    with pytest.raises(InputError, match="expected a ParallelBeam or a PointSource"):
        raytrace.effective_area("xmm_design", [1.5], source=130)


def test_vignetting_takes_the_energy_first_like_its_siblings():
    table = raytrace.vignetting("xmm_design", 1.5, [0, 5], rays=20_000)
    grid = raytrace.offaxis_response("xmm_design", [1.5], [0, 5], rays=20_000)
    assert np.array_equal(table["relative_area"], grid["vignet"])
    with pytest.raises(
        InputError,
        match=r"off_axis_arcmin = 1.5: give the angles as a sequence; the arguments are "
        r"vignetting\(optic, energy_kev, off_axis_arcmin\)",
    ):
        raytrace.vignetting("xmm_design", [0, 5], 1.5)  # the previous order


def test_the_command_line_reads_the_same_text(capsys, tmp_path):
    assert (
        main(
            [
                "psf",
                "xmm_design",
                "--energy",
                "1.5",
                "--source",
                "point:130",
                "--off-axis",
                "3",
                "--rays",
                "20000",
                "--focal-plane-z",
                "0",
                "-o",
                str(tmp_path / "new.ecsv"),
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert "point source at 130 m, off-axis 3 arcmin" in out.out and out.err == ""
    assert (
        main(
            [
                "psf",
                "xmm_design",
                "--energy",
                "1.5",
                "--source-distance",
                "130",
                "--off-axis",
                "3",
                "--rays",
                "20000",
                "--focal-plane-z",
                "0",
                "-o",
                str(tmp_path / "old.ecsv"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "--source-distance is now --source point:DISTANCE_M" in err
    new, old = (Table.read(tmp_path / f"{n}.ecsv") for n in ("new", "old"))
    assert new.meta["hpd_arcsec"] == old.meta["hpd_arcsec"]


def test_the_api_checks_an_input_once_and_the_command_line_names_its_option(capsys):
    with pytest.raises(InputError, match=r"^keep = 0: must lie in \(0, 1\]$"):
        raytrace.tilt_scan("xmm_design", [0, 1], keep=0)
    assert main(["tilt", "xmm_design", "--tilt", "0,1", "--keep", "0"]) == 2
    assert capsys.readouterr().err == "raytrace: error: --keep 0: must lie in (0, 1]\n"
