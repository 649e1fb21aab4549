"""The entrance aperture: the annuli through which rays can reach a shell, and uniform sampling over them.

Every source starts its rays here (`EntranceChannels.sample`; for a parallel beam the trace's kernel calls the same
`start_block` itself): the start point is a function of the trace key and the ray index alone (draws 0 and 1 of the
ray), so any source is deterministic for any chunk size and thread count. What the source adds (direction, energy,
weight) may depend on the start point.

Where the optic has entrance apertures, sampling is confined to where they are open: each channel is cut to
the apertures' radial bounds and, where they cover only some azimuths, to an arc, both widened by how far a
ray can move sideways between the aperture plane and the channel's start plane. Rays are still uniform over
what is sampled (so weights stay exact), and those the apertures stop get their own fate in the trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numba
import numpy as np

from coatings.threads import split_over_threads

from .geometry import SECONDARY, Z_MIN, PackedOptic
from .rays import Rays
from .rng import uniform
from .vector_math import GATHER_LANES, copy, floor, gather, gathered_lanes

GUIDE_CELLS_PER_CHANNEL = (4, 8, 16, 32, 64)  # the guide's cells per channel: the fewest that leave at most ...
GUIDE_WIDTH = 2  # ... this many distinct channel ends in any cell (a very thin channel may need more)
GUIDE_MARGIN = 1e-9  # of the total area: each cell's edges widened by far more than the rounding of a draw's area


class KernelChannels(NamedTuple):
    """The channels as `start_block` reads them. A draw of the area a below a start point (0 <= a <= the total)
    finds the number of distinct channel ends <= a: `guide` gives those below its cell (of len(guide) equal cells of
    the area, each widened by GUIDE_MARGIN), and the at most guide_width after them are compared; `channel_after`
    turns that number into the channel (the first whose end exceeds a, as numpy's searchsorted(side="right") finds
    it; an empty channel ends where the one before it does)."""

    r_in: np.ndarray
    below_mm2: np.ndarray  # the area of the channels before each one
    z_start: np.ndarray
    turn_start: np.ndarray  # the arc of azimuths sampled, in turns: start ...
    turn_span: np.ndarray  # ... and length (1: all of them)
    total_area_mm2: float
    ends_mm2: np.ndarray  # the distinct channel ends (cumulative areas), then guide_width of inf
    guide: np.ndarray
    guide_width: int
    channel_after: np.ndarray  # channel_after[k]: the first channel whose end exceeds the k-th distinct end


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
    turn_start: np.ndarray
    turn_span: np.ndarray
    cumulative_area_mm2: np.ndarray
    intersection_z_mm: float  # the optic's intersection plane, z = f, from which source distances are measured

    @classmethod
    def for_angle(cls, packed: PackedOptic, max_angle_rad: float) -> "EntranceChannels":
        """The channels that rays at up to `max_angle_rad` from the axis can use to reach a mirror."""
        n = packed.n_shells
        lengths = packed.top_z[0] - packed.surfaces[0, SECONDARY, Z_MIN]
        # Inside the innermost shell only rays that can still reach its mirrors are sampled: on axis
        # that is r >= R5 (closer to the axis rays pass straight through, unreflected).
        core = max(0.0, packed.exit_r[0] - lengths * math.tan(max_angle_rad))
        r_in = np.concatenate([[core], packed.front_r])
        r_out = np.concatenate([packed.front_r, [packed.front_r[-1] + packed.thickness[-1]]])
        tops = packed.top_z
        z_start = np.array([max(tops[max(c - 1, 0)], tops[min(c, n - 1)]) for c in range(n + 1)])
        # sideways travel between the aperture plane and each start plane, plus a rounding margin
        drift = (tops.max() - z_start) * math.tan(max_angle_rad) + 1e-6
        lo, hi = packed.open_radial_mm
        r_in = np.clip(np.maximum(r_in, lo - drift), None, r_out)
        r_out = np.maximum(np.minimum(r_out, hi + drift), r_in)
        turn_start, turn_span = np.zeros(n + 1), np.ones(n + 1)
        if packed.open_azimuth_rad is not None:
            start, span = packed.open_azimuth_rad
            widen = np.where(r_in > drift, np.arcsin(np.minimum(1.0, drift / np.maximum(r_in, drift))), math.pi)
            arc = span + 2.0 * widen
            partial = arc < 2.0 * math.pi
            turn_start = np.where(partial, ((start - widen) / (2.0 * math.pi)) % 1.0, 0.0)
            turn_span = np.where(partial, arc / (2.0 * math.pi), 1.0)
        cumulative = np.cumsum(np.pi * (r_out**2 - r_in**2) * turn_span)
        return cls(r_in, r_out, z_start, turn_start, turn_span, cumulative, float(packed.focal_length_mm))

    @property
    def total_area_mm2(self) -> float:
        return float(self.cumulative_area_mm2[-1])

    @property
    def area_cm2(self) -> float:
        """The entrance area the rays stand for, in the plane normal to the axis."""
        return self.total_area_mm2 / 100.0

    @cached_property
    def kernel_channels(self) -> KernelChannels:
        """The channels as the kernels read them."""
        cumulative = self.cumulative_area_mm2
        total = float(cumulative[-1])
        ends = np.unique(cumulative)
        margin = GUIDE_MARGIN * total
        for per_channel in GUIDE_CELLS_PER_CHANNEL:
            cells = per_channel * cumulative.size
            edges = np.arange(cells + 1) / cells * total
            guide = np.searchsorted(ends, edges[:-1] - margin, side="right").astype(np.int64)
            width = int((np.searchsorted(ends, edges[1:] + margin, side="right") - guide).max())
            if width <= GUIDE_WIDTH:
                break
        channel_after = np.searchsorted(cumulative, np.concatenate([[-np.inf], ends]), side="right").astype(np.int64)
        return KernelChannels(
            self.r_in,
            np.concatenate([[0.0], cumulative[:-1]]),
            self.z_start,
            self.turn_start,
            self.turn_span,
            total,
            np.concatenate([ends, np.full(width, np.inf)]),
            guide,
            width,
            channel_after,
        )

    def sample(self, key, first_index: int, rays: Rays) -> None:
        """Start points (x, y, z) and channels of rays first_index .. (uniform over the channels' area); their fates
        are cleared (a source may then set one, which the trace keeps)."""
        split_over_threads(
            sample_start_points,
            len(rays),
            key,
            np.uint64(first_index),
            self.kernel_channels,
            rays.x,
            rays.y,
            rays.z,
            rays.channel,
            rays.fate,
        )


# error_model="numpy": divisions follow IEEE (x/0 = inf) instead of raising, which removes a
# branch per division; every division below has a non-zero or an explicitly handled divisor.
@numba.njit(cache=True, inline="always", error_model="numpy")
def cos_sin_of_turn(u):
    """(cos 2 pi u, sin 2 pi u) for u in [0, 1), to a few ulp, several times faster than libm.

    The quarter turn nearest to u is split off exactly (it only swaps and negates), leaving an
    angle x within [-pi/4, pi/4] where the Taylor series to x^16 is exact to 5e-17.
    """
    quarter = 4.0 * u
    q = int(quarter + 0.5)
    x = (quarter - q) * (0.5 * math.pi)
    s = x * x
    sin_x = x * (
        1.0
        + s
        * (
            -1.0 / 6.0
            + s
            * (
                1.0 / 120.0
                + s
                * (
                    -1.0 / 5040.0
                    + s
                    * (
                        1.0 / 362880.0
                        + s * (-1.0 / 39916800.0 + s * (1.0 / 6227020800.0 + s * (-1.0 / 1307674368000.0)))
                    )
                )
            )
        )
    )
    cos_x = 1.0 + s * (
        -0.5
        + s
        * (
            1.0 / 24.0
            + s
            * (
                -1.0 / 720.0
                + s
                * (
                    1.0 / 40320.0
                    + s
                    * (
                        -1.0 / 3628800.0
                        + s * (1.0 / 479001600.0 + s * (-1.0 / 87178291200.0 + s * (1.0 / 20922789888000.0)))
                    )
                )
            )
        )
    )
    # quarter q = 0, 1, 2, 3 gives (c, s), (-s, c), (-c, -s), (s, -c): selects and signs, no branches
    swap = q & 1
    first = sin_x if swap else cos_x
    second = cos_x if swap else sin_x
    return (1.0 - 2.0 * (((q + 1) >> 1) & 1)) * first, (1.0 - 2.0 * ((q >> 1) & 1)) * second


# A block of rays in a struct-of-arrays scratch, as the trace kernel and the sampling here hold it: row r of lane l
# at r * BLOCK_STRIDE + l, in one flat array of floats and one of integers.
BLOCK_RAYS = 256  # rays per block: its scratch stays in cache
BLOCK_STRIDE = BLOCK_RAYS + 8  # a cache line more than a row, so that a lane's rows fall into different cache sets
# (rows 2 KiB apart would all share two sets of the 8-way L1 and evict one another)
# The stages' loops run over their lanes rounded up to whole gathers of GATHER_LANES (`gathered_lanes`), past the last
# ray of a short block: BLOCK_RAYS must be whole gathers, so that they stay inside a row, and a row's padding keeps a
# gather's worth of margin besides.
if BLOCK_RAYS % GATHER_LANES or BLOCK_STRIDE - BLOCK_RAYS < GATHER_LANES - 1:
    raise RuntimeError(
        f"block layout: rows of {BLOCK_STRIDE} lanes cannot hold {BLOCK_RAYS} rays rounded up to whole "
        f"gathers of {GATHER_LANES}"
    )
START_X, START_Y, START_Z = 0, 1, 2  # the float rows of the start point (`start_block`)
START_CHANNEL = 0  # the integer row of the channel
START_FLOAT_ROWS, START_INTEGER_ROWS = 8, 2  # the rows `start_block` writes (the others as its scratch)
_AREA, _GATHERED = 3, 4  # float rows: a draw's area, then what is gathered by channel
_COUNT = 1  # integer row: the channel ends below a draw's area


@numba.njit(cache=True, nogil=True, error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True, _nrt=False)
def start_block(key, first_index, channels, n, floats, integers):
    """Start points and channels of rays first_index .. first_index + n - 1 (n <= BLOCK_RAYS) into a block's scratch
    (rows START_X .. START_Z and START_CHANNEL; it uses the first START_FLOAT_ROWS and START_INTEGER_ROWS): uniform
    over the channels' area, from draws 0 and 1 of each ray.

    Draw 0 picks the area a = u A below the start point (A the total), draw 1 the turn of its azimuth. Its channel c is
    the first whose end exceeds a (numpy's searchsorted(side="right"), clipped to the last; `KernelChannels`). Within c,
    r^2 = r_in^2 + (a - below) / (pi span) and the turn start + t span (on a full turn span = 1 and start = 0, and both
    are exactly the plain formulas). Every loop vectorises, the channel data read by vector gathers
    (`vector_math.gather`); the loops run over n rounded up to GATHER_LANES lanes (the rays after the block's, whose
    points are never stored). Only kernels call it (no Python or C wrapper compiled)."""
    s = BLOCK_STRIDE
    lanes = gathered_lanes(n)
    total = channels.total_area_mm2
    cells = channels.guide.shape[0]
    last = channels.r_in.shape[0] - 1
    for lane in range(lanes):
        ray = first_index + np.uint64(lane)
        u = uniform(key, ray, np.int64(0))
        floats[START_Y * s + lane] = uniform(key, ray, np.int64(1))
        floats[_AREA * s + lane] = u * total
        integers[_COUNT * s + lane] = int(u * cells)
    for lane in range(0, lanes, GATHER_LANES):
        gather(channels.guide, integers, _COUNT * s + lane, integers, START_CHANNEL * s + lane)
    for lane in range(lanes):
        integers[_COUNT * s + lane] = integers[START_CHANNEL * s + lane]
    for k in range(channels.guide_width):
        for lane in range(0, lanes, GATHER_LANES):
            gather(channels.ends_mm2[k:], integers, START_CHANNEL * s + lane, floats, _GATHERED * s + lane)
        for lane in range(lanes):
            integers[_COUNT * s + lane] += floats[_GATHERED * s + lane] <= floats[_AREA * s + lane]
    for lane in range(0, lanes, GATHER_LANES):
        gather(channels.channel_after, integers, _COUNT * s + lane, integers, START_CHANNEL * s + lane)
    for lane in range(lanes):
        integers[START_CHANNEL * s + lane] = min(integers[START_CHANNEL * s + lane], last)
    for row, values in (
        (START_Z, channels.z_start),
        (_GATHERED, channels.r_in),
        (_GATHERED + 1, channels.below_mm2),
        (_GATHERED + 2, channels.turn_start),
        (_GATHERED + 3, channels.turn_span),
    ):
        for lane in range(0, lanes, GATHER_LANES):
            gather(values, integers, START_CHANNEL * s + lane, floats, row * s + lane)
    for lane in range(lanes):
        r_in, below = floats[_GATHERED * s + lane], floats[(_GATHERED + 1) * s + lane]
        turn_start, span = floats[(_GATHERED + 2) * s + lane], floats[(_GATHERED + 3) * s + lane]
        r = math.sqrt(r_in * r_in + (floats[_AREA * s + lane] - below) / (math.pi * span))
        turn = turn_start + floats[START_Y * s + lane] * span
        cos_phi, sin_phi = cos_sin_of_turn(turn - floor(turn))
        floats[START_X * s + lane] = r * cos_phi
        floats[START_Y * s + lane] = r * sin_phi


@numba.njit(cache=True, no_cfunc_wrapper=True, nogil=True, error_model="numpy")
def sample_start_points(key, first_index, channels, x, y, z, channel, fate, start, stop):
    """Start points and channels of rays start .. stop - 1 (`coatings.threads.split_over_threads`), their fates
    cleared: `start_block` a block at a time, copied out of its scratch (the points by `vector_math.copy`, as the trace
    copies its start; the channels into views of the block's rays, indexed from 0, which LLVM knows is not negative:
    no select per ray for numpy's negative indices)."""
    floats = np.empty(START_FLOAT_ROWS * BLOCK_STRIDE)
    integers = np.empty(START_INTEGER_ROWS * BLOCK_STRIDE, np.int64)
    for first in range(start, stop, BLOCK_RAYS):
        end = min(first + BLOCK_RAYS, stop)
        n = end - first
        start_block(key, first_index + np.uint64(first), channels, n, floats, integers)
        for row, column in ((START_X, x), (START_Y, y), (START_Z, z)):
            copy(floats, row * BLOCK_STRIDE, column, first, n)
        block_channel, block_fate = channel[first:end], fate[first:end]
        for k in range(n):
            block_channel[k] = integers[START_CHANNEL * BLOCK_STRIDE + k]
            block_fate[k] = 0
