"""How rays move: rays, counter-based random numbers, the packed geometry, the entrance aperture, the
source protocol, the numba kernel and its numpy reference, and the streaming trace."""

from .aperture import EntranceChannels
from .rays import FATE_NAMES, Fate, Rays
from .source import Source
from .trace import DEFAULT_CHUNK_SIZE, Trace, check_ray_count

__all__ = ["DEFAULT_CHUNK_SIZE", "FATE_NAMES", "EntranceChannels", "Fate", "Rays", "Source", "Trace", "check_ray_count"]
