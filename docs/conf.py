"""Sphinx configuration of the documentation site (`sphinx-build -W docs docs/_build/html`; tests/test_docs_site.py
builds it with warnings as errors and runs the notebooks)."""

from importlib.metadata import version as _installed_version

project = "xrt-axion-raytrace"
author = "The xrt-axion-raytrace developers"
copyright = "2026, " + author
release = _installed_version("xrt-axion-raytrace")
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "force"  # the notebooks are committed without outputs: the site shows them run
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_output_stderr = "remove"  # progress bars and compile notices: a reader wants the results

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc Parameters sections carry types and units
napoleon_google_docstring = False
napoleon_numpy_docstring = True

html_theme = "furo"
html_title = f"xrt-axion-raytrace {release}"
