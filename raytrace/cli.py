"""The `raytrace` command line."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np

from . import __version__
from .calibration import DEFAULT_WING_FRACTION
from .engine import DEFAULT_CHUNK_SIZE
from .progress import Progress

EXIT_USAGE = 2
DEMO_PSF_KEV = 3.0
SPOT_FOCUS_KEV = 4.0  # near the peak of the detected solar-axion spectrum
TILT_UNITS = {"arcsec": 1 / 3600, "arcmin": 1 / 60, "deg": 1.0, "mrad": 180 / (1000 * math.pi)}  # degrees per unit
MAX_GRID_VALUES = 100_000
MAX_GRAZE_MRAD = 1000.0

EPILOG_AREA = """examples:
  raytrace area xmm --energies 0.5:12:0.1 -o xmm_area.ecsv
  raytrace area xmm --energies 1.5,4.5,6.4 --off-axis 3 --azimuth 45
  raytrace area my_optic.ecsv --energies 1:10:0.5 -o my_optic.arf"""
EPILOG_REFLECTIVITY = """examples:
  raytrace reflectivity au250_ni --energies 0.5:12:0.05 --angles 2,5,8,11 --plot au.png
  raytrace reflectivity wb4c_graded --energies 1:10:0.1 --angles 1:20:0.5 -o wb4c.ecsv
  raytrace reflectivity my_coating.toml --energies 8.05 --angles 0:30:0.05 --roughness 0.5"""
EPILOG_PSF = """examples:
  raytrace psf xmm --energy 1.5 --image psf.fits --plot psf.png
  raytrace psf xmm --energy 6.4 --off-axis 5 -o ee.ecsv
  raytrace psf babyiaxo --energy 3 --focal-plane-z 0"""
EPILOG_CALIBRATE = """examples:
  raytrace calibrate xmm --energy 1.5 --hpd 15
  raytrace calibrate babyiaxo --energy 3 --hpd 59.8 -o babyiaxo_calibrated.toml
  raytrace calibrate xmm --energy 1.5 --hpd 15 --w90 60 --wing-fraction 0.1 -o xmm_wings.ecsv"""
EPILOG_DESIGN = """examples:
  raytrace design -o custom.toml
  raytrace design --focal-length 6000 --r-max 300 -o f6m.toml
  raytrace design --from custom.toml --set outer.segment_length_mm=150 --set spider.arm_width_mm=8 -o short.toml"""
EPILOG_SPOT = """examples:
  raytrace spot xmm
  raytrace spot babyiaxo --detector my_detector.toml -o spot.ecsv --plot spot.png
  raytrace spot xmm --solar-model cast2007 --date 2027-01-03 --offset 1.5 --g 2e-11 --exposure 1.5e7"""
EPILOG_OPTIMISE = """examples:
  raytrace optimise --focal-lengths 3000:9000:250 -o scan
  raytrace optimise --from my_design.toml --focal-lengths 4000,5000,6000 --groups 2 --materials wb4c,ir -o scan2
  raytrace optimise --focal-lengths 3000:9000:250 --scheduler tcp://10.0.0.5:8786 --checkpoint scan.jsonl -o scan3"""
EPILOG_TILT = """examples:
  raytrace tilt xmm --tilts 0:5:0.25
  raytrace tilt babyiaxo --tilts 0:300:15 --unit arcsec --pivot-z 9000 --plot tilt.png -o tilt.ecsv
  raytrace tilt xmm --tilts 0:4:0.5 --source parallel --energy 6.4 --keep 0.9
  raytrace tilt xmm --tilts 0:3:0.25 --decentre 0.5,0 --offset 0.5 --offset-azimuth 180"""
EPILOG_OFFAXIS = """examples:
  raytrace offaxis xmm --angles 0:20:1 --energy 1.5
  raytrace offaxis babyiaxo --angles 0,2,5,10 --energy 4 --azimuth 30 -o vignetting.ecsv --plot vignetting.png"""
EPILOG_SHOW = """examples:
  raytrace show babyiaxo
  raytrace show xmm --plot xmm_section.png
  raytrace show custom.toml -o custom_shells.ecsv"""


OPTIC_HELP = "'xmm', 'babyiaxo', or a prescription file: shell table (.ecsv) or segmented design (.toml)"


class CliError(Exception):
    """Bad input on the command line: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CliError(message)


def parse_grid(spec: str, option: str = "--energies", unit: str = "keV", allow_zero: bool = False) -> np.ndarray:
    """'START:STOP:STEP' (STOP included) or a comma-separated list of values in `unit`."""
    text = spec.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if not (step > 0 and stop >= start):
                raise CliError(f"{option} {spec!r}: need START <= STOP and STEP > 0")
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            values = start + step * np.arange(count)
        else:
            values = np.array([float(p) for p in text.split(",")])
    except ValueError:
        raise CliError(f"{option} {spec!r}: expected START:STOP:STEP or a comma-separated list of {unit} values") from None
    if values.size > MAX_GRID_VALUES:
        raise CliError(f"{option} {spec!r}: {values.size} values; at most {MAX_GRID_VALUES} are allowed")
    low = values < 0 if allow_zero else values <= 0
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(low):
        kind = "non-negative" if allow_zero else "positive"
        raise CliError(f"{option} {spec!r}: values must be {kind} numbers ({unit})")
    return values


def _number(name, whole=False, minimum=None):
    """argparse type: a finite number (optionally a whole one, written 1e6 or 1000000) >= minimum."""
    kind = "whole number" if whole else "number"

    def convert(text):
        try:
            value = int(text) if whole and text.strip().lstrip("+-").isdigit() else float(text)  # exact for big seeds
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: expected a {kind}") from None
        if not math.isfinite(value) or (whole and value != int(value)):
            raise argparse.ArgumentTypeError(f"{name} {text!r}: expected a finite {kind}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: must be >= {minimum}")
        return int(value) if whole else value

    return convert


def _focal_plane(text):
    """argparse type for --focal-plane-z: 'best' or a number of mm."""
    return "best" if text.strip().lower() == "best" else _number("--focal-plane-z")(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raytrace", description="Wolter-I X-ray telescope ray tracer for axion helioscopes.")
    parser.add_argument("--version", action="version", version=f"raytrace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def rays_and_seed(p, rays_default, per="", minimum=1):
        p.add_argument("--rays", type=_number("--rays", whole=True, minimum=minimum), default=rays_default,
                       metavar="N", help=f"number of rays{per} (default {rays_default:,}; 1e6 is accepted)")
        p.add_argument("--seed", type=_number("--seed", whole=True, minimum=0), default=0, metavar="S",
                       help="random seed (default 0)")

    def common(p, rays_default):
        p.add_argument("optic", help=OPTIC_HELP)
        p.add_argument("--off-axis", type=_number("--off-axis"), default=0.0, metavar="ARCMIN",
                       help="source off-axis angle in arcmin (default 0)")
        p.add_argument("--azimuth", type=_number("--azimuth"), default=0.0, metavar="DEG",
                       help="source azimuth in degrees (default 0)")
        rays_and_seed(p, rays_default)
        p.add_argument("--chunk-size", type=_number("--chunk-size", whole=True, minimum=1), default=DEFAULT_CHUNK_SIZE,
                       metavar="N", help=argparse.SUPPRESS)

    area = sub.add_parser("area", help="effective area versus energy", epilog=EPILOG_AREA,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    common(area, 1_000_000)
    area.add_argument("--energies", required=True, metavar="SPEC",
                      help="START:STOP:STEP in keV (STOP included) or a comma-separated list")
    area.add_argument("-o", "--output", metavar="FILE", help="write the table: .ecsv, .fits or .arf (OGIP ARF)")
    area.add_argument("--plot", metavar="FILE.png", help="plot the effective area")

    psf = sub.add_parser("psf", help="PSF, HPD, W80, W90 and encircled energy at one energy", epilog=EPILOG_PSF,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    common(psf, 1_000_000)

    def focal_plane_option(p):
        p.add_argument("--focal-plane-z", type=_focal_plane, default="best", metavar="MM|best",
                       help="focal plane position along the axis in mm (0 = nominal focus, negative = behind it), "
                            "or 'best' (default): where the HPD is smallest")
    psf.add_argument("--energy", type=_number("--energy"), required=True, metavar="KEV", help="photon energy in keV")
    focal_plane_option(psf)
    psf.add_argument("--pixel", type=_number("--pixel"), default=0.5, metavar="ARCSEC",
                     help="image pixel size in arcsec (default 0.5)")
    psf.add_argument("--pixels", type=_number("--pixels", whole=True, minimum=1), default=256, metavar="N",
                     help="image size in pixels per side (default 256)")
    psf.add_argument("-o", "--output", metavar="FILE", help="write the encircled-energy table: .ecsv or .fits")
    psf.add_argument("--image", metavar="FILE.fits", help="write the PSF image")
    psf.add_argument("--plot", metavar="FILE.png", help="plot the PSF image and encircled energy")

    refl = sub.add_parser("reflectivity", help="reflectivity of a coating recipe versus energy and graze angle",
                          epilog=EPILOG_REFLECTIVITY, formatter_class=argparse.RawDescriptionHelpFormatter)
    refl.add_argument("recipe", help="a shipped recipe name (au250_ni, ir_thick, ptc_graded, wb4c_graded), a recipe "
                                     ".toml path, or an optic (xmm, babyiaxo, .ecsv, design .toml): its coatings")
    refl.add_argument("--energies", required=True, metavar="SPEC",
                      help="START:STOP:STEP in keV (STOP included) or a comma-separated list")
    refl.add_argument("--angles", metavar="SPEC",
                      help="graze angles in mrad: START:STOP:STEP or a comma-separated list "
                           "(required for a recipe; for an optic, default: its on-axis graze angles)")
    refl.add_argument("--roughness", type=_number("--roughness", minimum=0), metavar="NM",
                      help="set every interface's rms roughness to NM (default: the recipe's)")
    refl.add_argument("--polarisation", choices=("s", "p", "unpolarised"), default="unpolarised",
                      help="default unpolarised (the mean of s and p)")
    refl.add_argument("-o", "--output", metavar="FILE", help="write the table: .ecsv or .fits")
    refl.add_argument("--plot", metavar="FILE.png", help="plot R versus energy and versus angle")

    cal = sub.add_parser("calibrate", help="slope errors that reproduce a measured HPD (and W90)",
                         epilog=EPILOG_CALIBRATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    common(cal, 200_000)
    cal.add_argument("--energy", type=_number("--energy"), required=True, metavar="KEV", help="photon energy in keV")
    cal.add_argument("--hpd", type=_number("--hpd"), required=True, metavar="ARCSEC", help="target HPD in arcsec")
    cal.add_argument("--w90", type=_number("--w90"), metavar="ARCSEC",
                     help="target W90 in arcsec: also fit the rms of a broad wing component")
    cal.add_argument("--wing-fraction", type=_number("--wing-fraction"), metavar="F",
                     help=f"share of reflections in the wing when --w90 is given (default: the optic's, else "
                          f"{DEFAULT_WING_FRACTION})")
    focal_plane_option(cal)
    cal.add_argument("-o", "--output", metavar="FILE",
                     help="write the calibrated optic: .ecsv shell table, or .toml for a segmented design")

    spot = sub.add_parser("spot", help="focused solar-axion image, spot area and figures of merit f_O, f_D, f_DO",
                          epilog=EPILOG_SPOT, formatter_class=argparse.RawDescriptionHelpFormatter)
    spot.add_argument("optic", help=OPTIC_HELP)
    spot.add_argument("--source", choices=("sun",), default="sun", help="the source: solar axions (default)")
    spot.add_argument("--solar-model", choices=("hoof2022", "giannotti2019", "cast2007"), default="hoof2022",
                      help="Primakoff spectrum and radial profile (default hoof2022)")
    spot.add_argument("--band", default="1:10", metavar="EMIN:EMAX", help="energy band in keV (default 1:10)")
    spot.add_argument("--date", metavar="YYYY-MM-DD", help="take the Earth-Sun distance of this date (default 1 AU)")
    spot.add_argument("--offset", type=_number("--offset", minimum=0), default=0.0, metavar="ARCMIN",
                      help="pointing offset of the Sun from the optical axis in arcmin (default 0)")
    spot.add_argument("--offset-azimuth", type=_number("--offset-azimuth"), default=0.0, metavar="DEG",
                      help="azimuth of the pointing offset in degrees (default 0)")
    spot.add_argument("--detector", metavar="FILE.toml", help="detector description (default: the BabyIAXO Micromegas)")
    spot.add_argument("--g", type=_number("--g", minimum=0), default=1e-11, metavar="GEV^-1",
                      help="axion-photon coupling for the expected counts (default 1e-11 GeV^-1)")
    spot.add_argument("--field", type=_number("--field", minimum=0), default=2.0, metavar="T",
                      help="magnet field in tesla (default 2)")
    spot.add_argument("--length", type=_number("--length", minimum=0), default=10.0, metavar="M",
                      help="magnet length in metres (default 10)")
    spot.add_argument("--exposure", type=_number("--exposure", minimum=0), default=1e7, metavar="S",
                      help="Sun-tracking exposure in seconds (default 1e7)")
    spot.add_argument("--efficiency", type=_number("--efficiency", minimum=0), default=1.0, metavar="F",
                      help="data-taking and analysis efficiency (default 1)")
    rays_and_seed(spot, 1_000_000)
    spot.add_argument("--focal-plane-z", type=_focal_plane, default="best", metavar="MM|best",
                      help="focal plane position in mm, or 'best' (default: the best focus at 4 keV on axis)")
    spot.add_argument("-o", "--output", metavar="FILE", help="write the encircled-signal table with all figures: .ecsv or .fits")
    spot.add_argument("--plot", metavar="FILE.png", help="plot the image with the spot and the detector opening")

    opt = sub.add_parser("optimise", help="maximise f_DO over focal length and per-group coating recipes",
                         epilog=EPILOG_OPTIMISE, formatter_class=argparse.RawDescriptionHelpFormatter)
    opt.add_argument("--from", dest="base", default="babyiaxo", metavar="DESIGN",
                     help="the segmented design whose focal length and coatings vary: 'babyiaxo' (default) or a .toml")
    opt.add_argument("--focal-lengths", required=True, metavar="SPEC",
                     help="START:STOP:STEP in mm (STOP included) or a comma-separated list")
    opt.add_argument("--groups", type=_number("--groups", whole=True, minimum=1), default=4, metavar="N",
                     help="groups of consecutive layers with their own coating (default 4)")
    opt.add_argument("--materials", default="wb4c,ir,au", metavar="LIST",
                     help="material systems to choose from: wb4c, ptc (multilayers), ir, au (30 nm films); "
                          "default wb4c,ir,au")
    opt.add_argument("--detector", metavar="FILE.toml", help="detector description (default: the BabyIAXO Micromegas)")
    rays_and_seed(opt, 200_000, " per focal length", minimum=1000)
    opt.add_argument("--evaluations", type=_number("--evaluations", whole=True, minimum=2), default=40, metavar="N",
                     help="recipe evaluations per group and multilayer system (default 40)")
    opt.add_argument("--workers", type=_number("--workers", whole=True, minimum=1), default=os.cpu_count() or 1,
                     metavar="N", help="local worker processes (default: the number of cores)")
    opt.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the focal lengths on this Dask cluster instead (needs dask.distributed)")
    opt.add_argument("--checkpoint", metavar="FILE",
                     help="record each finished focal length here; a rerun with the same file resumes")
    opt.add_argument("-o", "--output-dir", required=True, metavar="DIR",
                     help="scan table, plot and the best design (with its recipes) go here")

    tilt = sub.add_parser("tilt", help="alignment tolerance: spot shift and signal kept in the detector opening "
                                       "versus tilt of the optic", epilog=EPILOG_TILT,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    tilt.add_argument("optic", help=OPTIC_HELP)
    tilt.add_argument("--tilts", required=True, metavar="SPEC", help="tilts: START:STOP:STEP or a comma-separated list")
    tilt.add_argument("--unit", choices=sorted(TILT_UNITS), default="arcmin", help="unit of --tilts (default arcmin)")
    tilt.add_argument("--azimuth", type=_number("--azimuth"), default=0.0, metavar="DEG",
                      help="direction the optic's axis tilts towards, in degrees (default 0)")
    tilt.add_argument("--pivot-z", type=_number("--pivot-z"), metavar="MM",
                      help="height of the pivot on the optic's axis in mm above the focus (default: the intersection "
                           "plane, z = f)")
    tilt.add_argument("--decentre", default="0,0", metavar="X,Y",
                      help="lateral shift of the optic from the magnet axis in mm (default 0,0)")
    tilt.add_argument("--source", choices=("sun", "parallel"), default="sun",
                      help="solar axions (default) or a parallel beam at --energy")
    tilt.add_argument("--offset", type=_number("--offset", minimum=0), default=0.0, metavar="ARCMIN",
                      help="the source's own offset from the magnet axis in arcmin (default 0)")
    tilt.add_argument("--offset-azimuth", type=_number("--offset-azimuth"), default=0.0, metavar="DEG",
                      help="azimuth of the source offset in degrees (default 0)")
    tilt.add_argument("--energy", type=_number("--energy"), default=3.0, metavar="KEV",
                      help="energy of the parallel beam in keV (default 3)")
    tilt.add_argument("--detector", metavar="FILE.toml", help="detector description (default: the BabyIAXO Micromegas)")
    tilt.add_argument("--keep", type=_number("--keep"), default=0.95, metavar="F",
                      help="share of the aligned signal inside the opening to keep (default 0.95)")
    rays_and_seed(tilt, 200_000, " per tilt")
    tilt.add_argument("-o", "--output", metavar="FILE", help="write the table: .ecsv or .fits")
    tilt.add_argument("--plot", metavar="FILE.png", help="plot shift and kept signal versus tilt")

    offaxis = sub.add_parser("offaxis", help="vignetting: effective area versus off-axis angle",
                             epilog=EPILOG_OFFAXIS, formatter_class=argparse.RawDescriptionHelpFormatter)
    offaxis.add_argument("optic", help=OPTIC_HELP)
    offaxis.add_argument("--angles", required=True, metavar="SPEC",
                         help="off-axis angles in arcmin: START:STOP:STEP or a comma-separated list")
    offaxis.add_argument("--energy", type=_number("--energy"), required=True, metavar="KEV", help="photon energy in keV")
    offaxis.add_argument("--azimuth", type=_number("--azimuth"), default=0.0, metavar="DEG",
                         help="source azimuth in degrees (default 0)")
    rays_and_seed(offaxis, 200_000, " per angle")
    offaxis.add_argument("-o", "--output", metavar="FILE", help="write the table: .ecsv or .fits")
    offaxis.add_argument("--plot", metavar="FILE.png", help="plot the vignetting curve")

    design = sub.add_parser("design", help="generate a segmented conical optic (the BabyIAXO custom optic by default)",
                            epilog=EPILOG_DESIGN, formatter_class=argparse.RawDescriptionHelpFormatter)
    design.add_argument("--from", dest="base", default="babyiaxo", metavar="DESIGN",
                        help="start from this design: 'babyiaxo' (default) or a design .toml file")
    design.add_argument("--focal-length", type=_number("--focal-length"), metavar="MM", help="focal length in mm")
    design.add_argument("--r-min", type=_number("--r-min"), metavar="MM", help="innermost intersection radius in mm")
    design.add_argument("--r-max", type=_number("--r-max"), metavar="MM", help="outer limit of the optic in mm")
    design.add_argument("--r-split", type=_number("--r-split"), metavar="MM", help="inner/outer part boundary in mm")
    design.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other design field, e.g. outer.glass_thickness_mm=0.3, inner.segments_per_layer=6, "
                             "spider.arm_width_mm=8, inner.slope_errors.meridional_arcsec=10 (repeatable)")
    design.add_argument("-o", "--output", required=True, metavar="FILE.toml", help="where to write the design")

    show = sub.add_parser("show", help="summary of an optic's shells and a cross-section plot", epilog=EPILOG_SHOW,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("optic", help=OPTIC_HELP)
    show.add_argument("--plot", metavar="FILE.png", help="cross-section plot (default: OPTIC_cross_section.png)")
    show.add_argument("-o", "--output", metavar="FILE.ecsv", help="export the shell table (loads back identically)")

    demo = sub.add_parser("demo", help="trace the XMM module and the BabyIAXO custom optic; write tables and plots",
                          epilog="example:\n  raytrace demo --rays 2e6",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    rays_and_seed(demo, 1_000_000, " per trace")
    demo.add_argument("--output-dir", default="raytrace-output", metavar="DIR",
                      help="where to write (default ./raytrace-output)")
    return parser


def main(argv=None) -> int:
    from coatings import MaterialError, RecipeError
    from geometries import PrescriptionError

    from .detector import DetectorError
    from .io import OutputError

    try:
        args = build_parser().parse_args(argv)
        commands = {"area": run_area, "psf": run_psf, "reflectivity": run_reflectivity, "calibrate": run_calibrate,
                    "spot": run_spot, "optimise": run_optimise, "tilt": run_tilt,
                    "offaxis": run_offaxis, "design": run_design, "show": run_show, "demo": run_demo}
        return commands[args.command](args)
    except (CliError, PrescriptionError, RecipeError, MaterialError, OutputError, DetectorError, ValueError) as exc:
        print(f"raytrace: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("raytrace: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that closed early (e.g. head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _beam(args):
    from .sources import ParallelBeam

    return ParallelBeam.from_angles(args.off_axis * u.arcmin, args.azimuth * u.deg)


def run_area(args) -> int:
    from geometries import load_optic

    from .analysis import effective_area, spread_indices
    from .plots import plot_effective_area

    energies = parse_grid(args.energies)
    _check_outputs(args, (".ecsv", ".fits", ".arf"))
    optic = load_optic(args.optic)
    start = time.perf_counter()
    progress = Progress(args.rays, "tracing")
    table = effective_area(optic, energies, _beam(args), args.rays, args.seed, args.chunk_size, progress)
    progress.close()
    elapsed = time.perf_counter() - start
    print(f"{optic.name}: {table.meta['source']}; {args.rays:,} rays, seed {args.seed}, {elapsed:.1f} s")
    print(f"geometric double-reflection area {table.meta['geometric_area_cm2']:.1f} cm2 "
          f"(reflectivity 1); coating {table.meta['coatings']}")
    print("  energy (keV)   A_eff (cm2)")
    for i in spread_indices(len(table), 12):
        print(f"  {table['energy'][i]:12.3f}   {table['effective_area'][i]:9.1f} +- {table['effective_area_err'][i]:.1f}")
    _write_outputs(args, table, plot_effective_area, table)
    return 0


def run_psf(args) -> int:
    from geometries import load_optic

    from .analysis import psf
    from .io import check_writable, write_image, write_table
    from .plots import plot_psf

    for path, suffixes in ((args.output, (".ecsv", ".fits")), (args.image, (".fits",)), (args.plot, (".png",))):
        if path:
            check_writable(path, suffixes)
    optic = load_optic(args.optic)
    focal_plane_z = _resolve_focal_plane(args, optic)
    progress = Progress(args.rays, "tracing")
    result = psf(optic, args.energy, _beam(args), args.rays, args.seed, args.chunk_size,
                 focal_plane_z_mm=focal_plane_z, pixel_arcsec=args.pixel, image_pixels=args.pixels, progress=progress)
    progress.close()
    _print_psf(optic, result)
    if args.output:
        print(f"wrote {write_table(result.encircled, args.output)}")
    if args.image:
        write_image(result.image, args.image, result.pixel_arcsec, result.image_center_mm, optic.focal_length_mm,
                    result.meta | result.summary())
        print(f"wrote {args.image}")
    if args.plot:
        plot_psf(result, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _check_outputs(args, table_suffixes=(".ecsv", ".fits")) -> None:
    """Fail before any work if -o or --plot cannot be written."""
    from .io import check_writable

    if args.output:
        check_writable(args.output, table_suffixes)
    if args.plot:
        check_writable(args.plot, (".png",))


def _write_outputs(args, table, plot, *plot_args) -> None:
    """Write the table to -o (ECSV, FITS or OGIP ARF by its suffix) and plot(*plot_args, path) to --plot, as asked."""
    from .io import write_arf, write_table

    if args.output:
        writer = write_arf if Path(args.output).suffix.lower() == ".arf" else write_table
        print(f"wrote {writer(table, args.output)}")
    if args.plot:
        plot(*plot_args, args.plot)
        print(f"wrote {args.plot}")


def _resolve_focal_plane(args, optic):
    """The focal plane of --focal-plane-z: a number of mm, or the best focus found by a pilot trace."""
    from .analysis import best_focus_z_mm

    if args.focal_plane_z != "best":
        return args.focal_plane_z
    return best_focus_z_mm(optic, args.energy, _beam(args), min(args.rays, 200_000), args.seed)


def _print_psf(optic, result):
    s = result.summary()
    print(f"{optic.name}: {result.meta['source']}, {result.meta['energy_kev']:g} keV; {result.meta['rays']:,} rays, "
          f"seed {result.meta['seed']}; focal plane z = {result.meta['focal_plane_z_mm']:.3f} mm")
    print(f"  HPD {s['hpd_arcsec']:.4g} arcsec   W80 {s['w80_arcsec']:.4g} arcsec   W90 {s['w90_arcsec']:.4g} arcsec")
    print(f"  centroid ({s['centroid_x_mm']:.4f}, {s['centroid_y_mm']:.4f}) mm   focused area "
          f"{s['effective_area_cm2']:.1f} cm2")
    print(f"  slope errors: {_slope_summary(optic)}")


def _slope_summary(optic) -> str:
    kinds = sorted({s.slope_errors for s in optic.shells}, key=lambda e: e.meridional_arcsec)
    if all(e.is_perfect for e in kinds):
        return "none (ideal mirror surfaces)"
    parts = []
    for e in kinds:
        text = f"meridional {e.meridional_arcsec:.3g}\", sagittal {e.sagittal_arcsec:.3g}\" rms"
        if e.wing_fraction > 0 and e.wing_arcsec > 0:
            text += f", wing {e.wing_fraction:.3g} x {e.wing_arcsec:.3g}\""
        parts.append(text)
    return "; ".join(parts)


def run_reflectivity(args) -> int:
    from astropy.table import vstack

    from coatings import Stack, load_recipe

    from .analysis import reflectivity_curves, spread_indices
    from .plots import plot_reflectivity

    energies = parse_grid(args.energies)
    optic = _optic_or_none(args.recipe)
    if optic is None and args.angles is None:
        raise CliError("--angles is required for a coating recipe")
    if args.angles is None:
        graze = optic.graze_angles_rad() * 1e3
        angles = np.linspace(0.5 * graze.min(), 1.5 * graze.max(), 60)
    else:
        angles = parse_grid(args.angles, "--angles", "mrad", allow_zero=True)
    if angles.max() > MAX_GRAZE_MRAD:
        raise CliError(f"--angles {args.angles!r}: graze angles must not exceed {MAX_GRAZE_MRAD:g} mrad")
    if energies.size * angles.size > MAX_GRID_VALUES * 10:
        raise CliError(f"--energies x --angles: {energies.size * angles.size} points; at most {MAX_GRID_VALUES * 10}")
    _check_outputs(args)
    if optic is None:
        stacks = [load_recipe(args.recipe)]
    else:
        stacks = [c for i, c in enumerate(optic.coatings) if c not in optic.coatings[:i] and isinstance(c, Stack)]
        if not stacks:
            raise CliError(f"optic {args.recipe!r} has no coating recipe (only constant reflectivities)")
        print(f"{optic.name}: {len(stacks)} coating recipe(s); on-axis graze angles {_graze_range(optic)}")
    if args.roughness is not None:
        stacks = [stack.with_roughness(args.roughness) for stack in stacks]
    tables = []
    for stack in stacks:
        table = reflectivity_curves(stack, energies, angles, args.polarisation)
        print(f"{table.meta['recipe']}: {table.meta['stack']}; {table.meta['optical_constants']} optical constants, "
              f"{args.polarisation}")
        shown_e = spread_indices(energies.size, 8)
        shown_a = spread_indices(angles.size, 6)
        values = np.asarray(table["reflectivity"]).reshape(energies.size, angles.size)
        print("  energy (keV) | R at graze angle (mrad) " + " ".join(f"{a:8.3g}" for a in angles[shown_a]))
        for i in shown_e:
            print(f"  {energies[i]:12.4g} | {'':24}" + " ".join(f"{values[i, j]:8.4f}" for j in shown_a))
        if optic is not None:
            table["coating"] = table.meta["recipe"]
        tables.append(table)
    table = vstack(tables, metadata_conflicts="silent") if len(tables) > 1 else tables[0]
    if len(tables) > 1:
        table.meta.update({"recipe": ", ".join(t.meta["recipe"] for t in tables), "optic": optic.name})
    _write_outputs(args, table, plot_reflectivity, table)
    return 0


def run_spot(args) -> int:
    from geometries import load_optic

    from .analysis import best_focus_z_mm
    from .detector import load_detector
    from .plots import plot_spot
    from .solar import MODELS, SolarSource, earth_sun_distance_au
    from .spot import Magnet, solar_spot

    band = parse_grid(args.band.replace(":", ","), "--band")
    if band.size != 2 or not band[0] < band[1]:
        raise CliError(f"--band {args.band!r}: expected EMIN:EMAX in keV with EMIN < EMAX")
    _check_outputs(args)
    optic = load_optic(args.optic)
    detector = load_detector(args.detector)
    distance = earth_sun_distance_au(args.date) if args.date else 1.0
    source = SolarSource(MODELS[args.solar_model], float(band[0]), float(band[1]), distance,
                         math.radians(args.offset / 60.0), math.radians(args.offset_azimuth))
    focal_plane_z = args.focal_plane_z
    if focal_plane_z == "best":
        focal_plane_z = best_focus_z_mm(optic, SPOT_FOCUS_KEV, n_rays=min(args.rays, 200_000), seed=args.seed)
    start = time.perf_counter()
    progress = Progress(args.rays, "tracing")
    result = solar_spot(optic, source, detector, args.rays, args.seed, focal_plane_z, Magnet(args.field, args.length),
                        args.g, args.exposure, args.efficiency, progress=progress)
    progress.close()
    s = result.summary()
    print(f"{optic.name}: {source.describe()}; {args.rays:,} rays, seed {args.seed}, "
          f"{time.perf_counter() - start:.1f} s; focal plane z = {focal_plane_z:.3f} mm")
    print(f"  detector {detector.name}: <eps_D> = {s['mean_eps_d']:.4f}, b = {detector.background_counts_kev_cm2_s:g} "
          f"counts/keV/cm2/s, opening {detector.opening_diameter_mm:g} mm")
    print(f"  spot (signal-to-noise optimal): radius {s['radius_mm']:.3f} mm, a = {s['area_cm2']:.4g} cm2, "
          f"eta = {s['eta']:.3f}; centroid ({s['centroid_x_mm']:.3f}, {s['centroid_y_mm']:.3f}) mm")
    print(f"  area for 50/80/90 % of the signal: {s['area_50_cm2']:.4g} / {s['area_80_cm2']:.4g} / "
          f"{s['area_90_cm2']:.4g} cm2; {100 * s['opening_fraction']:.1f} % of it inside the detector opening")
    print(f"  <A_eff> = {s['mean_effective_area_cm2']:.1f} cm2, <eps_O> = {s['mean_eps_o']:.4f}, "
          f"<eps_D eps_O> = {s['mean_eps_do']:.4f} (bore {result.meta['bore_area_cm2']:.0f} cm2)")
    print(f"  f_O = {s['f_o']:.4g} cm^-1, f_D = {s['f_d']:.4g} (keV cm2 s)^1/2, f_DO = {s['f_do']:.4g} (keV s)^1/2")
    print(f"  expected in the spot for g = {args.g:g} GeV^-1, B = {args.field:g} T, L = {args.length:g} m, "
          f"{args.exposure:g} s x {args.efficiency:g}: {s['signal_counts']:.4g} signal, {s['background_counts']:.4g} "
          "background counts")
    _write_outputs(args, result.encircled, plot_spot, result)
    return 0


def run_optimise(args) -> int:
    from concurrent.futures import ProcessPoolExecutor

    from geometries import load_design

    from .detector import load_detector
    from .optimise import MATERIAL_SYSTEMS, ScanSettings, group_bounds, run_scan, write_scan
    from .solar import SolarSource

    focal_lengths = parse_grid(args.focal_lengths, "--focal-lengths", "mm")
    systems = [m.strip() for m in args.materials.split(",") if m.strip()]
    unknown = [m for m in systems if m not in MATERIAL_SYSTEMS]
    if unknown or not systems:
        raise CliError(f"--materials {args.materials!r}: choose from {', '.join(MATERIAL_SYSTEMS)}")
    design = load_design(args.base)
    for f in focal_lengths:  # every focal length must give a valid optic and its groups before any work starts
        group_bounds(design.with_focal_length(float(f)), args.groups)
    detector = load_detector(args.detector)
    out = Path(args.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--output-dir {str(out)!r}: cannot create it ({exc.strerror})") from None
    settings = ScanSettings(args.groups, tuple(systems), args.rays, args.seed, args.evaluations)
    source = SolarSource()
    start = time.perf_counter()

    def report(row):
        print(f"  f = {row['focal_length_mm']:7.1f} mm: f_DO {row['f_do']:8.2f}, f_O {row['f_o']:.4f}, "
              f"a {row['spot_area_cm2']:.3f} cm2, throughput {row['throughput']:.3f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)

    print(f"optimising {design.name}: {len(focal_lengths)} focal lengths x {args.groups} groups, materials "
          f"{', '.join(systems)}; {args.rays:,} rays per focal length")
    executor = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise CliError("--scheduler needs dask.distributed: pip install 'xrt-axion-raytrace[dask]'") from None
        try:
            executor = Client(args.scheduler, timeout=10).get_executor()
        except OSError as exc:
            raise CliError(f"--scheduler {args.scheduler!r}: cannot connect ({exc})") from None
    elif args.workers > 1:
        executor = ProcessPoolExecutor(max_workers=args.workers)
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    try:
        rows = run_scan(design, [float(f) for f in focal_lengths], source, detector, settings, executor, checkpoint,
                        report)
    finally:
        if isinstance(executor, ProcessPoolExecutor):
            executor.shutdown(cancel_futures=True)
    written, best, verified = write_scan(rows, design, source, detector, settings, out)
    print(f"best: f = {best['focal_length_mm']:g} mm, f_DO {best['f_do']:.2f} (re-weighted); a full trace of the "
          f"best design gives f_DO {verified.f_do:.2f}, a {verified.area_cm2:.3f} cm2")
    for path in written:
        print(f"wrote {path}")
    return 0


def run_tilt(args) -> int:
    from geometries import load_optic

    from .analysis import best_focus_z_mm, check_energies
    from .detector import load_detector
    from .plots import plot_tilt
    from .solar import SolarSource
    from .sources import ParallelBeam
    from .tolerance import tilt_scan

    tilts_deg = parse_grid(args.tilts, "--tilts", args.unit, allow_zero=True) * TILT_UNITS[args.unit]
    if args.source == "parallel":
        check_energies(np.array([args.energy]))
    if not 0 < args.keep <= 1:
        raise CliError(f"--keep {args.keep:g}: must lie in (0, 1]")
    try:
        decentre = tuple(float(v) for v in args.decentre.split(","))
    except ValueError:
        decentre = ()
    if len(decentre) != 2 or not all(math.isfinite(v) for v in decentre):
        raise CliError(f"--decentre {args.decentre!r}: expected X,Y in mm, e.g. 0.5,0")
    _check_outputs(args)
    optic = load_optic(args.optic)
    detector = load_detector(args.detector)
    offset, azimuth = math.radians(args.offset / 60), math.radians(args.offset_azimuth)
    if args.source == "sun":
        source = SolarSource(offset_rad=offset, offset_azimuth_rad=azimuth)
    else:
        source = ParallelBeam(offset, azimuth)
    focus = best_focus_z_mm(optic, SPOT_FOCUS_KEV, n_rays=min(args.rays, 200_000), seed=args.seed)
    start = time.perf_counter()
    progress = Progress(len(tilts_deg) + 1, "tilts")
    table = tilt_scan(optic, source, detector, np.radians(tilts_deg), args.keep, math.radians(args.azimuth),
                      args.pivot_z, focus, args.rays, args.seed, args.energy, progress, decentre)
    progress.close()
    meta = table.meta
    print(f"{optic.name}: {source.describe() if args.source == 'sun' else f'parallel beam at {args.energy:g} keV'}; "
          f"pivot z = {meta['pivot_z_mm']:g} mm, decentre ({decentre[0]:g}, {decentre[1]:g}) mm, detector {detector.name} ({detector.opening_diameter_mm:g} mm "
          f"opening), focal plane z = {focus:.2f} mm; {args.rays:,} rays per tilt, {time.perf_counter() - start:.1f} s")
    print(f"  aligned: {100 * meta['aligned_in_opening_fraction']:.1f} % of the focused signal inside the opening")
    print("  tilt (arcmin)  shift (mm)  signal/aligned  in opening/aligned")
    for row in table:
        print(f"  {row['tilt']:12.3f}  {row['shift_mm']:10.3f}  {row['relative_signal']:14.3f}  "
              f"{row['relative_in_opening']:18.3f}")
    tolerance = meta["tolerance_arcmin"]
    if math.isnan(tolerance):
        print(f"  even the smallest tilt keeps less than {100 * args.keep:g} % of the aligned signal in the opening")
    else:
        print(f"  largest tilt keeping {100 * args.keep:g} % of the aligned signal inside the opening: "
              f"{tolerance:.3g} arcmin{' (or more: the scan ends there)' if tolerance == table['tilt'].max() else ''}")
    _write_outputs(args, table, plot_tilt, table)
    return 0


def run_offaxis(args) -> int:
    from geometries import load_optic

    from .analysis import vignetting
    from .plots import plot_vignetting

    angles = parse_grid(args.angles, "--angles", "arcmin", allow_zero=True)
    _check_outputs(args)
    optic = load_optic(args.optic)
    table = vignetting(optic, angles, args.energy, args.azimuth, args.rays, args.seed)
    print(f"{optic.name}: {args.energy:g} keV, azimuth {args.azimuth:g} deg; {args.rays:,} rays per angle, "
          f"seed {args.seed}")
    print("  off-axis (arcmin)   A_eff (cm2)      relative")
    for row in table:
        print(f"  {row['off_axis']:17.3f}  {row['effective_area']:9.1f} +- {row['effective_area_err']:.1f}  "
              f"{row['relative_area']:8.3f}")
    _write_outputs(args, table, plot_vignetting, [table])
    return 0


def run_calibrate(args) -> int:
    from geometries import load_optic

    from .calibration import calibrate
    from .io import check_writable, write_design, write_prescription

    design = None
    if args.output:
        check_writable(args.output, (".ecsv", ".toml"))
        if Path(args.output).suffix == ".toml":
            design = _design_or_none(args.optic)
            if design is None:
                raise CliError(f"-o {args.output!r}: a .toml output needs a segmented design as input; write .ecsv instead")
    optic = load_optic(args.optic)
    focal_plane_z = None if args.focal_plane_z == "best" else args.focal_plane_z
    start = time.perf_counter()
    result = calibrate(optic, args.energy, args.hpd, args.w90, args.wing_fraction, focal_plane_z, _beam(args),
                       args.rays, args.seed)
    print(f"{optic.name} at {args.energy:g} keV, {_beam(args).describe()}; focal plane z = {result.focal_plane_z_mm:.3f} mm; "
          f"{args.rays:,} rays per evaluation, seed {args.seed}, {time.perf_counter() - start:.1f} s")
    print(f"  without slope errors: HPD {result.geometric_hpd_arcsec:.4g} arcsec, W90 {result.geometric_w90_arcsec:.4g} arcsec")
    target = f"HPD {args.hpd:g}" + (f", W90 {args.w90:g}" if args.w90 else "")
    print(f"  calibrated ({target} arcsec): HPD {result.hpd_arcsec:.4g} arcsec, W90 {result.w90_arcsec:.4g} arcsec")
    print(f"  slope errors: {_slope_summary(result.optic)}")
    if args.output:
        if design is not None:
            written = write_design(_calibrated_design(design, result.optic), args.output)
        else:
            written = write_prescription(result.optic, args.output)[-1]
        print(f"wrote {written}")
    return 0


def _design_or_none(name: str):
    """The segmented design behind a shipped optic name or a design .toml; None for a shell table."""
    from geometries import load_design
    from geometries.prescription import SHIPPED

    if SHIPPED.get(name, "").endswith(".toml") or _is_design_file(Path(name)):
        return load_design(name)
    return None


def _calibrated_design(design, optic):
    """The design with each part's slope errors taken from the calibrated optic's layers of that part."""
    import dataclasses

    parts = {}
    for shell in optic.shells:
        parts.setdefault("inner" if shell.r_intersect_mm < design.r_split_mm else "outer", shell.slope_errors)
    changes = {label: dataclasses.replace(getattr(design, label), slope_errors=errors) for label, errors in parts.items()}
    return dataclasses.replace(design, **changes)


def run_design(args) -> int:
    import tomllib

    from coatings import ConstantReflectivity
    from geometries import load_design
    from geometries.generator import design_from_dict, design_to_toml
    from geometries.optic import SlopeErrors

    from .analysis import best_focus_z_mm, psf
    from .io import check_writable, write_design
    from .sources import ParallelBeam

    check_writable(args.output, (".toml",))
    base = load_design(args.base)
    data = tomllib.loads(design_to_toml(base))
    data["name"] = Path(args.output).stem
    for option, key in (("focal_length", "focal_length_mm"), ("r_min", "r_min_mm"), ("r_max", "r_max_mm"),
                        ("r_split", "r_split_mm")):
        if getattr(args, option) is not None:
            data[key] = getattr(args, option)
    for assignment in args.set:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--set {assignment!r}: expected KEY=VALUE, e.g. outer.glass_thickness_mm=0.3")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # a bare word: a string such as a recipe name
        *tables, field = key.strip().split(".")
        entry = data
        for table in tables:
            entry = entry.setdefault(table, {})
            if not isinstance(entry, dict):
                raise CliError(f"--set {assignment!r}: {table!r} is not a table of the design")
        entry[field] = value
    design = design_from_dict(data, base.name, base.recipe_dir)
    optic = design.build()
    n_inner = sum(s.r_intersect_mm < design.r_split_mm for s in optic.shells)
    radii = optic.intersect_radii_mm()
    front = optic.entrance_radii_mm()[-1] + optic.thicknesses_mm()[-1]
    print(f"{design.name}: f = {design.focal_length_mm:g} mm, {optic.n_shells} layers ({n_inner} inner, "
          f"{optic.n_shells - n_inner} outer), r0 = {radii[0]:.2f}-{radii[-1]:.2f} mm, outer front edge {front:.2f} mm")
    segments = sum(s.segmentation.segments for s in optic.shells if s.segmentation is not None)
    print(f"  {segments} mirror segments (primary and secondary pairs)")
    print(f"  on-axis graze angles {_graze_range(optic)}")
    geometric = psf(optic.with_slope_errors(SlopeErrors()).with_coating(ConstantReflectivity(1.0)), 3.0,
                    ParallelBeam(), 200_000, 0, image_pixels=1)
    print(f"  collecting area: {optic.open_area_cm2():.1f} cm2 open (double-reflection annuli), "
          f"{geometric.effective_area_cm2:.1f} cm2 after spider, segment joins and spacers (reflectivity 1)")
    best = best_focus_z_mm(optic, 3.0)
    print(f"  best focus at 3 keV: z = {best:.2f} mm (behind the nominal focus z = 0 of the conical approximation)")
    print(f"wrote {write_design(design, args.output)}")
    return 0


def run_show(args) -> int:
    from geometries import load_optic

    from .analysis import spread_indices
    from .io import check_writable, write_prescription
    from .plots import plot_cross_section

    optic = load_optic(args.optic)
    plot_path = args.plot or f"{Path(optic.name).name}_cross_section.png"
    check_writable(plot_path, (".png",))
    if args.output:
        check_writable(args.output, (".ecsv",))
    print(f"{optic.name}: f = {optic.focal_length_mm:g} mm, {optic.n_shells} shells; {optic.source}")
    spider = optic.spider
    if spider is not None:
        print(f"  spider: {spider.n_spokes} spokes, {spider.spoke_width_deg:g} deg + {spider.spoke_width_mm:g} mm wide, "
              f"rotated {spider.rotation_deg:g} deg")
    print(f"  open double-reflection area {optic.open_area_cm2():.1f} cm2 (before spider, joins, spacers and "
          f"reflectivity); on-axis graze angles {_graze_range(optic)}")
    print("  groups of alike shells:")
    for first, last in _groups(optic):
        s = optic.shells[first]
        seg = s.segmentation
        segmented = "" if seg is None else (f", {seg.segments} segments, joins {seg.gap_mm:g} mm, "
                                            f"{seg.spacers_per_segment} spacers/segment x {seg.spacer_width_mm:g} mm")
        print(f"    shells {first + 1}-{last + 1}: r0 {s.r_intersect_mm:.2f}-{optic.shells[last].r_intersect_mm:.2f} mm, "
              f"{s.profile}, L {s.primary_length_mm:g}+{s.secondary_length_mm:g} mm, coating {optic.coatings[first].name}"
              f"{segmented}")
    print("  shell   r0 (mm)   R1 (mm)   R5 (mm)   t (mm)   graze (mrad)")
    r1, r5, graze = optic.entrance_radii_mm(), optic.exit_radii_mm(), optic.graze_angles_rad() * 1e3
    for i in spread_indices(optic.n_shells, 12):
        s = optic.shells[i]
        print(f"  {i + 1:5d} {s.r_intersect_mm:9.3f} {r1[i]:9.3f} {r5[i]:9.3f} {s.thickness_mm:8.3f} {graze[i]:10.3f}")
    print(f"  slope errors: {_slope_summary(optic)}")
    plot_cross_section(optic, plot_path)
    print(f"wrote {plot_path}")
    if args.output:
        for path in write_prescription(optic, args.output):
            print(f"wrote {path}")
    return 0


def _groups(optic):
    """(first, last) shell index of each run of shells that differ only in radius."""
    def kind(i):
        s = optic.shells[i]
        return (s.profile, s.thickness_mm, s.primary_length_mm, s.secondary_length_mm, s.segmentation, s.slope_errors,
                optic.coatings[i])

    runs, first = [], 0
    for i in range(1, optic.n_shells + 1):
        if i == optic.n_shells or kind(i) != kind(first):
            runs.append((first, i - 1))
            first = i
    return runs


def _optic_or_none(name: str):
    """The optic named by a shipped optic name, an .ecsv table or a design .toml; None for anything else."""
    from geometries import load_optic, shipped_optics

    path = Path(name)
    if name in shipped_optics() or path.suffix == ".ecsv" or _is_design_file(path):
        return load_optic(name)
    return None


def _is_design_file(path: Path) -> bool:
    """Whether a .toml file is a segmented design (it has a focal length) rather than a coating recipe."""
    import tomllib

    if path.suffix != ".toml" or not path.is_file():
        return False
    try:
        return "focal_length_mm" in tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, OSError):
        return False  # reported by whichever reader gets the file


def _graze_range(optic) -> str:
    graze = optic.graze_angles_rad() * 1e3
    return f"{graze.min():.3g}-{graze.max():.3g} mrad"


def run_demo(args) -> int:
    from geometries import load_optic

    from .analysis import best_focus_z_mm, effective_area, psf, vignetting
    from .io import write_arf, write_image, write_table
    from .plots import plot_comparison, plot_effective_area, plot_psf

    out = Path(args.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--output-dir {str(out)!r}: cannot create it ({exc.strerror})") from None
    areas, psfs = [], []
    for name in ("xmm", "babyiaxo"):
        optic = load_optic(name)
        print(f"{optic.name}: {optic.n_shells} shells, f = {optic.focal_length_mm:.0f} mm, open double-reflection area "
              f"{optic.open_area_cm2():.1f} cm2 (before spider, segmentation and reflectivity)")
        start = time.perf_counter()
        area = effective_area(optic, parse_grid("0.5:12:0.1"), n_rays=args.rays, seed=args.seed)
        print(f"effective area on axis ({args.rays:,} rays, {time.perf_counter() - start:.1f} s incl. compilation):")
        for e in (1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 10.0):
            i = int(np.argmin(np.abs(area["energy"] - e)))
            print(f"  {e:5.1f} keV  {area['effective_area'][i]:7.1f} +- {area['effective_area_err'][i]:.1f} cm2")
        if name == "xmm":
            print("  BabyIAXO CDR for one XMM module: about 1500 cm2 at 2 keV and 900 cm2 at 7 keV")
        write_table(area, out / f"{name}_effective_area.ecsv")
        write_arf(area, out / f"{name}_effective_area.arf")
        plot_effective_area(area, out / f"{name}_effective_area.png", compare_cdr=name == "xmm")

        focus = best_focus_z_mm(optic, DEMO_PSF_KEV, n_rays=min(args.rays, 200_000), seed=args.seed)
        result = psf(optic, DEMO_PSF_KEV, n_rays=args.rays, seed=args.seed, focal_plane_z_mm=focus)
        _print_psf(optic, result)
        stem = f"{name}_psf_{DEMO_PSF_KEV:g}keV"
        write_table(result.encircled, out / f"{stem}_encircled.ecsv")
        write_image(result.image, out / f"{stem}.fits", result.pixel_arcsec, result.image_center_mm,
                    optic.focal_length_mm, result.meta | result.summary())
        plot_psf(result, out / f"{stem}.png")
        areas.append(area)
        psfs.append(result)

    xmm = load_optic("xmm")
    vig = vignetting(xmm, [0, 2, 5, 10], 1.5, n_rays=max(args.rays // 4, 1), seed=args.seed)
    write_table(vig, out / "xmm_vignetting_1.5keV.ecsv")
    print("XMM off-axis effective area at 1.5 keV, relative to on-axis: "
          + ", ".join(f"{a:g}' {r:.3f}" for a, r in zip(vig["off_axis"].value, vig["relative_area"])))
    plot_comparison(areas, psfs, out / "xmm_vs_babyiaxo.png")
    print(f"wrote tables, ARFs, PSF images and plots (comparison: xmm_vs_babyiaxo.png) to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
