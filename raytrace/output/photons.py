"""Photon lists, streamed to a file chunk by chunk. What they hold (CONTENTS, stated in the header):
- "focal_plane": every ray that reaches the focal plane (focused or stray), where it crosses it;
- "all": every ray of the run in order, so row k is ray k: where it crosses the focal plane, or where it stopped;
- "entrance": every ray of the run in order, as it enters the optic (`Trace.entrance_range`), with the fate and
  shell the trace gave it. With an "all" list of the same run it pairs row by row: what the optic does to each photon,
  for a simulation that brings its own photons to the optic or takes them on from the focal plane.

Columns: position x, y, z (mm, in the focal plane), direction dx, dy, dz, energy (keV), weight (cm2: summed over the
focused rays, the effective area; for solar axions the spectrum-averaged effective area), fate code, shell (0-based)
and, in FITS, the ray's number in the run (RAY: its place in the run's sequence of rays). The frame (FRAMES) is stated
in the header of both formats:
- "optic": the optic's own (docs/physics/conventions.md): origin at the nominal focus, z along the optical axis towards
  the optic and the sky, so the photons travel along -z;
- "beam": that frame turned by 180 deg about x (y and z change sign), so the photons travel along +z, as McXtrace
  and Geant4 set up a beam.
Two formats:
- `.fits`: a binary table (EXTNAME PHOTONS) with units and the run's provenance in its header. The header is
  written first with room for the row count, which is set when the list is closed, so memory stays flat.
- `.mcpl`: the particle-list format of McStas/McXtrace, written through the C
  library of the `mcpl-core` package (`pip install 'xrt-axion-raytrace[mcpl]'`): photons (PDG code 22),
  ekin in MeV, position in cm, direction, weight (cm2), and the fate and shell packed in the user flags
  (fate * 65536 + shell); the provenance goes into the header's comments.
Both are written to a temporary file beside the destination and renamed when complete.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..engine import Fate, Rays
from ..errors import NO_VALUE, InputError
from .files import FULL_DISK_BYTES, OutputError, check_writable, named_os_error, publish, temporary_beside

REACHES_FOCAL_PLANE = np.array([Fate.NO_REFLECTION, Fate.PRIMARY_ONLY, Fate.SECONDARY_ONLY, Fate.DOUBLE, Fate.MULTIPLE])
PHOTON_PDG_CODE = 22
FITS_COLUMNS = (
    ("X", "mm", ">f8"),
    ("Y", "mm", ">f8"),
    ("Z", "mm", ">f8"),
    ("DX", "", ">f8"),
    ("DY", "", ">f8"),
    ("DZ", "", ">f8"),
    ("ENERGY", "keV", ">f8"),
    ("WEIGHT", "cm2", ">f8"),
    ("FATE", "", ">i2"),
    ("SHELL", "", ">i4"),
    ("RAY", "", ">i8"),
)
FRAMES = {
    "optic": "origin at the nominal focus, z along the optical axis towards the optic (photons travel along -z), x and "
    "y as in the optic's prescription (azimuth 0 along +x)",
    "beam": "the optic's frame turned by 180 deg about x (y and z change sign): origin at the nominal focus, photons "
    "travel along +z",
}
FRAME_SIGNS = {"optic": np.array([1.0, 1.0, 1.0]), "beam": np.array([1.0, -1.0, -1.0])}
FOCUSED_WEIGHT = "WEIGHT in cm2, summed over FATE 8 (double) the effective area"
CONTENTS = {
    "focal_plane": f"Rays reaching the focal plane, where they cross it; {FOCUSED_WEIGHT}",
    "all": "Every ray of the run in order (row k is ray k): where it crosses the focal plane, or where it stopped "
    f"(FATE says why); {FOCUSED_WEIGHT}",
    "entrance": "Every ray of the run in order (row k is ray k) as it enters the optic, before any obstruction; FATE "
    "and SHELL are what the trace made of it; WEIGHT in cm2, the entrance area the ray stands for",
}
FITS_BLOCK = 2880
MCPL_BYTES_PER_PHOTON = 40  # at most, in single precision: position, packed direction and energy, time, weight, flags


def check_photon_lists(events, entrance, events_all: bool, energies: int = 1) -> None:
    """The photon lists a run is asked for: `events_all` says which rays the `events` list holds, and a list is
    written for one energy (`energies` the run's count). InputError names what is wrong."""
    if events_all and events is None:
        raise InputError("events_all", NO_VALUE, "it says which rays {events} holds; give {events}")
    given = [name for name, path in (("events", events), ("entrance", entrance)) if path is not None]
    if given and energies != 1:
        raise InputError(
            given[0], NO_VALUE, f"a photon list is written for one energy; {{energies_kev}} gives {energies}"
        )


def estimated_bytes(path, n_rays: int) -> int:
    """An upper bound of the file size for n_rays rays (all of them reaching the focal plane)."""
    per_row = (
        MCPL_BYTES_PER_PHOTON
        if Path(path).suffix.lower() == ".mcpl"
        else sum(np.dtype(t).itemsize for _, _, t in FITS_COLUMNS)
    )
    return n_rays * per_row


def open_photon_list(path, meta: dict, frame: str = "optic", contents: str = "focal_plane"):
    """A writer for `path` (.fits or .mcpl) in `frame` (FRAMES) holding `contents` (CONTENTS): call it with each
    traced chunk (for "entrance", with the chunk's entrance states carrying the traced fates), then `close()`
    (or `abort()`)."""
    if frame not in FRAMES:
        raise OutputError(f"photon-list frame {frame!r}: choose from {', '.join(FRAMES)}")
    if contents not in CONTENTS:
        raise OutputError(f"photon-list contents {contents!r}: choose from {', '.join(CONTENTS)}")
    path = check_writable(path, (".fits", ".mcpl"))
    return (McplPhotonList if path.suffix.lower() == ".mcpl" else FitsPhotonList)(path, meta, frame, contents)


class _AtomicFile:
    def __init__(self, path: Path, frame: str, contents: str):
        self.path = path
        self.tmp = temporary_beside(path)
        self.count = 0
        self.weight_sum = 0.0
        self.signs = FRAME_SIGNS[frame]
        self.every_ray = contents != "focal_plane"
        self.exit = contents != "entrance"
        self.completed = False

    def _kept(self, rays: Rays) -> np.ndarray:
        return np.ones(len(rays), bool) if self.every_ray else np.isin(rays.fate, REACHES_FOCAL_PLANE)

    def _columns(self, rays: Rays, keep: np.ndarray) -> tuple:
        """x, y, z (mm), dx, dy, dz of the kept rays in the list's frame."""
        sx, sy, sz = self.signs
        return (
            rays.x[keep],
            sy * rays.y[keep],
            sz * rays.z[keep],
            rays.dx[keep],
            sy * rays.dy[keep],
            sz * rays.dz[keep],
        )

    def close(self) -> Path:
        """Complete the list and move it onto its path."""
        self.complete()
        return self.publish()

    def complete(self) -> None:
        """Write what is left and close the temporary file (not yet in place: `publish`)."""
        if not self.completed:
            self._complete()
            self.completed = True

    def publish(self) -> Path:
        return publish(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the list: close what is open, remove the temporary file."""
        if not self.completed:
            self.completed = True
            self._release()
        self.tmp.unlink(missing_ok=True)


class FitsPhotonList(_AtomicFile):
    def __init__(self, path: Path, meta: dict, frame: str, contents: str):
        super().__init__(path, frame, contents)
        from .files import _add_cards

        self.seen = 0  # rays of the run so far, kept or not: the number of the next one
        columns = [
            fits.Column(
                name=name,
                format={">f8": "D", ">i2": "I", ">i4": "J", ">i8": "K"}[kind],
                unit=unit or None,
                array=np.zeros(0, kind),
            )
            for name, unit, kind in FITS_COLUMNS
        ]
        hdu = fits.BinTableHDU.from_columns(columns, name="PHOTONS")
        hdu.header["COMMENT"] = f"{CONTENTS[contents]}."
        hdu.header["CONTENTS"] = (contents, "which rays, where: see COMMENT")
        hdu.header["FRAME"] = (frame, "frame of X, Y, Z, DX, DY, DZ: see COMMENT")
        hdu.header["COMMENT"] = f"Frame {frame}: {FRAMES[frame]}; positions in mm."
        _add_cards(hdu.header, meta)
        if self.exit:
            hdu.header["HIERARCH focused_weight_cm2"] = 0.0  # set on closing: every card is in place before the rows
        self.header = hdu.header
        self.dtype = np.dtype([(name, kind) for name, _, kind in FITS_COLUMNS])
        self.handle = open(self.tmp, "wb")
        try:
            self._write(fits.PrimaryHDU().header.tostring().encode("ascii"))
            self.header_offset = self.handle.tell()
            self._write(self.header.tostring().encode("ascii"))  # NAXIS2 = 0 for now; the same length later
        except BaseException:
            self.abort()
            raise

    def _write(self, data: bytes) -> None:
        try:
            self.handle.write(data)
        except OSError as exc:
            raise named_os_error(exc, self.path) from None

    def __call__(self, rays: Rays) -> None:
        keep = self._kept(rays)
        rows = np.empty(int(keep.sum()), self.dtype)
        number = self.seen + np.arange(len(rays))
        for (name, _, _), values in zip(
            FITS_COLUMNS,
            (
                *self._columns(rays, keep),
                rays.energy_kev[keep],
                rays.weight[keep],
                rays.fate[keep],
                rays.shell[keep],
                number[keep],
            ),
        ):
            rows[name] = values
        self.seen += len(rays)
        self._write(rows.tobytes())
        self.count += rows.size
        self.weight_sum += float(rays.weight[keep & (rays.fate == Fate.DOUBLE)].sum())

    def _complete(self) -> None:
        data_bytes = self.count * self.dtype.itemsize
        self._write(b"\0" * (-data_bytes % FITS_BLOCK))
        self.header["NAXIS2"] = self.count
        if self.exit:
            self.header["HIERARCH focused_weight_cm2"] = self.weight_sum
        self.handle.seek(self.header_offset)
        self._write(self.header.tostring().encode("ascii"))  # the same cards as when opened, so the same length
        try:
            self.handle.close()
        except OSError as exc:
            raise named_os_error(exc, self.path) from None

    def _release(self) -> None:
        self.handle.close()


class _McplParticle(ctypes.Structure):
    _fields_ = [
        ("ekin", ctypes.c_double),
        ("polarisation", ctypes.c_double * 3),
        ("position", ctypes.c_double * 3),
        ("direction", ctypes.c_double * 3),
        ("time", ctypes.c_double),
        ("weight", ctypes.c_double),
        ("pdgcode", ctypes.c_int32),
        ("userflags", ctypes.c_uint32),
    ]


class _McplOutfile(ctypes.Structure):
    _fields_ = [("internal", ctypes.c_void_p)]


_MCPL_ERROR_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p)


def _libmcpl():
    try:
        from _mcpl_core.info import libpath
    except ImportError:
        raise OutputError("writing .mcpl needs the mcpl-core package: pip install 'xrt-axion-raytrace[mcpl]'") from None
    lib = ctypes.CDLL(str(libpath()))
    lib.mcpl_create_outfile.restype = _McplOutfile
    lib.mcpl_create_outfile.argtypes = [ctypes.c_char_p]
    for name, args in (
        ("mcpl_hdr_set_srcname", [ctypes.c_char_p]),
        ("mcpl_hdr_add_comment", [ctypes.c_char_p]),
        ("mcpl_enable_userflags", []),
        ("mcpl_enable_universal_pdgcode", [ctypes.c_int32]),
        ("mcpl_add_particle", [ctypes.POINTER(_McplParticle)]),
        ("mcpl_close_outfile", []),
    ):
        getattr(lib, name).argtypes = [_McplOutfile] + args
        getattr(lib, name).restype = None
    lib.mcpl_set_error_handler.argtypes = [_MCPL_ERROR_HANDLER]
    lib.mcpl_set_error_handler.restype = None
    return lib


class McplPhotonList(_AtomicFile):
    def __init__(self, path: Path, meta: dict, frame: str, contents: str):
        self.lib = _libmcpl()
        super().__init__(path, frame, contents)
        self.on_error = _MCPL_ERROR_HANDLER(self._fail)  # held by the writer for as long as MCPL may call it
        self.lib.mcpl_set_error_handler(self.on_error)
        self.file = self.lib.mcpl_create_outfile(str(self.tmp).encode())
        version = meta.get("raytrace_version", "")
        self.lib.mcpl_hdr_set_srcname(self.file, f"xrt-axion-raytrace {version}".encode())
        self.lib.mcpl_hdr_add_comment(self.file, f"{CONTENTS[contents]}; userflags = fate * 65536 + shell".encode())
        self.lib.mcpl_hdr_add_comment(self.file, f"contents = {contents}".encode())
        self.lib.mcpl_hdr_add_comment(self.file, f"frame = {frame}: {FRAMES[frame]}; positions in cm".encode())
        for key, value in meta.items():
            self.lib.mcpl_hdr_add_comment(self.file, f"{key} = {value}".encode())
        self.lib.mcpl_enable_userflags(self.file)
        self.lib.mcpl_enable_universal_pdgcode(self.file, PHOTON_PDG_CODE)
        self.particle = _McplParticle()

    def __call__(self, rays: Rays) -> None:
        keep = np.flatnonzero(self._kept(rays))
        p = self.particle
        add = self.lib.mcpl_add_particle
        columns = [a.tolist() for a in (*self._columns(rays, keep), rays.energy_kev[keep], rays.weight[keep])]
        flags = (rays.fate[keep].astype(np.uint32) * 65536 + rays.shell[keep].astype(np.uint32)).tolist()
        for x, y, z, dx, dy, dz, energy, weight, flag in zip(*columns, flags):
            p.position[0], p.position[1], p.position[2] = 0.1 * x, 0.1 * y, 0.1 * z
            p.direction[0], p.direction[1], p.direction[2] = dx, dy, dz
            p.ekin = energy * 1e-3
            p.weight = weight
            p.userflags = flag
            add(self.file, ctypes.byref(p))
        self.count += keep.size
        self.weight_sum += float(rays.weight[keep][rays.fate[keep] == Fate.DOUBLE].sum())

    def _fail(self, message: bytes) -> None:
        """MCPL's error handler, which must not return (the library's own prints on standard output and exits): the
        partial file removed, one line on standard error naming the output, the process ended (status 1)."""
        try:
            self.tmp.unlink(missing_ok=True)
            full = shutil.disk_usage(self.path.parent).free < FULL_DISK_BYTES
            reason = "no space left writing" if full else f"{message.decode(errors='replace')} writing"
            print(f"raytrace: error: {reason} {self.path}", file=sys.stderr, flush=True)
        finally:
            os._exit(1)

    def _complete(self) -> None:
        self.lib.mcpl_close_outfile(self.file)

    def _release(self) -> None:
        self.lib.mcpl_close_outfile(self.file)
