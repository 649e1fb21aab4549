"""Commands that trace an optic with a parallel beam: area, psf, offaxis, calibrate."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from .. import defaults
from ..progress import Ticker
from ..text import mm
from .options import (
    OPTIC_HELP,
    RANGE_FORMS,
    CliError,
    add_aperture,
    add_events,
    add_focal_plane,
    add_optic_and_beam,
    add_rays_and_seed,
    add_source,
    add_table_and_plot,
    announce_events,
    check_output,
    check_outputs,
    command,
    events_options,
    load_traced_optic,
    number,
    parse_grid,
    photon_list_option,
    print_psf,
    print_rows,
    report_events,
    slope_summary,
    source_options,
    write_outputs,
)


def register(sub) -> None:
    area = command(
        sub,
        "area",
        "effective area versus energy",
        """\
  raytrace area xmm --energy 0.5:12:0.1 -o xmm_area.ecsv
  raytrace area xmm --energy 1.5,4.5,6.4 --off-axis 3 --azimuth 45
  raytrace area my_optic.ecsv --energy 1:10:0.5 -o my_optic.arf
  raytrace area xmm --energy 0.5:12:0.5 --off-axis 0:20:1 -o xmm_vignetting.fits   (OGIP/CALDB vignetting)
  raytrace area xmm --energy 1.5,3,8 --source point:130 --aperture circle:21.5@200,0""",
        run_area,
        renamed={"--energies": "--energy"},
    )
    add_optic_and_beam(area, grids=True)
    area.add_argument("--energy", required=True, metavar="SPEC", help=f"photon energies in keV: {RANGE_FORMS}")
    add_events(area)
    add_table_and_plot(
        area,
        "write the table: .ecsv, .fits or .arf (OGIP ARF); for a grid of off-axis angles, .ecsv "
        "or .fits (the OGIP/CALDB vignetting layout: ENERG_LO, ENERG_HI, THETA, PHI, VIGNET)",
        "plot the effective area",
    )

    psf = command(
        sub,
        "psf",
        "PSF, HPD, W80, W90 and encircled energy at one energy",
        """\
  raytrace psf xmm --energy 1.5 --image psf.fits --plot psf.png
  raytrace psf xmm --energy 6.4 --off-axis 5 -o ee.ecsv
  raytrace psf babyiaxo --energy 3 --focal-plane-z 0
  raytrace psf xmm --energy 1.5,4.5,7.5 --off-axis 0,5,10 --image xmm_psf_library.fits   (a PSF library for SIXTE)""",
        run_psf,
    )
    add_optic_and_beam(psf, grids=True)
    psf.add_argument(
        "--energy",
        required=True,
        metavar="SPEC",
        help="photon energy in keV; several (with several --off-axis or --azimuth values) make a PSF "
        "library: every combination, one image each, in one --image file",
    )
    add_focal_plane(psf)
    psf.add_argument(
        "--pixel",
        type=number("--pixel"),
        metavar="ARCSEC",
        help="image pixel size in arcsec (default: the smallest of 0.5, 1, 2, 5, 10, ... with which the "
        "image holds 99 %% of the focused flux)",
    )
    psf.add_argument(
        "--pixels",
        type=number("--pixels", whole=True, minimum=1),
        default=256,
        metavar="N",
        help="image size in pixels per side (default 256)",
    )
    psf.add_argument(
        "--image",
        metavar="FILE.fits",
        help="write the PSF image(s): an OGIP 2-D PSF file (CAL/GEN/92-027) that SIXTE reads",
    )
    add_events(psf)
    add_table_and_plot(
        psf, "write the encircled-energy table: .ecsv or .fits", "plot the PSF image and encircled energy"
    )

    offaxis = command(
        sub,
        "offaxis",
        "vignetting: effective area versus off-axis angle",
        """\
  raytrace offaxis xmm --off-axis 0:20:1 --energy 1.5
  raytrace offaxis babyiaxo --off-axis 0,2,5,10 --energy 4 --azimuth 30 -o vignetting.ecsv --plot vignetting.png""",
        run_offaxis,
        renamed={"--angles": "--off-axis"},
    )
    offaxis.add_argument("optic", help=OPTIC_HELP)
    offaxis.add_argument(
        "--off-axis", required=True, metavar="SPEC", help=f"source off-axis angles in arcmin: {RANGE_FORMS}"
    )
    offaxis.add_argument("--energy", type=number("--energy"), required=True, metavar="KEV", help="photon energy in keV")
    offaxis.add_argument(
        "--azimuth", type=number("--azimuth"), default=0.0, metavar="DEG", help="source azimuth in degrees (default 0)"
    )
    add_source(offaxis)
    add_aperture(offaxis)
    add_rays_and_seed(offaxis, defaults.RAYS_PER_POINT, " per angle")
    add_table_and_plot(offaxis, plot_help="plot the vignetting curve")

    cal = command(
        sub,
        "calibrate",
        "slope errors (and surface scattering) that reproduce a measured PSF",
        """\
  raytrace calibrate xmm --energy 1.5 --hpd 15
  raytrace calibrate babyiaxo --energy 3 --hpd 59.8 -o babyiaxo_calibrated.toml
  raytrace calibrate xmm --energy 1.5 --hpd 15 --w90 60 --wing-fraction 0.1 -o xmm_wings.ecsv
  raytrace calibrate xmm --encircled measured_ee.csv -o xmm_fitted.ecsv
  raytrace calibrate xmm --king xmm_king.csv --king-energy 1.5,4.5,7.5 --radii 5,10,15,20,30,45,60,90""",
        run_calibrate,
        renamed={"--king-energies": "--king-energy"},
    )
    add_optic_and_beam(cal, defaults.RAYS_PER_POINT, " per evaluation")
    cal.add_argument("--energy", type=number("--energy"), metavar="KEV", help="photon energy in keV (with --hpd)")
    cal.add_argument("--hpd", type=number("--hpd"), metavar="ARCSEC", help="target HPD in arcsec")
    cal.add_argument(
        "--encircled",
        metavar="FILE",
        help="instead of --hpd: fit measured encircled-energy curves, a .csv or .ecsv table with columns "
        "energy_kev, radius_arcsec, fraction",
    )
    cal.add_argument(
        "--king",
        metavar="FILE",
        help="instead of --hpd: fit the encircled energy of King profiles, a .csv with columns energy_eV "
        "(or energy_kev), core_radius_arcsec, king_index, at --king-energy and --radii",
    )
    cal.add_argument("--king-energy", metavar="LIST", help="energies (keV) of the --king rows to fit, e.g. 1.5,4.5")
    cal.add_argument(
        "--radii",
        default="5,10,15,20,30,45,60,90",
        metavar="LIST",
        help="radii (arcsec) at which --king profiles are fitted (default 5,10,15,20,30,45,60,90)",
    )
    cal.add_argument(
        "--normalise-at",
        type=number("--normalise-at", minimum=0),
        metavar="ARCSEC",
        help="the measured encircled fractions (and --king profiles) are of the flux within this radius, "
        "as in-orbit tables normalised at 300 arcsec (default: all the focused flux)",
    )
    cal.add_argument(
        "--ee-error",
        type=number("--ee-error", positive=True),
        default=0.01,
        metavar="F",
        help="uncertainty of each measured encircled fraction (default 0.01)",
    )
    cal.add_argument(
        "--areas",
        metavar="FILE",
        help="also (or only) fit measured on-axis areas, a .csv or .ecsv table with columns energy_kev, "
        "area_cm2 and optionally area_err_cm2: the spider's width (the obscuration) and the "
        "coatings' roughness",
    )
    cal.add_argument(
        "--area-error",
        type=number("--area-error", positive=True),
        default=0.01,
        metavar="F",
        help="relative uncertainty of the areas where the table gives none (default 0.01)",
    )
    cal.add_argument(
        "--area-radius",
        type=number("--area-radius", minimum=0),
        metavar="ARCSEC",
        help="the areas are the flux within this radius (default: all the focused flux)",
    )
    cal.add_argument(
        "--no-scattering", action="store_true", help="fit slope errors only, without the coatings' surface scattering"
    )
    cal.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="hold a fitted parameter at a value (core_scale, wing_fraction, wing_arcsec, psd_index, "
        "spider_width, roughness_nm), e.g. wing_fraction=0.1; repeat for more",
    )
    cal.add_argument(
        "--w90",
        type=number("--w90"),
        metavar="ARCSEC",
        help="target W90 in arcsec: also fit the rms of a broad wing component",
    )
    cal.add_argument(
        "--wing-fraction",
        type=number("--wing-fraction"),
        metavar="F",
        help=f"share of reflections in the wing when --w90 is given (default: the optic's, else "
        f"{defaults.WING_FRACTION})",
    )
    add_focal_plane(cal)
    cal.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the calibrated optic: .ecsv shell table, or .toml for a segmented design",
    )


def run_area(args) -> int:
    from .. import api
    from ..analysis.encircled import MIN_FOCUSED_RAYS
    from ..output import plot_effective_area

    energies = parse_grid(args.energy)
    angles = parse_grid(args.off_axis, "--off-axis", "arcmin", allow_zero=True)
    azimuths = parse_grid(args.azimuth, "--azimuth", "deg", signed=True)
    if args.rays is None:
        args.rays = defaults.RAYS_PER_POINT if angles.size > 1 or azimuths.size > 1 else defaults.RAYS
    option = photon_list_option(args)
    if angles.size > 1 or azimuths.size > 1:
        if option:
            raise CliError(f"{option}: a photon list is written for one direction, not a grid of --off-axis angles")
        return _offaxis_response(args, energies, angles, azimuths)
    check_outputs(args, (".ecsv", ".fits", ".arf"))
    if args.output and Path(args.output).suffix.lower() == ".arf" and energies.size < 2:
        raise CliError(f"-o {args.output!r}: an ARF needs at least two energies; --energy gives {energies.size}")
    announce_events(args)
    optic = load_traced_optic(args)
    start = time.perf_counter()
    args.off_axis, args.azimuth = angles[0], azimuths[0]
    table = api.effective_area(
        optic, energies, **source_options(args), rays=args.rays, seed=args.seed, **events_options(args)
    )
    report_events(args)
    elapsed = time.perf_counter() - start
    focused = table.meta["fates"]["double"]
    if focused < MIN_FOCUSED_RAYS:
        print(
            f"raytrace: warning: only {focused} focused ray(s): the areas and their errors are not meaningful "
            f"(at least {MIN_FOCUSED_RAYS} are needed; trace more rays)",
            file=sys.stderr,
        )
    print(f"{optic.name}: {table.meta['source']}; {args.rays:,} rays, seed {args.seed}, {elapsed:.1f} s")
    print(
        f"geometric double-reflection area {table.meta['geometric_area_cm2']:.1f} cm2 "
        f"(reflectivity 1); coating {table.meta['coatings']}"
    )
    print("  energy (keV)   A_eff (cm2)")
    print_rows(
        len(table),
        lambda i: (
            f"  {table['energy'][i]:12.3f}   {table['effective_area'][i]:9.1f} +- {table['effective_area_err'][i]:.1f}"
        ),
        "energies",
    )
    write_outputs(args, table, lambda: plot_effective_area(table))
    return 0


def _offaxis_response(args, energies, angles, azimuths) -> int:
    from .. import api
    from ..analysis.encircled import spread_indices
    from ..output import plot_offaxis_response, save_figure, write_table, write_vignetting

    check_outputs(args)
    optic = load_traced_optic(args)
    start = time.perf_counter()
    table = api.offaxis_response(
        optic, energies, angles, azimuth_deg=azimuths, **source_options(args, False), rays=args.rays, seed=args.seed
    )
    print(
        f"{optic.name}: {table.meta['source']}, {angles.size} off-axis angles x {azimuths.size} azimuths x "
        f"{energies.size} energies; {args.rays:,} rays per direction, seed {args.seed}, "
        f"{time.perf_counter() - start:.1f} s"
    )
    shown_e = energies[spread_indices(energies.size, 4)]
    print("  off-axis (arcmin)  azimuth (deg)  A_eff / on axis at " + ", ".join(f"{e:g}" for e in shown_e) + " keV")
    for azimuth in azimuths:
        for angle in angles[spread_indices(angles.size, 12)]:
            rows = table[(table["off_axis"].value == angle) & (table["azimuth"].value == azimuth)]
            values = [rows["vignet"][rows["energy"].value == e][0] for e in shown_e]
            print(f"  {angle:17.3f}  {azimuth:13.1f}  " + "  ".join(f"{v:6.3f}" for v in values))
    if args.output:
        writer = write_vignetting if Path(args.output).suffix.lower() == ".fits" else write_table
        print(f"wrote {writer(table, args.output)}")
    if args.plot:
        print(f"wrote {save_figure(plot_offaxis_response(table), args.plot)}")
    return 0


def run_psf(args) -> int:
    from .. import api
    from ..output import plot_psf, save_figure, write_psf, write_table

    energies = parse_grid(args.energy, "--energy")
    angles = parse_grid(args.off_axis, "--off-axis", "arcmin", allow_zero=True)
    azimuths = parse_grid(args.azimuth, "--azimuth", "deg", signed=True)
    for option, path, suffixes in (
        ("-o", args.output, (".ecsv", ".fits")),
        ("--image", args.image, (".fits",)),
        ("--plot", args.plot, (".png",)),
    ):
        check_output(option, path, suffixes)
    if energies.size * angles.size * azimuths.size > 1:
        return _psf_library(args, energies, angles, azimuths)
    args.rays = defaults.RAYS if args.rays is None else args.rays
    announce_events(args)
    optic = load_traced_optic(args)
    args.off_axis, args.azimuth = angles[0], azimuths[0]
    result = api.psf(
        optic,
        energies[0],
        **source_options(args),
        rays=args.rays,
        seed=args.seed,
        focal_plane_z_mm=args.focal_plane_z,
        pixel_arcsec=args.pixel,
        pixels=args.pixels,
        **events_options(args),
    )
    print_psf(optic, result)
    report_events(args)
    if args.output:
        print(f"wrote {write_table(result.encircled, args.output)}")
    if args.image:
        print(f"wrote {write_psf(result, args.image)}")
    if args.plot:
        print(f"wrote {save_figure(plot_psf(result), args.plot)}")
    return 0


def _psf_library(args, energies, angles, azimuths) -> int:
    """psf over a grid: every energy x off-axis angle x azimuth into one OGIP PSF file."""
    from .. import api
    from ..output import write_psf

    for flag in ("-o" if args.output else None, "--plot" if args.plot else None, photon_list_option(args)):
        if flag:
            raise CliError(f"{flag}: a PSF library writes only --image; give one energy and direction for {flag}")
    if not args.image:
        raise CliError("--image: a grid of energies or directions makes a PSF library; name its file with --image")
    args.rays = defaults.RAYS_PER_POINT if args.rays is None else args.rays
    optic = load_traced_optic(args)
    count = energies.size * angles.size * azimuths.size
    results = api.psf_library(
        optic,
        energies,
        angles,
        azimuth_deg=azimuths,
        **source_options(args, False),
        rays=args.rays,
        seed=args.seed,
        focal_plane_z_mm=args.focal_plane_z,
        pixel_arcsec=args.pixel,
        pixels=args.pixels,
    )
    print(
        f"{optic.name}: {count} PSF images in the focal plane z = {mm(results[0].meta['focal_plane_z_mm'])} mm; "
        f"{args.rays:,} rays each, seed {args.seed}"
    )
    print("  energy (keV)  off-axis (arcmin)  azimuth (deg)   HPD (arcsec)   W90 (arcsec)   pixel (arcsec)")
    print_rows(
        count,
        lambda i: (
            f"  {results[i].meta['energy_kev']:12.4g}  {results[i].meta['off_axis_arcmin']:17.4g}  "
            f"{results[i].meta['azimuth_deg']:13.4g}  {results[i].hpd_arcsec:13.4g}  "
            f"{results[i].w90_arcsec:13.4g}  {results[i].pixel_arcsec:15g}"
        ),
        "images",
    )
    print(f"wrote {write_psf(results, args.image)}")
    return 0


def run_offaxis(args) -> int:
    from .. import api
    from ..output import plot_vignetting

    angles = parse_grid(args.off_axis, "--off-axis", "arcmin", allow_zero=True)
    check_outputs(args)
    optic = load_traced_optic(args)
    table = api.vignetting(
        optic,
        energy_kev=args.energy,
        off_axis_arcmin=angles,
        azimuth_deg=args.azimuth,
        **source_options(args, False),
        rays=args.rays,
        seed=args.seed,
    )
    print(
        f"{optic.name}: {table.meta['source']} moved to each angle, {args.energy:g} keV, azimuth {args.azimuth:g} deg; "
        f"{args.rays:,} rays per angle, seed {args.seed}"
    )
    print("  off-axis (arcmin)   A_eff (cm2)      relative")
    for row in table:
        print(
            f"  {row['off_axis']:17.3f}  {row['effective_area']:9.1f} +- {row['effective_area_err']:.1f}  "
            f"{row['relative_area']:8.3f}"
        )
    write_outputs(args, table, lambda: plot_vignetting([table]))
    return 0


def run_calibrate(args) -> int:
    from geometries import is_design, load_design

    from .. import api
    from ..output import check_writable, write_design, write_prescription

    if args.encircled or args.king or args.areas:
        return _fit_encircled(args)
    if args.energy is None or args.hpd is None:
        raise CliError("calibrate: give --energy and --hpd, or --encircled FILE, --king FILE or --areas FILE")
    design = None
    if args.output:
        check_writable(args.output, (".ecsv", ".toml"), "-o")
        if Path(args.output).suffix == ".toml":
            if not is_design(args.optic):
                raise CliError(
                    f"-o {args.output!r}: a .toml output needs a segmented design as input; write .ecsv instead"
                )
            design = load_design(args.optic)
    optic = load_traced_optic(args)
    source = source_options(args)
    start = time.perf_counter()
    with Ticker("calibrating: tracing trial slope errors"):
        result = api.calibrate(
            optic,
            args.energy,
            args.hpd,
            args.w90,
            wing_fraction=args.wing_fraction,
            focal_plane_z_mm=args.focal_plane_z,
            **source,
            rays=args.rays,
            seed=args.seed,
        )
    print(
        f"{optic.name} at {args.energy:g} keV, {source['source'].describe()}; focal plane z = "
        f"{mm(result.focal_plane_z_mm)} mm; "
        f"{args.rays:,} rays per evaluation, seed {args.seed}, {time.perf_counter() - start:.1f} s"
    )
    print(
        f"  without slope errors: HPD {result.geometric_hpd_arcsec:.4g} arcsec, "
        f"W90 {result.geometric_w90_arcsec:.4g} arcsec"
    )
    target = f"HPD {args.hpd:g}" + (f", W90 {args.w90:g}" if args.w90 else "")
    print(f"  calibrated ({target} arcsec): HPD {result.hpd_arcsec:.4g} arcsec, W90 {result.w90_arcsec:.4g} arcsec")
    print(f"  slope errors: {slope_summary(result.optic)}")
    if args.output:
        if design is not None:
            written = write_design(design.with_slope_errors_of(result.optic), args.output)
        else:
            written = write_prescription(result.optic, args.output)
        for path in written:
            print(f"wrote {path}")
    return 0


def _fit_encircled(args) -> int:
    """calibrate --encircled / --king / --areas: the fit of `raytrace.fit_encircled`."""
    from .. import api
    from ..output import write_prescription

    if args.encircled and args.king:
        raise CliError("calibrate: give --encircled or --king, not both")
    if args.energy is not None or args.hpd is not None:
        raise CliError(
            "calibrate: --energy and --hpd belong to the HPD calibration, not to --encircled, --king or --areas"
        )
    if args.output:
        check_output("-o", args.output, (".ecsv",))
    from ..analysis import read_areas, read_encircled

    targets = (
        _measured("--encircled", read_encircled, args.encircled)
        if args.encircled
        else _king_targets(args)
        if args.king
        else []
    )
    areas = _measured("--areas", read_areas, args.areas, args.area_error) if args.areas else []
    optic = load_traced_optic(args)
    start = time.perf_counter()
    with Ticker("fitting: tracing trial optics"):
        fit = api.fit_encircled(
            optic,
            targets,
            areas,
            ee_error=args.ee_error,
            area_radius_arcsec=math.inf if args.area_radius is None else args.area_radius,
            normalise_arcsec=_normalisation(args),
            scattering=not args.no_scattering,
            fixed=dict(_fixed(text) for text in args.fix),
            focal_plane_z_mm=args.focal_plane_z,
            **source_options(args),
            rays=args.rays,
            seed=args.seed,
        )
    print(
        f"{optic.name}: {len(targets)} encircled-energy curve(s) of {len(fit.residuals)} points, {len(areas)} "
        f"area(s); focal plane z = "
        f"{mm(fit.focal_plane_z_mm)} mm; {args.rays:,} rays per energy and evaluation, "
        f"{time.perf_counter() - start:.1f} s"
    )
    for name, (value, error) in fit.parameters.items():
        print(f"  {name:14s} {value:10.4g} +- {error:.2g}")
    known = f" (fractions known to +-{args.ee_error:g})" if targets else ""
    print(f"  chi2 = {fit.chi2:.4g} for {fit.dof} degrees of freedom{known}")
    if len(fit.residuals):
        print("  energy (keV)  radius (arcsec)  measured  model")
        for row in fit.residuals:
            print(
                f"  {row['energy']:12.3g}  {row['radius']:15.4g}  {row['measured_fraction']:8.4f}  "
                f"{row['model_fraction']:.4f}"
            )
    if len(fit.area_residuals):
        print("  energy (keV)  measured area (cm2)  model (cm2)")
        for row in fit.area_residuals:
            print(
                f"  {row['energy']:12.3g}  {row['measured_area']:11.5g} +- {row['measured_error']:<6.3g}  "
                f"{row['model_area']:.5g}"
            )
    if args.output:
        for path in write_prescription(fit.optic, args.output):
            print(f"wrote {path}")
    return 0


def _measured(option: str, read, *args):
    """A reader of `raytrace.analysis.measurements`, its errors naming the option."""
    try:
        return read(*args)
    except ValueError as exc:
        raise CliError(f"{option} {exc}") from None


def _fixed(text: str) -> tuple[str, float]:
    """--fix NAME=VALUE."""
    name, sep, value = text.partition("=")
    try:
        number_value = float(value)
    except ValueError:
        number_value = math.nan
    if not (sep and name.strip() and math.isfinite(number_value)):
        raise CliError(f"--fix {text!r}: expected NAME=VALUE with a finite VALUE, e.g. wing_fraction=0.1")
    return name.strip(), number_value


def _king_targets(args):
    from ..analysis import read_king

    if not args.king_energy:
        raise CliError("--king: give --king-energy, the energies (keV) of the rows to fit")
    energies = parse_grid(args.king_energy, "--king-energy")
    radii = parse_grid(args.radii, "--radii", "arcsec")
    try:
        return read_king(args.king, energies, radii, _normalisation(args))
    except ValueError as exc:  # a missing energy is --king-energy's mistake; the rest the file's
        raise CliError(f"{'--king-energy' if 'no row at' in str(exc) else '--king'} {exc}") from None


def _normalisation(args) -> float:
    """--normalise-at in arcsec (inf: the whole focal plane)."""
    return math.inf if args.normalise_at is None else args.normalise_at
