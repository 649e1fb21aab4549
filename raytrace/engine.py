"""Streaming traces: rays are made, traced and handed on chunk by chunk.

Memory stays flat in the number of rays: only one chunk lives at a time. Ray i is a
pure function of (seed, i), so a trace is the same for any chunk size and thread count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from coatings.table import ReflectivityTable
from geometries import Optic

from . import kernel
from .packing import EntranceChannels, PackedOptic
from .rays import Rays
from .rng import seed_key
from .sources import ParallelBeam

DEFAULT_CHUNK_SIZE = 1 << 19
MAX_RAYS = 1 << 40
GRAZE_MARGIN_RAD = 5e-3  # slope errors and their wings stay far below it (at most 600 arcsec = 2.9 mrad rms)
_NO_TABLE = ReflectivityTable(np.zeros(1), 1.0, np.zeros((1, 1, 2)))  # placeholder for geometric traces


class BeamTrace:
    """One optic, one parallel beam, one focal plane: the geometry of a trace."""

    def __init__(self, optic: Optic, beam, focal_plane_z_mm: float = 0.0):
        self.optic = optic
        self.beam = beam
        self.packed = PackedOptic.from_optic(optic)
        lowest = float(self.packed.surfaces[:, 1, 4].min())
        if not (math.isfinite(focal_plane_z_mm) and focal_plane_z_mm < lowest):
            raise ValueError(f"focal plane z = {focal_plane_z_mm} mm: must lie below the optic's exit at z = {lowest:.1f} mm")
        self.focal_plane_z_mm = float(focal_plane_z_mm)
        self.channels = EntranceChannels.for_direction(self.packed, beam.off_axis_rad)
        self.parallel = isinstance(beam, ParallelBeam)
        self.coatings, self.shell_coating = _unique_coatings(optic)

    @property
    def sampled_area_cm2(self) -> float:
        """Aperture area the rays stand for, projected normal to the beam (for an extended source: the
        entrance area, each ray's weight carrying its own projection)."""
        projection = math.cos(self.beam.off_axis_rad) if self.parallel else 1.0
        return self.channels.total_area_mm2 * projection / 100.0

    def max_graze_rad(self) -> np.ndarray:
        """Per coating (in `self.coatings` order), a bound on the graze angles of its shells' reflections:
        3 alpha (a ray meeting a secondary first) plus the beam's tilt and a margin for slope errors."""
        graze = self.optic.graze_angles_rad()
        largest = np.array([graze[self.shell_coating == k].max() for k in range(len(self.coatings))])
        return 3.0 * largest + 2.0 * self.beam.off_axis_rad + GRAZE_MARGIN_RAD

    def reflectivity_table(self, energies_kev) -> ReflectivityTable:
        return ReflectivityTable.build(self.coatings, energies_kev, self.max_graze_rad())

    def trace_range(self, key, first_index: int, n: int, n_total: int, energy_kev: float, out: Rays | None = None,
                    table: ReflectivityTable | None = None) -> Rays:
        """Sample and trace rays first_index .. first_index + n - 1 of an n_total-ray run.

        Weights are geometric (aperture area per ray) unless a reflectivity table for this trace's
        coatings is given. A parallel beam is traced at `energy_kev`; an extended source (e.g. a
        `raytrace.solar.SolarSource`) gives each ray its own energy and direction. `out`, if given, is a buffer of at least n rays that is overwritten
        (its first n rows are returned).
        """
        rays = Rays.empty(n) if out is None else out.head(n)
        reflectivity = _NO_TABLE if table is None else table
        p = self.packed
        geometry = (p.surfaces, p.top_z, p.front_r, p.thickness, p.spider, p.segments, p.slope_errors, self.focal_plane_z_mm,
                    table is not None, reflectivity.values, reflectivity.energies_kev, reflectivity.angle_step_rad,
                    self.shell_coating,
                    rays.x, rays.y, rays.z, rays.dx, rays.dy, rays.dz, rays.energy_kev, rays.weight, rays.channel,
                    rays.fate, rays.graze1, rays.graze2)
        channels = (key, np.uint64(first_index), self.channels.r_in, self.channels.cumulative_area_mm2,
                    self.channels.z_start, self.channels.guide)
        if self.parallel:
            kernel.trace_parallel_beam(*channels, self.beam.direction(), self.sampled_area_cm2 / n_total,
                                       float(energy_kev), *geometry)
        else:
            self.beam.fill(key, first_index, rays, self.sampled_area_cm2, n_total)
            kernel.trace_given_rays(*channels, *geometry)
        return rays

    def chunks(self, n_rays: int, seed: int, energy_kev: float = 0.0, chunk_size: int = DEFAULT_CHUNK_SIZE,
               table: ReflectivityTable | None = None) -> Iterator[Rays]:
        """Traced chunks of rays 0 .. n_rays - 1 (geometric weights unless a reflectivity table is given).

        The chunks share one buffer: each yielded Rays is overwritten by the next (copy it to keep it).
        """
        check_ray_count(n_rays)
        if chunk_size < 1:
            raise ValueError(f"chunk size = {chunk_size}: must be >= 1")
        key = seed_key(seed)
        buffer = Rays.empty(min(chunk_size, n_rays))
        for start in range(0, n_rays, chunk_size):
            n = min(chunk_size, n_rays - start)
            yield self.trace_range(key, start, n, n_rays, energy_kev, out=buffer, table=table)


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
