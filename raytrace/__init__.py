"""How rays move and what comes out: sources, the traced engine, analysis and the command line."""

from importlib.metadata import PackageNotFoundError, version

import coatings.numba_cache  # noqa: F401  (first: it sets where numba caches, before numba is imported)

try:
    __version__ = version("xrt-axion-raytrace")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
