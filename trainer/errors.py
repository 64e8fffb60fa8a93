"""The one exception type the user sees as a message rather than a traceback."""


class StreamchatError(Exception):
    """A problem the user can fix: the message says what was wrong and what to do.

    The command line prints it (no traceback) and exits with `exit_code`.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
