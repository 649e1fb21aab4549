"""Writing results: astropy tables (ECSV, FITS), OGIP ARF files and FITS images.

Every writer goes through a temporary file in the destination folder and renames
it into place, so a failed or interrupted write never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from coatings import ConstantReflectivity, load_recipe, recipe_to_toml, shipped_recipes
from geometries import ARCSEC_PER_RAD, Optic
from geometries.generator import SegmentedDesign, design_to_toml
from geometries.optic import Segmentation, SlopeErrors
from geometries.prescription import AS_BUILT_COLUMNS, AZIMUTH_COLUMNS, REQUIRED_COLUMNS, SEGMENT_COLUMNS, SLOPE_COLUMNS

TABLE_SUFFIXES = (".ecsv", ".fits")


class OutputError(ValueError):
    """An output path that cannot be written."""


def check_writable(path: str | os.PathLike, allowed_suffixes, option: str = "output") -> Path:
    """Fail early, before any tracing, if the output cannot be written; `option` names it in the message (the
    command-line option, or 'output')."""
    path = Path(path)
    if path.suffix.lower() not in allowed_suffixes:
        kinds = " or ".join(filter(None, (", ".join(allowed_suffixes[:-1]), allowed_suffixes[-1])))
        hint = (
            "; a table is written with -o"
            if option == "--plot" and path.suffix.lower() in TABLE_SUFFIXES + (".arf",)
            else "; a picture is written with --plot"
            if option == "-o" and path.suffix.lower() == ".png"
            else ""
        )
        raise OutputError(
            f"{option} {str(path)!r}: this output is written as {kinds}, not "
            f"{path.suffix or 'a file without a suffix'}{hint}"
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{option} {str(path)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{option} {str(path)!r}: folder {str(folder)!r} is not writable")
    if path.is_dir():
        raise OutputError(f"{option} {str(path)!r} is a folder")
    return path


FULL_DISK_BYTES = 1 << 20  # less free space than this where a write failed: the disk is full
PARTIAL_MARK = ".partial-"  # in the name of a file being written: .NAME.partial-PID-XXXX.SUFFIX beside NAME


def temporary_beside(path: Path) -> Path:
    """A new empty file beside `path` to write into, then `publish`. Its name says whose partial output it is
    (.NAME.partial-PID-...), so that temporaries a killed run (SIGKILL) left behind in this folder, whatever their
    output, are recognised and removed here, by the next run that writes into it."""
    for stale in path.parent.glob(f".*{PARTIAL_MARK}*"):
        pid = stale.name.partition(PARTIAL_MARK)[2].split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{PARTIAL_MARK}{os.getpid()}-", suffix=path.suffix)
    os.close(fd)
    return Path(tmp)


def named_os_error(exc: OSError, path) -> OSError:
    """`exc` as an error about the output the user asked for (`path`, not a temporary file), with the error number
    of the first of its causes that has one: astropy reports a full disk as an OSError without one."""
    cause = exc
    while cause is not None and getattr(cause, "errno", None) is None:
        cause = cause.__cause__ or cause.__context__
    number = getattr(cause, "errno", None)
    if number is None and shutil.disk_usage(Path(path).parent).free < FULL_DISK_BYTES:
        number = errno.ENOSPC  # astropy's "Not enough space on disk" carries no number
    return OSError(number, getattr(cause, "strerror", None) or (os.strerror(number) if number else str(exc)), str(path))


def publish(tmp: Path, path: Path) -> Path:
    """Move the finished temporary file onto `path`, with ordinary permissions (mkstemp creates 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a temporary path next to `path`; move it onto `path` only if the block succeeds."""
    tmp_path = temporary_beside(path)
    try:
        try:
            yield tmp_path
        except OSError as exc:
            raise named_os_error(exc, path) from None
        publish(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_table(table: Table, path: str | os.PathLike) -> Path:
    """ECSV or FITS by suffix, with the table's metadata (FITS: nested metadata flattened to header cards)."""
    path = check_writable(path, TABLE_SUFFIXES)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".fits":
            plain = table.copy(copy_data=False)
            plain.meta = {}
            hdu = fits.table_to_hdu(plain)
            _add_creator(hdu.header, table.meta)
            _add_cards(hdu.header, table.meta)
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)
        else:
            table.write(tmp, format="ascii.ecsv", overwrite=True)
    return path


def write_arf(table: Table, path: str | os.PathLike, telescope: str = "BabyIAXO", instrument: str = "OPTIC") -> Path:
    """OGIP ARF (CAL/GEN/92-002): SPECRESP extension with ENERG_LO, ENERG_HI (keV) and SPECRESP (cm2).

    The bins are the table's energy_lo and energy_hi columns where it has them (`raytrace.helioscope.spot_arf`),
    otherwise the mid-points between its energies (ends mirrored), so the energies must be strictly increasing.
    """
    path = check_writable(path, (".arf",))
    energy = u.Quantity(table["energy"]).to_value(u.keV)
    if energy.size < 2 or np.any(np.diff(energy) <= 0):
        raise OutputError("an ARF needs at least two strictly increasing energies")
    if "energy_lo" in table.colnames:
        lo, hi = (u.Quantity(table[name]).to_value(u.keV) for name in ("energy_lo", "energy_hi"))
    else:
        lo, hi = _bin_edges(energy)
    columns = [
        fits.Column(name="ENERG_LO", format="E", unit="keV", array=lo),
        fits.Column(name="ENERG_HI", format="E", unit="keV", array=hi),
        fits.Column(
            name="SPECRESP", format="E", unit="cm**2", array=u.Quantity(table["effective_area"]).to_value(u.cm**2)
        ),
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="SPECRESP")
    header = hdu.header
    header["TELESCOP"] = telescope
    header["INSTRUME"] = instrument
    header["FILTER"] = "NONE"
    header["HDUCLASS"] = "OGIP"
    header["HDUCLAS1"] = "RESPONSE"
    header["HDUCLAS2"] = "SPECRESP"
    header["HDUVERS"] = "1.1.0"
    _add_creator(header, table.meta)
    _add_cards(header, table.meta)
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)
    return path


def write_rmf(rmf, path: str | os.PathLike, telescope: str = "BabyIAXO", instrument: str = "DETECTOR") -> Path:
    """An `Rmf` (`raytrace.helioscope.spot_rmf`) as an OGIP RMF (CAL/GEN/92-002): a MATRIX extension (ENERG_LO,
    ENERG_HI in keV, one group per energy: N_GRP, F_CHAN, N_CHAN, MATRIX over all channels; first channel 1) and
    EBOUNDS (CHANNEL, E_MIN, E_MAX in keV). HDUCLAS3 says whether the rows include the detector efficiency."""
    path = check_writable(path, (".rmf",))
    lo, hi = rmf.energy_edges_kev[:-1], rmf.energy_edges_kev[1:]
    n_energy, n_channel = rmf.matrix.shape
    common = {
        "TELESCOP": telescope,
        "INSTRUME": instrument,
        "FILTER": "NONE",
        "CHANTYPE": "PI",
        "DETCHANS": n_channel,
        "HDUCLASS": "OGIP",
        "HDUCLAS1": "RESPONSE",
    }
    matrix = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="ENERG_LO", format="E", unit="keV", array=lo),
            fits.Column(name="ENERG_HI", format="E", unit="keV", array=hi),
            fits.Column(name="N_GRP", format="I", array=np.ones(n_energy, np.int16)),
            fits.Column(name="F_CHAN", format="J", array=np.ones(n_energy, np.int32)),
            fits.Column(name="N_CHAN", format="J", array=np.full(n_energy, n_channel, np.int32)),
            fits.Column(name="MATRIX", format=f"{n_channel}E", array=rmf.matrix.astype(np.float32)),
        ],
        name="MATRIX",
    )
    header = matrix.header
    header.update(common)
    header.update(
        {
            "HDUCLAS2": "RSP_MATRIX",
            "HDUCLAS3": "DETECTOR" if rmf.includes_efficiency else "REDIST",
            "HDUVERS": "1.3.0",
            "LO_THRES": 0.0,
            "TLMIN4": 1,
            "TLMAX4": n_channel,
        }
    )
    _add_creator(header, rmf.meta)
    _add_cards(header, rmf.meta)
    bounds = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="CHANNEL", format="J", array=np.arange(1, n_channel + 1, dtype=np.int32)),
            fits.Column(name="E_MIN", format="E", unit="keV", array=rmf.channel_edges_kev[:-1]),
            fits.Column(name="E_MAX", format="E", unit="keV", array=rmf.channel_edges_kev[1:]),
        ],
        name="EBOUNDS",
    )
    bounds.header.update(common)
    bounds.header.update({"HDUCLAS2": "EBOUNDS", "HDUVERS": "1.2.0", "TLMIN1": 1, "TLMAX1": n_channel})
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), matrix, bounds]).writeto(tmp, overwrite=True)
    return path


def write_vignetting(
    table: Table, path: str | os.PathLike, telescope: str = "BabyIAXO", instrument: str = "OPTIC"
) -> Path:
    """An off-axis response table (`raytrace.analysis.offaxis_response`) in the OGIP/CALDB vignetting layout that
    simulators such as SIXTE read: one row of ENERG_LO, ENERG_HI (keV), THETA, PHI (deg) and VIGNET with
    TDIM = (energies, angles, azimuths), energy varying fastest."""
    path = check_writable(path, (".fits",))
    energy = np.unique(u.Quantity(table["energy"]).to_value(u.keV))
    theta = np.unique(u.Quantity(table["off_axis"]).to_value(u.deg))
    phi = np.unique(u.Quantity(table["azimuth"]).to_value(u.deg))
    if energy.size * theta.size * phi.size != len(table):
        raise OutputError("a vignetting file needs the full grid of energy x off-axis angle x azimuth")
    lo, hi = _bin_edges(energy)
    order = np.lexsort(
        (u.Quantity(table["energy"]).value, u.Quantity(table["off_axis"]).value, u.Quantity(table["azimuth"]).value)
    )
    vignet = np.asarray(table["vignet"])[order].reshape(1, phi.size, theta.size, energy.size)
    columns = [
        fits.Column(name="ENERG_LO", format=f"{energy.size}E", unit="keV", array=lo[None, :]),
        fits.Column(name="ENERG_HI", format=f"{energy.size}E", unit="keV", array=hi[None, :]),
        fits.Column(name="THETA", format=f"{theta.size}E", unit="deg", array=theta[None, :]),
        fits.Column(name="PHI", format=f"{phi.size}E", unit="deg", array=phi[None, :]),
        fits.Column(
            name="VIGNET", format=f"{vignet[0].size}E", dim=f"({energy.size},{theta.size},{phi.size})", array=vignet
        ),
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="VIGNET")
    header = hdu.header
    header.update(
        {
            "TELESCOP": telescope,
            "INSTRUME": instrument,
            "HDUCLASS": "OGIP",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": "VIGNET",
            "HDUVERS": "1.0.0",
        }
    )
    _add_cards(header, table.meta)
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)
    return path


def _bin_edges(energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges about strictly increasing energies: mid-points between them, the ends mirrored (kept > 0)."""
    if energy.size == 1:
        return energy * 0.99, energy * 1.01
    mid = 0.5 * (energy[1:] + energy[:-1])
    lo = np.concatenate([[energy[0] - (mid[0] - energy[0])], mid])
    hi = np.concatenate([mid, [energy[-1] + (energy[-1] - mid[-1])]])
    if lo[0] <= 0:
        lo[0] = 0.5 * energy[0]
    return lo, hi


def write_psf(results, path: str | os.PathLike, telescope: str = "BabyIAXO", instrument: str = "OPTIC") -> Path:
    """PSF images (`raytrace.psf` results: one, or a library over energy x off-axis angle x azimuth) as an OGIP
    2-D PSF dataset (CAL/GEN/92-027) that SIXTE's PSF reader (libsixt/psf.c) loads: one image per HDU, the first in
    the primary HDU, each with ENERGY (eV), THETA (arcmin), PHI (deg, the source's azimuth) and a WCS in arcsec.

    The frame is SIXTE's: it places an image of a source at (THETA, PHI) about f tan(THETA) (cos PHI, sin PHI),
    where the optic forms it at minus that (`raytrace.sources.parallel`). So each image is stored turned by 180 deg
    (the focal plane as seen from the sky) and its WCS reference (CRVAL) is the offset of the image centre from that
    nominal image point: a reader that adds f tan(THETA) counts it once. A library must hold the full grid and one
    focal plane."""
    results = [results] if hasattr(results, "image") else list(results)
    path = check_writable(path, (".fits",))
    grid = {_psf_grid_point(r) for r in results}
    axes = [sorted({key[k] for key in grid}) for k in range(3)]
    if len(grid) != len(results) or len(grid) != len(axes[0]) * len(axes[1]) * len(axes[2]):
        raise OutputError("a PSF library needs each energy x off-axis angle x azimuth once, the full grid")
    if len({(r.meta["focal_length_mm"], r.meta["focal_plane_z_mm"]) for r in results}) != 1:
        raise OutputError("a PSF library needs one optic and one focal plane for all its images")
    hdus = [_psf_hdu(r, telescope, instrument, primary=k == 0) for k, r in enumerate(results)]
    with atomic_path(path) as tmp:
        fits.HDUList(hdus).writeto(tmp, overwrite=True)
    return path


def _psf_grid_point(result) -> tuple[float, float, float]:
    """(keV, arcmin, deg in [0, 360)) of a PSF, to 1e-9: the azimuth 120 deg is not 119.99999999999999."""
    return (
        round(result.meta["energy_kev"], 9),
        round(result.meta["off_axis_arcmin"], 9),
        round(result.meta["azimuth_deg"] % 360.0, 9) % 360.0,
    )


def _psf_hdu(result, telescope: str, instrument: str, primary: bool):
    f = result.meta["focal_length_mm"]
    theta, phi = math.radians(result.meta["off_axis_arcmin"] / 60.0), math.radians(result.meta["azimuth_deg"])
    nominal = f * math.tan(theta) * np.array([math.cos(phi), math.sin(phi)])  # SIXTE's frame, mm
    offset_arcsec = (-np.asarray(result.image_center_mm) - nominal) * ARCSEC_PER_RAD / f
    image = result.image[::-1, ::-1].astype(np.float32)  # turned by 180 deg into SIXTE's frame
    # the image's pixel is an angle at the image distance (f for a source at infinity); readers convert with f
    pixel_arcsec = result.pixel_arcsec * result.meta.get("image_distance_mm", f) / f
    hdu = fits.PrimaryHDU(image) if primary else fits.ImageHDU(image)
    h = hdu.header
    n = image.shape[0]
    for axis, name in ((1, "DETX"), (2, "DETY")):
        h[f"CTYPE{axis}"] = name
        h[f"CUNIT{axis}"] = "arcsec"
        h[f"CRPIX{axis}"] = (n + 1) / 2  # the image centre
        h[f"CRVAL{axis}"] = float(offset_arcsec[axis - 1])
        h[f"CDELT{axis}"] = pixel_arcsec
    energy_kev, theta_arcmin, phi_deg = _psf_grid_point(result)
    cards = {
        "ENERGY": (1e3 * energy_kev, "[eV] photon energy"),
        "THETA": (theta_arcmin, "[arcmin] source off-axis angle"),
        "PHI": (phi_deg, "[deg] source azimuth"),
        "BUNIT": ("cm2", "focused effective area per pixel"),
        "TELESCOP": telescope,
        "INSTRUME": instrument,
        "HDUCLASS": "OGIP",
        "HDUDOC": "CAL/GEN/92-027",
        "HDUVERS": "1.0.0",
        "HDUCLAS1": "IMAGE",
        "HDUCLAS2": "PSF",
        "HDUCLAS3": "PREDICTED",
        "HDUCLAS4": "NET",
        "CCLS0001": "BCF",
        "CDTP0001": "DATA",
        "CCNM0001": "2D_PSF",
        "CBD10001": f"ENERG({energy_kev:g})keV",
        "CBD20001": f"THETA({theta_arcmin:g})arcmin",
        "CBD30001": f"PHI({phi_deg:g})deg",
        "CVSD0001": "2000-01-01",
        "CVST0001": "00:00:00",
        "CDES0001": f"{result.meta['optic']} PSF, ray traced",
        "FOCALLEN": (f, "[mm] focal length the WCS and THETA refer to"),
        "FOCALZ": (result.meta["focal_plane_z_mm"], "[mm] focal plane on the axis (0: nominal focus)"),
    }
    for key, value in cards.items():
        h[key] = value
    _add_creator(h, result.meta)
    h["COMMENT"] = (
        "Axes turned by 180 deg from the focal plane (as seen from the sky): SIXTE's frame, where the "
        "image of a source at (THETA, PHI) lies near f tan(THETA) (cos PHI, sin PHI); CRVAL is the "
        "image centre's offset from that point."
    )
    _add_cards(h, result.meta | result.summary())
    return hdu


def write_signal_cube(result, path: str | os.PathLike) -> Path:
    """The expected solar-axion signal counts per pixel and energy bin (a `solar_spot` result kept with
    `cube_bin_kev`) as a FITS cube (energy, y, x) for position-aware likelihoods: WCS in mm about the focal plane's
    axis point (and, as the alternative WCS 'A', in arcsec), energy bins in keV (uniform but the last: the EBOUNDS
    extension gives each), counts for the run's g_agamma, magnet and exposure. Its sum is the expected signal of
    every detected photon inside the image; the spot's own share is `signal_counts`."""
    if result.cube is None:
        raise OutputError("a signal cube needs the spot traced with cube_bin_kev (spot --cube)")
    path = check_writable(path, (".fits",))
    counts = result.cube * result.counts_per_cm2
    hdu = fits.PrimaryHDU(counts)
    h = hdu.header
    n = counts.shape[1]
    f = result.meta["focal_length_mm"]
    edges = result.cube_edges_kev
    for axis, centre in ((1, result.meta["image_centre_x_mm"]), (2, result.meta["image_centre_y_mm"])):
        h[f"CTYPE{axis}"], h[f"CUNIT{axis}"] = ("X", "Y")[axis - 1], "mm"
        h[f"CRPIX{axis}"], h[f"CRVAL{axis}"], h[f"CDELT{axis}"] = (n + 1) / 2, centre, result.pixel_mm
        h[f"CTYPE{axis}A"], h[f"CUNIT{axis}A"] = ("X", "Y")[axis - 1], "arcsec"
        h[f"CRPIX{axis}A"], h[f"CRVAL{axis}A"] = (n + 1) / 2, centre * ARCSEC_PER_RAD / f
        h[f"CDELT{axis}A"] = result.pixel_mm * ARCSEC_PER_RAD / f
    h["CTYPE3"], h["CUNIT3"], h["CRPIX3"] = "ENERGY", "keV", 1.0
    h["CRVAL3"], h["CDELT3"] = 0.5 * (edges[0] + edges[1]), edges[1] - edges[0]
    h["BUNIT"] = "count"
    _add_creator(h, result.meta)
    h["COMMENT"] = (
        "Expected signal counts per pixel and energy bin: T x Phi_band(g) x P(g, B, L) x detected "
        "effective area; focal-plane axes x, y in mm (alternative WCS A: arcsec)."
    )
    _add_cards(h, result.meta | result.summary())
    bounds = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="CHANNEL", format="J", array=np.arange(edges.size - 1)),
            fits.Column(name="E_MIN", format="D", unit="keV", array=edges[:-1]),
            fits.Column(name="E_MAX", format="D", unit="keV", array=edges[1:]),
        ],
        name="EBOUNDS",
    )
    with atomic_path(path) as tmp:
        fits.HDUList([hdu, bounds]).writeto(tmp, overwrite=True)
    return path


def _add_creator(header: fits.Header, meta: dict) -> None:
    """CREATOR (this package and the version that made the result) and DATE (UTC, of writing; $SOURCE_DATE_EPOCH
    instead when set, so that a rerun can give the same bytes): the FITS standard's provenance cards."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch.isdigit()
        else datetime.datetime.now(datetime.timezone.utc)
    )
    header["CREATOR"] = f"raytrace {meta.get('raytrace_version', '')}".strip()
    header["DATE"] = (when.strftime("%Y-%m-%dT%H:%M:%S"), "UTC, file written")


def _add_cards(header: fits.Header, meta: dict, prefix: str = "") -> None:
    """Metadata as HIERARCH cards (keys keep their full names; long texts continue on CONTINUE cards); nested
    mappings become prefix_key, lists a JSON text."""
    for key, value in meta.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _add_cards(header, value, prefix=f"{name}_")
        elif isinstance(value, (str, bool, int, float, np.integer, np.floating)):
            header[f"HIERARCH {name}"] = value.item() if isinstance(value, np.generic) else value
        elif isinstance(value, (list, tuple)):
            header[f"HIERARCH {name}"] = json.dumps(
                value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)
            )


def write_prescription(optic: Optic, path: str | os.PathLike) -> list[Path]:
    """Write the optic as an ECSV shell table (atomically: a complete file or none).

    A coating that is not a shipped recipe is written beside it as `<stem>_<recipe>.toml`, which
    the table names, so that `read_prescription` gives back an identical optic. Returns the files written.
    """
    path = check_writable(path, (".ecsv",))
    names, written = [], []
    for coating in optic.coatings:
        name = _coating_name(coating)
        if isinstance(coating, ConstantReflectivity) or (name in shipped_recipes() and load_recipe(name) == coating):
            names.append(name)
            continue
        recipe_path = path.with_name(f"{path.stem}_{name}.toml")
        if recipe_path not in written:
            with atomic_path(recipe_path) as tmp:
                tmp.write_text(recipe_to_toml(coating))
            written.append(recipe_path)
        names.append(recipe_path.name)
    table = Table()
    table["shell"] = np.arange(1, optic.n_shells + 1)
    for column in REQUIRED_COLUMNS[:4]:
        table[column] = [getattr(s, column) for s in optic.shells]
    table["profile"] = [s.profile for s in optic.shells]
    table["coating"] = names
    if optic.is_segmented():
        segmentations = [s.segmentation or Segmentation(1) for s in optic.shells]
        present = [s.segmentation is not None for s in optic.shells]
        table["segments"] = [seg.segments if p else 0 for seg, p in zip(segmentations, present)]
        for column, field in zip(
            SEGMENT_COLUMNS[1:], ("gap_mm", "spacers_per_segment", "spacer_width_mm", "rotation_deg")
        ):
            table[column] = [getattr(seg, field) for seg in segmentations]
    if any(s.profile == "conical_as_built" for s in optic.shells):
        for column in AS_BUILT_COLUMNS:
            table[column] = [np.nan if getattr(s, column) is None else getattr(s, column) for s in optic.shells]
    if not all(s.is_full_turn for s in optic.shells):
        for column in AZIMUTH_COLUMNS:
            table[column] = [getattr(s, column) for s in optic.shells]
    if any(s.slope_errors != SlopeErrors() for s in optic.shells):
        for column, field in zip(
            SLOPE_COLUMNS, ("meridional_arcsec", "sagittal_arcsec", "wing_fraction", "wing_arcsec")
        ):
            table[column] = [getattr(s.slope_errors, field) for s in optic.shells]
    table.meta.update(
        {"name": optic.name, "focal_length_mm": optic.focal_length_mm, "source": optic.source, "shells": optic.n_shells}
    )
    if optic.apertures:
        table.meta["aperture"] = [a.spec() for a in optic.apertures]
    if optic.spider is not None:
        sp = optic.spider
        table.meta.update(
            {
                "spider_spokes": sp.n_spokes,
                "spider_width_deg": sp.spoke_width_deg,
                "spider_width_mm": sp.spoke_width_mm,
                "spider_rotation_deg": sp.rotation_deg,
            }
        )
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return written + [path]


def write_design(design: SegmentedDesign, path: str | os.PathLike) -> list[Path]:
    """Write a segmented design as its TOML file (atomically); recipe paths are made relative to its folder, and
    a recipe held in memory is written beside it as `<stem>_group<k>.toml`. Returns the files written."""
    path = check_writable(path, (".toml",))
    groups, written = [], []
    for k, group in enumerate(design.coating_groups, start=1):
        if not isinstance(group.recipe, str):
            recipe_path = path.with_name(f"{path.stem}_group{k}.toml")
            with atomic_path(recipe_path) as tmp:
                tmp.write_text(recipe_to_toml(group.recipe))
            written.append(recipe_path)
            groups.append(dataclasses.replace(group, recipe=recipe_path.name))
            continue
        recipe = Path(group.recipe)
        if design.recipe_dir is not None and recipe.suffix == ".toml" and not recipe.is_absolute():
            recipe = Path(os.path.relpath(design.recipe_dir / recipe, path.parent.resolve()))
        groups.append(dataclasses.replace(group, recipe=str(recipe) if recipe.suffix == ".toml" else group.recipe))
    design = dataclasses.replace(design, coating_groups=tuple(groups))
    with atomic_path(path) as tmp:
        tmp.write_text(design_to_toml(design))
    return written + [path]


def _coating_name(coating) -> str:
    if isinstance(coating, ConstantReflectivity):
        return f"constant:{coating.value}"
    return coating.name
