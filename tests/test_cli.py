import math
import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from raytrace.cli import main
from raytrace.cli.options import parse_grid


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["area", "hubble", "--energy", "1:2:0.5"], "unknown optic 'hubble'"),
        (["area", "xmm", "--energy", "1:2"], "--energy '1:2'"),
        (["area", "xmm", "--energy", "2:1:0.5"], "START <= STOP"),
        (["area", "xmm", "--energy=-1,2"], "positive"),
        (["area", "xmm", "--energy", "abc"], "--energy 'abc'"),
        (["area", "xmm", "--energy", "2000"], "energy 2000.0 keV"),
        (["area", "xmm", "--energy", "1", "--rays", "0"], "--rays '0'"),
        (["area", "xmm", "--energy", "1", "--rays", "many"], "--rays 'many'"),
        (["area", "xmm", "--energy", "1", "-o", "/nonexistent/dir/a.ecsv"], "does not exist"),
        (["area", "xmm", "--energy", "1", "-o", "area.txt"], "this output is written as"),
        (["psf", "xmm", "--energy", "-3"], "--energy '-3': values must be positive"),
        (["psf", "xmm", "--energy", "1", "--off-axis", "900"], "off-axis angle"),
        (["psf", "xmm", "--energy", "1", "--focal-plane-z", "7300"], "focal plane z = 7300.0"),
        (["psf", "xmm"], "--energy"),
        (["psf", "xmm", "--energy", "1.5", "--source", "disc:130"], "--source 'disc:130': expected parallel, point"),
        (["psf", "xmm", "--energy", "1.5", "--source", "point:130@5"], "its direction is --off-axis and --azimuth"),
        (["area", "xmm", "--energy", "1.5", "--source", "point:0.5"], "source distance = 0.5 m"),
        (["psf", "xmm", "--energy", "1.5", "--source", "point:14"], "only beyond about 4 f = 30 m"),
        (["tilt", "xmm", "--tilt", "0,1", "--source", "point:130"], "--source 'point:130': expected sun or parallel"),
        (["frobnicate"], "invalid choice"),
        (["reflectivity", "nope", "--energy", "8", "--graze", "1"], "unknown coating recipe 'nope'"),
        (["reflectivity", "missing.toml", "--energy", "8", "--graze", "1"], "'missing.toml' does not exist"),
        (["reflectivity", "au250_ni", "--energy", "8", "--graze=-1"], "--graze '-1'"),
        (["reflectivity", "au250_ni", "--energy", "8", "--graze", "2000"], "must not exceed 1000 mrad"),
        (["reflectivity", "au250_ni", "--energy", "0.05", "--graze", "1"], "energy outside 0.1-800.0 keV"),
        (["reflectivity", "au250_ni", "--energy", "8", "--graze", "1", "--roughness=-1"], "--roughness '-1'"),
        (["reflectivity", "au250_ni", "--energy", "8", "--graze", "1", "-o", "r.txt"], "this output is written as"),
        (["reflectivity", "au250_ni", "--energy", "8"], "--graze"),
        (["design", "--r-min", "400", "-o", "d.toml"], "r_min_mm = 400.0 must be below r_max_mm"),
        (["design", "--focal-length", "100", "-o", "d.toml"], "focal_length_mm = 100.0 is too short"),
        (["design", "--set", "inner.glass_thickness_mm=500", "-o", "d.toml"], "glass_thickness_mm"),
        (["design", "--set", "inner.colour=3", "-o", "d.toml"], "unknown field 'colour'"),
        (["design", "--set", "nonsense", "-o", "d.toml"], "expected KEY=VALUE"),
        (["design", "--from", "xmm", "-o", "d.toml"], "unknown design 'xmm'"),
        (["design", "-o", "d.ecsv"], "this output is written as"),
        (["calibrate", "babyiaxo", "--energy", "3", "--hpd", "20", "--rays", "20000"], "HPD is already"),
        (["calibrate", "xmm", "--energy", "1.5", "--hpd", "15", "-o", "x.toml"], "needs a segmented design"),
        (["calibrate", "xmm", "--energy", "1.5", "--hpd", "15", "--w90", "10"], "must exceed the HPD"),
        (["show", "hubble"], "unknown optic 'hubble'"),
        (["spot", "xmm", "--band", "5:2"], "--band '5:2'"),
        (["tilt", "xmm", "--tilt", "0:2:1", "--keep", "2"], "--keep 2"),
        (["tilt", "xmm", "--tilt=-1,2"], "--tilt '-1,2'"),
        (["tilt", "xmm", "--tilt", "0,120"], "--tilt: must be from 0 to 60 arcmin"),
        (["tilt", "xmm", "--tilt", "0,1", "--decentre", "1"], "--decentre '1'"),
        (["offaxis", "xmm", "--off-axis", "0:5:1"], "--energy"),
        (["offaxis", "xmm", "--off-axis", "0,900", "--energy", "2"], "off-axis angle"),
        (["optimise", "--focal-length", "5000", "--materials", "gold", "-o", "out"], "--materials gold: choose from"),
        (["optimise", "--focal-length", "100", "-o", "out"], "focal_length_mm = 100.0 is too short"),
        (["optimise", "--focal-length", "5000", "--groups", "0", "-o", "out"], "--groups '0'"),
        (["spot", "xmm", "--detector", "nothere.toml"], "cannot read it"),
        (["spot", "xmm", "--off-axis", "100"], "pointing offset = 100 arcmin"),
        (["spot", "xmm", "--date", "yesterday"], "date 'yesterday'"),
        (["spot", "xmm", "--efficiency", "2"], "efficiency = 2.0"),
        (["psf", "babyiaxo", "--energy", "3", "--focal-plane-z", "soon"], "--focal-plane-z 'soon'"),
        (["spot", "xmm", "--no-bore", "--bore-gap", "100"], "--bore-gap: the photons do not come from the bore"),
        (["tilt", "xmm", "--tilt", "0,1", "--energy", "3"], "--energy goes with --source parallel"),
        (["optimise", "--focal-length", "3000:9000:1", "-o", "out"], "6001 focal lengths; at most 500"),
        (["optimise", "--vary", "r_min_mm=40:80", "--vary", "r_min_mm=30:60", "-o", "out"], "given more than once"),
        (["sensitivity", "--optics", ""], "--optics '': name at least one optic"),
    ],
)
def test_bad_input_gives_one_clear_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("raytrace: error:")
    assert message in lines[0]
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_unwritable_output_folder(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = run(capsys, "area", "xmm", "--energy", "1", "--rays", "1000", "-o", str(locked / "a.ecsv"))
    finally:
        locked.chmod(0o700)
    assert code == 2 and "not writable" in err


def test_area_writes_ecsv_fits_and_arf(capsys, tmp_path):
    for suffix in ("ecsv", "fits", "arf"):
        path = tmp_path / f"area.{suffix}"
        code, out, _ = run(capsys, "area", "xmm", "--energy", "1:3:0.5", "--rays", "20000", "-o", str(path))
        assert code == 0 and "wrote" in out
    table = Table.read(tmp_path / "area.ecsv")
    assert table.colnames == ["energy", "effective_area", "effective_area_err"]
    assert str(table["energy"].unit) == "keV" and str(table["effective_area"].unit) == "cm2"
    np.testing.assert_allclose(table["energy"], [1.0, 1.5, 2.0, 2.5, 3.0])
    assert table.meta["rays"] == 20000 and table.meta["optic"] == "xmm"
    fits_table = Table.read(tmp_path / "area.fits")
    np.testing.assert_allclose(fits_table["effective_area"], table["effective_area"])
    with fits.open(tmp_path / "area.arf") as hdus:
        spec = hdus["SPECRESP"]
        assert spec.header["HDUCLAS1"] == "RESPONSE" and spec.header["HDUCLAS2"] == "SPECRESP"
        np.testing.assert_allclose(spec.data["SPECRESP"], table["effective_area"], rtol=1e-6)
        assert np.all(spec.data["ENERG_LO"] < spec.data["ENERG_HI"])
        np.testing.assert_allclose(spec.data["ENERG_HI"][:-1], spec.data["ENERG_LO"][1:])


@pytest.mark.slow
def test_psf_summary_and_files(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "psf",
        "xmm",
        "--energy",
        "1.5",
        "--off-axis",
        "3",
        "--rays",
        "30000",
        "-o",
        str(tmp_path / "ee.ecsv"),
        "--image",
        str(tmp_path / "psf.fits"),
        "--plot",
        str(tmp_path / "psf.png"),
    )
    assert code == 0
    assert "HPD" in out and "W80" in out and "W90" in out and "centroid" in out
    ee = Table.read(tmp_path / "ee.ecsv")
    assert ee.colnames == ["radius", "encircled_fraction"]
    for key in ("hpd_arcsec", "w80_arcsec", "w90_arcsec", "centroid_x_mm", "centroid_y_mm"):
        assert key in ee.meta
    assert np.all(np.diff(ee["encircled_fraction"]) >= 0)
    assert ee.meta["centroid_x_mm"] == pytest.approx(-7500 * np.tan(np.radians(3 / 60)), rel=0.01)
    with fits.open(tmp_path / "psf.fits") as hdus:
        assert hdus[0].data.shape == (256, 256) and hdus[0].header["CUNIT1"] == "arcsec"
        assert (hdus[0].header["ENERGY"], hdus[0].header["THETA"], hdus[0].header["HDUCLAS2"]) == (1500.0, 3.0, "PSF")
    assert (tmp_path / "psf.png").stat().st_size > 0


def test_psf_of_a_source_at_a_test_facility(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "psf",
        "xmm",
        "--energy",
        "1.5",
        "--source",
        "disc:130:1",
        "--rays",
        "30000",
        "-o",
        str(tmp_path / "ee.ecsv"),
    )
    assert code == 0 and "1 mm radius disc at 130 m" in out
    ee = Table.read(tmp_path / "ee.ecsv")
    assert ee.meta["source_distance_m"] == 130.0
    assert ee.meta["focal_plane_z_mm"] == pytest.approx(7500 - 7500 * 130 / (130 - 7.5), abs=8)  # behind the focus
    assert ee.meta["image_distance_mm"] == pytest.approx(7500 * 130 / 122.5)


def test_reflectivity_table_and_plot(capsys, tmp_path):
    from coatings import load_recipe

    code, out, _ = run(
        capsys,
        "reflectivity",
        "wb4c_graded",
        "--energy",
        "1:9:2",
        "--graze",
        "0,4,8",
        "-o",
        str(tmp_path / "r.fits"),
        "--plot",
        str(tmp_path / "r.png"),
    )
    assert code == 0 and "W/B4C" in out and "wrote" in out
    table = Table.read(tmp_path / "r.fits")
    assert table.colnames == ["energy", "angle", "reflectivity"]
    assert str(table["energy"].unit) == "keV" and str(table["angle"].unit) == "mrad" and len(table) == 15
    expected = load_recipe("wb4c_graded").reflectivity_grid([1, 3, 5, 7, 9], np.array([0, 4, 8]) * 1e-3)
    np.testing.assert_allclose(np.asarray(table["reflectivity"]).reshape(5, 3), expected, rtol=1e-12)
    assert (tmp_path / "r.png").stat().st_size > 0
    code, out, _ = run(
        capsys, "reflectivity", "au250_ni", "--energy", "8", "--graze", "8", "--roughness", "3", "--polarisation", "s"
    )
    rough = load_recipe("au250_ni").with_roughness(3.0).reflectivity_grid([8.0], [8e-3], "s")[0, 0]
    assert code == 0 and f"{rough:.4f}" in out


def test_parse_grid_includes_stop():
    values = parse_grid("0.5:12:0.1")
    assert values.size == 116 and values[-1] == pytest.approx(12.0)
    np.testing.assert_allclose(parse_grid("1.5, 6.4"), [1.5, 6.4])
    np.testing.assert_allclose(parse_grid("0:2:1", "--graze", "mrad", allow_zero=True), [0, 1, 2])


@pytest.mark.slow
def test_demo_writes_everything(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--rays", "20000", "--output-dir", str(tmp_path / "out"))
    assert code == 0 and "CDR" in out
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {
        f"{name}_{kind}"
        for name in ("xmm", "babyiaxo")
        for kind in ("effective_area.ecsv", "effective_area.arf", "psf_3keV.fits", "effective_area.png", "psf_3keV.png")
    } <= names
    assert "xmm_vs_babyiaxo.png" in names
    assert not any(name.startswith(".") for name in names)  # no temporary files left behind


@pytest.mark.slow
def test_design_show_calibrate_round_trip(capsys, tmp_path):
    design = tmp_path / "short.toml"
    code, out, _ = run(
        capsys,
        "design",
        "--focal-length",
        "6000",
        "--r-max",
        "300",
        "--set",
        "outer.segment_length_mm=150",
        "-o",
        str(design),
    )
    assert code == 0 and "layers" in out and "graze angles" in out and "collecting area" in out
    code, out, _ = run(capsys, "show", str(design), "--plot", str(tmp_path / "x.png"), "-o", str(tmp_path / "s.ecsv"))
    assert code == 0 and "f = 6000 mm" in out and "L 150+150 mm" in out
    assert (tmp_path / "x.png").stat().st_size > 0
    code, out, _ = run(capsys, "show", str(tmp_path / "s.ecsv"), "--plot", str(tmp_path / "y.png"))
    assert code == 0
    calibrated = tmp_path / "calibrated.toml"
    code, out, _ = run(
        capsys, "calibrate", str(design), "--energy", "3", "--hpd", "70", "--rays", "50000", "-o", str(calibrated)
    )
    assert code == 0 and "calibrated (HPD 70 arcsec): HPD " in out
    assert float(out.split("calibrated (HPD 70 arcsec): HPD ")[1].split()[0]) == pytest.approx(70, rel=2e-3)
    code, out, _ = run(capsys, "psf", str(calibrated), "--energy", "3", "--rays", "200000", "--seed", "5")
    hpd = float(out.split("HPD ")[1].split()[0])
    assert hpd == pytest.approx(70, rel=0.05)


def test_area_psf_and_reflectivity_of_the_custom_optic(capsys, tmp_path):
    code, out, _ = run(capsys, "area", "babyiaxo", "--energy", "1,3,7", "--rays", "50000")
    assert code == 0 and "wb4c_graded" in out and "ir_thick" in out
    code, out, _ = run(capsys, "psf", "babyiaxo", "--energy", "3", "--rays", "50000")
    assert code == 0 and "focal plane z = -2" in out  # best focus, behind the nominal one
    code, out, _ = run(
        capsys,
        "reflectivity",
        "babyiaxo",
        "--energy",
        "3,7",
        "-o",
        str(tmp_path / "r.ecsv"),
        "--plot",
        str(tmp_path / "r.png"),
    )
    assert code == 0 and "2 coating recipe(s)" in out
    assert set(Table.read(tmp_path / "r.ecsv")["coating"]) == {"wb4c_graded", "ir_thick"}


@pytest.mark.slow
def test_spot_prints_and_writes_the_figures_of_merit(capsys, tmp_path):
    detector = tmp_path / "xe.toml"
    detector.write_text(
        'name = "xe"\nbackground_counts_kev_cm2_s = 1e-6\nopening_diameter_mm = 10.0\n'
        '[[window]]\nmaterial = "Si3N4"\ndensity_g_cm3 = 3.17\nthickness_um = 0.3\n'
        '[gas]\nmaterial = "Xe"\npressure_bar = 0.5\ntemperature_k = 293.15\ndepth_cm = 3.0\n'
    )
    code, out, _ = run(
        capsys,
        "spot",
        "xmm",
        "--rays",
        "50000",
        "--detector",
        str(detector),
        "-o",
        str(tmp_path / "spot.fits"),
        "--plot",
        str(tmp_path / "spot.png"),
    )
    assert code == 0 and "f_DO" in out and "detector xe" in out
    table = Table.read(tmp_path / "spot.fits")
    assert table.colnames == ["radius", "encircled_fraction"] and table.meta["detector"] == "xe"
    assert (tmp_path / "spot.png").stat().st_size > 0


@pytest.mark.slow
def test_optimise_writes_the_scan_and_a_usable_best_design(capsys, tmp_path):
    out = tmp_path / "scan"
    code, text, _ = run(
        capsys,
        "optimise",
        "--focal-length",
        "4500,5500",
        "--groups",
        "2",
        "--materials",
        "ir,au",
        "--rays",
        "5000",
        "--workers",
        "1",
        "-o",
        str(out),
        "--checkpoint",
        str(tmp_path / "c.jsonl"),
    )
    assert code == 0 and "best: f = " in text and "full trace" in text
    table = Table.read(out / "scan.ecsv")
    assert list(table["focal_length"].value) == [4500.0, 5500.0]
    assert set(table.colnames) >= {"f_do", "f_o", "spot_area", "throughput", "recipe_group1", "recipe_group2"}
    code, text, _ = run(capsys, "area", str(out / "best_design.toml"), "--energy", "3", "--rays", "5000")
    assert code == 0
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 3  # the header and a row per focal length


@pytest.mark.slow
def test_tilt_and_offaxis_write_tables_and_plots(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "tilt",
        "xmm",
        "--tilt",
        "0:4:2",
        "--rays",
        "200000",
        "--source",
        "parallel",
        "--decentre",
        "0.3,0",
        "--off-axis",
        "0.2",
        "-o",
        str(tmp_path / "t.ecsv"),
        "--plot",
        str(tmp_path / "t.png"),
    )
    assert code == 0 and "largest tilt keeping 95 %" in out and "decentre (0.3, 0) mm" in out
    table = Table.read(tmp_path / "t.ecsv")
    assert table.meta["keep"] == 0.95 and table.meta["decentre_x_mm"] == 0.3
    # image of a source offset at azimuth 0: x = -f tan(offset); a decentre +d moves it by +d from the detector.
    # The centroid's statistical error is about 0.003 mm (XMM's PSF wing, 2e5 rays).
    assert table["shift_mm"][0] == pytest.approx(abs(0.3 - 7500 * math.tan(math.radians(0.2 / 60))), abs=0.01)
    code, out, _ = run(
        capsys,
        "offaxis",
        "babyiaxo",
        "--off-axis",
        "0,5",
        "--energy",
        "3",
        "--rays",
        "20000",
        "-o",
        str(tmp_path / "v.fits"),
        "--plot",
        str(tmp_path / "v.png"),
    )
    assert code == 0 and len(Table.read(tmp_path / "v.fits")) == 2 and (tmp_path / "v.png").stat().st_size > 0


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "raytrace" in capsys.readouterr().out


def test_failed_write_leaves_no_file(tmp_path):
    from raytrace.output import atomic_path

    target = tmp_path / "table.ecsv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a tab")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_no_user_file_is_harmed(capsys, tmp_path, monkeypatch):
    """Outputs that would replace an input or another output, a read-only file, a foreign file as a checkpoint and
    empty names are refused before any work, in one line naming the option; every file stays byte-identical."""
    monkeypatch.chdir(tmp_path)
    from importlib import resources

    (tmp_path / "shells.ecsv").write_bytes((resources.files("geometries") / "data" / "xmm_design.ecsv").read_bytes())
    (tmp_path / "design.toml").write_text("focal_length_mm = 5000.0\n")
    (tmp_path / "locked.ecsv").write_text("kept\n")
    (tmp_path / "locked.ecsv").chmod(0o444)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    cases = [
        (["area", "shells.ecsv", "--energy", "1.5", "-o", "shells.ecsv"], "-o 'shells.ecsv': the same file as OPTIC"),
        (["psf", "xmm", "--energy", "1.5", "-o", "out.fits", "--image", "out.fits"], "--image 'out.fits': the same"),
        (["psf", "xmm", "--energy", "1.5", "--image", "x.fits", "--events", "x.fits"], "--events 'x.fits': the same"),
        (["area", "xmm", "--energy", "1.5", "-o", "locked.ecsv"], "-o 'locked.ecsv': the file is read-only"),
        (
            ["optimise", "--focal-length", "5000", "--checkpoint", "design.toml", "-o", "scan"],
            "checkpoint 'design.toml': exists and is not a checkpoint",
        ),
        (["optimise", "--focal-length", "5000", "--checkpoint", "x", "-o", "x"], "--checkpoint 'x': the same file"),
        (["optimise", "--focal-length", "5000", "-o", ""], "-o '': an empty file name"),
        (["optimise", "--focal-length", "5000", "--checkpoint", "", "-o", "scan"], "--checkpoint '': an empty file"),
        (["optimise", "--focal-length", "5000", "--checkpoint", "no/x.jsonl", "-o", "scan"], "folder 'no' does not"),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1 and message in err, (argv, err)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_negative_numbers_parse_as_numbers(capsys):
    """argparse takes -1e1 or -0.5,0 for options unless told otherwise; these are values, and where a value must not
    be negative the error says so."""
    from raytrace.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["psf", "xmm", "--energy", "1.5", "--focal-plane-z", "-1e1"]).focal_plane_z == -10.0
    assert parser.parse_args(["tilt", "xmm", "--tilt", "0,1", "--decentre", "-0.5,0"]).decentre == "-0.5,0"
    assert parser.parse_args(["tilt", "xmm", "--tilt", "0,1", "--pivot-z", "-1e3"]).pivot_z == -1000.0
    for argv, message in (
        (["area", "xmm", "--energy", "-1:5:1"], "must be positive"),
        (["tilt", "xmm", "--tilt", "-5:5:1"], "non-negative"),
        (["offaxis", "xmm", "--off-axis", "-5:5:5", "--energy", "3"], "non-negative"),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err
