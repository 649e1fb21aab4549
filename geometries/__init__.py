"""What the optic is: surfaces, shells, whole optics and their prescription files."""

from .optic import Optic, PrescriptionError, Shell, Spider
from .prescription import load_design, load_optic, read_prescription, shipped_optics
from .surfaces import Quadric, wolter_graze_angle_rad

__all__ = [
    "Optic",
    "PrescriptionError",
    "Quadric",
    "Shell",
    "Spider",
    "load_design",
    "load_optic",
    "read_prescription",
    "shipped_optics",
    "wolter_graze_angle_rad",
]
