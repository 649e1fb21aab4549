"""A parallel beam: a point source at infinity.

At off-axis angle theta and azimuth phi on the sky, rays travel along
d = -(sin theta cos phi, sin theta sin phi, cos theta), so the image lies near
-f tan(theta) (cos phi, sin phi) in the focal plane. Start points are uniform over the entrance
channels, so every ray carries the same weight: the entrance area projected normal to the beam
divided by the number of rays.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import astropy.units as u
import numpy as np

from ..engine.aperture import EntranceChannels
from ..engine.rays import Rays
from ..engine.source import SharedRay, tilted_pointing

MAX_OFF_AXIS_RAD = math.radians(10.0)


@dataclass(frozen=True)
class ParallelBeam:
    """A parallel beam at `off_axis_rad` from the axis towards `azimuth_rad`, of photons of `energy_kev`
    (None: a geometric trace, re-weighted afterwards at any energy, as effective-area tables are)."""

    off_axis_rad: float = 0.0
    azimuth_rad: float = 0.0
    energy_kev: float | None = None

    def __post_init__(self):
        if not (math.isfinite(self.off_axis_rad) and 0.0 <= self.off_axis_rad < MAX_OFF_AXIS_RAD):
            raise ValueError(
                f"off-axis angle = {math.degrees(self.off_axis_rad) * 60:.4g} arcmin: must be within "
                f"[0, {math.degrees(MAX_OFF_AXIS_RAD) * 60:g}) arcmin"
            )
        if not math.isfinite(self.azimuth_rad):
            raise ValueError(f"azimuth = {self.azimuth_rad}: must be a finite angle")
        if self.energy_kev is not None and not (math.isfinite(self.energy_kev) and self.energy_kev > 0):
            raise ValueError(f"beam energy = {self.energy_kev} keV: must be a number > 0")

    @classmethod
    def from_angles(
        cls, off_axis: u.Quantity = 0 * u.arcmin, azimuth: u.Quantity = 0 * u.deg, energy: u.Quantity | None = None
    ) -> "ParallelBeam":
        energy_kev = None if energy is None else float(u.Quantity(energy, u.keV).to_value(u.keV))
        return cls(float(u.Quantity(off_axis).to_value(u.rad)), float(u.Quantity(azimuth).to_value(u.rad)), energy_kev)

    def at_energy(self, energy_kev: float | None) -> "ParallelBeam":
        return dataclasses.replace(self, energy_kev=energy_kev)

    def max_angle_rad(self, radius_mm: float = 0.0, height_mm: float = 0.0) -> float:
        return self.off_axis_rad

    @property
    def distance_m(self) -> float:
        return math.inf

    @property
    def pointing_rad(self) -> tuple[float, float]:
        return self.off_axis_rad, self.azimuth_rad

    def with_pointing(self, offset_rad: float, azimuth_rad: float) -> "ParallelBeam":
        return dataclasses.replace(self, off_axis_rad=offset_rad, azimuth_rad=azimuth_rad)

    def direction(self) -> np.ndarray:
        st = math.sin(self.off_axis_rad)
        return -np.array(
            [st * math.cos(self.azimuth_rad), st * math.sin(self.azimuth_rad), math.cos(self.off_axis_rad)]
        )

    def seen_from_tilted_optic(
        self, tilt_x_rad, tilt_y_rad, pivot_z_mm, decentre_x_mm, decentre_y_mm, entrance_z_mm
    ) -> "ParallelBeam":
        return self.with_pointing(*tilted_pointing(self.pointing_rad, tilt_x_rad, tilt_y_rad))

    def energy_nodes(self) -> np.ndarray:
        return np.empty(0) if self.energy_kev is None else np.array([self.energy_kev])

    def shared_ray(self, aperture: EntranceChannels, n_total: int) -> SharedRay:
        return SharedRay(
            self.direction(), float(self.energy_kev or 0.0), aperture.area_cm2 * math.cos(self.off_axis_rad) / n_total
        )

    def emit(self, key, first_index: int, n_total: int, aperture: EntranceChannels, rays: Rays) -> None:
        aperture.sample(key, first_index, rays)
        shared = self.shared_ray(aperture, n_total)
        rays.dx[:], rays.dy[:], rays.dz[:] = shared.direction
        rays.energy_kev[:] = shared.energy_kev
        rays.weight[:] = shared.weight

    def metadata(self) -> dict:
        meta = {
            "off_axis_arcmin": math.degrees(self.off_axis_rad) * 60.0,
            "azimuth_deg": math.degrees(self.azimuth_rad),
        }
        if self.energy_kev is not None:
            meta["energy_kev"] = self.energy_kev
        return meta

    def describe(self) -> str:
        text = (
            f"parallel beam, off-axis {math.degrees(self.off_axis_rad) * 60:.4g} arcmin, "
            f"azimuth {math.degrees(self.azimuth_rad):.4g} deg"
        )
        return text if self.energy_kev is None else f"{text}, {self.energy_kev:g} keV"
