"""Parratt recursion for the specular reflectivity of a layered mirror at grazing incidence.

Media are indexed j = 0 (vacuum above), 1..L (films, top first), L + 1 (substrate).
kz_j = k sqrt(n_j^2 - cos^2 theta) with theta the graze angle and the branch Im(kz) >= 0,
so that every layer's field decays downward and thick absorbing layers give
exp(2 i kz d) -> 0 instead of overflowing. n^2 - cos^2 theta is evaluated as
(n - 1)(n + 1) + sin^2 theta, which keeps its digits at grazing angles where both
terms are ~1e-5. Interface roughness and interdiffusion enter as the Nevot-Croce
factor exp(-2 kz_j kz_j+1 sigma^2) on each Fresnel coefficient.

The kernel is parallel over energies. kz is computed once per distinct material and
the Fresnel coefficients once per distinct interface (upper material, lower material,
sigma), so a layer costs one complex exponential: a 300-layer stack on 600 x 300
(energy, angle) points takes a second or two.
"""

from __future__ import annotations

import cmath

import numba
import numpy as np

HC_KEV_NM = 1.239841984332003  # h c in keV nm (CODATA 2018)
POLARISATIONS = ("s", "p", "unpolarised")


def parratt_reflectivity(indices, thickness_nm, roughness_nm, energy_kev, graze_rad, polarisation="unpolarised",
                         needed=None):
    """Reflectivity on an energy x angle grid.

    indices: complex refractive indices n = 1 - delta + i beta, shape (L + 2, n_energies):
        vacuum, films top first, substrate. Media with identical rows are computed once.
    thickness_nm: film thicknesses, shape (L,).
    roughness_nm: rms width of each interface, top first, shape (L + 1,).
    energy_kev: shape (n_energies,); graze_rad: shape (n_angles,).
    needed: optional boolean mask of shape (n_energies, n_angles): only these points are computed, the others
        are NaN (a caller that reads a few points of a large grid saves the rest).
    Returns R with shape (n_energies, n_angles).
    """
    if polarisation not in POLARISATIONS:
        raise ValueError(f"polarisation = {polarisation!r}: allowed values are {', '.join(POLARISATIONS)}")
    n = np.asarray(indices, dtype=complex)
    d = np.asarray(thickness_nm, dtype=float)
    sigma = np.asarray(roughness_nm, dtype=float)
    energy = np.asarray(energy_kev, dtype=float)
    theta = np.asarray(graze_rad, dtype=float)
    if n.ndim != 2 or n.shape[1] != energy.size:
        raise ValueError("indices must have one row per medium and one column per energy")
    n_media = n.shape[0]
    if n_media < 2 or d.shape != (n_media - 2,) or sigma.shape != (n_media - 1,):
        raise ValueError("need one thickness per film and one roughness per interface")
    materials, medium_material = np.unique(n, axis=0, return_inverse=True)
    medium_material = medium_material.reshape(-1).astype(np.int64)
    upper, lower = medium_material[:-1], medium_material[1:]
    kinds, interface_kind = np.unique(np.stack([upper, lower, sigma**2], axis=1), axis=0, return_inverse=True)
    if needed is None:
        needed = np.ones((energy.size, theta.size), dtype=bool)
    elif np.shape(needed) != (energy.size, theta.size):
        raise ValueError(f"needed has shape {np.shape(needed)}: it must be (energies, angles) = "
                         f"{(energy.size, theta.size)}")
    reflectivity_s = np.empty((energy.size, theta.size))
    reflectivity_p = np.empty((energy.size, theta.size))
    _parratt(
        materials - 1.0, kinds[:, 0].astype(np.int64), kinds[:, 1].astype(np.int64), kinds[:, 2].copy(),
        interface_kind.reshape(-1).astype(np.int64), medium_material, np.concatenate([[0.0], d, [0.0]]),
        2.0 * np.pi / HC_KEV_NM * energy, np.sin(theta) ** 2, np.asarray(needed, dtype=np.bool_), reflectivity_s,
        reflectivity_p,
    )
    if polarisation == "s":
        return reflectivity_s
    if polarisation == "p":
        return reflectivity_p
    return 0.5 * (reflectivity_s + reflectivity_p)


@numba.njit(cache=True, parallel=True)
def _parratt(n_minus_one, kind_upper, kind_lower, kind_sigma2, interface_kind, medium_material, thickness,
             wavenumber, sin2, needed, out_s, out_p):
    """|r|^2 for s and p polarisation at every needed (energy, angle), recursion from the substrate up (NaN at the
    others)."""
    n_materials = n_minus_one.shape[0]
    n_kinds = kind_upper.shape[0]
    n_media = medium_material.shape[0]
    for e in numba.prange(wavenumber.shape[0]):
        k = wavenumber[e]
        kz = np.empty(n_materials, np.complex128)
        eps = np.empty(n_materials, np.complex128)
        r_s = np.empty(n_kinds, np.complex128)
        r_p = np.empty(n_kinds, np.complex128)
        for m in range(n_materials):
            eps[m] = (n_minus_one[m, e] + 1.0) ** 2
        for a in range(sin2.shape[0]):
            if not needed[e, a]:
                out_s[e, a] = np.nan
                out_p[e, a] = np.nan
                continue
            for m in range(n_materials):
                q = k * cmath.sqrt(n_minus_one[m, e] * (n_minus_one[m, e] + 2.0) + sin2[a])
                kz[m] = -q if q.imag < 0.0 or (q.imag == 0.0 and q.real < 0.0) else q
            for j in range(n_kinds):
                ku = kz[kind_upper[j]]
                kl = kz[kind_lower[j]]
                damping = cmath.exp(-2.0 * ku * kl * kind_sigma2[j])
                r_s[j] = _ratio(ku - kl, ku + kl) * damping
                eu = eps[kind_upper[j]]
                el = eps[kind_lower[j]]
                r_p[j] = _ratio(el * ku - eu * kl, el * ku + eu * kl) * damping
            amp_s = r_s[interface_kind[n_media - 2]]
            amp_p = r_p[interface_kind[n_media - 2]]
            for j in range(n_media - 3, -1, -1):  # interface between medium j and the film j + 1 below it
                film = j + 1
                phase = cmath.exp(2j * kz[medium_material[film]] * thickness[film])
                rs = r_s[interface_kind[j]]
                rp = r_p[interface_kind[j]]
                amp_s = (rs + amp_s * phase) / (1.0 + rs * amp_s * phase)
                amp_p = (rp + amp_p * phase) / (1.0 + rp * amp_p * phase)
            out_s[e, a] = amp_s.real * amp_s.real + amp_s.imag * amp_s.imag
            out_p[e, a] = amp_p.real * amp_p.real + amp_p.imag * amp_p.imag


@numba.njit(cache=True, inline="always")
def _ratio(numerator, denominator):
    """numerator / denominator, with 0/0 (two media with the same kz, e.g. at theta = 0 in vacuum) = 0."""
    if denominator == 0.0:
        return 0.0j
    return numerator / denominator
