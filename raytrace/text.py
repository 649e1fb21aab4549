"""Numbers and words as the command line and the plots write them. Imports only the standard library, so that the
command line's parser loads it for free."""

import textwrap


def mm(value: float, digits: int = 3) -> str:
    """A length in mm to `digits` decimals, without the '-0.000' of a value that rounds to zero."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


def plural(count: int, noun: str) -> str:
    """'1 focal length', '2 focal lengths'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def wrapped(text: str, width_in: float, fontsize: float) -> str:
    """`text` broken into lines that fit `width_in` inches at `fontsize` points (a glyph is at most 0.62 em wide on
    average)."""
    return textwrap.fill(text, width=max(20, int(width_in * 72 / (0.62 * fontsize))))
