"""Reflectivity curves of a coating: R versus energy and graze angle as a table."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table

from coatings import Stack

from ..provenance import provenance


def reflectivity_curves(stack: Stack, energies_kev, angles_mrad, polarisation: str = "unpolarised") -> Table:
    """R of a coating at every (energy, graze angle): columns energy (keV), angle (mrad), reflectivity.

    Energies vary slowest. Angles are graze angles, measured from the mirror surface.
    """
    energies = np.atleast_1d(np.asarray(energies_kev, dtype=float))
    angles = np.atleast_1d(np.asarray(angles_mrad, dtype=float))
    values = stack.reflectivity_grid(energies, angles * 1e-3, polarisation)
    return Table(
        {
            "energy": np.repeat(energies, angles.size) * u.keV,
            "angle": np.tile(angles, energies.size) * u.mrad,
            "reflectivity": values.ravel(),
        },
        meta=provenance(
            recipe=stack.name,
            stack=stack.summary(),
            description=stack.description,
            optical_constants=", ".join(sorted({m.optical_constants for m in stack.materials()})),
            polarisation=polarisation,
        ),
    )
