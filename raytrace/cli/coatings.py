"""The reflectivity command: R of a coating recipe, or of an optic's coatings, versus energy and graze angle."""

from __future__ import annotations

import numpy as np

from .options import MAX_GRID_VALUES, CliError, add_table_and_plot, check_outputs, command, graze_range, number
from .options import parse_grid, write_outputs

MAX_GRAZE_MRAD = 1000.0


def register(sub) -> None:
    refl = command(sub, "reflectivity", "reflectivity of a coating recipe versus energy and graze angle", """\
  raytrace reflectivity au250_ni --energies 0.5:12:0.05 --angles 2,5,8,11 --plot au.png
  raytrace reflectivity wb4c_graded --energies 1:10:0.1 --angles 1:20:0.5 -o wb4c.ecsv
  raytrace reflectivity my_coating.toml --energies 8.05 --angles 0:30:0.05 --roughness 0.5""", run_reflectivity)
    refl.add_argument("recipe", help="a shipped recipe name (au250_ni, ir_thick, ptc_graded, wb4c_graded), a recipe "
                                     ".toml path, or an optic (xmm, babyiaxo, .ecsv, design .toml): its coatings")
    refl.add_argument("--energies", required=True, metavar="SPEC",
                      help="START:STOP:STEP in keV (STOP included) or a comma-separated list")
    refl.add_argument("--angles", metavar="SPEC",
                      help="graze angles in mrad: START:STOP:STEP or a comma-separated list "
                           "(required for a recipe; for an optic, default: its on-axis graze angles)")
    refl.add_argument("--roughness", type=number("--roughness", minimum=0), metavar="NM",
                      help="set every interface's rms roughness to NM (default: the recipe's)")
    refl.add_argument("--polarisation", choices=("s", "p", "unpolarised"), default="unpolarised",
                      help="default unpolarised (the mean of s and p)")
    add_table_and_plot(refl, plot_help="plot R versus energy and versus angle")


def run_reflectivity(args) -> int:
    from geometries import is_optic, load_optic

    from .. import api
    from ..analysis.encircled import spread_indices
    from ..output import plot_reflectivity

    energies = parse_grid(args.energies)
    optic = load_optic(args.recipe) if is_optic(args.recipe) else None
    if optic is None and args.angles is None:
        raise CliError("--angles is required for a coating recipe")
    angles = None if args.angles is None else parse_grid(args.angles, "--angles", "mrad", allow_zero=True)
    if angles is not None and angles.max() > MAX_GRAZE_MRAD:
        raise CliError(f"--angles {args.angles!r}: graze angles must not exceed {MAX_GRAZE_MRAD:g} mrad")
    n_angles = 60 if angles is None else angles.size
    if energies.size * n_angles > MAX_GRID_VALUES * 10:
        raise CliError(f"--energies x --angles: {energies.size * n_angles} points; at most {MAX_GRID_VALUES * 10}")
    check_outputs(args)
    table = api.reflectivity(optic if optic is not None else args.recipe, energies, angles,
                             roughness_nm=args.roughness, polarisation=args.polarisation)
    names = list(dict.fromkeys(table["coating"])) if "coating" in table.colnames else [table.meta["recipe"]]
    if optic is not None:
        print(f"{optic.name}: {len(names)} coating recipe(s); on-axis graze angles {graze_range(optic)}")
    for name in names:
        rows = table[table["coating"] == name] if "coating" in table.colnames else table
        angle = np.unique(rows["angle"].value)
        values = np.asarray(rows["reflectivity"]).reshape(energies.size, angle.size)
        detail = f"{table.meta['stack']}; " if len(names) == 1 else ""
        print(f"{name}: {detail}{table.meta['optical_constants']} optical constants, {args.polarisation}")
        shown_e, shown_a = spread_indices(energies.size, 8), spread_indices(angle.size, 6)
        print("  energy (keV) | R at graze angle (mrad) " + " ".join(f"{a:8.3g}" for a in angle[shown_a]))
        for i in shown_e:
            print(f"  {energies[i]:12.4g} | {'':24}" + " ".join(f"{values[i, j]:8.4f}" for j in shown_a))
    write_outputs(args, table, lambda: plot_reflectivity(table))
    return 0
