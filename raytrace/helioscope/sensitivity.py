"""The projected sensitivity of a helioscope to the axion-photon coupling g_agamma (or, for the ABC flux, to
(g_ae g_agamma)^1/2: `Coupling`) versus the axion mass m_a.

Signal. Per bore, energy bin k and data-taking step (the vacuum phase or one buffer-gas density), at the reference
coupling G_REF = 1e-10 GeV^-1 (counts scale as (g / G_REF)^4: the flux and the conversion each go as g^2):

    s_k = T sum_j R_j <P>_j G_jk,

T the step's live time (exposure x tracking efficiency), R_j the rate (s^-1) of solar axions of energy node j whose
photons would be detected in the spot if every axion converted (`SignalResponse`: from a traced optic and detector, flux
x bore area x throughput x fraction of the detected signal inside the spot x detector efficiency), and <P>_j the
conversion probability (`raytrace.helioscope.conversion`) averaged over the node's energies by Gauss-Legendre
quadrature. G_jk is the probability that a photon of node j is recorded in bin k: the detector's photopeak (a Gaussian
whose FWHM grows as sqrt(E), from the detector file) integrated over the bin; what falls outside the analysis window is
lost, and the traced band is the window, so nothing spills in from outside it (at 1 and 10 keV the spectrum x efficiency
is small: the test suite bounds the effect). Without a resolution, G_jk is 1 for the bin that holds the node's centre.
Background: b_k = b x a x dE_k x T, with a the spot area and b the detector's background level.

Statistics. Every (step, bore, bin) is one Poisson count; the expected limit on mu = (g / G_REF)^4 is the median one
of background-only Asimov data (`raytrace.helioscope.statistics`), so g = G_REF mu^(1/4). The vacuum curve uses the
vacuum phase, the gas curve the gas steps, and the combined curve all of them in one likelihood.

Buffer gas (`density_steps`, `gas_schedule`). Step n fills the bore with 4He whose photon mass m_n restores the
coherence for axions of mass m_n. Neighbouring steps are one resonance width apart, so that at every mass in between
some step converts with at least half its peak probability at the reference energy E_ref: m_1 is the mass at which
the vacuum probability has fallen to half, and m_{n+1} = m_n + W(m_n) / (1 + exp(-m_n / m_ramp)), with W(m_n) twice
the distance above m_n at which step n's probability halves. The factor halves the steps at low mass, where the gas
steps overlap the vacuum phase. The gas phase's live time is spread over the steps: the first `first_steps` share
`first_share` of it equally, and each later step gets time in proportion to 1 / (m_n^4 N_n), N_n its signal rate at
its own mass: the time a background-free search needs to reach a coupling proportional to m_a, i.e. to follow the
QCD-axion (KSVZ) line. This is the rule of REST's BabyIAXO example (rest-for-physics/axionlib,
examples/03.IAXO: E_ref = 4.2 keV, m_ramp = 0.05 eV, five first steps sharing 0.5 of 1.5 years, up to 0.25 eV).
For the ABC flux, whose detected signal is softer, E_ref = 2.0 keV (`Coupling.step_energy_kev`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table
from scipy.optimize import brentq
from scipy.stats import norm

from ..defaults import MAX_GAS_MASS_EV
from ..errors import InputError
from .conversion import conversion_probability, density_for_photon_mass, photon_mass_ev
from .detector import Resolution
from .merit import Magnet
from .statistics import CONFIDENCE, pseudo_experiment_limits, upper_limit

G_REF_PER_GEV = 1e-10  # the solar flux models are given for this coupling
REFERENCE_ENERGY_KEV = 4.2


@dataclass(frozen=True)
class Coupling:
    """What a limit is on: the coupling c whose fourth power the signal follows, its name in the result's columns
    (`column`_vacuum, ...), its unit (and as text), its label, its value at which the responses' rates and G_REF's
    conversion probability give the counts (so that c = reference x mu^(1/4)), and CAST's limit on it (95 % CL, up
    to cast_max_mass_ev), which plots and summaries compare with, and the energy the 4He steps are spaced for."""

    column: str
    unit: u.UnitBase
    unit_text: str
    label: str
    reference: float
    cast_limit: float
    cast_max_mass_ev: float
    cast_reference: str
    step_energy_kev: float  # E_ref of the 4He steps: near the middle of the detected signal's spectrum


# Primakoff: flux and conversion each go as g_agamma^2. ABC: flux as g_ae^2, conversion as g_agamma^2, so the counts
# go as (g_ae g_agamma)^2 = ((g_ae g_agamma)^1/2)^4, the responses' rates being at g_ae = 1e-13.
# E_ref: REST's 4.2 keV for Primakoff; 2.0 keV for ABC, whose detected signal has its median near 2.1 keV (BabyIAXO's
# optics and Micromegas), so that the steps leave no mass between them at half the peak probability there.
PRIMAKOFF = Coupling(
    "g_agamma",
    u.GeV**-1,
    "GeV^-1",
    "g_agamma",
    G_REF_PER_GEV,
    0.66e-10,
    0.02,
    "CAST 2017 (Anastassopoulos et al., Nature Physics 13 (2017) 584)",
    REFERENCE_ENERGY_KEV,
)
ABC = Coupling(
    "sqrt_gae_gagamma",
    u.GeV**-0.5,
    "GeV^-1/2",
    "(g_ae g_agamma)^1/2",
    math.sqrt(1e-13 * G_REF_PER_GEV),
    math.sqrt(8.1e-23),
    0.01,
    "CAST 2013: g_ae g_agamma < 8.1e-23 GeV^-1 (Barth et al., JCAP 05 (2013) 010, arXiv:1302.6283)",
    2.0,
)
COUPLINGS = {"gagamma": PRIMAKOFF, "gae": ABC}
YEAR_S = float((1 * u.yr).to_value(u.s))  # Julian year
RAMP_MASS_EV = 0.05
FIRST_STEPS = 5
FIRST_SHARE = 1.0 / 3.0
MAX_MASSES = 100_000
MIN_BIN_KEV, MAX_BIN_KEV = 0.1, 20.0  # the analysis bins lie where the solar models are traced
PROBABILITY_POINTS = 4  # Gauss-Legendre points per 50 eV node: P's coherence oscillations are resolved to ~0.3 eV


@dataclass(frozen=True)
class SignalResponse:
    """What one bore makes of the solar-axion flux, per energy node (edges in keV): `axion_rate_s`, the rate of axions
    (s^-1, at the flux model's reference coupling: g_agamma = 1e-10 GeV^-1, or g_ae = 1e-13 for ABC) whose photons
    would be detected in the spot if all converted; the spot area
    (cm2) and the background level (counts keV^-1 cm^-2 s^-1) that set the background; how many Gauss-Legendre
    points per node average the conversion probability (1: its value at the node's centre); and the detector's
    energy resolution (None: each node's signal is recorded at its own energy)."""

    name: str
    energy_edges_kev: np.ndarray
    axion_rate_s: np.ndarray
    spot_area_cm2: float
    background_counts_kev_cm2_s: float
    probability_points: int = PROBABILITY_POINTS
    resolution: Resolution | None = None  # the detector's photopeak: signal is recorded at smeared energies

    def __post_init__(self):
        edges, rate = np.asarray(self.energy_edges_kev, float), np.asarray(self.axion_rate_s, float)
        if edges.ndim != 1 or edges.size != rate.size + 1 or not np.all(np.diff(edges) > 0) or not edges[0] >= 0:
            raise ValueError(f"response {self.name}: energy_edges_kev must rise from >= 0 keV, one more than the rates")
        if not (np.all(np.isfinite(rate)) and np.all(rate >= 0) and rate.sum() > 0):
            raise ValueError(f"response {self.name}: axion rates must be finite, >= 0 and not all 0")
        for name in ("spot_area_cm2", "background_counts_kev_cm2_s"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"response {self.name}: {name} = {getattr(self, name)}: must be a number > 0")
        if not (isinstance(self.probability_points, int) and self.probability_points >= 1):
            raise ValueError(f"response {self.name}: probability_points must be a whole number >= 1")

    def mean_probability(self, magnet: Magnet, masses_ev: np.ndarray, density_g_cm3: float) -> np.ndarray:
        """<P>_j at G_REF for each mass (rows) and node (columns) with 4He of this density in the bore."""
        x, w = np.polynomial.legendre.leggauss(self.probability_points)
        lo, hi = self.energy_edges_kev[:-1], self.energy_edges_kev[1:]
        energies = 0.5 * (lo + hi)[:, None] + 0.5 * (hi - lo)[:, None] * x  # node x point
        probability = conversion_probability(
            G_REF_PER_GEV,
            magnet.field_tesla,
            magnet.length_m,
            energies[None, :, :],
            np.asarray(masses_ev, float)[:, None, None],
            density_g_cm3,
        )
        return probability @ (0.5 * w)


def traced_response(spot, source, name: str) -> SignalResponse:
    """The response of a traced solar spot (`raytrace.helioscope.spot.SpotResult`) of this solar source, with its
    detector's energy resolution: the signal and the background of the spot's circle where it lies on the detector's
    opening (the strongback around it is opaque)."""
    return SignalResponse(
        name,
        spot.energy_edges_kev,
        source.band_flux() * spot.detectable_signal_cm2,
        spot.detectable_area_cm2,
        spot.meta["background_counts_kev_cm2_s"],
        resolution=spot.detector.resolution,
    )


def constant_response(
    model, energy_edges_kev, area_cm2: float, efficiency: float, spot_area_cm2: float, background: float, name: str
) -> SignalResponse:
    """A response with one efficiency at all energies (optics x detector) over an area (cm2) and all the focused
    signal inside a spot of spot_area_cm2, with the conversion probability taken at the centre of each energy bin:
    the simplified response of published sensitivity projections (Armengaud et al., JCAP 06 (2019) 047)."""
    edges = np.asarray(energy_edges_kev, float)
    flux = np.array([model.flux(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])])
    return SignalResponse(name, edges, flux * area_cm2 * efficiency, spot_area_cm2, background, 1)


@dataclass(frozen=True)
class GasSchedule:
    """Buffer-gas steps: photon mass (eV), 4He density (g/cm3) and live time (s) of each."""

    photon_mass_ev: np.ndarray
    density_g_cm3: np.ndarray
    live_time_s: np.ndarray


def resonance_width_ev(magnet: Magnet, photon_mass_ev: float, energy_kev: float = REFERENCE_ENERGY_KEV) -> float:
    """W: twice the distance (eV) above the resonance m_a = m_gamma at which the conversion probability at energy_kev
    falls to half its value at the resonance, in 4He whose photon mass is photon_mass_ev (0: vacuum)."""
    density = float(density_for_photon_mass(photon_mass_ev))

    def probability(mass):
        return float(conversion_probability(1.0, magnet.field_tesla, magnet.length_m, energy_kev, mass, density))

    half = 0.5 * probability(photon_mass_ev)
    low, high = photon_mass_ev, photon_mass_ev + 1e-6
    while probability(high) > half:
        low, high = high, photon_mass_ev + 2.0 * (high - photon_mass_ev)
    return 2.0 * (brentq(lambda m: probability(m) - half, low, high, xtol=1e-15, rtol=1e-12) - photon_mass_ev)


LIQUID_HELIUM_G_CM3 = 0.125  # liquid 4He at its normal boiling point, 4.2 K: a buffer gas cannot be denser


def check_max_gas_mass(max_mass_ev: float) -> None:
    """Refuse a last gas step (eV) that is not a number > 0 or needs 4He denser than liquid."""
    if not (math.isfinite(max_mass_ev) and max_mass_ev > 0):
        raise InputError("max_gas_mass_ev", max_mass_ev, "must be a number > 0")
    densest_ev = float(photon_mass_ev(LIQUID_HELIUM_G_CM3))
    if max_mass_ev > densest_ev:
        raise InputError(
            "max_gas_mass_ev",
            max_mass_ev,
            f"the 4He would be denser than liquid helium ({LIQUID_HELIUM_G_CM3} g/cm3, photon mass "
            f"{densest_ev:.2f} eV)",
        )


def density_steps(
    magnet: Magnet,
    max_mass_ev: float = MAX_GAS_MASS_EV,
    energy_kev: float = REFERENCE_ENERGY_KEV,
    ramp_mass_ev: float = RAMP_MASS_EV,
) -> np.ndarray:
    """The photon masses (eV) of the gas steps (module docstring), from the first past the vacuum phase until one
    reaches max_mass_ev."""
    check_max_gas_mass(max_mass_ev)
    masses = [0.5 * resonance_width_ev(magnet, 0.0, energy_kev)]
    while masses[-1] < max_mass_ev:
        m = masses[-1]
        masses.append(m + resonance_width_ev(magnet, m, energy_kev) / (1.0 + math.exp(-m / ramp_mass_ev)))
        if len(masses) > 100_000:
            raise ValueError(f"max_mass_ev = {max_mass_ev}: needs more than 100000 gas steps")
    return np.array(masses)


def gas_schedule(
    responses,
    magnet: Magnet,
    live_time_s: float,
    max_mass_ev: float = MAX_GAS_MASS_EV,
    first_steps: int = FIRST_STEPS,
    first_share: float = FIRST_SHARE,
    energy_kev: float = REFERENCE_ENERGY_KEV,
) -> GasSchedule:
    """The gas steps up to max_mass_ev, spaced for photons of energy_kev (the module docstring's E_ref), and the live
    time (s) of each (module docstring); N_n is the signal rate of all bores (`responses`) at the step's own mass."""
    masses = density_steps(magnet, max_mass_ev, energy_kev)
    densities = density_for_photon_mass(masses)
    if not (math.isfinite(live_time_s) and live_time_s > 0):
        raise ValueError(f"gas-phase live time = {live_time_s} s: must be a number > 0")
    if not 0 <= first_share < 1 or first_steps < 0:
        raise ValueError(
            f"first_steps = {first_steps}, first_share = {first_share}: need first_steps >= 0 and 0 <= first_share < 1"
        )
    first = min(first_steps, masses.size - 1)
    rate = np.array(
        [
            sum(float(r.axion_rate_s @ r.mean_probability(magnet, [m], d)[0]) for r in responses)
            for m, d in zip(masses, densities)
        ]
    )
    later = 1.0 / (masses[first:] ** 4 * rate[first:])
    share = first_share if first else 0.0
    time = np.concatenate(
        [np.full(first, share * live_time_s / max(first, 1)), (1.0 - share) * live_time_s * later / later.sum()]
    )
    return GasSchedule(masses, densities, time)


@dataclass
class SensitivityResult:
    """The curves (`table`: m_a and g_agamma of the vacuum, gas and combined data, GeV^-1), the gas schedule, the
    provenance (with the vacuum phase's expected counts per bore at G_REF and the lowest mass) and the traced spots."""

    table: Table
    schedule: GasSchedule | None
    spots: list = field(default_factory=list)  # the traced solar spot of each bore, if traced

    @property
    def meta(self) -> dict:
        return self.table.meta

    @property
    def coupling(self) -> str:
        """The column name of the coupling the limits are on ('g_agamma' or 'sqrt_gae_gagamma')."""
        return self.table.meta.get("coupling", PRIMAKOFF.column)

    def low_mass(self, column: str | None = None) -> float:
        """The curve's value at its lowest mass (default: the combined curve)."""
        return float(self.table[column or f"{self.coupling}_combined"][0])

    def reach_ev(self, column: str, limit: float) -> float:
        """The largest mass up to which the curve stays at or below `limit` (its unit), NaN if it starts above."""
        g = np.asarray(self.table[column], float)
        m = np.asarray(self.table["m_a"], float)
        above = np.flatnonzero(~(g <= limit))
        if above.size and above[0] == 0:
            return math.nan
        return float(m[above[0] - 1] if above.size else m[-1])


def sensitivity(
    responses,
    magnet: Magnet,
    masses_ev,
    energy_edges_kev,
    vacuum_live_time_s: float,
    schedule: GasSchedule | None,
    confidence: float = CONFIDENCE,
    whole_counts: bool = False,
    coupling: Coupling = PRIMAKOFF,
) -> SensitivityResult:
    """The expected limits on the coupling (g_agamma in GeV^-1; for the ABC flux (g_ae g_agamma)^1/2 in GeV^-1/2) at
    each mass (eV) for these bores' responses, analysed in bins of energy_edges_kev (module docstring); with no gas
    schedule the gas curve is NaN and the combined one the vacuum's.

    whole_counts: each step's data hold only the whole part of its expected background count (summed over bores),
    spread over the bins like the background, instead of the Asimov data. That is what REST's `useAverage` mock data
    do (`(Int_t) meanCounts` in TRestExperiment::GenerateMockDataSet); it makes steps with few counts look better
    than their median expectation."""
    masses = np.asarray(masses_ev, dtype=float)
    edges = np.asarray(energy_edges_kev, dtype=float)
    if masses.ndim != 1 or masses.size == 0 or not np.all(np.isfinite(masses) & (masses >= 0)):
        raise ValueError("masses_ev: need finite axion masses >= 0 eV")
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("energy_edges_kev: need rising bin edges in keV")
    if not (math.isfinite(vacuum_live_time_s) and vacuum_live_time_s > 0):
        raise ValueError(f"vacuum live time = {vacuum_live_time_s} s: must be a number > 0")
    for r in responses:
        if edges[0] < r.energy_edges_kev[0] - 1e-9 or edges[-1] > r.energy_edges_kev[-1] + 1e-9:
            raise ValueError(
                f"energy window {edges[0]:g}-{edges[-1]:g} keV: response {r.name} covers only "
                f"{r.energy_edges_kev[0]:g}-{r.energy_edges_kev[-1]:g} keV"
            )
    steps = [(0.0, vacuum_live_time_s)]
    if schedule is not None:
        steps += list(zip(schedule.density_g_cm3, schedule.live_time_s))
    counted = [_step_counts(responses, magnet, masses, density, edges, time) for density, time in steps]
    signal = np.concatenate([c[0] for c in counted], axis=1)  # mass x (step, bore) x bin
    background = np.concatenate([c[1] for c in counted])  # (step, bore) x bin
    per_step = len(responses)
    counts = background.copy()
    if whole_counts:
        step_total = background.reshape(len(steps), -1).sum(axis=1)
        counts *= np.repeat(np.floor(step_total) / step_total, per_step)[:, None]

    def limits(first: int, stop: int) -> np.ndarray:
        s = signal[:, first * per_step : stop * per_step].reshape(masses.size, -1)
        b = background[first * per_step : stop * per_step].reshape(-1)
        n = counts[first * per_step : stop * per_step].reshape(-1)
        return np.array([coupling.reference * upper_limit(row, b, n, confidence) ** 0.25 for row in s])

    vacuum = limits(0, 1)
    gas = limits(1, len(steps)) if schedule is not None else np.full(masses.size, np.nan)
    combined = limits(0, len(steps)) if schedule is not None else vacuum
    name = coupling.column
    table = Table(
        {
            "m_a": masses * u.eV,
            f"{name}_vacuum": vacuum * coupling.unit,
            f"{name}_gas": gas * coupling.unit,
            f"{name}_combined": combined * coupling.unit,
        }
    )
    vacuum_counts = signal[0, :per_step].sum(axis=1)
    data = (
        "data holding the whole part of each step's expected background count (REST's useAverage)"
        if whole_counts
        else "background-only Asimov data (the median expected limits)"
    )
    table.meta.update(
        {
            "coupling": name,
            "coupling_label": coupling.label,
            "coupling_reference": coupling.reference,
            "definition": f"expected upper limits on {coupling.label} from a binned Poisson likelihood in its fourth "
            f"power over (step, bore, energy bin), for {data}",
            "confidence": confidence,
            "magnet_field_tesla": magnet.field_tesla,
            "magnet_length_m": magnet.length_m,
            "bore_radius_mm": magnet.bore_radius_mm,
            "bores": len(responses),
            "energy_edges_kev": [float(e) for e in edges],
            "vacuum_live_time_s": vacuum_live_time_s,
            "gas_live_time_s": float(schedule.live_time_s.sum()) if schedule is not None else 0.0,
            "gas_steps": 0 if schedule is None else int(schedule.photon_mass_ev.size),
            "max_gas_mass_ev": float(schedule.photon_mass_ev[-1]) if schedule is not None else 0.0,
            "gas_step_photon_mass_ev": [] if schedule is None else [float(m) for m in schedule.photon_mass_ev],
            "gas_step_density_g_cm3": [] if schedule is None else [float(d) for d in schedule.density_g_cm3],
            "gas_step_live_time_s": [] if schedule is None else [float(t) for t in schedule.live_time_s],
            "responses": [r.name for r in responses],
            "vacuum_signal_counts_at_reference": [float(c) for c in vacuum_counts],
            "vacuum_background_counts": [float(b) for b in background[:per_step].sum(axis=1)],
        }
    )
    return SensitivityResult(table, schedule)


def vacuum_spread(
    responses,
    magnet: Magnet,
    mass_ev: float,
    energy_edges_kev,
    vacuum_live_time_s: float,
    experiments: int,
    seed: int = 0,
    confidence: float = CONFIDENCE,
    coupling: Coupling = PRIMAKOFF,
) -> dict:
    """The vacuum limit on the coupling at one mass over `experiments` background-only pseudo-experiments (Poisson
    counts in every bore and bin): their median and 16th and 84th percentiles, the spread a single data set has about
    the Asimov median."""
    signal, background = _step_counts(
        responses,
        magnet,
        np.array([float(mass_ev)]),
        0.0,
        np.asarray(energy_edges_kev, dtype=float),
        vacuum_live_time_s,
    )
    limits = (
        coupling.reference
        * pseudo_experiment_limits(signal[0].ravel(), background.ravel(), experiments, seed, confidence) ** 0.25
    )
    low, median, high = np.percentile(limits, [16, 50, 84])
    return {
        "experiments": int(experiments),
        "mass_ev": float(mass_ev),
        "median": float(median),
        "percentile_16": float(low),
        "percentile_84": float(high),
    }


def bore_limits(
    responses,
    magnet: Magnet,
    mass_ev: float,
    energy_edges_kev,
    vacuum_live_time_s: float,
    confidence: float = CONFIDENCE,
    coupling: Coupling = PRIMAKOFF,
) -> list[float]:
    """Each bore's own vacuum-phase limit on the coupling at one mass: what each optic contributes."""
    return [
        sensitivity(
            [r], magnet, [mass_ev], energy_edges_kev, vacuum_live_time_s, None, confidence, coupling=coupling
        ).low_mass(f"{coupling.column}_vacuum")
        for r in responses
    ]


def _step_counts(
    responses, magnet: Magnet, masses: np.ndarray, density: float, edges: np.ndarray, live_time_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """One step's expected counts: signal at G_REF (mass x bore x bin) and background (bore x bin)."""
    signal = np.stack([_bin_counts(r, magnet, masses, density, edges) * live_time_s for r in responses], axis=1)
    background = np.stack(
        [r.background_counts_kev_cm2_s * r.spot_area_cm2 * np.diff(edges) * live_time_s for r in responses]
    )
    return signal, background


def _bin_counts(
    response: SignalResponse, magnet: Magnet, masses: np.ndarray, density: float, edges: np.ndarray
) -> np.ndarray:
    """Signal counts per second of live time, at G_REF, per mass (rows) and analysis bin (columns): each node's
    signal goes to the bin holding its centre, or, with the detector's resolution, is spread over the bins by its
    photopeak (what falls outside the analysis window is lost)."""
    centres = 0.5 * (response.energy_edges_kev[:-1] + response.energy_edges_kev[1:])
    if response.resolution is None:
        k = np.searchsorted(edges, centres, side="right") - 1
        used = (k >= 0) & (k < edges.size - 1)
        to_bins = np.zeros((centres.size, edges.size - 1))
        to_bins[np.flatnonzero(used), k[used]] = 1.0
    else:
        to_bins = response.resolution.redistribution(centres, edges)
    return (response.mean_probability(magnet, masses, density) * response.axion_rate_s) @ to_bins


def energy_bin_edges(bins_kev) -> np.ndarray:
    """Edges (keV) of analysis bins given as (first edge, last edge, width) in keV: the last bin ends at the last
    edge."""
    first, last, width = (float(v) for v in bins_kev)
    shown = f"{first:g}:{last:g}:{width:g}"
    if not (math.isfinite(first) and math.isfinite(last) and math.isfinite(width) and 0 < width and first < last):
        raise InputError("energy_bins_kev", shown, "need first < last edge and a width > 0 (keV)")
    if not (MIN_BIN_KEV <= first and last <= MAX_BIN_KEV):
        raise InputError(
            "energy_bins_kev",
            shown,
            f"the bins must lie within {MIN_BIN_KEV:g}-{MAX_BIN_KEV:g} keV, where the solar models are traced",
        )
    count = max(1, int(round((last - first) / width)))
    if not math.isclose(first + count * width, last, rel_tol=1e-9, abs_tol=1e-9):
        raise InputError("energy_bins_kev", shown, f"{last - first:g} keV is not a whole number of {width:g} keV bins")
    return np.linspace(first, last, count + 1)


def mass_grid(spec) -> np.ndarray:
    """`count` axion masses (eV) spaced evenly in log from `first` to `last`: spec = (first, last, count)."""
    first, last, count = spec
    if not (math.isfinite(first) and math.isfinite(last) and 0 < first < last):
        raise ValueError(f"masses from {first:g} to {last:g} eV: need 0 < first < last")
    if not (float(count).is_integer() and 2 <= count <= MAX_MASSES):
        raise ValueError(f"{count:g} masses: the count must be a whole number from 2 to {MAX_MASSES}")
    return np.geomspace(first, last, int(count))


def ksvz_coupling_per_gev(mass_ev) -> np.ndarray:
    """g_agamma of the KSVZ axion (E/N = 0) at mass m_a: alpha / (2 pi f_a) x 1.92, with m_a f_a = 5.691 ueV x
    1e12 GeV (Gorghetto and Villadoro, JHEP 03 (2019) 033; C_agamma = 1.92: Grilli di Cortona et al., JHEP 01 (2016)
    034)."""
    alpha = 7.2973525693e-3
    f_a_gev = 5.691e-6 * 1e12 / np.asarray(mass_ev, dtype=float)
    return alpha / (2.0 * math.pi * f_a_gev) * 1.92


# The simplified BabyIAXO of Armengaud et al. (JCAP 06 (2019) 047, table 1) as REST's example sets it up
# (rest-for-physics/axionlib, examples/03.IAXO/BabyIAXO.rml): two bores of 70 cm, B = 1.73 T, L = 10 m, optics
# efficiency 0.35 and detector efficiency 0.7 at all energies, all the focused flux in a spot of radius 0.309 cm per
# bore, b = 1e-7 counts keV^-1 cm^-2 s^-1, 0-10 keV in 20 bins, 12 h of tracking a day, -2 Delta ln L = 4.
# The vacuum curve has 1.5 years of 365 days; the combined one 1.5 years of 300 days in vacuum plus 1.5 years of
# 365 days of gas steps up to 0.25 eV (the first five sharing 0.5 years).
REST2019_MAGNET = Magnet(field_tesla=1.73, length_m=10.0, bore_radius_mm=350.0, bores=2)
REST2019_EFFICIENCY = 0.35 * 0.7
REST2019_SPOT_CM2 = math.pi * 0.309**2
REST2019_BACKGROUND = 1e-7
REST2019_EDGES_KEV = np.linspace(0.0, 10.0, 21)
REST2019_DAY_S = 12 * 3600.0
REST2019_CONFIDENCE = float(norm.cdf(2.0))  # one-sided: the limit where -2 Delta ln L = 4


def rest2019(masses_ev, model, pseudo_experiments: int = 0) -> SensitivityResult:
    """REST's published BabyIAXO curves from their simplified inputs (above) and the solar `model` (Hoof 2022 for
    theirs): the vacuum curve, and the gas and combined curves of their combined run; with pseudo_experiments,
    the spread of the vacuum limit at the lowest mass (`vacuum_spread`)."""
    magnet = REST2019_MAGNET
    bore = constant_response(
        model,
        REST2019_EDGES_KEV,
        magnet.bore_area_cm2,
        REST2019_EFFICIENCY,
        REST2019_SPOT_CM2,
        REST2019_BACKGROUND,
        "rest2019 bore",
    )
    bores = [bore] * magnet.bores
    vacuum = sensitivity(
        bores,
        magnet,
        masses_ev,
        REST2019_EDGES_KEV,
        1.5 * 365 * REST2019_DAY_S,
        None,
        REST2019_CONFIDENCE,
        whole_counts=True,
    )
    schedule = gas_schedule(bores, magnet, 1.5 * 365 * REST2019_DAY_S, MAX_GAS_MASS_EV, FIRST_STEPS, FIRST_SHARE)
    combined = sensitivity(
        bores,
        magnet,
        masses_ev,
        REST2019_EDGES_KEV,
        1.5 * 300 * REST2019_DAY_S,
        schedule,
        REST2019_CONFIDENCE,
        whole_counts=True,
    )
    combined.table["g_agamma_vacuum"] = vacuum.table["g_agamma_vacuum"]
    combined.meta.update(
        {
            key: vacuum.meta[key]
            for key in ("vacuum_live_time_s", "vacuum_signal_counts_at_reference", "vacuum_background_counts")
        }
    )
    combined.meta.update(preset="rest2019", combined_vacuum_live_time_s=1.5 * 300 * REST2019_DAY_S)
    if pseudo_experiments:
        combined.meta["vacuum_pseudo_experiments"] = vacuum_spread(
            bores,
            magnet,
            float(np.min(masses_ev)),
            REST2019_EDGES_KEV,
            1.5 * 365 * REST2019_DAY_S,
            pseudo_experiments,
            0,
            REST2019_CONFIDENCE,
        )
    return combined


REFERENCE_FILES = {  # in ../shared/reference/axion/sensitivity (its PROVENANCE.md), per member of the IAXO family
    "babyiaxo": {
        "REST_BabyIAXO_Vacuum.csv": "REST, BabyIAXO vacuum (2019 inputs)",
        "REST_BabyIAXO_Combined.csv": "REST, BabyIAXO vacuum + gas (2019 inputs)",
        "axionlimits_BabyIAXO_miniIAXO.dat": "BabyIAXO (iaxo/axion-limits)",
    },
    "iaxo": {
        "REST_IAXO_Vacuum.csv": "REST, IAXO vacuum (2019 inputs)",
        "REST_IAXO_Combined.csv": "REST, IAXO vacuum + gas (2019 inputs)",
        "axionlimits_IAXO_nominal.txt": "IAXO (iaxo/axion-limits, LoI 'enhanced')",
    },
    "iaxoplus": {
        "REST_IAXOPlus_Vacuum.csv": "REST, IAXO+ vacuum (2019 inputs)",
        "REST_IAXOPlus_Combined.csv": "REST, IAXO+ vacuum + gas (2019 inputs)",
        "axionlimits_IAXO_plus.txt": "IAXO+ (iaxo/axion-limits)",
    },
}


def reference_curves(folder, member: str = "babyiaxo") -> dict:
    """The published curves of a member of the IAXO family ('babyiaxo', 'iaxo', 'iaxoplus') found in `folder` (none
    if it is None or absent): {label: (m_a eV, g GeV^-1)}."""
    from pathlib import Path

    curves = {}
    if folder is None or not Path(folder).is_dir():
        return curves
    for name, label in REFERENCE_FILES[member].items():
        path = Path(folder) / name
        if path.is_file():
            data = np.loadtxt(path, comments="#")
            keep = data[:, 0] > 1e-10  # axion-limits starts its curves with points at 1e-15 eV, for drawing
            curves[label] = (data[keep, 0], data[keep, 1])
    return curves
