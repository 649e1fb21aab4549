"""From optics to a helioscope: the detector, the figures of merit (one module), the solar-axion spot,
alignment tolerance, the f_DO optimiser and the projected sensitivity to g_agamma.

The names below load their modules on first use (lazy_loader): a spot does not load the sensitivity's statistics.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "conversion": ["conversion_probability"],
        "detector": ["Detector", "DetectorError", "load_detector"],
        "merit": ["Exposure", "FiguresOfMerit", "Magnet", "figures_of_merit", "load_magnet"],
        "optimise": ["ScanResult", "ScanSettings"],
        "response": ["Rmf", "spot_arf", "spot_rmf"],
        "spot": ["SpotResult", "solar_spot"],
        "tolerance": ["Misalignment", "tilt_scan"],
    },
)
