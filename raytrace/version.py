"""The installed package's version (recorded in every result's metadata)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xrt-axion-raytrace")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
