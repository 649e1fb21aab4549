"""The user-level functions, with the command line's defaults (the CLI calls these).

Each takes an optic as an `geometries.Optic`, a shipped name ('xmm', 'babyiaxo') or a prescription path
(.ecsv shell table, .toml design); quantities as astropy Quantities or as floats in the unit their name
ends with (`energy_kev`, `off_axis_arcmin`, ...). Results are astropy Tables with units and provenance
metadata, or small result objects with a `summary()` and tables of their own.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
from astropy.table import Table, vstack

from coatings import Stack, check_energies, load_recipe
from geometries import Optic, is_optic, load_design, load_optic
from geometries.generator import SegmentedDesign

from . import analysis
from . import defaults
from .defaults import MATERIALS, PSD_BAND_PER_UM, RAYS, RAYS_PER_POINT, SOLAR_MODEL, SPOT_FOCUS_KEV
from .engine import Trace
from .engine.geometry import PackedOptic
from .engine.rng import seed_key
from .helioscope import tolerance
from .helioscope.detector import Detector, load_detector
from .helioscope.merit import Exposure, Magnet, load_magnet
from .output.photons import open_photon_list
from .sources import ParallelBeam, PointSource
from .version import __version__

# The modules that load scipy's statistics, optimisers or special functions (the sensitivity, the optimiser, the
# calibration, the solar models and the solar spot) are imported by the functions that use them: an area or PSF run
# does not wait about 1 s for them.
if TYPE_CHECKING:
    from .analysis import Calibration, PsfFit, PsfResult
    from .helioscope.optimise import ScanResult
    from .helioscope.sensitivity import SensitivityResult
    from .helioscope.spot import SpotResult
    from .sources import SolarSource


def load(optic: Optic | str | os.PathLike, apertures=()) -> Optic:
    """An optic given as an Optic, a shipped name ('xmm', 'babyiaxo') or a prescription file (.ecsv, .toml), with
    these entrance apertures added to its own (texts such as 'circle:21.5@200,0', 'annulus:100:200',
    'sector:0:30', or geometries apertures)."""
    optic = optic if isinstance(optic, Optic) else load_optic(optic)
    return optic.with_apertures(apertures) if apertures else optic


def effective_area(optic, energies_kev, *, off_axis_arcmin=0.0, azimuth_deg=0.0, source_distance_m=math.inf,
                   source_size_mm=0.0, rays: int = RAYS, seed: int = 0, events=None, events_frame: str = "optic",
                   events_all: bool = False, entrance=None, progress=None) -> Table:
    """Effective area (cm2) of the focused beam at each energy (keV): columns energy, effective_area,
    effective_area_err. The source lies off_axis_arcmin from the axis, at infinity (a parallel beam) or
    source_distance_m from the intersection plane (a point source, or a disc of radius source_size_mm).
    `events`: a .fits or .mcpl path for the photon list of every ray reaching the focal plane (one energy), in the
    frame `events_frame` ('optic', photons along -z, or 'beam', along +z: `raytrace.output.photons`); with
    `events_all` (or an `entrance` list) of every ray, where it reached the focal plane or stopped, in order.
    `entrance`: a .fits or .mcpl path for the list of every ray as it entered the optic, with its fate, in order:
    row k of both lists is ray k."""
    optic = load(optic)
    source = make_source(off_axis_arcmin, azimuth_deg, source_distance_m, source_size_mm)
    energies = check_energies(_values(energies_kev, u.keV))
    with _photon_list(events, events_frame, optic, source.at_energy(float(energies[0])), rays, seed, events_all,
                      entrance) as on_chunk:
        return analysis.effective_area(optic, energies, source, rays, seed, progress=progress, on_chunk=on_chunk)


def psf(optic, energy_kev, *, off_axis_arcmin=0.0, azimuth_deg=0.0, source_distance_m=math.inf, source_size_mm=0.0,
        rays: int = RAYS, seed: int = 0, focal_plane_z_mm="best", pixel_arcsec=None, pixels: int = 256, events=None,
        events_frame: str = "optic", events_all: bool = False, entrance=None, progress=None) -> PsfResult:
    """HPD, W80, W90 (arcsec), centroid (mm), focused area (cm2), encircled energy and image at one energy (keV),
    in the plane focal_plane_z_mm (mm on the axis, 0 the nominal focus; default 'best': the best focus). The
    source as in `effective_area`; for a finite distance, angles are referred to the image distance. The image has
    pixels x pixels pixels of pixel_arcsec (default: the smallest of 0.5, 1, 2, 5, ... arcsec that holds 99 % of the
    focused flux).
    `events`, `events_frame`, `events_all`, `entrance`: photon lists, as in `effective_area`."""
    optic = load(optic)
    z = focal_plane_z_mm if focal_plane_z_mm == "best" else _value(focal_plane_z_mm, u.mm)
    energy = float(check_energies([_value(energy_kev, u.keV)])[0])
    source = make_source(off_axis_arcmin, azimuth_deg, source_distance_m, source_size_mm)
    with _photon_list(events, events_frame, optic, source.at_energy(energy), rays, seed, events_all,
                      entrance) as on_chunk:
        return analysis.psf(optic, energy, source, rays, seed, focal_plane_z_mm=z,
                            pixel_arcsec=None if pixel_arcsec is None else _value(pixel_arcsec, u.arcsec),
                            image_pixels=pixels, progress=progress, on_chunk=on_chunk)


def psf_library(optic, energies_kev, off_axis_arcmin, azimuth_deg=0.0, *, source_distance_m=math.inf,
                source_size_mm=0.0, rays: int = RAYS_PER_POINT, seed: int = 0, focal_plane_z_mm="best",
                pixel_arcsec=None, pixels: int = 256, progress=None) -> list[PsfResult]:
    """`psf` at every energy (keV) x off-axis angle (arcmin) x azimuth (deg), energy varying slowest, all in one focal
    plane (mm on the axis; default 'best': the best focus on axis at the lowest energy): the images of a PSF library
    (`write_psf`). `progress(n)` is told of each image done."""
    optic = load(optic)
    energies = np.unique(check_energies(_values(energies_kev, u.keV)))  # each grid point once, as a library holds it
    angles, azimuths = np.unique(_values(off_axis_arcmin, u.arcmin)), np.unique(_values(azimuth_deg, u.deg) % 360.0)
    if focal_plane_z_mm == "best":
        focal_plane_z_mm = best_focus(optic, energies[0], source_distance_m=source_distance_m,
                                      source_size_mm=source_size_mm, rays=rays, seed=seed)
    results = []
    for energy in energies:
        for angle in angles:
            for azimuth in azimuths:
                results.append(psf(optic, energy, off_axis_arcmin=angle, azimuth_deg=azimuth,
                                   source_distance_m=source_distance_m, source_size_mm=source_size_mm, rays=rays,
                                   seed=seed, focal_plane_z_mm=focal_plane_z_mm, pixel_arcsec=pixel_arcsec,
                                   pixels=pixels))
                if progress is not None:
                    progress(1)
    return results


def best_focus(optic, energy_kev, *, off_axis_arcmin=0.0, azimuth_deg=0.0, source_distance_m=math.inf,
               source_size_mm=0.0, rays: int = RAYS_PER_POINT, seed: int = 0) -> float:
    """The plane (z in mm) where the HPD of the optic without slope errors is smallest at this energy (keV)."""
    source = make_source(off_axis_arcmin, azimuth_deg, source_distance_m, source_size_mm)
    return analysis.best_focus_z_mm(load(optic), source.at_energy(_value(energy_kev, u.keV)), rays, seed)


def vignetting(optic, off_axis_arcmin, energy_kev, *, azimuth_deg=0.0, source_distance_m=math.inf,
               source_size_mm=0.0, rays: int = RAYS_PER_POINT, seed: int = 0) -> Table:
    """Effective area (cm2) at one energy (keV) versus off-axis angle (arcmin), and relative to on axis."""
    return analysis.vignetting(load(optic), _values(off_axis_arcmin, u.arcmin), _value(energy_kev, u.keV),
                               _value(azimuth_deg, u.deg), rays, seed,
                               source=make_source(0.0, 0.0, source_distance_m, source_size_mm))


def offaxis_response(optic, energies_kev, off_axis_arcmin, *, azimuth_deg=0.0, source_distance_m=math.inf,
                     source_size_mm=0.0, rays: int = RAYS_PER_POINT, seed: int = 0, progress=None) -> Table:
    """Effective area (cm2) over energy (keV) x off-axis angle (arcmin) x azimuth (deg), with `vignet` relative to
    on axis: one geometric trace per direction (write it with `write_vignetting` for OGIP/CALDB users)."""
    return analysis.offaxis_response(load(optic), _values(energies_kev, u.keV), _values(off_axis_arcmin, u.arcmin),
                                     _values(azimuth_deg, u.deg), rays, seed,
                                     source=make_source(0.0, 0.0, source_distance_m, source_size_mm), progress=progress)


def reflectivity(recipe, energies_kev, angles_mrad=None, *, roughness_nm=None,
                 polarisation: str = "unpolarised") -> Table:
    """R versus energy (keV) and graze angle (mrad) of a coating: a shipped recipe name, a recipe .toml, a Stack,
    or an optic (each of its coatings, in a `coating` column; default angles: 0.5-1.5 x its graze angles)."""
    optic = None
    if isinstance(recipe, Optic) or (isinstance(recipe, (str, Path)) and is_optic(recipe)):
        optic = load(recipe)
    if optic is None:
        stacks = [recipe if isinstance(recipe, Stack) else load_recipe(recipe)]
        if angles_mrad is None:
            raise ValueError("angles_mrad: required for a coating recipe (graze angles in mrad)")
    else:
        stacks = [c for i, c in enumerate(optic.coatings) if c not in optic.coatings[:i] and isinstance(c, Stack)]
        if not stacks:
            raise ValueError(f"optic {optic.name!r} has no coating recipe (only constant reflectivities)")
    if angles_mrad is None:
        graze = optic.graze_angles_rad() * 1e3
        angles = np.linspace(0.5 * graze.min(), 1.5 * graze.max(), 60)
    else:
        angles = _values(angles_mrad, u.mrad)
    if roughness_nm is not None:
        stacks = [stack.with_roughness(_value(roughness_nm, u.nm)) for stack in stacks]
    energies = _values(energies_kev, u.keV)
    tables = [analysis.reflectivity_curves(stack, energies, angles, polarisation) for stack in stacks]
    if optic is None:
        return tables[0]
    for table in tables:
        table["coating"] = table.meta["recipe"]
    table = vstack(tables, metadata_conflicts="silent") if len(tables) > 1 else tables[0]
    graze = optic.graze_angles_rad() * 1e3
    table.meta.update({"recipe": ", ".join(t.meta["recipe"] for t in tables), "optic": optic.name,
                       "on_axis_graze_mrad": {stack.name: [float(graze[k].min()), float(graze[k].max())] for stack in
                                              stacks for k in [[c == stack for c in optic.coatings]]}})
    return table


def solar_source(model: str | None = None, band_kev=None, date: str | None = None, offset_arcmin=0.0,
                 offset_azimuth_deg=0.0, magnet: Magnet | None = Magnet(), flux: str = "primakoff") -> SolarSource:
    """Solar axions: the production `flux` ('primakoff', set by g_agamma, with its model: hoof2022 by default,
    giannotti2019 or cast2007; or 'abc', set by g_ae: the Hoof et al. 2022 table, `raytrace.sources.abc`), the energy
    band (keV; default 1-10 keV, for ABC 0.5-10 keV), the Earth-Sun distance of an ISO date (default 1 AU), a
    pointing offset of the Sun from the optical axis, and the magnet whose bore they convert in (default BabyIAXO's;
    None: photons from anywhere above the optic)."""
    from .sources.solar import MODELS, SolarSource, earth_sun_distance_au

    if flux not in defaults.FLUXES:
        raise ValueError(f"flux {flux!r}: choose from {', '.join(defaults.FLUXES)}")
    if flux == "abc":
        from .sources.abc import abc_model

        if model is not None:
            raise ValueError(f"solar model {model!r}: the ABC flux has one model (Hoof et al. 2022); give no model")
        chosen = abc_model()
    else:
        model = SOLAR_MODEL if model is None else model
        if model not in MODELS:
            raise ValueError(f"solar model {model!r}: choose from {', '.join(sorted(MODELS))}")
        chosen = MODELS[model]
    band_kev = (defaults.ABC_BAND_KEV if flux == "abc" else (1.0, 10.0)) if band_kev is None else band_kev
    e_min, e_max = _values(band_kev, u.keV)
    distance = earth_sun_distance_au(date) if date else 1.0
    return SolarSource(chosen, float(e_min), float(e_max), distance, _value(offset_arcmin, u.arcmin, u.rad),
                       _value(offset_azimuth_deg, u.deg, u.rad), None if magnet is None else magnet.bore())


def solar_spot(optic, *, source: SolarSource | None = None, detector: Detector | str | None = None,
               magnet: Magnet = Magnet(), exposure: Exposure = Exposure(), rays: int = RAYS, seed: int = 0,
               focal_plane_z_mm="best", events=None, events_frame: str = "optic", events_all: bool = False,
               entrance=None, cube_bin_kev=None, progress=None) -> SpotResult:
    """The focused solar-axion image, its spot, f_O, f_D, f_DO and the expected counts (docs/physics/conventions.md).

    Default source: `solar_source(magnet=magnet)` (photons converted in the magnet's bore); default detector: the
    BabyIAXO Micromegas (or a detector .toml path); default focal plane: the best focus of an on-axis beam at 4 keV.
    `events`, `events_frame`, `events_all`, `entrance`: photon lists, as in `effective_area`. `cube_bin_kev`: also
    keep the detected image per energy bin of this width (keV), the signal cube (`write_signal_cube`)."""
    from .helioscope import spot

    optic = load(optic)
    if focal_plane_z_mm == "best":
        focal_plane_z_mm = best_focus(optic, SPOT_FOCUS_KEV, rays=min(rays, RAYS_PER_POINT), seed=seed)
    source = source or solar_source(magnet=magnet)
    with _photon_list(events, events_frame, optic, source, rays, seed, events_all, entrance) as on_chunk:
        return spot.solar_spot(optic, source, _detector(detector), rays, seed, _value(focal_plane_z_mm, u.mm), magnet,
                               exposure, progress=progress, on_chunk=on_chunk,
                               cube_bin_kev=None if cube_bin_kev is None else _value(cube_bin_kev, u.keV))


def sensitivity(optics=defaults.SENSITIVITY_OPTICS, *, detector: Detector | str | None = None,
                magnet: Magnet | str | None = None, vacuum_years: float = defaults.VACUUM_YEARS,
                gas_years: float = defaults.GAS_YEARS, tracking: float = defaults.TRACKING,
                energy_bins_kev=None, masses_ev=None, solar_model: str | None = None,
                max_gas_mass_ev: float = defaults.MAX_GAS_MASS_EV, confidence: float = defaults.CONFIDENCE,
                pseudo_experiments: int = 0, rays: int = RAYS, seed: int = 0, coupling: str = "gagamma",
                progress=None) -> SensitivityResult:
    """The projected sensitivity versus m_a of a helioscope whose bores hold these optics (one per bore, or one for
    all), each traced with `rays` solar-axion rays through its bore to the default or given detector; the magnet a
    `Magnet`, a magnet .toml or None (BabyIAXO). `coupling`: 'gagamma' (g_agamma in GeV^-1 from the Primakoff flux
    of `solar_model`, default hoof2022) or 'gae' ((g_ae g_agamma)^1/2 in GeV^-1/2 from the ABC flux alone, whose
    photons convert with g_agamma). Each phase (vacuum, then 4He steps up to max_gas_mass_ev; gas_years = 0: none)
    lasts its years, of which `tracking` is spent on the Sun. energy_bins_kev: (first edge, last edge, width) in keV
    (default 1-10 keV in 0.5 keV bins, for 'gae' 0.5-10 keV); masses_ev: the masses (default 300 log-spaced from 1e-3
    to 1 eV); pseudo_experiments: that many background-only data sets give the spread of the vacuum limit at the
    lowest mass (meta). `progress(n)` is told of traced rays. Method: `raytrace.helioscope.sensitivity`."""
    from .helioscope import sensitivity as reach
    from .helioscope import spot

    magnet = magnet if isinstance(magnet, Magnet) else load_magnet(magnet)
    optics = [optics] if isinstance(optics, (str, os.PathLike, Optic)) else list(optics)
    loaded = {}  # every optic before any trace, each one named once: an optic in several bores is traced once
    for optic in optics:
        if _optic_key(optic) not in loaded:
            loaded[_optic_key(optic)] = load(optic)
    optics = [loaded[_optic_key(optic)] for optic in optics]
    if len(optics) == 1:
        optics = optics * magnet.bores
    if len(optics) != magnet.bores:
        raise ValueError(f"optics: {len(optics)} given for a magnet of {magnet.bores} bores (give one per bore, or one)")
    if coupling not in reach.COUPLINGS:
        raise ValueError(f"coupling {coupling!r}: choose from {', '.join(reach.COUPLINGS)}")
    abc = coupling == "gae"
    if energy_bins_kev is None:
        energy_bins_kev = defaults.ABC_SENSITIVITY_BINS_KEV if abc else defaults.SENSITIVITY_BINS_KEV
    edges = reach.energy_bin_edges(_values(energy_bins_kev, u.keV))
    masses = reach.mass_grid(defaults.MASSES_EV) if masses_ev is None else np.asarray(_values(masses_ev, u.eV), float)
    for name, value, low in (("vacuum_years", vacuum_years, 0.0), ("gas_years", gas_years, 0.0)):
        if not (math.isfinite(value) and value >= low):
            raise ValueError(f"{name} = {value}: must be a number >= 0")
    if not vacuum_years > 0:
        raise ValueError(f"vacuum_years = {vacuum_years}: must be > 0")
    if not 0 < tracking <= 1:
        raise ValueError(f"tracking = {tracking}: the share of time tracking the Sun must lie in (0, 1]")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence}: must lie between 0 and 1")
    if gas_years > 0:
        reach.check_max_gas_mass(max_gas_mass_ev)
    detector = _detector(detector)
    source = solar_source(solar_model, (edges[0], edges[-1]), magnet=magnet, flux="abc" if abc else "primakoff")
    limits_on = reach.COUPLINGS[coupling]
    responses, spots, traced = [], [], {}
    for k, optic in enumerate(optics, start=1):
        if id(optic) not in traced:  # the same optic in several bores is traced once
            focus = best_focus(optic, SPOT_FOCUS_KEV, rays=min(rays, RAYS_PER_POINT), seed=seed)
            traced[id(optic)] = spot.solar_spot(optic, source, detector, rays, seed, focus, magnet, progress=progress)
        spots.append(traced[id(optic)])
        responses.append(reach.traced_response(spots[-1], source, f"bore {k}: {optic.name}"))
    outside = [s.meta["fates"]["not_from_bore"] / s.meta["rays"] for s in spots]
    reach_mm = [float(PackedOptic.from_optic(o).front_r.max()) for o in optics]  # the outermost mirror's entrance
    year = reach.YEAR_S * tracking
    schedule = (reach.gas_schedule(responses, magnet, gas_years * year, max_gas_mass_ev,
                                   energy_kev=limits_on.step_energy_kev) if gas_years > 0 else None)
    result = reach.sensitivity(responses, magnet, masses, edges, vacuum_years * year, schedule, confidence,
                               coupling=limits_on)
    result.spots = spots
    bores = reach.bore_limits(responses, magnet, float(masses[0]), edges, vacuum_years * year, confidence, limits_on)
    if pseudo_experiments:
        result.meta["vacuum_pseudo_experiments"] = reach.vacuum_spread(
            responses, magnet, float(masses[0]), edges, vacuum_years * year, pseudo_experiments, seed, confidence,
            limits_on)
    result.meta.update(solar_model=source.model.name, detector=detector.name, vacuum_years=vacuum_years,
                       gas_years=gas_years, tracking=tracking, rays_per_bore=int(rays), seed=int(seed),
                       raytrace_version=__version__, bore_vacuum_low_mass=bores,
                       bore_rays_outside=outside, optic_entrance_radius_mm=reach_mm,
                       bores_traced=[s.meta for s in spots])
    return result


def _optic_key(optic):
    """What identifies an optic given to `sensitivity`: its name or path, or the Optic object itself."""
    return str(optic) if isinstance(optic, (str, os.PathLike)) else id(optic)


def preset_sensitivity(preset: str, *, masses_ev=None, coupling: str = "gagamma", solar_model: str | None = None,
                       confidence: float = defaults.CONFIDENCE, pseudo_experiments: int = 0, rays: int = RAYS,
                       seed: int = 0, progress=None) -> SensitivityResult:
    """`sensitivity` of a member of the IAXO family ('babyiaxo', 'iaxo', 'iaxoplus': `raytrace.helioscope.presets`),
    its magnet, detector, schedule and optics those of the preset."""
    from .helioscope.presets import load_preset

    chosen = load_preset(preset)
    result = sensitivity(list(chosen.optics), detector=chosen.detector, magnet=chosen.magnet,
                         vacuum_years=chosen.vacuum_years, gas_years=chosen.gas_years, tracking=chosen.tracking,
                         max_gas_mass_ev=chosen.max_gas_mass_ev, masses_ev=masses_ev, coupling=coupling,
                         solar_model=solar_model, confidence=confidence, pseudo_experiments=pseudo_experiments,
                         rays=rays, seed=seed, progress=progress)
    result.meta.update(preset=chosen.name, preset_description=chosen.description)
    return result


def rest2019_sensitivity(masses_ev=None, solar_model: str = SOLAR_MODEL,
                         pseudo_experiments: int = 0) -> SensitivityResult:
    """REST's published BabyIAXO curves from the simplified inputs behind them (constant efficiencies, all flux in
    the spot; `raytrace.helioscope.sensitivity.rest2019`), for comparison with the traced optics."""
    from .helioscope import sensitivity as reach
    from .sources.solar import MODELS

    if solar_model not in MODELS:
        raise ValueError(f"solar model {solar_model!r}: choose from {', '.join(sorted(MODELS))}")
    masses = reach.mass_grid(defaults.MASSES_EV) if masses_ev is None else np.asarray(_values(masses_ev, u.eV), float)
    result = reach.rest2019(masses, MODELS[solar_model], pseudo_experiments)
    result.meta.update(solar_model=solar_model, raytrace_version=__version__)
    return result


def tilt_scan(optic, tilts_arcmin, *, source=None, detector: Detector | str | None = None, keep: float = 0.95,
              azimuth_deg=0.0, pivot_z_mm=None, decentre_mm=(0.0, 0.0), rays: int = RAYS_PER_POINT, seed: int = 0,
              events=None, events_frame: str = "optic", progress=None) -> Table:
    """Alignment tolerance: per tilt of the optic (arcmin) about a pivot on its axis (default: the intersection
    plane), the spot shift and the signal kept inside the detector's opening, and (metadata tolerance_arcmin)
    the largest tilt keeping `keep` of the aligned signal there. Default source: `solar_source()`.
    `events`: a .fits or .mcpl path; the photon list of tilt number k goes to `events_path(events, k)`, in the
    frame `events_frame` ('optic' or 'beam', as in `effective_area`)."""
    optic = load(optic)
    focus = best_focus(optic, SPOT_FOCUS_KEV, rays=min(rays, RAYS_PER_POINT), seed=seed)
    pivot = None if pivot_z_mm is None else _value(pivot_z_mm, u.mm)
    decentre = tuple(_values(decentre_mm, u.mm))
    source = source or solar_source()
    tilts = _values(tilts_arcmin, u.arcmin, u.rad)

    def events_for(k):
        return open_photon_list(events_path(events, k), {
            "optic": optic.name, "source": source.describe(), "tilt_arcmin": float(np.degrees(tilts[k]) * 60),
            "tilt_azimuth_deg": float(_value(azimuth_deg, u.deg)), "rays": int(rays), "seed": int(seed),
            "raytrace_version": __version__}, events_frame)

    return tolerance.tilt_scan(optic, source, _detector(detector), tilts, keep, _value(azimuth_deg, u.deg, u.rad),
                               pivot, focus, rays, seed, progress, decentre, None if events is None else events_for)


def events_path(events, k: int) -> Path:
    """Where `tilt_scan` writes the photon list of tilt number k: `<stem>_tilt<k>.<suffix>` beside `events`."""
    path = Path(events)
    return path.with_name(f"{path.stem}_tilt{k:03d}{path.suffix}")


def calibrate(optic, energy_kev, hpd_arcsec, w90_arcsec=None, *, wing_fraction: float | None = None,
              focal_plane_z_mm="best", off_axis_arcmin=0.0, azimuth_deg=0.0, source_distance_m=math.inf,
              source_size_mm=0.0, rays: int = RAYS_PER_POINT, seed: int = 0) -> Calibration:
    """Slope errors that reproduce a measured HPD (and W90) in arcsec at one energy (keV); `.optic` holds them."""
    z = None if focal_plane_z_mm == "best" else _value(focal_plane_z_mm, u.mm)
    w90 = None if w90_arcsec is None else _value(w90_arcsec, u.arcsec)
    return analysis.calibrate(load(optic), _value(energy_kev, u.keV), _value(hpd_arcsec, u.arcsec), w90, wing_fraction,
                              z, make_source(off_axis_arcmin, azimuth_deg, source_distance_m, source_size_mm), rays, seed)


def fit_encircled(optic, targets=(), areas=(), *, ee_error: float = 0.01, area_radius_arcsec=math.inf,
                  normalise_arcsec=math.inf, scattering: bool = True, psd_band_per_um=PSD_BAND_PER_UM,
                  focal_plane_z_mm="best", off_axis_arcmin=0.0, azimuth_deg=0.0, source_distance_m=math.inf,
                  source_size_mm=0.0, rays: int = RAYS_PER_POINT, seed: int = 0,
                  fixed: dict | None = None) -> PsfFit:
    """Fit an optic to measured encircled-energy curves, targets = [(energy_kev, radii_arcsec, fractions), ...] known
    to +-ee_error as fractions of the flux within normalise_arcsec (slope errors, a wing and, with `scattering`, the
    coatings' PSD index), and to on-axis areas,
    areas = [(energy_kev, area_cm2, error_cm2), ...] collected within area_radius_arcsec (the spider's width and the
    coatings' roughness): `raytrace.analysis.calibration.fit_psf`; `fixed` holds parameters at given values.
    `.optic` is the calibrated optic."""
    z = None if focal_plane_z_mm == "best" else _value(focal_plane_z_mm, u.mm)
    radius, normalise = (_value(r, u.arcsec, allow_inf=True) for r in (area_radius_arcsec, normalise_arcsec))
    return analysis.fit_psf(load(optic), targets, areas, ee_error, radius, normalise, scattering, tuple(psd_band_per_um), z,
                            make_source(off_axis_arcmin, azimuth_deg, source_distance_m, source_size_mm), rays, seed,
                            fixed=fixed)


def optimise(focal_lengths_mm=None, *, vary: dict | None = None, design: SegmentedDesign | str = "babyiaxo",
             groups: int = 4, materials=MATERIALS, detector: Detector | str | None = None,
             source: SolarSource | None = None, objective: str = "f_do", objective_mass_ev: float = 1e-3,
             rays: int = RAYS_PER_POINT, seed: int = 0, evaluations: int = 40, generations: int = 5, executor=None,
             checkpoint: str | os.PathLike | None = None, progress=None) -> ScanResult:
    """Optimise a segmented design: scan its focal length (mm), or with `vary` ({KEY: (low, high)}, the keys of
    `raytrace design --set`, e.g. r_min_mm, inner.segment_length_mm, focal_length_mm) search those values by
    differential evolution over `generations`; at every point each coating group gets its best recipe.

    objective: 'f_do' (largest f_DO) or 'sensitivity' (smallest combined g_agamma at objective_mass_ev, every bore
    holding the design). `executor`: a concurrent.futures executor for the points (local processes or a Dask
    cluster's); `checkpoint`: a file recording each finished point, from which a rerun of the same problem resumes;
    `progress`: called with each finished row. Default source: `solar_source()`. Returns the table of the points,
    the best design and its verifying trace."""
    from .helioscope import optimise as scan

    base = design if isinstance(design, SegmentedDesign) else load_design(design)
    if (focal_lengths_mm is None) == (vary is None):
        raise ValueError("give either focal lengths to scan or design values to vary (not both)")
    settings = scan.ScanSettings(groups, tuple(materials), rays, seed, evaluations, objective, objective_mass_ev)
    unknown = [m for m in materials if m not in scan.MATERIAL_SYSTEMS]
    if unknown or not materials:
        raise ValueError(f"materials {list(materials)}: choose from {', '.join(scan.MATERIAL_SYSTEMS)}")
    detector = _detector(detector)
    source = source or solar_source()
    if objective == "sensitivity" and source.model.coupling != "g_agamma":
        raise ValueError(f"objective 'sensitivity' ranks designs by g_agamma from the Primakoff flux; the source's "
                         f"{source.model.name} flux is set by {source.model.coupling}: rank by f_do instead")
    checkpoint = None if checkpoint is None else Path(checkpoint)
    if vary is None:  # every input is checked before any work starts
        focal_lengths = [float(f) for f in _values(focal_lengths_mm, u.mm)]
        for f in focal_lengths:  # every focal length must give a valid optic and its groups
            scan.group_bounds(base.with_focal_length(f), groups)
    else:
        variables = {str(key): (float(low), float(high)) for key, (low, high) in dict(vary).items()}
        for key, (low, high) in variables.items():
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"vary {key}={low:g}:{high:g}: need finite bounds with low < high")
        middle = [f"{key}={0.5 * (low + high)!r}" for key, (low, high) in variables.items()]
        scan.group_bounds(base.with_overrides(middle), groups)  # unknown keys and a box without optics fail here
        if not (isinstance(generations, int) and generations >= 1):
            raise ValueError(f"generations = {generations!r}: must be a whole number >= 1")
    if checkpoint is not None:
        scan.open_checkpoint(checkpoint)
    if vary is None:
        rows = scan.run_scan(base, focal_lengths, source, detector, settings, executor, checkpoint, progress)
    else:
        rows = scan.vary_design(base, variables, source, detector, settings, generations, executor, checkpoint,
                                progress)
    return scan.scan_result(rows, base, source, detector, settings, executor)


@contextlib.contextmanager
def _photon_list(events, frame: str, optic: Optic, source, rays: int, seed: int, events_all: bool = False,
                 entrance=None):
    """The photon-list writers of a run (`raytrace.output.photons`), as one function to call with each traced chunk
    (None: no list): `events` the exit list, of the rays reaching the focal plane or, with `events_all` or an
    `entrance` list, of every ray; `entrance` every ray as it enters the optic. Both in `frame` ('optic' or 'beam'),
    closed when the run ends and removed if it fails."""
    if events is None and entrance is None:
        yield None
        return
    meta = {"optic": optic.name, "focal_length_mm": optic.focal_length_mm, "source": source.describe(),
            **source.metadata(), "rays": int(rays), "seed": int(seed), "raytrace_version": __version__}
    writers = []  # (writer, what it is given: None for the traced chunk, else a function of it)
    try:
        if events is not None:
            writers.append((open_photon_list(events, meta, frame, "all" if events_all or entrance else "focal_plane"),
                            None))
        if entrance is not None:
            writers.append((open_photon_list(entrance, meta, frame, "entrance"),
                            _entrance_states(Trace(optic, source), seed_key(seed), rays)))

        def on_chunk(traced):
            for writer, states in writers:
                writer(traced if states is None else states(traced))

        yield on_chunk
        for writer, _ in writers:
            writer.complete()
    except BaseException:
        for writer, _ in writers:
            writer.abort()
        raise
    published = []  # the lists go into place together, or none of them: a pair must not mix two runs
    try:
        for writer, _ in writers:
            published.append(writer.publish())
    except BaseException:
        for path in published:
            path.unlink(missing_ok=True)
        for writer, _ in writers:
            writer.abort()
        raise


def _entrance_states(trace: Trace, key, n_total: int):
    """A function giving, for each traced chunk of a run in turn, its rays as they entered the optic
    (`Trace.entrance_range`) with the fates and shells the trace gave them."""
    seen = 0

    def states(traced):
        nonlocal seen
        rays = trace.entrance_range(key, seen, len(traced), n_total)
        rays.fate[:], rays.shell[:] = traced.fate, traced.shell
        seen += len(traced)
        return rays

    return states


def _detector(detector) -> Detector:
    return detector if isinstance(detector, Detector) else load_detector(detector)


def make_source(off_axis_arcmin=0.0, azimuth_deg=0.0, source_distance_m=math.inf, source_size_mm=0.0):
    """A parallel beam (at infinity) or a point source at a finite distance (m) from the intersection plane, of
    radius source_size_mm (a size needs a finite distance), off_axis_arcmin from the axis towards azimuth_deg."""
    off_axis, azimuth = _value(off_axis_arcmin, u.arcmin, u.rad), _value(azimuth_deg, u.deg, u.rad)
    distance = _value(source_distance_m, u.m, allow_inf=True)
    size = _value(source_size_mm, u.mm)
    if math.isinf(distance) and distance > 0:
        if size != 0:
            raise ValueError(f"source size = {size:g} mm: a source at infinity has no size; give its distance")
        return ParallelBeam(off_axis, azimuth)
    return PointSource(distance, off_axis, azimuth, size)


def _values(value, unit: u.Unit, to: u.Unit | None = None) -> np.ndarray:
    """A Quantity (in any unit convertible to `unit`) or plain numbers in `unit`, as floats in `to` (default `unit`)."""
    quantity = value.to(unit) if isinstance(value, u.Quantity) else np.asarray(value, dtype=float) * unit
    return np.atleast_1d(quantity.to_value(to or unit)).astype(float)


def _value(value, unit: u.Unit, to: u.Unit | None = None, allow_inf: bool = False) -> float:
    values = _values(value, unit, to)
    if values.size != 1 or np.isnan(values[0]) or (np.isinf(values[0]) and not allow_inf):
        raise ValueError(f"{value!r}: expected one {'' if allow_inf else 'finite '}number ({unit})")
    return float(values[0])
