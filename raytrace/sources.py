"""Sources: where rays come from.

A `ParallelBeam` is a point source at infinity at off-axis angle theta and azimuth
phi on the sky: rays travel along d = -(sin theta cos phi, sin theta sin phi, cos theta),
so its image lies near -f tan(theta) (cos phi, sin phi) in the focal plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import astropy.units as u
import numpy as np


@dataclass(frozen=True)
class ParallelBeam:
    off_axis_rad: float = 0.0
    azimuth_rad: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.off_axis_rad) and 0.0 <= self.off_axis_rad < math.radians(10.0)):
            raise ValueError(f"off-axis angle = {math.degrees(self.off_axis_rad) * 60:.4g} arcmin: must be within [0, 600) arcmin")
        if not math.isfinite(self.azimuth_rad):
            raise ValueError(f"azimuth = {self.azimuth_rad}: must be a finite angle")

    @classmethod
    def from_angles(cls, off_axis: u.Quantity = 0 * u.arcmin, azimuth: u.Quantity = 0 * u.deg) -> "ParallelBeam":
        return cls(float(u.Quantity(off_axis).to_value(u.rad)), float(u.Quantity(azimuth).to_value(u.rad)))

    def direction(self) -> np.ndarray:
        st = math.sin(self.off_axis_rad)
        return -np.array([st * math.cos(self.azimuth_rad), st * math.sin(self.azimuth_rad), math.cos(self.off_axis_rad)])

    def metadata(self) -> dict:
        return {"off_axis_arcmin": math.degrees(self.off_axis_rad) * 60.0, "azimuth_deg": math.degrees(self.azimuth_rad)}

    def describe(self) -> str:
        return (f"parallel beam, off-axis {math.degrees(self.off_axis_rad) * 60:.4g} arcmin, "
                f"azimuth {math.degrees(self.azimuth_rad):.4g} deg")
