"""What reaches the user instead of a traceback: ``UserError`` (bad input) and ``Interrupted`` (a signal)."""
import signal


class UserError(Exception):
    """Bad input or environment: printed as ``stylecam: <message>``, exit status 2 (no traceback)."""

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM: unwinds the stack like Ctrl-C so that every ``finally`` runs
    (temporary files removed, a recording finalized); exit status 128 + the signal's number."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum

    @property
    def verb(self) -> str:
        return "interrupted" if self.signum == signal.SIGINT else f"stopped by {signal.Signals(self.signum).name}"


def as_interrupted(e: KeyboardInterrupt) -> Interrupted:
    """A plain KeyboardInterrupt (Ctrl-C outside ``entry_point``) counts as SIGINT."""
    return e if isinstance(e, Interrupted) else Interrupted(signal.SIGINT)
