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

FORMS = {"sun": "sun", "parallel": "parallel", "point": "point:DISTANCE_M", "disc": "disc:DISTANCE_M:RADIUS_MM"}
FIELDS = {"sun": 0, "parallel": 0, "point": 1, "disc": 2}
X_RAY_KINDS = ("parallel", "point", "disc")  # what the functions that trace X-rays of given energies take
SOURCE_FORMS = "parallel, point:DISTANCE_M or disc:DISTANCE_M:RADIUS_MM"
DIRECTION_FORM = "@OFF_AXIS_ARCMIN[,AZIMUTH_DEG]"


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source text: its `kind` (a key of FORMS), distance (m; infinity for a parallel beam or the Sun), disc
    radius (mm) and direction (arcmin, deg; None where the text gives none)."""

    kind: str
    distance_m: float = math.inf
    size_mm: float = 0.0
    off_axis_arcmin: float | None = None
    azimuth_deg: float | None = None

    @property
    def has_direction(self) -> bool:
        return self.off_axis_arcmin is not None


def parse_source(text: str, parameter: str = "source", kinds=X_RAY_KINDS, directed: bool = True) -> SourceSpec:
    """The source `text` describes, one of `kinds`; InputError (naming `parameter` and the allowed forms) if it is not
    one. With `directed` the text may give the source's direction; without, a text that does is refused."""
    body, at, direction = str(text).strip().partition("@")
    kind, _, rest = body.partition(":")
    fields = rest.split(":") if rest else []
    forms = [FORMS[k] for k in kinds]
    expected = f"expected {', '.join(forms[:-1])} or {forms[-1]}" if len(forms) > 1 else f"expected {forms[0]}"
    expected += f", optionally followed by {DIRECTION_FORM}" if directed else ""
    if kind not in kinds or len(fields) != FIELDS[kind]:
        raise InputError(parameter, text, expected)
    try:
        numbers = [float(field) for field in fields]
        angles = [float(field) for field in direction.split(",")] if at else []
    except ValueError:
        raise InputError(parameter, text, expected) from None
    if at and len(angles) not in (1, 2):
        raise InputError(parameter, text, expected)
    if at and not directed:
        raise InputError(parameter, text, "its direction is --off-axis and --azimuth")  # the command line's form
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
