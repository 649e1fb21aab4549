"""From optics to a helioscope: the detector, the figures of merit (one module), the solar-axion spot,
alignment tolerance and the f_DO optimiser."""

from .detector import Detector, DetectorError, load_detector
from .conversion import conversion_probability
from .merit import Exposure, FiguresOfMerit, Magnet, figures_of_merit
from .optimise import ScanResult, ScanSettings
from .spot import SpotResult, solar_spot
from .tolerance import Misalignment, tilt_scan

__all__ = ["Detector", "DetectorError", "Exposure", "FiguresOfMerit", "Magnet", "Misalignment", "ScanResult",
           "ScanSettings", "SpotResult", "conversion_probability", "figures_of_merit", "load_detector", "solar_spot",
           "tilt_scan"]
