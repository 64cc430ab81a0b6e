"""Stopping a training and resuming it exactly: signals, random streams, the epoch's batches.

``train_stitched`` and ``train_anchors`` save their state inside an epoch when asked to stop
(Ctrl-C, SIGTERM) or every :data:`SAVE_EVERY_S`; what they need to continue bit for bit is
here: the random streams a step draws from, the batches of the epoch after those already done,
and (for an anchor, which has no checkpoint until it is finished) the state file itself.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["SAVE_EVERY_S", "Interrupts", "rng_state", "set_rng_state", "batches_after", "anchor_state_path",
           "load_anchor_state", "save_anchor_state"]


def _tuplify(x: Any) -> Any:
    return tuple(_tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x


#: seconds between checkpoints inside an epoch (a killed run loses at most this much training)
SAVE_EVERY_S = 600.0


class Interrupts:
    """SIGINT and SIGTERM during training ask it to stop after the current step (which then saves
    a checkpoint mid-epoch and raises KeyboardInterrupt); a second one stops at once. Only in the
    main thread, and not for a signal the process ignores (elsewhere signals keep their handlers).
    :meth:`due`, after each step: whether to save now (asked to stop, or ``every_s`` since the
    last save)."""

    def __init__(self, every_s: float = SAVE_EVERY_S) -> None:
        self.requested, self._old = False, {}
        self.every_s, self._saved = every_s, time.monotonic()
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) is signal.SIG_IGN:  # ignored on purpose (nohup, a background job)
                continue
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):  # pragma: no cover - an embedding that owns the signals
                pass

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self.close()
            raise KeyboardInterrupt
        self.requested = True

    def due(self) -> bool:
        if not (self.requested or time.monotonic() - self._saved >= self.every_s):
            return False
        self.saved()
        return True

    def saved(self) -> None:
        """A checkpoint was just written (the next is due ``every_s`` from now)."""
        self._saved = time.monotonic()

    def close(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}


def rng_state(device: str) -> dict[str, Any]:
    """The random streams a training step draws from (dropout, augmentations)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    rng = {"torch": torch.get_rng_state(), "python": random.getstate(),
           "numpy": [name, keys.tolist(), pos, has_gauss, gauss]}  # plain types: weights_only loads them
    if device.startswith("cuda") and torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def set_rng_state(rng: dict[str, Any], device: str) -> None:
    torch.set_rng_state(rng["torch"])
    random.setstate(_tuplify(rng["python"]))
    name, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "cuda" in rng and device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"], device)


class _Indices(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def batches_after(loader, dataset, skip: int):
    """A loader of ``dataset`` yielding ``loader``'s batches after its first ``skip``, without
    loading the skipped ones: the same sampler run over indices gives the order."""
    from torch.utils.data import DataLoader, RandomSampler

    shuffled = isinstance(loader.sampler, RandomSampler)
    if shuffled:  # the epoch's own seeded order (make_loader)
        generator = torch.Generator()
        generator.set_state(loader.generator.get_state())
        order = DataLoader(_Indices(len(dataset)), batch_size=loader.batch_size, shuffle=True,
                           generator=generator, drop_last=loader.drop_last)
    else:  # DDP: the DistributedSampler's order for its epoch
        order = DataLoader(_Indices(len(dataset)), batch_size=loader.batch_size, sampler=loader.sampler,
                           drop_last=loader.drop_last, generator=torch.Generator())
    # walked as the epoch's loop walks its loader, through tqdm.auto's bar: building that bar
    # starts an iterator, which draws once more from the epoch's generator before the order does
    from tqdm.auto import tqdm

    batches = [b.tolist() for b in tqdm(order, disable=True)][skip:]
    if shuffled:  # where a whole epoch over ``loader`` would leave it
        loader.generator.set_state(generator.get_state())
    return DataLoader(dataset, batch_sampler=batches, generator=torch.Generator(),
                      num_workers=loader.num_workers, multiprocessing_context=loader.multiprocessing_context)


# ---- an anchor's training, inside it -------------------------------------------------------------
def anchor_state_path(checkpoint) -> Path:
    """Where an anchor's unfinished training waits, beside the checkpoint it will become."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + ".partial.pt")


def _anchor_key(spec, recipe: dict[str, Any]) -> dict[str, Any]:
    return {"anchor": spec.name, "model": spec.model, "kwargs": repr(spec.kwargs), "recipe": recipe}


def load_anchor_state(path, spec, recipe: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the saved training of this anchor and recipe, or None; a one-line note when a file was
    ignored: another anchor, model or recipe, or not a saved training)."""
    if not Path(path).is_file():
        return None, None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        key = state["key"]
    except Exception as err:  # any unreadable file is only ignored: it holds no one's weights
        return None, f"ignoring {path}: not a saved anchor training ({type(err).__name__}); training from scratch"
    if key != _anchor_key(spec, recipe):
        return None, f"ignoring {path}: another anchor, model or recipe saved it; training from scratch"
    return state, None


def save_anchor_state(path, spec, recipe: dict[str, Any], **state: Any) -> None:
    """Write an anchor's unfinished training atomically (a kill mid-write leaves the last one)."""
    from ..fileio import atomic_write

    with atomic_write(path, "wb", what="anchor training state") as fh:
        torch.save({"key": _anchor_key(spec, recipe), **state}, fh)
