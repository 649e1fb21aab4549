"""The `raytrace` command line."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np

from . import __version__
from .engine import DEFAULT_CHUNK_SIZE

EXIT_USAGE = 2
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
  raytrace psf xmm --energy 6.4 --off-axis 5 -o ee.ecsv"""


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raytrace", description="Wolter-I X-ray telescope ray tracer for axion helioscopes.")
    parser.add_argument("--version", action="version", version=f"raytrace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p, rays_default):
        p.add_argument("optic", help="'xmm' or the path of a prescription file (.ecsv)")
        p.add_argument("--off-axis", type=_number("--off-axis"), default=0.0, metavar="ARCMIN",
                       help="source off-axis angle in arcmin (default 0)")
        p.add_argument("--azimuth", type=_number("--azimuth"), default=0.0, metavar="DEG",
                       help="source azimuth in degrees (default 0)")
        p.add_argument("--rays", type=_number("--rays", whole=True, minimum=1), default=rays_default, metavar="N",
                       help=f"number of rays (default {rays_default:.0e}); accepts 1e6")
        p.add_argument("--seed", type=_number("--seed", whole=True, minimum=0), default=0, metavar="S", help="random seed (default 0)")
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
    psf.add_argument("--energy", type=_number("--energy"), required=True, metavar="KEV", help="photon energy in keV")
    psf.add_argument("--focal-plane-z", type=_number("--focal-plane-z"), default=0.0, metavar="MM",
                     help="focal plane position along the axis in mm (0 = nominal focus; negative = behind it)")
    psf.add_argument("--pixel", type=_number("--pixel"), default=0.5, metavar="ARCSEC",
                     help="image pixel size in arcsec (default 0.5)")
    psf.add_argument("--pixels", type=_number("--pixels", whole=True, minimum=1), default=256, metavar="N",
                     help="image size in pixels per side (default 256)")
    psf.add_argument("-o", "--output", metavar="FILE", help="write the encircled-energy table: .ecsv or .fits")
    psf.add_argument("--image", metavar="FILE.fits", help="write the PSF image")
    psf.add_argument("--plot", metavar="FILE.png", help="plot the PSF image and encircled energy")

    refl = sub.add_parser("reflectivity", help="reflectivity of a coating recipe versus energy and graze angle",
                          epilog=EPILOG_REFLECTIVITY, formatter_class=argparse.RawDescriptionHelpFormatter)
    refl.add_argument("recipe", help="a shipped recipe name (au250_ni, ir_thick, ptc_graded, wb4c_graded) or a .toml path")
    refl.add_argument("--energies", required=True, metavar="SPEC",
                      help="START:STOP:STEP in keV (STOP included) or a comma-separated list")
    refl.add_argument("--angles", required=True, metavar="SPEC",
                      help="graze angles in mrad: START:STOP:STEP or a comma-separated list")
    refl.add_argument("--roughness", type=_number("--roughness", minimum=0), metavar="NM",
                      help="set every interface's rms roughness to NM (default: the recipe's)")
    refl.add_argument("--polarisation", choices=("s", "p", "unpolarised"), default="unpolarised",
                      help="default unpolarised (the mean of s and p)")
    refl.add_argument("-o", "--output", metavar="FILE", help="write the table: .ecsv or .fits")
    refl.add_argument("--plot", metavar="FILE.png", help="plot R versus energy and versus angle")

    demo = sub.add_parser("demo", help="trace the built-in XMM module and write tables and plots",
                          epilog="example:\n  raytrace demo --rays 2e6",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--rays", type=_number("--rays", whole=True, minimum=1), default=1_000_000, metavar="N",
                      help="rays per trace (default 1e6)")
    demo.add_argument("--seed", type=_number("--seed", whole=True, minimum=0), default=0, metavar="S")
    demo.add_argument("--output-dir", default="raytrace-output", metavar="DIR",
                      help="where to write (default ./raytrace-output)")
    return parser


def main(argv=None) -> int:
    from coatings import MaterialError, RecipeError
    from geometries import PrescriptionError

    from .io import OutputError

    try:
        args = build_parser().parse_args(argv)
        commands = {"area": run_area, "psf": run_psf, "reflectivity": run_reflectivity, "demo": run_demo}
        return commands[args.command](args)
    except (CliError, PrescriptionError, RecipeError, MaterialError, OutputError, ValueError) as exc:
        print(f"raytrace: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("raytrace: interrupted", file=sys.stderr)
        return 130


def _beam(args):
    from .sources import ParallelBeam

    return ParallelBeam.from_angles(args.off_axis * u.arcmin, args.azimuth * u.deg)


def run_area(args) -> int:
    from geometries import load_optic

    from .analysis import effective_area, spread_indices
    from .io import check_writable, write_arf, write_table
    from .plots import plot_effective_area

    energies = parse_grid(args.energies)
    if args.output:
        check_writable(args.output, (".ecsv", ".fits", ".arf"))
    if args.plot:
        check_writable(args.plot, (".png",))
    optic = load_optic(args.optic)
    start = time.perf_counter()
    table = effective_area(optic, energies, _beam(args), args.rays, args.seed, args.chunk_size)
    elapsed = time.perf_counter() - start
    print(f"{optic.name}: {table.meta['source']}; {args.rays:,} rays, seed {args.seed}, {elapsed:.1f} s")
    print(f"geometric double-reflection area {table.meta['geometric_area_cm2']:.1f} cm2 "
          f"(reflectivity 1); coating {table.meta['coatings']}")
    print("  energy (keV)   A_eff (cm2)")
    for i in spread_indices(len(table), 12):
        print(f"  {table['energy'][i]:12.3f}   {table['effective_area'][i]:9.1f} +- {table['effective_area_err'][i]:.1f}")
    if args.output:
        writer = write_arf if Path(args.output).suffix.lower() == ".arf" else write_table
        print(f"wrote {writer(table, args.output)}")
    if args.plot:
        plot_effective_area(table, args.plot)
        print(f"wrote {args.plot}")
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
    result = psf(optic, args.energy, _beam(args), args.rays, args.seed, args.chunk_size,
                 focal_plane_z_mm=args.focal_plane_z, pixel_arcsec=args.pixel, image_pixels=args.pixels)
    _print_psf(optic.name, result)
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


def _print_psf(name, result):
    s = result.summary()
    print(f"{name}: {result.meta['source']}, {result.meta['energy_kev']:g} keV; {result.meta['rays']:,} rays, "
          f"seed {result.meta['seed']}")
    print(f"  HPD {s['hpd_arcsec']:.4g} arcsec   W80 {s['w80_arcsec']:.4g} arcsec   W90 {s['w90_arcsec']:.4g} arcsec")
    print(f"  centroid ({s['centroid_x_mm']:.4f}, {s['centroid_y_mm']:.4f}) mm   focused area "
          f"{s['effective_area_cm2']:.1f} cm2")
    print("  (geometric PSF of ideal mirror surfaces: no figure errors or scattering)")


def run_reflectivity(args) -> int:
    from coatings import load_recipe

    from .analysis import reflectivity_curves, spread_indices
    from .io import check_writable, write_table
    from .plots import plot_reflectivity

    energies = parse_grid(args.energies)
    angles = parse_grid(args.angles, "--angles", "mrad", allow_zero=True)
    if angles.max() > MAX_GRAZE_MRAD:
        raise CliError(f"--angles {args.angles!r}: graze angles must not exceed {MAX_GRAZE_MRAD:g} mrad")
    if energies.size * angles.size > MAX_GRID_VALUES * 10:
        raise CliError(f"--energies x --angles: {energies.size * angles.size} points; at most {MAX_GRID_VALUES * 10}")
    if args.output:
        check_writable(args.output, (".ecsv", ".fits"))
    if args.plot:
        check_writable(args.plot, (".png",))
    stack = load_recipe(args.recipe)
    if args.roughness is not None:
        stack = stack.with_roughness(args.roughness)
    table = reflectivity_curves(stack, energies, angles, args.polarisation)
    print(f"{stack.name}: {stack.summary()}; {table.meta['optical_constants']} optical constants, {args.polarisation}")
    shown_e = spread_indices(energies.size, 8)
    shown_a = spread_indices(angles.size, 6)
    values = np.asarray(table["reflectivity"]).reshape(energies.size, angles.size)
    print("  energy (keV) | R at graze angle (mrad) " + " ".join(f"{a:8.3g}" for a in angles[shown_a]))
    for i in shown_e:
        print(f"  {energies[i]:12.4g} | {'':24}" + " ".join(f"{values[i, j]:8.4f}" for j in shown_a))
    if args.output:
        print(f"wrote {write_table(table, args.output)}")
    if args.plot:
        plot_reflectivity(table, args.plot)
        print(f"wrote {args.plot}")
    return 0


def run_demo(args) -> int:
    from geometries import load_optic

    from .analysis import effective_area, psf, vignetting
    from .io import write_arf, write_image, write_table
    from .plots import plot_effective_area, plot_psf

    out = Path(args.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--output-dir {str(out)!r}: cannot create it ({exc.strerror})") from None
    optic = load_optic("xmm")
    print(f"XMM-Newton module: {optic.n_shells} shells, f = {optic.focal_length_mm:.0f} mm, "
          f"open double-reflection area {optic.open_area_cm2():.1f} cm2 (before spider and reflectivity)")
    start = time.perf_counter()
    area = effective_area(optic, parse_grid("0.5:12:0.1"), n_rays=args.rays, seed=args.seed)
    print(f"effective area on axis ({args.rays:,} rays, {time.perf_counter() - start:.1f} s incl. compilation):")
    for e in (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 10.0):
        i = int(np.argmin(np.abs(area["energy"] - e)))
        print(f"  {e:5.1f} keV  {area['effective_area'][i]:7.1f} +- {area['effective_area_err'][i]:.1f} cm2")
    print("  BabyIAXO CDR for one XMM module: about 1500 cm2 at 2 keV and 900 cm2 at 7 keV")
    write_table(area, out / "xmm_effective_area.ecsv")
    write_arf(area, out / "xmm_effective_area.arf")
    plot_effective_area(area, out / "xmm_effective_area.png", compare_cdr=True)

    result = psf(optic, 1.5, n_rays=args.rays, seed=args.seed)
    _print_psf(optic.name, result)
    write_table(result.encircled, out / "xmm_psf_1.5keV_encircled.ecsv")
    write_image(result.image, out / "xmm_psf_1.5keV.fits", result.pixel_arcsec, result.image_center_mm,
                optic.focal_length_mm, result.meta | result.summary())
    plot_psf(result, out / "xmm_psf_1.5keV.png")

    vig = vignetting(optic, [0, 2, 5, 10], 1.5, n_rays=max(args.rays // 4, 1), seed=args.seed)
    write_table(vig, out / "xmm_vignetting_1.5keV.ecsv")
    print("off-axis effective area at 1.5 keV, relative to on-axis: "
          + ", ".join(f"{a:g}' {r:.3f}" for a, r in zip(vig["off_axis"].value, vig["relative_area"])))
    print(f"wrote tables, ARF, PSF image and plots to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
