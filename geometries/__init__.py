"""What the optic is: surfaces, shells, whole optics and their prescription files.

The names below load their modules on first use (lazy_loader), so that importing a light module of the package
(e.g. for the command line's help) does not load astropy and numba.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "optic": [
            "AnnulusAperture",
            "CircleAperture",
            "Optic",
            "PrescriptionError",
            "SectorAperture",
            "Shell",
            "Spider",
            "parse_aperture",
        ],
        "prescription": ["is_design", "is_optic", "load_design", "load_optic", "read_prescription", "shipped_optics"],
        "surfaces": ["ARCSEC_PER_RAD", "Quadric", "wolter_graze_angle_rad"],
    },
)
