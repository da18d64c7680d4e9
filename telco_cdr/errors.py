"""The errors the scripts turn into one line on stderr and an exit code."""

from .constants import Exit


class UserError(Exception):
    """Bad input from the user (a flag, a file, a config): exit code 2."""

    exit_code = Exit.USAGE


class RunError(Exception):
    """The work could not be completed (broker down, messages undelivered): exit code 1."""

    exit_code = Exit.RUN_ERROR
