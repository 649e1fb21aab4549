"""The trace kernel's scratch layout (`raytrace.engine.scratch`): rows that share storage are never live together,
and every stage of the kernel reads and writes only the rows declared for it (read from the kernel's source)."""

import ast
import inspect

import pytest

from raytrace.engine import kernel
from raytrace.engine.geometry import CHANNEL_COLUMNS
from raytrace.engine.scratch import STAGES, ScratchLayout

STAGE_FUNCTIONS = {
    "_load": "start",
    "_start": "start",
    "_entrance": "entrance",
    "_compact": "compact",
    "_search": "search",
    "_deviates": "deviates",
    "_reflect": "reflect",
    "_scatter_lanes": "scatter",
    "_finish": "finish",
    "_weights": "weights",
}
# Names of several rows, or of rows within a named block, and the rows they stand for
DERIVED = {
    "_POSITION_ROWS": ("_PX", "_PY", "_PZ", "_UX", "_UY", "_UZ"),
    "_SIGMA_CORE": ("_SLOPES",),
    "_SIGMA_SAGITTAL": ("_SLOPES",),
    "_WING_FRACTION": ("_SLOPES",),
    "_SIGMA_WING": ("_SLOPES",),
    "_WALL_ROWS": ("_WALLS",),
    "_CANDIDATE_ROWS": ("_CANDIDATE",),
    "_PRIMARY_ROW": ("_CANDIDATE",),
    "_SECONDARY_ROW": ("_CANDIDATE",),
    "_BAR_ROWS": ("_BARS",),
}


def _rows_holding(columns):
    """The blocks of the scratch that hold these columns of KernelGeometry.channels (`_GATHERED + k * S`)."""
    offsets = {kernel._GATHERED // kernel.S + int(k) for k in columns}
    return {row.name for row in kernel._LAYOUT.rows.values() if row.kind == "float" and offsets & set(row.rows)}


def _used_rows_by_stage():
    tree = ast.parse(inspect.getsource(kernel))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    names = {name: {n.id for n in ast.walk(f) if isinstance(n, ast.Name)} for name, f in functions.items()}

    def stages_of(function, seen=()):
        if function in STAGE_FUNCTIONS:
            return {STAGE_FUNCTIONS[function]}
        callers = [f for f, used in names.items() if function in used and f != function and f not in seen]
        return set().union(*(stages_of(caller, (*seen, function)) for caller in callers))

    gathered = {
        "_ENTRANCE_COLUMNS": _rows_holding(kernel._ENTRANCE_COLUMNS),
        "_FLIGHT_COLUMNS": _rows_holding(kernel._FLIGHT_COLUMNS),
    }
    used: dict[str, set[str]] = {}
    for function, referenced in names.items():
        for name in referenced:
            rows = (name,) if name in kernel._LAYOUT.rows else DERIVED.get(name, gathered.get(name, ()))
            if rows and not stages_of(function):  # a row used where no stage is (in `trace` itself, say)
                used.setdefault(name, set()).add(f"{function}, outside the stages")
            for row in rows:
                used.setdefault(row, set()).update(stages_of(function))
    return used


def test_every_name_for_scratch_rows_is_known_to_the_check():
    """A module-level name derived from the layout's rows (an alias, a row within a block) must be a row or listed in
    DERIVED, so that a stage cannot reach a row through a name the check does not see."""
    tree = ast.parse(inspect.getsource(kernel))
    sizes = {"_FLOAT_ROWS", "_INTEGER_ROWS", "_GATHERED", "_LAYOUT", "_row"}  # sizes, the builder, the block start
    for node in tree.body:
        if isinstance(node, ast.Assign):
            derived_from = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)} & set(kernel._LAYOUT.rows)
            for target in node.targets:
                for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                    if derived_from or "_LAYOUT" in ast.unparse(node.value):
                        assert name in kernel._LAYOUT.rows or name in DERIVED or name in sizes, name


def test_each_stage_uses_only_the_rows_declared_for_it():
    used = _used_rows_by_stage()
    assert "_TABLE_ENTRY" in used and "_CANDIDATE" in used and "_SLOPES" in used  # the source was read
    for name, stages in used.items():
        assert name in kernel._LAYOUT.rows and stages <= set(kernel._LAYOUT.rows[name].uses), (name, sorted(stages))


def test_the_layout_holds_the_channel_table_in_its_column_order():
    channel_block = [kernel._LAYOUT.rows[name] for name in ("_SLOPES", "_WALLS", "_CANDIDATE", "_BARS")]
    assert [row.first for row in channel_block] == [kernel._GATHERED // kernel.S + k for k in (0, 4, 10, 34)]
    assert sum(row.count for row in channel_block) == CHANNEL_COLUMNS
    assert kernel._FLOAT_ROWS == kernel._GATHERED // kernel.S + CHANNEL_COLUMNS


def _replayed(changed_name=None, extra_stage=None):
    """The kernel's layout built again row by row in place, with `extra_stage` added to the uses of one row."""
    layout = ScratchLayout(kernel.S)
    for row in kernel._LAYOUT.rows.values():
        uses = (*row.uses, extra_stage) if row.name == changed_name else row.uses
        layout.add(row.name, row.kind, uses, row.count, at=row.first)
    return layout


def test_a_stage_that_reads_a_row_whose_storage_another_row_uses_then_is_refused():
    assert _replayed().size == kernel._LAYOUT.size
    # the example: `_weights` reading the reflection count, whose row holds table entries there
    with pytest.raises(
        ValueError,
        match="'_TABLE_ENTRY' and '_REFLECTIONS' share storage and are both live in "
        r"\['weights'\]",
    ):
        _replayed("_REFLECTIONS", "weights")
    with pytest.raises(ValueError, match="share storage"):
        _replayed("_QX", "search")  # the search's candidate distances are in that row
    with pytest.raises(ValueError, match="share storage"):
        _replayed("_LAST", "weights")  # a loop-carried row is live through the whole loop and after it


def test_rows_used_in_the_reflection_loop_are_live_through_every_pass():
    layout = ScratchLayout(8)
    layout.add("carried", "float", ("search", "reflect"))  # written in one pass, read in the next one's search
    with pytest.raises(ValueError, match=r"live in \['scatter'\]"):
        layout.add("scatter's own", "float", ("scatter",), shares="carried")
    layout.add("search's own", "float", ("search",))
    layout.add("scatter's own", "float", ("scatter",), shares="search's own")  # used within one stage only
    with pytest.raises(ValueError, match="the stages are"):
        layout.add("nowhere", "float", ("trace",))
    assert STAGES.index("draw") == 0
