"""The numbers of "The CAST IAXO pathfinder as built" (docs/guide/optics.md): its PSF at PANTER (source 130.297 m away,
0.42 mm radius) in the measured focus, with and without its fitted slope errors, its best focus over energies and rays,
and its effective area on axis, whole and in the CAST bore (1e6 rays).

    python docs/cast_pathfinder_numbers.py
"""

import warnings

import numpy as np

import raytrace
from geometries.optic import SlopeErrors
from raytrace.analysis import best_focus_z_mm, psf

MEASURED = {1.49: (206, 397, 549), 4.51: (196, 380, 511), 6.4: (196, 364, 483)}  # HPD, W80, W90 at PANTER (arcsec)
ENERGIES_KEV = [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.4, 8.0]


def main() -> None:
    warnings.simplefilter("ignore")  # the as-built table's overlaps, within the tolerance
    optic = raytrace.load("cast_pathfinder")
    ideal = optic.with_slope_errors(SlopeErrors())
    panter = raytrace.make_source(source_distance_m=130.297, source_size_mm=0.42)
    foci = []
    for energy, measured in MEASURED.items():
        z = [best_focus_z_mm(optic, panter.at_energy(energy), 200_000, seed) for seed in range(3)]
        foci += z
        traced = psf(optic, energy, panter, 1_000_000, seed=0, focal_plane_z_mm=-19.0, image_pixels=1)
        perfect = psf(ideal, energy, panter, 1_000_000, seed=0, focal_plane_z_mm=-19.0, image_pixels=1)
        print(
            f"{energy} keV: best focus z {np.round(z, 1)}; at z = -19: HPD/W80/W90 {traced.hpd_arcsec:.0f} / "
            f"{traced.w80_arcsec:.0f} / {traced.w90_arcsec:.0f} (measured {measured}); without slope errors HPD "
            f"{perfect.hpd_arcsec:.0f}; focused area {traced.effective_area_cm2:.2f} cm2"
        )
    print(f"best focus over {len(foci)}: mean {np.mean(foci):.1f} mm, range {min(foci):.1f} .. {max(foci):.1f}")
    whole = raytrace.effective_area(optic, ENERGIES_KEV)
    bore = raytrace.effective_area(raytrace.load("cast_pathfinder", apertures=["circle:21.5@83,0"]), ENERGIES_KEV)
    print(
        f"focused with perfect mirrors: whole wedge {whole.meta['geometric_area_cm2']:.1f} cm2, in the CAST bore "
        f"{bore.meta['geometric_area_cm2']:.1f} cm2"
    )
    for energy, a, b in zip(ENERGIES_KEV, whole["effective_area"].value, bore["effective_area"].value):
        print(f"  {energy:4.1f} keV: whole {a:.2f} cm2, in the bore {b:.2f} cm2")


if __name__ == "__main__":
    main()
