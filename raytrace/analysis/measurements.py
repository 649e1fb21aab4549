"""Readers of measured optics data: the inputs of `raytrace.fit_encircled` from the files a test facility or a
calibration database gives.

Each file is a CSV table (comment lines start with #; their header cites the source) or an ECSV table:
- encircled-energy curves: columns energy_kev, radius_arcsec (radius), fraction (of the flux);
- on-axis effective areas: energy_kev, area_cm2 and optionally area_err_cm2;
- King-profile parameters, PSF ~ [1 + (r / r_c)^2]^-index: core_radius_arcsec, king_index and energy_kev (or
  energy_eV, as calibration files give it).
Errors name the file and what is wrong, as ValueError.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..errors import InputError
from .calibration import king_encircled


def read_encircled(path) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Measured encircled-energy curves.

    Parameters
    ----------
    path : str or path
        A table with columns ``energy_kev``, ``radius_arcsec`` and ``fraction``.

    Returns
    -------
    list of (float, ndarray, ndarray)
        Per energy (keV), the radii (arcsec) and encircled fractions: the ``targets`` of `raytrace.fit_encircled`.

    Examples
    --------
    >>> from importlib.resources import files
    >>> panter = files("geometries") / "data" / "cast_pathfinder_panter_psf.csv"  # the CAST pathfinder at PANTER
    >>> [(round(energy, 2), fractions.tolist()) for energy, radii, fractions in raytrace.read_encircled(panter)]
    [(1.49, [0.5, 0.8, 0.9]), (4.51, [0.5, 0.8, 0.9]), (6.4, [0.5, 0.8, 0.9])]
    """
    table = _read_columns(path, ("energy_kev", "radius_arcsec", "fraction"))
    energies = np.asarray(table["energy_kev"], float)
    radii, fractions = np.asarray(table["radius_arcsec"], float), np.asarray(table["fraction"], float)
    return [(float(e), radii[energies == e], fractions[energies == e]) for e in np.unique(energies)]


def read_areas(path, relative_error: float = 0.01) -> list[tuple[float, float, float]]:
    """Measured on-axis effective areas.

    Parameters
    ----------
    path : str or path
        A table with columns ``energy_kev``, ``area_cm2`` and optionally ``area_err_cm2``.
    relative_error : float, optional
        The error of each area, as a share of it, where the file gives none.

    Returns
    -------
    list of (float, float, float)
        Energy (keV), area and its error (cm2): the ``areas`` of `raytrace.fit_encircled`.

    Examples
    --------
    >>> from importlib.resources import files
    >>> raytrace.read_areas(files("geometries") / "data" / "xmm_ground_calibration.csv")  # XMM's ground calibration
    [(1.5, 1430.0, 29.0), (8.0, 610.0, 12.0)]
    """
    if not (math.isfinite(relative_error) and relative_error > 0):
        raise ValueError(f"relative_error = {relative_error}: must be a number > 0")
    table = _read_columns(path, ("energy_kev", "area_cm2"))
    area = np.asarray(table["area_cm2"], float)
    error = np.asarray(table["area_err_cm2"], float) if "area_err_cm2" in table.colnames else relative_error * area
    return [(float(e), float(a), float(s)) for e, a, s in zip(np.asarray(table["energy_kev"], float), area, error)]


def read_king(path, energies_kev, radii_arcsec, normalise_arcsec: float = math.inf):
    """Encircled-energy curves from King-profile parameters, 1 - (1 + (r / r_c)^2)^(1 - index).

    Parameters
    ----------
    path : str or path
        A table with columns ``core_radius_arcsec``, ``king_index`` and ``energy_kev`` (or ``energy_eV``).
    energies_kev : array_like
        The energies (keV) of the rows to use; each must be in the file.
    radii_arcsec : array_like
        Radii (arcsec) at which to give each curve.
    normalise_arcsec : float, optional
        Give the fractions of the flux within this radius (arcsec), as in-orbit tables are often normalised (at
        5 arcmin for XMM-Newton); default: of the whole profile.

    Returns
    -------
    list of (float, ndarray, ndarray)
        Per energy (keV), the radii (arcsec) and encircled fractions: the ``targets`` of `raytrace.fit_encircled`.

    Examples
    --------
    >>> from importlib.resources import files
    >>> king = files("geometries") / "data" / "xmm_king_psf_mos1.csv"
    >>> (energy, radii, fractions), = raytrace.read_king(king, [1.5], [15, 60], normalise_arcsec=300)
    >>> print(energy, [f"{f:.3f}" for f in fractions])  # the shares within 15 and 60 arcsec of those within 5 arcmin
    1.5 ['0.682', '0.923']
    """
    table = _read_columns(path, ("core_radius_arcsec", "king_index"))
    if "energy_kev" in table.colnames:
        energies = np.asarray(table["energy_kev"], float)
    elif "energy_eV" in table.colnames:
        energies = np.asarray(table["energy_eV"], float) / 1e3
    else:
        raise ValueError(f"{str(path)!r}: needs a column energy_kev or energy_eV")
    if not (normalise_arcsec > 0):
        raise InputError("normalise_arcsec", normalise_arcsec, "must be a radius > 0 arcsec")
    radii = np.asarray(radii_arcsec, float)
    targets = []
    for energy in np.atleast_1d(np.asarray(energies_kev, float)):
        match = np.flatnonzero(np.isclose(energies, energy, rtol=0, atol=1e-6))
        if match.size == 0:
            raise ValueError(
                f"{str(path)!r}: no row at {energy:g} keV (it has {', '.join(f'{e:g}' for e in energies)} keV)"
            )
        row = table[int(match[0])]
        profile = (float(row["core_radius_arcsec"]), float(row["king_index"]))
        normalisation = 1.0 if math.isinf(normalise_arcsec) else king_encircled(normalise_arcsec, *profile)
        targets.append((float(energy), radii, king_encircled(radii, *profile) / normalisation))
    return targets


def _read_columns(path, columns) -> Table:
    if not Path(path).is_file():
        raise ValueError(f"{str(path)!r}: no such file")
    try:
        table = (
            Table.read(path, format="ascii.ecsv")
            if str(path).endswith(".ecsv")
            else Table.read(path, format="ascii.csv", comment="#")
        )
    except Exception as exc:  # astropy's readers raise many kinds of errors for a malformed file
        raise ValueError(f"{str(path)!r}: cannot read it as a table ({exc})") from None
    missing = [c for c in columns if c not in table.colnames]
    if missing:
        raise ValueError(f"{str(path)!r}: missing column {missing[0]!r} (columns: {', '.join(table.colnames)})")
    return table
