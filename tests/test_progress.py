import io

from raytrace.cli.progress import Progress


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
