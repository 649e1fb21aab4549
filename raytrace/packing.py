"""The optic and the beam as flat arrays, the form the numba kernels and the numpy reference read."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geometries import Optic

SURFACE_PRIMARY, SURFACE_SECONDARY, SURFACE_PRIMARY_BACK, SURFACE_SECONDARY_BACK = 0, 1, 2, 3
GUIDE_CELLS_PER_CHANNEL = 4
ARCSEC_RAD = math.pi / (180.0 * 3600.0)
NO_BARS = np.zeros(6)


def radial_bars(count: int, rotation_rad: float, half_wedge_rad: float, half_width_mm: float) -> np.ndarray:
    """`count` equally spaced radial obstructions as the kernels read them: (count, rotation in turns,
    tan of the half wedge angle, half width in mm, cos and sin of the spacing)."""
    step = 2.0 * math.pi / count
    return np.array([count, rotation_rad / (2.0 * math.pi), math.tan(half_wedge_rad), half_width_mm, math.cos(step),
                     math.sin(step)])


@dataclass(frozen=True)
class PackedOptic:
    surfaces: np.ndarray  # (n_shells, 4, 6): A, B, C, z_ref, z_min, z_max per surface
    top_z: np.ndarray  # (n_shells,) height of each shell's front edge
    front_r: np.ndarray  # (n_shells,) R1, inner radius of the front edge
    thickness: np.ndarray  # (n_shells,)
    exit_r: np.ndarray  # (n_shells,) R5
    spider: np.ndarray  # (6,) radial bars of the spider, in the plane z = top_z.max() (see `radial_bars`)
    segments: np.ndarray  # (n_shells, 2, 6): radial bars of each shell's segment joins and of its spacers
    slope_errors: np.ndarray  # (n_shells, 4): meridional, sagittal rms (rad), wing fraction, wing rms (rad)
    focal_length_mm: float

    @classmethod
    def from_optic(cls, optic: Optic) -> "PackedOptic":
        surfaces = np.array([[q.as_row() for q in quad] for quad in optic.surfaces()])
        sp = optic.spider
        spider = NO_BARS
        if sp is not None:
            spider = radial_bars(sp.n_spokes, math.radians(sp.rotation_deg), math.radians(sp.spoke_width_deg) / 2.0,
                                 sp.spoke_width_mm / 2.0)
        segments = np.zeros((optic.n_shells, 2, 6))
        slope_errors = np.zeros((optic.n_shells, 4))
        for i, shell in enumerate(optic.shells):
            seg = shell.segmentation
            if seg is not None:
                rotation = math.radians(seg.rotation_deg)
                if seg.gap_mm > 0:
                    segments[i, 0] = radial_bars(seg.segments, rotation, 0.0, seg.gap_mm / 2.0)
                n_spacers = seg.segments * seg.spacers_per_segment
                if n_spacers and seg.spacer_width_mm > 0:
                    segments[i, 1] = radial_bars(n_spacers, rotation + math.pi / n_spacers, 0.0, seg.spacer_width_mm / 2.0)
            e = shell.slope_errors
            slope_errors[i] = (e.meridional_arcsec * ARCSEC_RAD, e.sagittal_arcsec * ARCSEC_RAD, e.wing_fraction,
                               e.wing_arcsec * ARCSEC_RAD)
        return cls(
            surfaces=surfaces,
            top_z=optic.top_z_mm(),
            front_r=optic.entrance_radii_mm(),
            thickness=optic.thicknesses_mm(),
            exit_r=optic.exit_radii_mm(),
            spider=spider,
            segments=segments,
            slope_errors=slope_errors,
            focal_length_mm=optic.focal_length_mm,
        )

    @property
    def n_shells(self) -> int:
        return self.top_z.shape[0]


@dataclass(frozen=True)
class EntranceChannels:
    """Annuli at the entrance through which rays are sampled, one per gap between shells.

    Channel c lies between shell c-1 (its inner wall, whose front edge it includes) and
    shell c (its outer wall); channel 0 is inside the innermost shell and the last
    channel is the front edge of the outermost shell. Rays of channel c start on the
    plane of the taller of its two walls.
    """

    r_in: np.ndarray
    r_out: np.ndarray
    z_start: np.ndarray
    cumulative_area_mm2: np.ndarray
    guide: np.ndarray  # guide[k]: a channel at or before the one holding the fraction k / len(guide) of the area

    @classmethod
    def for_direction(cls, packed: PackedOptic, off_axis_rad: float) -> "EntranceChannels":
        n = packed.n_shells
        lengths = packed.top_z[0] - packed.surfaces[0, SURFACE_SECONDARY, 4]
        # Inside the innermost shell only rays that can still reach its mirrors are sampled: on axis
        # that is r >= R5 (closer to the axis rays pass straight through, unreflected).
        core = max(0.0, packed.exit_r[0] - lengths * math.tan(off_axis_rad))
        r_in = np.concatenate([[core], packed.front_r])
        r_out = np.concatenate([packed.front_r, [packed.front_r[-1] + packed.thickness[-1]]])
        tops = packed.top_z
        z_start = np.array([max(tops[max(c - 1, 0)], tops[min(c, n - 1)]) for c in range(n + 1)])
        cumulative = np.cumsum(np.pi * (r_out**2 - r_in**2))
        cells = GUIDE_CELLS_PER_CHANNEL * (n + 1)
        lower = np.arange(cells) / cells * cumulative[-1]
        # one step back from each cell's lower edge, so rounding can never start the scan too late
        guide = np.maximum(np.searchsorted(cumulative, lower, side="right") - 1, 0).astype(np.int64)
        return cls(r_in, r_out, z_start, cumulative, guide)

    @property
    def total_area_mm2(self) -> float:
        return float(self.cumulative_area_mm2[-1])
