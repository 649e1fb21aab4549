"""How mirrors reflect: materials (xraylib or Henke optical constants), layered stacks, recipe files
and reflectivity tables for the tracer."""

from . import numba_cache  # noqa: F401  (first: it sets where numba caches, before numba is imported)
from .materials import DEFAULT_DENSITY_G_CM3, OPTICAL_CONSTANTS, Material, MaterialError, check_energies, material
from .parratt import parratt_reflectivity
from .recipe import load_recipe, recipe_from_dict, recipe_to_toml, shipped_recipes
from .stack import Coating, ConstantReflectivity, Layer, Multilayer, RecipeError, Stack

__all__ = [
    "DEFAULT_DENSITY_G_CM3",
    "OPTICAL_CONSTANTS",
    "Coating",
    "ConstantReflectivity",
    "Layer",
    "Material",
    "MaterialError",
    "Multilayer",
    "RecipeError",
    "Stack",
    "check_energies",
    "load_recipe",
    "material",
    "parratt_reflectivity",
    "recipe_from_dict",
    "recipe_to_toml",
    "shipped_recipes",
]
