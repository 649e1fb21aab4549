"""Run a compiled kernel over a range of items on the threads numba is allowed (`numba.get_num_threads()`, which
NUMBA_NUM_THREADS and `numba.set_num_threads` set).

A `prange` loop costs numba's parallel compiler passes on every kernel, 1-2 s each on a first run. A kernel that
takes a sub-range (start, stop) and is compiled with nogil=True runs as fast on Python threads, which share the
range out in contiguous, fixed parts: an item is computed the same way whichever thread takes it, so results do
not depend on the number of threads.
"""

from __future__ import annotations

import atexit
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

_pools: dict[int, ThreadPoolExecutor] = {}  # by number of workers


def split_over_threads(kernel, n_items: int, *args) -> None:
    """kernel(*args, start, stop) for contiguous parts of 0 .. n_items - 1, one per thread (the calling one included,
    which takes the first part)."""
    threads = max(1, min(numba.get_num_threads(), n_items))
    bounds = np.linspace(0, n_items, threads + 1).round().astype(np.int64)
    if threads == 1:
        kernel(*args, bounds[0], bounds[1])
        return
    pool = _pools.get(threads - 1)
    if pool is None:
        pool = _pools[threads - 1] = ThreadPoolExecutor(threads - 1, thread_name_prefix="raytrace-kernel")
        atexit.register(pool.shutdown)
    others = [pool.submit(kernel, *args, bounds[k], bounds[k + 1]) for k in range(1, threads)]
    kernel(*args, bounds[0], bounds[1])
    for part in others:
        part.result()
