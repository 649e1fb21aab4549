"""Run a compiled kernel over a range of items on the threads numba is allowed (`numba.get_num_threads()`, which
NUMBA_NUM_THREADS and `numba.set_num_threads` set).

A `prange` loop costs numba's parallel compiler passes on every kernel, 1-2 s each on a first run. A kernel that
takes a sub-range (start, stop) and is compiled with nogil=True runs as fast on Python threads. The range is cut
into a few contiguous parts per thread, which the threads take in turn as they finish the previous one, so that a
thread slowed by the host's other work does not hold the others up. An item is computed the same way whichever
thread takes it, so results do not depend on the number of threads or on which thread ran which part.
"""

from __future__ import annotations

import atexit
import itertools
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

PARTS_PER_THREAD = 4
_pools: dict[int, ThreadPoolExecutor] = {}  # by number of workers


def split_over_threads(kernel, n_items: int, *args) -> None:
    """kernel(*args, start, stop) for contiguous parts of 0 .. n_items - 1, shared out between the threads (the calling
    one included) as they become free."""
    threads = max(1, min(numba.get_num_threads(), n_items))
    if threads == 1:
        kernel(*args, 0, n_items)
        return
    bounds = np.linspace(0, n_items, min(n_items, threads * PARTS_PER_THREAD) + 1).round().astype(np.int64)
    parts = itertools.count()  # its next() is atomic: each part is taken once

    def work():
        for part in parts:
            if part >= bounds.size - 1:
                return
            kernel(*args, bounds[part], bounds[part + 1])

    # an empty part first, in the calling thread: a first run compiles the kernel (seconds, in LLVM) here, where the
    # command's signal handling reaches it, not in a pool thread that keeps the interpreter from handling signals
    kernel(*args, 0, 0)
    pool = _pools.get(threads - 1)
    if pool is None:
        pool = _pools[threads - 1] = ThreadPoolExecutor(threads - 1, thread_name_prefix="raytrace-kernel")
        atexit.register(pool.shutdown)
    others = [pool.submit(work) for _ in range(threads - 1)]
    work()
    for other in others:
        other.result()
