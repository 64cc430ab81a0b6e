"""The exception types for bad input (the CLI prints the message on one line and exits 2), and
the warning type for what an answer cannot show."""

__all__ = ["StitchnasError", "StorageError", "PluginError", "CheckpointSpaceMismatch", "StitchnasWarning",
           "nonfinite_tensor", "unreadable_checkpoint", "device_problem"]


class StitchnasError(ValueError):
    """Bad input from the user (file, name, option): the message says what is wrong and how to fix it."""


class StitchnasWarning(UserWarning):
    """What an answer cannot show by itself (a front from part of the space, measurements changed
    since the search, latencies timed on another CPU, a better member over a latency budget by
    less than the table's error): the command line prints these as ``stitchnas: note: ...``;
    :func:`stitchnas.query` and :func:`stitchnas.export` warn them."""


class StorageError(StitchnasError):
    """An Optuna storage (SQLite file, journal, database URL) cannot be opened or written."""


class PluginError(StitchnasError):
    """A plug-in (predictor, sampler, adapter, rule) cannot be found, imported or built."""


class CheckpointSpaceMismatch(StitchnasError):
    """A stitched checkpoint trained on another version of the space (its anchors, rule or
    stitching changed since): callers that own the file can give their own advice."""


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


def nonfinite_tensor(tensors: object, prefix: str = "") -> str | None:
    """The first tensor of a (nested) state dict holding NaN or inf, as ``"'NAME' holds N NaN
    and M inf of K values"``, or None when every floating-point tensor is finite. Weights that
    are not finite make every output NaN: a checkpoint holding them is refused on load."""
    if not isinstance(tensors, dict):
        return None
    for key, value in tensors.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found = nonfinite_tensor(value, f"{name}.")
            if found:
                return found
            continue
        is_float = getattr(value, "is_floating_point", None)
        if is_float is None or not (is_float() or value.is_complex()):
            continue
        if bool(value.isfinite().all()):
            continue
        nan = int(value.isnan().sum())
        inf = int(value.isinf().sum())
        return f"{name!r} holds {nan} NaN and {inf} inf of {value.numel()} values"
    return None


def device_problem(device: str) -> str | None:
    """Why this machine cannot run on torch device ``device`` (``cuda:99``, ``mps`` on Linux),
    in words, or None if it can: checked before work, not found by the first tensor moved."""
    kind, _, index = str(device).strip().partition(":")
    if kind == "cpu":
        return None
    import torch

    backend = getattr(torch, kind, None)
    count = 0
    try:
        if backend is not None and backend.is_available():
            count = backend.device_count() if hasattr(backend, "device_count") else 1
    except Exception:  # noqa: BLE001 - a broken driver is "not available"
        count = 0
    if count == 0:
        return f"this machine has no {kind} device, got {device!r}: use cpu"
    if index and int(index) >= count:
        return f"this machine has {count} {kind} device(s) ({kind}:0..{kind}:{count - 1}), got {device!r}"
    return None
