import io
import sys

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
    raytrace.offaxis_response("xmm_design", [1.5], [0.0, 5.0], azimuth_deg=[0.0, 90.0], rays=5_000,
                              progress=told.append)
    assert quiet.getvalue() == "" and sum(told) == 3  # on axis once, then two directions


def test_a_compile_notice_inside_another_stays_quiet():
    outer, inner = CompileNotice(_Terminal()), CompileNotice(_Terminal())
    assert outer.enabled and inner.enabled
    with outer:
        nested = CompileNotice(_Terminal())
        assert not nested.enabled
    assert CompileNotice(_Terminal()).enabled
