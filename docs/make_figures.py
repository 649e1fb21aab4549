"""Every figure the README and the documentation show, made by the commands and settings its captions state, so that
none can drift from the code: run it after a change that moves them (about 10 minutes on 2 cores). It also prints the
numbers the captions quote.

    python docs/make_figures.py [NAME.png ...]      (default: all of FIGURES)
"""

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent
SHARED_CURVES = DOCS.parents[1] / "shared" / "reference" / "axion" / "sensitivity"  # published curves, if present
VIGNETTING_ANGLES_ARCMIN = np.arange(0.0, 20.5, 1.0)
VIGNETTING_KEV = 3.0
# A figure: the command that makes it, and the name it writes into OUT, the run's own folder (None: the command
# writes the figure itself, to FIGURE)
FIGURES = {
    "xmm_vs_babyiaxo.png": (["demo", "-o", "OUT"], "xmm_vs_babyiaxo.png"),
    "babyiaxo_cross_section.png": (["show", "babyiaxo", "--plot", "FIGURE"], None),
    "sensitivity.png": (
        ["sensitivity", "--plot", "FIGURE", *(["--references", str(SHARED_CURVES)] if SHARED_CURVES.is_dir() else [])],
        None,
    ),
    "f_do_vs_focal_length.png": (
        ["optimise", "--focal-length", "3000:9000:250", "-o", "OUT"],
        "f_do_vs_focal_length.png",
    ),
    "vignetting.png": (None, None),  # two optics in one plot: from the API, below
    "iaxo_family.png": (None, None),  # the three presets on one plot: from the API, below
    "iaxo_family_abc.png": (None, None),
}
FAMILY = {"BabyIAXO": "babyiaxo", "IAXO": "iaxo", "IAXO+": "iaxoplus"}


def vignetting(path: Path) -> None:
    """Effective area relative to on axis at VIGNETTING_KEV for both optics, 2e5 rays per angle."""
    import raytrace

    tables = [
        raytrace.vignetting(name, energy_kev=VIGNETTING_KEV, off_axis_arcmin=VIGNETTING_ANGLES_ARCMIN)
        for name in ("xmm", "babyiaxo")
    ]
    for table in tables:
        shown = {a: r for a, r in zip(table["off_axis"].value, table["relative_area"]) if a in (2, 5, 10, 20)}
        print(
            f"{table.meta['optic']} at {VIGNETTING_KEV:g} keV: "
            + " / ".join(f"{r:.3f}" for r in shown.values())
            + " at "
            + " / ".join(f"{a:g}" for a in shown)
            + " arcmin"
        )
    raytrace.save_figure(raytrace.plot_vignetting(tables), path)


def family(path: Path, coupling: str) -> None:
    """The IAXO family's presets (1e6 rays per optic) on one plot, with their published g_agamma curves from
    ../shared/reference/axion/sensitivity where present; prints the low-mass numbers the documentation quotes."""
    import raytrace
    from raytrace.helioscope.sensitivity import reference_curves

    shared = SHARED_CURVES
    tables, references = {}, {}
    for label, preset in FAMILY.items():
        result = raytrace.preset_sensitivity(preset, coupling=coupling)
        tables[label] = result.table
        unit = "GeV^-1" if coupling == "gagamma" else "GeV^-1/2"
        spot = result.spots[0]
        print(
            f"{label} ({coupling}): vacuum {result.low_mass(result.coupling + '_vacuum'):.4g}, combined "
            f"{result.low_mass():.4g} {unit} at 1e-3 eV; combined below CAST up to "
            f"{result.reach_ev(result.coupling + '_combined', _cast(result)):.3g} eV; first bore: spot "
            f"{spot.area_cm2:.3f} cm2, <eps_D eps_O eta_D> {spot.figures.mean_eps_do_in_spot:.4f}, "
            f"<eps_O> {spot.figures.mean_eps_o:.4f}, <eps_D> {spot.figures.mean_eps_d:.3f}; rays outside the bore "
            f"{100 * max(result.meta['bore_rays_outside']):.2g} %; {result.meta['gas_steps']} 4He steps"
        )
        if coupling == "gagamma":
            references[label] = reference_curves(shared, preset)
            for name, (m, g) in references[label].items():
                print(f"  published {name}: {g[0]:.4g} GeV^-1 at {m[0]:.3g} eV")
    raytrace.save_figure(raytrace.plot_family(tables, references), path)


def _cast(result) -> float:
    from raytrace.helioscope.sensitivity import COUPLINGS

    return next(c for c in COUPLINGS.values() if c.column == result.coupling).cast_limit


def make(name: str) -> None:
    from raytrace.cli import main

    argv, written = FIGURES[name]
    target = DOCS / name
    if argv is None:
        if name.startswith("iaxo_family"):
            family(target, "gae" if name.endswith("_abc.png") else "gagamma")
        else:
            vignetting(target)
        print(f"wrote {target}", flush=True)
        return
    with tempfile.TemporaryDirectory() as out:
        command = [target.as_posix() if a == "FIGURE" else out + "/run" if a == "OUT" else a for a in argv]
        print("raytrace " + " ".join(command), flush=True)
        if main(command) != 0:
            raise SystemExit(f"raytrace {' '.join(argv)} failed")
        if written is not None:
            shutil.copyfile(Path(out) / "run" / written, target)
            print(f"copied to {target}", flush=True)


if __name__ == "__main__":
    for figure in sys.argv[1:] or FIGURES:
        make(figure)
