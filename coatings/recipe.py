"""Coating recipes as TOML files: reading with field-by-field validation, and writing.

name = "wb4c_graded"                 # optional, default: the file name
description = "..."                  # optional
optical_constants = "xraylib"        # or "henke"; default "xraylib"

[capping]                            # optional, on top of everything
material = "C"                       # chemical formula
density_g_cm3 = 2.2                  # optional where coatings.DEFAULT_DENSITY_G_CM3 has one
thickness_nm = 1.5
roughness_nm = 0.3                   # optional, rms of the layer's top interface (default 0)
interdiffusion_nm = 0.0              # optional, error-function width (default 0)

[[layer]]                            # explicit films, top first (single layer, bilayer, ...)
material = "Ir"
thickness_nm = 30.0

[multilayer]                         # instead of [[layer]]
absorber = "W"                       # or { material = "W", density_g_cm3 = 19.0 }
spacer = "B4C"
bilayers = 20
gamma = 0.45                         # absorber fraction of each period, in (0, 1)
top = "absorber"                     # which material of each bilayer faces the vacuum
d_min_nm = 3.0                       # depth graded: d_i = a / (b + i)^c, d_1 = d_max (top), d_N = d_min
d_max_nm = 9.0
c = 0.25
# period_nm = 3.5                    # instead of d_min_nm/d_max_nm/c: a periodic stack
roughness_nm = 0.4
interdiffusion_nm = 0.0

[substrate]
material = "SiO2"
roughness_nm = 0.4

[scattering]                         # optional: the top surface's roughness scatters (coatings.scattering)
psd_index = 1.5                      # PSD(f) ~ |f|^-psd_index over the band below (1/um)
f_min_per_um = 0.01
f_max_per_um = 10.0
roughness_nm = 0.3                   # optional: the band's rms (default: all of the top interface's roughness)
"""

from __future__ import annotations

import json
import math
import tomllib
from importlib import resources
from pathlib import Path

from .materials import MaterialError, material
from .stack import Layer, Multilayer, RecipeError, Stack, SurfaceScattering
from .textfile import read_text

RECIPE_PACKAGE = "coatings.recipes"
_TOP_KEYS = ("name", "description", "optical_constants", "capping", "layer", "multilayer", "substrate", "scattering")
_SCATTERING_KEYS = ("psd_index", "f_min_per_um", "f_max_per_um", "roughness_nm")
_FILM_KEYS = ("material", "density_g_cm3", "thickness_nm", "roughness_nm", "interdiffusion_nm")
_SUBSTRATE_KEYS = ("material", "density_g_cm3", "roughness_nm", "interdiffusion_nm")
_MATERIAL_KEYS = ("material", "density_g_cm3")
_MULTILAYER_KEYS = (
    "absorber",
    "spacer",
    "bilayers",
    "gamma",
    "top",
    "period_nm",
    "d_min_nm",
    "d_max_nm",
    "c",
    "roughness_nm",
    "interdiffusion_nm",
)


def shipped_recipes() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(RECIPE_PACKAGE).iterdir() if p.name.endswith(".toml"))


def load_recipe(name_or_path: str | Path) -> Stack:
    """A shipped recipe by name (see `shipped_recipes()`) or a TOML file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise RecipeError(f"coating recipe file {str(path)!r} does not exist")
        text, label = read_text(path, "coating recipe", RecipeError), str(path)
    else:
        resource = resources.files(RECIPE_PACKAGE) / f"{name_or_path}.toml"
        if not resource.is_file():
            raise RecipeError(
                f"unknown coating recipe {str(name_or_path)!r}: shipped recipes are {', '.join(shipped_recipes())} "
                "(or give the path of a .toml file)"
            )
        text, label = resource.read_text(), str(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"coating recipe {label}: not valid TOML ({exc})") from None
    try:
        return recipe_from_dict(data, default_name=Path(label).stem)
    except RecipeError as exc:
        raise RecipeError(f"coating recipe {label}: {exc}") from None


def recipe_from_dict(data: dict, default_name: str) -> Stack:
    """A Stack from a recipe mapping (the TOML structure above)."""
    _check_keys(data, _TOP_KEYS, "recipe")
    constants = data.get("optical_constants", "xraylib")
    films = []
    entries = data.get("layer", [])
    if not isinstance(entries, list):
        raise RecipeError("'layer' must be an array of tables: write [[layer]]")
    for i, entry in enumerate(entries, start=1):
        films.append(_film(entry, f"layer {i}", constants))
    multilayer = _multilayer(data["multilayer"], constants) if "multilayer" in data else None
    capping = _film(data["capping"], "capping", constants) if "capping" in data else None
    if "substrate" not in data:
        raise RecipeError("recipe has no [substrate] table")
    sub = _table(data["substrate"], "substrate")
    _check_keys(sub, _SUBSTRATE_KEYS, "substrate")
    return Stack(
        name=_text(data, "name", "recipe", default_name),
        description=_text(data, "description", "recipe", ""),
        substrate=_material(sub, "substrate", constants),
        films=tuple(films),
        multilayer=multilayer,
        capping=capping,
        substrate_roughness_nm=_number(sub, "roughness_nm", "substrate", default=0.0),
        substrate_interdiffusion_nm=_number(sub, "interdiffusion_nm", "substrate", default=0.0),
        scattering=_scattering(data["scattering"]) if "scattering" in data else None,
    )


def _scattering(entry) -> SurfaceScattering:
    entry = _table(entry, "scattering")
    _check_keys(entry, _SCATTERING_KEYS, "scattering")
    band = _number(entry, "roughness_nm", "scattering") if "roughness_nm" in entry else None
    return SurfaceScattering(*(_number(entry, key, "scattering") for key in _SCATTERING_KEYS[:3]), band)


def recipe_to_toml(stack: Stack) -> str:
    """The TOML text of a recipe; `recipe_from_dict(tomllib.loads(text))` gives the same Stack back."""
    constants = {m.optical_constants for m in stack.materials()}
    if len(constants) > 1:
        raise RecipeError(f"recipe {stack.name}: mixes optical constants {sorted(constants)}; a file holds one")
    lines = [f"name = {json.dumps(stack.name)}"]
    if stack.description:
        lines.append(f"description = {json.dumps(stack.description)}")
    lines.append(f"optical_constants = {json.dumps(constants.pop())}")
    if stack.capping is not None:
        lines += ["", "[capping]"] + _film_lines(stack.capping)
    for film in stack.films:
        lines += ["", "[[layer]]"] + _film_lines(film)
    if stack.multilayer is not None:
        ml = stack.multilayer
        lines += ["", "[multilayer]"]
        for role, m in (("absorber", ml.absorber), ("spacer", ml.spacer)):
            lines.append(f"{role} = {{ material = {json.dumps(m.formula)}, density_g_cm3 = {m.density_g_cm3!r} }}")
        lines += [f"bilayers = {int(ml.bilayers)}", f"gamma = {ml.gamma!r}", f"top = {json.dumps(ml.top)}"]
        if ml.periodic:
            lines.append(f"period_nm = {ml.d_max_nm!r}")
        else:
            lines += [f"d_min_nm = {ml.d_min_nm!r}", f"d_max_nm = {ml.d_max_nm!r}", f"c = {ml.c!r}"]
        lines += [f"roughness_nm = {ml.roughness_nm!r}", f"interdiffusion_nm = {ml.interdiffusion_nm!r}"]
    lines += [
        "",
        "[substrate]",
        f"material = {json.dumps(stack.substrate.formula)}",
        f"density_g_cm3 = {stack.substrate.density_g_cm3!r}",
        f"roughness_nm = {stack.substrate_roughness_nm!r}",
        f"interdiffusion_nm = {stack.substrate_interdiffusion_nm!r}",
    ]
    if stack.scattering is not None:
        lines += ["", "[scattering]"] + [
            f"{key} = {getattr(stack.scattering, key)!r}"
            for key in _SCATTERING_KEYS
            if getattr(stack.scattering, key) is not None
        ]
    return "\n".join(lines) + "\n"


def _film_lines(film: Layer) -> list[str]:
    return [
        f"material = {json.dumps(film.material.formula)}",
        f"density_g_cm3 = {film.material.density_g_cm3!r}",
        f"thickness_nm = {film.thickness_nm!r}",
        f"roughness_nm = {film.roughness_nm!r}",
        f"interdiffusion_nm = {film.interdiffusion_nm!r}",
    ]


def _film(entry, where: str, constants: str) -> Layer:
    entry = _table(entry, where)
    _check_keys(entry, _FILM_KEYS, where)
    return Layer(
        _material(entry, where, constants),
        _number(entry, "thickness_nm", where, positive=True),
        _number(entry, "roughness_nm", where, default=0.0),
        _number(entry, "interdiffusion_nm", where, default=0.0),
    )


def _multilayer(entry, constants: str) -> Multilayer:
    where = "multilayer"
    entry = _table(entry, where)
    _check_keys(entry, _MULTILAYER_KEYS, where)
    materials = {}
    for role in ("absorber", "spacer"):
        if role not in entry:
            raise RecipeError(f"{where}: missing field {role!r}")
        spec = entry[role]
        spec = {"material": spec} if isinstance(spec, str) else _table(spec, f"{where} {role}")
        _check_keys(spec, _MATERIAL_KEYS, f"{where} {role}")
        materials[role] = _material(spec, f"{where} {role}", constants)
    if "bilayers" not in entry:
        raise RecipeError(f"{where}: missing field 'bilayers'")
    if "period_nm" in entry:
        clash = [k for k in ("d_min_nm", "d_max_nm", "c") if k in entry]
        if clash:
            raise RecipeError(
                f"{where}: give either period_nm (periodic) or d_min_nm, d_max_nm and c "
                f"(depth graded), not both (found period_nm and {', '.join(clash)})"
            )
        d_min = d_max = _number(entry, "period_nm", where, positive=True)
        c = 1.0
    else:
        d_min = _number(entry, "d_min_nm", where, positive=True)
        d_max = _number(entry, "d_max_nm", where, positive=True)
        c = _number(entry, "c", where, positive=True, default=1.0 if d_min == d_max else None)
    top = entry.get("top", "absorber")
    if not isinstance(top, str):
        raise RecipeError(f"{where}: top = {top!r}: allowed values are absorber, spacer")
    return Multilayer(
        absorber=materials["absorber"],
        spacer=materials["spacer"],
        bilayers=entry["bilayers"],
        gamma=_number(entry, "gamma", where),
        d_min_nm=d_min,
        d_max_nm=d_max,
        c=c,
        top=top,
        roughness_nm=_number(entry, "roughness_nm", where, default=0.0),
        interdiffusion_nm=_number(entry, "interdiffusion_nm", where, default=0.0),
    )


def _table(entry, where: str) -> dict:
    if not isinstance(entry, dict):
        raise RecipeError(f"{where}: must be a table, e.g. [{where.split()[0]}]")
    return entry


def _check_keys(entry: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in entry if k not in allowed]
    if unknown:
        raise RecipeError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})")


def _text(entry: dict, field: str, where: str, default: str) -> str:
    value = entry.get(field, default)
    if not isinstance(value, str):
        raise RecipeError(f"{where}: {field} = {value!r}: must be a string")
    return value


def _material(entry: dict, where: str, constants: str):
    if "material" not in entry:
        raise RecipeError(f"{where}: missing field 'material'")
    formula = entry["material"]
    if not isinstance(formula, str):
        raise RecipeError(f"{where}: material = {formula!r}: must be a chemical formula in quotes")
    try:
        return material(formula, entry.get("density_g_cm3"), constants)
    except MaterialError as exc:
        raise RecipeError(f"{where}: {exc}") from None


def _number(entry: dict, field: str, where: str, positive: bool = False, default: float | None = None) -> float:
    if field not in entry:
        if default is None:
            raise RecipeError(f"{where}: missing field {field!r}")
        return default
    value = entry[field]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        allowed = "a number > 0" if positive else "a number >= 0"
        raise RecipeError(f"{where}: {field} = {value!r}: must be {allowed}")
    return float(value)
