"""The provenance every result records in its metadata, built in one place."""

from __future__ import annotations

import numpy as np

from .version import __version__


def provenance(
    *,
    optic=None,
    source=None,
    rays: int | None = None,
    seed: int | None = None,
    fates: np.ndarray | None = None,
    **entries,
) -> dict:
    """What made a result: the optic (name, focal length in mm), the source (its description and parameters), the
    number of rays and the seed, the rays per fate (counts per fate code, `Rays.fate_counts`) and the code's version;
    `entries` add the result's own. Each of optic, source, rays, seed and fates is recorded where given."""
    from .engine.rays import fates_by_name

    meta = {}
    if optic is not None:
        meta.update(optic=optic.name, focal_length_mm=optic.focal_length_mm)
    if source is not None:
        meta.update(source=source.describe(), **source.metadata())
    if rays is not None:
        meta["rays"] = int(rays)
    if seed is not None:
        meta["seed"] = int(seed)
    meta["raytrace_version"] = __version__
    if fates is not None:
        meta["fates"] = fates_by_name(fates)
    return {**meta, **entries}
