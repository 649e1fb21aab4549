"""Where rays come from: every source follows `raytrace.engine.source.Source`.

The names below load their modules on first use (lazy_loader): a parallel beam does not load the solar models.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "parallel": ["ParallelBeam"],
        "point": ["PointSource"],
        "solar": ["MODELS", "SolarAxionModel", "SolarSource", "earth_sun_distance_au", "sun_radius_rad"],
    },
)
