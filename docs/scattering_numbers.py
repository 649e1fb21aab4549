"""The numbers of "Scattering from roughness" (docs/guide/coatings.md): per reflection on gold (250 nm Au on Ni, 0.4 nm
rms, all of it in a PSD band of 0.02-2 /um with index 1.6) at 8 mrad, and the share of a gold Wolter shell's focused
flux beyond 300 arcsec (r0 240 mm, f 7.5 m), traced and from first order (tests/test_scattering.py computes the latter).

    python docs/scattering_numbers.py
"""

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np

from coatings.table import ReflectivityTable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_scattering import GOLD, beyond_300_arcsec, first_order  # noqa: E402  (the independent integration)

GRAZE = 0.008


def main() -> None:
    print(
        "| energy | Debye-Waller TIS | Nevot-Croce share (before) | first-order tau | tau with Q = R_0(a) | "
        "specular, scattered (per unit R_0) |\n|---|---|---|---|---|---|"
    )
    for energy in (1.5, 3.0, 8.0):
        sides, tis = first_order(GOLD, energy, GRAZE)
        tau = sum(np.trapezoid(density, f) for _, density, f in sides)
        r0 = GOLD.smooth_reflectivity_grid([energy], [GRAZE])[0, 0]
        near = sum(
            np.trapezoid(density / np.sqrt(GOLD.smooth_reflectivity_grid([energy], angles)[0] / r0), f)
            for angles, density, f in sides
        )
        nevot_croce = 1 - dataclasses.replace(GOLD, scattering=None).reflectivity_grid([energy], [GRAZE])[0, 0] / r0
        table = ReflectivityTable.build([GOLD], [energy], 0.02)
        leaves = -math.expm1(-max(tis, tau))
        assert (
            abs(
                np.interp(GRAZE / table.angle_step_rad, np.arange(table.values.shape[2]), table.scatter_fraction[0, 0])
                / tau
                - 1
            )
            < 2e-3
        )
        print(
            f"| {energy:g} keV | {tis:.4f} | {nevot_croce:.4f} | {tau:.4f} | {near:.4f} | "
            f"{1 - leaves:.4f}, {min(tau, leaves):.4f} |"
        )
    print('\n| gold shell, beyond 300" | traced (1e6 rays) | first order |\n|---|---|---|')
    for energy in (3.0, 8.0):
        traced, expected = beyond_300_arcsec(energy, n=1_000_000)
        print(f"| {energy:g} keV | {100 * traced:.2f} % | {100 * expected:.2f} % |")


if __name__ == "__main__":
    main()
