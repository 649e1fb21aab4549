"""Results to files and figures: astropy tables (ECSV, FITS), OGIP ARF and RMF files, FITS images, prescriptions and
designs (all written atomically), and plots that return matplotlib Figures."""

from .files import (
                    OutputError,
                    atomic_path,
                    check_writable,
                    write_arf,
                    write_design,
                    write_prescription,
                    write_psf,
                    write_rmf,
                    write_signal_cube,
                    write_table,
                    write_vignetting,
)
from .plots import (
                    plot_comparison,
                    plot_cross_section,
                    plot_effective_area,
                    plot_family,
                    plot_offaxis_response,
                    plot_psf,
                    plot_reflectivity,
                    plot_scan,
                    plot_sensitivity,
                    plot_spot,
                    plot_tilt,
                    plot_vignetting,
                    save_figure,
)

__all__ = ["OutputError", "atomic_path", "check_writable", "plot_comparison", "plot_cross_section",
           "plot_effective_area", "plot_family", "plot_offaxis_response", "plot_psf", "plot_reflectivity", "plot_scan",
           "plot_sensitivity", "plot_spot", "plot_tilt", "plot_vignetting", "save_figure", "write_arf", "write_design",
           "write_psf", "write_prescription", "write_rmf", "write_signal_cube", "write_table", "write_vignetting"]
