"""Commands about an optic's design: design (generate a segmented optic), show (its shells and cross-section)."""

from __future__ import annotations

from pathlib import Path

from geometries.optic import SlopeErrors

from .options import OPTIC_HELP, CliError, command, graze_range, number, print_rows, slope_summary

DESIGN_OPTIONS = (
    ("focal_length", "focal_length_mm"),
    ("r_min", "r_min_mm"),
    ("r_max", "r_max_mm"),
    ("r_split", "r_split_mm"),
)
SUMMARY_KEV = 3.0


def register(sub) -> None:
    design = command(
        sub,
        "design",
        "generate a segmented conical optic (the BabyIAXO custom optic by default)",
        """\
  raytrace design -o custom.toml
  raytrace design --focal-length 6000 --r-max 300 -o f6m.toml
  raytrace design --from custom.toml --set outer.segment_length_mm=150 --set spider.arm_width_mm=8 -o short.toml""",
        run_design,
    )
    design.add_argument(
        "--from",
        dest="base",
        default="babyiaxo",
        metavar="DESIGN",
        help="start from this design: 'babyiaxo' (default) or a design .toml file",
    )
    design.add_argument("--focal-length", type=number("--focal-length"), metavar="MM", help="focal length in mm")
    design.add_argument("--r-min", type=number("--r-min"), metavar="MM", help="innermost intersection radius in mm")
    design.add_argument("--r-max", type=number("--r-max"), metavar="MM", help="outer limit of the optic in mm")
    design.add_argument("--r-split", type=number("--r-split"), metavar="MM", help="inner/outer part boundary in mm")
    design.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other design field, e.g. outer.glass_thickness_mm=0.3, inner.segments_per_layer=6, "
        "spider.arm_width_mm=8, inner.slope_errors.meridional_arcsec=10 (repeatable)",
    )
    design.add_argument("-o", "--output", required=True, metavar="FILE.toml", help="where to write the design")

    show = command(
        sub,
        "show",
        "summary of an optic's shells and a cross-section plot",
        """\
  raytrace show babyiaxo
  raytrace show xmm --plot xmm_cross_section.png
  raytrace show custom.toml -o custom_shells.ecsv""",
        run_show,
    )
    show.add_argument("optic", help=OPTIC_HELP)
    show.add_argument("--plot", metavar="FILE.png", help="write the cross-section plot")
    show.add_argument("-o", "--output", metavar="FILE.ecsv", help="export the shell table (loads back identically)")


def run_design(args) -> int:
    from coatings import ConstantReflectivity
    from geometries import load_design

    from .. import api
    from ..output import check_writable, write_design

    check_writable(args.output, (".toml",), "-o")
    given = {key: option for option, key in DESIGN_OPTIONS if getattr(args, option) is not None}
    for assignment in args.set:
        key = assignment.partition("=")[0].strip()
        if key in given:
            raise CliError(f"--set {assignment!r} and --{given[key].replace('_', '-')} set the same field: give one")
    assignments = [f"{key}={getattr(args, option)!r}" for key, option in given.items()] + args.set
    design = load_design(args.base).with_overrides(assignments, name=Path(args.output).stem)
    optic = design.build()
    n_inner = sum(s.r_intersect_mm < design.r_split_mm for s in optic.shells)
    radii = optic.intersect_radii_mm()
    front = optic.entrance_radii_mm()[-1] + optic.thicknesses_mm()[-1]
    print(
        f"{design.name}: f = {design.focal_length_mm:g} mm, {optic.n_shells} layers ({n_inner} inner, "
        f"{optic.n_shells - n_inner} outer), r0 = {radii[0]:.2f}-{radii[-1]:.2f} mm, outer front edge {front:.2f} mm"
    )
    segments = sum(s.segmentation.segments for s in optic.shells if s.segmentation is not None)
    print(f"  {segments} mirror segments (primary and secondary pairs)")
    print(f"  on-axis graze angles {graze_range(optic)}")
    geometric = api.psf(
        optic.with_slope_errors(SlopeErrors()).with_coating(ConstantReflectivity(1.0)),
        SUMMARY_KEV,
        rays=api.RAYS_PER_POINT,
        focal_plane_z_mm=0.0,
        pixels=1,
        progress=False,
    )
    print(
        f"  collecting area: {optic.open_area_cm2():.1f} cm2 open (double-reflection annuli), "
        f"{geometric.effective_area_cm2:.1f} cm2 after spider, segment joins and spacers (reflectivity 1)"
    )
    best = api.best_focus(optic, SUMMARY_KEV)
    print(
        f"  best focus at {SUMMARY_KEV:g} keV: z = {best:.2f} mm (behind the nominal focus z = 0 of the conical "
        "approximation)"
    )
    for path in write_design(design, args.output):
        print(f"wrote {path}")
    return 0


def run_show(args) -> int:
    from geometries import load_optic

    from ..output import check_writable, plot_cross_section, save_figure, write_prescription

    optic = load_optic(args.optic)
    if args.plot:
        check_writable(args.plot, (".png",), "--plot")
    if args.output:
        check_writable(args.output, (".ecsv",), "-o")
    print(f"{optic.name}: f = {optic.focal_length_mm:g} mm, {optic.n_shells} shells; {optic.source}")
    spider = optic.spider
    if spider is not None:
        print(
            f"  spider: {spider.n_spokes} spokes, {spider.spoke_width_deg:g} deg + {spider.spoke_width_mm:g} mm wide, "
            f"rotated {spider.rotation_deg:g} deg"
        )
    print(
        f"  open double-reflection area {optic.open_area_cm2():.1f} cm2 (before spider, joins, spacers and "
        f"reflectivity); on-axis graze angles {graze_range(optic)}"
    )
    print("  groups of alike shells:")
    for first, last in _groups(optic):
        s = optic.shells[first]
        seg = s.segmentation
        segmented = (
            ""
            if seg is None
            else (
                f", {seg.segments} segments, joins {seg.gap_mm:g} mm, "
                f"{seg.spacers_per_segment} spacers/segment x {seg.spacer_width_mm:g} mm"
            )
        )
        t = [shell.thickness_mm for shell in optic.shells[first : last + 1]]
        print(
            f"    shells {first + 1}-{last + 1}: r0 {s.r_intersect_mm:.2f}-{optic.shells[last].r_intersect_mm:.2f} mm, "
            f"t {min(t):.3g}-{max(t):.3g} mm, {s.profile}, L {s.primary_length_mm:g}+{s.secondary_length_mm:g} mm, "
            f"coating {optic.coatings[first].name}{segmented}"
        )
    print("  shell   r0 (mm)   R1 (mm)   R5 (mm)   t (mm)   graze (mrad)")
    r1, r5, graze = optic.entrance_radii_mm(), optic.exit_radii_mm(), optic.graze_angles_rad() * 1e3
    print_rows(
        optic.n_shells,
        lambda i: (
            f"  {i + 1:5d} {optic.shells[i].r_intersect_mm:9.3f} {r1[i]:9.3f} {r5[i]:9.3f} "
            f"{optic.shells[i].thickness_mm:8.3f} {graze[i]:10.3f}"
        ),
        "shells",
    )
    print(f"  slope errors: {slope_summary(optic)}")
    if args.plot:
        print(f"wrote {save_figure(plot_cross_section(optic), args.plot)}")
    if args.output:
        for path in write_prescription(optic, args.output):
            print(f"wrote {path}")
    return 0


def _groups(optic):
    """(first, last) shell index of each run of shells that differ only in radius."""

    def kind(i):  # radius and thickness may vary within a group (XMM's thickness grows with radius)
        s = optic.shells[i]
        return (
            s.profile,
            s.primary_length_mm,
            s.secondary_length_mm,
            s.segmentation,
            s.slope_errors,
            optic.coatings[i],
            s.azimuth_min_deg,
            s.azimuth_max_deg,
        )

    runs, first = [], 0
    for i in range(1, optic.n_shells + 1):
        if i == optic.n_shells or kind(i) != kind(first):
            runs.append((first, i - 1))
            first = i
    return runs
