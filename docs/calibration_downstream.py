"""What the calibration of XMM to its measured areas changes downstream: `xmm_design` (the module as designed) beside
`xmm` (calibrated), with the defaults of the command line (Hoof 2022 spectrum, the BabyIAXO Micromegas and bore).
Prints the Markdown table of the "XMM calibrated to its measurements" section of docs/guide/optics.md.

    python docs/calibration_downstream.py [--rays 1e6]
"""

import argparse

import raytrace
from raytrace.defaults import MASSES_EV


def rows(name: str, rays: int) -> dict:
    area = raytrace.effective_area(name, [1.5, 2.0, 7.0, 8.0], rays=rays)["effective_area"]
    spot = raytrace.solar_spot(name, rays=rays).summary()
    reach = raytrace.sensitivity([name], rays=rays, masses_ev=[MASSES_EV[0]], gas_years=0)
    return {
        "A_eff at 1.5 / 2 / 7 / 8 keV (cm2)": " / ".join(f"{a:.0f}" for a in area.value),
        "<A_eff> over the solar spectrum (cm2)": f"{spot['mean_effective_area_cm2']:.0f}",
        "spot of the detected signal: area, eta_D": f"{spot['area_cm2']:.3f} cm2, {spot['eta_d']:.3f}",
        "area holding 50 / 80 / 90 % of the detected signal (cm2)": " / ".join(
            f"{spot[f'area_{p}_cm2']:.3f}" for p in (50, 80, 90)
        ),
        "detected signal inside the 8 mm opening": f"{100 * spot['opening_fraction']:.1f} %",
        "f_O, f_DO": f"{spot['f_o']:.4f} cm^-1, {spot['f_do']:.1f} (keV s)^1/2",
        f"vacuum limit at {MASSES_EV[0]:g} eV, both bores holding this optic (GeV^-1)": (
            f"{reach.low_mass('g_agamma_vacuum'):.4g}"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rays", type=float, default=1e6)
    rays = int(parser.parse_args().rays)
    design, calibrated = rows("xmm_design", rays), rows("xmm", rays)
    print(f"| {rays:.0e} rays | xmm_design | xmm (calibrated) |\n|---|---|---|")
    for key in design:
        print(f"| {key} | {design[key]} | {calibrated[key]} |")


if __name__ == "__main__":
    main()
