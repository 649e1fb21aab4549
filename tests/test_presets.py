"""The IAXO family as presets: their values are the conceptual design's (Abeln et al., JHEP 05 (2021) 137, tables 1
and 4), the IAXO optic is the one table 4 describes, and a preset's sensitivity runs from traced optics, saying how
many rays start outside the bores."""

import pytest

import raytrace
from raytrace.cli import main
from raytrace.helioscope import Magnet, load_detector
from raytrace.helioscope.presets import PRESETS, load_preset

TABLE_1 = {  # B (T), L (m), all bores' area (m2), b (counts keV^-1 cm^-2 s^-1), exposure (years)
    "babyiaxo": (2.0, 10.0, 0.77, 1e-7, 1.5),
    "iaxo": (2.5, 20.0, 2.3, 1e-8, 3.0),
    "iaxoplus": (3.5, 22.0, 3.9, 1e-9, 5.0),
}


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_holds_the_conceptual_designs_values(name):
    preset = load_preset(name)
    field, length, area_m2, background, years = TABLE_1[name]
    magnet = preset.magnet
    assert (magnet.field_tesla, magnet.length_m) == (field, length)
    assert magnet.bores * magnet.bore_area_cm2 * 1e-4 == pytest.approx(area_m2, rel=0.02)  # IAXO's 600 mm bores: 2.26
    assert preset.detector.background_counts_kev_cm2_s == background
    assert preset.vacuum_years == preset.gas_years == years and preset.tracking == 0.5
    assert len(preset.optics) in (1, magnet.bores)


def test_the_babyiaxo_preset_is_the_default_helioscope():
    from raytrace import defaults

    preset = load_preset("babyiaxo")
    assert preset.magnet == Magnet() and preset.optics == defaults.SENSITIVITY_OPTICS
    default = load_detector()
    assert preset.detector == default
    assert (preset.vacuum_years, preset.gas_years, preset.tracking, preset.max_gas_mass_ev) == (
        defaults.VACUUM_YEARS,
        defaults.GAS_YEARS,
        defaults.TRACKING,
        defaults.MAX_GAS_MASS_EV,
    )


def test_the_iaxo_optic_is_the_one_of_table_4():
    optic = raytrace.load("iaxo")
    radii = optic.intersect_radii_mm()
    assert optic.focal_length_mm == 5000.0 and len(optic.shells) == 123
    assert sum(shell.segmentation.segments for shell in optic.shells) == 2172
    graze_mrad = radii / (4 * optic.focal_length_mm) * 1e3
    assert graze_mrad[0] == pytest.approx(2.63) and 14.5 < graze_mrad[-1] <= 15.0
    psf = raytrace.psf(optic, 3.0, rays=300_000)  # table 4: HPD 0.29 mrad, 80 % within 0.58 mrad (W80 diameter)
    arcsec_per_mrad = 206.265
    assert psf.hpd_arcsec == pytest.approx(0.29 * arcsec_per_mrad, rel=0.03)
    assert psf.w80_arcsec == pytest.approx(0.58 * arcsec_per_mrad, rel=0.03)
    wider = raytrace.load("iaxoplus")
    assert wider.intersect_radii_mm().max() < load_preset("iaxoplus").magnet.bore_radius_mm


@pytest.mark.slow
def test_a_presets_sensitivity_runs_from_traced_optics_and_reports_the_bores(capsys):
    assert main(["sensitivity", "--preset", "iaxo", "--rays", "20000", "--mass", "1e-3", "--gas-years", "0"]) == 2
    assert "--preset iaxo fixes its own inputs: drop --gas-years" in capsys.readouterr().err
    assert main(["sensitivity", "--preset", "iaxo", "--rays", "20000", "--mass", "1e-3,0.1"]) == 0
    out = capsys.readouterr().out
    assert "iaxo: B = 2.5 T, L = 20 m, 8 bores of 300 mm radius" in out
    assert "bores 1-8, each iaxo:" in out and "0 % of its rays start outside the bore" in out
    result = raytrace.preset_sensitivity("iaxo", rays=20_000, masses_ev=[1e-3])
    assert result.meta["preset"] == "iaxo" and len(result.spots) == 8 and len({id(s) for s in result.spots}) == 1
    # eight bores of one traced optic: the vacuum limit is one bore's divided by 8^(1/4) in the background-free
    # regime, by less where background counts
    one = result.meta["bore_vacuum_low_mass"][0]
    assert one / 8**0.25 < result.low_mass("g_agamma_vacuum") < one


@pytest.mark.slow
def test_an_optic_wider_than_its_bore_is_reported(capsys, tmp_path):
    """The issue's case: BabyIAXO's custom optic (350 mm) in IAXO's 300 mm bores."""
    magnet = tmp_path / "iaxo_magnet.toml"
    magnet.write_text("field_tesla = 2.5\nlength_m = 20.0\nbores = 8\nbore_radius_mm = 300.0\n")
    assert (
        main(
            [
                "sensitivity",
                "--optics",
                "babyiaxo",
                "--magnet",
                str(magnet),
                "--rays",
                "20000",
                "--mass",
                "1e-3",
                "--gas-years",
                "0",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    outside = float(captured.out.split("% of its rays start outside the bore")[0].rsplit(";", 1)[1])
    assert 20 < outside < 35
    assert "babyiaxo reaches out to r = " in captured.err and "beyond the bore's 300 mm" in captured.err
