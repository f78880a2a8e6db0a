"""The one exception type that reaches the user as a single line on stderr."""


class UserError(Exception):
    """Bad input or environment: printed as ``stylecam: <message>``, exit status 2 (no traceback)."""

    exit_code = 2
