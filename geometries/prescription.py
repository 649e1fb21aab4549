"""Optic prescriptions: ECSV shell tables and segmented designs (TOML).

ECSV columns: r_intersect_mm, thickness_mm, primary_length_mm, secondary_length_mm,
profile ("wolter" or "conical") and coating (a recipe name or TOML path, see
`coatings.load_recipe`); optional (absent = none): segments, segment_gap_mm,
spacers_per_segment, spacer_width_mm, segment_rotation_deg (see `Segmentation`) and
slope_meridional_arcsec, slope_sagittal_arcsec, wing_fraction, wing_arcsec (see
`SlopeErrors`), azimuth_min_deg, azimuth_max_deg (a partial-azimuth shell) and, for profile
"conical_as_built", r1_mm, r2_mm, r4_mm, r5_mm (measured radii of the primary's entrance and exit and of the
secondary's) and gap_mm (axial gap between them, centred on z = f); such rows need no r_intersect_mm. Table
metadata: name, focal_length_mm, source, shells (the number of rows, when given: a file cut short is refused),
spider_spokes / spider_width_deg / spider_width_mm / spider_rotation_deg when the optic has a spider, and aperture
(a list of entrance apertures such as "circle:21.5@200,0").
Entrance and exit radii are computed, never stored.

A `.toml` file is a segmented design (`geometries.generator`), built into its layers on loading.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from astropy.table import Table

from coatings import ConstantReflectivity, RecipeError, load_recipe
from coatings.textfile import read_toml

from .generator import SegmentedDesign, read_design
from .optic import Optic, PrescriptionError, Segmentation, Shell, SlopeErrors, Spider, parse_aperture

SHIPPED = {
    "xmm": "data/xmm_newton.ecsv",
    "xmm_design": "data/xmm_design.ecsv",
    "babyiaxo": "babyiaxo_custom.toml",
    "cast_pathfinder": "data/cast_pathfinder.ecsv",
    "iaxo": "iaxo.toml",
    "iaxoplus": "iaxoplus.toml",
}
REQUIRED_COLUMNS = ("r_intersect_mm", "thickness_mm", "primary_length_mm", "secondary_length_mm", "profile", "coating")
SEGMENT_COLUMNS = ("segments", "segment_gap_mm", "spacers_per_segment", "spacer_width_mm", "segment_rotation_deg")
SLOPE_COLUMNS = ("slope_meridional_arcsec", "slope_sagittal_arcsec", "wing_fraction", "wing_arcsec")
AZIMUTH_COLUMNS = ("azimuth_min_deg", "azimuth_max_deg")
AS_BUILT_COLUMNS = ("r1_mm", "r2_mm", "r4_mm", "r5_mm", "gap_mm")


def shipped_optics() -> list[str]:
    return sorted(SHIPPED)


def load_optic(name_or_path: str | os.PathLike) -> Optic:
    """A shipped optic by name (`xmm`, `babyiaxo`), a shell table (.ecsv) or a segmented design (.toml)."""
    key = str(name_or_path)
    if key in SHIPPED:
        with resources.as_file(resources.files("geometries") / SHIPPED[key]) as path:
            return _read_any(path)
    path = Path(key)
    if path.suffix in (".ecsv", ".toml") and not path.is_file():
        raise PrescriptionError(
            f"prescription file {key!r} does not exist" if not path.exists() else f"prescription {key!r} is not a file"
        )
    if not path.is_file():
        raise PrescriptionError(
            f"unknown optic {key!r}: give one of {', '.join(shipped_optics())} or the path of a prescription file "
            "(.ecsv shell table or .toml design)"
        )
    return _read_any(path)


def is_design(name_or_path: str | os.PathLike) -> bool:
    """Whether this names a segmented design: a shipped design, or a .toml file with a focal length (rather
    than a coating recipe)."""
    key = str(name_or_path)
    if key in SHIPPED:
        return SHIPPED[key].endswith(".toml")
    path = Path(key)
    if path.suffix != ".toml" or not path.is_file():
        return False
    try:
        return "focal_length_mm" in read_toml(path, "design", PrescriptionError)
    except PrescriptionError:
        return False  # reported by whichever reader gets the file


def is_optic(name_or_path: str | os.PathLike) -> bool:
    """Whether this names an optic: a shipped one, a shell table (.ecsv) or a segmented design."""
    return str(name_or_path) in SHIPPED or Path(str(name_or_path)).suffix == ".ecsv" or is_design(name_or_path)


def load_design(name_or_path: str | os.PathLike) -> SegmentedDesign:
    """A segmented design: a shipped one by name (`babyiaxo`) or a design .toml file."""
    key = str(name_or_path)
    if key in SHIPPED and SHIPPED[key].endswith(".toml"):
        with resources.as_file(resources.files("geometries") / SHIPPED[key]) as path:
            return read_design(path)
    path = Path(key)
    if path.suffix != ".toml" or not path.is_file():
        designs = [name for name, file in SHIPPED.items() if file.endswith(".toml")]
        raise PrescriptionError(f"unknown design {key!r}: give {', '.join(designs)} or the path of a design .toml file")
    return read_design(path)


def _read_any(path: Path) -> Optic:
    if path.suffix == ".toml":
        design = read_design(path)
        try:
            return design.build()
        except PrescriptionError as exc:
            raise PrescriptionError(f"design {path}: {exc}") from None
    return read_prescription(path)


def read_prescription(path: str | os.PathLike) -> Optic:
    """An optic from its ECSV shell table."""
    path = Path(path)
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many types for a malformed file
        reason = " ".join(str(exc).split())  # astropy's messages run over several lines
        raise PrescriptionError(f"prescription {path}: not a readable ECSV table ({reason})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.colnames]
    if missing == ["r_intersect_mm"] and all(str(p) == "conical_as_built" for p in table["profile"]):
        missing = []  # measured radii define an as-built shell
    if missing:
        raise PrescriptionError(f"prescription {path}: missing column(s) {', '.join(missing)}")
    meta = table.meta
    if "focal_length_mm" not in meta:
        raise PrescriptionError(f"prescription {path}: metadata has no focal_length_mm")
    if "shells" in meta and meta["shells"] != len(table):
        raise PrescriptionError(
            f"prescription {path}: the header announces {meta['shells']} shells, the table has "
            f"{len(table)} rows (is the file cut short?)"
        )
    try:
        shells = tuple(
            _as_built(row, table.colnames)
            if str(row["profile"]) == "conical_as_built"
            else Shell(
                r_intersect_mm=float(row["r_intersect_mm"]),
                thickness_mm=float(row["thickness_mm"]),
                primary_length_mm=float(row["primary_length_mm"]),
                secondary_length_mm=float(row["secondary_length_mm"]),
                profile=str(row["profile"]),
                segmentation=_segmentation(row, table.colnames),
                slope_errors=SlopeErrors(*(float(row[c]) for c in SLOPE_COLUMNS))
                if SLOPE_COLUMNS[0] in table.colnames
                else SlopeErrors(),
                **({c: float(row[c]) for c in AZIMUTH_COLUMNS} if AZIMUTH_COLUMNS[0] in table.colnames else {}),
            )
            for row in table
        )
        recipes = {name: _coating(name, path) for name in set(table["coating"])}
        spider = None
        if int(meta.get("spider_spokes", 0)) < 0:
            raise PrescriptionError(f"metadata spider_spokes = {meta['spider_spokes']}: must be >= 0 (0: no spider)")
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
            apertures=tuple(parse_aperture(a) for a in _aperture_list(meta.get("aperture", []))),
        )
    except (TypeError, ValueError) as exc:  # PrescriptionError included: prefix the file name
        raise PrescriptionError(f"prescription {path}: {exc}") from None


def _as_built(row, columns) -> Shell:
    missing = [c for c in AS_BUILT_COLUMNS if c not in columns]
    if missing:
        raise PrescriptionError(f"profile conical_as_built needs column(s) {', '.join(missing)}")
    return Shell.as_built(
        *(float(row[c]) for c in AS_BUILT_COLUMNS[:4]),
        float(row["primary_length_mm"]),
        float(row["secondary_length_mm"]),
        float(row["thickness_mm"]),
        float(row["gap_mm"]),
        segmentation=_segmentation(row, columns),
        slope_errors=SlopeErrors(*(float(row[c]) for c in SLOPE_COLUMNS))
        if SLOPE_COLUMNS[0] in columns
        else SlopeErrors(),
        **({c: float(row[c]) for c in AZIMUTH_COLUMNS} if AZIMUTH_COLUMNS[0] in columns else {}),
    )


def _aperture_list(value) -> list:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise PrescriptionError(f"metadata aperture = {value!r}: must be a list of texts such as ['circle:43']")
    return value


def _segmentation(row, columns) -> Segmentation | None:
    if SEGMENT_COLUMNS[0] not in columns or int(row["segments"]) == 0:
        return None
    return Segmentation(
        int(row["segments"]),
        float(row["segment_gap_mm"]),
        int(row["spacers_per_segment"]),
        float(row["spacer_width_mm"]),
        float(row["segment_rotation_deg"]),
    )


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
