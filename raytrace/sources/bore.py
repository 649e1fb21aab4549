"""The magnet bore as the conversion volume of solar axions.

Axions convert to photons anywhere in the bore's field, and the photon keeps the axion's direction. A photon
that reaches the optic at P travelling along d came back along the line P - s d; in vacuum the conversion
probability along a path of length l is (g B l / 2)^2, so relative to the bore's full length L the ray carries
the weight (l / L)^2, where l is the length of the line's last stretch inside the bore: from where it entered
the bore's cylinder (through the far end or, for lines at an angle, through the wall, which axions cross
freely) to the bore's exit plane. A line that crosses the exit plane outside the bore comes from no field
(photons converted earlier would hit the wall): its ray gets the fate NOT_FROM_BORE.

The bore is fixed to the magnet. In the optic's frame its axis has direction (t_x, t_y, 1) (up, towards the
Sun) and crosses its exit plane, gap_mm above the optic's entrance, at (x0, y0): both zero for an aligned
optic; `seen_from_tilted_optic` gives them for a tilted or decentred one (raytrace.helioscope.tolerance).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..defaults import BORE_GAP_MM, MAGNET_LENGTH_M
from ..engine.rays import Fate, Rays

# BabyIAXO (Abeln et al., JHEP 05 (2021) 137): two bores of 70 cm diameter in a 10 m long magnet; the gap to the
# optic is an assumption (raytrace.defaults).
BABYIAXO_BORE_RADIUS_MM = 350.0
BABYIAXO_BORE_LENGTH_MM = 1000.0 * MAGNET_LENGTH_M
BABYIAXO_BORE_GAP_MM = BORE_GAP_MM


@dataclass(frozen=True)
class Bore:
    radius_mm: float = BABYIAXO_BORE_RADIUS_MM
    length_mm: float = BABYIAXO_BORE_LENGTH_MM
    gap_mm: float = BABYIAXO_BORE_GAP_MM  # from the optic's entrance (its highest front edge) up to the bore's end
    axis_tilt_x_rad: float = 0.0
    axis_tilt_y_rad: float = 0.0
    exit_x_mm: float = 0.0
    exit_y_mm: float = 0.0

    def __post_init__(self):
        for name in ("radius_mm", "length_mm"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"bore {name} = {getattr(self, name)}: must be a number > 0")
        for name in ("gap_mm", "axis_tilt_x_rad", "axis_tilt_y_rad", "exit_x_mm", "exit_y_mm"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"bore {name} = {getattr(self, name)}: must be finite")
        if self.gap_mm < 0:
            raise ValueError(f"bore gap_mm = {self.gap_mm}: must be >= 0 (the bore ends above the optic)")

    def seen_from_tilted_optic(
        self,
        tilt_x_rad: float,
        tilt_y_rad: float,
        pivot_z_mm: float,
        decentre_x_mm: float,
        decentre_y_mm: float,
        exit_z_mm: float,
    ) -> "Bore":
        """The bore in the frame of an optic tilted by (tilt_x, tilt_y) about a pivot at height pivot_z_mm on its
        axis and decentred: the magnet axis runs along (-tilt, 1) and, at height z, lies at (pivot_z - z) tilt -
        decentre (to first order in the tilt); exit_z_mm is the height of the bore's exit plane."""
        lever = pivot_z_mm - exit_z_mm
        return dataclasses.replace(
            self,
            axis_tilt_x_rad=self.axis_tilt_x_rad - tilt_x_rad,
            axis_tilt_y_rad=self.axis_tilt_y_rad - tilt_y_rad,
            exit_x_mm=self.exit_x_mm + lever * tilt_x_rad - decentre_x_mm,
            exit_y_mm=self.exit_y_mm + lever * tilt_y_rad - decentre_y_mm,
        )

    def weigh(self, rays: Rays, entrance_z_mm: float) -> None:
        """Multiply each ray's weight by (l / L)^2 and give NOT_FROM_BORE (weight 0) to rays from outside."""
        axis = np.array([self.axis_tilt_x_rad, self.axis_tilt_y_rad, 1.0])
        axis /= np.linalg.norm(axis)
        exit_point = np.array([self.exit_x_mm, self.exit_y_mm, entrance_z_mm + self.gap_mm])
        rel = np.stack([rays.x, rays.y, rays.z], axis=1) - exit_point
        d = np.stack([rays.dx, rays.dy, rays.dz], axis=1)
        up = -d @ axis  # the line runs up the bore axis at this rate per unit length
        along = rel @ axis  # < 0: the start point is below the exit plane
        to_exit = -along / up
        across = rel - along[:, None] * axis
        side = -d - up[:, None] * axis  # sideways drift of the line (going up) per unit length
        at_exit = across + to_exit[:, None] * side
        radius2 = self.radius_mm**2
        inside = np.einsum("ij,ij->i", at_exit, at_exit) < radius2
        a = np.einsum("ij,ij->i", side, side)
        b = np.einsum("ij,ij->i", at_exit, side)
        c = np.einsum("ij,ij->i", at_exit, at_exit) - radius2
        with np.errstate(divide="ignore", invalid="ignore"):
            to_wall = np.where(a > 0, (-b + np.sqrt(np.maximum(b * b - a * c, 0.0))) / a, np.inf)
        length = np.minimum(to_wall, self.length_mm / up)
        factor = np.where(inside, (length / self.length_mm) ** 2, 0.0)
        rays.weight *= factor
        rays.fate[~inside] = Fate.NOT_FROM_BORE

    def metadata(self) -> dict:
        return {"bore_radius_mm": self.radius_mm, "bore_length_mm": self.length_mm, "bore_gap_mm": self.gap_mm}

    def describe(self) -> str:
        return (
            f"converted in a bore of {2 * self.radius_mm:g} mm diameter x {self.length_mm / 1000:g} m ending "
            f"{self.gap_mm:g} mm above the optic"
        )
