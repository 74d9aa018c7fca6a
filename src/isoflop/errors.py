"""Errors meant for users: the CLI prints them as one line and exits non-zero."""


class UsageError(Exception):
    """A mistake in what the user asked for: bad config, missing data, unknown names.

    The message says what was wrong and what to do about it. Internal bugs raise
    ordinary exceptions and keep their tracebacks.
    """


class ArgumentError(UsageError):
    """A bad argument, named as the caller spells it: a library call reads ``budget_tolerance``, the command line
    ``--budget-tolerance`` (``spelled``). ``template`` has a ``{}`` per name in ``arguments``."""

    def __init__(self, template: str, *arguments: str):
        self.template, self.arguments = template, arguments
        super().__init__(template.format(*arguments))

    def spelled(self, spell) -> str:
        """The message with each argument name passed through ``spell`` (e.g. to a flag)."""
        return self.template.format(*(spell(name) for name in self.arguments))


class WriteError(UsageError):
    """A destination that cannot be written (read-only, full, gone): the user's to fix, named in one line."""


class UnreliableResult(UsageError):
    """A computation that finished with an answer that must not be trusted (a degenerate fit): exit status 1."""

    exit_code = 1


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, with what the command left behind and how to go on (the CLI prints it after 'interrupted:')."""


def first_line(error: BaseException) -> str:
    """The first line of an underlying library's message, to quote inside a one-line UsageError."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
