"""The optic as flat arrays with named columns: the form the numba kernel and the numpy reference read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from geometries import ARCSEC_PER_RAD, AnnulusAperture, CircleAperture, Optic

# Columns of a surface row (`geometries.Quadric.as_row`): x^2 + y^2 = A w^2 + B w + C with w = z - z_ref,
# valid for z_min <= z <= z_max.
QUAD_A, QUAD_B, QUAD_C, Z_REF, Z_MIN, Z_MAX = range(6)
SURFACE_COLUMNS = 6
# The four surfaces of a shell, in `Optic.surfaces` order.
PRIMARY, SECONDARY, PRIMARY_BACK, SECONDARY_BACK = range(4)
# Columns of a set of equally spaced radial bars (see `radial_bars`).
BAR_COUNT, BAR_ROTATION_TURNS, BAR_TAN_HALF_WEDGE, BAR_HALF_WIDTH_MM, BAR_FIRST = range(5)
BAR_COLUMNS = 5
# Rows of `KernelGeometry.bar_directions`: the direction of bar k of a set and of bar k + 1.
BAR_COS, BAR_SIN, BAR_NEXT_COS, BAR_NEXT_SIN = range(4)
# The two sets of bars of a segmented shell.
JOINS, SPACERS = 0, 1
# Columns of a shell's slope errors (radians).
SLOPE_MERIDIONAL, SLOPE_SAGITTAL, WING_FRACTION, WING_RMS = range(4)
SLOPE_COLUMNS = 4
# Columns of a wall's front edge: the height of its top, its front radius and its thickness (mm).
WALL_TOP_Z, WALL_FRONT_R, WALL_THICKNESS = range(3)
WALL_COLUMNS = 3
# Columns of a shell's azimuth range (radians): start and span (2 pi: a full turn).
AZIMUTH_START, AZIMUTH_SPAN = range(2)
# Columns of an aperture row: its kind, then its parameters.
APERTURE_KIND, APERTURE_P1, APERTURE_P2, APERTURE_P3 = range(4)
CIRCLE, ANNULUS, SECTOR = 1.0, 2.0, 3.0  # kinds: (r^2, x0, y0), (r_min^2, r_max^2, -), (start, span, -) in radians
TWO_PI = 2.0 * math.pi
# Rows of `KernelGeometry.channels`: what the trace kernel reads of the shells by a ray's channel c,
# between its inner wall (shell c - 1) and its outer wall (shell c; the last shell for the channel outside it).
CHANNEL_SLOPES = 0  # the outer shell's slope errors, SLOPE_MERIDIONAL .. WING_RMS
CHANNEL_WALLS = CHANNEL_SLOPES + SLOPE_COLUMNS  # the front edge of the inner wall, then of the outer wall
# the candidate surfaces, a surface row each: outer PRIMARY, inner PRIMARY_BACK, outer SECONDARY, inner SECONDARY_BACK
# (the order the kernel tries them)
CHANNEL_SURFACES = CHANNEL_WALLS + 2 * WALL_COLUMNS
CHANNEL_BARS = CHANNEL_SURFACES + 4 * SURFACE_COLUMNS  # the outer shell's SPACERS, then its JOINS
CHANNEL_COLUMNS = CHANNEL_BARS + 2 * BAR_COLUMNS

NO_BARS = np.zeros(BAR_COLUMNS)


def radial_bars(count: int, rotation_rad: float, half_wedge_rad: float, half_width_mm: float) -> np.ndarray:
    """`count` equally spaced radial obstructions as the kernels read them: (count, rotation in turns within
    [0, 1), tan of the half wedge angle, half width in mm, and BAR_FIRST, set by `bar_directions`)."""
    return np.array([count, (rotation_rad / (2.0 * math.pi)) % 1.0, math.tan(half_wedge_rad), half_width_mm, 0.0])


def bar_directions(bar_sets) -> np.ndarray:
    """`KernelGeometry.bar_directions` for these sets of bars (rows of `radial_bars`), each set's BAR_FIRST set in
    place: for bar k of a set, whose direction is the turn rotation + k / count, its entry BAR_FIRST + k holds
    (cos, sin) of it and of bar k + 1, for every k that the kernel's estimate of a point's azimuth can give
    (-2 count - 1 .. count + 1: the azimuth lies within half a turn of 0, the rotation within one turn). Entry 0
    holds (1, 0, 1, 0), for lanes whose set is empty."""
    entries = [np.array([[1.0], [0.0], [1.0], [0.0]])]
    first = 1
    for bars in bar_sets:
        count = int(bars[BAR_COUNT])
        if count == 0:
            continue
        k = np.arange(-2 * count - 1, count + 3)
        turn = bars[BAR_ROTATION_TURNS] + k / count
        angle = 2.0 * np.pi * (turn - np.floor(turn))
        cos, sin = np.cos(angle), np.sin(angle)
        entries.append(np.array([cos[:-1], sin[:-1], cos[1:], sin[1:]]))
        bars[BAR_FIRST] = first + 2 * count + 1
        first += entries[-1].shape[1]
    return np.ascontiguousarray(np.concatenate(entries, axis=1))


class KernelGeometry(NamedTuple):
    """What the trace kernel reads of the optic and the focal plane (positional order is irrelevant to callers): the
    shells' surfaces, walls, slope errors and bars as each channel reads them (`channels`), and the rest as packed."""

    top_z: np.ndarray  # (n_shells,) height of each shell's front edge
    spider: np.ndarray  # (BAR_COLUMNS,) radial bars of the spider in the plane z = spider_z
    spider_z: float
    bar_directions: np.ndarray  # (4, entries): BAR_COS .. BAR_NEXT_SIN of every set of bars (`bar_directions`)
    shell_azimuth: np.ndarray  # (n_shells, 2): AZIMUTH_START, AZIMUTH_SPAN
    apertures: np.ndarray  # (n_apertures, 4): APERTURE_KIND .. APERTURE_P3, tested in the plane z = spider_z
    focal_plane_z: float
    channels: np.ndarray  # (CHANNEL_COLUMNS, n_shells + 1): the rows above that each channel reads, a row per value
    rough: bool  # whether any shell has slope errors
    segmented: bool  # whether any shell has spacers or segment joins


@dataclass(frozen=True)
class PackedOptic:
    surfaces: np.ndarray  # (n_shells, 4, 6): rows of PRIMARY .. SECONDARY_BACK, columns QUAD_A .. Z_MAX
    top_z: np.ndarray
    front_r: np.ndarray  # (n_shells,) R1, inner radius of the front edge
    thickness: np.ndarray  # (n_shells,)
    exit_r: np.ndarray  # (n_shells,) R5
    spider: np.ndarray
    segments: np.ndarray  # (n_shells, 2, BAR_COLUMNS): JOINS and SPACERS bars of each shell
    bar_directions: np.ndarray
    slope_errors: np.ndarray  # (n_shells, 4): SLOPE_MERIDIONAL .. WING_RMS
    shell_azimuth: np.ndarray
    apertures: np.ndarray
    open_radial_mm: tuple[float, float]  # where the apertures are open, in the aperture plane: radii ...
    open_azimuth_rad: tuple[float, float] | None  # ... and azimuths (start, span; None: all)
    focal_length_mm: float

    @classmethod
    def from_optic(cls, optic: Optic) -> "PackedOptic":
        surfaces = np.array([[q.as_row() for q in quad] for quad in optic.surfaces()])
        sp = optic.spider
        spider = NO_BARS
        if sp is not None:
            spider = radial_bars(
                sp.n_spokes,
                math.radians(sp.rotation_deg),
                math.radians(sp.spoke_width_deg) / 2.0,
                sp.spoke_width_mm / 2.0,
            )
        segments = np.zeros((optic.n_shells, 2, BAR_COLUMNS))
        slope_errors = np.zeros((optic.n_shells, 4))
        for i, shell in enumerate(optic.shells):
            seg = shell.segmentation
            if seg is not None:
                rotation = math.radians(seg.rotation_deg)
                if seg.gap_mm > 0:
                    segments[i, JOINS] = radial_bars(seg.segments, rotation, 0.0, seg.gap_mm / 2.0)
                n_spacers = seg.segments * seg.spacers_per_segment
                if n_spacers and seg.spacer_width_mm > 0:
                    segments[i, SPACERS] = radial_bars(
                        n_spacers, rotation + math.pi / n_spacers, 0.0, seg.spacer_width_mm / 2.0
                    )
            e = shell.slope_errors
            slope_errors[i] = (
                e.meridional_arcsec / ARCSEC_PER_RAD,
                e.sagittal_arcsec / ARCSEC_PER_RAD,
                e.wing_fraction,
                e.wing_arcsec / ARCSEC_PER_RAD,
            )
        shell_azimuth = np.array(
            [
                [math.radians(s.azimuth_min_deg), min(TWO_PI, math.radians(s.azimuth_max_deg - s.azimuth_min_deg))]
                for s in optic.shells
            ]
        )
        return cls(
            surfaces=surfaces,
            top_z=optic.top_z_mm(),
            front_r=optic.entrance_radii_mm(),
            thickness=optic.thicknesses_mm(),
            exit_r=optic.exit_radii_mm(),
            spider=spider,
            segments=segments,
            bar_directions=bar_directions([spider, *segments.reshape(-1, BAR_COLUMNS)]),
            slope_errors=slope_errors,
            shell_azimuth=shell_azimuth,
            apertures=_aperture_rows(optic.apertures),
            open_radial_mm=(
                max([a.radial_bounds_mm()[0] for a in optic.apertures], default=0.0),
                min([a.radial_bounds_mm()[1] for a in optic.apertures], default=math.inf),
            ),
            open_azimuth_rad=min(
                (a.azimuth_range_rad() for a in optic.apertures if a.azimuth_range_rad()),
                key=lambda r: r[1],
                default=None,
            ),
            focal_length_mm=optic.focal_length_mm,
        )

    @property
    def n_shells(self) -> int:
        return self.top_z.shape[0]

    @property
    def outer_radius_mm(self) -> float:
        """The outer edge of the outermost shell's front."""
        return float(self.front_r[-1] + self.thickness[-1])

    @property
    def height_mm(self) -> float:
        """Height of the highest front edge above the intersection plane."""
        return float(self.top_z.max() - self.focal_length_mm)

    @property
    def lowest_exit_z_mm(self) -> float:
        """The lowest point of any secondary: a focal plane must lie below it."""
        return float(self.surfaces[:, SECONDARY, Z_MIN].min())

    def for_kernel(self, focal_plane_z_mm: float) -> KernelGeometry:
        return KernelGeometry(
            self.top_z,
            self.spider,
            float(self.top_z.max()),
            self.bar_directions,
            self.shell_azimuth,
            self.apertures,
            float(focal_plane_z_mm),
            self.channel_rows(),
            bool(self.slope_errors.max() > 0.0),
            bool(self.segments[:, :, BAR_COUNT].max() > 0.0),
        )

    def channel_rows(self) -> np.ndarray:
        """`KernelGeometry.channels`: each value the kernel reads by a ray's channel in a row of its own over the
        channels, so that the kernel gathers a block's lanes one value at a time (from one short row in cache)."""
        channel = np.arange(self.n_shells + 1)
        outer = np.minimum(channel, self.n_shells - 1)
        inner = np.maximum(channel - 1, 0)
        walls = [
            column for wall in (inner, outer) for column in (self.top_z[wall], self.front_r[wall], self.thickness[wall])
        ]
        rows = np.column_stack(
            [
                self.slope_errors[outer],
                *walls,
                self.surfaces[outer, PRIMARY],
                self.surfaces[inner, PRIMARY_BACK],
                self.surfaces[outer, SECONDARY],
                self.surfaces[inner, SECONDARY_BACK],
                self.segments[outer, SPACERS],
                self.segments[outer, JOINS],
            ]
        )
        assert rows.shape[1] == CHANNEL_COLUMNS
        return np.ascontiguousarray(rows.T)


def _aperture_rows(apertures) -> np.ndarray:
    rows = np.zeros((len(apertures), 4))
    for row, a in zip(rows, apertures):
        if isinstance(a, CircleAperture):
            row[:] = CIRCLE, a.radius_mm**2, a.centre_x_mm, a.centre_y_mm
        elif isinstance(a, AnnulusAperture):
            row[:] = ANNULUS, a.r_min_mm**2, a.r_max_mm**2, 0.0
        else:
            row[:] = SECTOR, *a.azimuth_range_rad(), 0.0
    return rows
