"""Mirror coatings: what the tracer asks of a mirror is R(E, graze angle).

Any object with a `name`, a `reflectivity(energy_kev, graze_rad)` method that broadcasts its
arguments and returns the unpolarised reflectivity, `reflectivity_grid(energies, angles)` on their
outer product, and `edge_energies_kev()` is a coating.
`Stack` computes it with the Parratt recursion from tabulated optical constants;
`ConstantReflectivity` is the idealised mirror used to check geometry.

A stack, from the vacuum down: an optional capping layer, then either explicit films (a single
layer, a bilayer, ...) or a multilayer (periodic or depth-graded), then the substrate. Each film
carries the roughness and interdiffusion of its top interface; the substrate those of the interface
to the film above it. For the specular reflectivity an error-function interdiffusion profile of
width s_d acts on each Fresnel coefficient like Gaussian roughness of rms s_r (the Nevot-Croce
factor exp(-2 kz_j kz_j+1 s^2)), so the two add in quadrature: s^2 = s_r^2 + s_d^2. (They differ
in the diffuse scatter that roughness produces and interdiffusion does not: the roughness of a stack's top surface
in the band of a `SurfaceScattering` scatters, see `coatings.scattering`.)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .materials import Material
from .parratt import parratt_reflectivity
from .scattering import specular_share


class Coating(Protocol):
    name: str

    def reflectivity(self, energy_kev, graze_rad) -> np.ndarray: ...

    def reflectivity_grid(self, energy_kev, graze_rad) -> np.ndarray: ...

    def edge_energies_kev(self) -> np.ndarray: ...


class RecipeError(ValueError):
    """A coating recipe that does not describe a physical stack."""


@dataclass(frozen=True)
class ConstantReflectivity:
    """A mirror reflecting the same fraction at every energy and angle."""

    value: float = 1.0
    name: str = "constant"

    def __post_init__(self):
        if not 0.0 <= self.value <= 1.0:
            raise RecipeError(f"constant reflectivity = {self.value}: must be within [0, 1]")

    def reflectivity(self, energy_kev, graze_rad) -> np.ndarray:
        shape = np.broadcast_shapes(np.shape(energy_kev), np.shape(graze_rad))
        return np.full(shape, self.value)

    def reflectivity_grid(self, energy_kev, graze_rad) -> np.ndarray:
        return np.full((np.size(energy_kev), np.size(graze_rad)), self.value)

    def edge_energies_kev(self) -> np.ndarray:
        return np.empty(0)


# The Nevot-Croce factor describes interfaces much narrower than the layers and the wavelength; beyond
# ~5 nm it can exceed 1 between absorbing layers (R > 1 was found at 10 nm for the shipped multilayers).
MAX_INTERFACE_WIDTH_NM = 5.0
MAX_BILAYERS = 5000


def _check_interface(roughness_nm: float, interdiffusion_nm: float, where: str) -> None:
    for field, value in (("roughness_nm", roughness_nm), ("interdiffusion_nm", interdiffusion_nm)):
        if not (math.isfinite(value) and value >= 0):
            raise RecipeError(f"{where}: {field} = {value}: must be a number >= 0")
    width = math.hypot(roughness_nm, interdiffusion_nm)
    if width > MAX_INTERFACE_WIDTH_NM:
        raise RecipeError(
            f"{where}: interface width {width:g} nm (roughness_nm and interdiffusion_nm in quadrature) exceeds "
            f"{MAX_INTERFACE_WIDTH_NM:g} nm, beyond which the Nevot-Croce model is not valid"
        )


@dataclass(frozen=True)
class Layer:
    """A film: material, thickness and the roughness and interdiffusion (rms, nm) of its top interface."""

    material: Material
    thickness_nm: float
    roughness_nm: float = 0.0
    interdiffusion_nm: float = 0.0

    def __post_init__(self):
        where = f"layer {self.material.formula}"
        if not (math.isfinite(self.thickness_nm) and self.thickness_nm > 0):
            raise RecipeError(f"{where}: thickness_nm = {self.thickness_nm}: must be a number > 0")
        _check_interface(self.roughness_nm, self.interdiffusion_nm, where)


MULTILAYER_TOPS = ("absorber", "spacer")


@dataclass(frozen=True)
class Multilayer:
    """N bilayers of an absorber (high Z) and a spacer, with periods d_i = a / (b + i)^c.

    i = 1 is the top (thickest, d_max) bilayer and i = N the bottom one (d_min); d_min = d_max is a
    periodic stack (c is then irrelevant). gamma is the absorber's share of each period; `top`
    names the material of each bilayer that faces the vacuum. Every interface in the stack has the
    same roughness and interdiffusion.
    """

    absorber: Material
    spacer: Material
    bilayers: int
    gamma: float
    d_min_nm: float
    d_max_nm: float
    c: float = 1.0
    top: str = "absorber"
    roughness_nm: float = 0.0
    interdiffusion_nm: float = 0.0

    def __post_init__(self):
        where = "multilayer"
        if (
            isinstance(self.bilayers, bool)
            or not isinstance(self.bilayers, (int, np.integer))
            or not 1 <= self.bilayers <= MAX_BILAYERS
        ):
            raise RecipeError(f"{where}: bilayers = {self.bilayers!r}: must be a whole number from 1 to {MAX_BILAYERS}")
        if not (math.isfinite(self.gamma) and 0.0 < self.gamma < 1.0):
            raise RecipeError(f"{where}: gamma = {self.gamma}: the absorber fraction must lie strictly between 0 and 1")
        if not (math.isfinite(self.d_min_nm) and self.d_min_nm > 0):
            raise RecipeError(f"{where}: d_min_nm = {self.d_min_nm}: must be a number > 0")
        if not (math.isfinite(self.d_max_nm) and self.d_max_nm >= self.d_min_nm):
            raise RecipeError(f"{where}: d_max_nm = {self.d_max_nm}: must be a number >= d_min_nm = {self.d_min_nm}")
        if self.d_max_nm > self.d_min_nm:
            if self.bilayers == 1:
                raise RecipeError(f"{where}: bilayers = 1 has a single period: d_min_nm and d_max_nm must be equal")
            if not (math.isfinite(self.c) and self.c > 0):
                raise RecipeError(f"{where}: c = {self.c}: the power-law exponent must be a number > 0")
        if self.top not in MULTILAYER_TOPS:
            raise RecipeError(f"{where}: top = {self.top!r}: allowed values are {', '.join(MULTILAYER_TOPS)}")
        _check_interface(self.roughness_nm, self.interdiffusion_nm, where)

    @property
    def periodic(self) -> bool:
        return self.d_min_nm == self.d_max_nm

    def periods_nm(self) -> np.ndarray:
        """Bilayer periods from the top (i = 1) down."""
        if self.periodic:
            return np.full(self.bilayers, self.d_max_nm)
        n = self.bilayers
        k = (self.d_max_nm / self.d_min_nm) ** (1.0 / self.c)
        b = (n - k) / (k - 1.0)
        a = self.d_max_nm * (b + 1.0) ** self.c
        return a / (b + np.arange(1, n + 1)) ** self.c

    def layers(self) -> tuple[Layer, ...]:
        films = []
        for d in self.periods_nm():
            absorber = Layer(self.absorber, self.gamma * d, self.roughness_nm, self.interdiffusion_nm)
            spacer = Layer(self.spacer, (1.0 - self.gamma) * d, self.roughness_nm, self.interdiffusion_nm)
            films += [absorber, spacer] if self.top == "absorber" else [spacer, absorber]
        return tuple(films)


@dataclass(frozen=True)
class SurfaceScattering:
    """How a coating's top surface scatters (first-order theory, `coatings.scattering`): the one-dimensional power
    spectral density of its height along the plane of incidence, a power law PSD(f) ~ |f|^-psd_index over the band
    of spatial frequencies f_min_per_um <= |f| <= f_max_per_um (1/um), whose integral is roughness_nm^2 (the band's
    rms; None: all of the top interface's roughness). That roughness takes flux from the specular beam by the
    Debye-Waller factor instead of the Nevot-Croce one, and scatters it; the rest of the top interface's roughness,
    and every interface below, keep the Nevot-Croce factor."""

    psd_index: float
    f_min_per_um: float
    f_max_per_um: float
    roughness_nm: float | None = None

    def __post_init__(self):
        if not (math.isfinite(self.psd_index) and 0.0 <= self.psd_index <= 6.0):
            raise RecipeError(f"scattering psd_index = {self.psd_index}: must lie within 0-6")
        if not (math.isfinite(self.f_max_per_um) and 0.0 < self.f_min_per_um < self.f_max_per_um):
            raise RecipeError(
                f"scattering band {self.f_min_per_um}-{self.f_max_per_um} per um: need 0 < f_min_per_um "
                "< f_max_per_um, both finite"
            )
        if self.roughness_nm is not None and not (math.isfinite(self.roughness_nm) and self.roughness_nm >= 0):
            raise RecipeError(f"scattering roughness_nm = {self.roughness_nm}: must be a number >= 0")


@dataclass(frozen=True)
class Stack:
    """A coating recipe: optional capping layer, explicit films or a multilayer, and the substrate; with
    `scattering`, the flux its roughness takes from the specular beam is scattered, not lost."""

    name: str
    substrate: Material
    films: tuple[Layer, ...] = ()
    multilayer: Multilayer | None = None
    capping: Layer | None = None
    substrate_roughness_nm: float = 0.0
    substrate_interdiffusion_nm: float = 0.0
    description: str = ""
    scattering: SurfaceScattering | None = None

    def __post_init__(self):
        if self.films and self.multilayer is not None:
            raise RecipeError(f"recipe {self.name}: give either explicit layers or a multilayer, not both")
        _check_interface(self.substrate_roughness_nm, self.substrate_interdiffusion_nm, "substrate")
        band = self.scattering.roughness_nm if self.scattering is not None else None
        top = self._interfaces()[0][0]
        if band is not None and band > top:
            raise RecipeError(
                f"recipe {self.name}: scattering roughness_nm = {band} exceeds the top interface's "
                f"roughness ({top} nm), of which it is the part in the PSD's band"
            )

    def _interfaces(self) -> list[tuple[float, float]]:
        """(roughness, interdiffusion) in nm of every interface from the top down."""
        return [(f.roughness_nm, f.interdiffusion_nm) for f in self.layers()] + [
            (self.substrate_roughness_nm, self.substrate_interdiffusion_nm)
        ]

    @property
    def band_roughness_nm(self) -> float:
        """The rms (nm) of the top surface's roughness in its scattering band (0 without scattering)."""
        if self.scattering is None:
            return 0.0
        return self._interfaces()[0][0] if self.scattering.roughness_nm is None else self.scattering.roughness_nm

    def layers(self) -> tuple[Layer, ...]:
        """Every film from the top down: capping, then the films or the multilayer's layers."""
        body = self.multilayer.layers() if self.multilayer is not None else self.films
        return ((self.capping,) if self.capping is not None else ()) + body

    def materials(self) -> list[Material]:
        return [layer.material for layer in self.layers()] + [self.substrate]

    def with_roughness(self, roughness_nm: float) -> "Stack":
        """The same stack with every interface's roughness set to roughness_nm; a scattering band's own rms keeps its
        share of the top interface's roughness."""
        films = tuple(dataclasses.replace(f, roughness_nm=roughness_nm) for f in self.films)
        multilayer = (
            dataclasses.replace(self.multilayer, roughness_nm=roughness_nm) if self.multilayer is not None else None
        )
        capping = dataclasses.replace(self.capping, roughness_nm=roughness_nm) if self.capping is not None else None
        scattering = self.scattering
        if scattering is not None and scattering.roughness_nm is not None:
            top = self._interfaces()[0][0]
            share = scattering.roughness_nm / top if top > 0 else 1.0
            scattering = dataclasses.replace(scattering, roughness_nm=share * roughness_nm)
        return dataclasses.replace(
            self,
            films=films,
            multilayer=multilayer,
            capping=capping,
            substrate_roughness_nm=roughness_nm,
            scattering=scattering,
        )

    def reflectivity(self, energy_kev, graze_rad) -> np.ndarray:
        """Unpolarised reflectivity, broadcasting energy_kev (keV) against graze_rad (rad)."""
        energy, graze = np.broadcast_arrays(np.asarray(energy_kev, float), np.asarray(graze_rad, float))
        unique_e, inverse = np.unique(energy.ravel(), return_inverse=True)
        flat_g = graze.ravel()
        out = np.empty(energy.size)
        for i, e in enumerate(unique_e):
            sel = inverse == i
            out[sel] = self.reflectivity_grid(np.array([e]), flat_g[sel])[0]
        return out.reshape(energy.shape)

    def reflectivity_grid(self, energy_kev, graze_rad, polarisation="unpolarised", needed=None) -> np.ndarray:
        """Specular R on the outer product of energies (keV) and graze angles (rad): shape (n_E, n_angles); with
        `needed` (a boolean mask of that shape) only there, NaN elsewhere. For a stack that scatters, the smooth
        reflectivity R_0 (`smooth_reflectivity_grid`) times exp(-max(TIS, tau)), the share of the specular beam that
        the band's roughness leaves (`coatings.scattering`; tau from a reflectivity table at these energies)."""
        smooth = self.smooth_reflectivity_grid(energy_kev, graze_rad, polarisation, needed)
        if self.scattering is None:
            return smooth
        from .table import ReflectivityTable  # the table builds on stacks

        energy = np.atleast_1d(np.asarray(energy_kev, dtype=float))
        graze = np.atleast_1d(np.asarray(graze_rad, dtype=float))
        table = ReflectivityTable.build([self], energy, max(float(np.abs(graze).max()), 1e-6))
        tau = table.scatter_fraction_at(0, energy[:, None], graze[None, :])
        return smooth * specular_share(self.band_roughness_nm, energy[:, None], graze[None, :], tau)

    def smooth_reflectivity_grid(self, energy_kev, graze_rad, polarisation="unpolarised", needed=None) -> np.ndarray:
        """`reflectivity_grid` without the roughness in the scattering band (the Nevot-Croce factors of the rest): the
        reflectivity R_0 that the specular and the scattered flux share. Equal to it for a stack that does not
        scatter."""
        energy = np.atleast_1d(np.asarray(energy_kev, dtype=float))
        layers = self.layers()
        unique = list(dict.fromkeys(self.materials()))
        index_of = {m: m.refractive_index(energy) for m in unique}
        media = [np.ones_like(energy, dtype=complex)] + [index_of[m] for m in self.materials()]
        interfaces = self._interfaces()
        roughness, interdiffusion = interfaces[0]
        interfaces[0] = (math.sqrt(max(roughness**2 - self.band_roughness_nm**2, 0.0)), interdiffusion)
        widths = [math.hypot(r, d) for r, d in interfaces]
        return parratt_reflectivity(
            np.array(media),
            [f.thickness_nm for f in layers],
            widths,
            energy,
            np.atleast_1d(np.asarray(graze_rad, dtype=float)),
            polarisation,
            needed,
        )

    def edge_energies_kev(self) -> np.ndarray:
        unique = list(dict.fromkeys(self.materials()))
        return np.unique(np.concatenate([m.edge_energies_kev() for m in unique]))

    def summary(self) -> str:
        """One line: what the stack is made of."""
        parts = []
        if self.capping is not None:
            parts.append(f"{self.capping.material.formula} {self.capping.thickness_nm:g} nm cap")
        if self.multilayer is not None:
            ml = self.multilayer
            periods = (
                f"d = {ml.d_max_nm:g} nm" if ml.periodic else f"d = {ml.d_max_nm:g}..{ml.d_min_nm:g} nm, c = {ml.c:g}"
            )
            parts.append(
                f"{ml.bilayers} x {ml.absorber.formula}/{ml.spacer.formula} ({periods}, gamma = {ml.gamma:g}, "
                f"{ml.top} on top)"
            )
        parts += [f"{f.material.formula} {f.thickness_nm:g} nm" for f in self.films]
        parts.append(f"on {self.substrate.formula}")
        return ", ".join(parts)
