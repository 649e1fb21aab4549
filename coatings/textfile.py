"""Reading the project's text files (recipes, designs, detectors, checkpoints) with errors that name the file."""

from __future__ import annotations

import tomllib
from pathlib import Path


def read_text(path, what: str, error: type[Exception]) -> str:
    """The UTF-8 text of a file (a byte-order mark is accepted); otherwise `error`, naming `what` and the file."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {str(path)!r}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except IsADirectoryError:
        raise error(f"{what} {str(path)!r} is a folder, not a file") from None
    except OSError as exc:
        raise error(f"{what} {str(path)!r}: cannot read it ({exc.strerror})") from None


def read_toml(path, what: str, error: type[Exception]) -> dict:
    """The tables of a TOML file (`read_text`); `error`, naming `what` and the file, if it is not valid TOML."""
    try:
        return tomllib.loads(read_text(path, what, error))
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {path}: not valid TOML ({exc})") from None
