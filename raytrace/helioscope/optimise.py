"""Optimise a generated segmented optic: its focal length or other design values and, per group of layers, the
coating, for f_DO or for the projected sensitivity g_agamma.

The problem, split as in optiland: the design (a `SegmentedDesign`), the variables (its focal length, or any
continuous values of it, `vary_design`; per group: a material system and, for multilayers, d_min, d_max, N, c,
Gamma within `MULTILAYER_BOUNDS`), the quantity scored (f_DO, docs/physics/conventions.md, or the combined g_agamma at a
mass, `design_sensitivity`) and solvers (scipy's bounded Nelder-Mead for the recipes, on the variables scaled
to [0, 1], from the middle of the box and from a reference recipe; scipy's differential evolution for the
design values).

Coatings change weights, not paths: for each point the solar-axion source is traced once through the geometry
with reflectivity 1 and the focused rays are kept (layer group, both graze angles, energy, focal-plane position,
aperture weight). A recipe is then scored by re-weighting them with R(E, g1) R(E, g2) from a table on the
group's own graze-angle range. The detected signal is a sum over groups, so each group's recipe is chosen to
maximise its own detected signal; f_DO (and the sensitivity) of the combination then follow from the re-weighted
image. The best design is verified with a full trace.

Points are independent tasks for a `concurrent.futures` executor (local processes, or a Dask cluster's
executor); a checkpoint file records each finished point (one JSON line, flushed and synced, tagged with a
signature of the problem) so an interrupted run of the same problem resumes without redoing them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from coatings import ConstantReflectivity, Layer, Multilayer, Stack, material, recipe_from_dict, recipe_to_toml
from coatings.textfile import read_text
from geometries.generator import CoatingGroup, SegmentedDesign, design_from_dict, design_to_toml

from ..analysis.encircled import radial_histogram
from ..analysis.psf import FOCUS_RAYS, best_focus_z_mm
from ..defaults import MATERIALS
from ..engine import Fate, Trace
from ..engine.rays import fates_by_name
from ..provenance import provenance
from ..sources import ParallelBeam, SolarSource
from .detector import Detector
from .merit import Magnet, circle_overlap_cm2, figures_of_merit, spectrum_mean
from .spot import SpotResult, solar_spot

MATERIAL_SYSTEMS = {"wb4c": ("W", "B4C"), "ptc": ("Pt", "C"), "ir": ("Ir",), "au": ("Au",)}
MULTILAYER_BOUNDS = {  # name: (low, high); d_max = d_min + d_span
    "d_min_nm": (2.0, 8.0),
    "d_span_nm": (0.0, 12.0),
    "bilayers": (5, 150),
    "c": (0.05, 0.6),
    "gamma": (0.25, 0.65),
}
REFERENCE_MULTILAYER = {"d_min_nm": 3.0, "d_span_nm": 6.0, "bilayers": 20, "c": 0.25, "gamma": 0.45}
SINGLE_LAYER_NM = 30.0
ROUGHNESS_NM = 0.4
ANGLE_STEP_RAD = 2e-5
FOCUS_KEV = 4.0


def recipe(system: str, params: dict | None = None) -> Stack:
    """The coating of a material system on glass: a 30 nm film (ir, au) or a depth-graded multilayer."""
    if system not in MATERIAL_SYSTEMS:
        raise ValueError(f"material system {system!r}: allowed are {', '.join(MATERIAL_SYSTEMS)}")
    glass = material("SiO2")
    if len(MATERIAL_SYSTEMS[system]) == 1:
        film = Layer(material(MATERIAL_SYSTEMS[system][0]), SINGLE_LAYER_NM, ROUGHNESS_NM)
        return Stack(f"{system}_{SINGLE_LAYER_NM:g}nm", glass, films=(film,), substrate_roughness_nm=ROUGHNESS_NM)
    p = dict(REFERENCE_MULTILAYER if params is None else params)
    absorber, spacer = MATERIAL_SYSTEMS[system]
    bilayers = int(round(p["bilayers"]))
    d_min, d_max = p["d_min_nm"], p["d_min_nm"] + p["d_span_nm"]
    ml = Multilayer(
        material(absorber), material(spacer), bilayers, p["gamma"], d_min, d_max, p["c"], roughness_nm=ROUGHNESS_NM
    )
    name = f"{system}_N{bilayers}_d{d_min:.2f}-{d_max:.2f}_c{p['c']:.2f}_g{p['gamma']:.2f}"
    return Stack(name, glass, multilayer=ml, substrate_roughness_nm=ROUGHNESS_NM)


def maximise(objective, bounds, starts, max_evaluations: int):
    """Bounded Nelder-Mead on variables scaled to [0, 1] from each start; the best (x, value) found."""
    from scipy.optimize import minimize

    low, high = np.array(bounds, dtype=float).T
    best_x, best_value = None, -np.inf
    budget = max(1, max_evaluations // len(starts))
    for start in starts:
        u0 = (np.asarray(start, dtype=float) - low) / (high - low)
        result = minimize(
            lambda u: -objective(low + np.clip(u, 0, 1) * (high - low)),
            u0,
            method="Nelder-Mead",
            bounds=[(0.0, 1.0)] * len(low),
            options={"maxfev": budget, "xatol": 1e-3, "fatol": 1e-9, "initial_simplex": _simplex(u0)},
        )
        if -result.fun > best_value:
            best_x, best_value = low + np.clip(result.x, 0, 1) * (high - low), -result.fun
    return best_x, best_value


def _simplex(u0: np.ndarray) -> np.ndarray:
    """A simplex of 0.25-wide steps from u0, pointing into the unit box."""
    steps = np.where(u0 > 0.5, -0.25, 0.25)
    return np.vstack([u0, u0 + np.diag(steps)])


@dataclass
class KeptRays:
    """The focused rays of one geometric trace: enough to score any coating by re-weighting."""

    group: np.ndarray
    graze1: np.ndarray
    graze2: np.ndarray
    energy_index: np.ndarray  # into `energies`
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray  # aperture area per ray (cm2), reflectivity 1
    energies: np.ndarray
    detector_efficiency: np.ndarray  # at `energies`
    mean_eps_d: float  # the spectrum mean of the detector efficiency
    focal_plane_z_mm: float
    fates: dict  # rays per fate of the geometric trace


def group_bounds(design: SegmentedDesign, groups: int) -> list[float]:
    """Upper intersection radii of `groups` groups of consecutive layers with (nearly) equal layer counts."""
    radii = design.build().intersect_radii_mm()
    if not 1 <= groups <= radii.size:
        raise ValueError(f"groups = {groups}: must be from 1 to the number of layers ({radii.size})")
    cuts = [int(round(k * radii.size / groups)) for k in range(1, groups)]
    bounds = [float(0.5 * (radii[c - 1] + radii[c])) for c in cuts]
    return bounds + [float(design.r_max_mm)]


def design_with_recipes(design: SegmentedDesign, bounds: list[float], stacks: list[Stack]) -> SegmentedDesign:
    """The design with one coating group per bound, each holding its recipe."""
    groups = tuple(CoatingGroup(bound, stack) for bound, stack in zip(bounds, stacks))
    return dataclasses.replace(design, coating_groups=groups)


def trace_kept(
    design: SegmentedDesign, bounds: list[float], source: SolarSource, detector: Detector, n_rays: int, seed: int
) -> KeptRays:
    """Trace the geometry of the design (reflectivity 1) at its best focus and keep the focused rays."""
    optic = design.build().with_coating(ConstantReflectivity(1.0))
    focus = best_focus_z_mm(optic, ParallelBeam(energy_kev=FOCUS_KEV), min(n_rays, FOCUS_RAYS), seed)
    trace = Trace(optic, source, focus)
    shell_group = np.searchsorted(bounds, optic.intersect_radii_mm(), side="right")
    energies = source.energy_nodes()
    parts = []
    run = trace.run(n_rays, seed)
    for rays in run:
        keep = rays.fate == Fate.DOUBLE
        parts.append(
            (
                shell_group[rays.shell[keep]],
                rays.graze1[keep],
                rays.graze2[keep],
                np.searchsorted(energies, rays.energy_kev[keep]),
                rays.x[keep],
                rays.y[keep],
                rays.weight[keep],
            )
        )
    columns = [np.concatenate(c) for c in zip(*parts)]
    return KeptRays(
        *columns,
        energies,
        detector.efficiency(energies),
        spectrum_mean(source, detector.efficiency),
        focus,
        fates_by_name(run.fates),
    )


def reflectivity_weights(kept: KeptRays, group: int, stack: Stack) -> np.ndarray:
    """R(E, g1) R(E, g2) of the group's rays for this coating, from a table on their angle range."""
    select = kept.group == group
    g1, g2, e = kept.graze1[select], kept.graze2[select], kept.energy_index[select]
    if g1.size == 0:
        return np.empty(0)
    top = max(g1.max(), g2.max()) + 2 * ANGLE_STEP_RAD
    low = max(0.0, min(g1.min(), g2.min()) - 2 * ANGLE_STEP_RAD)
    angles = np.arange(low, top, ANGLE_STEP_RAD)
    cells = [_cell(g, low, angles.size) for g in (g1, g2)]
    needed = np.zeros((kept.energies.size, angles.size), dtype=bool)  # about half the grid: the rays' neighbours
    for i, _ in cells:
        needed[e, i] = True
        needed[e, i + 1] = True
    values = stack.reflectivity_grid(kept.energies, angles, needed=needed)
    (i1, f1), (i2, f2) = cells
    return _interpolate(values, e, i1, f1) * _interpolate(values, e, i2, f2)


def _cell(graze, low, n_angles):
    """Grid cell (lower node) and position in it of each graze angle."""
    position = (graze - low) / ANGLE_STEP_RAD
    i = np.minimum(position.astype(int), n_angles - 2)
    return i, position - i


def _interpolate(values, energy_index, i, f):
    return values[energy_index, i] * (1 - f) + values[energy_index, i + 1] * f


def score(kept: KeptRays, weights: np.ndarray, background: float, magnet: Magnet = Magnet()) -> dict:
    """f_DO, f_O, spot and throughput of the re-weighted image (weights: aperture x reflectivities), by the
    figures-of-merit module from radial histograms like those of a full trace."""
    detected = weights * kept.detector_efficiency[kept.energy_index]
    if detected.sum() <= 0:
        return {
            "f_do": 0.0,
            "f_o": 0.0,
            "spot_area_cm2": math.nan,
            "eta_d": 0.0,
            "throughput": 0.0,
            "throughput_detected": 0.0,
        }
    radial = [
        radial_histogram(kept.x, kept.y, w, (np.average(kept.x, weights=w), np.average(kept.y, weights=w)))
        for w in (weights, detected)
    ]
    figures = figures_of_merit(*radial, magnet, background, kept.mean_eps_d)
    return {
        "f_do": figures.f_do,
        "f_o": figures.f_o,
        "spot_area_cm2": figures.spot.area_cm2,
        "eta_d": figures.spot.fraction,
        "throughput": figures.mean_eps_o,
        "throughput_detected": figures.mean_eps_do,
    }


def detectable_signal_by_energy(
    kept: KeptRays, weights: np.ndarray, spot_radius_mm: float, opening_radius_mm: float
) -> tuple[np.ndarray, float]:
    """The detected signal (cm2) per energy node inside the spot of this radius about the detected centroid and on
    the detector's opening (a circle of opening_radius_mm about the axis; the strongback around it is opaque), and
    the area (cm2) the two circles share, whose background counts."""
    detected = weights * kept.detector_efficiency[kept.energy_index]
    cx, cy = np.average(kept.x, weights=detected), np.average(kept.y, weights=detected)
    inside = ((kept.x - cx) ** 2 + (kept.y - cy) ** 2 < spot_radius_mm**2) & (
        kept.x**2 + kept.y**2 < opening_radius_mm**2
    )
    signal = np.bincount(kept.energy_index[inside], weights=detected[inside], minlength=kept.energies.size)
    return signal, circle_overlap_cm2(spot_radius_mm, opening_radius_mm, math.hypot(cx, cy))


def sensitivity_objective(
    kept: KeptRays, weights: np.ndarray, figures: dict, source: SolarSource, detector: Detector, mass_ev: float
) -> float:
    """`design_sensitivity` of the re-weighted kept rays, with this detector's background, opening and resolution."""
    if not figures["f_do"] > 0:
        return math.inf
    radius = math.sqrt(figures["spot_area_cm2"] / math.pi) * 10.0
    signal, area = detectable_signal_by_energy(kept, weights, radius, 0.5 * detector.opening_diameter_mm)
    return design_sensitivity(signal, area, detector.background_counts_kev_cm2_s, source, mass_ev, detector.resolution)


def design_sensitivity(
    spot_signal_cm2: np.ndarray,
    spot_area_cm2: float,
    background: float,
    source: SolarSource,
    mass_ev: float,
    resolution=None,
) -> float:
    """The combined (vacuum and 4He phases, the API's defaults) g_agamma (GeV^-1) at mass_ev of a helioscope whose
    every bore holds an optic with this detected signal (cm2) per energy node of the source in an analysis region of
    spot_area_cm2, recorded with the detector's energy `resolution` (`raytrace.helioscope.detector.Resolution`; None:
    sharp): `raytrace.helioscope.sensitivity`, for the Primakoff flux."""
    from ..defaults import GAS_YEARS, MAX_GAS_MASS_EV, SENSITIVITY_BINS_KEV, TRACKING, VACUUM_YEARS
    from .sensitivity import YEAR_S, SignalResponse, energy_bin_edges, gas_schedule, sensitivity

    magnet = Magnet()
    response = SignalResponse(
        "optimised design",
        source.energy_edges(),
        source.band_flux() * spot_signal_cm2,
        spot_area_cm2,
        background,
        resolution=resolution,
    )
    bores = [response] * magnet.bores
    edges = energy_bin_edges(SENSITIVITY_BINS_KEV)
    year = YEAR_S * TRACKING
    schedule = gas_schedule(bores, magnet, GAS_YEARS * year, MAX_GAS_MASS_EV)
    return sensitivity(bores, magnet, [mass_ev], edges, VACUUM_YEARS * year, schedule).low_mass()


def optimise_groups(kept: KeptRays, n_groups: int, systems: list[str], background: float, max_evaluations: int):
    """Per group, the coating with the largest detected signal; then the combination's score and its weights."""
    stacks, weights = [], np.zeros(kept.weight.size)
    for group in range(n_groups):
        select = kept.group == group
        detected_weight = kept.detector_efficiency[kept.energy_index[select]] * kept.weight[select]
        best = (None, -np.inf, None)
        for system in systems:
            if len(MATERIAL_SYSTEMS[system]) == 1:
                stack = recipe(system)
                r = reflectivity_weights(kept, group, stack)
                signal = float(np.sum(r * detected_weight))
            else:
                names = list(MULTILAYER_BOUNDS)

                def signal_of(x, system=system):
                    return float(
                        np.sum(reflectivity_weights(kept, group, recipe(system, dict(zip(names, x)))) * detected_weight)
                    )

                bounds = [MULTILAYER_BOUNDS[n] for n in names]
                starts = [[REFERENCE_MULTILAYER[n] for n in names], [0.5 * (a + b) for a, b in bounds]]
                x, signal = maximise(signal_of, bounds, starts, max_evaluations)
                stack = recipe(system, dict(zip(names, x)))
                r = reflectivity_weights(kept, group, stack)
            if signal > best[1]:
                best = (stack, signal, r)
        stacks.append(best[0])
        weights[kept.group == group] = best[2] * kept.weight[kept.group == group]
    return stacks, score(kept, weights, background), weights


OBJECTIVES = ("f_do", "sensitivity")
POPULATION_PER_VARIABLE = 6  # differential evolution's points per design variable and generation


@dataclass(frozen=True)
class ScanSettings:
    """What each point of a scan does: coating groups and material systems, rays, seed and recipe evaluations, and
    the objective that ranks the points: f_do (largest) or sensitivity (smallest combined g_agamma at
    objective_mass_ev, `sensitivity_objective`)."""

    groups: int = 4
    systems: tuple[str, ...] = MATERIALS
    n_rays: int = 200_000
    seed: int = 0
    max_evaluations: int = 40
    objective: str = "f_do"
    objective_mass_ev: float = 1e-3

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r}: choose from {', '.join(OBJECTIVES)}")
        if not (math.isfinite(self.objective_mass_ev) and self.objective_mass_ev > 0):
            raise ValueError(f"objective mass = {self.objective_mass_ev} eV: must be a number > 0")

    def loss(self, row: dict) -> float:
        """What the scan minimises for a finished point: -f_DO, or g_agamma in units of 1e-11 GeV^-1 (infinite for a
        point that makes no optic)."""
        if "error" in row:
            return math.inf
        return row["g_agamma_per_gev"] * 1e11 if self.objective == "sensitivity" else -row["f_do"]


def evaluate_point(
    design_toml: str,
    recipe_dir: str | None,
    values: dict,
    source: SolarSource,
    detector: Detector,
    settings: ScanSettings,
) -> dict:
    """One task of a scan (picklable arguments and result): the design with `values` set (KEY: number, the keys of
    `SegmentedDesign.with_overrides`), its best coatings and their score."""
    import tomllib

    _share_cores_with_other_tasks()
    design = design_from_dict(tomllib.loads(design_toml), "design", Path(recipe_dir) if recipe_dir else None)
    try:
        design = design.with_overrides([f"{key}={value!r}" for key, value in values.items()])
        bounds = group_bounds(design, settings.groups)
    except ValueError as exc:  # a point of a varied box that makes no optic: the scan skips it
        return {"values": dict(values), "error": str(exc)}
    kept = trace_kept(design, bounds, source, detector, settings.n_rays, settings.seed)
    background = detector.background_counts_kev_cm2_s
    stacks, figures, weights = optimise_groups(
        kept, settings.groups, list(settings.systems), background, settings.max_evaluations
    )
    row = {
        "values": dict(values),
        "focal_length_mm": design.focal_length_mm,
        "group_bounds_mm": bounds,
        "focal_plane_z_mm": kept.focal_plane_z_mm,
        "recipes": [recipe_to_toml(s) for s in stacks],
        "fates": kept.fates,
        **figures,
    }
    if settings.objective == "sensitivity":
        row["g_agamma_per_gev"] = sensitivity_objective(
            kept, weights, figures, source, detector, settings.objective_mass_ev
        )
    return row


def verified_trace(optic, source: SolarSource, detector: Detector, n_rays: int, seed: int, focal_plane_z_mm: float):
    """The full trace of the best design, as a task: with numba's threads set as for the scan's points."""
    _share_cores_with_other_tasks()
    return solar_spot(optic, source, detector, n_rays, seed, focal_plane_z_mm)


def _share_cores_with_other_tasks() -> None:
    """On a Dask worker: numba's threads for this task set to the cores of its host over the task threads of every
    worker there (the scheduler knows them), so that workers together use the cores once, not once each. Elsewhere
    (serial, or a `local_executor` process, which set them at start): nothing."""
    try:
        from distributed import get_client, get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a Dask worker
        return
    import numba

    host = worker.address.rsplit(":", 1)[0]
    client = get_client()
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]  # all of them (newer versions list 5 by default)
    except TypeError:  # versions before the parameter list all
        workers = client.scheduler_info()["workers"]
    threads_here = sum(info["nthreads"] for address, info in workers.items() if address.rsplit(":", 1)[0] == host)
    numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, (os.cpu_count() or 1) // max(1, threads_here))))


def local_executor(workers: int):
    """`workers` local processes for the scan, each with its share of the cores for numba's threads: the scan is
    parallel over focal lengths, and more threads than cores slow every process down (264 s against 242 s for the
    benchmark scan on 2 cores)."""
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(threads, os.getpid()))


WATCH_PARENT_S = 0.5


def _start_worker(threads: int, parent_pid: int) -> None:
    """A worker of `local_executor`: its share of numba's threads; Ctrl-C left to the parent, which cancels the scan
    and says so in one line; and an end of its own as soon as the parent is gone (killed, even by SIGKILL), so that
    no worker outlives it, holding its output open."""
    import signal
    import threading

    import numba

    numba.set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(WATCH_PARENT_S)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def run_scan(
    design: SegmentedDesign,
    points,
    source: SolarSource,
    detector: Detector,
    settings: ScanSettings,
    executor=None,
    checkpoint: Path | None = None,
    progress=None,
) -> list[dict]:
    """Evaluate every point (a focal length in mm, or a dict of design values; in parallel through `executor` if
    given); resume from `checkpoint`."""
    points = [
        {"focal_length_mm": float(p)} if not isinstance(p, dict) else {k: float(v) for k, v in p.items()}
        for p in points
    ]
    design_toml = design_to_toml(dataclasses.replace(design, recipe_dir=None))
    recipe_dir = str(design.recipe_dir) if design.recipe_dir else None
    # a checkpoint row is reused only by a run of the same problem
    signature = hashlib.sha256(repr((design_toml, recipe_dir, source, detector, settings)).encode()).hexdigest()[:16]
    done = _read_checkpoint(checkpoint, signature) if checkpoint else {}
    todo = list({_key(p): p for p in points if _key(p) not in done}.values())
    args = (source, detector, settings)
    if executor is None:
        results = (evaluate_point(design_toml, recipe_dir, p, *args) for p in todo)
    else:
        from concurrent.futures import as_completed

        futures = [executor.submit(evaluate_point, design_toml, recipe_dir, p, *args) for p in todo]
        results = (future.result() for future in as_completed(futures))
    for row in results:
        done[_key(row["values"])] = row
        if checkpoint:
            _append_checkpoint(checkpoint, row | {"signature": signature})
        if progress is not None:
            progress(row)
    return [done[_key(p)] for p in points]


def vary_design(
    design: SegmentedDesign,
    variables: dict,
    source: SolarSource,
    detector: Detector,
    settings: ScanSettings,
    generations: int,
    executor=None,
    checkpoint: Path | None = None,
    progress=None,
) -> list[dict]:
    """Minimise the settings' loss over design values within bounds ({KEY: (low, high)}) by scipy's differential
    evolution: POPULATION_PER_VARIABLE points per variable and generation, each a full point of the scan (a trace
    and its coatings), a generation at a time through `executor`. Every point uses the same seed, so the loss is a
    deterministic (if rough) function of the values, which the evolution's population copes with. Returns the rows
    of every point evaluated, in order."""
    from scipy.optimize import differential_evolution

    keys = list(variables)
    rows: list[dict] = []

    def evaluate_generation(_, population):
        batch = run_scan(
            design,
            [dict(zip(keys, map(float, x))) for x in population],
            source,
            detector,
            settings,
            executor,
            checkpoint,
            progress,
        )
        rows.extend(batch)
        return [settings.loss(row) for row in batch]

    def unused(x):
        raise AssertionError("the generations are evaluated by evaluate_generation")

    differential_evolution(
        unused,
        [variables[k] for k in keys],
        maxiter=generations,
        popsize=POPULATION_PER_VARIABLE,
        init="sobol",
        seed=settings.seed,
        polish=False,
        updating="deferred",
        tol=0.0,
        workers=evaluate_generation,
    )
    return rows


def stacks_of(row: dict) -> list[Stack]:
    import tomllib

    return [recipe_from_dict(tomllib.loads(text), "optimised") for text in row["recipes"]]


def _key(values: dict) -> str:
    return json.dumps({key: f"{value:.9g}" for key, value in sorted(values.items())})


CHECKPOINT_HEADER = {"raytrace_checkpoint": 1}  # the first line of every checkpoint file


def check_checkpoint(path: Path, label: str = "checkpoint") -> None:
    """Refuse, naming it by `label`, a checkpoint path that is a folder, lies in a missing folder, or is an existing
    file that is not a checkpoint (CHECKPOINT_HEADER, or a row of an earlier version, which had none)."""
    if path.exists():
        if not path.is_file():
            raise ValueError(f"{label} {str(path)!r} is a folder, not a file")
        first = read_text(path, label, ValueError).partition("\n")[0]
        try:
            row = json.loads(first) if first.strip() else None
        except json.JSONDecodeError:
            row = None
        if first.strip() and not (row == CHECKPOINT_HEADER or (isinstance(row, dict) and "signature" in row)):
            raise ValueError(
                f"{label} {str(path)!r}: exists and is not a checkpoint of raytrace optimise (its "
                "first line is not one); name a new file, or one an optimise run wrote"
            )
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{label} {str(path)!r}: folder {str(folder)!r} does not exist")


def open_checkpoint(path: Path) -> None:
    """Make `path` a checkpoint before any work (`check_checkpoint`): a new file starts with CHECKPOINT_HEADER, so
    that no other file is ever appended to."""
    check_checkpoint(path)
    if not path.exists():
        _append_checkpoint(path, CHECKPOINT_HEADER)


def _read_checkpoint(path: Path, signature: str) -> dict:
    done = {}
    if path.exists():
        for line in read_text(path, "checkpoint", ValueError).splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interruption: that focal length is redone
            # rows of another problem, or of no problem of ours, are not reused
            if (
                isinstance(row, dict)
                and row.pop("signature", None) == signature
                and isinstance(row.get("values"), dict)
            ):
                done[_key(row["values"])] = row
    return done


def _append_checkpoint(path: Path, row: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@dataclass
class ScanResult:
    """The scan table (one row per focal length), the best design (its recipes held in memory: write it with
    `raytrace.output.write_design`) and the full trace that verifies it."""

    table: Table
    best_design: SegmentedDesign
    verified: SpotResult


def scan_result(
    rows: list[dict],
    design: SegmentedDesign,
    source: SolarSource,
    detector: Detector,
    settings: ScanSettings,
    executor=None,
) -> ScanResult:
    """The table of a finished scan (one row per point, in order), its best design by the settings' objective, and
    that design verified by a full trace (on a cluster's workers, if the executor is a cluster's)."""
    from concurrent.futures import ProcessPoolExecutor

    import astropy.units as u

    invalid = [row for row in rows if "error" in row]
    rows = [row for row in rows if "error" not in row]
    if not rows:
        raise ValueError(f"no point of the scan makes an optic: {invalid[0]['error']}")
    table = Table()
    table["focal_length"] = [row["focal_length_mm"] for row in rows] * u.mm
    varied = [key for key in rows[0]["values"] if key != "focal_length_mm"]
    for key in varied:
        table[key] = [row["values"][key] for row in rows]
    for name in ("f_do", "f_o", "eta_d", "throughput", "throughput_detected"):
        table[name] = [row[name] for row in rows]
    if settings.objective == "sensitivity":
        table["g_agamma"] = [row["g_agamma_per_gev"] for row in rows] / u.GeV
    table["spot_area"] = [row["spot_area_cm2"] for row in rows] * u.cm**2
    table["focal_plane_z"] = [row["focal_plane_z_mm"] for row in rows] * u.mm
    for g in range(settings.groups):
        table[f"recipe_group{g + 1}"] = [stacks_of(row)[g].name for row in rows]
    table.meta.update(
        provenance(
            source=source,
            seed=settings.seed,
            **{
                "design": design.name,
                "groups": settings.groups,
                "materials": ", ".join(settings.systems),
                "rays_per_focal_length": settings.n_rays,
                "detector": detector.name,
                "background_counts_kev_cm2_s": detector.background_counts_kev_cm2_s,
                "objective": settings.objective,
                "varied": varied,
                "definitions": "f_DO = <eps_D eps_O eta_D> / sqrt(b a), f_O = <eps_O eta_O> / sqrt(a_O), throughput = "
                "<eps_O> = <A_eff> / bore area (70 cm diameter); a, eta_D: the signal-to-noise optimal spot of "
                "the detected signal (raytrace.helioscope.merit)",
            },
        )
    )
    if settings.objective == "sensitivity":
        table.meta.update(
            objective_mass_ev=settings.objective_mass_ev,
            g_agamma_definition=(
                "combined vacuum and 4He expected limit at objective_mass_ev with every bore holding the design "
                "(raytrace.helioscope.optimise.design_sensitivity)"
            ),
        )
    best = min(rows, key=settings.loss)
    best_design = design_with_recipes(
        design.with_overrides([f"{k}={v!r}" for k, v in best["values"].items()]),
        best["group_bounds_mm"],
        stacks_of(best),
    )
    best_design = dataclasses.replace(
        best_design,
        name="best_design",
        description=f"{settings.objective} optimum of {design.name} (raytrace optimise)",
    )
    table.meta["invalid_points"] = [{"values": row["values"], "error": row["error"]} for row in invalid]
    table.meta["best_focal_length_mm"] = best["focal_length_mm"]
    table.meta["best_values"] = dict(best["values"])
    fates: dict = {}
    for row in rows:
        for name, count in row["fates"].items():
            fates[name] = fates.get(name, 0) + count
    table.meta.update({"fates": fates, "fates_over": "the geometric trace of every point"})
    verify = (best_design.build(), source, detector, settings.n_rays, settings.seed, best["focal_plane_z_mm"])
    # a local pool's workers hold a share of the cores each; here, the scan done, this process has them all
    local = executor is None or isinstance(executor, ProcessPoolExecutor)
    verified = solar_spot(*verify) if local else executor.submit(verified_trace, *verify).result()
    if settings.objective == "sensitivity":
        table.meta["verified_g_agamma_per_gev"] = design_sensitivity(
            verified.detectable_signal_cm2,
            verified.detectable_area_cm2,
            detector.background_counts_kev_cm2_s,
            source,
            settings.objective_mass_ev,
            detector.resolution,
        )
    return ScanResult(table, best_design, verified)
