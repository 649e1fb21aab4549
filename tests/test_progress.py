import io
import sys

import pytest

import raytrace
from raytrace.progress import CompileNotice, Progress, drawable


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_quiet_off_a_terminal():
    stream = io.StringIO()
    progress = Progress(10, "tracing", stream)
    progress(10)
    progress.close()
    assert stream.getvalue() == ""


def test_progress_bar_on_a_terminal():
    stream = _Terminal()
    progress = Progress(4, "tracing", stream)
    progress(2)
    progress(2)
    progress.close()
    text = stream.getvalue()
    assert text.startswith("\rtracing [") and "100.0 %" in text and text.endswith("\n")


def test_a_jupyter_cell_is_drawn_on_as_a_terminal_is():
    cell = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})()  # ipykernel's stream: no tty
    progress = Progress(2, "tracing", cell)
    progress(2)
    progress.close()
    assert drawable(cell) and not drawable(io.StringIO())
    assert cell.getvalue().startswith("\rtracing [") and "100.0 %" in cell.getvalue()


def test_the_api_draws_its_own_bar_unless_told_not_to(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    raytrace.effective_area("xmm_design", [1.5, 8.0], rays=20_000)
    assert terminal.getvalue().startswith("\rtracing [") and "100.0 %" in terminal.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    told = []
    raytrace.effective_area("xmm_design", [1.5, 8.0], rays=20_000, progress=False)
    raytrace.offaxis_response(
        "xmm_design", [1.5], [0.0, 5.0], azimuth_deg=[0.0, 90.0], rays=5_000, progress=told.append
    )
    assert quiet.getvalue() == "" and sum(told) == 3  # on axis once, then two directions


def test_a_compile_notice_inside_another_stays_quiet_and_a_failed_run_leaves_them_working():
    with CompileNotice(_Terminal()) as outer, CompileNotice(_Terminal()) as inner:
        assert outer.enabled and not inner.enabled
    with pytest.raises(RuntimeError), CompileNotice(_Terminal()):
        raise RuntimeError("a run that fails")
    with CompileNotice(_Terminal()) as again:
        assert again.enabled


def test_no_standard_error_or_a_failure_before_any_ray_draws_nothing(monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)  # pythonw, some daemons
    raytrace.effective_area("xmm_design", [1.5], rays=2_000)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with pytest.raises(ValueError):
        raytrace.tilt_scan("xmm", [1e5], rays=2_000)  # refused before the first tilt
    assert terminal.getvalue() == ""


def test_a_bar_whose_shares_fall_short_in_floating_point_still_completes():
    terminal = _Terminal()
    progress = Progress(1, "tracing", terminal)
    for _ in range(10):
        progress(0.1)  # 0.9999999999999999 in all, each call within the redraw interval
    assert progress.done < 1
    progress.close()
    assert "100.0 %" in terminal.getvalue()
