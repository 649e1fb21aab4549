"""The demo: trace the XMM module and the BabyIAXO custom optic on the built-in defaults, write tables and plots."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np

from .. import defaults
from .options import CliError, add_rays_and_seed, command, parse_grid, print_psf

DEMO_PSF_KEV = 3.0
DEMO_ENERGIES = "0.5:12:0.1"


def register(sub) -> None:
    demo = command(
        sub,
        "demo",
        "trace the XMM module and the BabyIAXO custom optic; write tables and plots",
        "  raytrace demo --rays 2e6 -o demo-output",
        run_demo,
    )
    add_rays_and_seed(demo, defaults.RAYS, " per trace")
    demo.add_argument(
        "-o",
        "--output-dir",
        default="raytrace-output",
        metavar="DIR",
        help="where to write (default ./raytrace-output)",
    )


def run_demo(args) -> int:
    from geometries import load_optic

    from .. import api
    from ..output import plot_comparison, plot_effective_area, plot_psf, save_figure, write_arf, write_psf, write_table

    out = Path(args.output_dir)
    folder = out if out.exists() else out.parent if str(out.parent) else Path(".")
    while not folder.exists():  # the nearest folder that exists, where -o will be made
        folder = folder.parent
    if out.exists() and not out.is_dir():
        raise CliError(f"-o {str(out)!r}: a file, not a folder")
    if not os.access(folder, os.W_OK):
        raise CliError(f"-o {str(out)!r}: {str(folder)!r} is not writable")
    outputs = []  # (file name, writer): written once every result is in, so that a failed run writes nothing
    areas, psfs = [], []
    for name in ("xmm", "babyiaxo"):
        optic = load_optic(name)
        print(
            f"{optic.name}: {optic.n_shells} shells, f = {optic.focal_length_mm:.0f} mm, open double-reflection area "
            f"{optic.open_area_cm2():.1f} cm2 (before spider, segmentation and reflectivity)"
        )
        start = time.perf_counter()
        area = api.effective_area(optic, parse_grid(DEMO_ENERGIES), rays=args.rays, seed=args.seed)
        print(f"effective area on axis ({args.rays:,} rays, {time.perf_counter() - start:.1f} s):")
        for e in (1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 10.0):
            i = int(np.argmin(np.abs(area["energy"].value - e)))
            print(f"  {e:5.1f} keV  {area['effective_area'][i]:7.1f} +- {area['effective_area_err'][i]:.1f} cm2")
        if name == "xmm":
            print("  BabyIAXO CDR for one XMM module: about 1500 cm2 at 2 keV and 900 cm2 at 7 keV")
        result = api.psf(optic, DEMO_PSF_KEV, rays=args.rays, seed=args.seed)
        print_psf(optic, result)
        stem = f"{name}_psf_{DEMO_PSF_KEV:g}keV"
        outputs += [
            (f"{name}_effective_area.ecsv", lambda path, area=area: write_table(area, path)),
            (f"{name}_effective_area.arf", lambda path, area=area: write_arf(area, path)),
            (
                f"{name}_effective_area.png",
                lambda path, area=area, xmm=name == "xmm": save_figure(
                    plot_effective_area(area, compare_cdr=xmm), path
                ),
            ),
            (f"{stem}_encircled.ecsv", lambda path, result=result: write_table(result.encircled, path)),
            (f"{stem}.fits", lambda path, result=result: write_psf(result, path)),
            (f"{stem}.png", lambda path, result=result: save_figure(plot_psf(result), path)),
        ]
        areas.append(area)
        psfs.append(result)

    vig = api.vignetting(
        "xmm", energy_kev=1.5, off_axis_arcmin=[0, 2, 5, 10], rays=max(args.rays // 4, 1), seed=args.seed
    )
    print(
        "XMM off-axis effective area at 1.5 keV, relative to on-axis: "
        + ", ".join(f"{a:g}' {r:.3f}" for a, r in zip(vig["off_axis"].value, vig["relative_area"]))
    )
    outputs += [
        ("xmm_vignetting_1.5keV.ecsv", lambda path: write_table(vig, path)),
        ("xmm_vs_babyiaxo.png", lambda path: save_figure(plot_comparison(areas, psfs), path)),
    ]
    _write_all(out, outputs)
    print(f"wrote tables, ARFs, PSF images and plots (comparison: xmm_vs_babyiaxo.png) to {out}/")
    return 0


def _write_all(out: Path, outputs) -> None:
    """Every (file name, writer) into `out`, made if need be; if one fails, none is left (nor a folder made here)."""
    made = not out.exists()
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, write in outputs:
            written.append(out / name)
            write(out / name)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
