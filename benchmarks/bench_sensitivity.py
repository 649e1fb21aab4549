"""Speed of a full sensitivity curve, and which inputs move BabyIAXO's low-mass sensitivity away from REST's.

    python benchmarks/bench_sensitivity.py [--rays 1e6]

Times `raytrace.sensitivity()` on its defaults (XMM module and custom optic, 1e6 rays per bore, 300 masses, vacuum and
4He phases; target: under a minute on 2 cores), then changes REST's published inputs (the rest2019 preset) one at a
time into the traced ones and prints the vacuum-phase g_agamma at m_a = 1e-3 eV after each change.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

import numpy as np


def main():
    import raytrace
    from raytrace import defaults
    from raytrace.helioscope import sensitivity as reach
    from raytrace.sources import MODELS

    parser = argparse.ArgumentParser()
    parser.add_argument("--rays", type=float, default=1e6)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    start = time.perf_counter()
    result = raytrace.sensitivity(rays=int(args.rays))
    elapsed = time.perf_counter() - start
    print(
        f"full curve: {len(result.table)} masses, vacuum + {result.meta['gas_steps']} 4He steps, "
        f"{len(result.spots)} bores x {int(args.rays):,} rays: {elapsed:.1f} s"
    )
    start = time.perf_counter()
    raytrace.rest2019_sensitivity()
    print(f"rest2019 preset, 300 masses: {time.perf_counter() - start:.1f} s")

    model = MODELS[defaults.SOLAR_MODEL]
    mass = [1e-3]
    rest_magnet = reach.REST2019_MAGNET
    year = reach.YEAR_S * defaults.TRACKING
    rest_edges = reach.REST2019_EDGES_KEV
    edges = reach.energy_bin_edges(defaults.SENSITIVITY_BINS_KEV)

    def constant(edges_kev, spot_cm2=reach.REST2019_SPOT_CM2):
        return reach.constant_response(
            model,
            edges_kev,
            rest_magnet.bore_area_cm2,
            reach.REST2019_EFFICIENCY,
            spot_cm2,
            reach.REST2019_BACKGROUND,
            "constant",
        )

    def vacuum(responses, magnet, edges_kev, live_s, confidence, whole_counts=False):
        return reach.sensitivity(responses, magnet, mass, edges_kev, live_s, None, confidence, whole_counts).low_mass(
            "g_agamma_vacuum"
        )

    source = raytrace.solar_source(magnet=raytrace.Magnet())
    traced = [reach.traced_response(s, source, s.meta["optic"]) for s in result.spots]
    sharp = [dataclasses.replace(r, resolution=None) for r in traced]
    traced_rest_spot = [dataclasses.replace(r, spot_area_cm2=reach.REST2019_SPOT_CM2) for r in sharp]
    b2 = dataclasses.replace(rest_magnet, field_tesla=defaults.MAGNET_FIELD_T)
    rest_live = 1.5 * 365 * reach.REST2019_DAY_S
    steps = [
        (
            "REST's inputs and statistic (rest2019 preset; REST publishes 1.697e-11)",
            vacuum([constant(rest_edges)] * 2, rest_magnet, rest_edges, rest_live, reach.REST2019_CONFIDENCE, True),
        ),
        (
            "+ Asimov data (median expected limit)",
            vacuum([constant(rest_edges)] * 2, rest_magnet, rest_edges, rest_live, reach.REST2019_CONFIDENCE),
        ),
        (
            "+ 95 % CL one-sided (q = 2.71 instead of 4)",
            vacuum([constant(rest_edges)] * 2, rest_magnet, rest_edges, 1.5 * year, 0.95),
        ),
        ("+ B = 2 T (instead of 1.73 T)", vacuum([constant(rest_edges)] * 2, b2, rest_edges, 1.5 * year, 0.95)),
        ("+ analysis window 1-10 keV", vacuum([constant(edges)] * 2, b2, edges, 1.5 * year, 0.95)),
        (
            "+ traced signal in the spot (optics x detector x eta_D), spots still 0.3 cm2",
            vacuum(traced_rest_spot, b2, edges, 1.5 * year, 0.95),
        ),
        ("+ traced spot areas", vacuum(sharp, b2, edges, 1.5 * year, 0.95)),
        ("+ the detector's energy resolution (the traced defaults)", vacuum(traced, b2, edges, 1.5 * year, 0.95)),
    ]
    for label, g in steps:
        print(f"  {g:.4g} GeV^-1  {label}")
    for spot, g in zip(result.spots, result.meta["bore_vacuum_low_mass"]):
        rate = spot.figures.mean_eps_do_in_spot
        print(
            f"  bore {spot.meta['optic']}: <eps_D eps_O eta_D> = {rate:.4f} (REST: {reach.REST2019_EFFICIENCY:.4f}), "
            f"spot {spot.area_cm2:.3f} cm2 (REST 0.300), alone {g:.4g} GeV^-1"
        )
    low = np.asarray(result.table["g_agamma_combined"])[0]
    print(
        f"traced defaults: combined {low:.4g} GeV^-1 at 1e-3 eV; below CAST 2017 up to "
        f"{result.reach_ev('g_agamma_combined', 0.66e-10):.3g} eV"
    )


if __name__ == "__main__":
    main()
