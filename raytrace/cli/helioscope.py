"""Commands about the helioscope: spot (solar-axion image and figures of merit), optimise (f_DO over focal
length and coatings), tilt (alignment tolerance), sensitivity (projected g_agamma versus m_a)."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from .. import defaults
from ..sources.spec import parse_source
from ..text import mm, plural
from .options import (
    DETECTOR_HELP,
    OPTIC_HELP,
    RANGE_FORMS,
    CliError,
    add_aperture,
    add_events,
    add_focal_plane,
    add_rays_and_seed,
    add_table_and_plot,
    announce_events,
    check_output,
    check_outputs,
    command,
    events_options,
    load_traced_optic,
    number,
    parse_grid,
    parse_interval,
    report_events,
    write_outputs,
)

TILT_UNITS = {"arcsec": 1 / 60, "arcmin": 1.0, "deg": 60.0, "mrad": 180 * 60 / (1000 * math.pi)}  # arcmin per unit
TILT_BEAM_KEV = 3.0  # the energy of tilt --source parallel
MAX_SCAN_POINTS = 500  # focal lengths of one optimise scan


def register(sub) -> None:
    spot = command(
        sub,
        "spot",
        "focused solar-axion image, spot area and figures of merit f_O, f_D, f_DO",
        """\
  raytrace spot xmm
  raytrace spot babyiaxo --detector my_detector.toml -o spot.ecsv --plot spot.png
  raytrace spot xmm --solar-model cast2007 --date 2027-01-03 --off-axis 1.5 --g 2e-11 --exposure 1.5e7
  raytrace spot xmm --flux abc --gae 1e-13 --g 1e-11""",
        run_spot,
        renamed=OFFSET_RENAMED,
    )
    spot.add_argument("optic", help=OPTIC_HELP)
    spot.add_argument(
        "--flux",
        choices=defaults.FLUXES,
        default=defaults.FLUXES[0],
        help="solar-axion production: primakoff (set by g_agamma; default) or abc (axion-electron "
        "processes, set by g_ae: the Hoof et al. 2022 table)",
    )
    spot.add_argument(
        "--solar-model",
        choices=defaults.SOLAR_MODELS,
        help=f"Primakoff spectrum and radial profile (default {defaults.SOLAR_MODEL})",
    )
    spot.add_argument(
        "--band",
        metavar="START:STOP",
        help="energy band in keV (default 1:10; with --flux abc "
        f"{defaults.ABC_BAND_KEV[0]:g}:{defaults.ABC_BAND_KEV[1]:g})",
    )
    spot.add_argument("--date", metavar="YYYY-MM-DD", help="take the Earth-Sun distance of this date (default 1 AU)")
    _offset_options(spot, "pointing offset of the Sun from the optical axis")
    spot.add_argument("--detector", metavar="FILE.toml", help=DETECTOR_HELP)
    add_aperture(spot)
    _bore_options(spot)
    add_events(spot)
    spot.add_argument(
        "--cube",
        metavar="FILE.fits",
        help="write the expected signal counts per pixel and energy bin (x, y, E) as a FITS cube",
    )
    spot.add_argument(
        "--cube-bin",
        type=number("--cube-bin", positive=True),
        metavar="KEV",
        help="energy bin of --cube in keV, a whole number of the source's bins (about 50 eV; default: "
        f"the whole number nearest {defaults.CUBE_BIN_KEV:g} keV)",
    )
    spot.add_argument(
        "--arf",
        metavar="FILE.arf",
        help="write the OGIP ARF of the signal inside the spot, A_eff(E) eta_D(E) (x eps_D(E), see "
        "--detector-efficiency-in), for XSPEC or Sherpa",
    )
    spot.add_argument(
        "--rmf",
        metavar="FILE.rmf",
        help="write the OGIP RMF of the detector's Gaussian photopeak (its [resolution]) on the ARF's "
        f"energy bins, channels of {1000 * defaults.RMF_CHANNEL_KEV:g} eV",
    )
    spot.add_argument(
        "--detector-efficiency-in",
        choices=defaults.DETECTOR_EFFICIENCY_IN,
        help="put the detector efficiency eps_D(E) of --arf and --rmf in the ARF or in the RMF "
        f"(default {defaults.DETECTOR_EFFICIENCY_IN[0]})",
    )
    spot.add_argument(
        "--g",
        type=number("--g", positive=True),
        default=defaults.G_AGAMMA_PER_GEV,
        metavar="GEV^-1",
        help=f"axion-photon coupling for the expected counts (default {defaults.G_AGAMMA_PER_GEV:g} GeV^-1)",
    )
    spot.add_argument(
        "--gae",
        type=number("--gae", positive=True),
        metavar="G",
        help=f"axion-electron coupling for the expected counts of --flux abc (default {defaults.G_AE:g})",
    )
    spot.add_argument(
        "--field",
        type=number("--field", positive=True),
        default=defaults.MAGNET_FIELD_T,
        metavar="T",
        help=f"magnet field in tesla (default {defaults.MAGNET_FIELD_T:g})",
    )
    spot.add_argument(
        "--length",
        type=number("--length", positive=True),
        default=defaults.MAGNET_LENGTH_M,
        metavar="M",
        help=f"magnet length in metres (default {defaults.MAGNET_LENGTH_M:g})",
    )
    spot.add_argument(
        "--exposure",
        type=number("--exposure", minimum=0),
        default=defaults.EXPOSURE_S,
        metavar="S",
        help=f"Sun-tracking exposure in seconds (default {defaults.EXPOSURE_S:g})",
    )
    spot.add_argument(
        "--efficiency",
        type=number("--efficiency", minimum=0),
        default=defaults.EFFICIENCY,
        metavar="F",
        help=f"data-taking and analysis efficiency (default {defaults.EFFICIENCY:g})",
    )
    add_rays_and_seed(spot, defaults.RAYS)
    add_focal_plane(spot, f"the best focus at {defaults.SPOT_FOCUS_KEV:g} keV on axis")
    add_table_and_plot(
        spot,
        "write the encircled-signal table with all figures: .ecsv or .fits",
        "plot the image with the spot and the detector opening",
    )

    opt = command(
        sub,
        "optimise",
        "optimise a segmented design for f_DO or g_agamma: focal length, design values and per-group coating recipes",
        """\
  raytrace optimise --focal-length 3000:9000:250 -o scan
  raytrace optimise --from my_design.toml --focal-length 4000,5000,6000 --groups 2 --materials wb4c,ir -o scan2
  raytrace optimise --focal-length 3000:9000:250 --scheduler tcp://10.0.0.5:8786 --checkpoint scan.jsonl -o scan3
  raytrace optimise --objective sensitivity --vary r_min_mm=30:80 --vary inner.segment_length_mm=150:300 \\
                    --vary r_split_mm=150:250 --generations 4 -o search""",
        run_optimise,
        renamed={"--focal-lengths": "--focal-length"},
    )
    opt.add_argument(
        "--from",
        dest="base",
        default="babyiaxo",
        metavar="DESIGN",
        help="the segmented design to optimise: 'babyiaxo' (default) or a .toml",
    )
    opt.add_argument("--focal-length", metavar="SPEC", help=f"scan these focal lengths in mm: {RANGE_FORMS}")
    opt.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=LOW:HIGH",
        help="search this design value between LOW and HIGH (the keys of 'raytrace design --set', e.g. "
        "r_min_mm, focal_length_mm, inner.segment_length_mm; repeat for more) by differential "
        "evolution, instead of a focal-length scan",
    )
    opt.add_argument(
        "--generations",
        type=number("--generations", whole=True, minimum=1),
        default=5,
        metavar="N",
        help="generations of the --vary search (default 5; 6 points per variable each)",
    )
    opt.add_argument(
        "--objective",
        choices=("f_do", "sensitivity"),
        default="f_do",
        help="largest f_DO (default) or smallest projected g_agamma (vacuum + 4He, every bore holding "
        "the design) at --objective-mass",
    )
    opt.add_argument(
        "--objective-mass",
        type=number("--objective-mass", minimum=0),
        default=1e-3,
        metavar="EV",
        help="axion mass of the sensitivity objective in eV (default 1e-3: the low-mass plateau)",
    )
    opt.add_argument(
        "--groups",
        type=number("--groups", whole=True, minimum=1),
        default=4,
        metavar="N",
        help="groups of consecutive layers with their own coating (default 4)",
    )
    opt.add_argument(
        "--materials",
        default=",".join(defaults.MATERIALS),
        metavar="LIST",
        help="material systems to choose from: wb4c, ptc (multilayers), ir, au (30 nm films); "
        f"default {','.join(defaults.MATERIALS)}",
    )
    opt.add_argument("--detector", metavar="FILE.toml", help=DETECTOR_HELP)
    _bore_options(opt)
    add_rays_and_seed(opt, defaults.RAYS_PER_POINT, " per point (focal length or search point)", minimum=1000)
    opt.add_argument(
        "--evaluations",
        type=number("--evaluations", whole=True, minimum=2),
        default=40,
        metavar="N",
        help="recipe evaluations per group and multilayer system (default 40)",
    )
    opt.add_argument(
        "--workers",
        type=number("--workers", whole=True, minimum=1),
        default=os.cpu_count() or 1,
        metavar="N",
        help="local worker processes (default: the number of cores)",
    )
    opt.add_argument(
        "--scheduler", metavar="ADDRESS", help="run the points on this Dask cluster instead (needs dask.distributed)"
    )
    opt.add_argument(
        "--checkpoint", metavar="FILE", help="record each finished point here; a rerun with the same file resumes"
    )
    opt.add_argument(
        "-o",
        "--output-dir",
        required=True,
        metavar="DIR",
        help="scan table, plot and the best design (with its recipes) go here",
    )

    tilt = command(
        sub,
        "tilt",
        "alignment tolerance: spot shift and signal kept in the detector opening versus tilt of the optic",
        """\
  raytrace tilt xmm --tilt 0:5:0.25
  raytrace tilt babyiaxo --tilt 0:300:15 --unit arcsec --pivot-z 9000 --plot tilt.png -o tilt.ecsv
  raytrace tilt xmm --tilt 0:4:0.5 --source parallel --energy 6.4 --keep 0.9
  raytrace tilt xmm --tilt 0:3:0.25 --tilt-azimuth 90 --decentre 0.5,0 --off-axis 0.5 --azimuth 180""",
        run_tilt,
        renamed={"--tilts": "--tilt"},
    )
    tilt.add_argument("optic", help=OPTIC_HELP)
    tilt.add_argument("--tilt", required=True, metavar="SPEC", help=f"tilts of the optic: {RANGE_FORMS}")
    tilt.add_argument("--unit", choices=sorted(TILT_UNITS), default="arcmin", help="unit of --tilt (default arcmin)")
    tilt.add_argument(
        "--tilt-azimuth",
        type=number("--tilt-azimuth"),
        metavar="DEG",
        help="direction the optic's axis tilts towards, in degrees (default 0)",
    )
    tilt.add_argument(
        "--pivot-z",
        type=number("--pivot-z"),
        metavar="MM",
        help="height of the pivot on the optic's axis in mm above the focus (default: the intersection plane, z = f)",
    )
    tilt.add_argument(
        "--decentre",
        default="0,0",
        metavar="X,Y",
        help="lateral shift of the optic from the magnet axis in mm (default 0,0)",
    )
    tilt.add_argument(
        "--source",
        default="sun",
        metavar="SPEC",
        help="sun (solar axions, the default) or parallel (a parallel beam at --energy)",
    )
    _offset_options(tilt, "the source's own offset from the magnet axis")
    # the previous release's names, kept apart (not renamed): with them, --azimuth keeps its old meaning
    tilt.add_argument("--offset", dest="old_offset", type=number("--offset", minimum=0), help=argparse.SUPPRESS)
    tilt.add_argument(
        "--offset-azimuth", dest="old_offset_azimuth", type=number("--offset-azimuth"), help=argparse.SUPPRESS
    )
    tilt.add_argument(
        "--energy",
        type=number("--energy"),
        metavar="KEV",
        help=f"energy of the parallel beam (--source parallel) in keV (default {TILT_BEAM_KEV:g})",
    )
    tilt.add_argument("--detector", metavar="FILE.toml", help=DETECTOR_HELP)
    add_aperture(tilt)
    _bore_options(tilt)
    add_events(tilt, " (one file per tilt: FILE_tilt000.fits, ...)", every_ray=False)
    tilt.add_argument(
        "--keep",
        type=number("--keep"),
        default=0.95,
        metavar="F",
        help="share of the aligned signal inside the opening to keep (default 0.95)",
    )
    add_rays_and_seed(tilt, defaults.RAYS_PER_POINT, " per tilt")
    add_table_and_plot(tilt, plot_help="plot shift and kept signal versus tilt")

    sens = command(
        sub,
        "sensitivity",
        "projected g_agamma(m_a) sensitivity of the helioscope, vacuum and 4He phases",
        """\
  raytrace sensitivity
  raytrace sensitivity --optics babyiaxo --magnet my_magnet.toml --gas-years 0 -o reach.ecsv --plot reach.png
  raytrace sensitivity --preset iaxo --plot iaxo.png
  raytrace sensitivity --preset rest2019 --mass 1e-4:1:200log --plot rest2019.png""",
        run_sensitivity,
    )
    sens.add_argument(
        "--preset",
        choices=("babyiaxo", "iaxo", "iaxoplus", "rest2019"),
        help="a member of the IAXO family with its magnet, detector, schedule and traced optics (babyiaxo, "
        "iaxo, iaxoplus), or REST's published BabyIAXO inputs instead of traced optics (rest2019: "
        "constant efficiencies, all flux in the spot), to see where the traced optics differ",
    )
    sens.add_argument(
        "--optics",
        metavar="LIST",
        help="optic of each bore, comma-separated, or one for all: shipped names or prescription files "
        f"(default {','.join(defaults.SENSITIVITY_OPTICS)})",
    )
    sens.add_argument("--detector", metavar="FILE.toml", help=DETECTOR_HELP + " (in every bore)")
    sens.add_argument(
        "--magnet",
        metavar="FILE.toml",
        help="magnet: field_tesla, length_m, bore_radius_mm, bores, bore_gap_mm (default BabyIAXO: "
        f"{defaults.MAGNET_FIELD_T:g} T, {defaults.MAGNET_LENGTH_M:g} m, {defaults.MAGNET_BORES} bores "
        "of 350 mm radius)",
    )
    sens.add_argument(
        "--vacuum-years",
        type=number("--vacuum-years", minimum=0),
        metavar="Y",
        help=f"duration of the vacuum phase in years (default {defaults.VACUUM_YEARS:g})",
    )
    sens.add_argument(
        "--gas-years",
        type=number("--gas-years", minimum=0),
        metavar="Y",
        help=f"duration of the 4He phase in years, 0 for none (default {defaults.GAS_YEARS:g})",
    )
    sens.add_argument(
        "--tracking",
        type=number("--tracking", minimum=0),
        metavar="F",
        help=f"share of the time spent tracking the Sun (default {defaults.TRACKING:g})",
    )
    sens.add_argument(
        "--max-gas-mass",
        type=number("--max-gas-mass", minimum=0),
        metavar="EV",
        help=f"the 4He steps go up to this axion mass in eV (default {defaults.MAX_GAS_MASS_EV:g})",
    )
    sens.add_argument(
        "--coupling",
        choices=defaults.COUPLINGS,
        default=defaults.COUPLINGS[0],
        help="what the limits are on: gagamma (g_agamma from the Primakoff flux; default) or gae "
        "((g_ae g_agamma)^1/2 from the ABC flux, set by the axion-electron coupling)",
    )
    first, last, width = defaults.SENSITIVITY_BINS_KEV
    abc_first, abc_last, abc_width = defaults.ABC_SENSITIVITY_BINS_KEV
    sens.add_argument(
        "--bins",
        metavar="START:STOP:STEP",
        help=f"edges of the analysis energy bins in keV (default {first:g}:{last:g}:{width:g}; with "
        f"--coupling gae {abc_first:g}:{abc_last:g}:{abc_width:g})",
    )
    sens.add_argument(
        "--solar-model",
        choices=defaults.SOLAR_MODELS,
        help=f"Primakoff spectrum and radial profile (default {defaults.SOLAR_MODEL})",
    )
    sens.add_argument(
        "--confidence",
        type=number("--confidence", minimum=0),
        metavar="CL",
        help=f"confidence level of the expected limits (default {defaults.CONFIDENCE:g})",
    )
    low, high, count = defaults.MASSES_EV
    sens.add_argument(
        "--mass", metavar="SPEC", help=f"axion masses in eV: {RANGE_FORMS} (default {low:g}:{high:g}:{count}log)"
    )
    sens.add_argument("--masses", dest="old_masses", metavar="MIN:MAX:COUNT", help=argparse.SUPPRESS)  # previous name
    sens.add_argument(
        "--pseudo-experiments",
        type=number("--pseudo-experiments", whole=True, minimum=0),
        default=0,
        metavar="N",
        help="also give the median and 16-84 %% range of the vacuum limit at the lowest mass "
        "over N background-only pseudo-experiments (default 0: none)",
    )
    sens.add_argument(
        "--references",
        metavar="DIR",
        help="folder of published curves to draw beside ours: REST's REST_<member>_*.csv and "
        "axion-limits' files (default: none)",
    )
    add_rays_and_seed(sens, defaults.RAYS, " per bore")
    add_table_and_plot(sens, "write the sensitivity table: .ecsv or .fits", "plot g_agamma versus m_a")


def _bore_options(p) -> None:
    p.add_argument(
        "--no-bore",
        action="store_true",
        help="photons from anywhere above the optic, not only from the magnet bore (default: the bore, "
        "each ray weighted by the square of its path in the field)",
    )
    p.add_argument(
        "--bore-gap",
        type=number("--bore-gap", minimum=0),
        metavar="MM",
        help=f"distance from the bore's end to the optic's entrance in mm (default {defaults.BORE_GAP_MM:g}, "
        "an assumption: not published)",
    )


def _bore_gap(args) -> float:
    """--bore-gap in mm (its default if not given); refused with --no-bore, which it would not change."""
    if args.no_bore and args.bore_gap is not None:
        raise CliError("--bore-gap: the photons do not come from the bore (--no-bore); give one of the two")
    return defaults.BORE_GAP_MM if args.bore_gap is None else args.bore_gap


def _magnet(args, field=None, length=None):
    """The magnet of the bore options (None with --no-bore)."""
    from ..helioscope import Magnet

    gap = _bore_gap(args)
    if args.no_bore:
        return None
    return Magnet(
        defaults.MAGNET_FIELD_T if field is None else field,
        defaults.MAGNET_LENGTH_M if length is None else length,
        bore_gap_mm=gap,
    )


OFFSET_RENAMED = {"--offset": "--off-axis", "--offset-azimuth": "--azimuth"}


def _offset_options(p, what: str) -> None:
    p.add_argument(
        "--off-axis",
        type=number("--off-axis", minimum=0),
        default=0.0,
        metavar="ARCMIN",
        help=f"{what} in arcmin (default 0)",
    )
    p.add_argument(
        "--azimuth", type=number("--azimuth"), metavar="DEG", help="azimuth of that offset in degrees (default 0)"
    )


def run_spot(args) -> int:
    from .. import api
    from ..helioscope import Exposure, Magnet, load_detector
    from ..helioscope.response import check_efficiency_in, spot_arf, spot_rmf
    from ..output import plot_spot, write_arf, write_rmf, write_signal_cube

    abc = args.flux == "abc"
    if args.gae is not None and not abc:
        raise CliError("--gae: the axion-electron coupling sets the ABC flux; give --flux abc")
    band = (
        (defaults.ABC_BAND_KEV if abc else (1.0, 10.0))
        if args.band is None
        else parse_interval(args.band, "--band", "keV")
    )
    g_ae = defaults.G_AE if args.gae is None else args.gae
    check_outputs(args)
    check_output("--cube", args.cube, (".fits",))
    check_output("--arf", args.arf, (".arf",))
    check_output("--rmf", args.rmf, (".rmf",))
    announce_events(args)
    optic = load_traced_optic(args)
    detector = load_detector(args.detector)
    if args.rmf and detector.resolution is None:
        raise CliError(
            f"--rmf: detector {args.detector} gives no energy resolution; add a [resolution] table "
            "(fwhm_kev, energy_kev)"
        )
    magnet = Magnet(args.field, args.length, bore_gap_mm=_bore_gap(args))
    try:
        source = api.solar_source(
            args.solar_model,
            band,
            args.date,
            args.off_axis,
            args.azimuth or 0.0,
            _magnet(args, args.field, args.length),
            args.flux,
        )
    except ValueError as exc:
        if "energy band" not in str(exc):
            raise
        raise CliError(f"--band {args.band}: {exc}") from None
    if args.cube_bin is not None and not args.cube:
        raise CliError("--cube-bin: it sets the energy bins of --cube; give --cube FILE.fits")
    if args.detector_efficiency_in is not None and not (args.arf or args.rmf):
        raise CliError("--detector-efficiency-in: it says which of --arf and --rmf holds eps_D; give them")
    if args.cube:
        from ..helioscope.spot import cube_energy_edges

        if args.cube_bin is None:
            width = source.energy_edges()[1] - source.energy_edges()[0]
            args.cube_bin = max(1, round(defaults.CUBE_BIN_KEV / width)) * width
        try:
            cube_energy_edges(source, args.cube_bin)
        except ValueError as exc:
            raise CliError(f"--cube-bin {args.cube_bin:g}: {str(exc).partition(': ')[2]}") from None
    efficiency_in = args.detector_efficiency_in or defaults.DETECTOR_EFFICIENCY_IN[0]
    if args.arf:
        try:
            check_efficiency_in(detector, source.energy_nodes(), efficiency_in)
        except ValueError as exc:
            raise CliError(f"--detector-efficiency-in rmf: {exc}") from None
    start = time.perf_counter()
    result = api.solar_spot(
        optic,
        source=source,
        detector=detector,
        magnet=magnet,
        exposure=Exposure(args.g, args.exposure, args.efficiency, g_ae),
        rays=args.rays,
        seed=args.seed,
        focal_plane_z_mm=args.focal_plane_z,
        **events_options(args),
        cube_bin_kev=args.cube_bin if args.cube else None,
    )
    report_events(args)
    s = result.summary()
    print(
        f"{optic.name}: {source.describe()}; {args.rays:,} rays, seed {args.seed}, "
        f"{time.perf_counter() - start:.1f} s; focal plane z = {mm(result.meta['focal_plane_z_mm'])} mm"
    )
    print(
        f"  detector {detector.name}: <eps_D> = {s['mean_eps_d']:.4f}, b = {detector.background_counts_kev_cm2_s:g} "
        f"counts/keV/cm2/s, opening {detector.opening_diameter_mm:g} mm"
    )
    print(
        f"  spot (signal-to-noise optimal for the detected signal): radius {s['radius_mm']:.3f} mm, "
        f"a = {s['area_cm2']:.4g} cm2, eta_D = {s['eta_d']:.3f}; centroid ({s['centroid_x_mm']:.3f}, "
        f"{s['centroid_y_mm']:.3f}) mm"
    )
    print(
        f"  area for 50/80/90 % of the detected signal: {s['area_50_cm2']:.4g} / {s['area_80_cm2']:.4g} / "
        f"{s['area_90_cm2']:.4g} cm2; {100 * s['opening_fraction']:.1f} % of it inside the detector opening"
    )
    print(
        f"  <A_eff> = {s['mean_effective_area_cm2']:.1f} cm2, <eps_O> = {s['mean_eps_o']:.4f}, "
        f"<eps_D eps_O> = {s['mean_eps_do']:.4f}, <eps_D eps_O eta_D> = {s['mean_eps_do_in_spot']:.4f} "
        f"(bore {result.meta['bore_area_cm2']:.0f} cm2)"
    )
    print(
        f"  f_O = {s['f_o']:.4g} cm^-1 (optics spot {s['optics_spot_area_cm2']:.4g} cm2, eta_O {s['eta_o']:.3f}), "
        f"f_D = {s['f_d']:.4g} (keV cm2 s)^1/2, f_DO = {s['f_do']:.4g} (keV s)^1/2"
    )
    couplings = f"g_ae = {g_ae:g}, g_agamma = {args.g:g} GeV^-1" if abc else f"g = {args.g:g} GeV^-1"
    print(
        f"  expected in the spot for {couplings}, B = {args.field:g} T, L = {args.length:g} m, "
        f"{args.exposure:g} s x {args.efficiency:g}: {s['signal_counts']:.4g} signal "
        f"({s['detectable_signal_counts']:.4g} "
        f"of them on the detector's opening), {s['background_counts']:.4g} background counts"
    )
    if args.cube:
        print(
            f"wrote {write_signal_cube(result, args.cube)}: {result.cube.shape[0]} energy bins of "
            f"{args.cube_bin:g} keV, {result.cube.sum() * result.counts_per_cm2:.4g} signal counts in all"
        )
    if args.arf:
        arf = spot_arf(result, efficiency_in)
        print(
            f"wrote {write_arf(arf, args.arf)}: the signal inside the spot and on the detector's opening, detector "
            f"efficiency {arf.meta['detector_efficiency']}; fold with the live time {arf.meta['live_time_s']:g} s; "
            f"statistical error per 50 eV bin {100 * arf.meta['median_relative_error']:.3g} % (median), "
            f"{100 * arf.meta['largest_relative_error']:.3g} % (largest)"
        )
        noisy = np.asarray(arf["energy"])[~(arf["effective_area_err"] <= 0.2 * arf["effective_area"])]
        if noisy.size:
            print(
                f"raytrace: warning: --arf: {noisy.size} of {len(arf)} bins (from {noisy.min():g} to "
                f"{noisy.max():g} keV) hold too few rays for a 20 % error, or none; trace more rays (--rays)",
                file=sys.stderr,
            )
    if args.rmf:
        rmf = spot_rmf(result, efficiency_in)
        print(
            f"wrote {write_rmf(rmf, args.rmf)}: {rmf.matrix.shape[1]} channels of "
            f"{rmf.channel_edges_kev[1] - rmf.channel_edges_kev[0]:g} keV, detector efficiency "
            f"{rmf.meta['detector_efficiency']}"
        )
    write_outputs(args, result.encircled, lambda: plot_spot(result))
    return 0


def run_optimise(args) -> int:
    from concurrent.futures import ProcessPoolExecutor

    from .. import api
    from ..helioscope.optimise import check_checkpoint, local_executor
    from ..output import plot_scan, save_figure, write_design, write_table

    focal_lengths = parse_grid(args.focal_length, "--focal-length", "mm") if args.focal_length else None
    if focal_lengths is not None and focal_lengths.size > MAX_SCAN_POINTS:
        raise CliError(
            f"--focal-length {args.focal_length!r}: {focal_lengths.size} focal lengths; at most "
            f"{MAX_SCAN_POINTS} (each builds, traces and optimises a design)"
        )
    pairs = [_variable(text) for text in args.vary]
    repeated = sorted({key for key, _ in pairs if [k for k, _ in pairs].count(key) > 1})
    if repeated:
        raise CliError(f"--vary {repeated[0]}: given more than once; give each design value one range")
    variables = dict(pairs)
    systems = [m.strip() for m in args.materials.split(",") if m.strip()]
    api.optimise_problem(focal_lengths, variables or None, args.base, args.groups, systems, args.generations)
    out = Path(args.output_dir)
    parent = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise CliError(f"-o {str(out)!r}: cannot create it there ({str(parent)!r} is not a writable folder)")
    if args.checkpoint:
        check_checkpoint(Path(args.checkpoint), "--checkpoint")
    start = time.perf_counter()

    def report(row):
        values = dict(row["values"])
        focal = values.pop("focal_length_mm", row.get("focal_length_mm"))
        point = ", ".join(
            ([f"f = {focal:7.1f} mm"] if focal is not None else []) + [f"{k} {v:.6g}" for k, v in values.items()]
        )
        if "error" in row:
            print(f"  {point}: no optic ({row['error']})", flush=True)
            return
        g = f", g_agamma {row['g_agamma_per_gev']:.4g} GeV^-1" if "g_agamma_per_gev" in row else ""
        print(
            f"  {point}: f_DO {row['f_do']:8.2f}{g}, f_O {row['f_o']:.4f}, a {row['spot_area_cm2']:.3f} cm2, "
            f"throughput {row['throughput']:.3f} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )

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
        executor = local_executor(args.workers)
    what = (
        plural(len(focal_lengths), "focal length")
        if focal_lengths is not None
        else f"{', '.join(f'{k} {a:g}-{b:g}' for k, (a, b) in variables.items())} over "
        f"{plural(args.generations, 'generation')}"
    )
    print(
        f"optimising {args.base} for {args.objective}: {what} x {plural(args.groups, 'coating group')}, materials "
        f"{', '.join(systems)}; {args.rays:,} rays per point"
    )
    try:
        result = api.optimise(
            focal_lengths,
            vary=variables or None,
            design=args.base,
            groups=args.groups,
            materials=systems,
            detector=args.detector,
            source=api.solar_source(magnet=_magnet(args)),
            objective=args.objective,
            objective_mass_ev=args.objective_mass,
            rays=args.rays,
            seed=args.seed,
            evaluations=args.evaluations,
            generations=args.generations,
            executor=executor,
            checkpoint=args.checkpoint,
            progress=report,
        )
    finally:
        if isinstance(executor, ProcessPoolExecutor):
            executor.shutdown(cancel_futures=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"-o {str(out)!r}: cannot create it ({exc.strerror})") from None
    table = result.table
    values = ", ".join(
        f"f = {v:g} mm" if k == "focal_length_mm" else f"{k} = {v:.6g}" for k, v in table.meta["best_values"].items()
    )
    if args.objective == "sensitivity":
        best = min(table["g_agamma"].value)
        print(
            f"best: {values}: g_agamma {best:.4g} GeV^-1 at {args.objective_mass:g} eV (re-weighted); a full "
            f"trace of the best design gives {table.meta['verified_g_agamma_per_gev']:.4g} GeV^-1, f_DO "
            f"{result.verified.f_do:.2f}, a {result.verified.area_cm2:.3f} cm2"
        )
    else:
        print(
            f"best: {values}: f_DO {max(table['f_do']):.2f} (re-weighted); a full trace of the best design gives "
            f"f_DO {result.verified.f_do:.2f}, a {result.verified.area_cm2:.3f} cm2"
        )
    if table.meta["invalid_points"]:
        print(f"  {len(table.meta['invalid_points'])} point(s) of the box made no optic and were skipped")
    plot_name = f"{args.objective}_{'vs_focal_length' if focal_lengths is not None else 'search'}.png"
    written = [write_table(table, out / "scan.ecsv"), save_figure(plot_scan(table), out / plot_name)]
    written += write_design(result.best_design, out / "best_design.toml")
    for path in written:
        print(f"wrote {path}")
    return 0


def run_tilt(args) -> int:
    from .. import api
    from ..helioscope import load_detector
    from ..output import plot_tilt

    tilts = parse_grid(args.tilt, "--tilt", args.unit, allow_zero=True) * TILT_UNITS[args.unit]
    off_axis, source_azimuth, tilt_azimuth = _tilt_directions(args)
    try:
        decentre = tuple(float(v) for v in args.decentre.split(","))
    except ValueError:
        decentre = ()
    if len(decentre) != 2 or not all(math.isfinite(v) for v in decentre):
        raise CliError(f"--decentre {args.decentre!r}: expected X,Y in mm, e.g. 0.5,0")
    check_outputs(args)
    optic = load_traced_optic(args)
    detector = load_detector(args.detector)
    spec = parse_source(args.source, kinds=("sun", "parallel"), directed=False)
    if spec.kind == "sun":
        if args.energy is not None:
            raise CliError("--energy: solar axions bring their spectrum; --energy goes with --source parallel")
        source = api.solar_source(offset_arcmin=off_axis, offset_azimuth_deg=source_azimuth, magnet=_magnet(args))
    else:
        from coatings import check_energies

        energy = TILT_BEAM_KEV if args.energy is None else args.energy
        check_energies([energy])
        source = api.make_source(off_axis, source_azimuth).at_energy(energy)
    check_output("--events", args.events, (".fits", ".mcpl"))
    if args.events:
        from ..output.photons import estimated_bytes

        print(
            f"photon lists {api.events_path(args.events, 0)} ... : at most "
            f"{len(tilts) * estimated_bytes(args.events, args.rays) / 1e6:.3g} MB in all"
        )
    start = time.perf_counter()
    table = api.tilt_scan(
        optic,
        tilts,
        source=source,
        detector=detector,
        keep=args.keep,
        azimuth_deg=tilt_azimuth,
        pivot_z_mm=args.pivot_z,
        decentre_mm=decentre,
        rays=args.rays,
        seed=args.seed,
        events=args.events,
        events_frame=args.events_frame,
    )
    meta = table.meta
    print(
        f"{optic.name}: {source.describe()}; pivot z = {meta['pivot_z_mm']:g} mm, decentre ({decentre[0]:g}, "
        f"{decentre[1]:g}) mm, detector {detector.name} ({detector.opening_diameter_mm:g} mm opening), focal plane "
        f"z = {mm(meta['focal_plane_z_mm'], 2)} mm; {args.rays:,} rays per tilt, {time.perf_counter() - start:.1f} s"
    )
    print(f"  aligned: {100 * meta['aligned_in_opening_fraction']:.1f} % of the focused signal inside the opening")
    print(f"  tilt ({args.unit})  shift (mm)  signal/aligned  in opening/aligned")
    for row, tilt in zip(table, tilts / TILT_UNITS[args.unit]):
        print(
            f"  {tilt:12.3f}  {row['shift_mm']:10.3f}  {row['relative_signal']:14.3f}  "
            f"{row['relative_in_opening']:18.3f}"
        )
    tolerance = meta["tolerance_arcmin"]
    if math.isnan(tolerance):
        print(f"  even the smallest tilt keeps less than {100 * args.keep:g} % of the aligned signal in the opening")
    else:
        end = " (or more: the scan ends there)" if tolerance == table["tilt"].max() else ""
        print(
            f"  largest tilt keeping {100 * args.keep:g} % of the aligned signal inside the opening: "
            f"{tolerance / TILT_UNITS[args.unit]:.3g} {args.unit}{end}"
        )
    write_outputs(args, table, lambda: plot_tilt(table))
    return 0


TRACED_ONLY = (
    "optics",
    "detector",
    "magnet",
    "vacuum_years",
    "gas_years",
    "tracking",
    "max_gas_mass",
    "bins",
    "confidence",
)


def run_sensitivity(args) -> int:
    from .. import api
    from ..helioscope.sensitivity import reference_curves
    from ..output import plot_sensitivity

    masses = _mass_spec(args)
    check_outputs(args)
    abc = args.coupling == "gae"
    if abc and args.references:
        raise CliError("--references: the published curves are of g_agamma; --coupling gae draws CAST's ABC limit")
    member = args.preset if args.preset in ("iaxo", "iaxoplus") else "babyiaxo"
    references = {} if abc else reference_curves(args.references, member)
    if args.references and not references:
        raise CliError(f"--references {args.references!r}: no published curve found there")
    start = time.perf_counter()
    if args.preset:
        given = [name for name in TRACED_ONLY if getattr(args, name) is not None]
        if args.preset == "rest2019":
            given += [
                name for name, default in (("rays", defaults.RAYS), ("seed", 0)) if getattr(args, name) != default
            ]
            given += ["coupling"] if abc else []
        if given:
            raise CliError(f"--preset {args.preset} fixes its own inputs: drop --{given[0].replace('_', '-')}")
    if args.preset == "rest2019":
        result = api.rest2019_sensitivity(masses, args.solar_model or defaults.SOLAR_MODEL, args.pseudo_experiments)
    elif args.preset:
        result = api.preset_sensitivity(
            args.preset,
            masses_ev=masses,
            coupling=args.coupling,
            solar_model=args.solar_model,
            pseudo_experiments=args.pseudo_experiments,
            rays=args.rays,
            seed=args.seed,
        )
    else:
        bins = _bins_spec(args.bins) if args.bins else None
        optics = [
            o.strip()
            for o in (",".join(defaults.SENSITIVITY_OPTICS) if args.optics is None else args.optics).split(",")
            if o.strip()
        ]
        if not optics:
            raise CliError(f"--optics {args.optics!r}: name at least one optic")
        options = {
            name: getattr(args, name)
            for name in ("vacuum_years", "gas_years", "tracking", "confidence")
            if getattr(args, name) is not None
        }
        if args.max_gas_mass is not None:
            options["max_gas_mass_ev"] = args.max_gas_mass
        result = api.sensitivity(
            optics,
            detector=args.detector,
            magnet=args.magnet,
            energy_bins_kev=bins,
            masses_ev=masses,
            solar_model=args.solar_model,
            coupling=args.coupling,
            pseudo_experiments=args.pseudo_experiments,
            rays=args.rays,
            seed=args.seed,
            **options,
        )
    print_sensitivity(result, time.perf_counter() - start)
    write_outputs(args, result.table, lambda: plot_sensitivity(result.table, references))
    return 0


def print_sensitivity(result, seconds: float) -> None:
    """The run's inputs, each bore's share and the curves' key numbers."""
    from ..helioscope.sensitivity import COUPLINGS

    meta, table = result.meta, result.table
    coupling = next(c for c in COUPLINGS.values() if c.column == result.coupling)
    unit = coupling.unit_text
    print(
        f"{meta.get('preset') or ', '.join(meta['responses'])}: B = {meta['magnet_field_tesla']:g} T, L = "
        f"{meta['magnet_length_m']:g} m, {meta['bores']} bore{'s' if meta['bores'] != 1 else ''} of "
        f"{meta['bore_radius_mm']:g} mm radius; "
        f"{len(table)} mass{'' if len(table) == 1 else 'es'}, {100 * meta['confidence']:.4g} % CL, {seconds:.1f} s; "
        f"limits on {coupling.label}"
    )
    shown = {}  # a spot traced once for several bores is shown once, with their numbers
    for k, spot in enumerate(result.spots):
        shown.setdefault(id(spot), (spot, []))[1].append(k)
    for spot, bores in shown.values():
        k = bores[0]
        which = f"bore {k + 1}" if len(bores) == 1 else f"bores {bores[0] + 1}-{bores[-1] + 1}, each"
        outside = meta["bore_rays_outside"][k]
        print(
            f"  {which} {spot.meta['optic']}: spot {spot.area_cm2:.4g} cm2, eta_D {spot.eta_d:.3f}, "
            f"<eps_D eps_O eta_D> {spot.figures.mean_eps_do_in_spot:.4f}, f_DO {spot.f_do:.4g}; vacuum alone "
            f"{meta['bore_vacuum_low_mass'][k]:.4g} {unit}; {100 * outside:.2g} % of its rays start outside the bore"
        )
        if meta["optic_entrance_radius_mm"][k] > meta["bore_radius_mm"]:
            print(
                f"raytrace: warning: {spot.meta['optic']} reaches out to r = "
                f"{meta['optic_entrance_radius_mm'][k]:.1f} mm, beyond the bore's {meta['bore_radius_mm']:g} mm: its "
                "outer layers see only what the bore's edge lets through",
                file=sys.stderr,
            )
    signal, background = meta["vacuum_signal_counts_at_reference"], meta["vacuum_background_counts"]
    at = "g_ae = 1e-13, g_agamma = 1e-10 GeV^-1" if coupling.column != "g_agamma" else "g = 1e-10 GeV^-1"
    print(
        f"  vacuum phase ({meta['vacuum_live_time_s']:.4g} s tracking): {sum(signal):.4g} signal counts at {at} "
        f"and m_a -> 0, {sum(background):.4g} background counts"
    )
    if meta["gas_steps"]:
        print(
            f"  4He phase: {meta['gas_steps']} density steps up to m_a = {meta['max_gas_mass_ev']:.4g} eV, "
            f"{meta['gas_live_time_s']:.4g} s tracking"
        )
    spread = meta.get("vacuum_pseudo_experiments")
    if spread:
        print(
            f"  vacuum at {spread['mass_ev']:.3g} eV over {spread['experiments']} pseudo-experiments: median "
            f"{spread['median']:.4g}, 16-84 % {spread['percentile_16']:.4g}-{spread['percentile_84']:.4g} {unit}"
        )
    low, last = table["m_a"][0], table["m_a"][-1]

    def reach(column, limit):
        mass = result.reach_ev(column, limit)
        return f"{mass:.4g} eV" + (" (the last mass)" if mass == last else "")

    cast = coupling.cast_reference.split(" (")[0].split(":")[0]
    for phase, label in (("vacuum", "vacuum"), ("gas", "4He"), ("combined", "combined")):
        column = f"{coupling.column}_{phase}"
        g = result.low_mass(column)
        if g == g:
            print(
                f"  {label:8s}: {g:.4g} {unit} at m_a = {low:.3g} eV; below {cast}'s low-mass limit "
                f"({coupling.cast_limit:.2g}, which holds below {coupling.cast_max_mass_ev:g} eV) up to "
                f"{reach(column, coupling.cast_limit)}, within 2x of its low-mass value up to {reach(column, 2 * g)}"
            )


def _variable(text: str) -> tuple[str, tuple[float, float]]:
    """--vary KEY=LOW:HIGH."""
    key, sep, bounds = text.partition("=")
    low, colon, high = bounds.partition(":")
    try:
        pair = (float(low), float(high))
    except ValueError:
        pair = ()
    if not (sep and colon and key.strip() and pair):
        raise CliError(f"--vary {text!r}: expected KEY=LOW:HIGH, e.g. r_min_mm=30:80")
    return key.strip(), pair


def _tilt_directions(args) -> tuple[float, float, float]:
    """(source off-axis angle in arcmin, its azimuth, the tilt's azimuth in deg) of tilt's options. With the previous
    release's names (--offset, --offset-azimuth), or --azimuth without an offset, --azimuth is read as it was then:
    the tilt's direction; each old name is announced once."""
    old = args.old_offset is not None or args.old_offset_azimuth is not None
    if old and (args.off_axis != 0 or args.tilt_azimuth is not None):
        raise CliError(
            "tilt: give the new names (--off-axis, --azimuth, --tilt-azimuth) or the old ones (--offset, "
            "--offset-azimuth, --azimuth), not a mixture"
        )
    if not old and (args.azimuth is None or args.off_axis != 0 or args.tilt_azimuth is not None):
        return args.off_axis, args.azimuth or 0.0, args.tilt_azimuth or 0.0
    for name, new, value in (
        ("--offset", "--off-axis", args.old_offset),
        ("--offset-azimuth", "--azimuth", args.old_offset_azimuth),
    ):
        if value is not None:
            print(
                f"raytrace: warning: tilt: {name} is now {new}; the old name works until the next release",
                file=sys.stderr,
            )
    if args.azimuth is not None:
        print(
            "raytrace: warning: tilt: --azimuth is read as before, the tilt's direction; write --tilt-azimuth "
            "(from the next release --azimuth is the source's azimuth, as in the other commands)",
            file=sys.stderr,
        )
    return args.old_offset or 0.0, args.old_offset_azimuth or 0.0, args.azimuth or 0.0


def _bins_spec(text: str) -> tuple[float, float, float]:
    """--bins START:STOP:STEP (keV): the first edge, the last and the width of the analysis bins."""
    try:
        first, last, width = (float(part) for part in text.split(":"))
    except ValueError:
        raise CliError(
            f"--bins {text!r}: expected START:STOP:STEP in keV, the edges of equal bins, e.g. 1:10:0.5"
        ) from None
    return first, last, width


def _mass_spec(args):
    """The axion masses (eV, rising, each once) of --mass, or of the previous release's --masses MIN:MAX:COUNT (a
    log-spaced count, announced once)."""
    if args.old_masses is not None:
        if args.mass is not None:
            raise CliError("--masses: the previous name of --mass; give one of the two")
        print(
            "raytrace: warning: sensitivity: --masses MIN:MAX:COUNT is now --mass MIN:MAX:COUNTlog; the old name "
            "works until the next release",
            file=sys.stderr,
        )
        if args.old_masses.count(":") != 2:
            raise CliError(f"--masses {args.old_masses!r}: expected MIN:MAX:COUNT (eV, log-spaced)")
        return parse_grid(args.old_masses + "log", "--masses", "eV")
    low, high, count = defaults.MASSES_EV
    return np.unique(parse_grid(args.mass or f"{low:g}:{high:g}:{count}log", "--mass", "eV"))
