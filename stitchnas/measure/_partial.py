"""An interrupted `evaluate` keeps its counts: a state file beside the measurements file.

:func:`~stitchnas.measure.evaluate_candidates` runs every candidate on every batch, so no
candidate is finished before the last batch; on Ctrl-C (and once a minute) `evaluate` saves what
the finished batches counted to ``OUT.partial.json``, and the same command run again resumes from
there. The file names the evaluation it belongs to (space, ids, a digest of the network's
weights, the images), so a changed command starts afresh instead of mixing two evaluations.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from ._evaluate import PartialEvaluation

__all__ = ["PARTIAL_SUFFIX", "partial_path", "evaluation_key", "weights_digest", "load_partial",
           "save_partial"]

PARTIAL_SUFFIX = ".partial.json"
_VERSION = 1


def partial_path(out: str | Path) -> Path:
    """Where an evaluation into ``out`` keeps its counts while unfinished."""
    out = Path(out)
    return out.with_name(out.name + PARTIAL_SUFFIX)


def weights_digest(module) -> str:
    """sha256 (16 hex digits) of a module's parameters and buffers, names, dtypes and bytes."""
    import torch

    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}:{t.dtype}:{t.numel()};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def evaluation_key(space, ids: Sequence[int], weights: str, dataset: str, images: int,
                   batchnorm: str | None = None) -> dict:
    """What makes two evaluations the same one: only then does a saved state resume
    (``batchnorm``: the per-route statistics' recipe, if any)."""
    key = {"space_hash": space.content_hash, "ids": [int(i) for i in ids], "weights": weights,
           "dataset": dataset, "images": int(images)}
    if batchnorm is not None:
        key["batchnorm"] = batchnorm
    return key


def load_partial(path: str | Path, key: dict) -> tuple[PartialEvaluation | None, str | None]:
    """(the saved counts of this evaluation, or None; a one-line note when a file was ignored)."""
    path = Path(path)
    if not path.is_file():
        return None, None
    try:
        doc = json.loads(path.read_text())
        if doc.get("version") != _VERSION:
            raise ValueError(f"version {doc.get('version')!r}")
        p = doc["partial"]
        partial = PartialEvaluation(ids=tuple(int(i) for i in p["ids"]),
                                    sums=tuple(tuple(float(v) for v in row) for row in p["sums"]),
                                    n_samples=int(p["n_samples"]),
                                    num_classes=None if p["num_classes"] is None else int(p["num_classes"]))
        if len(partial.sums) != len(partial.ids) or any(len(r) != 3 for r in partial.sums):
            raise ValueError("counts do not match the ids")
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"ignoring {path}: not a saved evaluation ({err}); starting afresh"
    if doc.get("key") != key:
        differs = [k for k in key if doc.get("key", {}).get(k) != key[k]]
        return None, (f"ignoring {path}: it counted another evaluation (other {', '.join(differs)}); "
                      "starting afresh")
    if not 0 <= partial.n_samples <= key["images"] or partial.ids != tuple(key["ids"]):
        return None, f"ignoring {path}: its counts do not fit this evaluation; starting afresh"
    return partial, None


def save_partial(path: str | Path, key: dict, partial: PartialEvaluation) -> None:
    """Write the counts atomically (a kill mid-write leaves the previous state)."""
    from ..fileio import write_json

    write_json(path, {"version": _VERSION, "key": key, "partial": {
        "ids": list(partial.ids), "sums": [list(r) for r in partial.sums],
        "n_samples": partial.n_samples, "num_classes": partial.num_classes}},
        what="partial evaluation")
