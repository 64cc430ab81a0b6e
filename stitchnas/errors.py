"""The exception types for bad input: the CLI prints the message on one line and exits 2."""

__all__ = ["StitchnasError", "StorageError", "PluginError", "unreadable_checkpoint"]


class StitchnasError(ValueError):
    """Bad input from the user (file, name, option): the message says what is wrong and how to fix it."""


class StorageError(StitchnasError):
    """An Optuna storage (SQLite file, journal, database URL) cannot be opened or written."""


class PluginError(StitchnasError):
    """A plug-in (predictor, sampler, adapter, rule) cannot be found, imported or built."""


def unreadable_checkpoint(err: BaseException) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused a file, in a few words of our own:
    torch's text spans lines and advises unsafe loading (``weights_only=False``), which stitchnas
    never relays (loading arbitrary pickles can run any code)."""
    import re

    text = str(err)
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return (f"it holds Python objects other than tensors ({found.group(1)}), which stitchnas "
                "does not load; save a plain state dict of tensors instead")
    return f"it is truncated or not a torch file ({type(err).__name__})"
