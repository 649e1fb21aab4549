"""The README's figures come from one script (docs/make_figures.py), with commands that still parse."""

import re
import sys
from pathlib import Path

import pytest

from raytrace.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
from make_figures import FIGURES  # noqa: E402


def test_every_figure_the_readme_shows_is_made_by_the_script_and_every_made_one_is_shown():
    shown = set(re.findall(r"!\[[^\]]*\]\(docs/([^)]+\.png)\)", (ROOT / "README.md").read_text()))
    assert shown == set(FIGURES)
    assert {p.name for p in (ROOT / "docs").glob("*.png")} == set(FIGURES)


@pytest.mark.parametrize("name", [name for name, (argv, _) in FIGURES.items() if argv])
def test_the_scripts_commands_parse_without_old_names(capsys, name):
    build_parser().parse_args(FIGURES[name][0])
    assert capsys.readouterr().err == ""
