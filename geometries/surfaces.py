"""Stateless surfaces of revolution about the optical axis z.

Every mirror surface of a Wolter-I telescope (paraboloid, hyperboloid, cone) and
the back of every shell is a quadric of revolution

    x^2 + y^2 = A w^2 + B w + C,   w = z - z_ref,

restricted to z_min <= z <= z_max. Coefficients are taken about a reference plane
z_ref near the surface (the intersection plane of its shell) so that the three
terms stay of the order of r^2 and the ray intersection stays well conditioned.
Lengths are in mm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quadric:
    """x^2 + y^2 = a_coef w^2 + b_coef w + c_coef with w = z - z_ref_mm, z in [z_min_mm, z_max_mm]."""

    a_coef: float
    b_coef: float
    c_coef: float
    z_ref_mm: float
    z_min_mm: float
    z_max_mm: float

    def radius_mm(self, z_mm):
        """Radius of the surface at height z (mm); NaN outside the surface's z range."""
        z = np.asarray(z_mm, dtype=float)
        w = z - self.z_ref_mm
        r2 = self.a_coef * w * w + self.b_coef * w + self.c_coef
        inside = (z >= self.z_min_mm) & (z <= self.z_max_mm) & (r2 >= 0)
        return np.where(inside, np.sqrt(np.where(r2 >= 0, r2, 0.0)), np.nan)

    def as_row(self) -> tuple[float, float, float, float, float, float]:
        return (self.a_coef, self.b_coef, self.c_coef, self.z_ref_mm, self.z_min_mm, self.z_max_mm)


def cone(radius_at_ref_mm: float, slope: float, z_ref_mm: float, z_min_mm: float, z_max_mm: float) -> Quadric:
    """Cone r = radius_at_ref + slope (z - z_ref), i.e. r^2 = slope^2 w^2 + 2 r slope w + r^2.

    The quadric also holds the mirror branch r = -(...); it is excluded by requiring
    the apex to lie outside [z_min, z_max].
    """
    if slope != 0.0:
        z_apex = z_ref_mm - radius_at_ref_mm / slope
        if z_min_mm <= z_apex <= z_max_mm:
            raise ValueError(f"cone apex z = {z_apex:.3f} mm lies inside its z range [{z_min_mm}, {z_max_mm}] mm")
    return Quadric(slope * slope, 2.0 * radius_at_ref_mm * slope, radius_at_ref_mm**2, z_ref_mm, z_min_mm, z_max_mm)


def wolter_paraboloid(r0_mm: float, focal_length_mm: float, length_mm: float) -> Quadric:
    """Primary of a true Wolter-I shell: r^2 = r0^2 + 2 r0 tan(alpha) (z - f), z in [f, f + L]."""
    alpha = wolter_graze_angle_rad(r0_mm, focal_length_mm)
    f = focal_length_mm
    return Quadric(0.0, 2.0 * r0_mm * math.tan(alpha), r0_mm**2, f, f, f + length_mm)


def wolter_hyperboloid(r0_mm: float, focal_length_mm: float, length_mm: float) -> Quadric:
    """Secondary of a true Wolter-I shell, confocal with the paraboloid and the focus at z = 0.

    Foci at z = 0 and z_P = f - r0 / tan(2 alpha); passes through (z = f, r = r0).
    r^2 = b^2 ((z - z_c)^2 / a^2 - 1), expanded about w = z - f.
    """
    alpha = wolter_graze_angle_rad(r0_mm, focal_length_mm)
    f = focal_length_mm
    z_p = f - r0_mm / math.tan(2.0 * alpha)
    z_c = 0.5 * z_p
    c = 0.5 * abs(z_p)
    a = 0.5 * (math.hypot(r0_mm, f - z_p) - math.hypot(r0_mm, f))
    b2 = c * c - a * a
    k = b2 / (a * a)
    u = f - z_c  # z - z_c = w + u
    # b^2((w+u)^2/a^2 - 1) = k w^2 + 2 k u w + (k u^2 - b^2); the constant equals r0^2 by construction.
    return Quadric(k, 2.0 * k * u, r0_mm**2, f, f - length_mm, f)


ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0


def wolter_graze_angle_rad(r0_mm: float, focal_length_mm: float) -> float:
    """On-axis graze angle at the intersection plane: alpha = atan(r0 / f) / 4."""
    return math.atan2(r0_mm, focal_length_mm) / 4.0


def offset_surface(surface: Quadric, thickness_mm: float) -> Quadric:
    """Quadric through the surface pushed radially outward by a constant thickness.

    r(z) + t is exactly a quadric for a cone; for a paraboloid or hyperboloid the
    quadric through three heights deviates from it by far less than 1e-6 mm over a
    mirror (third-order term of the radius expansion), which is what the tracer
    needs for the absorbing back of a shell.
    """
    z_ref = surface.z_ref_mm
    zs = np.array([surface.z_min_mm, 0.5 * (surface.z_min_mm + surface.z_max_mm), surface.z_max_mm])
    r_back = surface.radius_mm(zs) + thickness_mm
    w = zs - z_ref
    design = np.stack([w * w, w, np.ones_like(w)], axis=1)
    a_coef, b_coef, c_coef = np.linalg.solve(design, r_back**2)
    return Quadric(float(a_coef), float(b_coef), float(c_coef), z_ref, surface.z_min_mm, surface.z_max_mm)
