"""The f_DO optimiser: solver, re-weighting against full traces, checkpoints, executors and the command."""

import json

import numpy as np
import pytest

from geometries import load_design
from raytrace.helioscope.detector import load_detector
from raytrace.helioscope.optimise import (
    MULTILAYER_BOUNDS,
    ScanSettings,
    design_with_recipes,
    group_bounds,
    maximise,
    recipe,
    reflectivity_weights,
    run_scan,
    score,
    trace_kept,
)
from raytrace.helioscope.spot import solar_spot
from raytrace.sources.solar import SolarSource

SMALL = ScanSettings(groups=1, systems=("ir",), n_rays=5_000, seed=3, max_evaluations=4)


def test_solver_recovers_the_optimum_of_a_synthetic_problem():
    names = list(MULTILAYER_BOUNDS)
    bounds = [MULTILAYER_BOUNDS[n] for n in names]
    low, high = np.array(bounds, dtype=float).T
    optimum = low + np.array([0.3, 0.7, 0.45, 0.2, 0.6]) * (high - low)

    def objective(x):
        return 10.0 - np.sum(((x - optimum) / (high - low)) ** 2)

    x, value = maximise(objective, bounds, [low + 0.5 * (high - low)], max_evaluations=400)
    np.testing.assert_allclose((x - low) / (high - low), (optimum - low) / (high - low), atol=0.02)
    assert value == pytest.approx(10.0, abs=1e-3)


def test_optimum_on_the_boundary_is_found_too():
    x, _ = maximise(lambda x: x[0] - x[1] ** 2, [(0.0, 1.0), (-1.0, 1.0)], [[0.5, 0.5]], max_evaluations=200)
    np.testing.assert_allclose(x, [1.0, 0.0], atol=0.02)


@pytest.mark.slow
def test_reweighting_reproduces_a_full_trace_of_the_same_recipe(tmp_path):
    design = load_design("babyiaxo").with_focal_length(6000.0)
    source, detector = SolarSource(), load_detector()
    bounds = group_bounds(design, 2)
    stacks = [recipe("wb4c"), recipe("ir")]
    kept = trace_kept(design, bounds, source, detector, 60_000, seed=7)
    weights = np.zeros(kept.weight.size)
    for group, stack in enumerate(stacks):
        select = kept.group == group
        weights[select] = reflectivity_weights(kept, group, stack) * kept.weight[select]
    figures = score(kept, weights, detector.background_counts_kev_cm2_s)
    optic = design_with_recipes(design, bounds, stacks).build()
    assert [c.name for c in optic.coatings[:: optic.n_shells - 1]] == [s.name for s in stacks]
    full = solar_spot(optic, source, detector, 60_000, 7, kept.focal_plane_z_mm)
    statistical = full.figures.mean_eps_o / np.sqrt(np.count_nonzero(kept.weight))
    assert abs(figures["throughput"] - full.figures.mean_eps_o) < max(2e-3 * full.figures.mean_eps_o, statistical)
    assert figures["f_do"] == pytest.approx(full.f_do, rel=0.01)


def test_checkpoint_resumes_without_redoing_finished_focal_lengths(tmp_path):
    design, source, detector = load_design("babyiaxo"), SolarSource(), load_detector()
    checkpoint = tmp_path / "scan.jsonl"
    first = run_scan(design, [4000.0, 5000.0], source, detector, SMALL, checkpoint=checkpoint)
    lines = checkpoint.read_text().splitlines()
    checkpoint.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # killed while writing the second
    redone = []
    again = run_scan(design, [4000.0, 5000.0], source, detector, SMALL, checkpoint=checkpoint, progress=redone.append)
    assert [row["focal_length_mm"] for row in redone] == [5000.0]
    assert again == [json.loads(json.dumps(row)) for row in first]
    other = ScanSettings(groups=1, systems=("au",), n_rays=5_000, seed=3, max_evaluations=4)
    redone.clear()
    run_scan(design, [4000.0], source, detector, other, checkpoint=checkpoint, progress=redone.append)
    assert len(redone) == 1  # another problem does not reuse the rows


def test_dask_executor_gives_the_serial_result():
    distributed = pytest.importorskip("distributed")
    design, source, detector = load_design("babyiaxo"), SolarSource(), load_detector()
    serial = run_scan(design, [5000.0], source, detector, SMALL)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            parallel = run_scan(design, [5000.0], source, detector, SMALL, executor=client.get_executor())
    assert parallel == serial


def _task_threads():
    import numba

    from raytrace.helioscope.optimise import _share_cores_with_other_tasks

    _share_cores_with_other_tasks()
    return numba.get_num_threads()


@pytest.mark.slow
def test_dask_workers_share_the_cores_and_the_verifying_trace_runs_on_the_cluster():
    import os

    import raytrace

    distributed = pytest.importorskip("distributed")
    serial = raytrace.optimise([5000.0], groups=1, materials=["ir"], rays=5000, evaluations=4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            threads = client.gather([client.submit(_task_threads, pure=False) for _ in range(4)])
            parallel = raytrace.optimise(
                [5000.0], groups=1, materials=["ir"], rays=5000, evaluations=4, executor=client.get_executor()
            )
            prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert threads == [max(1, (os.cpu_count() or 1) // 2)] * 4  # two workers of one thread on this host
    assert any(prefix.startswith("verified_trace") for prefix in prefixes)
    assert parallel.verified.f_do == serial.verified.f_do


@pytest.mark.slow
def test_the_sensitivity_objective_of_reweighted_rays_matches_a_full_trace():
    from raytrace.helioscope.optimise import design_sensitivity, sensitivity_objective

    design = load_design("babyiaxo")
    source, detector = SolarSource(), load_detector()
    bounds = group_bounds(design, 1)
    kept = trace_kept(design, bounds, source, detector, 60_000, seed=5)
    stack = recipe("ir")
    weights = reflectivity_weights(kept, 0, stack) * kept.weight
    figures = score(kept, weights, detector.background_counts_kev_cm2_s)
    reweighted = sensitivity_objective(kept, weights, figures, source, detector, 1e-3)
    full = solar_spot(
        design_with_recipes(design, bounds, [stack]).build(), source, detector, 60_000, 5, kept.focal_plane_z_mm
    )
    traced = design_sensitivity(
        full.detectable_signal_cm2,
        full.detectable_area_cm2,
        detector.background_counts_kev_cm2_s,
        source,
        1e-3,
        detector.resolution,
    )
    assert reweighted == pytest.approx(traced, rel=0.01)
    assert 1.4e-11 < traced < 1.8e-11  # two bores of the custom optic: a little better than XMM + custom optic


@pytest.mark.slow
def test_a_search_over_design_values_keeps_the_books_and_resumes(tmp_path):
    from raytrace.helioscope.optimise import scan_result, vary_design

    design, source, detector = load_design("babyiaxo"), SolarSource(), load_detector()
    checkpoint = tmp_path / "search.jsonl"
    variables = {"r_min_mm": (40.0, 80.0), "r_split_mm": (150.0, 420.0)}  # r_split beyond r_max makes no optic
    rows = vary_design(design, variables, source, detector, SMALL, 1, checkpoint=checkpoint)
    assert len(rows) == 2 * 16  # two generations of a Sobol population (6 x 2 rounded up to 16)
    invalid = [row for row in rows if "error" in row]
    assert invalid and all(row["values"]["r_split_mm"] > 350.0 for row in invalid)
    valid = [row for row in rows if "error" not in row]
    result = scan_result(rows, design, source, detector, SMALL)
    assert len(result.table) == len(valid) and result.table.meta["varied"] == ["r_min_mm", "r_split_mm"]
    best = max(valid, key=lambda row: row["f_do"])
    assert result.table.meta["best_values"] == best["values"]
    assert result.best_design.r_min_mm == pytest.approx(best["values"]["r_min_mm"])
    assert result.verified.f_do == pytest.approx(best["f_do"], rel=0.05)
    redone = []
    again = vary_design(design, variables, source, detector, SMALL, 1, checkpoint=checkpoint, progress=redone.append)
    assert redone == [] and [r["values"] for r in again] == [r["values"] for r in rows]


def test_the_command_takes_a_scan_or_a_search(capsys):
    from raytrace.cli import main

    for argv, message in (
        (["optimise", "-o", "x"], "--focal-length: give them (a scan) or --vary (a search)"),
        (["optimise", "--focal-length", "5000", "--vary", "r_min_mm=40:80", "-o", "x"], "not both"),
        (["optimise", "--vary", "r_min_mm=80:40", "-o", "x"], "need finite bounds with low < high"),
        (["optimise", "--vary", "r_min=40:80", "-o", "x"], "r_min"),
    ):
        assert main(argv) == 2
        assert message in capsys.readouterr().err


def test_a_checkpoint_is_created_with_its_header_and_no_other_file_is_taken_for_one(tmp_path):
    from raytrace.helioscope.optimise import CHECKPOINT_HEADER, open_checkpoint

    new = tmp_path / "scan.jsonl"
    open_checkpoint(new)
    assert json.loads(new.read_text()) == CHECKPOINT_HEADER
    open_checkpoint(new)  # ours: accepted as it is
    legacy = tmp_path / "old.jsonl"
    legacy.write_text(json.dumps({"values": {"focal_length_mm": 5000.0}, "signature": "x"}) + "\n")
    open_checkpoint(legacy)  # an earlier version's rows had no header
    for text in ("name = 'wb4c'\n", "# %ECSV 1.0\n", "energy_kev,area_cm2\n", "[1, 2]\n"):
        foreign = tmp_path / "foreign.txt"
        foreign.write_text(text)
        with pytest.raises(ValueError, match="is not a checkpoint"):
            open_checkpoint(foreign)
        assert foreign.read_text() == text
