"""Ray tracing of the Wolter-I X-ray optics of axion helioscopes (BabyIAXO's XMM-Newton module and its
hybrid custom optic): effective area, PSF, vignetting, coating reflectivity, the solar-axion spot and the
figures of merit f_O, f_D, f_DO, alignment tolerance, slope-error calibration, the f_DO optimiser and the projected
g_agamma(m_a) sensitivity.

    >>> import raytrace
    >>> print(f"{raytrace.psf('babyiaxo', 3.0).hpd_arcsec:.1f}")  # HPD (arcsec) at the best focus, as the CLI
    59.8
    >>> area = raytrace.effective_area("xmm", [1.5, 8.0])    # an astropy Table (energy, effective_area, ...)
    >>> [round(a) for a in area["effective_area"]]            # cm2 (the column's unit)
    [1410, 619]

Functions (defaults are the command line's): load, make_source, effective_area, offaxis_response, psf,
best_focus, vignetting, reflectivity, solar_source, solar_spot, tilt_scan, calibrate, fit_encircled, optimise,
sensitivity, preset_sensitivity (BabyIAXO, IAXO, IAXO+), rest2019_sensitivity. Plots return matplotlib Figures:
plot_effective_area, plot_offaxis_response, plot_psf, plot_comparison, plot_spot, plot_scan, plot_tilt,
plot_vignetting, plot_sensitivity, plot_family, plot_reflectivity, plot_cross_section; save_figure and the write_*
functions write files atomically.
Sources (ParallelBeam, PointSource, SolarSource) follow `raytrace.engine.source.Source`; the figures of merit live in
`raytrace.helioscope.merit`.
"""

import lazy_loader

import coatings.numba_cache  # noqa: F401  (first: it sets where numba caches, before numba is imported)

from .version import __version__ as __version__  # re-exported

# Each name loads its module on first use, so that `raytrace --help` does not wait for numba, astropy and matplotlib.
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "api": [
            "best_focus",
            "calibrate",
            "effective_area",
            "fit_encircled",
            "load",
            "make_source",
            "offaxis_response",
            "optimise",
            "preset_sensitivity",
            "psf",
            "psf_library",
            "reflectivity",
            "rest2019_sensitivity",
            "sensitivity",
            "solar_source",
            "solar_spot",
            "tilt_scan",
            "vignetting",
        ],
        "analysis": ["read_areas", "read_encircled", "read_king"],
        "errors": ["InputError"],
        "helioscope": ["Exposure", "Magnet", "load_detector", "load_magnet", "spot_arf", "spot_rmf"],
        "output": [
            "plot_comparison",
            "plot_cross_section",
            "plot_effective_area",
            "plot_family",
            "plot_offaxis_response",
            "plot_psf",
            "plot_reflectivity",
            "plot_scan",
            "plot_sensitivity",
            "plot_spot",
            "plot_tilt",
            "plot_vignetting",
            "save_figure",
            "write_arf",
            "write_design",
            "write_prescription",
            "write_psf",
            "write_rmf",
            "write_signal_cube",
            "write_table",
            "write_vignetting",
        ],
        "sources": ["ParallelBeam", "PointSource", "SolarSource"],
    },
)
__all__.append("__version__")
