"""How mirrors reflect: materials (xraylib), layered stacks, recipes and reflectivity tables."""

from .materials import DEFAULT_DENSITY_G_CM3, Material, MaterialError, material
from .parratt import parratt_reflectivity
from .stack import Coating, ConstantReflectivity, Layer, RecipeError, Stack, load_recipe, shipped_recipes

__all__ = [
    "DEFAULT_DENSITY_G_CM3",
    "Coating",
    "ConstantReflectivity",
    "Layer",
    "Material",
    "MaterialError",
    "RecipeError",
    "Stack",
    "load_recipe",
    "material",
    "parratt_reflectivity",
    "shipped_recipes",
]
