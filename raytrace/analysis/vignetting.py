"""Vignetting: the effective area at one energy versus off-axis angle."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
from astropy.table import Table

from geometries import Optic

from ..engine import DEFAULT_CHUNK_SIZE, Source
from ..sources import ParallelBeam
from ..version import __version__
from .area import effective_area


def vignetting(optic: Optic, off_axis_arcmin, energy_kev: float, azimuth_deg: float = 0.0, n_rays: int = 200_000,
               seed: int = 0, chunk_size: int = DEFAULT_CHUNK_SIZE, source: Source = ParallelBeam()) -> Table:
    """Effective area (cm2) at one energy versus off-axis angle (arcmin), and relative to on axis, of a parallel
    beam or of `source` (e.g. a point source at a finite distance) moved to each angle."""
    angles = np.asarray(off_axis_arcmin, dtype=float).ravel()

    def area_at(angle):
        beam = source.with_pointing(math.radians(angle / 60.0), math.radians(azimuth_deg))
        area = effective_area(optic, [energy_kev], beam, n_rays, seed, chunk_size)
        return area["effective_area"][0], area["effective_area_err"][0]

    values = np.array([area_at(angle) for angle in angles])
    on_axis = values[angles == 0, 0][0] if np.any(angles == 0) else area_at(0.0)[0]
    return Table(
        {"off_axis": angles * u.arcmin, "effective_area": values[:, 0] * u.cm**2,
         "effective_area_err": values[:, 1] * u.cm**2, "relative_area": values[:, 0] / on_axis},
        meta={"optic": optic.name, "source": source.describe(), "energy_kev": float(energy_kev),
              "azimuth_deg": float(azimuth_deg),
              "rays": int(n_rays), "seed": int(seed), "raytrace_version": __version__},
    )
