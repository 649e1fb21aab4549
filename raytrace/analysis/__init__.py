"""What comes out of a trace: effective area, PSF and encircled energy, vignetting, coating reflectivity
curves, the calibration of slope errors to a measured PSF, and the readers of measured data.

The names below load their modules on first use (lazy_loader): an area table does not load the calibration's
fitting library.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "area": ["effective_area"],
        "calibration": ["Calibration", "CalibrationError", "PsfFit", "calibrate", "fit_psf", "king_encircled"],
        "measurements": ["read_areas", "read_encircled", "read_king"],
        "psf": ["PsfResult", "best_focus_z_mm", "psf"],
        "reflectivity": ["reflectivity_curves"],
        "vignetting": ["offaxis_response", "vignetting"],
    },
)
