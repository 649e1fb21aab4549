"""How mirrors reflect: materials (xraylib or Henke optical constants), layered stacks, recipe files
and reflectivity tables for the tracer.

The names below load their modules on first use (lazy_loader); importing the package loads only where numba caches.
"""

import lazy_loader

from . import numba_cache  # noqa: F401  (first: it sets where numba caches, before numba is imported)

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "materials": [
            "DEFAULT_DENSITY_G_CM3",
            "OPTICAL_CONSTANTS",
            "Material",
            "MaterialError",
            "check_energies",
            "material",
        ],
        "parratt": ["parratt_reflectivity"],
        "recipe": ["load_recipe", "recipe_from_dict", "recipe_to_toml", "shipped_recipes"],
        "stack": [
            "Coating",
            "ConstantReflectivity",
            "Layer",
            "Multilayer",
            "RecipeError",
            "Stack",
            "SurfaceScattering",
        ],
    },
)
