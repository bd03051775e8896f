"""The one exception type users see: a clear, one-line message about bad input or state."""


class ActionlineError(Exception):
    """Bad input or an impossible request. The CLI prints the message on one line and exits non-zero."""


class DataError(ActionlineError):
    """A dataset file is missing, empty, corrupt, or inconsistent with another file."""


class CheckpointError(ActionlineError):
    """A checkpoint is missing, corrupt, or belongs to a different model / class set."""


class ConfigError(ActionlineError):
    """An unknown setting, a value of the wrong type, or an unknown model name."""


class TrainingError(ActionlineError):
    """Training cannot go on (e.g. a non-finite loss or gradient); the last good checkpoint is kept."""
