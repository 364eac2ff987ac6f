"""Errors that the command line turns into one line and a non-zero exit code."""


class EgobenchError(Exception):
    """A user-facing failure: the message names the file or value and the fix."""

    exit_code = 2


class ModelNotFoundError(EgobenchError):
    """Model weights could not be found locally and could not be downloaded."""


class InputError(EgobenchError):
    """An input image, mask, manifest or data folder is missing or invalid."""


class ConfigError(EgobenchError):
    """A preset or a `--set` override is invalid."""
