"""Alignment tolerance: how far the optic may tilt before the focused signal leaves the detector's opening.

The optic is tilted by theta about a pivot on its axis at height z_pivot (default: the centre of the
intersection plane, z = f) so that its axis moves towards azimuth psi, and it may be decentred by d;
the source may also be offset from the magnet axis. Everything is traced in the optic's own frame:
- the source appears offset by -theta (cos psi, sin psi), plus its own pointing offset;
- the detector, fixed on the magnet axis, sits at z_pivot sin(theta) (cos psi, sin psi) - d in the
  focal plane (its tilt by theta is neglected: it moves a spot of a few mm by micrometres).
A pointing offset alone moves the image by f tan(theta); a rotation adds z_pivot sin(theta) the other
way, so the spot moves relative to the detector by (f tan(theta) - z_pivot sin(theta)) (cos psi, sin psi)
+ d: about s theta for a pivot at distance s from the nodal plane (the intersection plane), and
nothing for a rotation about the nodal point itself, to first order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from coatings.table import ReflectivityTable
from geometries import Optic

from ..engine import DEFAULT_CHUNK_SIZE, Fate, Source, Trace, check_ray_count
from ..provenance import provenance
from .detector import Detector
from .merit import detector_weights

MAX_TILT_RAD = math.radians(1.0)


@dataclass(frozen=True)
class Misalignment:
    tilt_rad: float = 0.0
    tilt_azimuth_rad: float = 0.0
    pivot_z_mm: float | None = None  # None: the intersection plane, z = f
    decentre_x_mm: float = 0.0
    decentre_y_mm: float = 0.0

    def pivot(self, optic: Optic) -> float:
        return optic.focal_length_mm if self.pivot_z_mm is None else self.pivot_z_mm

    def detector_centre_mm(self, optic: Optic) -> tuple[float, float]:
        """Where the detector's centre lies in the optic's focal plane."""
        reach = self.pivot(optic) * math.sin(self.tilt_rad)
        return (
            reach * math.cos(self.tilt_azimuth_rad) - self.decentre_x_mm,
            reach * math.sin(self.tilt_azimuth_rad) - self.decentre_y_mm,
        )

    def apparent_source(self, source: Source, optic: Optic) -> Source:
        """The source as the tilted optic sees it: its offset vector minus theta (cos psi, sin psi), and a magnet
        bore moved with the magnet."""
        return source.seen_from_tilted_optic(
            self.tilt_rad * math.cos(self.tilt_azimuth_rad),
            self.tilt_rad * math.sin(self.tilt_azimuth_rad),
            self.pivot(optic),
            self.decentre_x_mm,
            self.decentre_y_mm,
            float(optic.top_z_mm().max()),
        )


@dataclass
class FocalPlaneSignal:
    total: float  # detected focused signal (cm2 of effective area x detector efficiency, spectrum-averaged)
    in_opening: float
    centroid_mm: tuple[float, float]
    fates: np.ndarray  # rays per fate code


def focal_plane_signal(
    optic: Optic,
    source: Source,
    detector: Detector,
    misalignment: Misalignment,
    focal_plane_z_mm: float,
    n_rays: int,
    seed: int,
    table: ReflectivityTable | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_chunk=None,
) -> FocalPlaneSignal:
    """The detected focused signal of the misaligned optic, in total and inside the detector's opening.

    `table` (reflectivities at the source's energies, reaching this trace's graze angles) is built if not given."""
    check_ray_count(n_rays)
    if source.energy_nodes().size == 0:
        raise ValueError(f"source {source.describe()}: has no energy; give a parallel beam an energy (keV)")
    trace = Trace(optic, misalignment.apparent_source(source, optic), focal_plane_z_mm)
    if table is None:
        table = trace.reflectivity_table()
    detected = detector_weights(detector, source.energy_nodes())
    cx, cy = misalignment.detector_centre_mm(optic)
    radius2 = (0.5 * detector.opening_diameter_mm) ** 2
    sums = np.zeros(4)
    run = trace.run(n_rays, seed, chunk_size, table, on_chunk=on_chunk)
    for rays in run:
        focused = rays.fate == Fate.DOUBLE
        w = detected(rays.weight[focused], rays.energy_kev[focused])
        x, y = rays.x[focused], rays.y[focused]
        sums += (w.sum(), np.sum(w * x), np.sum(w * y), w[(x - cx) ** 2 + (y - cy) ** 2 < radius2].sum())
    total = sums[0]
    centroid = (sums[1] / total - cx, sums[2] / total - cy) if total > 0 else (math.nan, math.nan)
    return FocalPlaneSignal(float(total), float(sums[3]), centroid, run.fates)


def tilt_scan(
    optic: Optic,
    source: Source,
    detector: Detector,
    tilts_rad,
    keep: float = 0.95,
    tilt_azimuth_rad: float = 0.0,
    pivot_z_mm: float | None = None,
    focal_plane_z_mm: float = 0.0,
    n_rays: int = 200_000,
    seed: int = 0,
    progress=None,
    decentre_mm: tuple[float, float] = (0.0, 0.0),
    events_for=None,
) -> Table:
    """Per tilt: the spot's shift from the detector centre, the signal relative to the aligned optic, the share of the
    aligned signal inside the opening, and (in the metadata) the largest tilt that keeps `keep` of it. The decentre and
    the source's own offset apply at every tilt; the reference is the optic aligned on the magnet axis, neither tilted
    nor decentred. `progress`, if given, is called with 1 after the aligned optic and after each tilt; `events_for(k)`,
    if given, returns the photon-list writer for tilt number k (a callable with `close()`)."""
    tilts = np.asarray(tilts_rad, dtype=float)
    seen = [
        Misalignment(float(t), tilt_azimuth_rad, pivot_z_mm, *decentre_mm).apparent_source(source, optic)
        for t in (0.0, tilts.max())
    ]
    widest = max(seen, key=lambda apparent: apparent.pointing_rad[0])  # the apparent offset is |offset - tilt|
    table = Trace(optic, widest, focal_plane_z_mm).reflectivity_table()
    aligned = focal_plane_signal(
        optic, source, detector, Misalignment(pivot_z_mm=pivot_z_mm), focal_plane_z_mm, n_rays, seed, table
    )
    if aligned.in_opening <= 0:
        raise ValueError(f"{optic.name}: no focused signal inside the detector opening even when aligned")
    if progress is not None:
        progress(1)
    rows = []
    fates = aligned.fates.copy()
    for tilt in tilts:
        m = Misalignment(float(tilt), tilt_azimuth_rad, pivot_z_mm, *decentre_mm)
        writer = None if events_for is None else events_for(len(rows))
        try:
            s = focal_plane_signal(optic, source, detector, m, focal_plane_z_mm, n_rays, seed, table, on_chunk=writer)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if writer is not None:
            writer.close()
        fates += s.fates
        rows.append(
            (
                float(tilt),
                math.hypot(*s.centroid_mm),
                *s.centroid_mm,
                s.total / aligned.total,
                s.in_opening / aligned.total,
                s.in_opening / aligned.in_opening,
            )
        )
        if progress is not None:
            progress(1)
    columns = np.array(rows).T
    table = Table(
        {
            "tilt": np.degrees(columns[0]) * 60.0,
            "shift_mm": columns[1],
            "shift_x_mm": columns[2],
            "shift_y_mm": columns[3],
            "relative_signal": columns[4],
            "in_opening_fraction": columns[5],
            "relative_in_opening": columns[6],
        }
    )
    table["tilt"].unit = "arcmin"
    pivot = Misalignment(pivot_z_mm=pivot_z_mm).pivot(optic)
    table.meta.update(
        provenance(
            optic=optic,
            source=source,
            rays=n_rays,
            seed=seed,
            fates=fates,
            **{
                "detector": detector.name,
                "opening_diameter_mm": detector.opening_diameter_mm,
                "pivot_z_mm": pivot,
                "tilt_azimuth_deg": math.degrees(tilt_azimuth_rad),
                "decentre_x_mm": float(decentre_mm[0]),
                "decentre_y_mm": float(decentre_mm[1]),
                "focal_plane_z_mm": focal_plane_z_mm,
                "keep": keep,
                "aligned_in_opening_fraction": aligned.in_opening / aligned.total,
                "tolerance_arcmin": largest_tilt(table["tilt"].value, columns[6], keep),
                "fates_over": "the aligned optic and every tilt",
                "definitions": "shift: spot centroid minus detector centre; relative_signal: focused detected signal / "
                "aligned; in_opening_fraction: signal inside the opening / aligned total; "
                "relative_in_opening: signal inside the opening / aligned signal inside it",
            },
        )
    )
    return table


def largest_tilt(tilts, kept_fraction, keep: float) -> float:
    """The largest tilt up to which the kept fraction stays >= keep (linear between scan points); the last
    tilt scanned if it never drops below, NaN if even the first point is below."""
    tilts, kept = np.asarray(tilts, dtype=float), np.asarray(kept_fraction, dtype=float)
    order = np.argsort(tilts)
    tilts, kept = tilts[order], kept[order]
    below = np.flatnonzero(kept < keep)
    if below.size == 0:
        return float(tilts[-1])
    k = below[0]
    if k == 0:
        return math.nan
    t0, t1, f0, f1 = tilts[k - 1], tilts[k], kept[k - 1], kept[k]
    return float(t0 + (f0 - keep) / (f0 - f1) * (t1 - t0))
