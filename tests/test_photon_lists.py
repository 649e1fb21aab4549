"""Photon lists (FITS and MCPL): every ray reaching the focal plane, read back to the same rays."""

import numpy as np
import pytest
from astropy.table import Table

import raytrace
from raytrace.cli import main
from raytrace.engine import Fate

REACHING = [Fate.NO_REFLECTION, Fate.PRIMARY_ONLY, Fate.SECONDARY_ONLY, Fate.DOUBLE, Fate.MULTIPLE]


def test_fits_photon_list_holds_every_ray_that_reaches_the_focal_plane(tmp_path, babyiaxo):
    path = tmp_path / "events.fits"
    result = raytrace.psf(babyiaxo, 3.0, off_axis_arcmin=2.0, rays=20_000, seed=4, focal_plane_z_mm=0.0, events=path)
    table = Table.read(path)
    assert str(table["X"].unit) == "mm" and str(table["ENERGY"].unit) == "keV" and str(table["WEIGHT"].unit) == "cm2"
    assert set(np.unique(table["FATE"])) <= set(int(f) for f in REACHING)
    focused = table["FATE"] == Fate.DOUBLE
    assert table["WEIGHT"][focused].sum() == pytest.approx(result.effective_area_cm2, rel=1e-12)
    assert table.meta["rays"] == 20_000 and table.meta["optic"] == babyiaxo.name
    np.testing.assert_allclose(table["Z"], 0.0)
    np.testing.assert_allclose(np.average(table["X"][focused], weights=table["WEIGHT"][focused]), result.centroid_x_mm)


def test_area_photon_list_weights_include_the_reflectivities(tmp_path, xmm):
    path = tmp_path / "area.fits"
    area = raytrace.effective_area(xmm, [6.4], rays=30_000, seed=2, events=path)
    table = Table.read(path)
    assert table["WEIGHT"][table["FATE"] == Fate.DOUBLE].sum() == pytest.approx(area["effective_area"][0], rel=1e-12)
    np.testing.assert_array_equal(table["ENERGY"], 6.4)


def test_mcpl_photon_list_reads_back_to_the_same_rays(tmp_path, xmm):
    mcpl = pytest.importorskip("mcpl")
    pytest.importorskip("_mcpl_core")
    fits_path, mcpl_path = tmp_path / "a.fits", tmp_path / "a.mcpl"
    for path in (fits_path, mcpl_path):
        raytrace.psf(xmm, 1.5, off_axis_arcmin=2.0, rays=20_000, seed=8, focal_plane_z_mm=-10.0, events=path)
    reference = Table.read(fits_path)
    columns = {name: [] for name in ("x", "ekin", "weight", "userflags", "pdgcode")}
    with mcpl.MCPLFile(str(mcpl_path)) as f:
        assert f.nparticles == len(reference)
        for block in f.particle_blocks:  # a block's arrays are reused by the next one: copy them
            for name, parts in columns.items():
                parts.append(np.array(getattr(block, name)))
    x, ekin, weight, flags, pdg = (np.concatenate(parts) for parts in columns.values())
    assert np.all(pdg == 22)
    np.testing.assert_allclose(x * 10.0, reference["X"], rtol=1e-6, atol=1e-5)  # cm -> mm, single precision
    np.testing.assert_allclose(ekin * 1e3, reference["ENERGY"], rtol=1e-6)
    np.testing.assert_allclose(weight, reference["WEIGHT"], rtol=1e-6)
    np.testing.assert_array_equal(flags >> 16, reference["FATE"])
    np.testing.assert_array_equal(flags & 0xFFFF, reference["SHELL"])


def test_photon_list_command_says_how_large_and_refuses_what_it_cannot_write(tmp_path, capsys):
    path = tmp_path / "spot.fits"
    assert main(["spot", "xmm", "--rays", "20000", "--events", str(path)]) == 0
    out = capsys.readouterr().out
    assert "at most 1.4 MB (20,000 rays)" in out and f"wrote {path}" in out  # 70 bytes per row
    assert len(Table.read(path)) > 0
    assert main(["psf", "xmm", "--energy", "1.5", "--events", str(tmp_path / "e.txt")]) == 2
    assert "this output is written as" in capsys.readouterr().err
    assert not list(tmp_path.glob(".e.txt*"))


def test_tilt_writes_one_photon_list_per_tilt(tmp_path, xmm):
    events = tmp_path / "tilt.fits"
    table = raytrace.tilt_scan(xmm, [0.0, 2.0], rays=10_000, events=events)
    for k, tilt in enumerate([0.0, 2.0]):
        photons = Table.read(raytrace.api.events_path(events, k))
        assert photons.meta["tilt_arcmin"] == pytest.approx(tilt)
        assert len(photons) > 0
    assert len(table) == 2 and not list(tmp_path.glob(".*"))
