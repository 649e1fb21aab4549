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
    result = raytrace.psf(babyiaxo, 3.0, source="parallel@2", rays=20_000, seed=4, focal_plane_z_mm=0.0, events=path)
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


@pytest.mark.parametrize("frame", ["optic", "beam"])
def test_mcpl_photon_list_reads_back_to_the_same_rays(tmp_path, xmm, frame):
    mcpl = pytest.importorskip("mcpl")
    pytest.importorskip("_mcpl_core")
    fits_path, mcpl_path = tmp_path / "a.fits", tmp_path / "a.mcpl"
    for path in (fits_path, mcpl_path):
        raytrace.psf(
            xmm, 1.5, source="parallel@2", rays=20_000, seed=8, focal_plane_z_mm=-10.0, events=path, events_frame=frame
        )
    reference = Table.read(fits_path)
    with mcpl.MCPLFile(str(mcpl_path)) as f:
        assert any(comment.startswith(f"frame = {frame}") for comment in f.comments)
        block = next(iter(f.particle_blocks))
        np.testing.assert_allclose(block.z * 10.0, reference["Z"][: len(block.z)], rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(block.uz, reference["DZ"][: len(block.uz)], rtol=1e-6, atol=1e-6)
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


def test_both_frames_state_themselves_and_hold_the_same_rays_turned_about_x(tmp_path, xmm):
    optic_path, beam_path = tmp_path / "optic.fits", tmp_path / "beam.fits"
    for path, frame in ((optic_path, "optic"), (beam_path, "beam")):
        raytrace.psf(
            xmm,
            3.0,
            source="parallel@3,60",
            rays=20_000,
            seed=3,
            focal_plane_z_mm=-5.0,
            events=path,
            events_frame=frame,
        )
    optic, beam = Table.read(optic_path), Table.read(beam_path)
    assert (optic.meta["FRAME"], beam.meta["FRAME"]) == ("optic", "beam")
    assert any("photons travel along +z" in line for line in beam.meta["comments"])
    focused = optic["FATE"] == Fate.DOUBLE
    assert np.all(optic["DZ"][focused] < 0) and np.all(beam["DZ"][focused] > 0)  # towards the detector
    np.testing.assert_allclose(optic["Z"], -5.0) and np.testing.assert_allclose(beam["Z"], 5.0)
    for name, sign in (("X", 1), ("Y", -1), ("DX", 1), ("DY", -1), ("DZ", -1)):
        np.testing.assert_array_equal(beam[name], sign * optic[name])
    # a source at azimuth 60 deg images at -f tan(theta) (cos 60, sin 60) in the optic's frame
    centroid = [np.average(optic[c][focused], weights=optic["WEIGHT"][focused]) for c in ("X", "Y")]
    expected = -7500.0 * np.tan(np.radians(3 / 60)) * np.array([np.cos(np.radians(60)), np.sin(np.radians(60))])
    np.testing.assert_allclose(centroid, expected, atol=0.05)
    # RAY numbers the rays of the seeded run: the same in both lists, rising, below the number traced
    np.testing.assert_array_equal(optic["RAY"], beam["RAY"])
    assert np.all(np.diff(optic["RAY"]) > 0) and optic["RAY"].max() < 20_000


@pytest.mark.slow
def test_photon_list_command_says_how_large_and_refuses_what_it_cannot_write(tmp_path, capsys):
    path = tmp_path / "spot.fits"
    assert main(["spot", "xmm", "--rays", "20000", "--events", str(path)]) == 0
    out = capsys.readouterr().out
    assert "at most 1.56 MB (20,000 rays)" in out and f"wrote {path}" in out  # 70 bytes per row
    assert len(Table.read(path)) > 0
    assert main(["psf", "xmm", "--energy", "1.5", "--events", str(tmp_path / "e.txt")]) == 2
    assert "this output is written as" in capsys.readouterr().err
    assert not list(tmp_path.glob(".e.txt*"))


@pytest.mark.slow
def test_tilt_writes_one_photon_list_per_tilt(tmp_path, xmm):
    events = tmp_path / "tilt.fits"
    table = raytrace.tilt_scan(xmm, [0.0, 2.0], rays=10_000, events=events)
    for k, tilt in enumerate([0.0, 2.0]):
        photons = Table.read(raytrace.api.events_path(events, k))
        assert photons.meta["tilt_arcmin"] == pytest.approx(tilt)
        assert len(photons) > 0
    assert len(table) == 2 and not list(tmp_path.glob(".*"))


def _source_of(kind):
    if kind == "parallel":
        return raytrace.make_source(4.0, 30.0).at_energy(3.0)
    if kind == "point":
        return raytrace.make_source(0.0, 0.0, 130.0, 2.0).at_energy(3.0)
    return raytrace.solar_source(magnet=raytrace.Magnet())  # solar_spot's default: from the magnet's bore


@pytest.mark.parametrize("frame", ["optic", "beam"])
@pytest.mark.parametrize("kind", ["parallel", "point", "solar"])
def test_the_entrance_list_retraced_gives_the_exit_list_ray_by_ray(tmp_path, xmm, kind, frame):
    """What an external simulation does with the pair: take each photon of the entrance list through the optic (here
    the numpy reference trace, which shares no code with the kernel) and find row for row the exit list's photon."""
    from coatings import ConstantReflectivity
    from raytrace.engine import Rays, Trace
    from raytrace.engine.reference import reference_start_points, reference_trace
    from raytrace.engine.rng import seed_key

    optic = xmm.with_coating(ConstantReflectivity(1.0))  # no surface scattering: the reference traces it
    n, seed = 3000, 5
    lists = {"events": tmp_path / "exit.fits", "entrance": tmp_path / "entrance.fits", "events_frame": frame}
    if kind == "parallel":
        raytrace.effective_area(optic, [3.0], source="parallel@4,30", rays=n, seed=seed, **lists)
    elif kind == "point":
        raytrace.psf(optic, 3.0, source="disc:130:2", focal_plane_z_mm=0.0, rays=n, seed=seed, **lists)
    else:
        raytrace.solar_spot(optic, focal_plane_z_mm=0.0, rays=n, seed=seed, **lists)
    exit_, entrance = Table.read(lists["events"]), Table.read(lists["entrance"])
    assert (exit_.meta["CONTENTS"], entrance.meta["CONTENTS"]) == ("all", "entrance")
    assert exit_.meta["FRAME"] == entrance.meta["FRAME"] == frame
    for table in (exit_, entrance):
        np.testing.assert_array_equal(table["RAY"], np.arange(n))
    np.testing.assert_array_equal(exit_["FATE"], entrance["FATE"])
    np.testing.assert_array_equal(exit_["SHELL"], entrance["SHELL"])
    assert len(set(exit_["FATE"])) >= 4  # blocked, stray and focused rays are all there
    np.testing.assert_allclose(exit_["WEIGHT"], entrance["WEIGHT"], rtol=1e-12)  # R = 1: weights are kept

    signs = {"optic": (1, 1, 1), "beam": (1, -1, -1)}[frame]
    trace = Trace(optic, _source_of(kind))
    key = seed_key(seed)
    rays = Rays.empty(n)
    for axis, sign in zip("xyz", signs):
        getattr(rays, axis)[:] = sign * entrance[axis.upper()]
        getattr(rays, f"d{axis}")[:] = sign * entrance[f"D{axis.upper()}"]
    rays.energy_kev[:], rays.weight[:] = entrance["ENERGY"], entrance["WEIGHT"]
    x, y, _, rays.channel[:] = reference_start_points(key, 0, n, trace.aperture)
    np.testing.assert_allclose(np.hypot(x - rays.x, y - rays.y), 0.0, atol=1e-9)
    rays.fate[:] = np.where(entrance["FATE"] == Fate.NOT_FROM_BORE, Fate.NOT_FROM_BORE, 0)  # the source's verdict
    retraced = reference_trace(trace.packed, rays, key, 0, 0.0)
    np.testing.assert_array_equal(retraced.fate, exit_["FATE"])
    for axis, sign in zip("xyz", signs):
        np.testing.assert_allclose(sign * getattr(retraced, axis), exit_[axis.upper()], rtol=0, atol=1e-7)
        np.testing.assert_allclose(sign * getattr(retraced, f"d{axis}"), exit_[f"D{axis.upper()}"], rtol=0, atol=1e-9)


def test_mcpl_entrance_and_exit_lists_pair_by_order(tmp_path, xmm):
    mcpl = pytest.importorskip("mcpl")
    pytest.importorskip("_mcpl_core")
    exit_path, entrance_path = tmp_path / "exit.mcpl", tmp_path / "entrance.mcpl"
    raytrace.psf(
        xmm,
        3.0,
        source="parallel@2",
        rays=5000,
        seed=2,
        focal_plane_z_mm=0.0,
        events=exit_path,
        entrance=entrance_path,
        events_frame="beam",
    )
    flags, z = {}, {}
    for name, path in (("exit", exit_path), ("entrance", entrance_path)):
        with mcpl.MCPLFile(str(path)) as f:
            assert f.nparticles == 5000
            assert any(c == f"contents = {'all' if name == 'exit' else 'entrance'}" for c in f.comments)
            flags[name] = np.concatenate([np.array(b.userflags) for b in f.particle_blocks])
        with mcpl.MCPLFile(str(path)) as f:
            z[name] = np.concatenate([np.array(b.z) for b in f.particle_blocks])
    np.testing.assert_array_equal(flags["exit"], flags["entrance"])
    assert np.all(z["entrance"] < -700.0)  # beam frame: the entrance (z about +7800 mm in the optic's) is at -z


def test_photon_list_options_that_cannot_be_honoured_are_refused(tmp_path, capsys):
    cases = [
        (["area", "xmm", "--energy", "3", "--events-all"], "--events-all: it says which rays --events holds"),
        (
            ["area", "xmm", "--energy", "2,3", "--entrance", str(tmp_path / "i.fits")],
            "--entrance: a photon list is written for one energy",
        ),
        (
            [
                "psf",
                "xmm",
                "--energy",
                "2,3",
                "--image",
                str(tmp_path / "l.fits"),
                "--entrance",
                str(tmp_path / "i.fits"),
            ],
            "--entrance: a PSF library writes only --image",
        ),
        (
            ["spot", "xmm", "--events", str(tmp_path / "e.fits"), "--entrance", str(tmp_path / "e.fits")],
            "the same file as --events",
        ),
        (["spot", "xmm", "--entrance", str(tmp_path / "e.txt")], "--entrance"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


def test_a_pair_of_lists_is_written_whole_or_not_at_all(tmp_path, xmm, monkeypatch):
    """If the second list cannot be finished (a full disk), neither is left: an old entrance list must not end up
    beside a new exit list."""
    import errno

    from raytrace.output.photons import FitsPhotonList

    exit_path, entrance_path = tmp_path / "exit.fits", tmp_path / "entrance.fits"
    entrance_path.write_text("an entrance list of an earlier run\n")
    finished = FitsPhotonList._complete

    def fail_for_the_entrance(self):
        if self.path == entrance_path:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        finished(self)

    monkeypatch.setattr(FitsPhotonList, "_complete", fail_for_the_entrance)
    with pytest.raises(OSError, match="No space left"):
        raytrace.psf(xmm, 3.0, rays=2000, focal_plane_z_mm=0.0, events=exit_path, entrance=entrance_path)
    assert not exit_path.exists() and entrance_path.read_text() == "an entrance list of an earlier run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entrance.fits"]
