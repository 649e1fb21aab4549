"""The notebooks run clean and each ends with a plot."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # subprocesses, signals and notebooks: `pytest -m 'not slow'` leaves them out

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_ends_with_a_plot(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    book = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    last = book.cells[-1]
    assert any("image/png" in output.get("data", {}) for output in last.outputs)


def test_there_are_four_notebooks():
    assert [p.name[0] for p in NOTEBOOKS] == ["a", "b", "c", "d"]
