"""Where rays come from: every source follows `raytrace.engine.source.Source`."""

from .parallel import ParallelBeam
from .point import PointSource
from .solar import MODELS, SolarAxionModel, SolarSource, earth_sun_distance_au, sun_radius_rad

__all__ = ["MODELS", "ParallelBeam", "PointSource", "SolarAxionModel", "SolarSource", "earth_sun_distance_au", "sun_radius_rad"]
