"""The text form of a source, shared by the Python API (``source='point:130'``) and the command line
(``--source point:130``).

Grammar: ``parallel`` (a parallel beam), ``point:DISTANCE_M`` (a point source DISTANCE_M metres from the optic's
intersection plane), ``disc:DISTANCE_M:RADIUS_MM`` (a uniform disc of that radius) and, where solar axions are traced,
``sun``. In Python each may end in ``@OFF_AXIS_ARCMIN`` or ``@OFF_AXIS_ARCMIN,AZIMUTH_DEG``, the source's direction;
on the command line the direction is given by ``--off-axis`` and ``--azimuth``. This module imports nothing, so
that the command line's parser can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError

SOURCE_FORMS = "parallel, point:DISTANCE_M or disc:DISTANCE_M:RADIUS_MM"
DIRECTION_FORM = "@OFF_AXIS_ARCMIN[,AZIMUTH_DEG]"
KINDS = ("parallel", "point", "disc", "sun")


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source text: its `kind` (one of KINDS), distance (m; infinity for a parallel beam or the Sun), disc
    radius (mm) and direction (arcmin, deg; None where the text gives none)."""

    kind: str
    distance_m: float = math.inf
    size_mm: float = 0.0
    off_axis_arcmin: float | None = None
    azimuth_deg: float | None = None

    @property
    def has_direction(self) -> bool:
        return self.off_axis_arcmin is not None


def parse_source(text: str, parameter: str = "source", forms: str = SOURCE_FORMS) -> SourceSpec:
    """The source `text` describes; InputError (naming `parameter` and the allowed `forms`) if it is not one."""
    body, at, direction = str(text).strip().partition("@")
    kind, _, rest = body.partition(":")
    fields = rest.split(":") if rest else []
    wanted = {"parallel": 0, "sun": 0, "point": 1, "disc": 2}
    expected = f"expected {forms}, optionally followed by {DIRECTION_FORM}"
    if kind not in wanted or len(fields) != wanted[kind]:
        raise InputError(parameter, text, expected)
    try:
        numbers = [float(field) for field in fields]
        angles = [float(field) for field in direction.split(",")] if at else []
    except ValueError:
        raise InputError(parameter, text, expected) from None
    if at and len(angles) not in (1, 2):
        raise InputError(parameter, text, expected)
    if not all(math.isfinite(v) for v in numbers + angles):
        raise InputError(parameter, text, "its numbers must be finite")
    distance = numbers[0] if numbers else math.inf
    size = numbers[1] if len(numbers) > 1 else 0.0
    if size < 0:
        raise InputError(parameter, text, f"the disc's radius ({size:g} mm) must be >= 0")
    if angles and angles[0] < 0:
        raise InputError(parameter, text, f"the off-axis angle ({angles[0]:g} arcmin) must be >= 0")
    return SourceSpec(
        kind, distance, size, angles[0] if angles else None, (angles[1] if len(angles) > 1 else 0.0) if angles else None
    )
