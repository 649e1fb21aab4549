"""The optic and the beam as flat arrays, the form the numba kernels and the numpy reference read."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geometries import Optic

SURFACE_PRIMARY, SURFACE_SECONDARY, SURFACE_PRIMARY_BACK, SURFACE_SECONDARY_BACK = 0, 1, 2, 3


@dataclass(frozen=True)
class PackedOptic:
    surfaces: np.ndarray  # (n_shells, 4, 6): A, B, C, z_ref, z_min, z_max per surface
    top_z: np.ndarray  # (n_shells,) height of each shell's front edge
    front_r: np.ndarray  # (n_shells,) R1, inner radius of the front edge
    thickness: np.ndarray  # (n_shells,)
    exit_r: np.ndarray  # (n_shells,) R5
    spider: np.ndarray  # (5,): n_spokes, half wedge (rad), half bar (mm), rotation (rad), z of spider plane
    focal_length_mm: float

    @classmethod
    def from_optic(cls, optic: Optic) -> "PackedOptic":
        surfaces = np.array([[q.as_row() for q in quad] for quad in optic.surfaces()])
        top = optic.top_z_mm()
        sp = optic.spider
        spider = np.zeros(5)
        if sp is not None:
            spider[:] = (
                sp.n_spokes,
                math.radians(sp.spoke_width_deg) / 2.0,
                sp.spoke_width_mm / 2.0,
                math.radians(sp.rotation_deg),
                top.max(),
            )
        return cls(
            surfaces=surfaces,
            top_z=top,
            front_r=optic.entrance_radii_mm(),
            thickness=optic.thicknesses_mm(),
            exit_r=optic.exit_radii_mm(),
            spider=spider,
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
        area = np.pi * (r_out**2 - r_in**2)
        return cls(r_in, r_out, z_start, np.cumsum(area))

    @property
    def total_area_mm2(self) -> float:
        return float(self.cumulative_area_mm2[-1])
