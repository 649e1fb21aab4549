"""The numba kernel: the trace through the shells with reflectivity weighting (blocks of rays in vectorised stages,
see `trace`), and the per-energy re-weighting of a geometric trace.

The kernel traces rays from their start (`raytrace.engine.source`): either a source has started them, and it reads
each ray's start point, direction, energy and weight, or, for a parallel beam, it starts them itself (`KernelBeam`);
it overwrites them with the result. One ray never interacts with another, so every kernel takes a range (of blocks
of rays, or of energies) that `coatings.threads.split_over_threads` shares out between threads, and its result does
not depend on the number of threads or the chunk size.
Geometry, reflectivity and rays reach it as named tuples (`KernelGeometry`, `KernelReflectivity`,
`RayColumns`) with named column constants. `raytrace.engine.reference` holds the same physics in plain
numpy; the tests compare the two ray by ray.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from coatings.table import energy_node, reflectivity_at_node

from .aperture import (
    BLOCK_RAYS,
    BLOCK_STRIDE,
    START_CHANNEL,
    START_FLOAT_ROWS,
    START_INTEGER_ROWS,
    START_X,
    START_Y,
    START_Z,
    KernelChannels,
    start_block,
)
from .geometry import (
    AZIMUTH_SPAN,
    AZIMUTH_START,
    BAR_COLUMNS,
    BAR_COS,
    BAR_COUNT,
    BAR_FIRST,
    BAR_HALF_WIDTH_MM,
    BAR_NEXT_COS,
    BAR_NEXT_SIN,
    BAR_ROTATION_TURNS,
    BAR_SIN,
    BAR_TAN_HALF_WEDGE,
    CHANNEL_BARS,
    CHANNEL_COLUMNS,
    CHANNEL_SLOPES,
    CHANNEL_SURFACES,
    CHANNEL_WALLS,
    PRIMARY,
    QUAD_A,
    QUAD_B,
    QUAD_C,
    SECONDARY,
    SLOPE_MERIDIONAL,
    SLOPE_SAGITTAL,
    SURFACE_COLUMNS,
    WALL_COLUMNS,
    WALL_FRONT_R,
    WALL_THICKNESS,
    WALL_TOP_Z,
    WING_FRACTION,
    WING_RMS,
    Z_MAX,
    Z_MIN,
    Z_REF,
)
from .physics import (
    CANDIDATE_SURFACES,
    GRAZE_SERIES_LIMIT,
    MAX_REFLECTIONS,
    bar_entry,
    candidate_allowed,
    covered,
    fate_of_sequence,
    front_edge,
    graze_angle,
    graze_series,
    nearest_candidate,
    on_bars,
    outside_apertures,
    plane_crossing,
    quadric_roots,
    scatter,
    sequence_after,
    slope_deviates,
    specular,
    surface_normal,
    tilted_normal,
    within_azimuth,
)
from .rays import Fate, RayColumns
from .scratch import ScratchLayout
from .vector_math import GATHER_LANES, copy, gather, gathered_lanes, select

_SPIDER = np.int8(Fate.BLOCKED_SPIDER)
_FRONT = np.int8(Fate.BLOCKED_FRONT)
_BACK = np.int8(Fate.BLOCKED_BACK)
_LEAKED = np.int8(Fate.LEAKED)
_NONE = np.int8(Fate.NO_REFLECTION)
_PRIMARY = np.int8(Fate.PRIMARY_ONLY)
_SECONDARY = np.int8(Fate.SECONDARY_ONLY)
_DOUBLE = np.int8(Fate.DOUBLE)
_MULTIPLE = np.int8(Fate.MULTIPLE)
_MISSED = np.int8(Fate.MISSED_FOCAL_PLANE)
_GAP = np.int8(Fate.SEGMENT_GAP)
_SPACER = np.int8(Fate.BLOCKED_SPACER)
_APERTURE = np.int8(Fate.BLOCKED_APERTURE)
B = BLOCK_RAYS
S = BLOCK_STRIDE


class KernelReflectivity(NamedTuple):
    """A reflectivity table (`coatings.table.ReflectivityTable`) and each shell's coating in it; with weigh
    False the kernel leaves the weights geometric and reads nothing else. With `scatters` (some coating scatters),
    `values` holds R_0 for the coatings that scatter, `scattering` each coating's PSD
    (index, f_min, f_max in 1/nm, band rms in nm; f_max = 0: none), `scatter_values` R_0 at the scattered angles
    (step `scatter_step`), `scatter_fraction` the first-order scattered flux per unit R_0 and scatter_key the key of
    the scattering draws (`physics.scatter`)."""

    weigh: bool
    values: np.ndarray
    energies: np.ndarray
    angle_step: float
    shell_coating: np.ndarray
    scatters: bool = False
    scattering: np.ndarray = np.zeros((1, 4))
    scatter_values: np.ndarray = np.zeros((1, 1, 2))
    scatter_step: float = 1.0
    scatter_fraction: np.ndarray = np.zeros((1, 1, 2))
    scatter_key: np.uint64 = np.uint64(0)


class KernelBeam(NamedTuple):
    """Where the rays start. With `starts` False a source has written each ray's start into the rays (`_load` reads
    it; the other fields are not read). With `starts` True the kernel starts them (`_start`): a parallel beam, whose
    start points it draws over `channels` as `aperture.sample` does (`aperture.start_block`), and one direction, energy
    (keV) and weight (cm2) for all (`raytrace.engine.source.SharedRay`)."""

    starts: bool
    channels: KernelChannels
    direction: np.ndarray
    energy_kev: float
    weight: float


# Functions only other kernels call (the trace's stages and their helpers) are compiled without the Python and C
# wrappers numba otherwise compiles for every function: a first run would wait for them. The kernels Python calls
# are compiled without the C wrapper (no_cfunc_wrapper, in every module: nothing takes a kernel's C address; 0.3 s
# of a first `area` run). error_model="numpy":
# divisions follow IEEE (x/0 = inf) instead of raising, which removes a branch per division; every division below
# has a non-zero or an explicitly handled divisor.
_INTERNAL = dict(cache=True, error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True)
_STAGE = dict(_INTERNAL, nogil=True, _nrt=False)


@numba.njit(**_INTERNAL)
def _on_bars(count, tan_half_wedge, half_width, floats, lane):
    """`physics.on_bars` of the lane's point (rows _QX, _QY) and the directions of the two bars that bracket its
    azimuth (rows _DIRECTIONS .., `_gather_bar_directions`)."""
    return on_bars(
        count,
        tan_half_wedge,
        half_width,
        floats[_DIRECTIONS + BAR_COS * S + lane],
        floats[_DIRECTIONS + BAR_SIN * S + lane],
        floats[_DIRECTIONS + BAR_NEXT_COS * S + lane],
        floats[_DIRECTIONS + BAR_NEXT_SIN * S + lane],
        floats[_QX + lane],
        floats[_QY + lane],
    )


@numba.njit(**_INTERNAL)
def _gather_bar_directions(bar_directions, n, floats, integers):
    """The two bar directions of each of the n lanes (rows _DIRECTIONS ..) at its entry (row _ENTRY), for the lanes
    up to n rounded up to GATHER_LANES (those beyond n at entry 0)."""
    lanes = gathered_lanes(n)
    for lane in range(n, lanes):
        integers[_ENTRY + lane] = 0
    for row in (BAR_COS, BAR_SIN, BAR_NEXT_COS, BAR_NEXT_SIN):
        values = bar_directions[row]
        for lane in range(0, lanes, GATHER_LANES):
            gather(values, integers, _ENTRY + lane, floats, _DIRECTIONS + row * S + lane)


@numba.njit(cache=True, no_cfunc_wrapper=True, nogil=True, error_model="numpy")
def trace(geometry, reflectivity, rays, key, beam, first_index, partial_shells, apertures, first_block, end_block):
    """Trace blocks first_block .. end_block - 1 (BLOCK_RAYS rays each) of rays first_index .. of a run from their
    start to the focal plane (`coatings.threads.split_over_threads` shares the blocks out).

    Reads each ray's start point, channel, direction, energy, weight and fate (a ray whose source gave it a fate
    is left as it is), or with beam.starts draws the start point and gives it the beam's direction, energy and weight
    (`KernelBeam`, written into the rays with the channel); writes the end point, the direction, the shell, the fate
    and the first two graze angles, and (with reflectivity.weigh) multiplies the weight by the tabulated reflectivity
    of the reflections it carries.

    A block is traced in stages over its lanes (rows of a scratch, see below), each a loop without branches that
    LLVM vectorises where it can: the start (`aperture.start_block` and `_start`, or `_load`); the entrance tests in
    the order a ray meets the obstructions (apertures, spider, the front edges of the channel's inner and outer walls,
    then the outer shell's spacers and segment joins, where the ray crosses the intersection plane); then, for the
    lanes still in flight (moved to the front of the scratch by `_compact`), up to MAX_REFLECTIONS passes of a search
    for the nearest surface and a reflection (slope errors use draws FIRST_SLOPE_DRAW + 3 k .. + 2 of the ray for
    reflection k, `physics.slope_deviates`; with reflectivity.scatters the first two reflections scatter on coatings
    that do, `physics.scatter`); last the fates and the focal plane (`_finish`), then the reflectivity weights
    (`_weights`). Every lane computes exactly the operations of a ray traced alone (`raytrace.engine.specification`,
    which the tests hold it to bit for bit), in the same order, so a ray's result does not depend on its lane, its
    block or the chunk. The physics of one ray is in `raytrace.engine.physics`; the stages load, call it, select and
    store.

    The trace calls each stage itself, none calls another: numba optimises and compiles a function's callees again
    with it, so each level of calls would compile the code below it once more on a first run.

    `partial_shells` (True for an optic with partial-azimuth shells) and `apertures` (True if the optic has entrance
    apertures) are None otherwise: numba compiles a kernel for each type of these arguments and leaves out what None
    turns off, so neither BabyIAXO optic compiles the azimuth tests (whose atan2 would keep their loops scalar) or
    the apertures, and both share one kernel. Whether shells have spacers or segment joins (`geometry.segmented`)
    and whether coatings scatter (`reflectivity.scatters`) is read at run time: the scattering stage is a loop of
    its own, and a kernel compiled apart for it would double a first run's compile time for XMM, which scatters.
    """
    floats = np.zeros(_FLOAT_ROWS * S)
    integers = np.zeros(_INTEGER_ROWS * S, np.int64)
    g = geometry
    n_shells = g.top_z.shape[0]
    for block in range(first_block, end_block):
        start = block * B
        n = min(rays.x.shape[0] - start, B)
        index = first_index + np.uint64(start)
        block_rays = _block_rays(rays, start, n)
        if beam.starts:
            start_block(key, index, beam.channels, n, floats, integers)
            _start(beam, block_rays, floats, integers)
        else:
            _load(block_rays, floats, integers)
        _entrance(g, partial_shells, apertures, n, floats, integers)
        m = _compact(g, block_rays, beam.starts, floats, integers)
        for reflection in range(MAX_REFLECTIONS):
            moving, reflecting = _search(g.shell_azimuth, partial_shells, n_shells, reflection, m, floats, integers)
            if moving == 0:
                break
            if g.rough and reflecting > 0:
                _deviates(key, index, reflection, m, floats, integers)
            _reflect(reflection, m, floats, integers)
            if reflectivity.scatters and reflection < 2:
                _scatter_lanes(reflectivity, block_rays, index, reflection, m, floats, integers)
        _finish(g.focal_plane_z, block_rays, m, floats, integers)
        if reflectivity.weigh:
            _weights(reflectivity, block_rays, m, floats, integers)


# A block's scratch, struct of arrays in two flat arrays: row r of lane l at r * S + l, and the names below are the
# rows' offsets r * S (an index is then one addition, which numba types and lowers once, not two). Rows a constant
# apart let LLVM prove that a loop's reads and writes never overlap, where separate arrays would need more run-time
# checks than it makes (and it would not vectorise). The entrance stages run over the block's rays in their order
# (lane l: ray start + l); `_compact` then moves the lanes still in flight to the front, in the same order, and the
# stages after it run over those lanes only (row _ORDER: each one's lane in the block). Each row is declared with the
# stages that use it (`raytrace.engine.scratch`): a row reuses another's storage only where the two are never live
# together, which the layout checks as it is built, and tests/test_scratch_layout.py checks that each stage uses only
# its declared rows.
_LAYOUT = ScratchLayout(S)
_row = _LAYOUT.add
_EVERY_STAGE_FROM_START = ("start", "entrance", "compact", "search", "reflect", "finish")
# Float rows. The lane's position and direction (the start point where `aperture.start_block` draws it, which uses
# the rows up to START_FLOAT_ROWS as its own scratch before the start sets the direction: declared below).
_PX, _PY, _PZ = (_row(name, "float", ("draw", *_EVERY_STAGE_FROM_START)) for name in ("_PX", "_PY", "_PZ"))
_UX, _UY, _UZ = (_row(name, "float", (*_EVERY_STAGE_FROM_START, "scatter")) for name in ("_UX", "_UY", "_UZ"))
# The normal and graze angle of the last reflection, the first two graze angles.
_NX, _NY, _NZ = (_row(name, "float", ("reflect", "scatter")) for name in ("_NX", "_NY", "_NZ"))
_GRAZE = _row("_GRAZE", "float", ("reflect", "scatter"))
_G1, _G2 = (_row(name, "float", ("compact", "reflect", "finish", "weights")) for name in ("_G1", "_G2"))
# The search: the distance of the nearest surface, and of each candidate.
_T_BEST = _row("_T_BEST", "float", ("search", "reflect"))
_T_CANDIDATE = _row("_T_CANDIDATE", "float", ("search",), count=4)
# The slope-error deviates of this reflection.
_DEVIATE_M, _DEVIATE_S = (_row(name, "float", ("deviates", "reflect")) for name in ("_DEVIATE_M", "_DEVIATE_S"))
# The weights: the energy's interpolation between the table's nodes, the reflectivity factor.
_ENERGY_FRACTION, _FACTOR = (_row(name, "float", ("weights",)) for name in ("_ENERGY_FRACTION", "_FACTOR"))
# Then the lane's values of KernelGeometry.channels, a row each in the table's column order (_GATHERED + k * S: its
# column k, at the lane's channel; `geometry.CHANNEL_COLUMNS`): the outer shell's slope errors, the front edges of
# the channel's walls, the four candidate surfaces of its channel c in the order they are tried, (c, PRIMARY),
# (c - 1, PRIMARY_BACK), (c, SECONDARY), (c - 1, SECONDARY_BACK), and the outer shell's bars. The entrance tests
# read some before `_compact` (_ENTRANCE_COLUMNS), the lanes in flight the rest after (_FLIGHT_COLUMNS).
_SLOPES = _row("_SLOPES", "float", ("compact", "deviates"), count=CHANNEL_WALLS - CHANNEL_SLOPES)
_WALLS = _row("_WALLS", "float", ("entrance",), count=CHANNEL_SURFACES - CHANNEL_WALLS)
_CANDIDATE = _row("_CANDIDATE", "float", ("entrance", "compact", "search", "reflect"), count=4 * SURFACE_COLUMNS)
_BARS = _row("_BARS", "float", ("entrance",), count=CHANNEL_COLUMNS - CHANNEL_BARS)
_GATHERED = _SLOPES - CHANNEL_SLOPES * S
assert (_WALLS, _CANDIDATE, _BARS) == tuple(_GATHERED + k * S for k in (CHANNEL_WALLS, CHANNEL_SURFACES, CHANNEL_BARS))
_SIGMA_CORE, _SIGMA_SAGITTAL, _WING_FRACTION, _SIGMA_WING = (
    _LAYOUT.at("_SLOPES", k) for k in (SLOPE_MERIDIONAL, SLOPE_SAGITTAL, WING_FRACTION, WING_RMS)
)
_WALL_ROWS = tuple(_LAYOUT.at("_WALLS", k * WALL_COLUMNS) for k in range(2))  # the inner wall, then the outer one
_CANDIDATE_ROWS = tuple(_LAYOUT.at("_CANDIDATE", k * SURFACE_COLUMNS) for k in range(4))  # a surface row each
_PRIMARY_ROW = _CANDIDATE_ROWS[CANDIDATE_SURFACES.index(PRIMARY)]
_SECONDARY_ROW = _CANDIDATE_ROWS[CANDIDATE_SURFACES.index(SECONDARY)]
_BAR_ROWS = tuple(_LAYOUT.at("_BARS", k * BAR_COLUMNS) for k in range(2))  # the spacers, then the joins
_row("start_block's scratch", "float", ("draw",), count=START_FLOAT_ROWS - 3, at=3)  # placed by start_block
# Rows the entrance tests use while the search's and the deviates' are free: where a ray crosses a plane of bars,
# and the two bar directions at each lane's bar entry (BAR_COS .. BAR_NEXT_SIN, `_gather_bar_directions`).
_QX = _row("_QX", "float", ("entrance",), at=_T_CANDIDATE // S)
_QY = _row("_QY", "float", ("entrance",), at=_QX // S + 1)
_DIRECTIONS = _row("_DIRECTIONS", "float", ("entrance",), count=4, at=_QY // S + 1)
# Rows of the weights (the passes are over): the lane's energy, and, per reflection, the interpolation between the
# graze angles and the four table values read.
_ENERGY = _row("_ENERGY", "float", ("weights",), shares="_T_CANDIDATE")
_ANGLE_FRACTION = _row("_ANGLE_FRACTION", "float", ("weights",), at=_ENERGY // S + 1)
_TABLE_VALUES = _row("_TABLE_VALUES", "float", ("weights",), count=4, at=_ANGLE_FRACTION // S + 1)
# Integer rows: channel, shell, outcome (0: in flight), last surface, reflection count, reflection sequence (base 3:
# 1 = primary, 2 = secondary), the surface found by the last search (-1: none), rough, what the last pass did, and
# the lane's place in the block.
_CHANNEL = _row("_CHANNEL", "integer", ("draw", "start", "entrance", "compact", "search"))
_SHELL = _row("_SHELL", "integer", ("compact", "scatter", "weights"))
_row("start_block's integer scratch", "integer", ("draw",), count=START_INTEGER_ROWS - 1, at=1)
_OUTCOME = _row("_OUTCOME", "integer", (*_EVERY_STAGE_FROM_START, "weights"))
_LAST, _REFLECTIONS = (_row(name, "integer", ("compact", "search", "reflect")) for name in ("_LAST", "_REFLECTIONS"))
_SEQUENCE = _row("_SEQUENCE", "integer", ("compact", "reflect", "finish"))
_HIT = _row("_HIT", "integer", ("search", "reflect"))
_ROUGH = _row("_ROUGH", "integer", ("compact", "reflect"))
_EVENT = _row("_EVENT", "integer", ("reflect", "scatter"))
_ORDER = _row("_ORDER", "integer", ("compact", "deviates", "scatter", "finish", "weights"))
_ENTRY = _row("_ENTRY", "integer", ("entrance",), shares="_HIT")  # each lane's entry of bar_directions
# the weights': four table entries, the energy node, the coating
_TABLE_ENTRY = _row("_TABLE_ENTRY", "integer", ("weights",), count=4, shares="_LAST")
_NODE = _row("_NODE", "integer", ("weights",), shares="_ROUGH")
_COATING = _row("_COATING", "integer", ("weights",), shares="_EVENT")
assert (_PX, _PY, _PZ, _CHANNEL) == (START_X * S, START_Y * S, START_Z * S, START_CHANNEL * S)  # as start_block has
_FLOAT_ROWS, _INTEGER_ROWS = _LAYOUT.size["float"], _LAYOUT.size["integer"]
_POSITION_ROWS = (_PX, _PY, _PZ, _UX, _UY, _UZ)
# The columns of KernelGeometry.channels that the entrance tests read (the front edges of the walls, then, for a
# segmented optic, the outer primary's intersection plane and the outer shell's bars), each gathered for
# `vector_math.gather`'s eight lanes at a time from one short row in cache; then those that the lanes in flight read
# (`_compact`).
_ENTRANCE_COLUMNS = np.array(
    [*range(CHANNEL_WALLS, CHANNEL_SURFACES), CHANNEL_SURFACES + Z_REF, *range(CHANNEL_BARS, CHANNEL_COLUMNS)]
)
_UNSEGMENTED_ENTRANCE_COLUMNS = CHANNEL_SURFACES - CHANNEL_WALLS
_FLIGHT_COLUMNS = np.array([*range(CHANNEL_SLOPES, CHANNEL_WALLS), *range(CHANNEL_SURFACES, CHANNEL_BARS)])
# What a lane did in the last pass: nothing, reflected, or reflected at a graze angle beyond `_graze_series`.
_IDLE, _REFLECTED, _REFLECTED_STEEP = 0, 1, 2


@numba.njit(**_STAGE)
def _scatter_lanes(reflectivity, block_rays, index, reflection, m, floats, integers):
    """`physics.scatter` of the lanes that reflected in this pass (of the m in flight; the block's first ray is ray
    `index` of the run): their directions, and their weights times its factor."""
    for lane in range(m):
        if integers[_EVENT + lane] != _IDLE:
            place = integers[_ORDER + lane]
            floats[_UX + lane], floats[_UY + lane], floats[_UZ + lane], factor = scatter(
                reflectivity,
                reflectivity.shell_coating[integers[_SHELL + lane]],
                block_rays.energy_kev[place],
                floats[_GRAZE + lane],
                index + np.uint64(place),
                np.int64(reflection),
                floats[_UX + lane],
                floats[_UY + lane],
                floats[_UZ + lane],
                floats[_NX + lane],
                floats[_NY + lane],
                floats[_NZ + lane],
            )
            block_rays.weight[place] *= factor


@numba.njit(**_STAGE)
def _load(block_rays, floats, integers):
    """The block's rays, as their source started them, into the scratch: the floats by `vector_math.copy`, the
    integers (of other widths in the rays) in one loop."""
    n = block_rays.x.shape[0]
    for row, column in (
        (_PX, block_rays.x),
        (_PY, block_rays.y),
        (_PZ, block_rays.z),
        (_UX, block_rays.dx),
        (_UY, block_rays.dy),
        (_UZ, block_rays.dz),
    ):
        copy(column, 0, floats, row, n)
    for lane in range(n):
        integers[_CHANNEL + lane] = block_rays.channel[lane]
        integers[_OUTCOME + lane] = block_rays.fate[lane]


@numba.njit(**_STAGE)
def _start(beam, block_rays, floats, integers):
    """The rest of the start of the block's rays for a beam the kernel starts itself, after `aperture.start_block` has
    drawn their start points and channels: the beam's direction, none stopped yet; their channel, energy and weight
    written into the rays (the start point and direction are written with the result)."""
    ux, uy, uz = beam.direction[0], beam.direction[1], beam.direction[2]
    for lane in range(block_rays.x.shape[0]):
        floats[_UX + lane] = ux
        floats[_UY + lane] = uy
        floats[_UZ + lane] = uz
        integers[_OUTCOME + lane] = 0
        block_rays.channel[lane] = integers[_CHANNEL + lane]
        block_rays.energy_kev[lane] = beam.energy_kev
        block_rays.weight[lane] = beam.weight


@numba.njit(**_STAGE)
def _compact(g, block_rays, started, floats, integers):
    """After the entrance tests: each of the block's rays gets its shell (its channel c, or the last shell for the
    channel outside it), and the rays stopped at the entrance their fate and no graze angles (their position and
    direction stay where they started: written here if the kernel started them); the m lanes still in flight move to
    lanes 0 .. m - 1, in their order, with their place in the block (row _ORDER), and gather the rest of what their
    channel selects (the outer shell's slope errors and the candidate surfaces). Returns m.

    The moves and the gathers take GATHER_LANES lanes at a time (`vector_math.gather`), up to m rounded up: the lanes
    beyond m are given place 0 and gather from the first lane's channel (valid indices for later gathers),
    which no stage reads as a ray's."""
    n_shells = g.top_z.shape[0]
    n = block_rays.x.shape[0]
    for lane in range(n):
        block_rays.shell[lane] = min(integers[_CHANNEL + lane], n_shells - 1)
        block_rays.fate[lane] = integers[_OUTCOME + lane]
        block_rays.graze1[lane] = 0.0
        block_rays.graze2[lane] = 0.0
    if started:
        for row, column in (
            (_PX, block_rays.x),
            (_PY, block_rays.y),
            (_PZ, block_rays.z),
            (_UX, block_rays.dx),
            (_UY, block_rays.dy),
            (_UZ, block_rays.dz),
        ):
            copy(floats, row, column, 0, n)
    m = 0
    for lane in range(n):  # a lane's place written whether or not it flies, so that the loop has no branch
        integers[_ORDER + m] = lane
        m += integers[_OUTCOME + lane] == 0
    lanes = gathered_lanes(m)
    for lane in range(m, lanes):
        integers[_ORDER + lane] = 0
    for row in (_CHANNEL, _OUTCOME):  # in place: a lane moves down, never up, and is read before it is overwritten
        for lane in range(0, lanes, GATHER_LANES):
            gather(integers[row:], integers, _ORDER + lane, integers, row + lane)
    for row in _POSITION_ROWS:
        for lane in range(0, lanes, GATHER_LANES):
            gather(floats[row:], integers, _ORDER + lane, floats, row + lane)
    for k in _FLIGHT_COLUMNS:
        values = g.channels[k]
        for lane in range(0, lanes, GATHER_LANES):
            gather(values, integers, _CHANNEL + lane, floats, _GATHERED + k * S + lane)
    for lane in range(lanes):
        integers[_SHELL + lane] = min(integers[_CHANNEL + lane], n_shells - 1)
        integers[_LAST + lane] = -1
        integers[_REFLECTIONS + lane] = 0
        integers[_SEQUENCE + lane] = 0
        floats[_G1 + lane] = 0.0
        floats[_G2 + lane] = 0.0
        core = floats[_SIGMA_CORE + lane]
        sagittal = floats[_SIGMA_SAGITTAL + lane]
        wing_fraction = floats[_WING_FRACTION + lane]
        wing = floats[_SIGMA_WING + lane]
        integers[_ROUGH + lane] = (core > 0.0) | (sagittal > 0.0) | ((wing_fraction > 0.0) & (wing > 0.0))
    return m


@numba.njit(**_INTERNAL)
def _block_rays(rays, start, n):
    """Rays start .. start + n - 1 as views, which the stages index from 0 by lane: an index LLVM cannot bound below
    costs a select per lane (numpy's negative indices) and makes a contiguous copy a gather."""
    end = start + n
    return RayColumns(
        rays.x[start:end],
        rays.y[start:end],
        rays.z[start:end],
        rays.dx[start:end],
        rays.dy[start:end],
        rays.dz[start:end],
        rays.energy_kev[start:end],
        rays.weight[start:end],
        rays.channel[start:end],
        rays.shell[start:end],
        rays.fate[start:end],
        rays.graze1[start:end],
        rays.graze2[start:end],
    )


@numba.njit(**_INTERNAL)
def _ray(floats, lane):
    """The lane's position and direction."""
    return (
        floats[_PX + lane],
        floats[_PY + lane],
        floats[_PZ + lane],
        floats[_UX + lane],
        floats[_UY + lane],
        floats[_UZ + lane],
    )


@numba.njit(**_STAGE)
def _entrance(g, partial_shells, apertures, n, floats, integers):
    """The entrance tests of the block's n lanes. First what they read of each lane's channel (KernelGeometry.channels:
    the front edges of its walls and, if g.segmented, its outer primary's intersection plane and the outer shell's
    bars); then the tests, in the order a ray meets the obstructions, each a loop over the lanes still in flight
    (outcome 0) that sets the outcome of those it stops:
    - the entrance apertures, where the ray crosses their plane (if the optic has any: a scalar loop, as optics with
      apertures are few and the test runs over a list);
    - the spider's bars, in its plane z = spider_z;
    - the front edge of the channel's inner wall, then of its outer wall, on that wall's own front plane, or a leak
      past it into a neighbouring channel (decided by radius alone, which keeps each line of sight in one channel;
      a partial-azimuth wall blocks only where it is);
    - if g.segmented, a spacer, then a segment join, of the channel's outer shell, where the ray crosses its
      intersection plane (its primary's z_ref)."""
    for lane in range(n, gathered_lanes(n)):  # lanes past the block's rays gather at a valid channel, not a stale one
        integers[_CHANNEL + lane] = 0
    for k in _ENTRANCE_COLUMNS[: _ENTRANCE_COLUMNS.size if g.segmented else _UNSEGMENTED_ENTRANCE_COLUMNS]:
        values = g.channels[k]
        for lane in range(0, n, GATHER_LANES):
            gather(values, integers, _CHANNEL + lane, floats, _GATHERED + k * S + lane)
    n_shells = g.top_z.shape[0]
    if apertures is not None:
        for lane in range(n):
            px, py, pz, ux, uy, uz = _ray(floats, lane)
            if integers[_OUTCOME + lane] == 0 and outside_apertures(g.apertures, g.spider_z, px, py, pz, ux, uy, uz):
                integers[_OUTCOME + lane] = _APERTURE
    last_entry = g.bar_directions.shape[1] - 1
    if g.spider[BAR_COUNT] > 0.0:
        count, rotation, first = g.spider[BAR_COUNT], g.spider[BAR_ROTATION_TURNS], g.spider[BAR_FIRST]
        wedge, width = g.spider[BAR_TAN_HALF_WEDGE], g.spider[BAR_HALF_WIDTH_MM]
        spider_z = g.spider_z
        for lane in range(n):
            px, py, pz, ux, uy, uz = _ray(floats, lane)
            qx, qy = plane_crossing(spider_z, px, py, pz, ux, uy, uz)
            floats[_QX + lane], floats[_QY + lane] = qx, qy
            integers[_ENTRY + lane] = bar_entry(count, rotation, first, last_entry, qx, qy)
        _gather_bar_directions(g.bar_directions, n, floats, integers)
        for lane in range(n):
            outcome = integers[_OUTCOME + lane]
            blocked = _on_bars(count, wedge, width, floats, lane)
            integers[_OUTCOME + lane] = select((outcome == 0) & blocked, _SPIDER, outcome)
    for lane in range(n):
        px, py, pz, ux, uy, uz = _ray(floats, lane)
        c = integers[_CHANNEL + lane]
        outcome = integers[_OUTCOME + lane]
        for k in range(2):  # the inner wall (shell c - 1), then the outer one (shell c); unrolled by LLVM
            row = _WALL_ROWS[k]
            qx, qy, on_edge, inside, outside = front_edge(
                floats[row + WALL_TOP_Z * S + lane],
                floats[row + WALL_FRONT_R * S + lane],
                floats[row + WALL_THICKNESS * S + lane],
                px,
                py,
                pz,
                ux,
                uy,
                uz,
            )
            if partial_shells is not None:
                wall = max(c - 1, 0) if k == 0 else min(c, n_shells - 1)
                on_edge = on_edge & within_azimuth(
                    g.shell_azimuth[wall, AZIMUTH_START], g.shell_azimuth[wall, AZIMUTH_SPAN], qx, qy
                )
            leaked = select(k == 0, inside, outside)  # past the inner wall's edge inwards, the outer's outwards
            code = select(on_edge, _FRONT, select(leaked, _LEAKED, np.int8(0)))
            exists = select(k == 0, c >= 1, c < n_shells)
            outcome = select((outcome == 0) & exists, code, outcome)
        integers[_OUTCOME + lane] = outcome
    if g.segmented:
        for lane in range(n):
            # where the ray crosses the outer primary's intersection plane
            px, py, pz, ux, uy, uz = _ray(floats, lane)
            floats[_QX + lane], floats[_QY + lane] = plane_crossing(
                floats[_PRIMARY_ROW + Z_REF * S + lane], px, py, pz, ux, uy, uz
            )
        for k in range(2):  # the spacers, then the joins
            row = _BAR_ROWS[k]  # the lane's bars (geometry.radial_bars), a row per column
            for lane in range(n):
                integers[_ENTRY + lane] = bar_entry(
                    floats[row + BAR_COUNT * S + lane],
                    floats[row + BAR_ROTATION_TURNS * S + lane],
                    floats[row + BAR_FIRST * S + lane],
                    last_entry,
                    floats[_QX + lane],
                    floats[_QY + lane],
                )
            _gather_bar_directions(g.bar_directions, n, floats, integers)
            code = _SPACER if k == 0 else _GAP
            for lane in range(n):
                c = integers[_CHANNEL + lane]
                outcome = integers[_OUTCOME + lane]
                blocked = _on_bars(
                    floats[row + BAR_COUNT * S + lane],
                    floats[row + BAR_TAN_HALF_WEDGE * S + lane],
                    floats[row + BAR_HALF_WIDTH_MM * S + lane],
                    floats,
                    lane,
                )
                integers[_OUTCOME + lane] = select((outcome == 0) & (c < n_shells) & blocked, code, outcome)


@numba.njit(**_STAGE)
def _search(shell_azimuth, partial_shells, n_shells, reflection, m, floats, integers):
    """The next surface (row _HIT, -1 for none or for a lane not in flight, and its distance _T_BEST) of every lane
    of the m still in flight (outcome 0, `reflection` reflections so far); returns how many lanes move and how many of
    them reach a mirror.

    The candidates are the channel's outer mirror (unless it reflected last) and the inner shell's back surface,
    first of the primary zone, then of the secondary zone: primaries and their backs lie above the intersection
    plane z = f, secondaries below it, so a downward ray that hits the upper zone meets it before any surface of
    the lower zone. A candidate that no lane of the block can meet (wholly behind every ray, or excluded) is not
    solved; the others are solved in every lane of the m.
    """
    for k in range(4):
        which = CANDIDATE_SURFACES[k]
        outer = k % 2 == 0
        base = _CANDIDATE_ROWS[k]
        distance = _T_CANDIDATE + k * S
        possible = 0
        for lane in range(m):
            pz = floats[_PZ + lane]
            dz = floats[_UZ + lane]
            z_lo = floats[base + Z_MIN * S + lane]
            z_hi = floats[base + Z_MAX * S + lane]
            c = integers[_CHANNEL + lane]
            last = integers[_LAST + lane]
            allowed = candidate_allowed(outer, c, n_shells, last, which)
            flying = (integers[_OUTCOME + lane] == 0) & (integers[_REFLECTIONS + lane] == reflection)
            ahead = ((dz > 0.0) | (pz >= z_lo)) & ((dz < 0.0) | (pz <= z_hi))
            possible += flying & allowed & ahead
        if possible == 0:
            for lane in range(m):
                floats[distance + lane] = np.inf
            continue
        for lane in range(m):
            px, py, pz, ux, uy, uz = _ray(floats, lane)
            c = integers[_CHANNEL + lane]
            last = integers[_LAST + lane]
            allowed = candidate_allowed(outer, c, n_shells, last, which)
            flying = (integers[_OUTCOME + lane] == 0) & (integers[_REFLECTIONS + lane] == reflection)
            first, second = quadric_roots(
                floats[base + QUAD_A * S + lane],
                floats[base + QUAD_B * S + lane],
                floats[base + QUAD_C * S + lane],
                floats[base + Z_REF * S + lane],
                floats[base + Z_MIN * S + lane],
                floats[base + Z_MAX * S + lane],
                px,
                py,
                pz,
                ux,
                uy,
                uz,
            )
            if partial_shells is not None:
                wall = min(c, n_shells - 1) if outer else max(c - 1, 0)
                first = covered(shell_azimuth, wall, px, py, ux, uy, first)
                second = covered(shell_azimuth, wall, px, py, ux, uy, second)
            floats[distance + lane] = select(flying & allowed, min(first, second), np.inf)
    moving = 0
    reflecting = 0
    for lane in range(m):
        # the candidates in turn, written out (a loop over them vectorises badly with a variable lane count)
        t_primary, t_primary_back = floats[_T_CANDIDATE + lane], floats[_T_CANDIDATE + S + lane]
        t_secondary, t_secondary_back = floats[_T_CANDIDATE + 2 * S + lane], floats[_T_CANDIDATE + 3 * S + lane]
        hit, t_best = nearest_candidate(t_primary, t_primary_back, t_secondary, t_secondary_back, floats[_UZ + lane])
        # the secondary zone only if nothing is ahead in the primary zone, or for an upward ray
        floats[_T_BEST + lane] = t_best
        integers[_HIT + lane] = hit
        moving += hit >= 0
        reflecting += (hit == PRIMARY) | (hit == SECONDARY)
    return moving, reflecting


@numba.njit(**_STAGE)
def _deviates(key, index, reflection, m, floats, integers):
    """The slope errors (`physics.slope_deviates`) of reflection `reflection` of the m lanes in flight (the block's
    first ray is ray `index` of the run)."""
    for lane in range(m):
        floats[_DEVIATE_M + lane], floats[_DEVIATE_S + lane] = slope_deviates(
            key,
            index + np.uint64(integers[_ORDER + lane]),
            reflection,
            floats[_SIGMA_CORE + lane],
            floats[_SIGMA_SAGITTAL + lane],
            floats[_WING_FRACTION + lane],
            floats[_SIGMA_WING + lane],
        )


@numba.njit(**_STAGE)
def _reflect(reflection, m, floats, integers):
    """Move every lane (of the m in flight) that found a surface (`_search`) onto it: a back surface blocks it, a
    mirror reflects it (`physics.specular`) about its normal (`physics.surface_normal`), tilted by the lane's slope
    deviates if it is rough (`physics.tilted_normal`).
    The few lanes that reflect at a graze angle beyond `physics.graze_series` take libm's asin in a loop of their own.
    Every value a select keeps is loaded beforehand: a load on one side of a condition is a branch, and LLVM does
    not vectorise a loop with one."""
    steep_count = 0
    for lane in range(m):
        x, y, z, dx, dy, dz = _ray(floats, lane)
        t_best = floats[_T_BEST + lane]
        hit = integers[_HIT + lane]
        moving = hit >= 0
        x = select(moving, x + t_best * dx, x)
        y = select(moving, y + t_best * dy, y)
        z = select(moving, z + t_best * dz, z)
        reflects = (hit == PRIMARY) | (hit == SECONDARY)
        on_primary = hit == PRIMARY  # both mirrors' rows read, one chosen
        primary = _PRIMARY_ROW + lane
        secondary = _SECONDARY_ROW + lane
        z_ref_p, z_ref_s = floats[primary + Z_REF * S], floats[secondary + Z_REF * S]
        a_p, a_s = floats[primary + QUAD_A * S], floats[secondary + QUAD_A * S]
        b_p, b_s = floats[primary + QUAD_B * S], floats[secondary + QUAD_B * S]
        mx, my, mz = surface_normal(
            select(on_primary, a_p, a_s), select(on_primary, b_p, b_s), select(on_primary, z_ref_p, z_ref_s), x, y, z
        )
        tx, ty, tz = tilted_normal(floats[_DEVIATE_M + lane], floats[_DEVIATE_S + lane], mx, my, mz)
        rough = integers[_ROUGH + lane] != 0
        mx, my, mz = select(rough, tx, mx), select(rough, ty, my), select(rough, tz, mz)
        rx, ry, rz, sin_graze = specular(dx, dy, dz, mx, my, mz)
        steep = sin_graze >= GRAZE_SERIES_LIMIT
        angle = select(steep, sin_graze, graze_series(sin_graze))
        old_nx, old_ny, old_nz = floats[_NX + lane], floats[_NY + lane], floats[_NZ + lane]
        old_graze, old_g1, old_g2 = floats[_GRAZE + lane], floats[_G1 + lane], floats[_G2 + lane]
        sequence = integers[_SEQUENCE + lane]
        count = integers[_REFLECTIONS + lane]
        outcome = integers[_OUTCOME + lane]
        last = integers[_LAST + lane]
        floats[_PX + lane], floats[_PY + lane], floats[_PZ + lane] = x, y, z
        floats[_UX + lane] = select(reflects, rx, dx)
        floats[_UY + lane] = select(reflects, ry, dy)
        floats[_UZ + lane] = select(reflects, rz, dz)
        floats[_NX + lane] = select(reflects, mx, old_nx)
        floats[_NY + lane] = select(reflects, my, old_ny)
        floats[_NZ + lane] = select(reflects, mz, old_nz)
        floats[_GRAZE + lane] = select(reflects, angle, old_graze)
        floats[_G1 + lane] = select(reflects & (reflection == 0), angle, old_g1)
        floats[_G2 + lane] = select(reflects & (reflection == 1), angle, old_g2)
        integers[_SEQUENCE + lane] = select(reflects, sequence_after(sequence, hit), sequence)
        integers[_REFLECTIONS + lane] = select(reflects, reflection + 1, count)
        integers[_LAST + lane] = select(reflects, hit, last)
        integers[_OUTCOME + lane] = select(moving & (not reflects), _BACK, outcome)
        integers[_EVENT + lane] = select(reflects, select(steep, _REFLECTED_STEEP, _REFLECTED), _IDLE)
        steep_count += reflects & steep
    if steep_count > 0:  # rare: none in a Wolter-I optic traced near its axis
        for lane in range(m):
            if integers[_EVENT + lane] == _REFLECTED_STEEP:
                angle = graze_angle(floats[_GRAZE + lane])
                floats[_GRAZE + lane] = angle
                if reflection == 0:
                    floats[_G1 + lane] = angle
                elif reflection == 1:
                    floats[_G2 + lane] = angle


@numba.njit(**_STAGE)
def _finish(focal_plane_z, block_rays, m, floats, integers):
    """The end of the m lanes that passed the entrance: the fate of each one that ended in flight, by its sequence of
    reflections, and its point on the focal plane (MISSED_FOCAL_PLANE if it does not reach it); then the results from
    the scratch into the rays, each at its ray's place."""
    for lane in range(m):
        x, y, z, dx, dy, dz = _ray(floats, lane)
        outcome = integers[_OUTCOME + lane]
        sequence = integers[_SEQUENCE + lane]
        code = fate_of_sequence(sequence)
        reaches = (dz < 0.0) & (z >= focal_plane_z)
        fx, fy = plane_crossing(focal_plane_z, x, y, z, dx, dy, dz)
        moves = (outcome == 0) & reaches
        floats[_PX + lane] = select(moves, fx, x)
        floats[_PY + lane] = select(moves, fy, y)
        floats[_PZ + lane] = select(moves, focal_plane_z, z)
        integers[_OUTCOME + lane] = select(outcome == 0, select(reaches, code, _MISSED), outcome)
    for lane in range(m):
        place = integers[_ORDER + lane]
        block_rays.x[place] = floats[_PX + lane]
        block_rays.y[place] = floats[_PY + lane]
        block_rays.z[place] = floats[_PZ + lane]
        block_rays.dx[place] = floats[_UX + lane]
        block_rays.dy[place] = floats[_UY + lane]
        block_rays.dz[place] = floats[_UZ + lane]
        block_rays.graze1[place] = floats[_G1 + lane]
        block_rays.graze2[place] = floats[_G2 + lane]
        block_rays.fate[place] = integers[_OUTCOME + lane]


@numba.njit(**_STAGE)
def _weights(table, block_rays, m, floats, integers):
    """After `_finish`, with table.weigh: each of the m lanes' weight in the rays times the tabulated reflectivity of
    the reflections it carries (the first two), by `coatings.table.reflectivity_at`: the same numbers, from the energy
    nodes (found in a scalar loop for a table of several energies) and a linear interpolation in the graze angle, the
    table read by vector gathers (`vector_math.gather`, over the lanes up to m rounded up, whose places and shells
    `_compact` leaves valid)."""
    energies = table.energies
    n_e = energies.shape[0]
    n_a = table.values.shape[2]
    lanes = gathered_lanes(m)
    for lane in range(0, lanes, GATHER_LANES):
        gather(block_rays.energy_kev, integers, _ORDER + lane, floats, _ENERGY + lane)
        gather(table.shell_coating, integers, _SHELL + lane, integers, _COATING + lane)
    if n_e == 1:
        for lane in range(lanes):
            integers[_NODE + lane] = 0
            floats[_ENERGY_FRACTION + lane] = 0.0
    else:
        for lane in range(lanes):
            integers[_NODE + lane], floats[_ENERGY_FRACTION + lane] = energy_node(energies, floats[_ENERGY + lane])
    for lane in range(lanes):
        floats[_FACTOR + lane] = 1.0
    for reflection in range(2):
        graze_row = _G1 if reflection == 0 else _G2
        for lane in range(lanes):  # where reflectivity_at_node reads values[coating, node] (flat), without branches
            k = integers[_NODE + lane]
            x = abs(floats[graze_row + lane]) / table.angle_step
            top = x >= n_a - 1
            below = select(top, n_a - 2, int(x))
            entry = (integers[_COATING + lane] * n_e + k) * n_a + below
            following = entry + select(k + 1 < n_e, n_a, 0)
            integers[_TABLE_ENTRY + lane] = entry
            integers[_TABLE_ENTRY + S + lane] = entry + 1
            integers[_TABLE_ENTRY + 2 * S + lane] = following
            integers[_TABLE_ENTRY + 3 * S + lane] = following + 1
            floats[_ANGLE_FRACTION + lane] = select(top, 1.0, x - below)
        for j in range(4):  # at the node and the following one, the values below and above the angle
            for lane in range(0, lanes, GATHER_LANES):
                gather(table.values, integers, _TABLE_ENTRY + j * S + lane, floats, _TABLE_VALUES + j * S + lane)
        for lane in range(m):
            outcome = integers[_OUTCOME + lane]
            carried = select(
                (outcome == _DOUBLE) | (outcome == _MULTIPLE),
                2,
                select((outcome == _PRIMARY) | (outcome == _SECONDARY), 1, 0),
            )
            fa = floats[_ANGLE_FRACTION + lane]
            fe = floats[_ENERGY_FRACTION + lane]
            low0, high0 = floats[_TABLE_VALUES + lane], floats[_TABLE_VALUES + S + lane]
            low1, high1 = floats[_TABLE_VALUES + 2 * S + lane], floats[_TABLE_VALUES + 3 * S + lane]
            r0 = low0 * (1.0 - fa) + high0 * fa
            r1 = low1 * (1.0 - fa) + high1 * fa
            r = select(fe == 0.0, r0, r0 * (1.0 - fe) + r1 * fe)
            factor = floats[_FACTOR + lane]
            floats[_FACTOR + lane] = select(carried > reflection, factor * r, factor)
    for lane in range(m):
        block_rays.weight[integers[_ORDER + lane]] *= floats[_FACTOR + lane]


@numba.njit(cache=True, no_cfunc_wrapper=True, nogil=True)
def double_reflection_area_per_energy(table, rays, sums, sums_sq, first_node, end_node):
    """Sum and sum of squares over doubly reflected rays of weight R(E, g1) R(E, g2), at the table's energy nodes
    first_node .. end_node - 1, into sums and sums_sq.

    Shared out over energies (`coatings.threads.split_over_threads`), so each sum runs over the rays in their fixed
    order.
    """
    for k in range(first_node, end_node):
        acc = 0.0
        acc_sq = 0.0
        for i in range(rays.weight.shape[0]):
            if rays.fate[i] == _DOUBLE:
                coating = table.shell_coating[rays.shell[i]]
                v = rays.weight[i]
                for reflection in range(2):  # one inlined call site, not two
                    v *= reflectivity_at_node(
                        table.values,
                        table.angle_step,
                        coating,
                        k,
                        rays.graze1[i] if reflection == 0 else rays.graze2[i],
                    )
                acc += v
                acc_sq += v * v
        sums[k] = acc
        sums_sq[k] = acc_sq
