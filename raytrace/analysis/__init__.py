"""What comes out of a trace: effective area, PSF and encircled energy, vignetting, coating reflectivity
curves, and the calibration of slope errors to a measured PSF."""

from .area import effective_area
from .calibration import Calibration, CalibrationError, calibrate
from .psf import PsfResult, best_focus_z_mm, psf
from .reflectivity import reflectivity_curves
from .vignetting import offaxis_response, vignetting

__all__ = ["Calibration", "CalibrationError", "PsfResult", "best_focus_z_mm", "calibrate", "effective_area", "offaxis_response", "psf",
           "reflectivity_curves", "vignetting"]
