"""Rays as a struct of arrays. Rays are never dropped: each ends with a fate code.

Positions in mm, directions as unit vectors, energy in keV, weight in cm2 (the
aperture area a ray stands for, times whatever has reduced it), graze angles in
radians. After a trace the position is where the ray crosses the focal plane
(or where it stopped, for a blocked ray).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum
from typing import NamedTuple

import numba
import numpy as np


class Fate(IntEnum):
    """What happened to a ray. Every traced ray has exactly one."""

    BLOCKED_SPIDER = 1  # stopped by a spider spoke at the entrance
    BLOCKED_FRONT = 2  # stopped by the front edge (R1 .. R1 + thickness) of a shell
    BLOCKED_BACK = 3  # stopped by the back of the next inner shell
    LEAKED = 4  # crossed above a shorter neighbouring shell into the next channel, which samples it itself
    NO_REFLECTION = 5  # passed through without touching a mirror
    PRIMARY_ONLY = 6  # one reflection, on a primary (stray light)
    SECONDARY_ONLY = 7  # one reflection, on a secondary (stray light)
    DOUBLE = 8  # primary then secondary: the focused beam
    MULTIPLE = 9  # any other sequence of reflections
    MISSED_FOCAL_PLANE = 10  # left the optic heading away from the focal plane
    SEGMENT_GAP = 11  # passed through a join between mirror segments, where there is no mirror
    BLOCKED_SPACER = 12  # stopped by a spacer between two segmented shells
    BLOCKED_APERTURE = 13  # stopped by the plate around an entrance aperture
    # solar axions: the ray's line crosses the magnet bore's exit outside the bore (set by the source)
    NOT_FROM_BORE = 14


FATE_NAMES = {int(f): f.name.lower() for f in Fate}


def fates_by_name(counts: np.ndarray) -> dict[str, int]:
    """Counts per fate code (`Rays.fate_counts`) as {fate name: count}, as result tables record them."""
    return {FATE_NAMES[i]: int(counts[i]) for i in range(1, len(counts))}


@dataclass
class Rays:
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    dz: np.ndarray
    energy_kev: np.ndarray
    weight: np.ndarray
    channel: np.ndarray  # entrance channel: between shell channel-1 and shell channel (0-based)
    shell: np.ndarray  # the shell whose mirrors the ray can reflect on: the channel's outer wall
    fate: np.ndarray
    graze1: np.ndarray
    graze2: np.ndarray

    @classmethod
    def empty(cls, n: int) -> "Rays":
        float_fields = ("x", "y", "z", "dx", "dy", "dz", "energy_kev", "weight", "graze1", "graze2")
        arrays = {name: np.zeros(n) for name in float_fields}
        return cls(channel=np.zeros(n, np.int32), shell=np.zeros(n, np.int32), fate=np.zeros(n, np.int8), **arrays)

    def __len__(self) -> int:
        return self.x.shape[0]

    def head(self, n: int) -> "Rays":
        """The first n rays, as views into this struct's arrays."""
        return Rays(**{f.name: getattr(self, f.name)[:n] for f in fields(self)})

    def copy(self) -> "Rays":
        return Rays(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def columns(self) -> "RayColumns":
        """The same arrays as the named tuple the numba kernels read."""
        return RayColumns(**{f.name: getattr(self, f.name) for f in fields(self)})

    def fate_counts(self) -> np.ndarray:
        """Number of rays per fate code (index = code; index 0 counts untraced rays)."""
        return _count_codes(self.fate, len(Fate) + 1)


# `Rays` as the kernels take it: numba reads a named tuple of arrays, not a dataclass (the same fields, in order)
RayColumns = NamedTuple("RayColumns", [(f.name, np.ndarray) for f in fields(Rays)])


@numba.njit(cache=True, no_cfunc_wrapper=True)
def _count_codes(codes, n_codes):
    # four interleaved tallies, so that runs of one code do not make each increment wait for the last one's store
    tallies = np.zeros(4 * n_codes, np.int64)
    for i in range(codes.shape[0]):
        tallies[(i & 3) * n_codes + codes[i]] += 1
    counts = np.zeros(n_codes, np.int64)
    for k in range(4 * n_codes):
        counts[k % n_codes] += tallies[k]
    return counts
