"""Keep numba's cache of compiled kernels out of the installed package, in a folder that can be written.

By default numba writes its cache into `__pycache__` beside the source, i.e. into site-packages for a
regular install. `pip uninstall` does not know those files, so replacing `pip install .` by an
editable install leaves `raytrace/`, `coatings/` and `geometries/` behind as cache-only folders that
Python then imports as empty namespace packages; on a shared read-only installation numba fails outright
("no locator available"). The cache goes to NUMBA_CACHE_DIR if set, else to the user's cache folder, and where
that cannot be written (a read-only home or cache, a cluster node, a container) to a folder of the user's in the
temporary directory, with one line on standard error. This must run before numba is first imported: the packages
import this module first.
"""

import os
import sys
import tempfile

NOTICE = "raytrace: numba's cache folder {} cannot be written; compiled kernels are cached in {} instead"


def _writable(folder: str) -> bool:
    """Whether files can be created in `folder` (made if missing): by trying, as numba will (os.access says yes to
    root for read-only folders, and nothing about a path through a file)."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _cache_folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    wanted = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(base, "xrt-axion-raytrace", "numba")
    if _writable(wanted):
        return wanted
    user = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    fallback = os.path.join(tempfile.gettempdir(), f"xrt-axion-raytrace-{user}", "numba")
    print(NOTICE.format(wanted, fallback), file=sys.stderr)
    return fallback


os.environ["NUMBA_CACHE_DIR"] = _cache_folder()
