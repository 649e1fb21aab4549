"""The documentation site builds with warnings as errors, its notebooks run and end with a plot, and the examples
of the README, the getting-started page and the package docstring run as written, outputs included."""

import doctest
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import raytrace
from raytrace.engine.rays import FATE_NAMES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.notebook
def test_the_site_builds_without_a_warning_and_its_notebooks_end_with_a_plot(tmp_path):
    pytest.importorskip("myst_nb")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    warnings = [
        line
        for line in build.stderr.splitlines()
        if re.search(r"WARNING|ERROR|CRITICAL", line) and "Kernel is running over TCP" not in line
    ]
    assert build.returncode == 0 and not warnings, build.stderr[-3000:]
    for path in NOTEBOOKS:
        assert (tmp_path / "html" / "notebooks" / f"{path.stem}.html").is_file()
        executed = next(tmp_path.rglob(f"jupyter_execute/**/{path.stem}.ipynb"))
        last = json.loads(executed.read_text())["cells"][-1]
        assert any("image/png" in output.get("data", {}) for output in last["outputs"]), path.name


def test_there_are_four_notebooks_and_the_site_lists_each():
    assert [p.name[0] for p in NOTEBOOKS] == ["a", "b", "c", "d"]
    listed = (DOCS / "notebooks.md").read_text()
    assert all(f"notebooks/{p.stem}\n" in listed for p in NOTEBOOKS)


def _run_as_written(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write their figures into the working directory
    result = doctest.testfile(str(path), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow
def test_getting_started_runs_as_written(tmp_path, monkeypatch):
    _run_as_written(DOCS / "getting-started.md", tmp_path, monkeypatch)


@pytest.mark.slow
def test_readme_example_runs_as_written(tmp_path, monkeypatch):
    _run_as_written(ROOT / "README.md", tmp_path, monkeypatch)


@pytest.mark.slow
def test_the_api_page_walks_through_every_plot_and_writer(tmp_path, monkeypatch):
    _run_as_written(DOCS / "api.md", tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize(
    "module",
    [
        "raytrace",
        "raytrace.api",
        "raytrace.analysis.measurements",
        "raytrace.helioscope.detector",
        "raytrace.helioscope.merit",
    ],
)
def test_the_docstring_examples_run_as_written(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(
        importlib.import_module(module), extraglobs={"raytrace": raytrace}, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0 and result.failed == 0


def test_every_public_function_has_an_example():
    """In its docstring, or (plots and writers) in the walk-through of the API page."""
    walk_through = (DOCS / "api.md").read_text().split("## Plots and writers, by example")[1].split("\n## ")[0]
    missing = [
        name
        for name in raytrace.__all__
        if inspect.isfunction(getattr(raytrace, name))
        and ">>>" not in getattr(raytrace, name).__doc__
        and f"raytrace.{name}(" not in walk_through
    ]
    assert not missing


def test_the_api_page_documents_every_public_name():
    page = (DOCS / "api.md").read_text()
    missing = [
        name
        for name in raytrace.__all__
        if name != "__version__" and not re.search(rf"^\.\. auto(function|class):: raytrace\.{name}$", page, re.M)
    ]
    assert not missing


def test_every_api_function_documents_each_of_its_parameters():
    from raytrace import api

    for name in raytrace.__all__:
        function = getattr(raytrace, name)
        if getattr(function, "__module__", None) != api.__name__ or not inspect.isfunction(function):
            continue
        doc = function.__doc__
        assert "Parameters\n    ----------" in doc and "Returns\n    -------" in doc, name
        assert "{" + "optic}" not in doc and "{" + "trace}" not in doc, name  # every shared entry was filled in
        documented = {word for line in re.findall(r"^    ([\w, ]+?)(?: :.*)?$", doc, re.M) for word in line.split(", ")}
        assert set(inspect.signature(function).parameters) <= documented, name


def test_the_conventions_page_explains_every_fate():
    page = (DOCS / "physics" / "conventions.md").read_text()
    assert [name for name in FATE_NAMES.values() if f"`{name}`" not in page] == []


def test_every_page_is_in_a_table_of_contents():
    pages = {
        p.relative_to(DOCS).with_suffix("").as_posix()
        for p in DOCS.rglob("*.md")
        if "_build" not in p.parts and "jupyter_execute" not in p.parts
    }
    listed = set()
    for page in DOCS.rglob("*.md"):
        for block in re.findall(r"```\{toctree\}(.*?)```", page.read_text(), re.S):
            base = page.parent.relative_to(DOCS)
            listed |= {
                (base / line.strip()).as_posix().removeprefix("./")
                for line in block.splitlines()
                if line.strip() and not line.strip().startswith(":")
            }
    assert pages - {"index"} <= listed


def test_the_version_comes_from_git():
    from packaging.version import Version

    assert raytrace.__version__ != "0+unknown"  # setuptools-scm's fallback: the install saw no git metadata
    Version(raytrace.__version__)  # PEP 440: a tag, or N commits after one with the commit's hash
