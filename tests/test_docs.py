"""The figures of the README and the documentation come from one script (docs/make_figures.py), with commands that
still parse."""

import re
import sys
from pathlib import Path

import pytest

from raytrace.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
from make_figures import FIGURES  # noqa: E402


def test_every_figure_shown_is_made_by_the_script_and_every_made_one_is_shown():
    pages = [ROOT / "README.md", *(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)]
    shown = {Path(name).name for page in pages for name in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", page.read_text())}
    assert shown == set(FIGURES)
    assert {p.name for p in (ROOT / "docs").glob("*.png")} == set(FIGURES)


@pytest.mark.parametrize("name", [name for name, (argv, _) in FIGURES.items() if argv])
def test_the_scripts_commands_parse_without_old_names(capsys, name):
    build_parser().parse_args(FIGURES[name][0])
    assert capsys.readouterr().err == ""
