"""The source protocol: what the engine needs of anything that emits rays.

A source fills, for rays first_index .. first_index + n - 1 of an n_total-ray run, each ray's start
point and channel, direction (a unit vector towards -z), energy (keV) and starting weight (cm2: the
entrance area the ray stands for times whatever the source puts on it), as a pure function of the
trace key and the ray index. It starts every ray with `aperture.sample` (uniform over the entrance
channels) and may make the direction depend on the start point. Its other draws use their own counter
stream (`raytrace.engine.rng.stream_key`), apart from the trace's.

A source whose rays differ only in their start point (a parallel beam) says so with `shared_ray`: the trace's kernel
then starts the rays itself, block by block, by the same sampling (the same rays to the last bit), without writing
them out and reading them back.

The engine also asks it for the largest angle between a ray and the optical axis (which entrance channels to sample, and
how far the reflectivity tables must reach), its distance (the image of a source at a finite distance lies behind the
focus), the energies rays are traced at (the nodes of the reflectivity table) and its provenance. Vignetting moves a
source's pointing with `with_pointing`; tolerancing asks how a tilted and decentred optic sees it
(`seen_from_tilted_optic`; `tilted_pointing` below does the pointing part).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from .aperture import EntranceChannels
from .rays import Rays


class SharedRay(NamedTuple):
    """What every ray of a parallel beam shares: its direction (a unit vector towards -z), energy (keV; 0 for a
    geometric trace) and starting weight (cm2)."""

    direction: np.ndarray
    energy_kev: float
    weight: float


@runtime_checkable
class Source(Protocol):
    def max_angle_rad(self, radius_mm: float, height_mm: float) -> float:
        """The largest angle (radians) between the axis and a ray that enters the optic within `radius_mm` of the
        axis, at most `height_mm` above the intersection plane."""

    @property
    def distance_m(self) -> float:
        """Distance of the source from the optic's intersection plane (m); math.inf for a source at infinity."""

    @property
    def pointing_rad(self) -> tuple[float, float]:
        """Offset of the source's centre from the optical axis and its azimuth (radians)."""

    def with_pointing(self, offset_rad: float, azimuth_rad: float) -> "Source":
        """The same source with its centre at this offset and azimuth from the axis."""

    def seen_from_tilted_optic(
        self,
        tilt_x_rad: float,
        tilt_y_rad: float,
        pivot_z_mm: float,
        decentre_x_mm: float,
        decentre_y_mm: float,
        entrance_z_mm: float,
    ) -> "Source":
        """The source in the frame of an optic tilted by (tilt_x, tilt_y) about a pivot at height pivot_z_mm on
        its axis and decentred (mm); entrance_z_mm is the height of the optic's entrance."""

    def energy_nodes(self) -> np.ndarray:
        """The energies (keV) rays are traced at; empty for a geometric (energy-free) source."""

    def emit(self, key, first_index: int, n_total: int, aperture: EntranceChannels, rays: Rays) -> None:
        """Fill the start point, channel, direction, energy and weight of rays first_index .. (len(rays) of them)."""

    def shared_ray(self, aperture: EntranceChannels, n_total: int) -> SharedRay | None:
        """The direction, energy and weight of every ray of an n_total-ray run, if they are all the same (then `emit`
        gives the rays `aperture.sample`'s start points and these); None if they are not."""

    def metadata(self) -> dict:
        """Provenance for result tables (plain values)."""

    def describe(self) -> str:
        """One line for people."""


def tilted_pointing(pointing_rad: tuple[float, float], tilt_x_rad: float, tilt_y_rad: float) -> tuple[float, float]:
    """(offset, azimuth) of a source direction seen from an optic whose axis tilts by (tilt_x, tilt_y): its offset
    vector minus the tilt (small angles)."""
    offset, azimuth = pointing_rad
    x = offset * math.cos(azimuth) - tilt_x_rad
    y = offset * math.sin(azimuth) - tilt_y_rad
    return math.hypot(x, y), math.atan2(y, x)
