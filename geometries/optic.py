"""Nested Wolter-I optics as immutable values.

An `Optic` is a focal length, a tuple of `Shell`s ordered from the axis outward,
an optional `Spider` at the entrance and a coating per shell. A shell may be made
of azimuthal segments (`Segmentation`: gaps between segments, spacers under them)
and carries the slope errors of its mirror technology (`SlopeErrors`). Changing
anything (coating, spider, slope errors) returns a new optic. Coordinates follow docs/physics/conventions.md:
focus at z = 0, intersection plane at z = f, the sky at +z.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # annotations only: the optic's module stays light (the command line's help reads it)
    from coatings import Coating

from .surfaces import Quadric, cone, offset_surface, wolter_graze_angle_rad, wolter_hyperboloid, wolter_paraboloid

Profile = Literal["wolter", "conical", "conical_as_built"]
PROFILES: tuple[str, ...] = ("wolter", "conical", "conical_as_built")
# As-built shell tables disagree by tens of micrometres here and there: overlaps up to this much are accepted
# with a warning that names the shells; larger ones are refused as for design profiles.
AS_BUILT_OVERLAP_TOLERANCE_MM = 0.05


MAX_SPOKES = 360
MAX_APERTURES = 8
FULL_TURN_DEG = 360.0
MAX_SLOPE_ERROR_ARCSEC = 600.0  # 3 mrad: beyond it the Gaussian tail reaches the smallest graze angles


class PrescriptionError(ValueError):
    """An optic prescription that cannot describe a working telescope."""


@dataclass(frozen=True)
class SlopeErrors:
    """Mirror slope errors applied at each reflection (angles in arcsec, rms).

    The surface normal is tilted by a Gaussian meridional (along the surface generator) and
    sagittal (azimuthal) slope error. With probability `wing_fraction` the meridional error is
    drawn from the broad `wing_arcsec` Gaussian instead of the core: the wide PSF wings of
    mid-frequency errors and scattering. A meridional error d deviates a grazing ray by 2 d; a
    sagittal one only by about 2 d sin(graze).
    """

    meridional_arcsec: float = 0.0
    sagittal_arcsec: float = 0.0
    wing_fraction: float = 0.0
    wing_arcsec: float = 0.0

    def __post_init__(self):
        for name in ("meridional_arcsec", "sagittal_arcsec", "wing_arcsec"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= MAX_SLOPE_ERROR_ARCSEC):
                raise PrescriptionError(
                    f"slope error {name} = {value}: must be from 0 to {MAX_SLOPE_ERROR_ARCSEC:g} arcsec"
                )
        if not 0.0 <= self.wing_fraction <= 1.0:
            raise PrescriptionError(f"slope error wing_fraction = {self.wing_fraction}: must be from 0 to 1")

    @property
    def is_perfect(self) -> bool:
        return (
            self.meridional_arcsec == 0.0
            and self.sagittal_arcsec == 0.0
            and (self.wing_fraction == 0.0 or self.wing_arcsec == 0.0)
        )


@dataclass(frozen=True)
class Segmentation:
    """A shell made of `segments` equal azimuthal segments, mounted on spacers.

    Segment joins lie at azimuths rotation + k 360 / segments; each is a strip of
    `gap_mm` (constant width) without mirror. The spacers under the shell (in the channel
    between it and the next inner shell) are strips of `spacer_width_mm`, evenly spread
    inside each segment: at (j + 1/2) / spacers_per_segment of its span.
    """

    segments: int
    gap_mm: float = 0.0
    spacers_per_segment: int = 0
    spacer_width_mm: float = 0.0
    rotation_deg: float = 0.0

    def __post_init__(self):
        if not 1 <= self.segments <= MAX_SPOKES:
            raise PrescriptionError(f"segments = {self.segments}: must be from 1 to {MAX_SPOKES}")
        if not 0 <= self.spacers_per_segment * self.segments <= MAX_SPOKES:
            raise PrescriptionError(
                f"spacers_per_segment = {self.spacers_per_segment}: must be >= 0 with at most {MAX_SPOKES} spacers "
                "per shell"
            )
        for name in ("gap_mm", "spacer_width_mm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise PrescriptionError(f"segmentation {name} = {value}: must be a finite number >= 0")
        if not math.isfinite(self.rotation_deg):
            raise PrescriptionError(f"segmentation rotation_deg = {self.rotation_deg}: must be finite")

    def blocked_width_mm(self) -> float:
        """Total azimuthal width of joins and spacers (mm), a fraction of the circumference 2 pi r."""
        return self.segments * (self.gap_mm + self.spacers_per_segment * self.spacer_width_mm)


@dataclass(frozen=True)
class Shell:
    """One mirror shell: primary above the intersection plane, secondary below.

    Thickness extends radially outward from the reflecting surface.
    """

    r_intersect_mm: float
    thickness_mm: float
    primary_length_mm: float
    secondary_length_mm: float
    profile: Profile = "wolter"
    segmentation: Segmentation | None = None
    slope_errors: SlopeErrors = SlopeErrors()
    # a partial-azimuth shell covers azimuth_min_deg .. azimuth_max_deg (counter-clockwise)
    azimuth_min_deg: float = 0.0
    azimuth_max_deg: float = FULL_TURN_DEG
    # profile "conical_as_built": measured radii (R1, R2 the primary's entrance and exit, R4, R5 the secondary's) and
    # the axial gap between primary and secondary, centred on the intersection plane z = f
    r1_mm: float | None = None
    r2_mm: float | None = None
    r4_mm: float | None = None
    r5_mm: float | None = None
    gap_mm: float = 0.0

    @property
    def is_full_turn(self) -> bool:
        return self.azimuth_max_deg - self.azimuth_min_deg >= FULL_TURN_DEG

    def graze_angle_rad(self, focal_length_mm: float) -> float:
        """The on-axis graze angle on the primary: its measured slope for an as-built shell, else atan(r0 / f) / 4."""
        if self.profile == "conical_as_built":
            return math.atan2(self.r1_mm - self.r2_mm, self.primary_length_mm)
        return wolter_graze_angle_rad(self.r_intersect_mm, focal_length_mm)

    def primary(self, focal_length_mm: float) -> Quadric:
        f = focal_length_mm
        if self.profile == "wolter":
            return wolter_paraboloid(self.r_intersect_mm, f, self.primary_length_mm)
        if self.profile == "conical_as_built":
            bottom = f + 0.5 * self.gap_mm
            slope = (self.r1_mm - self.r2_mm) / self.primary_length_mm
            return cone(self.r2_mm, slope, bottom, bottom, bottom + self.primary_length_mm)
        alpha = self.graze_angle_rad(f)
        return cone(self.r_intersect_mm, math.tan(alpha), f, f, f + self.primary_length_mm)

    def secondary(self, focal_length_mm: float) -> Quadric:
        f = focal_length_mm
        if self.profile == "wolter":
            return wolter_hyperboloid(self.r_intersect_mm, f, self.secondary_length_mm)
        if self.profile == "conical_as_built":
            top = f - 0.5 * self.gap_mm
            slope = (self.r4_mm - self.r5_mm) / self.secondary_length_mm
            return cone(self.r4_mm, slope, top, top - self.secondary_length_mm, top)
        alpha = self.graze_angle_rad(f)
        return cone(self.r_intersect_mm, math.tan(3.0 * alpha), f, f - self.secondary_length_mm, f)

    @classmethod
    def as_built(
        cls,
        r1_mm: float,
        r2_mm: float,
        r4_mm: float,
        r5_mm: float,
        primary_length_mm: float,
        secondary_length_mm: float,
        thickness_mm: float,
        gap_mm: float = 0.0,
        **others,
    ) -> "Shell":
        """A conical shell from its measured radii; its nominal intersection radius is the mean of R2 and R4."""
        return cls(
            0.5 * (r2_mm + r4_mm),
            thickness_mm,
            primary_length_mm,
            secondary_length_mm,
            "conical_as_built",
            r1_mm=r1_mm,
            r2_mm=r2_mm,
            r4_mm=r4_mm,
            r5_mm=r5_mm,
            gap_mm=gap_mm,
            **others,
        )

    def entrance_radius_mm(self, focal_length_mm: float) -> float:
        """R1: radius of the primary's front edge."""
        p = self.primary(focal_length_mm)
        return float(p.radius_mm(p.z_max_mm))

    def primary_exit_radius_mm(self, focal_length_mm: float) -> float:
        """R2: radius of the primary's lower edge (R3, the intersection radius, unless a gap separates the mirrors)."""
        p = self.primary(focal_length_mm)
        return float(p.radius_mm(p.z_min_mm))

    def exit_radius_mm(self, focal_length_mm: float) -> float:
        """R5: radius of the secondary's rear edge."""
        s = self.secondary(focal_length_mm)
        return float(s.radius_mm(s.z_min_mm))


@dataclass(frozen=True)
class Spider:
    """Radial spokes in the entrance plane.

    A spoke blocks a ray whose azimuth lies within `spoke_width_deg / 2` of the
    spoke's axis or whose perpendicular distance from that axis is below
    `spoke_width_mm / 2` (a wedge, a bar of constant width, or both).
    """

    n_spokes: int
    spoke_width_deg: float = 0.0
    spoke_width_mm: float = 0.0
    rotation_deg: float = 0.0

    def __post_init__(self):
        if not 1 <= self.n_spokes <= MAX_SPOKES:
            raise PrescriptionError(f"spider n_spokes = {self.n_spokes}: must be from 1 to {MAX_SPOKES}")
        if not 0.0 <= self.spoke_width_deg < min(180.0, 360.0 / self.n_spokes):
            raise PrescriptionError(
                f"spider spoke_width_deg = {self.spoke_width_deg}: must be >= 0 and below 360/n_spokes and 180"
            )
        if self.spoke_width_mm < 0.0:
            raise PrescriptionError(f"spider spoke_width_mm = {self.spoke_width_mm}: must be >= 0")


@dataclass(frozen=True)
class CircleAperture:
    """A circular opening of `radius_mm` about (centre_x_mm, centre_y_mm)."""

    radius_mm: float
    centre_x_mm: float = 0.0
    centre_y_mm: float = 0.0

    def __post_init__(self):
        _check_finite(self, ("radius_mm", "centre_x_mm", "centre_y_mm"))
        if not self.radius_mm > 0:
            raise PrescriptionError(f"aperture {self.spec()}: the radius must be > 0")

    def spec(self) -> str:
        centre = f"@{self.centre_x_mm:g},{self.centre_y_mm:g}" if self.centre_x_mm or self.centre_y_mm else ""
        return f"circle:{self.radius_mm:g}{centre}"

    def radial_bounds_mm(self) -> tuple[float, float]:
        distance = math.hypot(self.centre_x_mm, self.centre_y_mm)
        return max(0.0, distance - self.radius_mm), distance + self.radius_mm

    def azimuth_range_rad(self) -> tuple[float, float] | None:
        """(start, span) of the azimuths the opening covers, or None for all of them."""
        distance = math.hypot(self.centre_x_mm, self.centre_y_mm)
        if distance <= self.radius_mm:
            return None
        half = math.asin(self.radius_mm / distance)
        return math.atan2(self.centre_y_mm, self.centre_x_mm) - half, 2.0 * half


@dataclass(frozen=True)
class AnnulusAperture:
    """An annular opening r_min_mm <= r < r_max_mm about the axis."""

    r_min_mm: float
    r_max_mm: float

    def __post_init__(self):
        _check_finite(self, ("r_min_mm", "r_max_mm"))
        if not 0 <= self.r_min_mm < self.r_max_mm:
            raise PrescriptionError(f"aperture {self.spec()}: need 0 <= RMIN < RMAX")

    def spec(self) -> str:
        return f"annulus:{self.r_min_mm:g}:{self.r_max_mm:g}"

    def radial_bounds_mm(self) -> tuple[float, float]:
        return self.r_min_mm, self.r_max_mm

    def azimuth_range_rad(self) -> tuple[float, float] | None:
        return None


@dataclass(frozen=True)
class SectorAperture:
    """A sector of azimuths phi_min_deg .. phi_max_deg (counter-clockwise from +x) about the axis."""

    phi_min_deg: float
    phi_max_deg: float

    def __post_init__(self):
        _check_finite(self, ("phi_min_deg", "phi_max_deg"))
        if not 0 < self.phi_max_deg - self.phi_min_deg <= FULL_TURN_DEG:
            raise PrescriptionError(f"aperture {self.spec()}: need PHI1 < PHI2 <= PHI1 + 360")

    def spec(self) -> str:
        return f"sector:{self.phi_min_deg:g}:{self.phi_max_deg:g}"

    def radial_bounds_mm(self) -> tuple[float, float]:
        return 0.0, math.inf

    def azimuth_range_rad(self) -> tuple[float, float] | None:
        return math.radians(self.phi_min_deg), math.radians(self.phi_max_deg - self.phi_min_deg)


Aperture = CircleAperture | AnnulusAperture | SectorAperture
APERTURE_FORMS = "circle:RADIUS_MM, circle:RADIUS_MM@X_MM,Y_MM, annulus:RMIN_MM:RMAX_MM or sector:PHI1_DEG:PHI2_DEG"


def parse_aperture(spec: str) -> Aperture:
    """An aperture from its text form (APERTURE_FORMS); PrescriptionError names what is wrong."""
    kind, _, rest = str(spec).strip().partition(":")
    try:
        if kind == "circle":
            radius, _, centre = rest.partition("@")
            x, y = (float(v) for v in centre.split(",")) if centre else (0.0, 0.0)
            return CircleAperture(float(radius), x, y)
        if kind == "annulus":
            r_min, r_max = (float(v) for v in rest.split(":"))
            return AnnulusAperture(r_min, r_max)
        if kind == "sector":
            phi1, phi2 = (float(v) for v in rest.split(":"))
            return SectorAperture(phi1, phi2)
    except PrescriptionError:  # well formed, but the values are not allowed: the aperture's own message says why
        raise
    except ValueError:
        pass
    raise PrescriptionError(f"aperture {spec!r}: expected {APERTURE_FORMS}")


def _check_finite(entry, fields) -> None:
    for field in fields:
        if not math.isfinite(getattr(entry, field)):
            raise PrescriptionError(
                f"aperture {type(entry).__name__}: {field} = {getattr(entry, field)}: must be finite"
            )


@dataclass(frozen=True)
class Optic:
    """A nested Wolter-I optic: the shells ordered by intersection radius, axis outward."""

    name: str
    focal_length_mm: float
    shells: tuple[Shell, ...]
    coatings: tuple[Coating, ...]
    spider: Spider | None = None
    source: str = ""
    apertures: tuple[Aperture, ...] = ()  # openings in a plate at the entrance (the spider plane); they intersect

    def __post_init__(self):
        validate(self)

    @property
    def n_shells(self) -> int:
        return len(self.shells)

    def with_coating(self, coating: Coating) -> "Optic":
        return dataclasses.replace(self, coatings=(coating,) * self.n_shells)

    def with_spider(self, spider: Spider | None) -> "Optic":
        return dataclasses.replace(self, spider=spider)

    def with_apertures(self, apertures) -> "Optic":
        """A copy whose entrance has these apertures as well as its own (texts such as 'circle:21.5' or Apertures)."""
        extra = tuple(parse_aperture(a) if isinstance(a, str) else a for a in apertures)
        return dataclasses.replace(self, apertures=self.apertures + extra)

    def with_slope_errors(self, slope_errors) -> "Optic":
        """A copy with these slope errors: one `SlopeErrors` for every shell or a sequence of one per shell."""
        per_shell = (slope_errors,) * self.n_shells if isinstance(slope_errors, SlopeErrors) else tuple(slope_errors)
        if len(per_shell) != self.n_shells:
            raise PrescriptionError(
                f"{len(per_shell)} slope errors given for {self.n_shells} shells: need one per shell"
            )
        shells = tuple(dataclasses.replace(s, slope_errors=e) for s, e in zip(self.shells, per_shell))
        return dataclasses.replace(self, shells=shells)

    def is_segmented(self) -> bool:
        return any(s.segmentation is not None for s in self.shells)

    def entrance_radii_mm(self) -> np.ndarray:
        return np.array([s.entrance_radius_mm(self.focal_length_mm) for s in self.shells])

    def exit_radii_mm(self) -> np.ndarray:
        return np.array([s.exit_radius_mm(self.focal_length_mm) for s in self.shells])

    def intersect_radii_mm(self) -> np.ndarray:
        return np.array([s.r_intersect_mm for s in self.shells])

    def thicknesses_mm(self) -> np.ndarray:
        return np.array([s.thickness_mm for s in self.shells])

    def graze_angles_rad(self) -> np.ndarray:
        return np.array([s.graze_angle_rad(self.focal_length_mm) for s in self.shells])

    def top_z_mm(self) -> np.ndarray:
        return np.array([s.primary(self.focal_length_mm).z_max_mm for s in self.shells])

    def open_area_cm2(self) -> float:
        """Sum of the primaries' on-axis annuli [R2, R1] (R2 = R3 without a gap), each over its shell's azimuth range,
        before spider and reflectivity."""
        r1 = self.entrance_radii_mm()
        r2 = np.array([s.primary_exit_radius_mm(self.focal_length_mm) for s in self.shells])
        turns = np.array(
            [min(s.azimuth_max_deg - s.azimuth_min_deg, FULL_TURN_DEG) / FULL_TURN_DEG for s in self.shells]
        )
        return float(np.pi * np.sum(turns * (r1**2 - r2**2)) / 100.0)

    def surfaces(self) -> list[tuple[Quadric, Quadric, Quadric, Quadric]]:
        """Per shell: primary, secondary, back of primary, back of secondary."""
        out = []
        for s in self.shells:
            p = s.primary(self.focal_length_mm)
            h = s.secondary(self.focal_length_mm)
            out.append((p, h, offset_surface(p, s.thickness_mm), offset_surface(h, s.thickness_mm)))
        return out


def _check_spider_leaves_light(spider: Spider, outer_radius_mm: float) -> None:
    """Refuse a spider whose spokes cover every azimuth out to the outermost shell's entrance: nothing would be
    focused. A bar of width w covers asin(w / 2r) either side of its axis at radius r; a spoke blocks what its wedge
    or its bar covers, so the wider of the two."""
    half_bar_deg = math.degrees(math.asin(min(1.0, spider.spoke_width_mm / (2.0 * outer_radius_mm))))
    if max(spider.spoke_width_deg, 2.0 * half_bar_deg) >= 360.0 / spider.n_spokes:
        raise PrescriptionError(
            f"spider: {spider.n_spokes} spokes of {spider.spoke_width_mm:g} mm and {spider.spoke_width_deg:g} deg "
            "cover "
            f"the whole entrance out to the outermost shell (r = {outer_radius_mm:.1f} mm); at that radius each spoke "
            f"must stay below {2.0 * outer_radius_mm * math.sin(math.pi / spider.n_spokes):.1f} mm "
            f"(and {360.0 / spider.n_spokes:g} deg)"
        )


def validate(optic: Optic) -> None:
    """Raise PrescriptionError naming the shell and value that make the optic unusable."""
    f = optic.focal_length_mm
    if not (math.isfinite(f) and f > 0):
        raise PrescriptionError(f"focal_length_mm = {f}: must be a finite number > 0")
    if not optic.shells:
        raise PrescriptionError("the optic has no shells")
    if len(optic.coatings) != len(optic.shells):
        raise PrescriptionError(
            f"{len(optic.coatings)} coatings given for {len(optic.shells)} shells: need one per shell"
        )
    for i, s in enumerate(optic.shells, start=1):
        for field in ("r_intersect_mm", "thickness_mm", "primary_length_mm", "secondary_length_mm"):
            value = getattr(s, field)
            if not (math.isfinite(value) and value > 0):
                raise PrescriptionError(f"shell {i}: {field} = {value}: must be a finite number > 0")
        if s.profile not in PROFILES:
            raise PrescriptionError(f"shell {i}: profile = {s.profile!r}: allowed values are {', '.join(PROFILES)}")
        if s.profile == "conical_as_built":
            _check_as_built(i, s)
        if s.segmentation is not None and s.segmentation.blocked_width_mm() >= 2.0 * math.pi * s.r_intersect_mm:
            raise PrescriptionError(
                f"shell {i}: segment gaps and spacers ({s.segmentation.blocked_width_mm():.1f} mm) leave no room on "
                f"its circumference ({2.0 * math.pi * s.r_intersect_mm:.1f} mm)"
            )
        if s.r_intersect_mm >= f:
            raise PrescriptionError(
                f"shell {i}: r_intersect_mm = {s.r_intersect_mm} is not below focal_length_mm = {f}"
            )
        span = s.azimuth_max_deg - s.azimuth_min_deg
        if not (math.isfinite(s.azimuth_min_deg) and math.isfinite(span) and 0 < span <= FULL_TURN_DEG):
            raise PrescriptionError(
                f"shell {i}: azimuth_min_deg = {s.azimuth_min_deg}, azimuth_max_deg = "
                f"{s.azimuth_max_deg}: need min < max <= min + 360"
            )
        if s.secondary_length_mm >= f:
            raise PrescriptionError(
                f"shell {i}: secondary_length_mm = {s.secondary_length_mm} reaches the focal plane (f = {f} mm)"
            )
        exit_r = s.exit_radius_mm(f)
        if not (math.isfinite(exit_r) and exit_r > 0):
            raise PrescriptionError(
                f"shell {i}: secondary_length_mm = {s.secondary_length_mm} is too long: the secondary closes before "
                "its end"
            )
    if len(optic.apertures) > MAX_APERTURES:
        raise PrescriptionError(f"{len(optic.apertures)} apertures: at most {MAX_APERTURES} are allowed")
    if optic.spider is not None:
        _check_spider_leaves_light(optic.spider, float(optic.entrance_radii_mm().max()))
    tolerated = []  # overlaps within the as-built tolerance, one per pair of neighbours (its largest)
    for i in range(1, len(optic.shells)):
        inner, outer = optic.shells[i - 1], optic.shells[i]
        if outer.r_intersect_mm <= inner.r_intersect_mm:
            raise PrescriptionError(
                f"shell {i + 1}: r_intersect_mm = {outer.r_intersect_mm} is not larger than shell {i}'s "
                f"{inner.r_intersect_mm}: shells must be ordered from the axis outward"
            )
        tolerance = AS_BUILT_OVERLAP_TOLERANCE_MM if "conical_as_built" in (inner.profile, outer.profile) else 0.0
        aperture_edge = outer.primary_exit_radius_mm(f)
        front_outer = inner.entrance_radius_mm(f) + inner.thickness_mm
        if front_outer - aperture_edge > tolerance:
            raise PrescriptionError(
                f"shell {i}: front edge reaches r = {front_outer:.4f} mm (R1 + thickness), beyond r = "
                f"{aperture_edge:.4f} mm, where shell {i + 1}'s primary ends: it shadows shell {i + 1}'s on-axis "
                "aperture"
            )
        overlaps = [(front_outer - aperture_edge, "front edge")]
        for z, label in _clearance_heights(inner, outer, f):
            gap = _radius(outer, z, f) - (_radius(inner, z, f) + inner.thickness_mm)
            if -gap > tolerance:
                raise PrescriptionError(
                    f"shells {i} and {i + 1} overlap at z = {z:.1f} mm ({label}): the back of shell {i} is "
                    f"{-gap:.4f} mm beyond the mirror of shell {i + 1}"
                )
            overlaps.append((-gap, label))
        overlap, where = max(overlaps)
        if overlap > 0:
            tolerated.append(f"{i}-{i + 1} by {overlap * 1000:.0f} um ({where})")
    if tolerated:
        warnings.warn(
            f"neighbouring shells overlap within the as-built tolerance of "
            f"{AS_BUILT_OVERLAP_TOLERANCE_MM * 1000:g} um: {', '.join(tolerated)}",
            stacklevel=3,
        )


def _check_as_built(i: int, s: Shell) -> None:
    radii = {name: getattr(s, name) for name in ("r1_mm", "r2_mm", "r4_mm", "r5_mm")}
    for name, value in radii.items():
        if value is None or not (math.isfinite(value) and value > 0):
            raise PrescriptionError(f"shell {i}: {name} = {value}: an as-built shell needs all of R1, R2, R4, R5 > 0")
    if not (radii["r1_mm"] > radii["r2_mm"] and radii["r4_mm"] > radii["r5_mm"]):
        raise PrescriptionError(
            f"shell {i}: radii R1 = {radii['r1_mm']}, R2 = {radii['r2_mm']}, R4 = {radii['r4_mm']}, "
            f"R5 = {radii['r5_mm']}: a Wolter-I shell narrows towards the focus (R1 > R2, R4 > R5)"
        )
    if not (math.isfinite(s.gap_mm) and s.gap_mm >= 0):
        raise PrescriptionError(f"shell {i}: gap_mm = {s.gap_mm}: must be a finite number >= 0")


def _clearance_heights(inner: Shell, outer: Shell, f: float) -> list[tuple[float, str]]:
    """Where the back of the inner shell comes closest to the outer shell's mirror: the entrance, the ends of the
    mirrors next to the intersection plane (the same plane unless there is a gap between primary and secondary)
    and the exit."""
    top = min(inner.primary(f).z_max_mm, outer.primary(f).z_max_mm)
    primary_end = max(inner.primary(f).z_min_mm, outer.primary(f).z_min_mm)
    secondary_end = min(inner.secondary(f).z_max_mm, outer.secondary(f).z_max_mm)
    bottom = max(inner.secondary(f).z_min_mm, outer.secondary(f).z_min_mm)
    if secondary_end < primary_end:
        middle = [(primary_end, "lower end of the primaries"), (secondary_end, "upper end of the secondaries")]
    else:
        middle = [(primary_end, "intersection plane")]
    return [(top, "entrance"), *middle, (bottom, "exit")]


def _radius(shell: Shell, z: float, f: float) -> float:
    surface = shell.primary(f) if z >= f else shell.secondary(f)
    return float(surface.radius_mm(z))
