"""Vignetting: the effective area at one energy versus off-axis angle, and the off-axis response over energy x
off-axis angle x azimuth (written as an OGIP/CALDB vignetting file by `raytrace.output.write_vignetting`)."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
from astropy.table import Table

from coatings import check_energies
from geometries import Optic

from ..engine import DEFAULT_CHUNK_SIZE, Source
from ..sources import ParallelBeam
from .area import effective_area


def vignetting(
    optic: Optic,
    off_axis_arcmin,
    energy_kev: float,
    azimuth_deg: float = 0.0,
    n_rays: int = 200_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    source: Source = ParallelBeam(),
) -> Table:
    """Effective area (cm2) at one energy versus off-axis angle (arcmin), and relative to on axis, of a parallel
    beam or of `source` (e.g. a point source at a finite distance) moved to each angle: `offaxis_response` at one
    energy and azimuth."""
    grid = offaxis_response(optic, [energy_kev], off_axis_arcmin, [azimuth_deg], n_rays, seed, chunk_size, source)
    meta = {
        **grid.meta,
        "energy_kev": float(energy_kev),
        "azimuth_deg": float(azimuth_deg),
        "definition": "effective_area: doubly reflected rays reaching the focal plane; relative_area: effective_area "
        "relative to on axis",
    }
    return Table(
        {
            "off_axis": grid["off_axis"],
            "effective_area": grid["effective_area"],
            "effective_area_err": grid["effective_area_err"],
            "relative_area": grid["vignet"].data,
        },
        meta=meta,
    )


def offaxis_response(
    optic: Optic,
    energies_kev,
    off_axis_arcmin,
    azimuths_deg=(0.0,),
    n_rays: int = 200_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    source: Source = ParallelBeam(),
    progress=None,
) -> Table:
    """Effective area (cm2) over energy (keV) x off-axis angle (arcmin) x azimuth (deg): one geometric trace per
    direction, re-weighted at every energy (`effective_area`). Rows run over azimuth, then angle, then energy;
    `vignet` is the area relative to on axis at the same energy. `progress` is called once per direction."""
    energies = check_energies(energies_kev)
    angles = np.asarray(off_axis_arcmin, dtype=float).ravel()
    azimuths = np.asarray(azimuths_deg, dtype=float).ravel()
    if angles.size == 0 or azimuths.size == 0:
        raise ValueError("off-axis response: give at least one off-axis angle and one azimuth")

    fates: dict = {}

    def areas(angle, azimuth):
        beam = source.with_pointing(math.radians(angle / 60.0), math.radians(azimuth))
        table = effective_area(optic, energies, beam, n_rays, seed, chunk_size)
        for name, count in table.meta["fates"].items():
            fates[name] = fates.get(name, 0) + count
        if progress is not None:
            progress(1)
        return table

    on_axis = areas(0.0, 0.0)
    rows = []
    for azimuth in azimuths:
        for angle in angles:
            table = on_axis if angle == 0 else areas(angle, azimuth)
            rows.append(
                (
                    np.full(energies.size, azimuth),
                    np.full(energies.size, angle),
                    energies,
                    table["effective_area"].value,
                    table["effective_area_err"].value,
                )
            )
    azimuth, angle, energy, area, error = (np.concatenate(c) for c in zip(*rows))
    reference = np.tile(on_axis["effective_area"].value, azimuths.size * angles.size)
    vignet = np.divide(area, reference, out=np.zeros_like(area), where=reference > 0)
    meta = {
        key: on_axis.meta[key]
        for key in ("optic", "focal_length_mm", "source", "rays", "seed", "raytrace_version", "coatings")
    }
    meta.update(
        {
            "fates": fates,
            "fates_over": "every direction traced",
            "off_axis_arcmin": [float(a) for a in angles],
            "azimuth_deg": [float(a) for a in azimuths],
            "definition": "effective_area: doubly reflected rays reaching the focal plane; vignet: effective_area "
            "relative to on axis at the same energy",
        }
    )
    return Table(
        {
            "azimuth": azimuth * u.deg,
            "off_axis": angle * u.arcmin,
            "energy": energy * u.keV,
            "effective_area": area * u.cm**2,
            "effective_area_err": error * u.cm**2,
            "vignet": vignet,
        },
        meta=meta,
    )
