"""The `raytrace` command line: thin commands over the public API (`raytrace.api`), one module per group.

To add a command: write `register(sub)` (its parser, with `command` from `options`) and `run_<name>(args)` in
the module of its group, or in a new module listed in COMMAND_MODULES. `register` reads its defaults from
`raytrace.defaults` only and `run_<name>` imports what it runs, so that building the parser (and `--help`) loads
neither numba nor astropy nor matplotlib.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import warnings

from ..errors import InputError
from ..progress import CompileNotice
from ..version import __version__
from . import coatings, demo, designs, helioscope, optics
from .options import CliError, Parser, check_files, option_of

EXIT_USAGE = 2
COMMAND_MODULES = (optics, coatings, helioscope, designs, demo)


def build_parser() -> Parser:
    parser = Parser(prog="raytrace", description="Wolter-I X-ray telescope ray tracer for axion helioscopes.")
    parser.add_argument("--version", action="version", version=f"raytrace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


class Terminated(BaseException):
    """SIGTERM: unwinds like an interrupt, so that half-written outputs are removed on the way."""


def _terminate(signum, frame):
    raise Terminated


class _WarningLines:
    """Shows warnings as one line each, as the errors are, and each text once (an optic is validated again whenever
    one is derived from it)."""

    def __init__(self):
        self.shown = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None):
        if str(message) not in self.shown:
            self.shown.add(str(message))
            print(f"raytrace: warning: {message}", file=sys.stderr)


class DefaultSignalsWhileCompiling:
    """While numba compiles (seconds on a first run, mostly inside LLVM, where Python's handlers cannot run until it
    returns), SIGINT and SIGTERM take their default action: the run ends at once, with the status of a process a
    signal ended (130, 143 in a shell) and no message. Nothing is half written then; the partial output of a run
    killed later carries its process number and is removed by the next run that writes beside it. A no-op outside
    the main thread, where signals are not the command's to handle."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.depth, self.handlers, self.listener, self.pid = 0, {}, None, os.getpid()

    def ours(self) -> bool:
        """A compilation in this process's main thread: kernels also compile in the pool threads of
        `coatings.threads` (where signals cannot be set) and in forked optimiser workers (which ignore SIGINT)."""
        return threading.current_thread() is threading.main_thread() and os.getpid() == self.pid

    def __enter__(self):
        if self.ours():
            from numba.core import event

            watch = self

            class Listener(event.Listener):
                def on_start(self, data) -> None:
                    if watch.ours():
                        watch.depth += 1
                        if watch.depth == 1:
                            watch.handlers = {s: signal.signal(s, signal.SIG_DFL) for s in watch.SIGNALS}

                def on_end(self, data) -> None:
                    if watch.ours():
                        watch.depth -= 1
                        if watch.depth == 0:
                            for s, handler in watch.handlers.items():
                                signal.signal(s, handler)

            self.listener = Listener()
            event.register("numba:compile", self.listener)
        return self

    def __exit__(self, *exc_info):
        if self.listener is not None:
            from numba.core import event

            event.unregister("numba:compile", self.listener)
        return False


def main(argv=None) -> int:
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: signals are not ours to handle
        previous = None
    try:
        args = build_parser().parse_args(argv)
        check_files(args)
        with CompileNotice(), DefaultSignalsWhileCompiling(), warnings.catch_warnings():
            warnings.simplefilter("always")  # _WarningLines shows each text once
            warnings.showwarning = _WarningLines()
            return args.run(args)
    except InputError as exc:  # the API's check of an input: named by its option
        print(f"raytrace: error: {exc.named(option_of)}", file=sys.stderr)
        return EXIT_USAGE
    # bad input; the packages' own errors (PrescriptionError, ...) are ValueErrors
    except (CliError, ValueError) as exc:
        print(f"raytrace: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("raytrace: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("raytrace: terminated", file=sys.stderr)
        return 143
    except SystemError as exc:  # numba reports a signal that arrived inside compiled code as (nested) SystemErrors
        cause = exc
        while isinstance(cause, SystemError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, (KeyboardInterrupt, Terminated)):
            print(
                f"raytrace: {'interrupted' if isinstance(cause, KeyboardInterrupt) else 'terminated'}", file=sys.stderr
            )
            return 130 if isinstance(cause, KeyboardInterrupt) else 143
        raise
    except BrokenPipeError:  # output piped into a reader that closed early (e.g. head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            print(f"raytrace: error: no space left writing {exc.filename or 'an output'}", file=sys.stderr)
        else:
            print(
                f"raytrace: error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr
            )
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
