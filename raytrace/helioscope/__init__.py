"""From optics to a helioscope: the detector, the figures of merit (one module), the solar-axion spot,
alignment tolerance, the f_DO optimiser and the projected sensitivity to g_agamma."""

from .detector import Detector, DetectorError, load_detector
from .conversion import conversion_probability
from .merit import Exposure, FiguresOfMerit, Magnet, figures_of_merit, load_magnet
from .optimise import ScanResult, ScanSettings
from .spot import SpotResult, solar_spot
from .tolerance import Misalignment, tilt_scan

__all__ = ["Detector", "DetectorError", "Exposure", "FiguresOfMerit", "Magnet", "Misalignment", "ScanResult",
           "ScanSettings", "SpotResult", "conversion_probability", "figures_of_merit", "load_detector", "load_magnet",
           "solar_spot", "tilt_scan"]
