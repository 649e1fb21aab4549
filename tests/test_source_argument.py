"""One way to give a source: ``source=`` (an object or its text) in the API, the same text in ``--source``; and
input checked once, in the API, and named by its option on the command line."""

import math
import pickle

import numpy as np
import pytest
from astropy.table import Table

import raytrace
from raytrace.cli import build_parser, main
from raytrace.cli.options import OPTIONS_OF_PARAMETERS, option_of
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
    ],
)
def test_the_text_forms(text, expected):
    spec = parse_source(text)
    assert (spec.kind, spec.distance_m, spec.size_mm, spec.off_axis_arcmin, spec.azimuth_deg) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("beam", "expected parallel, point:DISTANCE_M or disc:DISTANCE_M:RADIUS_MM, optionally followed by @"),
        ("sun", "expected parallel"),
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


def test_a_text_whose_values_the_source_refuses_is_named_as_the_source():
    with pytest.raises(InputError, match=r"^source 'point:0.5': source distance = 0.5 m: must be"):
        raytrace.effective_area("xmm_design", [1.5], source="point:0.5")


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
        raytrace.vignetting("xmm_design", energy_kev=1.5, off_axis_arcmin=[0, 5], source=raytrace.make_source(5))
    with pytest.raises(InputError, match="expected a ParallelBeam or a PointSource"):
        raytrace.effective_area("xmm_design", [1.5], source=130)
    on_axis = raytrace.offaxis_response("xmm_design", [1.5], [0], rays=5_000, source=raytrace.make_source(0, 30))
    assert on_axis["vignet"][0] == 1.0  # an azimuth alone is no direction


def test_vignetting_takes_its_energy_and_angles_by_name_so_that_no_old_call_is_misread():
    table = raytrace.vignetting("xmm_design", energy_kev=1.5, off_axis_arcmin=[0, 5], rays=20_000)
    grid = raytrace.offaxis_response("xmm_design", [1.5], [0, 5], rays=20_000)
    assert np.array_equal(table["relative_area"], grid["vignet"])
    for old in (([0, 5], 1.5), (5, [1.5]), (5, 1.5)):  # 0.2's order: the angles, then the energy
        with pytest.raises(TypeError, match="positional argument"):
            raytrace.vignetting("xmm_design", *old)


def _psf(capsys, tmp_path, name, *options):
    argv = ["psf", "xmm_design", "--energy", "1.5", "--off-axis", "3", "--rays", "20000", "--focal-plane-z", "0"]
    code = main([*argv, *options, "-o", str(tmp_path / f"{name}.ecsv")])
    return code, capsys.readouterr()


def test_the_command_line_reads_the_same_text(capsys, tmp_path):
    code, out = _psf(capsys, tmp_path, "new", "--source", "point:130")
    assert code == 0 and "point source at 130 m, off-axis 3 arcmin" in out.out and out.err == ""
    code, out = _psf(capsys, tmp_path, "old", "--source-distance", "130")
    assert code == 0 and "--source-distance is now --source point:DISTANCE_M" in out.err
    new, old = (Table.read(tmp_path / f"{n}.ecsv") for n in ("new", "old"))
    assert new.meta["hpd_arcsec"] == old.meta["hpd_arcsec"]
    code, out = _psf(capsys, tmp_path, "zero", "--source-distance", "0")  # not a parallel beam
    assert code == 2 and "source distance = 0.0 m: must be" in out.err
    code, out = _psf(capsys, tmp_path, "aimed", "--source", "point:130@5")
    assert (
        code == 2 and out.err == "raytrace: error: --source 'point:130@5': its direction is --off-axis and --azimuth\n"
    )
    code, out = _psf(capsys, tmp_path, "sun", "--source", "sun")
    assert "expected parallel, point:DISTANCE_M or disc:DISTANCE_M:RADIUS_MM\n" in out.err  # no '@' form offered


def test_the_api_checks_an_input_once_and_the_command_line_names_its_option(capsys):
    with pytest.raises(InputError, match=r"^keep = 0: must lie in \(0, 1\]$"):
        raytrace.tilt_scan("xmm_design", [0, 1], keep=0)
    assert main(["tilt", "xmm_design", "--tilt", "0,1", "--keep", "0"]) == 2
    assert capsys.readouterr().err == "raytrace: error: --keep 0: must lie in (0, 1]\n"
    assert main(["tilt", "xmm_design", "--tilt", "0,100", "--unit", "deg"]) == 2
    assert capsys.readouterr().err == "raytrace: error: --tilt: must be from 0 to 60 arcmin\n"
    assert main(["optimise", "--focal-length", "5000", "--materials", ",", "-o", "out"]) == 2
    out = capsys.readouterr()
    assert out.err == "raytrace: error: --materials '': choose from wb4c, ptc, ir, au\n" and out.out == ""
    with pytest.raises(InputError, match="^solar_model 'cast2007': it chooses a Primakoff model"):
        raytrace.sensitivity("xmm", solar_model="cast2007", coupling="gae")


def test_an_input_error_crosses_process_boundaries_whole():
    error = pickle.loads(pickle.dumps(InputError("keep", 0, "must lie in (0, 1]")))
    assert (error.parameter, error.value, error.reason, str(error)) == (
        "keep",
        0,
        "must lie in (0, 1]",
        "keep = 0: must lie in (0, 1]",
    )


def test_every_option_the_errors_name_exists():
    options = {option for action in _all_actions(build_parser()) for option in action.option_strings}
    for parameter in OPTIONS_OF_PARAMETERS:
        assert option_of(parameter) in options, parameter


def _all_actions(parser):
    for action in parser._actions:
        yield action
        if isinstance(action.choices, dict):  # the sub-commands
            for sub in action.choices.values():
                yield from _all_actions(sub)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["calibrate", "xmm_design", "--areas", "AREAS", "--area-radius", "0"],
            "--area-radius 0: must be a radius > 0",
        ),
        (["calibrate", "xmm_design", "--encircled", "EE", "--normalise-at", "0"], "--normalise-at 0: must be a radius"),
        (
            ["calibrate", "xmm_design", "--encircled", "EE", "--fix", "tilt=1"],
            "--fix 'tilt': the fitted parameters are",
        ),
    ],
)
def test_the_calibrations_inputs_are_checked_by_the_api_and_named_by_option(capsys, tmp_path, argv, message):
    areas, encircled = tmp_path / "areas.csv", tmp_path / "ee.csv"
    areas.write_text("energy_kev,area_cm2\n1.5,1400\n")
    encircled.write_text("energy_kev,radius_arcsec,fraction\n1.5,10,0.4\n1.5,30,0.8\n")
    argv = [str(areas) if a == "AREAS" else str(encircled) if a == "EE" else a for a in argv]
    assert main([*argv, "--rays", "2000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"raytrace: error: {message}") and len(err.splitlines()) == 1, err


def test_a_photon_list_request_is_checked_once_for_the_api_and_the_command_line():
    with pytest.raises(InputError, match=r"^events_all: it says which rays events holds; give events$"):
        raytrace.psf("xmm_design", 1.5, rays=2000, events_all=True)
    with pytest.raises(InputError, match="^entrance: a photon list is written for one energy; energies_kev gives 2"):
        raytrace.effective_area("xmm_design", [1.5, 3.0], rays=2000, entrance="in.fits")
