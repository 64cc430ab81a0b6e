"""The exception types for bad input: the CLI prints the message on one line and exits 2."""

__all__ = ["StitchnasError", "StorageError", "PluginError"]


class StitchnasError(ValueError):
    """Bad input from the user (file, name, option): the message says what is wrong and how to fix it."""


class StorageError(StitchnasError):
    """An Optuna storage (SQLite file, journal, database URL) cannot be opened or written."""


class PluginError(StitchnasError):
    """A plug-in (predictor, sampler, adapter, rule) cannot be found, imported or built."""
