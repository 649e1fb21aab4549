"""Every result names what made it, built in one place (`raytrace.provenance`), and every traced run counts each
ray once (`Trace.run`)."""

import numpy as np

import raytrace
from raytrace.engine import Trace
from raytrace.sources import ParallelBeam

RAYS = 5_000


def test_every_result_records_the_code_the_optic_the_source_and_the_run():
    results = {
        "effective_area": raytrace.effective_area("xmm_design", [1.5], source="point:130@2", rays=RAYS, seed=3).meta,
        "psf": raytrace.psf("xmm_design", 1.5, rays=RAYS, seed=3, focal_plane_z_mm=0.0).meta,
        "vignetting": raytrace.vignetting("xmm_design", energy_kev=1.5, off_axis_arcmin=[0, 5], rays=RAYS, seed=3).meta,
        "offaxis_response": raytrace.offaxis_response("xmm_design", [1.5], [0, 5], rays=RAYS, seed=3).meta,
        "tilt_scan": raytrace.tilt_scan("xmm_design", [0, 1], rays=RAYS, seed=3).meta,
    }
    for name, meta in results.items():
        assert meta["raytrace_version"] == raytrace.__version__, name
        assert (meta["optic"], meta["focal_length_mm"], meta["seed"]) == ("xmm_design", 7500.0, 3), name
        assert meta["rays"] == RAYS and meta["source"], name
        traced = sum(meta["fates"].values())
        assert traced % RAYS == 0 and traced > 0, name  # every ray of every trace, counted once
    assert results["effective_area"]["source_distance_m"] == 130.0
    assert raytrace.reflectivity("au250_ni", [8.0], [5.0]).meta["raytrace_version"] == raytrace.__version__


def test_a_run_hands_on_each_chunk_once_and_counts_every_ray():
    trace = Trace(raytrace.load("xmm_design"), ParallelBeam(energy_kev=1.5))
    handed, reported = [], []
    run = trace.run(10_001, 4, chunk_size=3_000, progress=reported.append, on_chunk=lambda r: handed.append(len(r)))
    lengths = [len(rays) for rays in run]
    assert lengths == handed == reported == [3_000, 3_000, 3_000, 1_001]
    assert run.fates.sum() == 10_001
    whole = trace.run(10_001, 4)
    fates = np.concatenate([rays.fate.copy() for rays in whole])
    assert np.array_equal(np.bincount(fates, minlength=run.fates.size), run.fates)
