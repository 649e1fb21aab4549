"""A point source at a finite distance, as at X-ray test facilities (PANTER: about 124-130 m from the optic;
the CAST X-ray finger: about 14 m), optionally a uniform disc of radius `size_mm`.

The source's centre lies `distance_m` from the centre of the optic's intersection plane (0, 0, f), towards
off-axis angle theta and azimuth phi: S = (0, 0, f) + D (sin theta cos phi, sin theta sin phi, cos theta).
A disc source is spread over the plane through S normal to the axis. Each ray starts on the entrance
channels (uniform over their area) and travels from a point Q of the source (its own draws) to its start
point P, so every ray has its own direction.

Weights. The effective area is the collected flux divided by the incident flux density at the optic: the
flux per unit area normal to the beam at distance D from the source, I / D^2 for a source of intensity I.
The flux a small area dA of the entrance plane receives is I cos(alpha) / |P - Q|^2 dA (alpha the ray's angle
to the axis), so a ray sampled uniformly over the entrance area A carries the weight

    w = (A / N) cos(alpha) (D / |P - Q|)^2,

which tends to the parallel beam's (A / N) cos(theta) as D -> infinity.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from coatings.threads import split_over_threads

from ..engine.aperture import EntranceChannels
from ..engine.rays import Rays
from ..engine.rng import stream_key, uniform_array
from ..engine.source import tilted_pointing
from .parallel import MAX_OFF_AXIS_RAD

SOURCE_STREAM = 2  # the source's own draws, apart from the trace's (and from the solar source's stream 1)
MIN_DISTANCE_M = 1.0


@dataclass(frozen=True)
class PointSource:
    """A source `distance_m` from the intersection plane, `off_axis_rad` from the axis towards `azimuth_rad`, of
    radius `size_mm` (0: a point), emitting photons of `energy_kev` (None: a geometric trace)."""

    distance_m: float
    off_axis_rad: float = 0.0
    azimuth_rad: float = 0.0
    size_mm: float = 0.0
    energy_kev: float | None = None

    def __post_init__(self):
        if not (math.isfinite(self.distance_m) and self.distance_m >= MIN_DISTANCE_M):
            raise ValueError(
                f"source distance = {self.distance_m} m: must be a finite number >= {MIN_DISTANCE_M:g} m "
                "(a source at infinity is a parallel beam)"
            )
        if not (math.isfinite(self.off_axis_rad) and 0.0 <= self.off_axis_rad < MAX_OFF_AXIS_RAD):
            raise ValueError(
                f"off-axis angle = {math.degrees(self.off_axis_rad) * 60:.4g} arcmin: must be within "
                f"[0, {math.degrees(MAX_OFF_AXIS_RAD) * 60:g}) arcmin"
            )
        if not math.isfinite(self.azimuth_rad):
            raise ValueError(f"azimuth = {self.azimuth_rad}: must be a finite angle")
        if not (math.isfinite(self.size_mm) and 0.0 <= self.size_mm <= 0.01 * self.distance_m * 1000.0):
            raise ValueError(f"source size = {self.size_mm} mm: must be a radius from 0 to 1 % of the distance")
        if self.energy_kev is not None and not (math.isfinite(self.energy_kev) and self.energy_kev > 0):
            raise ValueError(f"source energy = {self.energy_kev} keV: must be a number > 0")

    def at_energy(self, energy_kev: float | None) -> "PointSource":
        return dataclasses.replace(self, energy_kev=energy_kev)

    def centre_mm(self, intersection_z_mm: float) -> np.ndarray:
        """The source's centre (x, y, z) in the optic's frame (mm)."""
        d = self.distance_m * 1000.0
        st = math.sin(self.off_axis_rad)
        return np.array(
            [
                d * st * math.cos(self.azimuth_rad),
                d * st * math.sin(self.azimuth_rad),
                intersection_z_mm + d * math.cos(self.off_axis_rad),
            ]
        )

    def max_angle_rad(self, radius_mm: float, height_mm: float) -> float:
        d = self.distance_m * 1000.0
        above = d * math.cos(self.off_axis_rad) - height_mm
        if above <= 0:
            raise ValueError(
                f"source distance = {self.distance_m} m: the source must lie above the optic's entrance, "
                f"{height_mm / 1000.0:.3g} m above its intersection plane"
            )
        return math.atan2(d * math.sin(self.off_axis_rad) + self.size_mm + radius_mm, above)

    @property
    def pointing_rad(self) -> tuple[float, float]:
        return self.off_axis_rad, self.azimuth_rad

    def with_pointing(self, offset_rad: float, azimuth_rad: float) -> "PointSource":
        return dataclasses.replace(self, off_axis_rad=offset_rad, azimuth_rad=azimuth_rad)

    def seen_from_tilted_optic(
        self, tilt_x_rad, tilt_y_rad, pivot_z_mm, decentre_x_mm, decentre_y_mm, entrance_z_mm
    ) -> "PointSource":
        return self.with_pointing(*tilted_pointing(self.pointing_rad, tilt_x_rad, tilt_y_rad))

    def energy_nodes(self) -> np.ndarray:
        return np.empty(0) if self.energy_kev is None else np.array([self.energy_kev])

    def shared_ray(self, aperture: EntranceChannels, n_total: int) -> None:
        return None  # the direction depends on the start point

    def emit(self, key, first_index: int, n_total: int, aperture: EntranceChannels, rays: Rays) -> None:
        aperture.sample(key, first_index, rays)
        n = len(rays)
        qx, qy, qz = self.centre_mm(aperture.intersection_z_mm)
        if np.any(rays.z >= qz):
            raise ValueError(f"source distance = {self.distance_m} m: the source lies inside the optic")
        dx, dy = rays.x - qx, rays.y - qy
        if self.size_mm > 0:
            u = np.empty((2, n))
            own = stream_key(key, SOURCE_STREAM)
            for draw in range(2):
                split_over_threads(uniform_array, u.shape[1], own, np.uint64(first_index), draw, u[draw])
            radius = self.size_mm * np.sqrt(u[0])
            dx -= radius * np.cos(2.0 * np.pi * u[1])
            dy -= radius * np.sin(2.0 * np.pi * u[1])
        dz = rays.z - qz
        length = np.sqrt(dx * dx + dy * dy + dz * dz)
        rays.dx[:], rays.dy[:], rays.dz[:] = dx / length, dy / length, dz / length
        rays.energy_kev[:] = self.energy_kev or 0.0
        reference = self.distance_m * 1000.0
        rays.weight[:] = aperture.area_cm2 / n_total * (-rays.dz) * (reference / length) ** 2

    def metadata(self) -> dict:
        meta = {
            "source_distance_m": self.distance_m,
            "source_size_mm": self.size_mm,
            "off_axis_arcmin": math.degrees(self.off_axis_rad) * 60.0,
            "azimuth_deg": math.degrees(self.azimuth_rad),
        }
        if self.energy_kev is not None:
            meta["energy_kev"] = self.energy_kev
        return meta

    def describe(self) -> str:
        size = f"{self.size_mm:g} mm radius disc" if self.size_mm > 0 else "point source"
        text = (
            f"{size} at {self.distance_m:g} m, off-axis {math.degrees(self.off_axis_rad) * 60:.4g} arcmin, "
            f"azimuth {math.degrees(self.azimuth_rad):.4g} deg"
        )
        return text if self.energy_kev is None else f"{text}, {self.energy_kev:g} keV"


def image_distance_mm(focal_length_mm: float, distance_m: float) -> float:
    """Paraxial image distance from the intersection plane: s' = f D / (D - f) (f for a source at infinity)."""
    if math.isinf(distance_m):
        return focal_length_mm
    d = distance_m * 1000.0
    if d <= focal_length_mm:
        raise ValueError(
            f"source distance = {distance_m} m: within the focal length ({focal_length_mm / 1000:g} m), "
            "the optic forms no real image"
        )
    return focal_length_mm * d / (d - focal_length_mm)
