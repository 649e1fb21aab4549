"""What the commands share: the parser, value parsers, option groups defined once, output checks and writers."""

from __future__ import annotations

import argparse
import math
import os
import re
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from geometries.optic import APERTURE_FORMS

from .. import defaults
from ..defaults import RAYS, RAYS_PER_POINT
from ..sources.spec import SOURCE_FORMS
from ..text import mm

MAX_GRID_VALUES = 100_000
OPTIC_HELP = (
    "'xmm', 'xmm_design', 'babyiaxo', 'iaxo', 'iaxoplus', 'cast_pathfinder', or a prescription file: "
    "shell table (.ecsv) or segmented design (.toml)"
)
# The options that name files a command writes, and files it reads (the positional OPTIC and RECIPE included)
OUTPUT_OPTIONS = {
    "output": "-o",
    "output_dir": "-o",
    "plot": "--plot",
    "image": "--image",
    "events": "--events",
    "entrance": "--entrance",
    "cube": "--cube",
    "arf": "--arf",
    "rmf": "--rmf",
    "checkpoint": "--checkpoint",
}
INPUT_OPTIONS = {
    "optic": "OPTIC",
    "recipe": "RECIPE",
    "detector": "--detector",
    "magnet": "--magnet",
    "base": "--from",
    "encircled": "--encircled",
    "king": "--king",
    "areas": "--areas",
}
# The API parameters whose options are not named after them ("--" and the name, without its unit, dashed)
OPTIONS_OF_PARAMETERS = {
    "energies_kev": "--energy",
    "normalise_arcsec": "--normalise-at",
    "fixed": "--fix",
    "design": "--from",
    "offset_arcmin": "--off-axis",
    "focal_lengths_mm": "--focal-length",
    "azimuth_deg": "--azimuth",
    "tilts_arcmin": "--tilt",
    "masses_ev": "--mass",
    "energy_bins_kev": "--bins",
    "model": "--solar-model",
}
UNIT_SUFFIXES = ("_kev", "_ev", "_mm", "_m", "_arcmin", "_arcsec", "_deg", "_nm", "_s")
DETECTOR_HELP = "detector description (default: the BabyIAXO Micromegas)"


class CliError(Exception):
    """Bad input on the command line: reported as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # every value that starts like a negative number is one (-1e1, -0.5,0, -5:5:1), not an unknown option:
        # argparse's own pattern takes only -12 and -1.5
        self._negative_number_matcher = re.compile(r"^-\.?\d")
        self.renamed = {}  # old option name: new name, accepted for one release with a deprecation line

    def error(self, message):
        raise CliError(message)

    def parse_known_args(self, args=None, namespace=None):
        if self.renamed and args is not None:
            args = renamed_options(list(args), self.renamed, self.prog.split()[-1])
        return super().parse_known_args(args, namespace)


def renamed_options(argv: list[str], renamed: dict, command_name: str) -> list[str]:
    """argv with the old option names of `renamed` replaced by the new ones, each announced once on stderr."""
    announced, out = set(), []
    for k, token in enumerate(argv):
        if token == "--":
            return out + argv[k:]
        name, eq, value = token.partition("=")
        if name in renamed:
            if name not in announced:
                announced.add(name)
                print(
                    f"raytrace: warning: {command_name}: {name} is now {renamed[name]}; the old name works until the "
                    "next release",
                    file=sys.stderr,
                )
            token = renamed[name] + eq + value
        out.append(token)
    return out


def command(sub, name: str, help_text: str, examples: str, run, renamed=None) -> argparse.ArgumentParser:
    """A sub-command whose --help ends with its examples; `run(args)` carries it out; `renamed` maps old option names
    to the new ones for one release."""
    parser = sub.add_parser(
        name, help=help_text, epilog=f"examples:\n{examples}", formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(run=run)
    parser.renamed = dict(renamed or {})
    return parser


RANGE_FORMS = "a value, a comma-separated list, START:STOP:STEP (STOP included) or START:STOP:COUNTlog"


def parse_grid(
    spec: str, option: str = "--energy", unit: str = "keV", allow_zero: bool = False, signed: bool = False
) -> np.ndarray:
    """The values of a grid option in `unit` (positive ones; with allow_zero also 0, with signed any). One syntax for
    every grid (RANGE_FORMS): START:STOP:STEP steps linearly, START:STOP:COUNTlog gives COUNT values evenly spaced in
    log from START to STOP."""
    text = spec.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            if parts[2].strip().lower().endswith("log"):
                values = _log_grid(spec, option, unit, float(parts[0]), float(parts[1]), parts[2].strip()[:-3])
            else:
                start, stop, step = (float(p) for p in parts)
                if not all(math.isfinite(v) for v in (start, stop, step)):
                    raise CliError(f"{option} {spec!r}: START, STOP and STEP must be finite numbers ({unit})")
                if not (step > 0 and stop >= start):
                    raise CliError(f"{option} {spec!r}: need START <= STOP and STEP > 0")
                if (stop - start) / step >= MAX_GRID_VALUES:
                    raise CliError(
                        f"{option} {spec!r}: more than {MAX_GRID_VALUES} values; at most {MAX_GRID_VALUES} are allowed"
                    )
                count = int(math.floor((stop - start) / step + 1e-9)) + 1
                # rounded to the precision the grid was written with: 0.5 + 7 x 0.1 is 1.2, not 1.2000000000000002
                decimals = max(_decimals(p) for p in parts)
                values = np.round(start + step * np.arange(count), decimals)
        else:
            values = np.array([float(p) for p in text.split(",")])
    except ValueError:
        raise CliError(f"{option} {spec!r}: expected {RANGE_FORMS}, in {unit}") from None
    if values.size > MAX_GRID_VALUES:
        raise CliError(f"{option} {spec!r}: {values.size} values; at most {MAX_GRID_VALUES} are allowed")
    low = np.zeros(values.shape, bool) if signed else values < 0 if allow_zero else values <= 0
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(low):
        kind = "finite" if signed else "non-negative" if allow_zero else "positive"
        raise CliError(f"{option} {spec!r}: values must be {kind} numbers ({unit})")
    return values


def _log_grid(spec, option, unit, start, stop, count_text) -> np.ndarray:
    """START:STOP:COUNTlog: COUNT values evenly spaced in log, both ends included."""
    count = float(count_text)
    if not (math.isfinite(start) and math.isfinite(stop) and 0 < start < stop):
        raise CliError(f"{option} {spec!r}: a log grid needs 0 < START < STOP ({unit})")
    if not (count.is_integer() and 2 <= count <= MAX_GRID_VALUES):
        raise CliError(f"{option} {spec!r}: COUNT must be a whole number from 2 to {MAX_GRID_VALUES}")
    return np.geomspace(start, stop, int(count))


def parse_interval(spec: str, option: str, unit: str) -> tuple[float, float]:
    """START:STOP: an interval of positive values, START < STOP."""
    try:
        start, stop = (float(p) for p in spec.split(":"))
    except ValueError:
        raise CliError(f"{option} {spec!r}: expected START:STOP in {unit}") from None
    if not (math.isfinite(start) and math.isfinite(stop) and 0 < start < stop):
        raise CliError(f"{option} {spec!r}: need finite 0 < START < STOP ({unit})")
    return start, stop


def _decimals(text: str) -> int:
    """Digits after the decimal point of a number as written (1.25 -> 2, 1e-3 -> 3, 2 -> 0)."""
    mantissa, _, exponent = text.strip().lower().partition("e")
    digits = len(mantissa.partition(".")[2])
    return max(0, digits - int(exponent or 0))


def number(name, whole=False, minimum=None, allow_inf=False, positive=False):
    """argparse type: a finite number (optionally a whole one, written 1e6 or 1000000; with allow_inf also 'inf')
    >= minimum, or with `positive` > 0."""
    kind = "whole number" if whole else "number"

    def convert(text):
        try:
            value = int(text) if whole and text.strip().lstrip("+-").isdigit() else float(text)  # exact for big seeds
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: expected a {kind}") from None
        if (
            math.isnan(value)
            or (math.isinf(value) and not (allow_inf and value > 0))
            or (whole and value != int(value))
        ):
            raise argparse.ArgumentTypeError(f"{name} {text!r}: expected a finite {kind}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: must be >= {minimum}")
        if positive and not value > 0:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: must be > 0")
        return int(value) if whole else value

    return convert


def option_of(parameter: str) -> str:
    """The command line's option for an API parameter (`OPTIONS_OF_PARAMETERS`, else the parameter's name)."""
    if parameter in OPTIONS_OF_PARAMETERS:
        return OPTIONS_OF_PARAMETERS[parameter]
    name = next((parameter[: -len(s)] for s in UNIT_SUFFIXES if parameter.endswith(s)), parameter)
    return "--" + name.replace("_", "-")


def add_rays_and_seed(p, rays_default, per="", minimum=1):
    """--rays (the policy: RAYS for a single trace, RAYS_PER_POINT for each point of a scan; `rays_default` None:
    the command resolves it, by whether it traces one direction or a grid) and --seed."""
    default_text = (
        f"{RAYS:,} for one trace, {RAYS_PER_POINT:,} per point of a grid"
        if rays_default is None
        else f"{rays_default:,}"
    )
    p.add_argument(
        "--rays",
        type=number("--rays", whole=True, minimum=minimum),
        default=rays_default,
        metavar="N",
        help=f"number of rays{per} (default {default_text}; 1e6 is accepted)",
    )
    p.add_argument(
        "--seed", type=number("--seed", whole=True, minimum=0), default=0, metavar="S", help="random seed (default 0)"
    )


def add_optic_and_beam(p, rays_default=RAYS, per="", grids=False):
    """OPTIC, the source's direction (with `grids`, a grid of them, and the rays' default left to the command),
    --source, --aperture, --rays and --seed."""
    p.add_argument("optic", help=OPTIC_HELP)
    if grids:
        p.add_argument(
            "--off-axis",
            default="0",
            metavar="SPEC",
            help="source off-axis angle in arcmin, or a grid of them (default 0)",
        )
        p.add_argument(
            "--azimuth", default="0", metavar="SPEC", help="source azimuth in degrees, or a grid of them (default 0)"
        )
    else:
        p.add_argument(
            "--off-axis",
            type=number("--off-axis"),
            default=0.0,
            metavar="ARCMIN",
            help="source off-axis angle in arcmin (default 0)",
        )
        p.add_argument(
            "--azimuth",
            type=number("--azimuth"),
            default=0.0,
            metavar="DEG",
            help="source azimuth in degrees (default 0)",
        )
    add_source(p)
    add_aperture(p)
    add_rays_and_seed(p, None if grids else rays_default, per)


def add_source(p):
    """--source: the X-ray source in the API's text form, whose direction --off-axis and --azimuth give."""
    p.add_argument(
        "--source",
        default=defaults.SOURCE,
        metavar="SPEC",
        help=f"the X-ray source: {SOURCE_FORMS}, at DISTANCE_M metres from the optic's intersection plane "
        f"(PANTER is about point:130, the CAST X-ray finger about point:14), a disc of RADIUS_MM "
        f"(default {defaults.SOURCE})",
    )
    # the previous release's names, for one release (`source_options`)
    p.add_argument(
        "--source-distance",
        dest="old_source_distance",
        help=argparse.SUPPRESS,
        type=number("--source-distance", minimum=0, allow_inf=True),
    )
    p.add_argument(
        "--source-size", dest="old_source_size", type=number("--source-size", minimum=0), help=argparse.SUPPRESS
    )


def add_aperture(p):
    p.add_argument(
        "--aperture",
        action="append",
        default=[],
        metavar="SPEC",
        help=f"an entrance aperture in the spider plane (repeatable; several intersect): {APERTURE_FORMS}",
    )


def add_events(p, per="", every_ray=True):
    p.add_argument(
        "--events",
        metavar="FILE",
        help="write the photon list of every ray reaching the focal plane: "
        ".fits (binary table) or .mcpl (McStas/McXtrace; needs "
        f"the mcpl extra){per}",
    )
    p.add_argument(
        "--events-frame",
        choices=("optic", "beam"),
        default="optic",
        help="frame of the photon lists: 'optic' (default; origin at the nominal focus, z along the axis "
        "towards the optic, photons along -z) or 'beam' (turned by 180 deg about x: photons along +z)",
    )
    if every_ray:
        p.add_argument(
            "--events-all",
            action="store_true",
            help="--events holds every ray of the run in order (row k is ray k): where it reached the "
            "focal plane, or where it stopped (its fate says why)",
        )
        p.add_argument(
            "--entrance",
            metavar="FILE",
            help="also write every ray as it enters the optic, with the fate the trace gave it, in order "
            "(.fits or .mcpl): row k pairs with row k of --events, which then holds every ray",
        )


def events_options(args) -> dict:
    """The API keywords of the photon-list options."""
    return {
        "events": args.events,
        "events_frame": args.events_frame,
        "events_all": args.events_all,
        "entrance": args.entrance,
    }


def photon_list_option(args) -> str | None:
    """The first photon-list option given (--events, --entrance), None if none; --events-all needs --events."""
    from ..output.photons import check_photon_lists

    check_photon_lists(args.events, getattr(args, "entrance", None), getattr(args, "events_all", False))
    return "--events" if args.events else "--entrance" if getattr(args, "entrance", None) else None


def announce_events(args) -> None:
    """Check the photon lists (--events, --entrance) before any work and say how large the files can grow."""
    from ..output.photons import estimated_bytes

    photon_list_option(args)
    lists = [("--events", args.events), ("--entrance", getattr(args, "entrance", None))]
    for option, path in lists:
        check_output(option, path, (".fits", ".mcpl"))
    for option, path in lists:
        if path:
            print(f"photon list {path}: at most {estimated_bytes(path, args.rays) / 1e6:.3g} MB ({args.rays:,} rays)")


def report_events(args) -> None:
    """Say which photon lists were written."""
    for path in (args.events, getattr(args, "entrance", None)):
        if path:
            print(f"wrote {path}")


def load_traced_optic(args):
    """OPTIC with the --aperture options added to its own apertures."""
    from .. import api

    return api.load(args.optic, apertures=args.aperture)


def source_options(args, directed: bool = True) -> dict:
    """The API's ``source`` of --source, pointed at --off-axis and --azimuth (with `directed`; else the grid's
    directions are the API's own arguments). The previous release's --source-distance and --source-size still work,
    announced once."""
    from .. import api
    from ..sources.spec import parse_source

    old = {"--source-distance": args.old_source_distance, "--source-size": args.old_source_size}
    old = {name: value for name, value in old.items() if value is not None}
    if old:
        if args.source != defaults.SOURCE:
            raise CliError(f"--source: give it or {' and '.join(old)}, not both")
        for name in old:
            print(
                f"raytrace: warning: {args.command}: {name} is now --source point:DISTANCE_M or "
                "disc:DISTANCE_M:RADIUS_MM; the old name works until the next release",
                file=sys.stderr,
            )
        distance, size = args.old_source_distance, args.old_source_size
        spec = SimpleNamespace(distance_m=math.inf if distance is None else distance, size_mm=size or 0.0)
    else:
        spec = parse_source(args.source, directed=False)
    if not directed:
        return {"source": api.make_source(0.0, 0.0, spec.distance_m, spec.size_mm)}
    return {"source": api.make_source(args.off_axis, args.azimuth, spec.distance_m, spec.size_mm)}


def add_focal_plane(p, best_help="where the HPD is smallest"):
    p.add_argument(
        "--focal-plane-z",
        type=_focal_plane,
        default="best",
        metavar="MM|best",
        help="focal plane position along the axis in mm (0 = nominal focus, negative = behind it), "
        f"or 'best' (default): {best_help}",
    )


def add_table_and_plot(p, table_help="write the table: .ecsv or .fits", plot_help="plot it"):
    p.add_argument("-o", "--output", metavar="FILE", help=table_help)
    p.add_argument("--plot", metavar="FILE.png", help=plot_help)


def _focal_plane(text):
    """argparse type for --focal-plane-z: 'best' or a number of mm."""
    return "best" if text.strip().lower() == "best" else number("--focal-plane-z")(text)


def check_output(option: str, value, suffixes) -> None:
    """Fail before any work if an output option names nothing or a file that cannot be written (None: not asked)."""
    from ..output import check_writable

    if value == "":
        raise CliError(f"{option} '': an empty file name; give a path such as out{suffixes[0]}")
    if value:
        check_writable(value, suffixes, option)


def check_files(args) -> None:
    """Before any work: no output may be an input of the same run, another of its outputs, or a read-only file
    (refused even where the user's privileges would let it be replaced)."""
    for name, flag in OUTPUT_OPTIONS.items():
        if getattr(args, name, None) == "":
            raise CliError(f"{flag} '': an empty file name; give the path of the file (or folder) to write")
    outputs = [
        (flag, Path(value))
        for name, flag in OUTPUT_OPTIONS.items()
        if isinstance(value := getattr(args, name, None), str) and value
    ]
    inputs = [
        (flag, Path(value))
        for name, flag in INPUT_OPTIONS.items()
        if isinstance(value := getattr(args, name, None), str) and Path(value).is_file()
    ]
    for k, (flag, path) in enumerate(outputs):
        for other_flag, other in outputs[:k] + inputs:
            if _same_file(path, other):
                role = "an input" if (other_flag, other) in inputs else "another output"
                raise CliError(
                    f"{flag} {str(path)!r}: the same file as {other_flag}, {role} of this run; give each "
                    "output a name of its own"
                )
        if path.is_file() and not path.stat().st_mode & stat.S_IWUSR:
            raise CliError(f"{flag} {str(path)!r}: the file is read-only; remove it or give another name")


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))


def check_outputs(args, table_suffixes=(".ecsv", ".fits")) -> None:
    """Fail before any work if -o or --plot cannot be written."""
    check_output("-o", args.output, table_suffixes)
    check_output("--plot", args.plot, (".png",))


def write_outputs(args, table, figure=None) -> None:
    """Write the table to -o (ECSV, FITS or OGIP ARF by its suffix) and figure() to --plot, as asked."""
    from ..output import save_figure, write_arf, write_table

    if args.output:
        writer = write_arf if Path(args.output).suffix.lower() == ".arf" else write_table
        print(f"wrote {writer(table, args.output)}")
    if args.plot:
        print(f"wrote {save_figure(figure(), args.plot)}")


def print_rows(count: int, line, what: str, shown: int = 12) -> None:
    """Print line(i) for at most `shown` of `count` rows spread over the table, '...' where rows are left out and
    a note of how many were shown."""
    from ..analysis.encircled import spread_indices

    previous = -1
    for i in spread_indices(count, shown):
        if i != previous + 1:
            print("  ...")
        print(line(i))
        previous = i
    if count > shown:
        print(f"  ({min(shown, count)} of {count} {what} shown; -o writes them all)")


def slope_summary(optic) -> str:
    kinds = sorted({s.slope_errors for s in optic.shells}, key=lambda e: e.meridional_arcsec)
    if all(e.is_perfect for e in kinds):
        return "none (ideal mirror surfaces)"
    parts = []
    for e in kinds:
        text = f'meridional {e.meridional_arcsec:.3g}", sagittal {e.sagittal_arcsec:.3g}" rms'
        if e.wing_fraction > 0 and e.wing_arcsec > 0:
            text += f', wing {e.wing_fraction:.3g} x {e.wing_arcsec:.3g}"'
        parts.append(text)
    return "; ".join(parts)


def graze_range(optic) -> str:
    graze = optic.graze_angles_rad() * 1e3
    return f"{graze.min():.3g}-{graze.max():.3g} mrad"


def print_psf(optic, result):
    s = result.summary()
    print(
        f"{optic.name}: {result.meta['source']}; {result.meta['rays']:,} rays, seed {result.meta['seed']}; "
        f"focal plane z = {mm(result.meta['focal_plane_z_mm'])} mm"
    )
    print(f"  HPD {s['hpd_arcsec']:.4g} arcsec   W80 {s['w80_arcsec']:.4g} arcsec   W90 {s['w90_arcsec']:.4g} arcsec")
    print(
        f"  centroid ({s['centroid_x_mm']:.4f}, {s['centroid_y_mm']:.4f}) mm   focused area "
        f"{s['effective_area_cm2']:.1f} cm2"
    )
    n = result.image.shape[0]
    print(
        f"  image {n} x {n} pixels of {result.pixel_arcsec:g} arcsec (+-{n * result.pixel_arcsec / 2:g} arcsec): "
        f"{100 * s['image_fraction']:.2f} % of the focused flux, {100 * (1 - s['image_fraction']):.2f} % outside"
    )
    print(f"  slope errors: {slope_summary(optic)}")
