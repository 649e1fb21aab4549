"""The kernel tests pass at the floor of the numba range that pyproject.toml declares: numba 0.60 with llvmlite 0.43
and numpy 2.0, the oldest releases that install together with numpy 2, in an environment of their own beside this
one, which sees this one's other packages behind its own."""

import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # installs three packages and compiles the kernels afresh

ROOT = Path(__file__).resolve().parents[1]
FLOOR = {"numba": "0.60.0", "llvmlite": "0.43.0", "numpy": "2.0.2"}
KERNEL_TESTS = ["tests/test_tracer.py", "tests/test_apertures.py"]


def test_the_floor_is_the_one_declared():
    declared = dict(re.findall(r'"(numba|llvmlite|numpy)>=([\d.]+)', (ROOT / "pyproject.toml").read_text()))
    assert {name: ".".join(version.split(".")[:2]) for name, version in FLOOR.items()} == declared


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="numba 0.60 and numpy 2.0 have no wheels past Python 3.12")
def test_the_kernel_tests_pass_at_the_floor(tmp_path):
    environment = tmp_path / "floor"
    try:
        venv.create(environment, with_pip=True, symlinks=True)
    except (OSError, subprocess.CalledProcessError) as exc:  # a Python without ensurepip (some system Pythons)
        pytest.skip(f"cannot create a virtual environment here: {exc}")
    python = environment / "bin" / "python"
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            *(f"{name}=={version}" for name, version in FLOOR.items()),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if install.returncode and re.search(
        r"No matching distribution|Could not find a version|connection|resolve", install.stderr, re.I
    ):
        pytest.skip(f"the package index is out of reach: {install.stderr.strip().splitlines()[-1]}")
    assert install.returncode == 0, install.stderr[-2000:]
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    parents = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))  # this environment's
    (Path(own) / "parent_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in parents)
    )  # after the floor's own packages
    versions = subprocess.run(
        [
            python,
            "-c",
            "import numba, llvmlite, numpy; print(numba.__version__, llvmlite.__version__, numpy.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    assert versions == list(FLOOR.values())
    run = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *KERNEL_TESTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env | {"NUMBA_CACHE_DIR": str(tmp_path / "numba"), "HOME": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
