"""Every documented command and every function of the public API, each in a process of its own (small ray counts):
nothing may work only because another test, or an earlier call, imported a module first."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # subprocesses, signals and notebooks: `pytest -m 'not slow'` leaves them out

DATA = Path(__file__).resolve().parents[1] / "geometries" / "data"
PANTER = ["--source", "disc:130.297:0.42"]

COMMANDS = {
    "area": ["area", "xmm", "--energy", "1.5,8", "--rays", "20000", "-o", "area.arf"],
    "area-cast": ["area", "cast_pathfinder", "--energy", "1.5,3", "--aperture", "circle:21.5@83,0", "--rays", "20000"],
    "psf": ["psf", "cast_pathfinder", "--energy", "1.49", *PANTER, "--rays", "20000", "--image", "psf.fits"],
    "reflectivity": ["reflectivity", "cast_ptc_1", "--energy", "1:10:1", "--graze", "5:15:5", "-o", "r.ecsv"],
    "calibrate-hpd": ["calibrate", "xmm", "--energy", "1.5", "--hpd", "20", "--rays", "20000"],
    "calibrate-encircled": [
        "calibrate",
        "cast_pathfinder",
        "--encircled",
        str(DATA / "cast_pathfinder_panter_psf.csv"),
        *PANTER,
        "--no-scattering",
        "--rays",
        "5000",
    ],
    "calibrate-king": [
        "calibrate",
        "xmm",
        "--king",
        str(DATA / "xmm_king_psf_mos1.csv"),
        "--king-energy",
        "1.5,7.5",
        "--normalise-at",
        "300",
        "--no-scattering",
        "--rays",
        "5000",
    ],
    "calibrate-areas": ["calibrate", "xmm", "--areas", str(DATA / "xmm_ground_calibration.csv"), "--rays", "5000"],
    "spot": ["spot", "xmm", "--rays", "20000"],
    "optimise": [
        "optimise",
        "--focal-length",
        "5000",
        "--groups",
        "1",
        "--materials",
        "ir",
        "--rays",
        "5000",
        "-o",
        "scan",
    ],
    "sensitivity": ["sensitivity", "--rays", "20000", "--mass", "1e-3:0.1:3log", "--gas-years", "0"],
    "sensitivity-preset": [
        "sensitivity",
        "--preset",
        "iaxoplus",
        "--rays",
        "20000",
        "--mass",
        "1e-3",
        "--plot",
        "family.png",
    ],
    "spot-response": [
        "spot",
        "xmm",
        "--flux",
        "abc",
        "--rays",
        "20000",
        "--arf",
        "s.arf",
        "--rmf",
        "s.rmf",
        "--events",
        "e.fits",
        "--entrance",
        "i.fits",
    ],
    "tilt": ["tilt", "xmm", "--tilt", "0,1", "--rays", "20000"],
    "offaxis": ["offaxis", "xmm", "--off-axis", "0,5", "--energy", "3", "--rays", "20000"],
    "design": ["design", "--set", "r_max_mm=300", "-o", "design.toml"],
    "show": ["show", "cast_pathfinder", "-o", "cast.ecsv"],
    "demo": ["demo", "--rays", "20000", "--output-dir", "demo"],
}

API_CALLS = {
    "load": "raytrace.load('cast_pathfinder')",
    "make_source": "raytrace.make_source(source_distance_m=130.297, source_size_mm=0.42)",
    "effective_area": "raytrace.effective_area('xmm', [1.5, 8.0], rays=20000)",
    "offaxis_response": "raytrace.offaxis_response('xmm', [1.5], [0, 5], rays=20000)",
    "psf": "raytrace.psf('xmm', 1.5, rays=20000)",
    "psf_library": "raytrace.psf_library('xmm', [1.5, 3.0], [0, 5], rays=5000)",
    "best_focus": "raytrace.best_focus('cast_pathfinder', 1.49, source='point:130.297', rays=20000)",
    "vignetting": "raytrace.vignetting('xmm', energy_kev=1.5, off_axis_arcmin=[0, 5], rays=20000)",
    "reflectivity": "raytrace.reflectivity('au250_ni', [1, 8], [5, 10])",
    "solar_source": "raytrace.solar_source()",
    "solar_spot": "raytrace.solar_spot('xmm', rays=20000)",
    "tilt_scan": "raytrace.tilt_scan('xmm', [0, 1], rays=20000)",
    "calibrate": "raytrace.calibrate('xmm', 1.5, 20, rays=20000)",
    "fit_encircled": "raytrace.fit_encircled('xmm', areas=[(1.5, 1430, 29), (8.0, 610, 12)], rays=5000)",
    "optimise": "raytrace.optimise([5000], groups=1, materials=['ir'], rays=5000)",
    "sensitivity": "raytrace.sensitivity(rays=20000, masses_ev=[1e-3, 1e-2], gas_years=0)",
    "rest2019_sensitivity": "raytrace.rest2019_sensitivity(masses_ev=[1e-3, 1e-2])",
    "preset_sensitivity": "raytrace.preset_sensitivity('iaxo', rays=20000, masses_ev=[1e-3], coupling='gae')",
}


def run(arguments, cwd):
    result = subprocess.run([sys.executable, *arguments], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_runs_in_a_fresh_process(name, tmp_path):
    run(["-c", "import sys; from raytrace.cli import main; sys.exit(main(sys.argv[1:]))", *COMMANDS[name]], tmp_path)


@pytest.mark.parametrize("name", API_CALLS)
def test_each_api_function_runs_in_a_fresh_process(name, tmp_path):
    run(["-c", f"import raytrace; {API_CALLS[name]}"], tmp_path)


def test_every_public_name_resolves_in_a_fresh_process_and_every_function_is_run_above(tmp_path):
    script = (
        "import importlib, raytrace\n"
        "for package in ('raytrace', 'raytrace.analysis', 'raytrace.helioscope', 'raytrace.sources', "
        "'raytrace.output', 'raytrace.engine', 'coatings', 'geometries'):\n"
        "    module = importlib.import_module(package)\n"
        "    for name in getattr(module, '__all__', []):\n"
        "        getattr(module, name)\n"
        "import raytrace.api\n"
        "print(' '.join(n for n in raytrace.__all__\n"
        "               if getattr(getattr(raytrace, n), '__module__', '') == 'raytrace.api'))\n"
    )
    functions = set(run(["-c", script], tmp_path).stdout.split())
    assert functions == set(API_CALLS)
