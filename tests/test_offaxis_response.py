"""Off-axis response tables: energy x off-axis angle x azimuth, and their OGIP/CALDB vignetting layout."""

import numpy as np
from astropy.io import fits
from astropy.table import Table

from raytrace.analysis import effective_area, offaxis_response
from raytrace.cli import main
from raytrace.output import write_vignetting
from raytrace.sources import ParallelBeam


def test_response_is_the_effective_area_of_each_direction(xmm, tmp_path):
    energies, angles, azimuths = [1.5, 6.4], [0.0, 4.0, 12.0], [0.0, 90.0]
    table = offaxis_response(xmm, energies, angles, azimuths, n_rays=30_000, seed=2)
    assert len(table) == 2 * 3 * 2
    for azimuth in azimuths:
        for angle in angles:
            direct = effective_area(xmm, energies, ParallelBeam(np.radians(angle / 60), np.radians(azimuth)), 30_000, 2)
            rows = table[(table["off_axis"].value == angle) & (table["azimuth"].value == azimuth)]
            np.testing.assert_array_equal(rows["effective_area"], direct["effective_area"])
    on_axis = table[table["off_axis"].value == 0]
    np.testing.assert_allclose(on_axis["vignet"], 1.0)
    assert np.all(table["vignet"][table["off_axis"].value == 12.0] < 0.8)

    path = write_vignetting(table, tmp_path / "vignetting.fits")
    with fits.open(path) as hdus:
        hdu = hdus["VIGNET"]
        assert hdu.header["HDUCLAS2"] == "VIGNET" and hdu.header["TDIM5"] == "(2,3,2)"
        np.testing.assert_allclose(hdu.data["THETA"][0], np.array(angles) / 60.0, rtol=1e-6)  # degrees
        np.testing.assert_allclose(hdu.data["PHI"][0], azimuths)
        vignet = hdu.data["VIGNET"][0]  # numpy order (azimuth, angle, energy): energy varies fastest
        for k, azimuth in enumerate(azimuths):
            for j, angle in enumerate(angles):
                rows = table[(table["off_axis"].value == angle) & (table["azimuth"].value == azimuth)]
                np.testing.assert_allclose(vignet[k, j], rows["vignet"], rtol=1e-6)
        assert np.all(hdu.data["ENERG_LO"][0] < energies) and np.all(hdu.data["ENERG_HI"][0] > energies)


def test_area_command_writes_a_response_for_a_grid_of_angles(tmp_path, capsys):
    out = tmp_path / "response.ecsv"
    assert main(["area", "xmm", "--energy", "1:7:3", "--off-axis", "0:10:5", "--rays", "20000", "-o", str(out)]) == 0
    table = Table.read(out)
    assert len(table) == 3 * 3 and table.meta["off_axis_arcmin"] == [0.0, 5.0, 10.0]
    assert "A_eff / on axis" in capsys.readouterr().out
    assert main(["area", "xmm", "--energy", "1:7:3", "--off-axis", "0:10:5", "-o", str(tmp_path / "a.arf")]) == 2
    assert "this output is written as" in capsys.readouterr().err
