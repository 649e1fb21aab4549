"""Parratt recursion for the specular reflectivity of a layered mirror at grazing incidence.

Media are indexed j = 0 (vacuum above), 1..L (films, top first), L + 1 (substrate).
kz_j = k sqrt(n_j^2 - cos^2 theta) with theta the graze angle and the branch Im(kz) >= 0,
so that every layer's field decays downward and thick absorbing layers give
exp(2 i kz d) -> 0 instead of overflowing. Interface roughness enters as the
Nevot-Croce factor exp(-2 kz_j kz_j+1 sigma^2) on each Fresnel coefficient.
"""

from __future__ import annotations

import numpy as np

HC_KEV_NM = 1.239841984332003  # h c in keV nm (CODATA 2018)
POLARISATIONS = ("s", "p", "unpolarised")


def parratt_reflectivity(indices, thickness_nm, roughness_nm, energy_kev, graze_rad, polarisation="unpolarised"):
    """Reflectivity on an energy x angle grid.

    indices: complex refractive indices, shape (L + 2, n_energies): vacuum, films top first, substrate.
    thickness_nm: film thicknesses, shape (L,).
    roughness_nm: rms roughness of each interface, top first, shape (L + 1,).
    energy_kev: shape (n_energies,); graze_rad: shape (n_angles,).
    Returns R with shape (n_energies, n_angles).
    """
    if polarisation not in POLARISATIONS:
        raise ValueError(f"polarisation = {polarisation!r}: allowed values are {', '.join(POLARISATIONS)}")
    if polarisation == "unpolarised":
        rs = parratt_reflectivity(indices, thickness_nm, roughness_nm, energy_kev, graze_rad, "s")
        rp = parratt_reflectivity(indices, thickness_nm, roughness_nm, energy_kev, graze_rad, "p")
        return 0.5 * (rs + rp)

    n = np.asarray(indices, dtype=complex)[:, :, None]  # (media, E, 1)
    d = np.asarray(thickness_nm, dtype=float)
    sigma = np.asarray(roughness_nm, dtype=float)
    energy = np.asarray(energy_kev, dtype=float)
    theta = np.asarray(graze_rad, dtype=float)
    n_media = n.shape[0]
    if d.shape != (n_media - 2,) or sigma.shape != (n_media - 1,):
        raise ValueError("need one thickness per film and one roughness per interface")

    k = (2.0 * np.pi / HC_KEV_NM * energy)[:, None]  # (E, 1), 1/nm
    cos2 = np.cos(theta)[None, :] ** 2
    kz = k * np.sqrt(n * n - cos2)  # (media, E, A)
    kz = np.where(kz.imag < 0, -kz, kz)

    amplitude = np.zeros(kz.shape[1:], dtype=complex)
    for j in range(n_media - 2, -1, -1):  # interface between medium j and j + 1, bottom up
        upper, lower = kz[j], kz[j + 1]
        if polarisation == "s":
            r = (upper - lower) / (upper + lower)
        else:
            eps_u, eps_l = n[j] ** 2, n[j + 1] ** 2
            r = (eps_l * upper - eps_u * lower) / (eps_l * upper + eps_u * lower)
        r = r * np.exp(-2.0 * upper * lower * sigma[j] ** 2)
        if j + 1 <= n_media - 2:
            phase = np.exp(2j * lower * d[j])  # medium j + 1 is film number j (0-based) with thickness d[j]
            amplitude = (r + amplitude * phase) / (1.0 + r * amplitude * phase)
        else:
            amplitude = r
    return np.abs(amplitude) ** 2
