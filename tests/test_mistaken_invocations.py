"""The project's own list of mistaken invocations: each exits 2 with one line that names the input and what is allowed,
and leaves every file in the folder as it was (nothing modified, nothing created). The list grows with every mistake a
user reports; legal invocations that look odd (negative numbers, old option names) are checked to run."""

import hashlib
import stat
from pathlib import Path

import numpy as np
import pytest

from raytrace.cli import build_parser, main

DESIGN = "design.toml"  # the user's own files, which no mistake may touch
SHELLS = "shells.ecsv"
NOTES = "notes.txt"
READ_ONLY = "locked.ecsv"
CUT_AT_LINE = "cut_line.ecsv"
CUT_MID_LINE = "cut_mid.ecsv"
NO_RESOLUTION = "detector_no_resolution.toml"
KING = str(Path(__file__).parents[1] / "geometries" / "data" / "xmm_king_psf_mos1.csv")

MISTAKES = [
    # files: a checkpoint, an output or two outputs that are a user's file or each other
    (["optimise", "--focal-length", "5000", "--checkpoint", NOTES, "-o", "scan"], "--checkpoint"),
    (["optimise", "--focal-length", "5000", "--checkpoint", DESIGN, "-o", "scan"], "--checkpoint"),
    (["optimise", "--focal-length", "5000", "--checkpoint", "scan", "-o", "scan"], "the same file as"),
    (["optimise", "--focal-length", "5000", "--checkpoint", "missing/c.jsonl", "-o", "scan"], "--checkpoint"),
    (["area", SHELLS, "--energy", "1:3:1", "-o", SHELLS], "an input of this run"),
    (["psf", "xmm", "--energy", "3", "-o", "out.fits", "--image", "out.fits"], "another output of this run"),
    (["psf", "xmm", "--energy", "3", "--image", "x.fits", "--events", "x.fits"], "another output of this run"),
    (["area", "xmm", "--energy", "1:3:1", "-o", READ_ONLY], "read-only"),
    (["optimise", "--focal-length", "5000", "-o", ""], "-o '': an empty file name"),
    (["optimise", "--focal-length", "5000", "--checkpoint", "", "-o", "scan"], "--checkpoint '': an empty file name"),
    (["area", "xmm", "--energy", "2", "--plot", "area.ecsv"], "a table is written with -o"),
    (["area", "xmm", "--energy", "1:3:1", "-o", "area.png"], "a picture is written with --plot"),
    (["show", "xmm", "--plot", "cross.ecsv"], "--plot 'cross.ecsv'"),
    (["design", "-o", "d.ecsv"], "-o 'd.ecsv'"),
    # prescriptions that are not what they claim
    (["area", CUT_AT_LINE, "--energy", "2"], "is the file cut short?"),
    (["area", CUT_MID_LINE, "--energy", "2"], "not a readable ECSV table"),
    (["area", "missing.ecsv", "--energy", "2"], "does not exist"),
    (["design", "--set", "spider.arm_width_mm=1000", "-o", "wide.toml"], "cover the whole entrance"),
    (["design", "--focal-length", "5e6", "-o", "far.toml"], "at most 100000 mm"),
    # numbers: negative, reversed, out of range, absurd grids
    (["area", "xmm", "--energy", "-1:5:1"], "--energy '-1:5:1'"),
    (["area", "xmm", "--energy", "1:10:0log"], "COUNT must be a whole number"),
    (["tilt", "xmm", "--tilt", "-5:5:1"], "--tilt '-5:5:1'"),
    (["offaxis", "xmm", "--off-axis", "-5:5:5", "--energy", "3"], "--off-axis '-5:5:5'"),
    (["offaxis", "xmm", "--off-axis", "0,900", "--energy", "2"], "off-axis angle"),
    (["spot", "xmm", "--g", "-1e-11"], "--g '-1e-11'"),
    (["spot", "xmm", "--field", "0"], "--field '0': must be > 0"),
    (["spot", "xmm", "--band", "10:1"], "--band '10:1'"),
    (["spot", "xmm", "--date", "1800-01-01"], "covers the years 1900-2100"),
    (["spot", "xmm", "--cube", "cube.fits", "--cube-bin", "0.07"], "--cube-bin 0.07: must be a whole number"),
    (["spot", "xmm", "--cube", "cube.png"], "--cube 'cube.png'"),
    (["area", "xmm", "--energy", "3", "--off-axis", "0,5", "--events-all"], "--events-all: it says which rays"),
    (["psf", "xmm", "--energy", "3,4", "--image", "lib.fits", "--events-all"], "--events-all: it says which rays"),
    (["sensitivity", "--preset", "iaxo", "--optics", "xmm"], "--preset iaxo fixes its own inputs: drop --optics"),
    (["sensitivity", "--preset", "iaxoplus", "--magnet", "m.toml"], "--preset iaxoplus fixes its own inputs"),
    (["sensitivity", "--preset", "nope"], "--preset"),
    (["sensitivity", "--bins", "1:10"], "--bins '1:10': expected START:STOP:STEP"),
    (["sensitivity", "--bins", "1:a:0.5"], "--bins '1:a:0.5': expected START:STOP:STEP"),
    (["spot", "xmm", "--cube-bin", "0.5"], "--cube-bin: it sets the energy bins of --cube"),
    (["spot", "xmm", "--detector-efficiency-in", "rmf"], "--detector-efficiency-in: it says which of --arf"),
    (["spot", "xmm", "--arf", "spot.fits"], "--arf 'spot.fits'"),
    (["spot", "xmm", "--rmf", "spot.arf"], "--rmf 'spot.arf'"),
    (["spot", "xmm", "--arf", "spot.arf", "--rmf", "spot.arf"], "--rmf 'spot.arf'"),
    (["spot", "xmm", "--rmf", "spot.rmf", "--detector", NO_RESOLUTION], "gives no energy resolution"),
    (["spot", "xmm", "--arf", "spot.arf", "--detector-efficiency-in", "pha"], "--detector-efficiency-in"),
    (["sensitivity", "--bins", "10:1:0.5"], "--bins '10:1:0.5': need first < last edge"),
    (["sensitivity", "--bins", "1:10:0.7"], "not a whole number of 0.7 keV bins"),
    (["sensitivity", "--mass", "1:0.1:30log"], "a log grid needs 0 < START < STOP"),
    (["sensitivity", "--max-gas-mass", "100"], "denser than liquid helium"),
    (["optimise", "--focal-length", "3000:9000:1", "-o", "scan"], "at most 500"),
    (["area", "xmm", "--energy", "2", "--rays", "0"], "--rays '0'"),
    (["area", "xmm", "--energy", "2", "--rays", "1.5"], "--rays '1.5'"),
    (["area", "xmm", "--energy", "2", "--seed", "-1"], "--seed '-1'"),
    (["tilt", "xmm", "--tilt", "0:1:0.5", "--keep", "2"], "--keep 2"),
    (["tilt", "xmm", "--tilt", "0:1:0.5", "--decentre", "1"], "--decentre '1'"),
    (["calibrate", "xmm", "--energy", "1.5", "--hpd", "1e6", "--rays", "20000"], "give only"),
    (["calibrate", "xmm", "--king", "missing.csv", "--king-energy", "1.5"], "missing.csv"),
    (["calibrate", "xmm", "--king", KING, "--king-energy", "1.5", "--ee-error", "0"], "--ee-error '0': must be > 0"),
    (
        ["calibrate", "xmm", "--king", KING, "--king-energy", "1.5", "--fix", "foo=1"],
        "--fix 'foo': the fitted parameters are",
    ),
    # apertures: well formed but not allowed, or not well formed
    (["area", "xmm", "--energy", "2", "--aperture", "circle:-5"], "the radius must be > 0"),
    (["area", "xmm", "--energy", "2", "--aperture", "sector:10:10"], "need PHI1 < PHI2"),
    (["area", "xmm", "--energy", "2", "--aperture", "square:5"], "expected circle:RADIUS_MM"),
    # combinations that would be ignored
    (["spot", "xmm", "--no-bore", "--bore-gap", "100"], "--bore-gap"),
    (["tilt", "xmm", "--tilt", "0:1:0.5", "--energy", "3"], "--energy goes with --source parallel"),
    (["optimise", "--vary", "r_min_mm=30:80", "--vary", "r_min_mm=40:60", "-o", "scan"], "more than once"),
    (["optimise", "--focal-length", "5000", "--vary", "r_min_mm=30:80", "-o", "scan"], "not both"),
    (["optimise", "--vary", "r_min_mm=80:30", "-o", "scan"], "finite bounds with low < high"),
    (["tilt", "xmm", "--tilt", "1", "--offset", "0.5", "--off-axis", "0.3"], "not a mixture"),
    (["sensitivity", "--masses", "1e-3:1:4", "--mass", "1e-3"], "give one of the two"),
    (["optimise", "--focal-length", "5000", "--materials", "foo", "-o", "scan"], "--materials foo: choose from"),
    (["sensitivity", "--optics", ""], "--optics ''"),
    (["sensitivity", "--preset", "rest2019", "--optics", "xmm"], "drop --optics"),
    (["area", "xmm", "--energy", "2", "--off-axis", "0:5:1", "--events", "e.fits"], "one direction"),
    (["demo", "--rays", "50"], "trace more rays"),
    (["psf", "xmm", "--energy", "1.5,3", "-o", "ee.ecsv", "--image", "lib.fits"], "a PSF library writes only --image"),
    (["psf", "xmm", "--energy", "1.5", "--off-axis", "0,5"], "name its file with --image"),
    # names and choices
    (["reflectivity", "nope", "--energy", "8", "--graze", "1"], "unknown coating recipe 'nope'"),
    (["reflectivity", "au250_ni", "--energy", "8"], "--graze is required"),
    (["reflectivity", "au250_ni", "--energy", "8", "--graze", "1", "--polarisation", "q"], "--polarisation"),
    (["psf", "xmm"], "--energy"),
    (["area", "xmm", "--energy-kev", "2"], "required: --energy"),
    (["frobnicate"], "invalid choice"),
]


def _user_files(folder: Path) -> None:
    from geometries import load_design, load_optic
    from geometries.generator import design_to_toml
    from raytrace.helioscope.detector import DEFAULT_DETECTOR_TOML
    from raytrace.output import write_prescription

    (folder / DESIGN).write_text(design_to_toml(load_design("babyiaxo")))
    write_prescription(load_optic("xmm"), folder / SHELLS)
    (folder / NOTES).write_text("alignment log, 2026-12-07\n")
    before, _, after = DEFAULT_DETECTOR_TOML.partition("[resolution]")
    (folder / NO_RESOLUTION).write_text(before + after.partition("energy_kev = 5.9\n")[2])
    locked = folder / READ_ONLY
    locked.write_text("energy effective_area\n")
    locked.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    lines = (folder / SHELLS).read_text().splitlines(keepends=True)
    (folder / CUT_AT_LINE).write_text("".join(lines[: len(lines) // 2]))
    text = (folder / SHELLS).read_text()
    (folder / CUT_MID_LINE).write_text(text[: text.rindex("\n", 0, len(text) - 200) + 5])


def _snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")
    _user_files(folder)
    return folder


@pytest.mark.parametrize("argv, message", MISTAKES, ids=[" ".join(a)[:60] for a, _ in MISTAKES])
def test_a_mistake_is_one_line_and_touches_no_file(capsys, monkeypatch, user_folder, argv, message):
    monkeypatch.chdir(user_folder)
    before = _snapshot(user_folder)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("raytrace: error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err, err
    assert _snapshot(user_folder) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["tilt", "xmm", "--tilt", "0", "--decentre", "-0.5,0"],
        ["tilt", "xmm", "--tilt", "0", "--pivot-z", "-1e3"],
        ["psf", "xmm", "--energy", "3", "--focal-plane-z", "-1e1", "--pixels", "16"],
    ],
)
@pytest.mark.slow
def test_negative_numbers_are_numbers(capsys, monkeypatch, tmp_path, argv):
    monkeypatch.chdir(tmp_path)
    assert main(argv + ["--rays", "4000"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "old, new, warnings",
    [
        (["area", "xmm", "--energies", "1:3:1"], ["area", "xmm", "--energy", "1:3:1"], 1),
        (
            ["reflectivity", "au250_ni", "--energies", "8", "--angles=1,2"],
            ["reflectivity", "au250_ni", "--energy", "8", "--graze=1,2"],
            2,
        ),
        (
            ["offaxis", "xmm", "--angles", "0:5:5", "--energy", "3"],
            ["offaxis", "xmm", "--off-axis", "0:5:5", "--energy", "3"],
            1,
        ),
        (
            ["spot", "xmm", "--offset", "1", "--offset-azimuth", "90"],
            ["spot", "xmm", "--off-axis", "1", "--azimuth", "90"],
            2,
        ),
        (["tilt", "xmm", "--tilts", "0:1:1"], ["tilt", "xmm", "--tilt", "0:1:1"], 1),
        (["optimise", "--focal-lengths", "5000", "-o", "x"], ["optimise", "--focal-length", "5000", "-o", "x"], 1),
        (
            ["calibrate", "xmm", "--king", "k.csv", "--king-energies", "1.5"],
            ["calibrate", "xmm", "--king", "k.csv", "--king-energy", "1.5"],
            1,
        ),
        (["demo", "--output-dir", "d"], ["demo", "-o", "d"], 0),
    ],
)
def test_the_previous_names_still_work_with_one_warning_each(capsys, old, new, warnings):
    parsed_old = vars(build_parser().parse_args(old))
    err = capsys.readouterr().err
    assert vars(build_parser().parse_args(new)) == parsed_old
    assert len(err.splitlines()) == warnings and err.count(" is now ") == warnings


@pytest.mark.slow
def test_the_old_masses_and_tilt_names_are_read_as_before(capsys, tmp_path, monkeypatch):
    from astropy.table import Table

    from raytrace.cli.helioscope import _mass_spec

    def masses(*argv):
        return list(_mass_spec(build_parser().parse_args(["sensitivity", *argv])))

    assert masses("--masses", "1e-3:1:4") == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    assert masses("--masses", "1e-3:10:5") == pytest.approx(np.geomspace(1e-3, 10, 5))  # a count, whatever the range
    assert "is now --mass MIN:MAX:COUNTlog" in capsys.readouterr().err
    assert masses("--mass", "0.01:0.05:0.02") == pytest.approx([0.01, 0.03, 0.05])  # a step, as everywhere
    assert masses("--mass", "1,0.01,0.1,0.01") == [0.01, 0.1, 1.0]  # rising, each once
    monkeypatch.chdir(tmp_path)
    runs = {
        "old": ["--tilts", "1", "--offset", "0.5", "--offset-azimuth", "30", "--azimuth", "90"],
        "new": ["--tilt", "1", "--off-axis", "0.5", "--azimuth", "30", "--tilt-azimuth", "90"],
        "alone": ["--tilt", "1", "--azimuth", "90"],
        "alone_new": ["--tilt", "1", "--tilt-azimuth", "90"],
    }
    for name, argv in runs.items():
        assert main(["tilt", "xmm", *argv, "--rays", "4000", "-o", f"{name}.ecsv"]) == 0
    err = capsys.readouterr().err
    assert "--offset-azimuth is now --azimuth" in err and "the tilt's direction" in err
    tables = {name: Table.read(tmp_path / f"{name}.ecsv") for name in runs}
    assert list(tables["old"]["shift_mm"]) == list(tables["new"]["shift_mm"])
    assert list(tables["alone"]["shift_mm"]) == list(tables["alone_new"]["shift_mm"])
    assert tables["old"].meta["tilt_azimuth_deg"] == tables["alone"].meta["tilt_azimuth_deg"] == 90
