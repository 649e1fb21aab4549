"""Parratt recursion for the specular reflectivity of a layered mirror at grazing incidence.

Media are indexed j = 0 (vacuum above), 1..L (films, top first), L + 1 (substrate).
kz_j = k sqrt(n_j^2 - cos^2 theta) with theta the graze angle and the branch Im(kz) >= 0,
so that every layer's field decays downward and thick absorbing layers give
exp(2 i kz d) -> 0 instead of overflowing. n^2 - cos^2 theta is evaluated as
(n - 1)(n + 1) + sin^2 theta, which keeps its digits at grazing angles where both
terms are ~1e-5. Interface roughness and interdiffusion enter as the Nevot-Croce
factor exp(-2 kz_j kz_j+1 sigma^2) on each Fresnel coefficient.

The kernel is shared out over energies (`coatings.threads`) and vectorised over angles. kz is computed once per
distinct material and the Fresnel coefficients once per distinct interface (upper material,
lower material, sigma); a layer costs a short series for its phase (a fresh exponential
where the thickness jumps) and two complex divisions per angle: a 200-layer depth-graded
W/B4C stack on 180 x 600 (energy, angle) points takes 0.09 s on 2 cores (0.36 s with a
complex exponential and numba's complex division per layer).
"""

from __future__ import annotations

import cmath
import math

import numba
import numpy as np

from .threads import split_over_threads

HC_KEV_NM = 1.239841984332003  # h c in keV nm (CODATA 2018)
POLARISATIONS = ("s", "p", "unpolarised")


def parratt_reflectivity(
    indices, thickness_nm, roughness_nm, energy_kev, graze_rad, polarisation="unpolarised", needed=None
):
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
        raise ValueError(
            f"needed has shape {np.shape(needed)}: it must be (energies, angles) = {(energy.size, theta.size)}"
        )
    reflectivity_s = np.empty((energy.size, theta.size))
    reflectivity_p = np.empty((energy.size, theta.size))
    sin2 = np.sin(theta) ** 2
    split_over_threads(
        _parratt,
        energy.size,
        materials - 1.0,
        kinds[:, 0].astype(np.int64),
        kinds[:, 1].astype(np.int64),
        kinds[:, 2].copy(),
        interface_kind.reshape(-1).astype(np.int64),
        medium_material,
        np.concatenate([[0.0], d, [0.0]]),
        2.0 * np.pi / HC_KEV_NM * energy,
        sin2,
        float(np.max(sin2, initial=0.0)),
        np.asarray(needed, dtype=np.bool_),
        reflectivity_s,
        reflectivity_p,
    )
    if polarisation == "s":
        return reflectivity_s
    if polarisation == "p":
        return reflectivity_p
    return 0.5 * (reflectivity_s + reflectivity_p)


# Functions only other kernels call are compiled without numba's Python and C wrappers (a first run would wait for
# them); LLVM inlines them.
_INTERNAL = dict(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)

PHASE_STEP_LIMIT = 0.1  # largest |2 i kz (d - d_previous)| continued by the series; beyond it, a fresh exp
PHASE_SERIES_TERMS = 10  # truncation |z|^11 / 11! < 3e-19 at the limit
_SERIES_RECIPROCALS = tuple(1.0 / n for n in range(PHASE_SERIES_TERMS, 0, -1))


@numba.njit(cache=True, no_cfunc_wrapper=True, nogil=True)
def _parratt(
    n_minus_one,
    kind_upper,
    kind_lower,
    kind_sigma2,
    interface_kind,
    medium_material,
    thickness,
    wavenumber,
    sin2,
    sin2_largest,
    needed,
    out_s,
    out_p,
    first_energy,
    end_energy,
):
    """|r|^2 for s and p polarisation at every needed (energy, angle), recursion from the substrate up (NaN at the
    others).

    At energies first_energy .. end_energy - 1 (`coatings.threads.split_over_threads` shares them out); within an
    energy the needed angles are the inner, branch-free loops (real and
    imaginary parts in separate arrays, complex division as multiplication by the conjugate) that LLVM turns
    into vector instructions. A layer's phase exp(2 i kz d) is the previous phase of the same material times
    exp(2 i kz (d - d_previous)) summed as a series, when that step is small for every angle (depth-graded
    multilayers change d by a few hundredths of a nm per bilayer); otherwise a fresh exp.
    """
    for e in range(first_energy, end_energy):
        _parratt_energy(
            n_minus_one,
            kind_upper,
            kind_lower,
            kind_sigma2,
            interface_kind,
            medium_material,
            thickness,
            wavenumber,
            sin2,
            sin2_largest,
            needed,
            out_s,
            out_p,
            e,
        )


@numba.njit(**_INTERNAL, nogil=True)
def _parratt_energy(
    n_minus_one,
    kind_upper,
    kind_lower,
    kind_sigma2,
    interface_kind,
    medium_material,
    thickness,
    wavenumber,
    sin2,
    sin2_largest,
    needed,
    out_s,
    out_p,
    e,
):
    """`_parratt` at energy index e."""
    n_materials = n_minus_one.shape[0]
    n_kinds = kind_upper.shape[0]
    n_media = medium_material.shape[0]
    n_angles = sin2.shape[0]
    k = wavenumber[e]
    angle = np.empty(n_angles, np.int64)
    count = 0
    for a in range(n_angles):
        if needed[e, a]:
            angle[count] = a
            count += 1
        else:
            out_s[e, a] = np.nan
            out_p[e, a] = np.nan
    if count == 0:
        return
    kz_re = np.empty((n_materials, count))
    kz_im = np.empty((n_materials, count))
    kz_bound = np.empty(n_materials)  # >= |kz| at every angle of the grid, whichever are needed
    for m in range(n_materials):
        kz_bound[m] = k * math.sqrt(abs(n_minus_one[m, e] * (n_minus_one[m, e] + 2.0)) + sin2_largest)
    for m in range(n_materials):
        for i in range(count):
            q = k * cmath.sqrt(n_minus_one[m, e] * (n_minus_one[m, e] + 2.0) + sin2[angle[i]])
            if q.imag < 0.0 or (q.imag == 0.0 and q.real < 0.0):
                q = -q
            kz_re[m, i] = q.real
            kz_im[m, i] = q.imag
    r_s_re = np.empty((n_kinds, count))
    r_s_im = np.empty((n_kinds, count))
    r_p_re = np.empty((n_kinds, count))
    r_p_im = np.empty((n_kinds, count))
    for j in range(n_kinds):
        upper, lower = kind_upper[j], kind_lower[j]
        eu = (n_minus_one[upper, e] + 1.0) ** 2
        el = (n_minus_one[lower, e] + 1.0) ** 2
        for i in range(count):
            ku = complex(kz_re[upper, i], kz_im[upper, i])
            kl = complex(kz_re[lower, i], kz_im[lower, i])
            damping = cmath.exp(-2.0 * ku * kl * kind_sigma2[j])
            r_s = _ratio(ku - kl, ku + kl) * damping
            r_p = _ratio(el * ku - eu * kl, el * ku + eu * kl) * damping
            r_s_re[j, i], r_s_im[j, i] = r_s.real, r_s.imag
            r_p_re[j, i], r_p_im[j, i] = r_p.real, r_p.imag
    bottom = interface_kind[n_media - 2]
    amp_s_re, amp_s_im = r_s_re[bottom].copy(), r_s_im[bottom].copy()
    amp_p_re, amp_p_im = r_p_re[bottom].copy(), r_p_im[bottom].copy()
    phase_re = np.empty((n_materials, count))
    phase_im = np.empty((n_materials, count))
    phase_thickness = np.full(n_materials, np.nan)
    for j in range(n_media - 3, -1, -1):  # interface between medium j and the film j + 1 below it
        film = j + 1
        m = medium_material[film]
        _advance_phase(
            kz_re[m],
            kz_im[m],
            thickness[film],
            phase_thickness[m],
            2.0 * kz_bound[m] * abs(thickness[film] - phase_thickness[m]) <= PHASE_STEP_LIMIT,
            phase_re[m],
            phase_im[m],
        )
        phase_thickness[m] = thickness[film]
        kind = interface_kind[j]
        _parratt_step(r_s_re[kind], r_s_im[kind], phase_re[m], phase_im[m], amp_s_re, amp_s_im)
        _parratt_step(r_p_re[kind], r_p_im[kind], phase_re[m], phase_im[m], amp_p_re, amp_p_im)
    for i in range(count):
        out_s[e, angle[i]] = amp_s_re[i] * amp_s_re[i] + amp_s_im[i] * amp_s_im[i]
        out_p[e, angle[i]] = amp_p_re[i] * amp_p_re[i] + amp_p_im[i] * amp_p_im[i]


@numba.njit(**_INTERNAL)
def _advance_phase(kz_re, kz_im, thickness, previous_thickness, by_series, phase_re, phase_im):
    """phase <- exp(2 i kz thickness), from the phase at previous_thickness when by_series."""
    if by_series:
        step = 2.0 * (thickness - previous_thickness)
        for i in range(kz_re.shape[0]):
            z_re, z_im = -step * kz_im[i], step * kz_re[i]  # z = 2 i kz (d - d_previous)
            s_re, s_im = 1.0, 0.0
            for inverse_n in _SERIES_RECIPROCALS:  # Horner: 1 + z/1 (1 + z/2 (1 + ...)), from the inside out
                s_re, s_im = 1.0 + (z_re * s_re - z_im * s_im) * inverse_n, (z_re * s_im + z_im * s_re) * inverse_n
            phase_re[i], phase_im[i] = phase_re[i] * s_re - phase_im[i] * s_im, phase_re[i] * s_im + phase_im[i] * s_re
    else:
        for i in range(kz_re.shape[0]):
            magnitude = math.exp(-2.0 * thickness * kz_im[i])
            phase_re[i] = magnitude * math.cos(2.0 * thickness * kz_re[i])
            phase_im[i] = magnitude * math.sin(2.0 * thickness * kz_re[i])


@numba.njit(**_INTERNAL)
def _parratt_step(r_re, r_im, phase_re, phase_im, amp_re, amp_im):
    """amp <- (r + amp phase) / (1 + r amp phase), elementwise: the reflection amplitude one interface up."""
    for i in range(amp_re.shape[0]):
        t_re = amp_re[i] * phase_re[i] - amp_im[i] * phase_im[i]
        t_im = amp_re[i] * phase_im[i] + amp_im[i] * phase_re[i]
        num_re, num_im = r_re[i] + t_re, r_im[i] + t_im
        den_re = 1.0 + r_re[i] * t_re - r_im[i] * t_im
        den_im = r_re[i] * t_im + r_im[i] * t_re
        scale = 1.0 / (den_re * den_re + den_im * den_im)  # |1 + r amp phase| >= 1 - |r| |amp| > 0: no overflow
        amp_re[i] = (num_re * den_re + num_im * den_im) * scale
        amp_im[i] = (num_im * den_re - num_re * den_im) * scale


@numba.njit(**_INTERNAL)
def _ratio(numerator, denominator):
    """numerator / denominator, with 0/0 (two media with the same kz, e.g. at theta = 0 in vacuum) = 0."""
    if denominator == 0.0:
        return 0.0j
    return numerator / denominator
