"""The reflectivity command: R of a coating recipe, or of an optic's coatings, versus energy and graze angle."""

from __future__ import annotations

import numpy as np

from .options import (
    MAX_GRID_VALUES,
    RANGE_FORMS,
    CliError,
    add_table_and_plot,
    check_outputs,
    command,
    graze_range,
    number,
    parse_grid,
    write_outputs,
)

MAX_GRAZE_MRAD = 1000.0


def register(sub) -> None:
    refl = command(
        sub,
        "reflectivity",
        "reflectivity of a coating recipe versus energy and graze angle",
        """\
  raytrace reflectivity au250_ni --energy 0.5:12:0.05 --graze 2,5,8,11 --plot au.png
  raytrace reflectivity wb4c_graded --energy 1:10:0.1 --graze 1:20:0.5 -o wb4c.ecsv
  raytrace reflectivity my_coating.toml --energy 8.05 --graze 0:30:0.05 --roughness 0.5""",
        run_reflectivity,
        renamed={"--energies": "--energy", "--angles": "--graze"},
    )
    refl.add_argument(
        "recipe",
        help="a shipped recipe name (au250_ni, ir_thick, ptc_graded, wb4c_graded), a recipe "
        ".toml path, or an optic (xmm, babyiaxo, .ecsv, design .toml): its coatings",
    )
    refl.add_argument("--energy", required=True, metavar="SPEC", help=f"photon energies in keV: {RANGE_FORMS}")
    refl.add_argument(
        "--graze",
        metavar="SPEC",
        help=f"graze angles in mrad: {RANGE_FORMS} (required for a recipe; for an optic, default: its "
        "on-axis graze angles)",
    )
    refl.add_argument(
        "--roughness",
        type=number("--roughness", minimum=0),
        metavar="NM",
        help="set every interface's rms roughness to NM (default: the recipe's)",
    )
    refl.add_argument(
        "--polarisation",
        choices=("s", "p", "unpolarised"),
        default="unpolarised",
        help="default unpolarised (the mean of s and p)",
    )
    add_table_and_plot(refl, plot_help="plot R versus energy and versus angle")


def run_reflectivity(args) -> int:
    from geometries import is_optic, load_optic

    from .. import api
    from ..analysis.encircled import spread_indices
    from ..output import plot_reflectivity

    energies = parse_grid(args.energy)
    optic = load_optic(args.recipe) if is_optic(args.recipe) else None
    if optic is None and args.graze is None:
        raise CliError("--graze is required for a coating recipe")
    angles = None if args.graze is None else parse_grid(args.graze, "--graze", "mrad", allow_zero=True)
    if angles is not None and angles.max() > MAX_GRAZE_MRAD:
        raise CliError(f"--graze {args.graze!r}: graze angles must not exceed {MAX_GRAZE_MRAD:g} mrad")
    n_angles = 60 if angles is None else angles.size
    if energies.size * n_angles > MAX_GRID_VALUES * 10:
        raise CliError(f"--energy x --graze: {energies.size * n_angles} points; at most {MAX_GRID_VALUES * 10}")
    check_outputs(args)
    table = api.reflectivity(
        optic if optic is not None else args.recipe,
        energies,
        angles,
        roughness_nm=args.roughness,
        polarisation=args.polarisation,
    )
    names = list(dict.fromkeys(table["coating"])) if "coating" in table.colnames else [table.meta["recipe"]]
    if optic is not None:
        shown = "" if args.graze else "; R over 0.5-1.5 x that range"
        print(f"{optic.name}: {len(names)} coating recipe(s); on-axis graze angles {graze_range(optic)}{shown}")
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
