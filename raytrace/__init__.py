"""How rays move and what comes out: sources, the traced engine, analysis and the command line."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xrt-axion-raytrace")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
