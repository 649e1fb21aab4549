"""With NUMBA_DISABLE_JIT=1, numba's debugging route, the engine runs as plain Python: each intrinsic of
`raytrace.engine.vector_math` has a plain Python meaning, and the trace kernel and the per-ray specification give the
rays the compiled kernel gives, bit for bit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geometries import load_optic
from raytrace.engine import Trace
from raytrace.engine.rng import seed_key
from raytrace.engine.specification import specified_range
from raytrace.sources import ParallelBeam, PointSource

pytestmark = pytest.mark.slow  # subprocesses that trace in plain Python

ROOT = Path(__file__).resolve().parents[1]
CASES = [("xmm_design", "parallel", 1.5), ("babyiaxo", "parallel", 3.0), ("cast_pathfinder", "point", 4.5)]
COLUMNS = ("x", "y", "z", "dx", "dy", "dz", "weight", "fate", "shell", "graze1", "graze2")
RAYS = 600
SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")  # numpy scalars warn where the compiled counter-based generator wraps around
from tests.test_pure_python import traced
print(json.dumps(traced(*json.loads(sys.argv[1]))))
"""


def traced(optic: str, source: str, energy_kev: float, per_ray: bool = False) -> dict:
    """The geometric trace (no reflectivity table) of the first RAYS rays of a seeded run, column by column: by the
    block kernel, or with `per_ray` by the specification (`raytrace.engine.specification`)."""
    beam = (
        ParallelBeam(0.0005, 0.3, energy_kev=energy_kev)
        if source == "parallel"
        else PointSource(130.297, 0.0, 0.0, 0.42, energy_kev=energy_kev)
    )  # PANTER
    trace = Trace(load_optic(optic), beam)
    if per_ray:
        rays = specified_range(trace, seed_key(7), 0, RAYS, RAYS)
    else:
        rays = trace.trace_range(seed_key(7), 0, RAYS, RAYS)
    return {name: np.asarray(getattr(rays, name)).tolist() for name in COLUMNS}


def _plain_python(*args, tests=None):
    env = os.environ | {"NUMBA_DISABLE_JIT": "1"}
    command = (
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::RuntimeWarning", *tests]
        if tests
        else [sys.executable, "-c", SCRIPT, json.dumps(args)]
    )
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)


@pytest.mark.parametrize("per_ray", [False, True], ids=["kernel", "specification"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_plain_python_traces_the_same_rays_bit_for_bit(case, per_ray):
    result = _plain_python(*case, per_ray)
    assert result.returncode == 0, result.stderr[-2000:]
    plain, compiled = json.loads(result.stdout), traced(*case)
    for name in COLUMNS:
        np.testing.assert_array_equal(plain[name], compiled[name], err_msg=name)
    assert len(set(compiled["fate"])) > 2  # the sample holds rays of several fates


def test_the_intrinsics_and_the_kernel_against_the_reference_pass_in_plain_python():
    result = _plain_python(
        tests=[
            "tests/test_tracer.py",
            "-k",
            "kernel_matches_numpy_reference or vector_gather "
            "or copy_is or select_is or vectorisable_log or fast_elementary",
        ]
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout
