"""The response to the solar-axion signal inside the spot, as X-ray fitting tools (XSPEC, Sherpa) read it: an ARF
and an RMF (OGIP CAL/GEN/92-002).

The expected counts in detector channel c are

    C_c = T sum_k F_k ARF_k RMF_kc,

F_k the photon flux (cm^-2 s^-1) leaving the magnet in energy bin k (Phi_a(E) P(g, B, L) integrated over the bin)
and T the live time (the exposure times the data-taking efficiency: what XSPEC and Sherpa take as EXPOSURE).
ARF_k = A_eff(E_k) eta_D(E_k): the optic's effective area for the photons of that bin that land inside the spot (the
signal-to-noise optimal circle `solar_spot` chose for the detected signal) and on the detector's opening (the
strongback around it is opaque). RMF_kc is the probability that such a photon is recorded in channel c: the
detector's Gaussian photopeak (`Detector.redistribution`). The detector efficiency eps_D(E_k) multiplies exactly one
of the two, as chosen (`raytrace.defaults.DETECTOR_EFFICIENCY_IN`); the files say which. Summed over channels and
folded with the source's spectrum, C is the `detectable_signal_counts` of `solar_spot`.

The energy bins are the source's own (50 eV, whose centres the rays were traced at), the ARF a ray estimate in each:
the bin's detected signal in that region divided by the bin's share of the band's flux. Rays are drawn from the
spectrum, so the estimate is noisiest where the flux is weakest; its error per bin (`SpotResult.spot_area_error_cm2`)
is summarised in the header. eta_D(E) follows the source's radial profile on the solar disc: the ARF belongs to the
flux it was traced with (Primakoff or ABC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import Table

from ..defaults import DETECTOR_EFFICIENCY_IN, RMF_CHANNEL_KEV
from .detector import DetectorError
from .spot import SpotResult

TAIL_SIGMAS = 8.0  # the channels reach this many sigma of the photopeak above the band's upper edge


@dataclass(frozen=True)
class Rmf:
    """A redistribution matrix: the probability (shape energies x channels) that a photon of an energy bin
    (`energy_edges_kev`) is recorded in a channel (`channel_edges_kev`), keV; `includes_efficiency` says whether
    the rows carry the detector efficiency (OGIP HDUCLAS3 'DETECTOR') or only the redistribution ('REDIST')."""

    energy_edges_kev: np.ndarray
    channel_edges_kev: np.ndarray
    matrix: np.ndarray
    includes_efficiency: bool
    meta: dict


def _check_place(efficiency_in: str) -> None:
    if efficiency_in not in DETECTOR_EFFICIENCY_IN:
        raise ValueError(
            f"efficiency_in = {efficiency_in!r}: the detector efficiency goes in the "
            f"{' or the '.join(DETECTOR_EFFICIENCY_IN)}"
        )


def check_efficiency_in(detector, energies_kev, efficiency_in: str) -> None:
    """Refuse, before any tracing, an ARF without the detector efficiency (efficiency_in 'rmf') where the efficiency
    is 0 at some of the energies (keV) the rays are traced at: the optic's own area there cannot be recovered."""
    _check_place(efficiency_in)
    if efficiency_in == "rmf":
        efficiency = detector.efficiency(energies_kev)
        if np.any(efficiency <= 0):
            raise DetectorError(
                f"detector {detector.name}: its efficiency is 0 at {energies_kev[efficiency <= 0][0]:g} "
                "keV, so an ARF without it cannot be had there; put the efficiency in the ARF"
            )


def spot_arf(result: SpotResult, efficiency_in: str = DETECTOR_EFFICIENCY_IN[0]) -> Table:
    """The ARF of the signal inside the spot and on the detector's opening (module docstring): columns energy_lo,
    energy_hi, energy (keV), effective_area (cm2), A_eff(E) eta_D(E), times eps_D(E) if efficiency_in is 'arf', and
    effective_area_err (cm2, its statistical error; not in the OGIP file, whose header gives its median and largest
    relative value over the bins that hold rays, and the count of bins without any). Fold it with the live time (meta
    live_time_s)."""
    edges = result.energy_edges_kev
    centres = 0.5 * (edges[:-1] + edges[1:])
    check_efficiency_in(result.detector, centres, efficiency_in)
    scale = 1.0 if efficiency_in == "arf" else 1.0 / result.detector.efficiency(centres)
    area, error = result.spot_area_cm2 * scale, result.spot_area_error_cm2 * scale
    table = Table(
        {
            "energy_lo": edges[:-1] * u.keV,
            "energy_hi": edges[1:] * u.keV,
            "energy": centres * u.keV,
            "effective_area": area * u.cm**2,
            "effective_area_err": error * u.cm**2,
        }
    )
    held = area > 0
    relative = error[held] / area[held]
    table.meta.update(result.meta)
    table.meta.update(
        response="the solar-axion signal inside the spot and on the detector's opening: A_eff(E) eta_D(E)"
        + (" eps_D(E)" if efficiency_in == "arf" else ""),
        detector_efficiency="in the ARF" if efficiency_in == "arf" else "not in the ARF (in the RMF)",
        live_time_s=result.meta["exposure_s"] * result.meta["efficiency"],
        fold="counts = live_time_s x sum over bins of ARF x RMF x the photon flux leaving the magnet (cm-2 s-1)",
        spot_radius_mm=result.radius_mm,
        spot_circle_area_cm2=result.area_cm2,
        spot_centre_x_mm=float(result.centroid_mm[0]),
        spot_centre_y_mm=float(result.centroid_mm[1]),
        opening_diameter_mm=result.detector.opening_diameter_mm,
        largest_relative_error=float(relative.max(initial=0.0)),
        median_relative_error=float(np.median(relative)) if relative.size else 0.0,
        bins_without_rays=int(np.sum(area <= 0)),
    )
    return table


def spot_rmf(
    result: SpotResult, efficiency_in: str = DETECTOR_EFFICIENCY_IN[0], channel_kev: float = RMF_CHANNEL_KEV
) -> Rmf:
    """The RMF matching `spot_arf(result, efficiency_in)`: the detector's Gaussian photopeak on the ARF's energy
    bins, channels of `channel_kev` (keV) from 0 to TAIL_SIGMAS sigma above the band, rows times eps_D(E) if
    efficiency_in is 'rmf'."""
    _check_place(efficiency_in)
    if not (math.isfinite(channel_kev) and channel_kev > 0):
        raise ValueError(f"channel width = {channel_kev} keV: must be a number > 0")
    detector = result.detector
    if detector.resolution is None:
        raise DetectorError(
            f"detector {detector.name}: an RMF needs its energy resolution (a [resolution] table with "
            "fwhm_kev and energy_kev)"
        )
    edges = result.energy_edges_kev
    top = edges[-1] + TAIL_SIGMAS * float(detector.resolution.sigma_kev(edges[-1]))
    channels = channel_kev * np.arange(int(math.ceil(top / channel_kev)) + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    matrix = detector.redistribution(centres, channels)
    if efficiency_in == "rmf":
        matrix = matrix * detector.efficiency(centres)[:, None]
    resolution = detector.resolution
    meta = {
        "detector": detector.name,
        "resolution_fwhm_kev": resolution.fwhm_kev,
        "resolution_energy_kev": resolution.energy_kev,
        "resolution": "Gaussian photopeak, FWHM(E) = resolution_fwhm_kev sqrt(E / resolution_energy_kev); no "
        "escape peak, no low-energy tail",
        "detector_efficiency": "in the RMF" if efficiency_in == "rmf" else "not in the RMF (in the ARF)",
        "raytrace_version": result.meta.get("raytrace_version", ""),
    }
    return Rmf(edges, channels, matrix, efficiency_in == "rmf", meta)
