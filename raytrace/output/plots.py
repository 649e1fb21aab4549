"""Plots of results. Each returns a matplotlib Figure (made without pyplot, so no backend is chosen or
changed); `save_figure` writes one as a PNG file, atomically like every output.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from geometries import ARCSEC_PER_RAD

from ..analysis.encircled import spread_indices
from ..text import mm, wrapped
from .files import atomic_path, check_writable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# BabyIAXO conceptual design report (Abeln et al., JHEP 05 (2021) 137): about 1500 cm2 at
# 2 keV and 900 cm2 at 7 keV for one XMM-Newton module.
CDR_XMM_POINTS = ((2.0, 1500.0), (7.0, 900.0))
IMAGE_DECADES = 4  # colour range of the log images below their brightest pixel: the core and wings, not single rays


def plot_effective_area(table, compare_cdr: bool = False) -> Figure:
    """Effective area (cm2) versus energy (keV) of an `effective_area` table, with its statistical error as a band;
    `compare_cdr` adds the BabyIAXO conceptual design's two figures for one XMM module."""
    energy = u.Quantity(table["energy"]).to_value(u.keV)
    area = u.Quantity(table["effective_area"]).to_value(u.cm**2)
    err = u.Quantity(table["effective_area_err"]).to_value(u.cm**2)
    fig = _figure(figsize=(7, 4.5))
    ax = fig.subplots()
    ax.plot(energy, area, color="C0", label=f"{table.meta.get('optic', '')} ray trace")
    ax.fill_between(energy, area - err, area + err, color="C0", alpha=0.3, lw=0)
    if compare_cdr:
        e, a = np.array(CDR_XMM_POINTS).T
        ax.plot(e, a, "s", color="C3", label="BabyIAXO CDR (approx.)")
    ax.set_xlabel("Energy (keV)")
    ax.set_ylabel("Effective area (cm$^2$)")
    ax.set_title(wrapped(f"{table.meta.get('optic', '')}: {table.meta.get('source', '')}", 6.5, 9), fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_psf(result) -> Figure:
    """A `psf` result: its image (log scale, arcsec) and its encircled-energy curve with HPD, W80 and W90 marked."""
    fig = _figure(figsize=(11, 4.5))
    ax_img, ax_ee = fig.subplots(1, 2)
    n = result.image.shape[0]
    half = n * result.pixel_arcsec / 2
    shown = np.log10(np.where(result.image > 0, result.image, np.nan))
    top = np.nanmax(shown)
    im = ax_img.imshow(
        shown, origin="lower", extent=(-half, half, -half, half), cmap="magma", vmin=top - IMAGE_DECADES, vmax=top
    )
    fig.colorbar(im, ax=ax_img, label="log10 area per pixel (cm$^2$)")
    ax_img.set_xlabel("x offset from centre (arcsec)")
    ax_img.set_ylabel("y offset from centre (arcsec)")
    ee = result.encircled
    ax_ee.semilogx(u.Quantity(ee["radius"]).to_value(u.arcsec), ee["encircled_fraction"])
    widths = result.summary()
    for q, label in ((0.5, "HPD"), (0.8, "W80"), (0.9, "W90")):
        ax_ee.axhline(q, color="grey", lw=0.6, ls=":")
        diameter = widths[f"{label.lower()}_arcsec"]
        ax_ee.plot(diameter / 2, q, "o", color="C3", ms=4)
        ax_ee.annotate(
            f'{label} {diameter:.3g}"',
            (diameter / 2, q),
            xytext=(6, -11),
            textcoords="offset points",
            fontsize=8,
            color="C3",
        )
    fig.suptitle(
        wrapped(
            f"{result.meta['optic']}: {result.meta['source']}; focal plane z = "
            f"{mm(result.meta['focal_plane_z_mm'], 2)} mm",
            11,
            10,
        ),
        fontsize=10,
    )
    ax_ee.set_xlabel("Radius (arcsec); the widths are diameters")
    ax_ee.set_ylabel("Encircled fraction of the focused beam")
    ax_ee.set_ylim(0, 1.02)
    ax_ee.grid(alpha=0.3)
    return fig


def plot_comparison(areas, psfs) -> Figure:
    """Effective area versus energy and encircled energy versus focal-plane radius of several optics, side by side."""
    fig = _figure(figsize=(12, 4.5))
    ax_a, ax_ee = fig.subplots(1, 2)
    smallest_hpd_mm = np.inf
    for k, (area, result) in enumerate(zip(areas, psfs)):
        colour = f"C{k}"
        energy = u.Quantity(area["energy"]).to_value(u.keV)
        value = u.Quantity(area["effective_area"]).to_value(u.cm**2)
        ax_a.plot(energy, value, color=colour, label=area.meta["optic"])
        f = result.meta["focal_length_mm"]
        radius_mm = u.Quantity(result.encircled["radius"]).to_value(u.rad) * f
        hpd_mm = result.hpd_arcsec / ARCSEC_PER_RAD * f
        ax_ee.semilogx(
            radius_mm,
            result.encircled["encircled_fraction"],
            color=colour,
            label=f'{result.meta["optic"]}: HPD {result.hpd_arcsec:.3g}" = {hpd_mm:.2f} mm '
            f"(f = {f / 1000:g} m, z = {mm(result.meta['focal_plane_z_mm'], 1)} mm)",
        )
        smallest_hpd_mm = min(smallest_hpd_mm, hpd_mm)
    ax_a.set_xlabel("Energy (keV)")
    ax_a.set_ylabel("Effective area on axis (cm$^2$)")
    ax_a.set_ylim(bottom=0)
    energy_kev = psfs[0].meta["energy_kev"]
    ax_ee.axhline(0.5, color="grey", lw=0.6, ls=":")
    ax_ee.set_xlabel("Radius in the focal plane (mm)")
    ax_ee.set_ylabel(f"Encircled fraction at {energy_kev:g} keV")
    ax_ee.set_ylim(0, 1.02)
    ax_ee.set_xlim(left=smallest_hpd_mm / 30)
    for ax in (ax_a, ax_ee):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_spot(result) -> Figure:
    """The focused solar-axion image with the spot circle and the detector's central opening."""
    from matplotlib.patches import Circle

    fig = _figure(figsize=(11, 4.5))
    ax_img, ax_ee = fig.subplots(1, 2)
    n = result.image.shape[0]
    half = n * result.pixel_mm / 2
    cx, cy = result.centroid_mm
    ix, iy = result.meta["image_centre_x_mm"], result.meta["image_centre_y_mm"]  # the pilot's centroid
    shown = np.log10(np.where(result.image > 0, result.image, np.nan))
    top = np.nanmax(shown)
    image = ax_img.imshow(
        shown,
        origin="lower",
        cmap="magma",
        vmin=top - IMAGE_DECADES,
        vmax=top,
        extent=(ix - half, ix + half, iy - half, iy + half),
    )
    fig.colorbar(image, ax=ax_img, label="log10 effective area per pixel (cm$^2$)")
    spot = Circle(
        (cx, cy),
        result.radius_mm,
        fill=False,
        color="cyan",
        lw=1.2,
        label=f"spot: {result.area_cm2:.3g} cm$^2$, {100 * result.eta_d:.0f} % of the detected signal",
    )
    opening = Circle(
        (0.0, 0.0),
        result.meta["opening_diameter_mm"] / 2,
        fill=False,
        color="limegreen",
        ls="--",
        lw=1.0,
        label=f"detector opening ({result.meta['opening_diameter_mm']:g} mm)",
    )
    ax_img.add_patch(spot)
    ax_img.add_patch(opening)
    ax_img.set_xlabel("x (mm)")
    ax_img.set_ylabel("y (mm)")
    ax_img.legend(fontsize=7, loc="upper right")
    ax_img.set_title(
        f"{result.meta['optic']}: solar axions, f$_{{DO}}$ = {result.f_do:.4g} (keV s)$^{{1/2}}$", fontsize=10
    )
    ee = result.encircled
    ax_ee.plot(u.Quantity(ee["radius"]).to_value(u.mm), ee["encircled_fraction"])
    ax_ee.axvline(result.radius_mm, color="C1", ls=":", label="signal-to-noise optimal radius")
    ax_ee.set_xlim(0, 4 * result.radius_mm)
    ax_ee.set_xlabel("Radius about the signal centroid (mm)")
    ax_ee.set_ylabel("Encircled fraction of the detected signal")
    ax_ee.set_ylim(0, 1.02)
    ax_ee.grid(alpha=0.3)
    ax_ee.legend(fontsize=8)
    return fig


def plot_scan(table) -> Figure:
    """The optimiser's points: for a focal-length scan, the objective (f_DO or g_agamma) and the spot area versus
    focal length (the conceptual design's trade-off plot); for varied design values, the objective versus each."""
    sensitivity = table.meta.get("objective") == "sensitivity"
    values = u.Quantity(table["g_agamma"]).to_value(1 / u.GeV) if sensitivity else np.asarray(table["f_do"])
    label = "$g_{a\\gamma}$ (GeV$^{-1}$)" if sensitivity else "f$_{DO}$ (keV s)$^{1/2}$"
    best = int(np.argmin(values) if sensitivity else np.argmax(values))
    focal = u.Quantity(table["focal_length"]).to_value(u.m)
    varied = list(table.meta.get("varied", []))
    title = (
        f"{table.meta.get('design', '')}: {table.meta.get('groups', '')} coating groups from "
        f"{table.meta.get('materials', '')}"
    )
    if not varied and np.unique(focal).size == len(table):
        fig = _figure(figsize=(7, 4.5))
        ax_f = fig.subplots()
        order = np.argsort(focal)
        ax_f.plot(focal[order], values[order], "o-", color="C0", label=label.split(" (")[0])
        ax_f.axvline(focal[best], color="C0", ls=":", lw=0.8)
        ax_f.set_xlabel("Focal length (m)")
        ax_f.set_ylabel(label, color="C0")
        ax_a = ax_f.twinx()
        ax_a.plot(
            focal[order],
            u.Quantity(table["spot_area"]).to_value(u.cm**2)[order],
            "s--",
            color="C1",
            label="spot area a",
        )
        ax_a.set_ylabel("Spot area a (cm$^2$)", color="C1")
        ax_f.grid(alpha=0.3)
        ax_f.set_title(wrapped(f"{title}: best f = {focal[best]:g} m", 6.5, 9), fontsize=9)
        for ax, series in ((ax_f, values), (ax_a, u.Quantity(table["spot_area"]).to_value(u.cm**2))):
            ax.set_ylim(0, 1.15 * np.nanmax(series))  # both from zero: two curves coincide only if proportional
        ax_f.set_zorder(ax_a.get_zorder() + 1)  # the objective drawn over the spot area
        ax_f.patch.set_visible(False)
        handles = ax_f.get_legend_handles_labels()[0] + ax_a.get_legend_handles_labels()[0]
        ax_f.legend(handles=handles, loc="lower center", fontsize=8, ncol=2, framealpha=0.9)
        return fig
    columns = [("focal length (m)", focal)] + [(key, np.asarray(table[key])) for key in varied]
    if len(columns) > 1 and np.unique(focal).size == 1:
        columns = columns[1:]
    fig = _figure(figsize=(max(6.5, 4.2 * len(columns)), 4))
    axes = np.atleast_1d(fig.subplots(1, len(columns), sharey=True))
    for ax, (name, x) in zip(axes, columns):
        ax.scatter(x, values, s=12, c=np.arange(len(table)), cmap="viridis")
        ax.plot(x[best], values[best], "r*", ms=12)
        ax.set_xlabel(name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(label)
    fig.suptitle(wrapped(f"{title}; colour: order of evaluation, star: best", 4.2 * len(columns), 9), fontsize=9)
    return fig


def plot_sensitivity(table, references: dict | None = None) -> Figure:
    """The coupling (g_agamma, or (g_ae g_agamma)^1/2 for the ABC flux) versus m_a (log-log): the vacuum, gas and
    combined curves of a sensitivity table, CAST's limit on that coupling, for g_agamma the KSVZ axion line, and any
    reference curves {label: (m_a in eV, coupling in the table's unit)}."""
    coupling = _coupling_of(table)
    mass = u.Quantity(table["m_a"]).to_value(u.eV)
    fig = _figure(figsize=(7.5, 5))
    ax = fig.subplots()
    columns = [f"{coupling.column}_{phase}" for phase in ("vacuum", "gas", "combined")]
    unit = _unit_tex(coupling)
    for column, label, style in zip(columns, ("vacuum", "4He steps", "vacuum + 4He"), ("C0--", "C1:", "C0-")):
        g = np.asarray(u.Quantity(table[column]).to_value(coupling.unit))
        if np.any(np.isfinite(g)):
            ax.plot(mass, g, style, lw=1.6, label=f"{label} ({g[0]:.3g} {unit} at {mass[0]:.3g} eV)")
    for k, (label, (m_ref, g_ref)) in enumerate((references or {}).items()):
        ax.plot(m_ref, g_ref, color=f"C{k + 2}", lw=1.0, alpha=0.8, label=label)
    lowest = min(np.nanmin(u.Quantity(table[c]).to_value(coupling.unit)) for c in (columns[0], columns[2]))
    _coupling_axes(ax, coupling, mass[0], mass[-1], lowest)
    meta = table.meta
    title = meta.get("preset") or ", ".join(meta.get("responses", []))
    ax.set_title(
        wrapped(
            f"{title}: B = {meta.get('magnet_field_tesla', float('nan')):g} T, L = "
            f"{meta.get('magnet_length_m', float('nan')):g} m, {100 * meta.get('confidence', 0.95):.3g} % CL",
            7,
            9,
        ),
        fontsize=9,
    )
    return fig


def plot_family(tables: dict, references: dict | None = None) -> Figure:
    """Several helioscopes on one figure ({label: sensitivity table}, all of one coupling; e.g. the IAXO family's
    presets): each one's combined curve (vacuum + 4He) and its vacuum curve, its published curves in its colour
    (references: {label: {curve label: (m_a in eV, coupling)}}), CAST's limit on the coupling and, for g_agamma, the
    KSVZ axion line."""
    first = next(iter(tables.values()))
    coupling = _coupling_of(first)
    unit = _unit_tex(coupling)
    fig = _figure(figsize=(11, 5.5))
    ax = fig.subplots()
    lowest, low_mass, high_mass = np.inf, np.inf, 0.0
    for k, (label, table) in enumerate(tables.items()):
        if _coupling_of(table) != coupling:
            raise ValueError(f"{label}: its limits are on {table.meta.get('coupling')}, not {coupling.column}")
        mass = u.Quantity(table["m_a"]).to_value(u.eV)
        combined, vacuum = (
            np.asarray(u.Quantity(table[f"{coupling.column}_{phase}"]).to_value(coupling.unit))
            for phase in ("combined", "vacuum")
        )
        ax.plot(mass, combined, color=f"C{k}", lw=1.8, label=f"{label}, vacuum + 4He ({combined[0]:.3g} {unit})")
        ax.plot(mass, vacuum, color=f"C{k}", lw=1.0, ls="--", label=f"{label}, vacuum")
        for j, (name, (m_ref, g_ref)) in enumerate((references or {}).get(label, {}).items()):
            ax.plot(
                m_ref,
                g_ref,
                color=f"C{k}",
                lw=0.8,
                alpha=0.7,
                ls=((0, (1, 1)), (0, (3, 1, 1, 1)), "-.")[j % 3],
                label=f"published: {name}",
            )
        lowest, low_mass, high_mass = min(lowest, np.nanmin(combined)), min(low_mass, mass[0]), max(high_mass, mass[-1])
    _coupling_axes(ax, coupling, low_mass, high_mass, lowest, legend_outside=True)
    ax.set_title(
        f"{_symbol(coupling)} versus $m_a$ from traced optics, {100 * first.meta.get('confidence', 0.95):.3g} % CL",
        fontsize=9,
    )
    return fig


def _coupling_of(table):
    from ..helioscope.sensitivity import COUPLINGS

    return next(c for c in COUPLINGS.values() if c.column == table.meta.get("coupling", "g_agamma"))


def _unit_tex(coupling) -> str:
    return f"GeV$^{{{coupling.unit_text.split('^')[1]}}}$"


def _symbol(coupling) -> str:
    return "$g_{a\\gamma}$" if coupling.column == "g_agamma" else "$(g_{ae}\\, g_{a\\gamma})^{1/2}$"


def _coupling_axes(ax, coupling, low_mass: float, high_mass: float, lowest: float, legend_outside=False) -> None:
    """CAST's limit on the coupling (shaded above), the KSVZ line for g_agamma, log axes from the lowest curve."""
    from ..helioscope.sensitivity import ksvz_coupling_per_gev

    unit = _unit_tex(coupling)
    cast_mass = [low_mass, coupling.cast_max_mass_ev]
    ax.plot(
        cast_mass,
        [coupling.cast_limit] * 2,
        "k-",
        lw=1.5,
        label=f"{coupling.cast_reference.split(' (')[0].split(':')[0]} ({coupling.cast_limit:.2g} {unit})",
    )
    ax.fill_between(cast_mass, coupling.cast_limit, 100 * coupling.cast_limit, color="grey", alpha=0.2, lw=0)
    if coupling.column == "g_agamma":
        line = np.geomspace(low_mass, high_mass, 50)
        ax.plot(line, ksvz_coupling_per_gev(line), color="goldenrod", lw=1.0, label="KSVZ axion")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.3 * lowest, max(15 * coupling.cast_limit, 30 * lowest))
    ax.set_xlim(low_mass, high_mass)
    ax.set_xlabel("$m_a$ (eV)")
    ax.set_ylabel(f"{_symbol(coupling)} ({unit})")
    ax.grid(alpha=0.3, which="both")
    if legend_outside:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    else:
        ax.legend(fontsize=7, loc="upper left")


def plot_tilt(table) -> Figure:
    """Spot shift and the signal kept inside the detector opening versus tilt of the optic."""
    tilt = u.Quantity(table["tilt"]).to_value(u.arcmin)
    fig = _figure(figsize=(11, 4.5))
    ax_s, ax_k = fig.subplots(1, 2)
    ax_s.plot(tilt, table["shift_mm"], "o-")
    ax_s.set_xlabel("Tilt of the optic (arcmin)")
    ax_s.set_ylabel("Spot centroid minus detector centre (mm)")
    ax_k.plot(tilt, table["relative_in_opening"], "o-", label="inside the opening / aligned")
    ax_k.plot(tilt, table["relative_signal"], "s--", label="focused signal / aligned")
    ax_k.axhline(table.meta["keep"], color="grey", ls=":", label=f"keep {table.meta['keep']:g}")
    tolerance = table.meta["tolerance_arcmin"]
    if np.isfinite(tolerance):
        ax_k.axvline(tolerance, color="C3", ls=":", label=f"tolerance {tolerance:.3g} arcmin")
    ax_k.set_xlabel("Tilt of the optic (arcmin)")
    ax_k.set_ylabel("Signal relative to the aligned optic")
    for ax in (ax_s, ax_k):
        ax.grid(alpha=0.3)
    ax_k.legend(fontsize=8)
    fig.suptitle(
        wrapped(
            f"{table.meta['optic']}: tilt towards azimuth {table.meta['tilt_azimuth_deg']:g} deg about "
            f"z = {table.meta['pivot_z_mm']:g} mm; {table.meta['source']}",
            11,
            9,
        ),
        fontsize=9,
    )
    return fig


def plot_vignetting(tables) -> Figure:
    """Effective area relative to on axis versus off-axis angle, one curve per table (optic)."""
    fig = _figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for table in tables:
        ax.plot(
            u.Quantity(table["off_axis"]).to_value(u.arcmin),
            table["relative_area"],
            "o-",
            label=f"{table.meta['optic']}, {table.meta['energy_kev']:g} keV",
        )
    ax.set_xlabel("Off-axis angle (arcmin)")
    ax.set_ylabel("Effective area relative to on axis")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_offaxis_response(table, curves: int = 5) -> Figure:
    """Effective area relative to on axis versus off-axis angle at a few energies (colours), for each azimuth (line
    styles)."""
    fig = _figure(figsize=(7, 4.5))
    ax = fig.subplots()
    energy = u.Quantity(table["energy"]).to_value(u.keV)
    azimuth = u.Quantity(table["azimuth"]).to_value(u.deg)
    energies, azimuths = np.unique(energy), np.unique(azimuth)
    styles = ("o-", "s--", "^:", "d-.")
    for k, e in enumerate(energies[spread_indices(energies.size, curves)]):
        for j, phi in enumerate(azimuths[spread_indices(azimuths.size, len(styles))]):
            rows = table[(energy == e) & (azimuth == phi)]
            label = f"{e:g} keV" + (f", azimuth {phi:g} deg" if azimuths.size > 1 else "")
            ax.plot(
                u.Quantity(rows["off_axis"]).to_value(u.arcmin), rows["vignet"], styles[j], color=f"C{k}", label=label
            )
    ax.set_xlabel("Off-axis angle (arcmin)")
    ax.set_ylabel("Effective area relative to on axis")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if azimuths.size > 1 else 1)
    kind = table.meta.get("source", "").split(",")[0]  # the beam, not the direction of its first row
    shown = ", ".join(f"{phi:g}" for phi in azimuths)
    ax.set_title(
        wrapped(f"{table.meta.get('optic', '')}: {kind} at each off-axis angle, azimuth {shown} deg", 6.5, 9),
        fontsize=9,
    )
    return fig


def plot_reflectivity(table, curves: int = 4) -> Figure:
    """Per coating, two panels: R versus energy at a few graze angles, and R versus graze angle at a few energies."""
    names = list(dict.fromkeys(table["coating"])) if "coating" in table.colnames else [table.meta.get("recipe", "")]
    fig = _figure(figsize=(11, 4.5 * len(names)))
    axes = fig.subplots(len(names), 2, squeeze=False)
    for name, (ax_e, ax_a) in zip(names, axes):
        rows = table[table["coating"] == name] if "coating" in table.colnames else table
        energy = u.Quantity(rows["energy"]).to_value(u.keV)
        angle = u.Quantity(rows["angle"]).to_value(u.mrad)
        energies, angles = np.unique(energy), np.unique(angle)
        values = np.asarray(rows["reflectivity"]).reshape(energies.size, angles.size)
        on_axis = table.meta.get("on_axis_graze_mrad", {}).get(name)
        inside = np.flatnonzero((angles >= on_axis[0]) & (angles <= on_axis[1])) if on_axis else np.arange(angles.size)
        inside = inside if inside.size else np.arange(angles.size)
        for j in inside[spread_indices(inside.size, curves)]:
            ax_e.plot(energies, values[:, j], marker="." if energies.size < 30 else None, label=f"{angles[j]:.3g} mrad")
        for i in spread_indices(energies.size, curves):
            ax_a.plot(angles, values[i, :], marker="." if angles.size < 30 else None, label=f"{energies[i]:g} keV")
        if on_axis:
            ax_a.axvspan(*on_axis, color="grey", alpha=0.15, lw=0, label="its shells' on-axis graze angles")
        ax_e.set_xlabel("Energy (keV)")
        ax_a.set_xlabel("Graze angle (mrad)")
        for ax in (ax_e, ax_a):
            ax.set_ylabel("Reflectivity")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            ax.set_title(name, fontsize=9)
    what = table.meta.get("optic") or f"{table.meta.get('recipe', '')}: {table.meta.get('stack', '')}"
    fig.suptitle(
        wrapped(f"{what} ({table.meta.get('optical_constants', '')}, {table.meta.get('polarisation', '')})", 11, 9),
        fontsize=9,
    )
    return fig


def plot_cross_section(optic) -> Figure:
    """Meridional cross-section: every shell's primary and secondary (r versus z), coloured by coating."""
    names = list(dict.fromkeys(c.name for c in optic.coatings))
    fig = _figure(figsize=(12, 5))
    ax, zoom = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    for surfaces, shell, coating in zip(optic.surfaces(), optic.shells, optic.coatings):
        colour = f"C{names.index(coating.name) % 10}"
        for surface in surfaces[:2]:
            z = np.linspace(surface.z_min_mm, surface.z_max_mm, 20)
            r = surface.radius_mm(z)
            # the overview draws each mirror as one line: filled outlines a pixel apart alias into moire
            ax.plot(z - optic.focal_length_mm, r, color=colour, lw=0.7)
            zoom.fill_between(z - optic.focal_length_mm, r, r + shell.thickness_mm, color=colour, lw=0)
    for i, name in enumerate(names):
        ax.plot([], [], color=f"C{i % 10}", label=name)
    if optic.spider is not None:
        top = optic.top_z_mm().max() - optic.focal_length_mm
        ax.axvline(top, color="k", ls=":", lw=1, label=f"spider plane ({optic.spider.n_spokes} spokes)")
    ax.axvline(0.0, color="0.5", lw=0.8)
    inner = optic.shells[: min(4, optic.n_shells)]
    r_hi = max(s.r_intersect_mm for s in inner) * 1.03 + max(s.thickness_mm for s in inner)
    zoom.set_xlim(-0.25 * inner[0].secondary_length_mm, 0.25 * inner[0].primary_length_mm)
    zoom.set_ylim(optic.shells[0].r_intersect_mm * 0.98, r_hi)
    zoom.set_title("innermost shells near the intersection plane", fontsize=9)
    for axis in (ax, zoom):
        axis.set_xlabel("z - f (mm): height above the intersection plane")
        axis.set_ylabel("r (mm)")
        axis.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.set_title(f"{optic.name}: {optic.n_shells} shells, f = {optic.focal_length_mm:g} mm", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _figure(figsize) -> Figure:
    """An empty figure of this size (inches), which a notebook shows as it is. matplotlib is imported here, with the
    first plot, not with the module: a run that plots nothing does not wait about 0.3 s for it."""
    from .figure import NotebookFigure

    return NotebookFigure(figsize=figsize)


def save_figure(fig: Figure, path) -> Path:
    """Write a figure as a PNG file (atomically: a complete file or none)."""
    path = check_writable(path, (".png",))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    return path
