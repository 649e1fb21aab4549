"""What the optic is: surfaces, shells, whole optics and their prescription files."""

from .optic import (AnnulusAperture, CircleAperture, Optic, PrescriptionError, SectorAperture, Shell, Spider,
                    parse_aperture)
from .prescription import is_design, is_optic, load_design, load_optic, read_prescription, shipped_optics
from .surfaces import ARCSEC_PER_RAD, Quadric, wolter_graze_angle_rad

__all__ = [
    "ARCSEC_PER_RAD",
    "AnnulusAperture",
    "CircleAperture",
    "SectorAperture",
    "parse_aperture",
    "Optic",
    "PrescriptionError",
    "Quadric",
    "Shell",
    "Spider",
    "is_design",
    "is_optic",
    "load_design",
    "load_optic",
    "read_prescription",
    "shipped_optics",
    "wolter_graze_angle_rad",
]
