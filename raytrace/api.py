"""The user-level functions, with the command line's defaults (the CLI calls these).

Each takes an optic as an `geometries.Optic`, a shipped name ('xmm', 'babyiaxo') or a prescription path
(.ecsv shell table, .toml design); quantities as astropy Quantities or as floats in the unit their name
ends with (`energy_kev`, `off_axis_arcmin`, ...). Results are astropy Tables with units and provenance
metadata, or small result objects with a `summary()` and tables of their own.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import textwrap
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
from astropy.table import Table, vstack

from coatings import Stack, check_energies, load_recipe
from geometries import Optic, is_optic, load_design, load_optic
from geometries.generator import SegmentedDesign

from . import analysis, defaults
from .defaults import MATERIALS, PSD_BAND_PER_UM, RAYS, RAYS_PER_POINT, SOLAR_MODEL, SOURCE, SPOT_FOCUS_KEV
from .engine import Trace
from .engine.geometry import PackedOptic
from .engine.rng import seed_key
from .errors import NO_VALUE, InputError
from .helioscope import tolerance
from .helioscope.detector import Detector, load_detector
from .helioscope.merit import Exposure, Magnet, load_magnet
from .output.photons import check_photon_lists, open_photon_list
from .progress import reporting
from .provenance import provenance
from .sources import ParallelBeam, PointSource
from .sources.spec import DIRECTION_FORM, SOURCE_FORMS, parse_source

# The modules that load scipy's statistics, optimisers or special functions (the sensitivity, the optimiser, the
# calibration, the solar models and the solar spot) are imported by the functions that use them: an area or PSF run
# does not wait about 1 s for them.
if TYPE_CHECKING:
    from .analysis import Calibration, PsfFit, PsfResult
    from .helioscope.optimise import ScanResult
    from .helioscope.sensitivity import SensitivityResult
    from .helioscope.spot import SpotResult
    from .sources import SolarSource

OLD_SOURCE_KEYWORDS = ("off_axis_arcmin", "azimuth_deg", "source_distance_m", "source_size_mm")  # until 0.4

# The parameters several functions share, described once: `_document` writes each into the docstrings that name it
# ("{optic}", "{trace}", ...), in numpydoc form for help() and the API reference.
_SHARED_PARAMETERS = {
    "optic": """optic : Optic, str or path
    An Optic, a shipped name (``'xmm'``, ``'xmm_design'``, ``'babyiaxo'``, ``'iaxo'``, ``'iaxoplus'``,
    ``'cast_pathfinder'``) or a prescription file (.ecsv shell table or .toml design).""",
    "grid": """energies_kev : array_like or Quantity
    Energies (keV).
off_axis_arcmin : array_like or Quantity
    Off-axis angles of the source (arcmin).
azimuth_deg : array_like or Quantity, optional
    Azimuths of the source (deg).
source : ParallelBeam, PointSource or str, optional
    The source moved to each direction: a parallel beam (default) or a source at a finite distance, given as in
    `effective_area` but without a direction.""",
    "energy": """energy_kev : float or Quantity
    Energy (keV).""",
    "source": f"""source : ParallelBeam, PointSource or str, optional
    The X-ray source: an object from `make_source`, or its text, {SOURCE_FORMS} (distance from the optic's
    intersection plane in m, disc radius in mm), optionally followed by {DIRECTION_FORM} (the direction of the
    source, off-axis angle in arcmin and azimuth in deg); for example ``'point:130@5,30'``. Default ``'parallel'``,
    an on-axis parallel beam.""",
    "trace": """rays : int, optional
    Rays to trace (the command line's default).
seed : int, optional
    The run is a pure function of its seed.""",
    "focal_plane": """focal_plane_z_mm : float, Quantity or 'best', optional
    The focal plane (mm on the axis, 0 at the nominal focus). Default ``'best'``: the plane where the HPD of the
    optic without slope errors is smallest.""",
    "photon_lists": """events : str or path, optional
    A .fits or .mcpl path for the photon list of every ray reaching the focal plane (at one energy).
events_frame : {'optic', 'beam'}, optional
    The list's frame: ``'optic'`` (photons along -z) or ``'beam'`` (turned by 180 deg about x, along +z).
events_all : bool, optional
    List every ray, in order, where it reached the focal plane or stopped.
entrance : str or path, optional
    A .fits or .mcpl path for the list of every ray as it entered the optic, with the fate the trace gave it: row
    k of both lists is ray k.""",
    "progress": """progress : bool or callable, optional
    True (default): a progress bar on standard error where one can be drawn, a terminal or a Jupyter cell (with
    the notice of a first run's compilation); False: none; a callable is called with the number of rays traced
    in each chunk.""",
}


def _document(function):
    doc = function.__doc__
    if doc is None:  # python -OO strips docstrings
        return function
    for key, text in _SHARED_PARAMETERS.items():
        doc = doc.replace("{" + key + "}", textwrap.indent(text, "    ").lstrip())
    function.__doc__ = doc
    return function


def _old_source_keywords(*names):
    """For one release, the keywords `names` that ``source=`` replaced still work (as in `make_source`), with a
    FutureWarning: the previous release's calls that name them run unchanged."""

    def wrap(function):
        @functools.wraps(function)
        def call(*args, **kwargs):
            old = {name: kwargs.pop(name) for name in names if name in kwargs}
            if old:
                if "source" in kwargs:
                    raise TypeError(f"{function.__name__}: give source= or {', '.join(old)}, not both")
                warnings.warn(
                    f"{function.__name__}: {', '.join(old)} are now given as source= (`make_source`, or a "
                    "text such as 'point:130@5,30'); the old keywords work until the next release",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs["source"] = make_source(**old)
            return function(*args, **kwargs)

        return call

    return wrap


@_document
def load(optic: Optic | str | os.PathLike, apertures=()) -> Optic:
    """An optic, with entrance apertures added to its own.

    Parameters
    ----------
    {optic}
    apertures : sequence of str or aperture, optional
        Entrance apertures in the spider plane, which intersect: texts such as ``'circle:21.5@200,0'`` (radius and
        centre in mm), ``'annulus:100:200'`` (mm) or ``'sector:0:30'`` (deg), or `geometries` apertures.

    Returns
    -------
    geometries.Optic
        An immutable optic.

    Examples
    --------
    >>> raytrace.load("babyiaxo").n_shells  # the custom optic's layers
    136
    """
    optic = optic if isinstance(optic, Optic) else load_optic(optic)
    return optic.with_apertures(apertures) if apertures else optic


@_document
@_old_source_keywords(*OLD_SOURCE_KEYWORDS)
def effective_area(
    optic,
    energies_kev,
    *,
    source=SOURCE,
    rays: int = RAYS,
    seed: int = 0,
    events=None,
    events_frame: str = "optic",
    events_all: bool = False,
    entrance=None,
    progress=True,
) -> Table:
    """Effective area of the focused beam (rays reflected by a primary, then a secondary) at each energy.

    Parameters
    ----------
    {optic}
    energies_kev : array_like or Quantity
        Energies (keV).
    {source}
    {trace}
    {photon_lists}
    {progress}

    Returns
    -------
    astropy.table.Table
        Columns ``energy`` (keV), ``effective_area`` and ``effective_area_err`` (cm2, the statistical error); the
        provenance (optic, source, rays, seed, version, rays per fate) in ``.meta``.

    Examples
    --------
    >>> area = raytrace.effective_area("xmm", [1.5, 8.0])
    >>> print([round(a) for a in area["effective_area"]], area["effective_area"].unit)
    [1410, 619] cm2
    >>> print(raytrace.effective_area("xmm", [1.5], source="parallel@5").meta["source"])  # 5 arcmin off axis
    parallel beam, off-axis 5 arcmin, azimuth 0 deg
    """
    optic = load(optic)
    source = _source(source)
    energies = check_energies(_values(energies_kev, u.keV))
    check_photon_lists(events, entrance, events_all, energies.size)
    with _photon_list(
        events, events_frame, optic, source.at_energy(float(energies[0])), rays, seed, events_all, entrance
    ) as on_chunk:
        with reporting(progress, rays, "tracing") as tell:
            return analysis.effective_area(optic, energies, source, rays, seed, progress=tell, on_chunk=on_chunk)


@_document
@_old_source_keywords(*OLD_SOURCE_KEYWORDS)
def psf(
    optic,
    energy_kev,
    *,
    source=SOURCE,
    rays: int = RAYS,
    seed: int = 0,
    focal_plane_z_mm="best",
    pixel_arcsec=None,
    pixels: int = 256,
    events=None,
    events_frame: str = "optic",
    events_all: bool = False,
    entrance=None,
    progress=True,
) -> PsfResult:
    """The PSF at one energy: HPD, W80, W90, centroid, focused area, encircled energy and image.

    Parameters
    ----------
    {optic}
    {energy}
    {source}
        For a source at a finite distance, angles are referred to its image distance.
    {trace}
    {focal_plane}
    pixel_arcsec : float or Quantity, optional
        Image pixel (arcsec). Default: the smallest of 0.5, 1, 2, 5, 10, ... arcsec with which the image holds 99 % of
        the focused flux.
    pixels : int, optional
        Pixels per side of the image.
    {photon_lists}
    {progress}

    Returns
    -------
    raytrace.analysis.PsfResult
        ``hpd_arcsec``, ``w80_arcsec``, ``w90_arcsec`` (diameters), ``centroid_x_mm``, ``centroid_y_mm``,
        ``effective_area_cm2``, the ``encircled`` table (radius in arcsec, encircled fraction), the ``image`` (cm2 per
        pixel), ``image_fraction`` and ``meta``.

    Examples
    --------
    >>> result = raytrace.psf("babyiaxo", 3.0)
    >>> print(f"HPD {result.hpd_arcsec:.1f} arcsec, W80 {result.w80_arcsec:.1f} arcsec")
    HPD 59.8 arcsec, W80 119.5 arcsec
    """
    optic = load(optic)
    z = focal_plane_z_mm if focal_plane_z_mm == "best" else _value(focal_plane_z_mm, u.mm)
    energy = float(check_energies([_value(energy_kev, u.keV)])[0])
    source = _source(source)
    with (
        _photon_list(
            events, events_frame, optic, source.at_energy(energy), rays, seed, events_all, entrance
        ) as on_chunk,
        reporting(progress, rays, "tracing") as tell,
    ):
        return analysis.psf(
            optic,
            energy,
            source,
            rays,
            seed,
            focal_plane_z_mm=z,
            pixel_arcsec=None if pixel_arcsec is None else _value(pixel_arcsec, u.arcsec),
            image_pixels=pixels,
            progress=tell,
            on_chunk=on_chunk,
        )


@_document
@_old_source_keywords(*OLD_SOURCE_KEYWORDS[2:])
def psf_library(
    optic,
    energies_kev,
    off_axis_arcmin,
    *,
    azimuth_deg=0.0,
    source=SOURCE,
    rays: int = RAYS_PER_POINT,
    seed: int = 0,
    focal_plane_z_mm="best",
    pixel_arcsec=None,
    pixels: int = 256,
    progress=True,
) -> list[PsfResult]:
    """`psf` at every energy x off-axis angle x azimuth, all in one focal plane: a PSF library.

    Parameters
    ----------
    {optic}
    {grid}
    {trace}
    focal_plane_z_mm : float, Quantity or 'best', optional
        The common focal plane (mm on the axis, 0 at the nominal focus). Default ``'best'``: the best focus on axis at
        the lowest energy.
    pixel_arcsec, pixels
        The images' pixel (arcsec) and size, as in `psf`.
    progress : bool or callable, optional
        True (default): a progress bar where one can be drawn, as in `effective_area`; False: none; a callable is
        called with 1 after each image.

    Returns
    -------
    list of raytrace.analysis.PsfResult
        One per grid point, energy varying slowest, then off-axis angle, then azimuth; `write_psf` writes them as an
        OGIP PSF library.

    Examples
    --------
    >>> images = raytrace.psf_library("xmm_design", [1.5, 6.4], [0.0, 5.0], rays=20_000)
    >>> [(image.meta["energy_kev"], image.meta["off_axis_arcmin"]) for image in images]
    [(1.5, 0.0), (1.5, 5.0), (6.4, 0.0), (6.4, 5.0)]
    """
    optic, source = load(optic), _source(source, directed=False)
    energies = np.unique(check_energies(_values(energies_kev, u.keV)))  # each grid point once, as a library holds it
    angles, azimuths = np.unique(_values(off_axis_arcmin, u.arcmin)), np.unique(_values(azimuth_deg, u.deg) % 360.0)
    results = []
    with reporting(progress, energies.size * angles.size * azimuths.size, "PSF images") as tell:
        if focal_plane_z_mm == "best":  # inside the report: a first run compiles the kernels here
            focal_plane_z_mm = best_focus(optic, energies[0], source=source, rays=rays, seed=seed)
        for energy in energies:
            for angle in angles:
                for azimuth in azimuths:
                    directed = source.with_pointing(math.radians(angle / 60.0), math.radians(azimuth))
                    results.append(
                        psf(
                            optic,
                            energy,
                            source=directed,
                            rays=rays,
                            seed=seed,
                            focal_plane_z_mm=focal_plane_z_mm,
                            pixel_arcsec=pixel_arcsec,
                            pixels=pixels,
                            progress=False,
                        )
                    )
                    if tell is not None:
                        tell(1)
    return results


@_document
@_old_source_keywords(*OLD_SOURCE_KEYWORDS)
def best_focus(optic, energy_kev, *, source=SOURCE, rays: int = RAYS_PER_POINT, seed: int = 0) -> float:
    """The focal plane where the HPD of the optic without slope errors is smallest.

    Parameters
    ----------
    {optic}
    {energy}
    {source}
    {trace}

    Returns
    -------
    float
        The plane's position on the axis (mm; 0 at the nominal focus, negative behind it).

    Examples
    --------
    >>> print(f"{raytrace.best_focus('babyiaxo', 3.0):.1f} mm")  # the conical optic focuses behind z = 0
    -28.5 mm
    """
    return analysis.best_focus_z_mm(load(optic), _source(source).at_energy(_value(energy_kev, u.keV)), rays, seed)


@_document
@_old_source_keywords(*OLD_SOURCE_KEYWORDS[2:])
def vignetting(
    optic, *, energy_kev, off_axis_arcmin, azimuth_deg=0.0, source=SOURCE, rays: int = RAYS_PER_POINT, seed: int = 0
) -> Table:
    """Effective area at one energy versus off-axis angle, and relative to on axis.

    The energy and the angles are given by name: until 0.3 they came in the other order than `offaxis_response`'s,
    and a call of that release must fail, not be misread.

    Parameters
    ----------
    {optic}
    {energy}
    off_axis_arcmin : sequence of float, or Quantity
        Off-axis angles of the source (arcmin).
    azimuth_deg : float or Quantity, optional
        Azimuth of the source's direction about the axis (deg).
    source : ParallelBeam, PointSource or str, optional
        The source moved to each angle, as in `offaxis_response`.
    {trace}

    Returns
    -------
    astropy.table.Table
        Columns ``off_axis`` (arcmin), ``effective_area`` and ``effective_area_err`` (cm2) and ``relative_area``
        (to the on-axis area at the same energy).

    Examples
    --------
    >>> table = raytrace.vignetting("xmm", energy_kev=1.5, off_axis_arcmin=[0, 2, 5])
    >>> print([f"{v:.3f}" for v in table["relative_area"]])
    ['1.000', '0.972', '0.880']
    """
    return analysis.vignetting(
        load(optic),
        _values(off_axis_arcmin, u.arcmin),
        _value(energy_kev, u.keV),
        _value(azimuth_deg, u.deg),
        rays,
        seed,
        source=_source(source, directed=False),
    )


@_document
@_old_source_keywords(*OLD_SOURCE_KEYWORDS[2:])
def offaxis_response(
    optic,
    energies_kev,
    off_axis_arcmin,
    *,
    azimuth_deg=0.0,
    source=SOURCE,
    rays: int = RAYS_PER_POINT,
    seed: int = 0,
    progress=True,
) -> Table:
    """Effective area over energy x off-axis angle x azimuth, from one geometric trace per direction.

    Parameters
    ----------
    {optic}
    {grid}
    {trace}
    progress : bool or callable, optional
        True (default): a progress bar where one can be drawn, as in `effective_area`; False: none; a callable is
        called with 1 after each direction.

    Returns
    -------
    astropy.table.Table
        Columns ``azimuth`` (deg), ``off_axis`` (arcmin), ``energy`` (keV), ``effective_area``,
        ``effective_area_err`` (cm2) and ``vignet`` (relative to on axis); `write_vignetting` writes it in the
        OGIP/CALDB vignetting layout.

    Examples
    --------
    >>> table = raytrace.offaxis_response("xmm_design", [1.5, 6.4], [0, 5], rays=50_000)
    >>> print(len(table), table.colnames)
    4 ['azimuth', 'off_axis', 'energy', 'effective_area', 'effective_area_err', 'vignet']
    """
    angles, azimuths = _values(off_axis_arcmin, u.arcmin), _values(azimuth_deg, u.deg)
    directions = 1 + np.count_nonzero(angles != 0) * azimuths.size  # on axis once, then each other direction
    with reporting(progress, directions, "directions") as tell:
        return analysis.offaxis_response(
            load(optic),
            _values(energies_kev, u.keV),
            angles,
            azimuths,
            rays,
            seed,
            source=_source(source, directed=False),
            progress=tell,
        )


def reflectivity(
    recipe, energies_kev, angles_mrad=None, *, roughness_nm=None, polarisation: str = "unpolarised"
) -> Table:
    """Reflectivity of a coating versus energy and graze angle.

    Parameters
    ----------
    recipe : str, path, coatings.Stack or geometries.Optic
        A shipped recipe name (``'au250_ni'``, ``'ir_thick'``, ``'ptc_graded'``, ``'wb4c_graded'``, ...), a recipe
        .toml, a Stack, or an optic (each of its coatings).
    energies_kev : array_like or Quantity
        Energies (keV).
    angles_mrad : array_like or Quantity, optional
        Graze angles (mrad). Required for a recipe; for an optic the default is 60 angles over 0.5-1.5 times the
        range of its on-axis graze angles.
    roughness_nm : float or Quantity, optional
        Roughness (nm rms) of every interface, instead of the recipe's.
    polarisation : {'unpolarised', 's', 'p'}, optional

    Returns
    -------
    astropy.table.Table
        Columns ``energy`` (keV), ``angle`` (mrad) and ``reflectivity``, one row per pair; for an optic also
        ``coating``, with each coating's on-axis graze angles in ``.meta``.

    Examples
    --------
    >>> table = raytrace.reflectivity("au250_ni", [8.0], [5.0, 10.0])  # gold at 8 keV, below and above critical
    >>> print([f"{r:.3f}" for r in table["reflectivity"]])
    ['0.881', '0.310']
    """
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
    table.meta.update(
        {
            "recipe": ", ".join(t.meta["recipe"] for t in tables),
            "optic": optic.name,
            "on_axis_graze_mrad": {
                stack.name: [float(graze[k].min()), float(graze[k].max())]
                for stack in stacks
                for k in [[c == stack for c in optic.coatings]]
            },
        }
    )
    return table


def solar_source(
    model: str | None = None,
    band_kev=None,
    date: str | None = None,
    offset_arcmin=0.0,
    offset_azimuth_deg=0.0,
    magnet: Magnet | None = Magnet(),
    flux: str = "primakoff",
) -> SolarSource:
    """Solar axions converting into photons in the magnet's bore.

    Parameters
    ----------
    model : str, optional
        The Primakoff model: ``'hoof2022'`` (default), ``'giannotti2019'`` or ``'cast2007'``. The ABC flux has one
        model (Hoof et al. 2022); give none with it.
    band_kev : (float, float) or Quantity, optional
        Energy band (keV). Default 1-10 keV, for the ABC flux 0.5-10 keV.
    date : str, optional
        An ISO date whose Earth-Sun distance sets the Sun's size and the flux (default 1 au).
    offset_arcmin : float or Quantity, optional
        Pointing offset of the Sun from the optical axis (arcmin).
    offset_azimuth_deg : float or Quantity, optional
        Azimuth of that offset (deg).
    magnet : Magnet or None, optional
        The magnet whose bore the axions convert in (default BabyIAXO's); None: photons from anywhere above the optic.
    flux : {'primakoff', 'abc'}, optional
        The production: Primakoff (set by g_agamma) or ABC (set by g_ae, `raytrace.sources.abc`).

    Returns
    -------
    SolarSource

    Examples
    --------
    >>> print(raytrace.solar_source().describe())
    solar axions (hoof2022), 1-10 keV, Sun radius 959.64 arcsec at 1 AU, converted in a bore of 700 mm diameter ...
    """
    from .sources.solar import SolarSource, earth_sun_distance_au

    if flux not in defaults.FLUXES:
        raise InputError("flux", flux, f"choose from {', '.join(defaults.FLUXES)}")
    if flux == "abc":
        from .sources.abc import abc_model

        if model is not None:
            raise InputError("model", model, "it chooses a Primakoff model; the ABC flux has one (Hoof et al. 2022)")
        chosen = abc_model()
    else:
        chosen = _solar_model(SOLAR_MODEL if model is None else model, "model")
    band_kev = (defaults.ABC_BAND_KEV if flux == "abc" else (1.0, 10.0)) if band_kev is None else band_kev
    e_min, e_max = _values(band_kev, u.keV)
    distance = earth_sun_distance_au(date) if date else 1.0
    return SolarSource(
        chosen,
        float(e_min),
        float(e_max),
        distance,
        _value(offset_arcmin, u.arcmin, u.rad),
        _value(offset_azimuth_deg, u.deg, u.rad),
        None if magnet is None else magnet.bore(),
    )


@_document
def solar_spot(
    optic,
    *,
    source: SolarSource | None = None,
    detector: Detector | str | None = None,
    magnet: Magnet = Magnet(),
    exposure: Exposure = Exposure(),
    rays: int = RAYS,
    seed: int = 0,
    focal_plane_z_mm="best",
    events=None,
    events_frame: str = "optic",
    events_all: bool = False,
    entrance=None,
    cube_bin_kev=None,
    progress=True,
) -> SpotResult:
    """The focused solar-axion image, its spot, the figures of merit f_O, f_D, f_DO and the expected counts.

    The definitions are in docs/physics/conventions.md.

    Parameters
    ----------
    {optic}
    source : SolarSource, optional
        Default: ``solar_source(magnet=magnet)``, photons converted in the magnet's bore.
    detector : Detector or path, optional
        Default: the BabyIAXO Micromegas; or a detector .toml.
    magnet : Magnet, optional
        Field, length and bore (default BabyIAXO's).
    exposure : Exposure, optional
        Exposure time and couplings for the expected counts.
    {trace}
    focal_plane_z_mm : float, Quantity or 'best', optional
        The detector plane (mm on the axis, 0 at the nominal focus). Default ``'best'``: the best focus of an on-axis
        beam at 4 keV.
    {photon_lists}
    cube_bin_kev : float or Quantity, optional
        Also keep the detected image per energy bin of this width (keV): the signal cube (`write_signal_cube`).
    {progress}

    Returns
    -------
    raytrace.helioscope.spot.SpotResult
        The spot (``radius_mm``, ``area_cm2``), the figures of merit (``figures``, ``f_do``), the expected signal and
        background counts (``signal_counts``, ``detectable_signal_counts``, ``background_counts``), the image and
        ``meta``; `spot_arf` and `spot_rmf` give its response.

    Examples
    --------
    >>> spot = raytrace.solar_spot("xmm", rays=200_000)
    >>> print(f"f_DO {spot.f_do:.0f} (keV s)^1/2, spot {spot.area_cm2:.3f} cm2")
    f_DO 454 (keV s)^1/2, spot 0.733 cm2
    """
    from .helioscope import spot

    optic = load(optic)
    source = source or solar_source(magnet=magnet)
    with (
        reporting(progress, rays, "tracing") as tell,
        _photon_list(events, events_frame, optic, source, rays, seed, events_all, entrance) as on_chunk,
    ):
        if focal_plane_z_mm == "best":  # inside the report: a first run compiles the kernels here
            focal_plane_z_mm = best_focus(optic, SPOT_FOCUS_KEV, rays=min(rays, RAYS_PER_POINT), seed=seed)
        return spot.solar_spot(
            optic,
            source,
            _detector(detector),
            rays,
            seed,
            _value(focal_plane_z_mm, u.mm),
            magnet,
            exposure,
            progress=tell,
            on_chunk=on_chunk,
            cube_bin_kev=None if cube_bin_kev is None else _value(cube_bin_kev, u.keV),
        )


@_document
def sensitivity(
    optics=defaults.SENSITIVITY_OPTICS,
    *,
    detector: Detector | str | None = None,
    magnet: Magnet | str | None = None,
    vacuum_years: float = defaults.VACUUM_YEARS,
    gas_years: float = defaults.GAS_YEARS,
    tracking: float = defaults.TRACKING,
    energy_bins_kev=None,
    masses_ev=None,
    solar_model: str | None = None,
    max_gas_mass_ev: float = defaults.MAX_GAS_MASS_EV,
    confidence: float = defaults.CONFIDENCE,
    pseudo_experiments: int = 0,
    rays: int = RAYS,
    seed: int = 0,
    coupling: str = "gagamma",
    progress=True,
) -> SensitivityResult:
    """The projected sensitivity versus axion mass of a helioscope whose bores hold these optics.

    Each optic is traced once with solar-axion rays through its bore to the detector; the limits combine the bores,
    the vacuum phase and the 4He steps. The method is in `raytrace.helioscope.sensitivity`.

    Parameters
    ----------
    optics : optic or sequence of optics, optional
        One per bore, or one for all (each as in `load`). Default: XMM and the BabyIAXO custom optic.
    detector : Detector or path, optional
        Default: the BabyIAXO Micromegas.
    magnet : Magnet, path or None, optional
        A Magnet, a magnet .toml, or None for BabyIAXO's.
    vacuum_years, gas_years : float, optional
        Length of the vacuum phase and of the 4He phase (years; ``gas_years=0``: no gas phase).
    tracking : float, optional
        Share of the time spent tracking the Sun, in (0, 1].
    energy_bins_kev : (float, float, float), optional
        First edge, last edge and width of the energy bins (keV). Default 1-10 keV in 0.5 keV bins, for
        ``coupling='gae'`` 0.5-10 keV.
    masses_ev : array_like or Quantity, optional
        Axion masses (eV). Default 300 log-spaced from 1e-3 to 1 eV.
    solar_model : str, optional
        The Primakoff model (`solar_source`).
    max_gas_mass_ev : float, optional
        The 4He steps reach this mass (eV).
    confidence : float, optional
        Confidence level of the limits.
    pseudo_experiments : int, optional
        That many background-only data sets give the spread of the vacuum limit at the lowest mass (in ``.meta``).
    {trace}
    coupling : {'gagamma', 'gae'}, optional
        ``'gagamma'``: g_agamma (GeV^-1) from the Primakoff flux; ``'gae'``: (g_ae g_agamma)^1/2 (GeV^-1/2) from the
        ABC flux alone, whose photons convert with g_agamma.
    {progress}

    Returns
    -------
    raytrace.helioscope.sensitivity.SensitivityResult
        ``table`` (the mass and the vacuum, gas and combined limits), ``low_mass()``, the gas ``schedule``, the traced
        ``spots`` and ``meta``.

    Examples
    --------
    >>> reach = raytrace.sensitivity(rays=200_000)  # BabyIAXO: XMM and the custom optic
    >>> print(f"{reach.low_mass():.3g} GeV^-1 at {reach.table['m_a'][0]:g} eV")
    1.73e-11 GeV^-1 at 0.001 eV
    """
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
        raise InputError(
            "optics", NO_VALUE, f"{len(optics)} given for a magnet of {magnet.bores} bores (give one per bore, or one)"
        )
    if coupling not in reach.COUPLINGS:
        raise InputError("coupling", coupling, f"choose from {', '.join(reach.COUPLINGS)}")
    abc = coupling == "gae"
    if energy_bins_kev is None:
        energy_bins_kev = defaults.ABC_SENSITIVITY_BINS_KEV if abc else defaults.SENSITIVITY_BINS_KEV
    edges = reach.energy_bin_edges(_values(energy_bins_kev, u.keV))
    masses = reach.mass_grid(defaults.MASSES_EV) if masses_ev is None else np.asarray(_values(masses_ev, u.eV), float)
    if not (math.isfinite(vacuum_years) and vacuum_years > 0):
        raise InputError("vacuum_years", vacuum_years, "must be a number > 0")
    if not (math.isfinite(gas_years) and gas_years >= 0):
        raise InputError("gas_years", gas_years, "must be a number >= 0")
    if not 0 < tracking <= 1:
        raise InputError("tracking", tracking, "the share of time tracking the Sun must lie in (0, 1]")
    if not 0 < confidence < 1:
        raise InputError("confidence", confidence, "must lie between 0 and 1")
    reach.check_max_gas_mass(max_gas_mass_ev)
    detector = _detector(detector)
    if abc and solar_model is not None:
        raise InputError(
            "solar_model", solar_model, "it chooses a Primakoff model; {coupling} 'gae' takes the ABC flux"
        )
    if not abc:
        _solar_model(solar_model or SOLAR_MODEL)
    source = solar_source(solar_model, (edges[0], edges[-1]), magnet=magnet, flux="abc" if abc else "primakoff")
    limits_on = reach.COUPLINGS[coupling]
    responses, spots, traced = [], [], {}
    distinct = len({id(optic) for optic in optics})
    with reporting(progress, rays * distinct, "tracing the optics", finishing="4He steps and limits") as tell:
        for k, optic in enumerate(optics, start=1):
            if id(optic) not in traced:  # the same optic in several bores is traced once
                focus = best_focus(optic, SPOT_FOCUS_KEV, rays=min(rays, RAYS_PER_POINT), seed=seed)
                traced[id(optic)] = spot.solar_spot(optic, source, detector, rays, seed, focus, magnet, progress=tell)
            spots.append(traced[id(optic)])
            responses.append(reach.traced_response(spots[-1], source, f"bore {k}: {optic.name}"))
        year = reach.YEAR_S * tracking
        schedule = (
            reach.gas_schedule(
                responses, magnet, gas_years * year, max_gas_mass_ev, energy_kev=limits_on.step_energy_kev
            )
            if gas_years > 0
            else None
        )
        result = reach.sensitivity(
            responses, magnet, masses, edges, vacuum_years * year, schedule, confidence, coupling=limits_on
        )
        result.spots = spots
        bores = reach.bore_limits(
            responses, magnet, float(masses[0]), edges, vacuum_years * year, confidence, limits_on
        )
        if pseudo_experiments:
            result.meta["vacuum_pseudo_experiments"] = reach.vacuum_spread(
                responses,
                magnet,
                float(masses[0]),
                edges,
                vacuum_years * year,
                pseudo_experiments,
                seed,
                confidence,
                limits_on,
            )
    outside = [s.meta["fates"]["not_from_bore"] / s.meta["rays"] for s in spots]
    reach_mm = [float(PackedOptic.from_optic(o).front_r.max()) for o in optics]  # the outermost mirror's entrance
    result.meta.update(
        provenance(seed=seed),
        solar_model=source.model.name,
        detector=detector.name,
        vacuum_years=vacuum_years,
        gas_years=gas_years,
        tracking=tracking,
        rays_per_bore=int(rays),
        bore_vacuum_low_mass=bores,
        bore_rays_outside=outside,
        optic_entrance_radius_mm=reach_mm,
        bores_traced=[s.meta for s in spots],
    )
    return result


def _optic_key(optic):
    """What identifies an optic given to `sensitivity`: its name or path, or the Optic object itself."""
    return str(optic) if isinstance(optic, (str, os.PathLike)) else id(optic)


def preset_sensitivity(
    preset: str,
    *,
    masses_ev=None,
    coupling: str = "gagamma",
    solar_model: str | None = None,
    confidence: float = defaults.CONFIDENCE,
    pseudo_experiments: int = 0,
    rays: int = RAYS,
    seed: int = 0,
    progress=True,
) -> SensitivityResult:
    """`sensitivity` of a member of the IAXO family, with its magnet, detector, schedule and optics.

    Parameters
    ----------
    preset : {'babyiaxo', 'iaxo', 'iaxoplus'}
        The preset (`raytrace.helioscope.presets`; the values of the BabyIAXO conceptual design's table 1).
    masses_ev, coupling, solar_model, confidence, pseudo_experiments, rays, seed, progress
        As in `sensitivity`.

    Returns
    -------
    raytrace.helioscope.sensitivity.SensitivityResult

    Examples
    --------
    >>> print(f"{raytrace.preset_sensitivity('iaxo', rays=100_000).low_mass():.3g} GeV^-1")
    6.68e-12 GeV^-1
    """
    from .helioscope.presets import load_preset

    chosen = load_preset(preset)
    result = sensitivity(
        list(chosen.optics),
        detector=chosen.detector,
        magnet=chosen.magnet,
        vacuum_years=chosen.vacuum_years,
        gas_years=chosen.gas_years,
        tracking=chosen.tracking,
        max_gas_mass_ev=chosen.max_gas_mass_ev,
        masses_ev=masses_ev,
        coupling=coupling,
        solar_model=solar_model,
        confidence=confidence,
        pseudo_experiments=pseudo_experiments,
        rays=rays,
        seed=seed,
        progress=progress,
    )
    result.meta.update(preset=chosen.name, preset_description=chosen.description)
    return result


def rest2019_sensitivity(
    masses_ev=None, solar_model: str = SOLAR_MODEL, pseudo_experiments: int = 0
) -> SensitivityResult:
    """REST's published BabyIAXO curves, from the simplified inputs behind them.

    Constant efficiencies and all the flux in a fixed spot (`raytrace.helioscope.sensitivity.rest2019`), for
    comparison with the traced optics; nothing is traced.

    Parameters
    ----------
    masses_ev : array_like or Quantity, optional
        Axion masses (eV), as in `sensitivity`.
    solar_model : str, optional
        The Primakoff model.
    pseudo_experiments : int, optional
        As in `sensitivity`.

    Returns
    -------
    raytrace.helioscope.sensitivity.SensitivityResult

    Examples
    --------
    >>> print(f"{raytrace.rest2019_sensitivity().low_mass():.3g} GeV^-1")
    1.6e-11 GeV^-1
    """
    from .helioscope import sensitivity as reach

    model = _solar_model(solar_model)
    masses = reach.mass_grid(defaults.MASSES_EV) if masses_ev is None else np.asarray(_values(masses_ev, u.eV), float)
    result = reach.rest2019(masses, model, pseudo_experiments)
    result.meta.update(provenance(solar_model=solar_model))
    return result


@_document
def tilt_scan(
    optic,
    tilts_arcmin,
    *,
    source=None,
    detector: Detector | str | None = None,
    keep: float = 0.95,
    azimuth_deg=0.0,
    pivot_z_mm=None,
    decentre_mm=(0.0, 0.0),
    rays: int = RAYS_PER_POINT,
    seed: int = 0,
    events=None,
    events_frame: str = "optic",
    progress=True,
) -> Table:
    """Alignment tolerance: the solar-axion spot of the optic tilted by each angle.

    Parameters
    ----------
    {optic}
    tilts_arcmin : array_like or Quantity
        Tilts of the optic (arcmin) about a pivot on its axis.
    source : Source, optional
        Default: `solar_source()`.
    detector : Detector or path, optional
        Default: the BabyIAXO Micromegas, whose central opening the signal must stay in.
    keep : float, optional
        The share of the aligned signal inside the opening that defines the tolerance.
    azimuth_deg : float or Quantity, optional
        Direction of the tilt (deg).
    pivot_z_mm : float or Quantity, optional
        The pivot's position on the axis (mm). Default: the intersection plane.
    decentre_mm : (float, float), optional
        A lateral shift of the optic (mm).
    {trace}
    events : str or path, optional
        A .fits or .mcpl path; the photon list of tilt number k goes to ``events_path(events, k)``.
    events_frame : {'optic', 'beam'}, optional
        As in `effective_area`.
    progress : bool or callable, optional
        True (default): a progress bar where one can be drawn, as in `effective_area`; False: none; a callable is
        called with 1 after the aligned optic and after each tilt.

    Returns
    -------
    astropy.table.Table
        Per tilt: the spot's shift and the signal kept inside the opening; ``.meta['tolerance_arcmin']`` is the largest
        tilt that keeps `keep` of the aligned signal there.

    Examples
    --------
    >>> table = raytrace.tilt_scan("xmm", [0, 1, 2, 3], rays=50_000)
    >>> print(f"{table.meta['tolerance_arcmin']:.2f} arcmin")
    2.87 arcmin
    """
    if not 0 < keep <= 1:
        raise InputError("keep", keep, "must lie in (0, 1]")
    optic = load(optic)
    pivot = None if pivot_z_mm is None else _value(pivot_z_mm, u.mm)
    decentre = tuple(_values(decentre_mm, u.mm))
    source = source or solar_source()
    tilts = _values(tilts_arcmin, u.arcmin, u.rad)
    if tilts.size == 0 or not np.all(np.isfinite(tilts) & (tilts >= 0) & (tilts <= tolerance.MAX_TILT_RAD)):
        raise InputError(
            "tilts_arcmin", NO_VALUE, f"must be from 0 to {np.degrees(tolerance.MAX_TILT_RAD) * 60:g} arcmin"
        )

    def events_for(k):
        return open_photon_list(
            events_path(events, k),
            provenance(
                optic=optic,
                source=source,
                rays=rays,
                seed=seed,
                tilt_arcmin=float(np.degrees(tilts[k]) * 60),
                tilt_azimuth_deg=float(_value(azimuth_deg, u.deg)),
            ),
            events_frame,
        )

    with reporting(progress, tilts.size + 1, "tilts") as tell:  # the aligned optic, then each tilt
        focus = best_focus(optic, SPOT_FOCUS_KEV, rays=min(rays, RAYS_PER_POINT), seed=seed)
        return tolerance.tilt_scan(
            optic,
            source,
            _detector(detector),
            tilts,
            keep,
            _value(azimuth_deg, u.deg, u.rad),
            pivot,
            focus,
            rays,
            seed,
            tell,
            decentre,
            None if events is None else events_for,
        )


def events_path(events, k: int) -> Path:
    """Where `tilt_scan` writes the photon list of tilt number k: `<stem>_tilt<k>.<suffix>` beside `events`."""
    path = Path(events)
    return path.with_name(f"{path.stem}_tilt{k:03d}{path.suffix}")


@_document
@_old_source_keywords(*OLD_SOURCE_KEYWORDS)
def calibrate(
    optic,
    energy_kev,
    hpd_arcsec,
    w90_arcsec=None,
    *,
    wing_fraction: float | None = None,
    focal_plane_z_mm="best",
    source=SOURCE,
    rays: int = RAYS_PER_POINT,
    seed: int = 0,
) -> Calibration:
    """Slope errors that reproduce a measured HPD (and W90) at one energy.

    Parameters
    ----------
    {optic}
    energy_kev : float or Quantity
        Energy of the measurement (keV).
    hpd_arcsec : float or Quantity
        Measured half-power diameter (arcsec).
    w90_arcsec : float or Quantity, optional
        Measured W90 (arcsec); with it a wing is fitted too.
    wing_fraction : float, optional
        Hold the wing's share at this value.
    {focal_plane}
    {source}
    {trace}

    Returns
    -------
    raytrace.analysis.Calibration
        The fitted slope errors; ``.optic`` is the calibrated optic.

    Examples
    --------
    >>> fit = raytrace.calibrate("xmm_design", 1.5, 20.0, rays=50_000)  # slope errors for an HPD of 20 arcsec
    >>> print(f"HPD {fit.hpd_arcsec:.1f} arcsec")
    HPD 20.0 arcsec
    """
    z = None if focal_plane_z_mm == "best" else _value(focal_plane_z_mm, u.mm)
    w90 = None if w90_arcsec is None else _value(w90_arcsec, u.arcsec)
    return analysis.calibrate(
        load(optic),
        _value(energy_kev, u.keV),
        _value(hpd_arcsec, u.arcsec),
        w90,
        wing_fraction,
        z,
        _source(source),
        rays,
        seed,
    )


@_document
@_old_source_keywords(*OLD_SOURCE_KEYWORDS)
def fit_encircled(
    optic,
    targets=(),
    areas=(),
    *,
    ee_error: float = 0.01,
    area_radius_arcsec=math.inf,
    normalise_arcsec=math.inf,
    scattering: bool = True,
    psd_band_per_um=PSD_BAND_PER_UM,
    focal_plane_z_mm="best",
    source=SOURCE,
    rays: int = RAYS_PER_POINT,
    seed: int = 0,
    fixed: dict | None = None,
) -> PsfFit:
    """Fit an optic to measured encircled-energy curves and on-axis areas.

    The fitted parameters are the slope errors' core, a wing (share and width) and, with `scattering`, the PSD index
    of the coatings' surfaces; the areas add the spider's spoke width and the coatings' roughness. The method
    (least squares over traces with common random numbers) is `raytrace.analysis.calibration.fit_psf`.

    Parameters
    ----------
    {optic}
    targets : sequence of (energy_kev, radii_arcsec, fractions)
        Measured encircled fractions at these radii (arcsec) and energies (keV).
    areas : sequence of (energy_kev, area_cm2, error_cm2)
        Measured on-axis areas (cm2).
    ee_error : float, optional
        The error of each measured fraction.
    area_radius_arcsec : float or Quantity, optional
        The model area is the focused flux within this radius (arcsec; default all of it).
    normalise_arcsec : float or Quantity, optional
        The measured fractions are of the flux within this radius (arcsec; default all of it).
    scattering : bool, optional
        Fit the PSD index of the coatings' scattering.
    psd_band_per_um : (float, float), optional
        The band of spatial frequencies of the fitted PSD (1/um).
    {focal_plane}
    {source}
    {trace}
    fixed : dict, optional
        Parameters held at given values, ``{name: value}``.

    Returns
    -------
    raytrace.analysis.PsfFit
        The parameters with their errors, chi^2 and the residuals; ``.optic`` is the calibrated optic.

    Examples
    --------
    >>> from importlib.resources import files
    >>> king = files("geometries") / "data" / "xmm_king_psf_mos1.csv"  # XMM's in-orbit PSF at 1.5 keV
    >>> targets = raytrace.read_king(king, [1.5], [5, 15, 30, 60], normalise_arcsec=300)
    >>> fit = raytrace.fit_encircled("xmm_design", targets, scattering=False, rays=20_000)
    >>> sorted(fit.parameters)
    ['core_scale', 'wing_arcsec', 'wing_fraction']
    """
    z = None if focal_plane_z_mm == "best" else _value(focal_plane_z_mm, u.mm)
    radius, normalise = (_value(r, u.arcsec, allow_inf=True) for r in (area_radius_arcsec, normalise_arcsec))
    return analysis.fit_psf(
        load(optic),
        targets,
        areas,
        ee_error,
        radius,
        normalise,
        scattering,
        tuple(psd_band_per_um),
        z,
        _source(source),
        rays,
        seed,
        fixed=fixed,
    )


@_document
def optimise(
    focal_lengths_mm=None,
    *,
    vary: dict | None = None,
    design: SegmentedDesign | str = "babyiaxo",
    groups: int = 4,
    materials=MATERIALS,
    detector: Detector | str | None = None,
    source: SolarSource | None = None,
    objective: str = "f_do",
    objective_mass_ev: float = 1e-3,
    rays: int = RAYS_PER_POINT,
    seed: int = 0,
    evaluations: int = 40,
    generations: int = 5,
    executor=None,
    checkpoint: str | os.PathLike | None = None,
    progress=None,
) -> ScanResult:
    """Optimise a segmented design over its focal length or other design values, and its coatings.

    At every point each group of layers gets its best coating recipe (re-weighting one geometric trace); the best
    design is verified by a full trace.

    Parameters
    ----------
    focal_lengths_mm : array_like or Quantity, optional
        Focal lengths to scan (mm). Give these or `vary`.
    vary : dict, optional
        ``{key: (low, high)}`` for the keys of ``raytrace design --set`` (for example ``r_min_mm``,
        ``inner.segment_length_mm``, ``focal_length_mm``), searched by differential evolution.
    design : SegmentedDesign or str, optional
        The starting design (default the BabyIAXO custom optic).
    groups : int, optional
        Groups of layers, each with its own recipe.
    materials : sequence of str, optional
        Material systems to try, from ``'wb4c'``, ``'ptc'``, ``'ir'`` and ``'au'``.
    detector : Detector or path, optional
        Default: the BabyIAXO Micromegas.
    source : SolarSource, optional
        Default: `solar_source()`.
    objective : {'f_do', 'sensitivity'}, optional
        The largest f_DO, or the smallest combined g_agamma at `objective_mass_ev` with every bore holding the design.
    objective_mass_ev : float, optional
        Axion mass (eV) of the sensitivity objective.
    {trace}
    evaluations : int, optional
        Recipe evaluations per group and multilayer system.
    generations : int, optional
        Generations of the differential evolution (with `vary`).
    executor : concurrent.futures.Executor, optional
        Runs the points (local processes or a Dask cluster's).
    checkpoint : str or path, optional
        A file recording each finished point, from which a rerun of the same problem resumes.
    progress : callable, optional
        Called with each finished row.

    Returns
    -------
    raytrace.helioscope.optimise.ScanResult
        The table of the points, the best design and its verifying trace.

    Examples
    --------
    >>> result = raytrace.optimise([4000, 6000], groups=1, materials=["ir"], rays=20_000, evaluations=5)
    >>> print(len(result.table), f"{result.best_design.focal_length_mm:g} mm")
    2 6000 mm
    """
    from .helioscope import optimise as scan

    base, focal_lengths, variables = optimise_problem(focal_lengths_mm, vary, design, groups, materials, generations)
    for f in focal_lengths or ():  # every focal length must give a valid optic and its groups, before any trace
        scan.group_bounds(base.with_focal_length(f), groups)
    settings = scan.ScanSettings(groups, tuple(materials), rays, seed, evaluations, objective, objective_mass_ev)
    detector = _detector(detector)
    source = source or solar_source()
    if objective == "sensitivity" and source.model.coupling != "g_agamma":
        raise ValueError(
            f"objective 'sensitivity' ranks designs by g_agamma from the Primakoff flux; the source's "
            f"{source.model.name} flux is set by {source.model.coupling}: rank by f_do instead"
        )
    checkpoint = None if checkpoint is None else Path(checkpoint)
    if checkpoint is not None:
        scan.open_checkpoint(checkpoint)
    if vary is None:
        rows = scan.run_scan(base, focal_lengths, source, detector, settings, executor, checkpoint, progress)
    else:
        rows = scan.vary_design(
            base, variables, source, detector, settings, generations, executor, checkpoint, progress
        )
    return scan.scan_result(rows, base, source, detector, settings, executor)


def optimise_problem(focal_lengths_mm, vary, design, groups: int, materials, generations: int):
    """`optimise`'s checks of the problem that cost no trace (the command line calls them before it starts its
    workers): the design as a SegmentedDesign, the focal lengths (mm; None for a search) and the varied design values
    ({key: (low, high)}; None for a scan). InputError names what is wrong. Whether every focal length makes an optic
    `optimise` checks itself, once, before its scan starts."""
    from .helioscope import optimise as scan

    base = design if isinstance(design, SegmentedDesign) else load_design(design)
    if (focal_lengths_mm is None) == (vary is None):
        raise InputError("focal_lengths_mm", NO_VALUE, "give them (a scan) or {vary} (a search), not both or neither")
    if not materials or any(m not in scan.MATERIAL_SYSTEMS for m in materials):
        raise InputError("materials", list(materials), f"choose from {', '.join(scan.MATERIAL_SYSTEMS)}")
    if vary is None:
        return base, [float(f) for f in _values(focal_lengths_mm, u.mm)], None
    variables = {str(key): (float(low), float(high)) for key, (low, high) in dict(vary).items()}
    for key, (low, high) in variables.items():
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise InputError("vary", f"{key}={low:g}:{high:g}", "need finite bounds with low < high")
    middle = [f"{key}={0.5 * (low + high)!r}" for key, (low, high) in variables.items()]
    scan.group_bounds(base.with_overrides(middle), groups)  # unknown keys and a box without optics fail here
    if not (isinstance(generations, int) and generations >= 1):
        raise InputError("generations", generations, "must be a whole number >= 1")
    return base, None, variables


@contextlib.contextmanager
def _photon_list(
    events, frame: str, optic: Optic, source, rays: int, seed: int, events_all: bool = False, entrance=None
):
    """The photon-list writers of a run (`raytrace.output.photons`), as one function to call with each traced chunk
    (None: no list): `events` the exit list, of the rays reaching the focal plane or, with `events_all` or an
    `entrance` list, of every ray; `entrance` every ray as it enters the optic. Both in `frame` ('optic' or 'beam'),
    closed when the run ends and removed if it fails."""
    check_photon_lists(events, entrance, events_all)
    if events is None and entrance is None:
        yield None
        return
    meta = provenance(optic=optic, source=source, rays=rays, seed=seed)
    writers = []  # (writer, what it is given: None for the traced chunk, else a function of it)
    try:
        if events is not None:
            writers.append(
                (open_photon_list(events, meta, frame, "all" if events_all or entrance else "focal_plane"), None)
            )
        if entrance is not None:
            writers.append(
                (
                    open_photon_list(entrance, meta, frame, "entrance"),
                    _entrance_states(Trace(optic, source), seed_key(seed), rays),
                )
            )

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


def _solar_model(name: str, parameter: str = "solar_model"):
    """The Primakoff model called `name` (`raytrace.sources.solar.MODELS`)."""
    from .sources.solar import MODELS

    if name not in MODELS:
        raise InputError(parameter, name, f"choose from {', '.join(sorted(MODELS))}")
    return MODELS[name]


def _detector(detector) -> Detector:
    return detector if isinstance(detector, Detector) else load_detector(detector)


def make_source(off_axis_arcmin=0.0, azimuth_deg=0.0, source_distance_m=math.inf, source_size_mm=0.0):
    """A parallel beam or a point source at a finite distance, for the ``source`` of the functions that trace X-rays.

    Parameters
    ----------
    off_axis_arcmin : float or Quantity, optional
        Angle of the source from the optical axis (arcmin).
    azimuth_deg : float or Quantity, optional
        Azimuth of the source's direction about the axis (deg).
    source_distance_m : float or Quantity, optional
        Distance of the source from the optic's intersection plane (m); default infinity, a parallel beam.
    source_size_mm : float or Quantity, optional
        Radius of a disc source at a finite distance (mm); 0 is a point.

    Returns
    -------
    ParallelBeam or PointSource

    Examples
    --------
    >>> print(raytrace.make_source(off_axis_arcmin=5, source_distance_m=130).describe())
    point source at 130 m, off-axis 5 arcmin, azimuth 0 deg
    """
    off_axis, azimuth = _value(off_axis_arcmin, u.arcmin, u.rad), _value(azimuth_deg, u.deg, u.rad)
    distance = _value(source_distance_m, u.m, allow_inf=True)
    size = _value(source_size_mm, u.mm)
    if math.isinf(distance) and distance > 0:
        if size != 0:
            raise ValueError(f"source size = {size:g} mm: a source at infinity has no size; give its distance")
        return ParallelBeam(off_axis, azimuth)
    return PointSource(distance, off_axis, azimuth, size)


def _source(source, directed: bool = True):
    """The X-ray source `source` gives: a ParallelBeam or PointSource as it is, or its text (`raytrace.sources.spec`).
    Without `directed` (the functions whose grid gives the directions) it must be on axis."""
    if isinstance(source, str):
        spec = parse_source(source)
        if spec.has_direction and not directed:
            raise InputError(
                "source", source, "{off_axis_arcmin} and {azimuth_deg} give the directions; give the source without one"
            )
        try:
            return make_source(spec.off_axis_arcmin or 0.0, spec.azimuth_deg or 0.0, spec.distance_m, spec.size_mm)
        except ValueError as exc:  # a well-formed text whose values the source does not allow
            raise InputError("source", source, str(exc)) from None
    if not isinstance(source, (ParallelBeam, PointSource)):
        raise InputError(
            "source",
            type(source).__name__,
            f"expected a ParallelBeam or a PointSource (`make_source`), or a text: {SOURCE_FORMS}",
        )
    if not directed and source.pointing_rad[0] != 0.0:
        raise InputError(
            "source",
            source.describe(),
            "{off_axis_arcmin} and {azimuth_deg} give the directions; give an on-axis source",
        )
    return source


def _values(value, unit: u.Unit, to: u.Unit | None = None) -> np.ndarray:
    """A Quantity (in any unit convertible to `unit`) or plain numbers in `unit`, as floats in `to` (default `unit`)."""
    quantity = value.to(unit) if isinstance(value, u.Quantity) else np.asarray(value, dtype=float) * unit
    return np.atleast_1d(quantity.to_value(to or unit)).astype(float)


def _value(value, unit: u.Unit, to: u.Unit | None = None, allow_inf: bool = False) -> float:
    values = _values(value, unit, to)
    if values.size != 1 or np.isnan(values[0]) or (np.isinf(values[0]) and not allow_inf):
        raise ValueError(f"{value!r}: expected one {'' if allow_inf else 'finite '}number ({unit})")
    return float(values[0])
