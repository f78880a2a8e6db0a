"""How every command-line entry point runs: ``@entry_point("prog")`` around ``main(argv) -> int``.

- The exit status is returned, also for --help and usage errors, so ``main`` can be called in-process.
- ``UserError`` -> ``prog: message`` on stderr and its exit status (2); never a traceback.
- Ctrl-C and SIGTERM (kill, timeout, a service manager) raise ``Interrupted`` in the main
  thread, so every cleanup runs as for Ctrl-C; exit status 130 or 143 (128 + the signal).
- Library warnings (torch's UserWarnings) are not shown unless asked for with -W or
  PYTHONWARNINGS: the one line we print says what went wrong.
"""
from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
import warnings
from typing import Callable

from .errors import Interrupted, UserError, as_interrupted

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


def entry_point(prog: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    def wrap(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(*args, **kwargs) -> int:
            with _signals_interrupt(), warnings.catch_warnings():
                if not sys.warnoptions:
                    warnings.simplefilter("ignore")
                try:
                    return int(main(*args, **kwargs) or 0)
                except UserError as e:
                    print(f"{prog}: {e}", file=sys.stderr)
                    return e.exit_code
                except SystemExit as e:       # argparse: --help, or a usage error it has printed
                    return e.code if isinstance(e.code, int) else int(e.code is not None)
                except KeyboardInterrupt as e:
                    stop = as_interrupted(e)
                    print(f"{prog}: {stop.verb}", file=sys.stderr)
                    return stop.exit_code
        return run
    return wrap


_received: list[int] = []          # the signals that have raised Interrupted in this process


def _raise_interrupted(signum, frame):
    _received.append(signum)
    raise Interrupted(signum)


def interrupted_by() -> int | None:
    """The signal that interrupted this process, if any: a library that catches the Interrupted
    (or the half-finished import it left) and raises its own error can be told from a real failure."""
    return _received[-1] if _received else None


@contextlib.contextmanager
def _signals_interrupt():
    """While the command runs, SIGINT and SIGTERM raise ``Interrupted`` (main thread only:
    Python delivers signals there); the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()                    # a command run in-process after another starts afresh
    previous = {s: signal.signal(s, _raise_interrupted) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
