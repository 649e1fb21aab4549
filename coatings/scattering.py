"""Scattering by the roughness of a mirror's top surface, in first-order (Rayleigh-Rice) perturbation theory.

A coating's `SurfaceScattering` gives the one-dimensional power spectral density (PSD) of its surface height along
the plane of incidence, P(f) ~ |f|^-n over the band f_min <= |f| <= f_max, whose integral over both signs of f is
sigma^2 (sigma: the band's rms roughness). A ray meeting the surface at graze angle a (wavelength lambda) is
scattered by the surface's frequency f into the graze angle a_s of the grating equation

    cos a_s = cos a - lambda f         (f > 0: away from the surface, a_s > a; f < 0: towards it, a_s < a),

and only where that has a solution (|cos a_s| <= 1): a frequency above (1 - cos a) / lambda cannot scatter
towards the surface. First-order theory gives the flux scattered per unit frequency, per unit incident flux (|f| in P)
(Church & Takacs, Proc. SPIE 1165 (1989) 136; for X-ray telescopes D. Spiga, A&A 468 (2007) 775, eq. 1, written
per unit frequency with d(cos a_s) = lambda df):

    dS / df = (16 pi^2 / lambda^2) sin a sin a_s Q P(f),     Q = sqrt(R_0(a) R_0(a_s)),

R_0 the reflectivity of the surface without the band's roughness. Q is exact for a single interface in the
distorted-wave Born approximation (Sinha et al., Phys. Rev. B 38 (1988) 2297): |t(a)|^2 |t(a_s)|^2 |1 - n^2|^2 /
(16 sin^2 a sin^2 a_s), with t the Fresnel transmission, equals |r(a)| |r(a_s)|. Below the critical angle it
keeps rays from scattering to angles where the mirror no longer reflects. For a multilayer we use the stack's own
R_0 in Q, as if the stack were one surface: this ignores the resonant diffuse scattering of correlated interior
roughness near the Bragg angles, whose flux the Nevot-Croce factors of the interior interfaces remove instead.

Near the specular direction (a_s -> a, Q -> R_0) the integral over both sides, tau (per unit R_0), is the
Debye-Waller total integrated scatter TIS = (4 pi sigma sin a / lambda)^2, which is also the share the roughness
takes from the specular beam. Away from it, first order differs: the factor sin a_s grows for large angles, R_0(a_s)
falls above the critical angle, and the frequencies that cannot propagate do not scatter. The tracer keeps both:

- specular: R_0 exp(-L), L = max(TIS, tau). Where the mirror absorbs what scatters into it (tau < TIS, as for
  gold at 8 keV and 8 mrad) the specular beam loses the Debye-Waller share, valid below the critical angle too,
  where the Nevot-Croce factor of the same roughness would be far smaller. Where the scattered flux exceeds it (at
  small graze angles the rays scatter to a_s >> a, and sin a_s / sin a grows), energy conservation makes the
  specular beam lose at least what scatters, as for a perfect reflector;
- scattered: R_0 min(tau, 1 - exp(-L)), distributed as dS / df, so that specular plus scattered never exceeds R_0;
- the rest, R_0 (1 - exp(-L)) - scattered, leaves into the mirror (diffuse scatter below the surface).

Out of the plane of incidence a frequency f deviates a ray by lambda f, smaller by sin a than in the plane; it is
neglected. Every quantity is per reflection; the PSF of two reflections follows from tracing.

First order holds for TIS << 1 (sigma sin a << lambda / 4 pi). The Debye-Waller loss assumes that the band's
frequencies scatter near the specular direction, up to about a^2 / lambda (0.2-0.4 /um for gold at 8 keV and
8 mrad); roughness at far higher frequencies lowers the specular beam as a graded interface does, and belongs
outside the band, with the Nevot-Croce factor of the rest of the top interface's roughness.
"""

from __future__ import annotations

import math

import numba
import numpy as np

HC_KEV_NM = 1.2398419843320026  # h c: wavelength (nm) x photon energy (keV)


def specular_share(roughness_nm, energy_kev, graze_rad, tau):
    """exp(-max(TIS, tau)): the share of R_0 the specular beam keeps on a surface whose band holds roughness of rms
    sigma (nm), at graze angle a (rad) and photon energy E (keV), with TIS = (4 pi sigma sin a / lambda)^2 and tau
    the first-order scattered flux per unit R_0 (broadcasting)."""
    wavelength = HC_KEV_NM / np.asarray(energy_kev, dtype=float)
    tis = (4.0 * math.pi * roughness_nm * np.sin(graze_rad) / wavelength) ** 2
    return np.exp(-np.maximum(tis, tau))


@numba.njit(cache=True, no_cfunc_wrapper=True, inline="always", error_model="numpy")
def band_share(psd_index, f_lo, f_hi, f):
    """The share of a power-law PSD's power over [f_lo, f_hi] that lies in [f_lo, f] (0 below the band, 1 above)."""
    f = min(max(f, f_lo), f_hi)
    if abs(psd_index - 1.0) < 1e-9:
        return math.log(f / f_lo) / math.log(f_hi / f_lo)
    e = 1.0 - psd_index
    return (f**e - f_lo**e) / (f_hi**e - f_lo**e)


@numba.njit(cache=True, no_cfunc_wrapper=True, inline="always", error_model="numpy")
def band_frequency(psd_index, f_lo, f_hi, share):
    """The frequency below which `share` of the band's power lies (`band_share`'s inverse)."""
    if abs(psd_index - 1.0) < 1e-9:
        return f_lo * (f_hi / f_lo) ** share
    e = 1.0 - psd_index
    return (f_lo**e + share * (f_hi**e - f_lo**e)) ** (1.0 / e)


@numba.njit(cache=True, no_cfunc_wrapper=True, inline="always", error_model="numpy")
def towards_cutoff(graze, wavelength):
    """The highest frequency (1/nm) that can scatter towards the surface: (1 - cos a) / lambda (half-angle form)."""
    return 2.0 * math.sin(0.5 * graze) ** 2 / wavelength


@numba.njit(cache=True, no_cfunc_wrapper=True, inline="always", error_model="numpy")
def scattered_graze(graze, wavelength, f, towards):
    """The graze angle a_s of the grating equation cos a_s = cos a -+ lambda f (half-angle form, which keeps the
    digits of cosines of grazing angles), for a frequency that propagates."""
    half = math.sin(0.5 * graze) ** 2 + (-0.5 if towards else 0.5) * wavelength * f
    return 2.0 * math.asin(math.sqrt(min(max(half, 0.0), 1.0)))
