"""The layout of the trace kernel's block scratch, by name.

A block's scratch is two flat arrays, floats and integers, of rows of `stride` lanes: row r of lane l at
r * stride + l (`raytrace.engine.kernel`). Each row is declared here with the stages of the kernel that read or
write it; a row may reuse the storage of another (`shares`) only where the two are never live together, and the
layout refuses any other overlap when it is built (at import). A row is live from the first stage that uses it to
the last, and over every pass of the reflection loop if it is used in more than one stage and in that loop (its
value is carried from one pass to the next). `tests/test_scratch_layout.py` checks that every stage of the kernel
reads and writes only the rows declared for it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The kernel's stages in the order a block passes them (draw: `aperture.start_block` draws the start points of a
# beam the kernel starts); the four of the reflection loop repeat once per reflection.
STAGES = ("draw", "start", "entrance", "compact", "search", "deviates", "reflect", "scatter", "finish", "weights")
LOOP = ("search", "deviates", "reflect", "scatter")


@dataclass(frozen=True)
class Row:
    """`count` consecutive rows of one kind ('float' or 'integer') from row `first`, named `name`, used in `uses`."""

    name: str
    kind: str
    first: int
    count: int
    uses: tuple[str, ...]

    @property
    def live(self) -> frozenset[int]:
        """The stages (as indices of STAGES) in which the row's values must be kept."""
        used = sorted(STAGES.index(stage) for stage in self.uses)
        live = set(range(used[0], used[-1] + 1))
        loop = {STAGES.index(stage) for stage in LOOP}
        if len(used) > 1 and live & loop:
            live |= loop
        return frozenset(live)

    @property
    def rows(self) -> range:
        return range(self.first, self.first + self.count)


class ScratchLayout:
    """The rows of a block's scratch, each added with its name and the stages that use it; `offset` values (row
    times stride) are what the kernel indexes with."""

    def __init__(self, stride: int):
        self.stride = stride
        self.rows: dict[str, Row] = {}
        self.size = {"float": 0, "integer": 0}

    def add(self, name: str, kind: str, uses, count: int = 1, shares: str | None = None, at: int | None = None) -> int:
        """Add `count` rows called `name` of `kind`, used in the stages `uses`: after the last row of that kind, at
        row `at`, or on the storage of the row `shares` (then never live with it). Returns the offset of the first."""
        if name in self.rows:
            raise ValueError(f"scratch row {name!r}: added twice")
        unknown = [stage for stage in uses if stage not in STAGES]
        if unknown or not uses:
            raise ValueError(f"scratch row {name!r}: uses {unknown or 'no stage'}; the stages are {STAGES}")
        first = self.rows[shares].first if shares is not None else self.size[kind] if at is None else at
        row = Row(name, kind, first, count, tuple(uses))
        for other in self.rows.values():
            if other.kind == kind and set(other.rows) & set(row.rows) and other.live & row.live:
                clash = sorted(STAGES[i] for i in other.live & row.live)
                raise ValueError(f"scratch rows {name!r} and {other.name!r} share storage and are both live in {clash}")
        self.rows[name] = row
        self.size[kind] = max(self.size[kind], first + count)
        return first * self.stride

    def at(self, name: str, offset: int) -> int:
        """The offset of row `offset` within the rows called `name` (a named column of a block of rows)."""
        row = self.rows[name]
        if not 0 <= offset < row.count:
            raise ValueError(f"scratch row {name!r}: has {row.count} rows, not a row {offset}")
        return (row.first + offset) * self.stride
