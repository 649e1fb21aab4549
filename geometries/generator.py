"""Segmented conical Wolter-I optics (NuSTAR-type) generated from a few design parameters.

A `SegmentedDesign` holds what a designer chooses: focal length, the radial range, the
split between an inner and an outer part (each its own mirror technology: segment length,
glass thickness, gap between layers, segmentation, slope errors), the coating recipe per
group of layers and the spider. `build()` nests the layers so that no layer shadows any on-axis ray of the
next one. The usual rule for segmented optics, layer k + 1 starts where layer k's front edge plus its
glass and the gap end,

    r0(k + 1) >= R1(k) + t(k) + gap,   R1(k) = r0(k) + L(k) tan(alpha(k)),   alpha = atan(r0 / f) / 4,

keeps the entrance clear, but it is not enough: the ray of layer k + 1 that reflects at the
intersection plane leaves at 4 alpha(k + 1), steeper than the 3 alpha(k) of layer k's
secondary, and would strike the back of that secondary near its exit. The clearance there,
and that of the ray reflected at the top of the primary where it crosses the intersection
plane, are also required:

    r0(k + 1) - L(k) tan(4 alpha(k + 1)) >= r0(k) + t(k) - L(k) tan(3 alpha(k)) + gap,
    r0(k + 1) - L(k + 1) (tan(2 alpha(k + 1)) - tan(alpha(k + 1))) >= r0(k) + t(k) + gap.

The exit condition is the binding one (by L (alpha(k + 1) + 3 (alpha(k + 1) - alpha(k)))
against L alpha(k)). As alpha(k + 1) depends on r0(k + 1), it is solved by fixed-point
iteration (contraction factor about L / f). A layer belongs to the part in which its
intersection radius lies; layers are added while their front edge and glass stay within
r_max. Designs are read from and written to human-editable TOML files.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coatings import Coating, RecipeError, load_recipe
from coatings.textfile import read_toml

from .optic import Optic, PrescriptionError, Segmentation, Shell, SlopeErrors, Spider, parse_aperture
from .surfaces import wolter_graze_angle_rad

MAX_LAYERS = 5000
MAX_FOCAL_LENGTH_MM = 100_000.0  # 100 m: twice XEUS's 50 m, the longest X-ray telescope ever studied
NESTING_ITERATIONS = 8  # the fixed point contracts by ~L / f < 0.1 per step: 1e-8 of the first correction


@dataclass(frozen=True)
class PartDesign:
    """One mirror technology of a segmented optic (all lengths in mm)."""

    technology: str
    segment_length_mm: float  # of the primary and of the secondary
    glass_thickness_mm: float
    layer_gap_mm: float  # radial margin added by the nesting rule
    segments_per_layer: int
    segment_gap_mm: float
    spacers_per_segment: int
    spacer_width_mm: float
    azimuth_min_deg: float = 0.0  # a partial-azimuth part (e.g. a wedge) covers azimuth_min_deg .. azimuth_max_deg
    azimuth_max_deg: float = 360.0
    slope_errors: SlopeErrors = SlopeErrors()

    def segmentation(self) -> Segmentation:
        return Segmentation(
            self.segments_per_layer, self.segment_gap_mm, self.spacers_per_segment, self.spacer_width_mm
        )


@dataclass(frozen=True)
class CoatingGroup:
    """Layers whose intersection radius lies below `up_to_r_mm` (and above the previous group's) get `recipe`:
    a recipe name or .toml path, or a coating itself (a design made in memory, e.g. by the optimiser; writing
    it with `raytrace.output.write_design` writes such recipes beside the design)."""

    up_to_r_mm: float
    recipe: str | Coating


@dataclass(frozen=True)
class SegmentedDesign:
    name: str
    focal_length_mm: float
    r_min_mm: float
    r_max_mm: float
    r_split_mm: float
    inner: PartDesign
    outer: PartDesign
    coating_groups: tuple[CoatingGroup, ...]
    spider: Spider | None
    description: str = ""
    recipe_dir: Path | None = None  # where relative recipe paths are found (the design file's folder)
    apertures: tuple = ()  # entrance apertures (geometries.optic), given as `aperture = ["circle:43", ...]`

    def with_focal_length(self, focal_length_mm: float) -> "SegmentedDesign":
        return dataclasses.replace(self, focal_length_mm=focal_length_mm)

    def with_slope_errors_of(self, optic: Optic) -> "SegmentedDesign":
        """The design with each part's slope errors taken from `optic`'s layers of that part (e.g. a calibrated
        build of this design)."""
        parts = {}
        for shell in optic.shells:
            parts.setdefault("inner" if shell.r_intersect_mm < self.r_split_mm else "outer", shell.slope_errors)
        changes = {
            label: dataclasses.replace(getattr(self, label), slope_errors=errors) for label, errors in parts.items()
        }
        return dataclasses.replace(self, **changes)

    def with_overrides(self, assignments, name: str | None = None) -> "SegmentedDesign":
        """The design with fields set by KEY=VALUE texts, KEY a dotted path of the TOML file (e.g.
        outer.glass_thickness_mm=0.3, spider.arm_width_mm=8) and VALUE a TOML value or a bare word; checked as
        a design file is."""
        data = tomllib.loads(design_to_toml(self))
        if name is not None:
            data["name"] = name
        for assignment in assignments:
            key, sep, text = assignment.partition("=")
            if not sep or not key.strip():
                raise PrescriptionError(f"{assignment!r}: expected KEY=VALUE, e.g. outer.glass_thickness_mm=0.3")
            try:
                value = tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError:
                value = text  # a bare word: a string such as a recipe name
            *tables, field = key.strip().split(".")
            entry = data
            for table in tables:
                entry = entry.setdefault(table, {})
                if not isinstance(entry, dict):
                    raise PrescriptionError(f"{assignment!r}: {table!r} is not a table of the design")
            entry[field] = value
        return design_from_dict(data, self.name, self.recipe_dir)

    def build(self) -> Optic:
        """The nested layers as an Optic; PrescriptionError names the parameter that prevents one."""
        self._check()
        f = self.focal_length_mm
        shells = []
        r0 = self.r_min_mm
        while True:
            part = self.inner if r0 < self.r_split_mm else self.outer
            alpha = wolter_graze_angle_rad(r0, f)
            front = r0 + part.segment_length_mm * math.tan(alpha)
            if front + part.glass_thickness_mm > self.r_max_mm:
                break
            if len(shells) == MAX_LAYERS:
                raise PrescriptionError(
                    f"glass_thickness_mm and layer_gap_mm: the design needs more than {MAX_LAYERS} layers between "
                    f"r_min_mm = {self.r_min_mm} and r_max_mm = {self.r_max_mm}"
                )
            shells.append(
                Shell(
                    r0,
                    part.glass_thickness_mm,
                    part.segment_length_mm,
                    part.segment_length_mm,
                    "conical",
                    part.segmentation(),
                    part.slope_errors,
                    part.azimuth_min_deg,
                    part.azimuth_max_deg,
                )
            )
            r0 = self._next_radius(r0, part)
        if not shells:
            raise PrescriptionError(
                f"glass_thickness_mm: the first layer (r0 = {self.r_min_mm} mm) with its glass does not fit below "
                f"r_max_mm = {self.r_max_mm}"
            )
        coatings = [self._recipe(group) for group in self.coating_groups]
        per_shell = tuple(coatings[self._group(s.r_intersect_mm)] for s in shells)
        try:
            return Optic(self.name, f, tuple(shells), per_shell, self.spider, self.description, self.apertures)
        except PrescriptionError as exc:
            raise PrescriptionError(f"the optic of focal_length_mm = {f}: {exc}") from None

    def _next_radius(self, r0: float, part: PartDesign) -> float:
        """The smallest intersection radius of the next layer that keeps every on-axis ray clear (module docstring)."""
        f, length = self.focal_length_mm, part.segment_length_mm
        alpha = wolter_graze_angle_rad(r0, f)
        edge = r0 + part.glass_thickness_mm + part.layer_gap_mm  # inner layer's glass at the intersection plane
        entrance = edge + length * math.tan(alpha)
        r_next = entrance
        for _ in range(NESTING_ITERATIONS):
            next_part = self.inner if r_next < self.r_split_mm else self.outer
            a = wolter_graze_angle_rad(r_next, f)
            top_ray = edge + next_part.segment_length_mm * (math.tan(2 * a) - math.tan(a))
            exit_ray = edge + length * (math.tan(4 * a) - math.tan(3 * alpha))
            r_next = max(entrance, top_ray, exit_ray)
        return r_next

    def _group(self, r0: float) -> int:
        return next(k for k, g in enumerate(self.coating_groups) if r0 < g.up_to_r_mm)

    def _recipe(self, group: CoatingGroup):
        if not isinstance(group.recipe, str):
            return group.recipe
        path = Path(group.recipe)
        if path.suffix == ".toml" and not path.is_absolute() and self.recipe_dir is not None:
            path = self.recipe_dir / path
        try:
            return load_recipe(path if path.suffix == ".toml" else group.recipe)
        except RecipeError as exc:
            raise PrescriptionError(f"coating group up to r = {group.up_to_r_mm} mm: {exc}") from None

    def _check(self) -> None:
        f, r_min, r_max, r_split = self.focal_length_mm, self.r_min_mm, self.r_max_mm, self.r_split_mm
        for name in ("focal_length_mm", "r_min_mm", "r_max_mm", "r_split_mm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise PrescriptionError(f"{name} = {value}: must be a finite number > 0")
        if f > MAX_FOCAL_LENGTH_MM:
            raise PrescriptionError(f"focal_length_mm = {f:g}: at most {MAX_FOCAL_LENGTH_MM:g} mm (100 m) is allowed")
        if r_min >= r_max:
            raise PrescriptionError(f"r_min_mm = {r_min} must be below r_max_mm = {r_max}")
        if not r_min <= r_split <= r_max:
            raise PrescriptionError(f"r_split_mm = {r_split} must lie from r_min_mm = {r_min} to r_max_mm = {r_max}")
        for label, part, r_low in (("inner", self.inner, r_min), ("outer", self.outer, r_split)):
            for name in ("segment_length_mm", "glass_thickness_mm"):
                value = getattr(part, name)
                if not (math.isfinite(value) and value > 0):
                    raise PrescriptionError(f"{label}.{name} = {value}: must be a finite number > 0")
            for name in ("layer_gap_mm", "segment_gap_mm", "spacer_width_mm"):
                value = getattr(part, name)
                if not (math.isfinite(value) and value >= 0):
                    raise PrescriptionError(f"{label}.{name} = {value}: must be a finite number >= 0")
            try:
                part.segmentation()
            except PrescriptionError as exc:
                raise PrescriptionError(f"{label}: {exc}") from None
            blocked = part.segments_per_layer * (part.segment_gap_mm + part.spacers_per_segment * part.spacer_width_mm)
            if blocked >= 2 * math.pi * r_low:
                raise PrescriptionError(
                    f"{label}.segment_gap_mm and spacer_width_mm: {part.segments_per_layer} segments block "
                    f"{blocked:.1f} mm, "
                    f"more than the circumference {2 * math.pi * r_low:.1f} mm at r = {r_low} mm"
                )
            # the innermost secondary cone of a part closes (r = 0) before its end if f is too short
            alpha = wolter_graze_angle_rad(r_low, f)
            if part.segment_length_mm * math.tan(3 * alpha) >= r_low:
                raise PrescriptionError(
                    f"focal_length_mm = {f} is too short for {label}.segment_length_mm = {part.segment_length_mm} at "
                    f"r = {r_low} mm: the secondary would close before its end"
                )
        bounds = [g.up_to_r_mm for g in self.coating_groups]
        if not bounds or bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise PrescriptionError("coating groups: give at least one, in increasing up_to_r_mm")
        if bounds[-1] < r_max:
            raise PrescriptionError(f"coating groups: the last up_to_r_mm = {bounds[-1]} must reach r_max_mm = {r_max}")


def read_design(path: str | Path) -> SegmentedDesign:
    """A segmented design from its TOML file (see geometries/babyiaxo_custom.toml for the format)."""
    path = Path(path)
    data = read_toml(path, "design", PrescriptionError)
    try:
        return design_from_dict(data, path.stem, path.parent)
    except PrescriptionError as exc:
        raise PrescriptionError(f"design {path}: {exc}") from None


_TOP_KEYS = (
    "name",
    "description",
    "focal_length_mm",
    "r_min_mm",
    "r_max_mm",
    "r_split_mm",
    "aperture",
    "spider",
    "inner",
    "outer",
    "coating",
)
_PART_KEYS = (
    "technology",
    "segment_length_mm",
    "glass_thickness_mm",
    "layer_gap_mm",
    "segments_per_layer",
    "segment_gap_mm",
    "spacers_per_segment",
    "spacer_width_mm",
    "azimuth_min_deg",
    "azimuth_max_deg",
    "slope_errors",
)
_SLOPE_KEYS = ("meridional_arcsec", "sagittal_arcsec", "wing_fraction", "wing_arcsec")
_SPIDER_KEYS = ("arms", "arm_width_mm", "rotation_deg")
_COATING_KEYS = ("up_to_r_mm", "recipe")


def design_from_dict(data: dict, default_name: str = "design", recipe_dir: Path | None = None) -> SegmentedDesign:
    _check_keys(data, _TOP_KEYS, "design")
    spider = None
    if "spider" in data:
        sp = _table(data, "spider", _SPIDER_KEYS)
        spider = Spider(
            n_spokes=_integer(sp, "arms", "spider"),
            spoke_width_mm=_real(sp, "arm_width_mm", "spider"),
            rotation_deg=_real(sp, "rotation_deg", "spider", 0.0),
        )
    groups = data.get("coating")
    if not isinstance(groups, list) or not groups:
        raise PrescriptionError("missing coating groups: add [[coating]] tables with up_to_r_mm and recipe")
    coating_groups = []
    for i, entry in enumerate(groups, start=1):
        where = f"coating group {i}"
        if not isinstance(entry, dict):
            raise PrescriptionError(f"{where}: must be a table, written [[coating]]")
        _check_keys(entry, _COATING_KEYS, where)
        recipe = entry.get("recipe")
        if not isinstance(recipe, str):
            raise PrescriptionError(f"{where}: recipe = {recipe!r}: must be a recipe name or a .toml path in quotes")
        coating_groups.append(CoatingGroup(_real(entry, "up_to_r_mm", where), recipe))
    specs = data.get("aperture", [])
    if not isinstance(specs, list) or not all(isinstance(a, str) for a in specs):
        raise PrescriptionError(f'aperture = {specs!r}: must be a list of texts such as ["circle:43"]')
    apertures = tuple(parse_aperture(a) for a in specs)
    name = data.get("name", default_name)
    description = data.get("description", "")
    for field, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise PrescriptionError(f"{field} = {value!r}: must be a string")
    return SegmentedDesign(
        name=name,
        focal_length_mm=_real(data, "focal_length_mm", "design"),
        r_min_mm=_real(data, "r_min_mm", "design"),
        r_max_mm=_real(data, "r_max_mm", "design"),
        r_split_mm=_real(data, "r_split_mm", "design"),
        inner=_part(data, "inner"),
        outer=_part(data, "outer"),
        coating_groups=tuple(coating_groups),
        spider=spider,
        description=description,
        recipe_dir=recipe_dir,
        apertures=apertures,
    )


def design_to_toml(design: SegmentedDesign) -> str:
    """The TOML text of a design; `design_from_dict(tomllib.loads(text))` gives the design back."""
    lines = [
        f"name = {_quote(design.name)}",
        f"description = {_quote(design.description)}",
        f"focal_length_mm = {_number(design.focal_length_mm)}",
        f"r_min_mm = {_number(design.r_min_mm)}",
        f"r_max_mm = {_number(design.r_max_mm)}",
        f"r_split_mm = {_number(design.r_split_mm)}",
    ]
    if design.apertures:
        lines.append("aperture = [" + ", ".join(_quote(a.spec()) for a in design.apertures) + "]")
    if design.spider is not None:
        sp = design.spider
        lines += [
            "",
            "[spider]",
            f"arms = {sp.n_spokes}",
            f"arm_width_mm = {_number(sp.spoke_width_mm)}",
            f"rotation_deg = {_number(sp.rotation_deg)}",
        ]
    for label in ("inner", "outer"):
        part = getattr(design, label)
        lines += ["", f"[{label}]", f"technology = {_quote(part.technology)}"]
        lines += [f"{key} = {_number(getattr(part, key))}" for key in _PART_KEYS[1:-1]]
        lines += ["", f"[{label}.slope_errors]"] + [
            f"{key} = {_number(getattr(part.slope_errors, key))}" for key in _SLOPE_KEYS
        ]
    for group in design.coating_groups:
        if not isinstance(group.recipe, str):
            raise PrescriptionError(
                f"coating group up to r = {group.up_to_r_mm} mm holds a coating made in memory: "
                "write the design with raytrace.output.write_design, which writes its recipe"
            )
        lines += ["", "[[coating]]", f"up_to_r_mm = {_number(group.up_to_r_mm)}", f"recipe = {_quote(group.recipe)}"]
    return "\n".join(lines) + "\n"


def _part(data: dict, label: str) -> PartDesign:
    part = _table(data, label, _PART_KEYS)
    slope = SlopeErrors()
    if "slope_errors" in part:
        entry = part["slope_errors"]
        if not isinstance(entry, dict):
            raise PrescriptionError(f"{label}.slope_errors: must be a table, written [{label}.slope_errors]")
        _check_keys(entry, _SLOPE_KEYS, f"{label}.slope_errors")
        values = {key: _real(entry, key, f"{label}.slope_errors", 0.0) for key in _SLOPE_KEYS}
        try:
            slope = SlopeErrors(**values)
        except PrescriptionError as exc:
            raise PrescriptionError(f"{label}: {exc}") from None
    technology = part.get("technology", label)
    if not isinstance(technology, str):
        raise PrescriptionError(f"{label}.technology = {technology!r}: must be a string")
    return PartDesign(
        technology=technology,
        segment_length_mm=_real(part, "segment_length_mm", label),
        glass_thickness_mm=_real(part, "glass_thickness_mm", label),
        layer_gap_mm=_real(part, "layer_gap_mm", label, 0.0),
        segments_per_layer=_integer(part, "segments_per_layer", label),
        segment_gap_mm=_real(part, "segment_gap_mm", label, 0.0),
        spacers_per_segment=_integer(part, "spacers_per_segment", label, 0),
        spacer_width_mm=_real(part, "spacer_width_mm", label, 0.0),
        azimuth_min_deg=_real(part, "azimuth_min_deg", label, 0.0),
        azimuth_max_deg=_real(part, "azimuth_max_deg", label, 360.0),
        slope_errors=slope,
    )


def _table(data: dict, key: str, allowed: tuple[str, ...]) -> dict:
    if key not in data:
        raise PrescriptionError(f"missing table [{key}]")
    entry = data[key]
    if not isinstance(entry, dict):
        raise PrescriptionError(f"{key}: must be a table, written [{key}]")
    _check_keys(entry, allowed, key)
    return entry


def _check_keys(entry: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in entry if k not in allowed]
    if unknown:
        raise PrescriptionError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})")


def _real(entry: dict, key: str, where: str, default: float | None = None) -> float:
    if key not in entry:
        if default is None:
            raise PrescriptionError(f"{where}: missing field {key!r}")
        return default
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PrescriptionError(f"{where}: {key} = {value!r}: must be a finite number")
    return float(value)


def _integer(entry: dict, key: str, where: str, default: int | None = None) -> int:
    if key not in entry:
        if default is None:
            raise PrescriptionError(f"{where}: missing field {key!r}")
        return default
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PrescriptionError(f"{where}: {key} = {value!r}: must be a whole number >= 0")
    return value


def _number(value) -> str:
    """A TOML number: Python's shortest round-trip repr of an int or a float (numpy scalars included)."""
    return repr(int(value)) if isinstance(value, (int, np.integer)) else repr(float(value))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
