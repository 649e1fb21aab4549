"""Streaming traces: rays are emitted by a source, traced and handed on chunk by chunk.

Memory stays flat in the number of rays: only one chunk lives at a time. Ray i is a
pure function of (seed, i), so a trace is the same for any chunk size and thread count.
One trace path serves every source (`raytrace.engine.source.Source`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import numpy as np

from coatings.table import ReflectivityTable
from coatings.threads import split_over_threads
from geometries import Optic

from ..defaults import CHUNK_SIZE as DEFAULT_CHUNK_SIZE
from ..provenance import provenance
from . import kernel
from .aperture import EntranceChannels
from .geometry import PackedOptic
from .rays import Fate, Rays
from .rng import seed_key, stream_key
from .source import Source

MAX_RAYS = 1 << 40
SCATTER_STREAM = 2  # the draws of surface scattering (the sources' own draws use stream 1)
GRAZE_MARGIN_RAD = 5e-3  # slope errors and their wings stay far below it (at most 600 arcsec = 2.9 mrad rms)
_GEOMETRIC = kernel.KernelReflectivity(False, np.zeros((1, 1, 2)), np.zeros(1), 1.0, np.zeros(1, np.int64))


class Trace:
    """One optic, one source, one focal plane: the set-up of a trace."""

    def __init__(self, optic: Optic, source: Source, focal_plane_z_mm: float = 0.0):
        if not isinstance(source, Source):
            raise TypeError(f"source {source!r}: must follow raytrace.engine.source.Source")
        self.optic = optic
        self.source = source
        self.packed = PackedOptic.from_optic(optic)
        lowest = self.packed.lowest_exit_z_mm
        if not (math.isfinite(focal_plane_z_mm) and focal_plane_z_mm < lowest):
            raise ValueError(
                f"focal plane z = {focal_plane_z_mm} mm: must lie below the optic's exit at z = {lowest:.1f} mm"
            )
        self.focal_plane_z_mm = float(focal_plane_z_mm)
        self.geometry = self.packed.for_kernel(self.focal_plane_z_mm)
        self.partial_shells = not all(shell.is_full_turn for shell in optic.shells)
        self.has_apertures = len(optic.apertures) > 0
        self.max_angle_rad = source.max_angle_rad(self.packed.outer_radius_mm, self.packed.height_mm)
        self.aperture = EntranceChannels.for_angle(self.packed, self.max_angle_rad)
        if not self.aperture.total_area_mm2 > 0:
            raise ValueError(
                f"{optic.name}: its entrance apertures ({', '.join(a.spec() for a in optic.apertures)}) "
                "leave nothing of the shells' entrance open"
            )
        self.coatings, self.shell_coating = _unique_coatings(optic)

    def with_energy(self, energy_kev: float) -> "Trace":
        """The same set-up with the source at this energy (keV), sharing the packed optic and its entrance channels."""
        other = copy.copy(self)
        other.source = self.source.at_energy(energy_kev)
        return other

    @property
    def aperture_area_cm2(self) -> float:
        """Entrance area the rays stand for, normal to the axis (each ray's weight carries its own projection)."""
        return self.aperture.area_cm2

    def max_graze_rad(self) -> np.ndarray:
        """Per coating (in `self.coatings` order), a bound on the graze angles of its shells' reflections:
        3 alpha (a ray meeting a secondary first) plus twice the largest ray angle and a margin for slope errors."""
        graze = self.optic.graze_angles_rad()
        largest = np.array([graze[self.shell_coating == k].max() for k in range(len(self.coatings))])
        return 3.0 * largest + 2.0 * self.max_angle_rad + GRAZE_MARGIN_RAD

    def reflectivity_table(self, energies_kev=None) -> ReflectivityTable:
        """The coatings' reflectivities at these energies (default: the source's energy nodes), over every
        graze angle this trace can reach."""
        energies = self.source.energy_nodes() if energies_kev is None else energies_kev
        return ReflectivityTable.build(self.coatings, energies, self.max_graze_rad())

    def kernel_table(self, table: ReflectivityTable | None) -> kernel.KernelReflectivity:
        """The table as the kernels read it; None gives geometric weights."""
        if table is None:
            return _GEOMETRIC
        # the kernel reads the tables as flat C arrays (`vector_math.gather`), whatever order they were built in
        if table.scattering is None:
            return kernel.KernelReflectivity(
                True, np.ascontiguousarray(table.values), table.energies_kev, table.angle_step_rad, self.shell_coating
            )
        return kernel.KernelReflectivity(
            True,
            np.ascontiguousarray(table.values),
            table.energies_kev,
            table.angle_step_rad,
            self.shell_coating,
            True,
            table.scattering,
            np.ascontiguousarray(table.scatter_values),
            table.scatter_step_rad,
            np.ascontiguousarray(table.scatter_fraction),
        )

    def trace_range(
        self,
        key,
        first_index: int,
        n: int,
        n_total: int,
        out: Rays | None = None,
        table: ReflectivityTable | None = None,
    ) -> Rays:
        """Emit and trace rays first_index .. first_index + n - 1 of an n_total-ray run.

        Weights are geometric (entrance area per ray) unless a reflectivity table for this trace's coatings
        and the source's energies is given. `out`, if given, is a buffer of at least n rays that is overwritten
        (its first n rows are returned).
        """
        rays = Rays.empty(n) if out is None else out.head(n)
        shared = self.source.shared_ray(self.aperture, n_total)
        channels = self.aperture.kernel_channels
        if shared is None:
            self.source.emit(key, first_index, n_total, self.aperture, rays)
            beam = kernel.KernelBeam(False, channels, np.zeros(3), 0.0, 0.0)
        else:  # a parallel beam: the kernel starts the rays itself
            beam = kernel.KernelBeam(
                True,
                channels,
                np.ascontiguousarray(shared.direction, dtype=float),
                float(shared.energy_kev),
                float(shared.weight),
            )
        kernel_table = self.kernel_table(table)
        if kernel_table.scatters:
            kernel_table = kernel_table._replace(scatter_key=stream_key(key, SCATTER_STREAM))
        split_over_threads(
            kernel.trace,
            (n + kernel.BLOCK_RAYS - 1) // kernel.BLOCK_RAYS,
            self.geometry,
            kernel_table,
            rays.columns(),
            key,
            beam,
            np.uint64(first_index),
            self.partial_shells or None,
            self.has_apertures or None,
        )
        return rays

    def entrance_range(self, key, first_index: int, n: int, n_total: int) -> Rays:
        """Rays first_index .. first_index + n - 1 of an n_total-ray run as they enter the optic, before any
        obstruction: what `trace_range` starts from (start point on its channel's entrance plane, mm; direction;
        energy, keV; weight, cm2: the entrance area per ray projected normal to it, with the source's own factors
        such as the bore's), the fate only where the source set one."""
        rays = Rays.empty(n)
        self.source.emit(key, first_index, n_total, self.aperture, rays)
        return rays

    def metadata(self, n_rays: int, seed: int, fates: np.ndarray, **extra) -> dict:
        """Provenance of a run of this trace for result tables (`raytrace.provenance`), with its focal plane."""
        return provenance(
            optic=self.optic,
            source=self.source,
            rays=n_rays,
            seed=seed,
            fates=fates,
            focal_plane_z_mm=self.focal_plane_z_mm,
            **extra,
        )

    def run(
        self,
        n_rays: int,
        seed: int,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        table: ReflectivityTable | None = None,
        progress=None,
        on_chunk=None,
    ) -> TracedRun:
        """Rays 0 .. n_rays - 1, traced chunk by chunk (geometric weights unless a reflectivity table is given): a
        `TracedRun` to loop over."""
        check_ray_count(n_rays)
        if chunk_size < 1:
            raise ValueError(f"chunk size = {chunk_size}: must be >= 1")
        return TracedRun(self, n_rays, seed_key(seed), chunk_size, table, progress, on_chunk)


class TracedRun:
    """The traced chunks of a run, in ray order, as a loop hands them on. Each chunk goes to `on_chunk` (the photon
    lists) as it comes, and counts in `fates` (rays per fate code) and `progress` (called with its number of rays)
    once the loop's body has used it. The chunks share one buffer: each is overwritten by the next (copy it to keep
    it)."""

    def __init__(self, trace: Trace, n_rays: int, key, chunk_size: int, table, progress, on_chunk):
        self.trace, self.n_rays, self.key, self.chunk_size, self.table = trace, n_rays, key, chunk_size, table
        self.progress, self.on_chunk = progress, on_chunk
        self.fates = np.zeros(len(Fate) + 1, dtype=np.int64)

    def __iter__(self) -> Iterator[Rays]:
        buffer = Rays.empty(min(self.chunk_size, self.n_rays))
        for start in range(0, self.n_rays, self.chunk_size):
            n = min(self.chunk_size, self.n_rays - start)
            rays = self.trace.trace_range(self.key, start, n, self.n_rays, out=buffer, table=self.table)
            if self.on_chunk is not None:
                self.on_chunk(rays)
            yield rays
            self.fates += rays.fate_counts()
            if self.progress is not None:
                self.progress(n)


def check_ray_count(n_rays) -> None:
    if not isinstance(n_rays, (int, np.integer)) or not 1 <= n_rays <= MAX_RAYS:
        raise ValueError(f"number of rays = {n_rays}: must be an integer from 1 to 2**40")


def _unique_coatings(optic: Optic):
    unique: list = []
    index = np.empty(optic.n_shells, dtype=np.int64)
    for i, coating in enumerate(optic.coatings):
        if coating not in unique:
            unique.append(coating)
        index[i] = unique.index(coating)
    return unique, index
