"""The focused solar-axion image: its spot, the figures of merit (`raytrace.helioscope.merit`), the signal
inside the detector's opening and the expected counts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import Table

from geometries import Optic

from ..analysis.encircled import (
    PILOT_RAYS,
    FocusedImage,
    check_focused,
    encircled_table,
    focused_centroid,
    radial_edges_mm,
)
from ..engine import DEFAULT_CHUNK_SIZE, Fate, Trace, check_ray_count
from ..engine.rng import seed_key
from ..sources import SolarSource
from .detector import Detector
from .merit import (
    Exposure,
    FiguresOfMerit,
    Magnet,
    circle_overlap_cm2,
    detector_weights,
    expected_counts,
    figures_of_merit,
    signal_counts_per_cm2,
    spectrum_mean,
)

IMAGE_PIXEL_MM = 0.1
IMAGE_PIXELS = 400


@dataclass
class SpotResult:
    """The figures of merit, the share of the detected signal inside the detector's opening, the expected counts,
    the image of the detected signal (cm2 per pixel of `pixel_mm`, about `centroid_mm`), its encircled table, and
    the detected signal inside the spot per energy bin of the source (`energy_edges_kev`): `spot_signal_cm2`, the
    spectrum-weighted effective area x eps_D for photons of that bin landing in the spot, which sums to
    <A_eff eps_D eta_D> (so the bin's share of the band's flux times its A_eff eps_D eta_D); `spot_area_cm2`, the
    same for the photons that also land on the detector's opening (the strongback around it is opaque), divided by
    the bin's share of the flux: A_eff(E) eps_D(E) eta_D(E), the spot's ARF (`raytrace.helioscope.response`), which
    folds with the flux to `detectable_signal_counts`. `signal_counts` and f_DO count the whole spot
    (docs/physics/conventions.md), `opening_fraction` the share of the detected signal on the opening."""

    figures: FiguresOfMerit
    centroid_mm: tuple[float, float]
    opening_fraction: float
    signal_counts: float
    background_counts: float
    image: np.ndarray
    pixel_mm: float
    encircled: Table
    energy_edges_kev: np.ndarray
    spot_signal_cm2: np.ndarray
    counts_per_cm2: float  # expected signal counts per cm2 of detected effective area (T x Phi_band(g) x P)
    detectable_signal_counts: float  # the expected signal in the spot and on the detector's opening
    detectable_signal_cm2: np.ndarray  # as spot_signal_cm2, for the photons also on the opening (the sensitivity's)
    detectable_area_cm2: float  # the spot's circle cut by the opening's: the area whose background counts
    spot_area_cm2: np.ndarray  # per bin of energy_edges_kev: the spot's ARF (the class docstring)
    spot_area_error_cm2: np.ndarray  # its statistical error (1 sigma) in each bin
    detector: Detector
    cube: np.ndarray | None = None  # detected signal (cm2) per energy bin of `cube_edges_kev` and image pixel
    cube_edges_kev: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def f_do(self) -> float:
        return self.figures.f_do

    @property
    def radius_mm(self) -> float:
        return self.figures.spot.radius_mm

    @property
    def area_cm2(self) -> float:
        return self.figures.spot.area_cm2

    @property
    def eta_d(self) -> float:
        return self.figures.spot.fraction

    def summary(self) -> dict:
        out = self.figures.summary()
        out.update(
            {
                "opening_fraction": self.opening_fraction,
                "signal_counts": self.signal_counts,
                "detectable_signal_counts": self.detectable_signal_counts,
                "background_counts": self.background_counts,
            }
        )
        out["centroid_x_mm"], out["centroid_y_mm"] = (float(v) for v in self.centroid_mm)
        return out


def cube_energy_edges(source: SolarSource, bin_kev: float) -> np.ndarray:
    """Edges (keV) of the signal cube's energy bins: `bin_kev` wide from the band's lower edge, whole numbers of the
    source's own bins (whose centres rays are traced at), the last ending at the band's upper edge."""
    nodes = source.energy_edges()
    width = nodes[1] - nodes[0]
    if not (math.isfinite(bin_kev) and bin_kev > 0):
        raise ValueError(f"cube energy bin = {bin_kev} keV: must be a number > 0")
    per_bin = max(1, int(round(bin_kev / width)))
    if abs(per_bin * width - bin_kev) > 1e-9 * bin_kev:
        raise ValueError(
            f"cube energy bin = {bin_kev:g} keV: must be a whole number of the source's {width:g} keV bins"
        )
    return np.append(nodes[:-1:per_bin], nodes[-1])


def solar_spot(
    optic: Optic,
    source: SolarSource,
    detector: Detector,
    n_rays: int = 1_000_000,
    seed: int = 0,
    focal_plane_z_mm: float = 0.0,
    magnet: Magnet = Magnet(),
    exposure: Exposure = Exposure(),
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress=None,
    on_chunk=None,
    cube_bin_kev: float | None = None,
) -> SpotResult:
    """Trace the solar-axion source through the optic to the plane z = focal_plane_z_mm and score the image;
    `on_chunk` (e.g. a photon list) is called with each traced chunk (weights before the detector). With
    `cube_bin_kev`, the image is also kept per energy bin of that width (keV, from the band's lower edge; the
    last bin ends at the band's upper edge): `cube`."""
    check_ray_count(n_rays)
    trace = Trace(optic, source, focal_plane_z_mm)
    table = trace.reflectivity_table()
    detected = detector_weights(detector, source.energy_nodes())

    pilot = trace.trace_range(seed_key(seed), 0, min(n_rays, PILOT_RAYS), n_rays, table=table)
    centre_o = focused_centroid(pilot) or (0.0, 0.0)
    centre_d = focused_centroid(pilot, detected(pilot.weight, pilot.energy_kev)) or (0.0, 0.0)
    optics_only = FocusedImage(centre_o, IMAGE_PIXEL_MM, 1, min(chunk_size, n_rays))
    cube_edges = None if cube_bin_kev is None else cube_energy_edges(source, cube_bin_kev)
    after_detector = FocusedImage(
        centre_d,
        IMAGE_PIXEL_MM,
        IMAGE_PIXELS,
        min(chunk_size, n_rays),
        source.energy_nodes(),
        None if cube_edges is None else np.searchsorted(cube_edges, source.energy_nodes()) - 1,
    )
    opening_r2 = (0.5 * detector.opening_diameter_mm) ** 2
    # the detected signal on the detector's opening (the strongback around it is opaque), and its squared weights
    # for the statistical error of the spot's ARF in each energy bin (a compound-Poisson sum: variance sum w^2)
    on_opening, on_opening_squared = (
        FocusedImage(centre_d, IMAGE_PIXEL_MM, 1, min(chunk_size, n_rays), source.energy_nodes()) for _ in range(2)
    )
    run = trace.run(n_rays, seed, chunk_size, table, progress, on_chunk)
    for rays in run:
        optics_only.add(rays)
        weight = detected(rays.weight, rays.energy_kev)
        after_detector.add(rays, weight)
        weight_on_opening = np.where(rays.x**2 + rays.y**2 < opening_r2, weight, 0.0)
        on_opening.add(rays, weight_on_opening)
        on_opening_squared.add(rays, weight_on_opening**2)
    if after_detector.total <= 0:
        raise ValueError(f"{optic.name}: no solar-axion photon reaches the focal plane")
    check_focused(int(run.fates[Fate.DOUBLE]), f"{optic.name}: solar spot and figures of merit")

    b = detector.background_counts_kev_cm2_s
    figures = figures_of_merit(
        optics_only.radial, after_detector.radial, magnet, b, spectrum_mean(source, detector.efficiency)
    )
    signal, background = expected_counts(figures, source, magnet, b, exposure)
    spot_bins = int(np.searchsorted(radial_edges_mm()[1:], figures.spot.radius_mm)) + 1  # best_spot's bins
    spot_signal = after_detector.radial_by_node[:, :spot_bins].sum(axis=1)
    detectable = on_opening.radial_by_node[:, :spot_bins].sum(axis=1)
    detectable_error = np.sqrt(on_opening_squared.radial_by_node[:, :spot_bins].sum(axis=1))
    edges = source.energy_edges()
    flux_share = np.array([source.model.flux(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]) / source.band_flux()
    counts_per_cm2 = signal_counts_per_cm2(source, magnet, exposure)
    meta = trace.metadata(
        n_rays,
        seed,
        run.fates,
        detector=detector.name,
        background_counts_kev_cm2_s=b,
        opening_diameter_mm=detector.opening_diameter_mm,
        magnet_field_tesla=magnet.field_tesla,
        magnet_length_m=magnet.length_m,
        bore_area_cm2=magnet.bore_area_cm2,
        g_agamma_per_gev=exposure.g_agamma_per_gev,
        exposure_s=exposure.exposure_s,
        efficiency=exposure.efficiency,
        image_centre_x_mm=float(centre_d[0]),
        image_centre_y_mm=float(centre_d[1]),
        definitions="f_DO = <eps_D eps_O eta_D> / sqrt(b a), a and eta_D the signal-to-noise optimal "
        "spot of the detected signal; f_O = <eps_O eta_O> / sqrt(a_O) with the optics' own "
        "spot; f_D = <eps_D> / sqrt(b)",
    )
    result = SpotResult(
        figures=figures,
        centroid_mm=after_detector.centroid_mm(),
        opening_fraction=on_opening.total / after_detector.total,
        signal_counts=signal,
        background_counts=background,
        image=after_detector.image,
        pixel_mm=IMAGE_PIXEL_MM,
        encircled=encircled_table(after_detector.cumulative_fraction(), radial_edges_mm(), 1.0, u.mm),
        energy_edges_kev=edges,
        spot_signal_cm2=spot_signal,
        counts_per_cm2=counts_per_cm2,
        detectable_signal_counts=counts_per_cm2 * float(detectable.sum()),
        detectable_signal_cm2=detectable,
        detectable_area_cm2=circle_overlap_cm2(
            figures.spot.radius_mm, 0.5 * detector.opening_diameter_mm, math.hypot(*after_detector.centroid_mm())
        ),
        spot_area_cm2=detectable / flux_share,
        spot_area_error_cm2=detectable_error / flux_share,
        detector=detector,
        cube=after_detector.cube,
        cube_edges_kev=cube_edges,
        meta=meta,
    )
    result.encircled.meta.update(meta | result.summary())
    return result
