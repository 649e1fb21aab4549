"""Mirror coatings: what the tracer asks of a mirror is R(E, graze angle).

Any object with a `name` and a `reflectivity(energy_kev, graze_rad)` method that
broadcasts its arguments and returns the unpolarised reflectivity is a coating.
`Stack` computes it with the Parratt recursion from xraylib optical constants;
`ConstantReflectivity` is the idealised mirror used to check geometry.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from .materials import Material, MaterialError, material
from .parratt import parratt_reflectivity


class Coating(Protocol):
    name: str

    def reflectivity(self, energy_kev, graze_rad) -> np.ndarray: ...

    def edge_energies_kev(self) -> np.ndarray: ...


class RecipeError(ValueError):
    """A coating recipe that does not describe a physical stack."""


@dataclass(frozen=True)
class ConstantReflectivity:
    """A mirror reflecting the same fraction at every energy and angle."""

    value: float = 1.0
    name: str = "constant"

    def __post_init__(self):
        if not 0.0 <= self.value <= 1.0:
            raise RecipeError(f"constant reflectivity = {self.value}: must be within [0, 1]")

    def reflectivity(self, energy_kev, graze_rad) -> np.ndarray:
        shape = np.broadcast_shapes(np.shape(energy_kev), np.shape(graze_rad))
        return np.full(shape, self.value)

    def edge_energies_kev(self) -> np.ndarray:
        return np.empty(0)


@dataclass(frozen=True)
class Layer:
    """A film: material, thickness and the rms roughness of its top interface."""

    material: Material
    thickness_nm: float
    roughness_nm: float = 0.0


@dataclass(frozen=True)
class Stack:
    """Films on a substrate, listed from the top (vacuum side) down."""

    name: str
    layers: tuple[Layer, ...]
    substrate: Material
    substrate_roughness_nm: float = 0.0

    def reflectivity(self, energy_kev, graze_rad) -> np.ndarray:
        """Unpolarised reflectivity, broadcasting energy_kev (keV) against graze_rad (rad)."""
        energy, graze = np.broadcast_arrays(np.asarray(energy_kev, float), np.asarray(graze_rad, float))
        unique_e, inverse = np.unique(energy.ravel(), return_inverse=True)
        flat_g = graze.ravel()
        out = np.empty(energy.size)
        for i, e in enumerate(unique_e):
            sel = inverse == i
            out[sel] = self.reflectivity_grid(np.array([e]), flat_g[sel])[0]
        return out.reshape(energy.shape)

    def reflectivity_grid(self, energy_kev: np.ndarray, graze_rad: np.ndarray, polarisation="unpolarised") -> np.ndarray:
        """R on the outer product of energies (keV) and graze angles (rad): shape (n_E, n_angles)."""
        energy = np.asarray(energy_kev, dtype=float)
        media = [np.ones_like(energy, dtype=complex)]
        media += [layer.material.refractive_index(energy) for layer in self.layers]
        media.append(self.substrate.refractive_index(energy))
        thickness = [layer.thickness_nm for layer in self.layers]
        roughness = [layer.roughness_nm for layer in self.layers] + [self.substrate_roughness_nm]
        return parratt_reflectivity(np.array(media), thickness, roughness, energy, graze_rad, polarisation)

    def edge_energies_kev(self) -> np.ndarray:
        mats = [layer.material for layer in self.layers] + [self.substrate]
        return np.unique(np.concatenate([m.edge_energies_kev() for m in mats]))


RECIPE_PACKAGE = "coatings.recipes"


def shipped_recipes() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(RECIPE_PACKAGE).iterdir() if p.name.endswith(".toml"))


def load_recipe(name_or_path: str | Path) -> Stack:
    """A shipped recipe by name (see `shipped_recipes()`) or a TOML file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise RecipeError(f"coating recipe file {str(path)!r} does not exist")
        text, label = path.read_text(), str(path)
    else:
        resource = resources.files(RECIPE_PACKAGE) / f"{name_or_path}.toml"
        if not resource.is_file():
            raise RecipeError(
                f"unknown coating recipe {str(name_or_path)!r}: shipped recipes are {', '.join(shipped_recipes())}"
            )
        text, label = resource.read_text(), str(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"coating recipe {label}: not valid TOML ({exc})") from None
    return stack_from_dict(data, default_name=Path(label).stem)


def stack_from_dict(data: dict, default_name: str) -> Stack:
    """Build a Stack from a recipe mapping: `name`, `[[layer]]` (top first) and `[substrate]`."""
    layers = []
    for i, entry in enumerate(data.get("layer", []), start=1):
        where = f"layer {i}"
        layers.append(
            Layer(
                _material(entry, where),
                _number(entry, "thickness_nm", where, positive=True),
                _number(entry, "roughness_nm", where, default=0.0),
            )
        )
    if "substrate" not in data:
        raise RecipeError("recipe has no [substrate] table")
    sub = data["substrate"]
    return Stack(
        name=str(data.get("name", default_name)),
        layers=tuple(layers),
        substrate=_material(sub, "substrate"),
        substrate_roughness_nm=_number(sub, "roughness_nm", "substrate", default=0.0),
    )


def _material(entry: dict, where: str) -> Material:
    if "material" not in entry:
        raise RecipeError(f"{where}: missing field 'material'")
    try:
        return material(str(entry["material"]), entry.get("density_g_cm3"))
    except MaterialError as exc:
        raise RecipeError(f"{where}: {exc}") from None


def _number(entry: dict, field: str, where: str, positive: bool = False, default: float | None = None) -> float:
    if field not in entry:
        if default is None:
            raise RecipeError(f"{where}: missing field {field!r}")
        return default
    value = entry[field]
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or (positive and value == 0):
        allowed = "a number > 0" if positive else "a number >= 0"
        raise RecipeError(f"{where}: {field} = {value!r}: must be {allowed}")
    return float(value)
