"""Optic prescriptions as ECSV shell tables.

Columns: r_intersect_mm, thickness_mm, primary_length_mm, secondary_length_mm,
profile ("wolter" or "conical") and coating (a recipe name or TOML path, see
`coatings.load_recipe`). Table metadata: name, focal_length_mm, source, and
spider_spokes / spider_width_deg / spider_width_mm / spider_rotation_deg when the
optic has a spider. Entrance and exit radii are computed, never stored.
"""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
from astropy.table import Table

from coatings import ConstantReflectivity, RecipeError, load_recipe

from .optic import Optic, PrescriptionError, Shell, Spider

SHIPPED = {"xmm": "xmm_newton.ecsv"}
REQUIRED_COLUMNS = ("r_intersect_mm", "thickness_mm", "primary_length_mm", "secondary_length_mm", "profile", "coating")


def shipped_optics() -> list[str]:
    return sorted(SHIPPED)


def load_optic(name_or_path: str | os.PathLike) -> Optic:
    """A shipped optic by name (`xmm`) or a prescription file (.ecsv)."""
    key = str(name_or_path)
    if key in SHIPPED:
        with resources.as_file(resources.files("geometries") / "data" / SHIPPED[key]) as path:
            return read_prescription(path)
    path = Path(key)
    if not path.is_file():
        raise PrescriptionError(
            f"unknown optic {key!r}: give one of {', '.join(shipped_optics())} or the path of a prescription file"
        )
    return read_prescription(path)


def read_prescription(path: Path) -> Optic:
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many types for a malformed file
        raise PrescriptionError(f"prescription {path}: not a readable ECSV table ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.colnames]
    if missing:
        raise PrescriptionError(f"prescription {path}: missing column(s) {', '.join(missing)}")
    meta = table.meta
    if "focal_length_mm" not in meta:
        raise PrescriptionError(f"prescription {path}: metadata has no focal_length_mm")
    try:
        shells = tuple(
            Shell(
                r_intersect_mm=float(row["r_intersect_mm"]),
                thickness_mm=float(row["thickness_mm"]),
                primary_length_mm=float(row["primary_length_mm"]),
                secondary_length_mm=float(row["secondary_length_mm"]),
                profile=str(row["profile"]),
            )
            for row in table
        )
        recipes = {name: _coating(name, path) for name in set(table["coating"])}
        spider = None
        if int(meta.get("spider_spokes", 0)) > 0:
            spider = Spider(
                n_spokes=int(meta["spider_spokes"]),
                spoke_width_deg=float(meta.get("spider_width_deg", 0.0)),
                spoke_width_mm=float(meta.get("spider_width_mm", 0.0)),
                rotation_deg=float(meta.get("spider_rotation_deg", 0.0)),
            )
        return Optic(
            name=str(meta.get("name", path.stem)),
            focal_length_mm=float(meta["focal_length_mm"]),
            shells=shells,
            coatings=tuple(recipes[name] for name in table["coating"]),
            spider=spider,
            source=str(meta.get("source", "")),
        )
    except (TypeError, ValueError) as exc:  # PrescriptionError included: prefix the file name
        raise PrescriptionError(f"prescription {path}: {exc}") from None


def write_prescription(optic: Optic, path: str | os.PathLike) -> None:
    """Write the optic as an ECSV shell table (atomically: a complete file or none)."""
    table = Table()
    table["shell"] = np.arange(1, optic.n_shells + 1)
    for column in REQUIRED_COLUMNS[:4]:
        table[column] = [getattr(s, column) for s in optic.shells]
    table["profile"] = [s.profile for s in optic.shells]
    table["coating"] = [_coating_name(c) for c in optic.coatings]
    table.meta.update({"name": optic.name, "focal_length_mm": optic.focal_length_mm, "source": optic.source})
    if optic.spider is not None:
        sp = optic.spider
        table.meta.update({
            "spider_spokes": sp.n_spokes,
            "spider_width_deg": sp.spoke_width_deg,
            "spider_width_mm": sp.spoke_width_mm,
            "spider_rotation_deg": sp.rotation_deg,
        })
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".ecsv", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        table.write(tmp_path, format="ascii.ecsv", overwrite=True)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _coating(name: str, prescription: Path):
    if name.startswith("constant:"):
        try:
            return ConstantReflectivity(float(name.split(":", 1)[1]))
        except ValueError:
            raise PrescriptionError(f"coating {name!r}: 'constant:' must be followed by a number in [0, 1]") from None
    recipe = Path(name)
    if recipe.suffix == ".toml" and not recipe.is_absolute():
        recipe = prescription.parent / recipe
        name = str(recipe)
    try:
        return load_recipe(name)
    except RecipeError as exc:
        raise PrescriptionError(f"coating: {exc}") from None


def _coating_name(coating) -> str:
    if isinstance(coating, ConstantReflectivity):
        return f"constant:{coating.value}"
    return coating.name
