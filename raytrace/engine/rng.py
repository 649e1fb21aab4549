"""Counter-based random numbers: every ray's draws depend only on (seed, ray index, draw).

This is what makes a trace identical for any chunk size and any number of threads:
there is no sequential generator state to split. The mixing function is the
SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014) applied to the counter
`key + (index * draws_per_ray + draw) * golden gamma`, i.e. exactly the SplitMix64
stream evaluated at a computed position; it passes BigCrush.
"""

from __future__ import annotations

import numba
import numpy as np

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
DRAWS_PER_RAY = np.uint64(16)


@numba.njit(cache=True, no_cfunc_wrapper=True)
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)  # only kernels call it: no wrappers
def uniform(key, ray_index, draw):
    """A double in [0, 1) with 53 random bits for draw number `draw` (< DRAWS_PER_RAY) of ray `ray_index`."""
    counter = np.uint64(ray_index) * DRAWS_PER_RAY + np.uint64(draw) + np.uint64(1)
    bits = _mix64(np.uint64(key) + counter * GOLDEN_GAMMA)
    return np.float64(bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def seed_key(seed: int) -> np.uint64:
    """Spread a user seed over 64 bits so that neighbouring seeds give unrelated streams."""
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed = {seed}: must be an integer in [0, 2**63)")
    start = (seed * int(GOLDEN_GAMMA) + 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(_mix64(np.uint64(start)))


@numba.njit(cache=True, no_cfunc_wrapper=True, nogil=True)
def uniform_array(key, first_index, draw, out, start, stop):
    """out[i] = uniform(key, first_index + i, draw) for i = start .. stop - 1: one draw of consecutive rays
    (`coatings.threads.split_over_threads`)."""
    for i in range(start, stop):
        out[i] = uniform(key, first_index + i, draw)


def stream_key(key: np.uint64, stream: int) -> np.uint64:
    """An independent key for another use of the same rays' indices (e.g. a source's own draws)."""
    spread = (int(stream) * int(GOLDEN_GAMMA)) & 0xFFFFFFFFFFFFFFFF  # modulo 2**64, without numpy's overflow warning
    return np.uint64(_mix64(np.uint64(key) ^ np.uint64(spread)))
