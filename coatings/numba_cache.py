"""Keep numba's cache of compiled kernels out of the installed package.

By default numba writes its cache into `__pycache__` beside the source, i.e. into site-packages for a
regular install. `pip uninstall` does not know those files, so replacing `pip install .` by an
editable install leaves `raytrace/`, `coatings/` and `geometries/` behind as cache-only folders that
Python then imports as empty namespace packages. The cache goes to the user's cache folder instead,
unless NUMBA_CACHE_DIR is set. This must run before numba is first imported: the packages import
this module first.
"""

import os

if "NUMBA_CACHE_DIR" not in os.environ:
    _base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(_base, "xrt-axion-raytrace", "numba")
