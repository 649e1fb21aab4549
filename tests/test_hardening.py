"""Bad or odd input, full disks and signals: one clear line and a status, never a traceback or a stray file."""

import errno
import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from raytrace.cli import main
from raytrace.progress import CompileNotice

pytestmark = pytest.mark.slow  # subprocesses, signals and notebooks: `pytest -m 'not slow'` leaves them out


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["area", "xmm", "--energy", "1:inf:1"], "must be finite numbers"),
        (["area", "xmm", "--energy", "1:1e9:1e-3"], "more than 100000 values"),
        (["area", "xmm", "--energy", "1000"], "energy 1000.0 keV: energies must lie within"),
        (["area", "xmm", "--energy", "1.5", "-o", ""], "-o '': an empty file name"),
        (["psf", "xmm", "--energy", "1.5", "--plot", ""], "--plot '': an empty file name"),
        (["area", "missing.ecsv", "--energy", "1.5"], "prescription file 'missing.ecsv' does not exist"),
        (["area", "xmm", "--energy", "1.5", "-o", "one.arf"], "an ARF needs at least two energies"),
        (["design", "--set", "focal_length_mm=6000", "--focal-length", "4000", "-o", "d.toml"], "set the same field"),
    ],
)
def test_bad_values_get_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_files_that_are_not_utf8_are_named_and_a_byte_order_mark_is_accepted(capsys, tmp_path):
    from geometries import load_design
    from geometries.generator import design_to_toml

    broken = tmp_path / "broken.toml"
    broken.write_bytes(b"focal_length_mm = 5000\n\xff\xfe")
    code, _, err = run(capsys, "design", "--from", str(broken), "-o", str(tmp_path / "out.toml"))
    assert code == 2 and "broken.toml" in err and "not UTF-8" in err
    detector = tmp_path / "detector.toml"
    detector.write_bytes(b"\xff\x00")
    code, _, err = run(capsys, "spot", "xmm", "--detector", str(detector), "--rays", "2000")
    assert code == 2 and "detector" in err and "not UTF-8" in err
    with_bom = tmp_path / "bom.toml"
    with_bom.write_bytes(b"\xef\xbb\xbf" + design_to_toml(load_design("babyiaxo")).encode())
    assert load_design(with_bom).name == "babyiaxo"


def test_a_negative_spider_in_a_shell_table_is_refused(tmp_path):
    from geometries import PrescriptionError, load_optic, read_prescription
    from raytrace.output import write_prescription

    path = write_prescription(load_optic("xmm"), tmp_path / "x.ecsv")[-1]
    path.write_text(path.read_text().replace("spider_spokes: 16", "spider_spokes: -16"))
    with pytest.raises(PrescriptionError, match="spider_spokes = -16"):
        read_prescription(path)


def test_checkpoints_that_are_folders_or_foreign_are_handled(capsys, tmp_path):
    from geometries import load_design
    from raytrace.helioscope import ScanSettings, load_detector
    from raytrace.helioscope.optimise import run_scan
    from raytrace.sources import SolarSource

    code, _, err = run(
        capsys,
        "optimise",
        "--focal-length",
        "5000",
        "--groups",
        "1",
        "--materials",
        "ir",
        "--rays",
        "2000",
        "--checkpoint",
        str(tmp_path),
        "-o",
        str(tmp_path / "out"),
    )
    assert code == 2 and "is a folder" in err
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('[1, 2, 3]\n{"focal_length_mm": 5000.0}\n"text"\n')
    rows = run_scan(
        load_design("babyiaxo"),
        [5000.0],
        SolarSource(),
        load_detector(),
        ScanSettings(1, ("ir",), 2000, 0, 2),
        checkpoint=foreign,
    )
    assert rows[0]["focal_length_mm"] == 5000.0 and rows[0]["f_do"] > 0


def test_a_full_disk_is_one_line_and_leaves_no_file(capsys, tmp_path, monkeypatch):
    from astropy.table import Table

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(args[0]) if args else None)

    monkeypatch.setattr(Table, "write", no_space)
    out = tmp_path / "area.ecsv"
    code, _, err = run(capsys, "area", "xmm", "--energy", "1.5", "--rays", "2000", "-o", str(out))
    assert code == 1 and f"no space left writing {out}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_every_writer_names_its_file_on_a_full_disk_and_leaves_none(capsys, tmp_path, monkeypatch):
    """The PSF image (astropy reports a full disk without an error number), the FITS photon list and the demo's
    folder: one line naming the output, status 1, no file left (a stale partial of another output is cleaned)."""
    import builtins
    import shutil
    from collections import namedtuple

    from astropy.io import fits

    def astropy_full(self, *args, **kwargs):
        raise OSError("Not enough space on disk: requested 262144, available 0.")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1, 1, 0))
    monkeypatch.setattr(fits.HDUList, "writeto", astropy_full)
    stale = tmp_path / ".old.ecsv.partial-999999999-x.ecsv"  # left by a killed run of another output
    stale.write_text("")
    image = tmp_path / "img.fits"
    code, _, err = run(capsys, "psf", "xmm", "--energy", "1.5", "--rays", "2000", "--image", str(image))
    assert code == 1 and err.strip() == f"raytrace: error: no space left writing {image}"
    assert list(tmp_path.iterdir()) == []

    real_open = builtins.open

    def full_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" in mode and "partial" in str(path):

            def no_space(data):
                raise OSError(errno.ENOSPC, "No space left on device")

            handle.write = no_space
        return handle

    monkeypatch.setattr(builtins, "open", full_open)
    events = tmp_path / "ev.fits"
    code, _, err = run(capsys, "psf", "xmm", "--energy", "1.5", "--rays", "2000", "--events", str(events))
    assert code == 1 and err.strip().splitlines()[-1] == f"raytrace: error: no space left writing {events}"
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    monkeypatch.setattr(fits.HDUList, "writeto", astropy_full)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1, 1, 0))
    code, _, err = run(capsys, "demo", "--rays", "2000", "--output-dir", str(tmp_path / "demo"))
    assert code == 1 and "no space left writing" in err and list(tmp_path.iterdir()) == []


@pytest.fixture
def full_tmpfs(tmp_path):
    """A real 200 KiB tmpfs (root only, where mounting is allowed), unmounted afterwards."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("mounting a tmpfs needs root and a system that allows it")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize(
    "argv, output",
    [
        (["psf", "xmm", "--energy", "3", "--rays", "20000", "--image", "img.fits"], "img.fits"),
        (["psf", "xmm", "--energy", "3", "--rays", "20000", "--events", "ev.fits"], "ev.fits"),
        (["psf", "xmm", "--energy", "3", "--rays", "20000", "--events", "ev.mcpl"], "ev.mcpl"),
        (["area", "xmm_design", "--energy", "0.5:12:0.002", "--rays", "20000", "-o", "area.ecsv"], "area.ecsv"),
        (["demo", "--rays", "5000", "-o", "demo"], "demo"),
    ],
)
def test_a_real_full_disk_is_one_line_naming_the_file_and_leaves_nothing(full_tmpfs, argv, output):
    if output.endswith(".mcpl"):
        pytest.importorskip("_mcpl_core")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from raytrace.cli import main; sys.exit(main())", *argv],
        cwd=full_tmpfs,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("raytrace: error: ") and output in result.stderr
    assert "Traceback" not in result.stderr and list(full_tmpfs.iterdir()) == []


def test_mcpls_errors_are_one_line_and_leave_no_file(tmp_path):
    """The MCPL library ends the process on a write error, after calling the handler the photon list sets: that
    removes the partial file and says what failed in one line on standard error (the library's own prints on
    standard output). On a full disk (seen on a 200 KiB tmpfs) MCPL calls it from mcpl_add_particle."""
    pytest.importorskip("_mcpl_core")
    script = (
        "from pathlib import Path; from raytrace.output.photons import open_photon_list; "
        "writer = open_photon_list(Path('ev.mcpl'), {}); print(sorted(p.name for p in Path('.').iterdir())); "
        "writer.on_error(b'Errors encountered while attempting to write particle data.')"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "partial" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "raytrace: error: Errors encountered while attempting to write particle data. writing ev.mcpl"
    ]
    assert list(tmp_path.iterdir()) == []


# Python leaves SIGINT ignored if it was at start-up (a job a non-interactive shell put in the background, such as a
# CI runner's), so the runs below get the default disposition the tests are about
DEFAULT_SIGINT = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
# Readiness signals on standard output: a chunk has been traced; numba starts compiling the trace kernel
ANNOUNCE_CHUNKS = """import raytrace.engine.trace as engine
traced = engine.Trace.trace_range
def announced(*args, **kwargs):
    rays = traced(*args, **kwargs)
    print("traced a chunk", flush=True)
    return rays
engine.Trace.trace_range = announced
"""
ANNOUNCE_COMPILING = """from numba.core import event
class Compiling(event.Listener):
    def on_start(self, data):
        if getattr(data.data.get("dispatcher"), "py_func", None).__name__ == "trace":
            print("compiling the trace kernel", flush=True)
    def on_end(self, data):
        pass
event.register("numba:compile", Compiling())
"""
RUN_CLI = "from raytrace.cli import main\nsys.exit(main())\n"


def _wait_for(process, line: str, timeout_s: float = 300.0) -> None:
    """Read the process's standard output until `line` (the test fails if it ends or `timeout_s` passes first)."""
    watchdog = threading.Timer(timeout_s, process.kill)
    watchdog.start()
    try:
        for text in process.stdout:
            if text.strip() == line:
                return
    finally:
        watchdog.cancel()
    pytest.fail(f"the run ended before printing {line!r}: {process.stderr.read()}")


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_end_a_run_with_its_status_and_no_files(tmp_path, signum, status):
    command = DEFAULT_SIGINT + ANNOUNCE_CHUNKS + RUN_CLI
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            command,
            "area",
            "xmm",
            "--energy",
            "1.5",
            "--rays",
            "3e8",
            "-o",
            str(tmp_path / "area.fits"),
            "--events",
            str(tmp_path / "events.fits"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(process, "traced a chunk")  # tracing, with the photon list open
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == status, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] in ("raytrace: interrupted", "raytrace: terminated")
    assert list(tmp_path.iterdir()) == []


def test_a_first_run_on_an_empty_cache_compiles_in_every_thread_and_succeeds(tmp_path):
    """Kernels compile in the main thread and in the pool threads of coatings.threads: the signal handling of the
    compilation must leave the latter alone (setting a signal there fails the compile)."""
    env = os.environ | {"NUMBA_CACHE_DIR": str(tmp_path / "empty_cache")}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from raytrace.cli import main; sys.exit(main())",
            "area",
            "xmm",
            "--energy",
            "1.5",
            "--rays",
            "20000",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_first_compilation_ends_the_run_at_once(tmp_path, signum):
    command = DEFAULT_SIGINT + ANNOUNCE_COMPILING + RUN_CLI
    env = os.environ | {"NUMBA_CACHE_DIR": str(tmp_path / "empty_cache")}  # compiling takes 15-25 s here
    process = subprocess.Popen(
        [sys.executable, "-c", command, "area", "xmm_design", "--energy", "2", "--rays", "1000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    _wait_for(process, "compiling the trace kernel")  # about 12 s of it follow, where LLVM used to hold the signal
    sent = time.perf_counter()
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert time.perf_counter() - sent < 1.0
    # inside a compilation the signal's default action ends the run; between two, the run's own handler
    assert (process.returncode == -signum and err == "") or (
        process.returncode == 128 + signum and err.strip() in ("raytrace: interrupted", "raytrace: terminated")
    ), err


def test_grids_are_written_without_float_noise():
    from raytrace.cli.options import parse_grid

    values = parse_grid("0.5:3:0.1")
    assert values[7] == 1.2 and repr(values[14]) == "np.float64(1.9)"
    assert list(parse_grid("1:2:25e-2")) == [1.0, 1.25, 1.5, 1.75, 2.0]


def test_tables_carry_fates_and_long_provenance_whole(tmp_path, xmm):
    from astropy.table import Table

    from raytrace.api import tilt_scan, vignetting
    from raytrace.cli import main

    assert sum(vignetting(xmm, energy_kev=1.5, off_axis_arcmin=[0, 5], rays=2000).meta["fates"].values()) == 2 * 2000
    assert sum(tilt_scan(xmm, [0.0, 1.0], rays=2000).meta["fates"].values()) == 3 * 2000
    from raytrace.api import optimise

    scan = optimise([5000.0, 6000.0], groups=1, materials=("ir",), rays=2000, evaluations=2)
    assert sum(scan.table.meta["fates"].values()) == 2 * 2000
    path = tmp_path / "area.fits"
    assert main(["area", "xmm", "--energy", "1:3:1", "--rays", "2000", "-o", str(path)]) == 0
    assert (
        Table.read(path).meta["definition"] == "doubly reflected (primary then secondary) rays reaching the focal plane"
    )


def test_too_few_focused_rays_warn_or_are_refused(capsys):
    code, _, err = run(capsys, "area", "xmm", "--energy", "1.5", "--rays", "1")
    assert code == 0 and "warning: only 1 focused ray" in err
    for argv in (
        ["psf", "xmm", "--energy", "1.5", "--rays", "30", "--focal-plane-z", "0"],
        ["spot", "xmm", "--rays", "50", "--focal-plane-z", "0"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "focused ray(s); at least 100 are needed" in err


def test_a_later_run_removes_what_a_killed_run_was_writing(tmp_path, capsys):
    events = tmp_path / "events.fits"
    command = "import sys; from raytrace.cli import main; sys.exit(main())"
    process = subprocess.Popen(
        [sys.executable, "-c", command, "area", "xmm", "--energy", "1.5", "--rays", "3e8", "--events", str(events)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".events.fits.partial-*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert len(list(tmp_path.glob(".events.fits.partial-*"))) == 1  # what SIGKILL leaves behind
    busy = tmp_path / f".events.fits.partial-{os.getpid()}-keep.fits"  # a live process's: not touched
    busy.touch()
    assert main(["area", "xmm", "--energy", "1.5", "--rays", "2000", "--events", str(events)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == [busy.name, "events.fits"]


def test_help_loads_no_engine():
    command = (
        "import sys; from raytrace.cli import main\n"
        "try:\n    main(['spot', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numba', 'astropy', 'matplotlib', 'scipy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, check=True)
    assert "--solar-model" in result.stdout and result.stdout.strip().splitlines()[-1] == "[]"


def test_area_run_loads_neither_plots_nor_scipys_statistics_and_optimisers(tmp_path):
    """An area table needs neither matplotlib (no --plot) nor the sensitivity's or calibration's scipy modules: they
    cost about 1 s of every run's start."""
    table = tmp_path / "area.ecsv"
    command = (
        "import sys; from raytrace.cli import main\n"
        f"main(['area', 'xmm', '--energy', '1.5', '--rays', '2000', '-o', {str(table)!r}])\n"
        "print(sorted(m for m in ('matplotlib', 'scipy.stats', 'scipy.optimize', 'scipy.integrate') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, check=True)
    assert table.exists() and result.stdout.strip().splitlines()[-1] == "[]"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_compilation_is_announced_on_a_terminal_only_when_it_happens():
    import numba

    @numba.njit
    def fresh(x):
        return x + 1

    stream = Terminal()
    with CompileNotice(stream):
        fresh(1)
    # spinner frames first if the compilation outlasts the spinner's first tick (a busy host), then the summary
    summary = stream.getvalue().split("\r")[-1]
    assert summary.startswith("compiled kernels in ") and "first run only" in summary
    stream = Terminal()
    with CompileNotice(stream):
        fresh(2)
    assert stream.getvalue() == ""


def test_an_unwritable_numba_cache_falls_back_with_one_line_and_never_writes_into_the_package(tmp_path):
    """NUMBA_CACHE_DIR through a file cannot be created (chmod would not stop root): the command still runs, says
    where it caches instead (a folder of the user's in the temporary directory), and no compiled kernel lands in
    the installed package."""
    import subprocess
    import sys
    from pathlib import Path

    package = Path(__file__).resolve().parents[1]
    before = set(package.rglob("*.nb[ic]"))
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocked / "numba"), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from raytrace.cli import main; sys.exit(main())",
            "reflectivity",
            "au250_ni",
            "--energy",
            "8",
            "--graze",
            "5",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    notice = [line for line in result.stderr.splitlines() if "cannot be written" in line]
    assert len(notice) == 1 and str(blocked / "numba") in notice[0] and str(tmp_path / "tmp") in notice[0]
    assert list((tmp_path / "tmp").rglob("*.nbi"))
    assert set(package.rglob("*.nb[ic]")) == before


def _optimise_with_workers(tmp_path):
    """`raytrace optimise --workers 2` in a session of its own, once both workers run."""
    import subprocess
    import sys
    import time

    import psutil

    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from raytrace.cli import main; sys.exit(main())",
            "optimise",
            "--focal-length",
            "3000:9000:250",
            "--workers",
            "2",
            "-o",
            "scan",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(workers := psutil.Process(process.pid).children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(workers) >= 2
    while min(sum(w.cpu_times()[:2]) for w in workers) < 0.5 and time.monotonic() < deadline:
        time.sleep(0.1)  # until both are working
    return process, workers


def test_no_worker_outlives_a_killed_parent(tmp_path):
    import signal

    import psutil

    process, workers = _optimise_with_workers(tmp_path)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)  # a pipe closes only when no worker holds it any more
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive


def test_ctrl_c_with_workers_is_one_line(tmp_path):
    import os
    import signal

    process, _ = _optimise_with_workers(tmp_path)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err.strip().splitlines()[-1] == "raytrace: interrupted"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
