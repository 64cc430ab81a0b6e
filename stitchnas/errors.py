"""The one exception type for bad input: the CLI prints its message on one line and exits 2."""

__all__ = ["StitchnasError"]


class StitchnasError(ValueError):
    """Bad input from the user (file, name, option): the message says what is wrong and how to fix it."""
