"""Checkpoints of stitched networks: stitching layers (and anchors if tuned), tied to a space.

A checkpoint records the space's content hash; loading it with another space is an error, not a
silent mismatch. Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointSpaceMismatch, StitchnasError, nonfinite_tensor, unreadable_checkpoint
from ..fileio import atomic_write
from ._model import StitchedNetwork
from ..space import SearchSpace, load_space

__all__ = ["save_checkpoint", "read_checkpoint", "apply_checkpoint", "load_network", "anchors_changed", "FORMAT"]

FORMAT = "stitchnas-stitched/1"


def _anchor_digests(space: SearchSpace) -> dict[str, str]:
    """:func:`stitchnas.measure.checkpoint_digest` of each anchor's checkpoint file, by anchor
    name: the weights a stitched checkpoint's layers were fitted to."""
    from ..measure import checkpoint_digest

    digests = {a.name: checkpoint_digest(a.checkpoint) for a in space.anchors}
    return {name: d for name, d in digests.items() if d is not None}


def anchors_changed(doc: dict[str, Any], space: SearchSpace) -> list[str]:
    """The anchors whose checkpoint file is another one than a read stitched checkpoint was
    trained on (``train-anchors --force`` since): its stitching layers fit the old features.
    Empty where the checkpoint records none (written before it did) or holds its own anchors."""
    recorded = doc.get("anchor_checkpoints")
    if not isinstance(recorded, dict) or doc.get("anchors") is not None:
        return []
    now = _anchor_digests(space)
    return [name for name, digest in recorded.items() if name in now and now[name] != digest]


def save_checkpoint(path: str | os.PathLike, net: StitchedNetwork, *, anchors_tuned: bool,
                    state: dict[str, Any] | None = None) -> None:
    """Save the stitching layers (and the anchors if they were fine-tuned) plus training state."""
    doc = {
        "format": FORMAT,
        "space": net.space.name,
        "space_hash": net.space.content_hash,
        "rank": next((m.rank for m in net.stitch_layers.values()), None),
        "stitch_layers": {k: v.detach().cpu() for k, v in net.stitch_layers.state_dict().items()},
        "anchors": ({k: v.detach().cpu() for k, v in net.anchors.state_dict().items()}
                    if anchors_tuned else None),
        "anchor_checkpoints": _anchor_digests(net.space),
        "state": state or {},
    }
    with atomic_write(path, "wb", what="checkpoint") as fh:
        torch.save(doc, fh)


def _retrain(path: Path, space: SearchSpace | None, fresh: bool = True) -> str:
    """The command that writes checkpoint ``path``; ``fresh``: from scratch (``--no-resume``),
    since resuming would read a broken file again."""
    import shlex

    from ..paths import checkpoint_path, results_flag

    name = space.given_as if space is not None else "SPACE"
    out = results_flag() if space is not None and path.resolve() == checkpoint_path(space.name).resolve() \
        else f" --out {shlex.quote(str(path))}"
    return f"`stitchnas train {name}{' --no-resume' if fresh else ''}{out}`"


def read_checkpoint(path: str | os.PathLike, space: SearchSpace | None = None) -> dict[str, Any]:
    """Read and check a checkpoint file (against ``space`` when given)."""
    path = Path(path)
    if not path.is_file():
        raise StitchnasError(f"checkpoint {path} does not exist; train one with "
                             f"{_retrain(path, space, fresh=False)}")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        why = unreadable_checkpoint(err)
        if why.startswith("it is truncated"):
            why = f"it is truncated or not a stitchnas checkpoint ({type(err).__name__})"
        raise StitchnasError(f"cannot read checkpoint {path}: {why}: retrain it with "
                             f"{_retrain(path, space)}") from err
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StitchnasError(f"{path} is not a stitchnas stitched-network checkpoint ({FORMAT})")
    missing = [k for k in ("space", "space_hash", "stitch_layers", "anchors") if k not in doc]
    if missing or not isinstance(doc["stitch_layers"], dict):
        raise StitchnasError(f"checkpoint {path} is damaged (lacks {missing or ['stitch_layers']}): "
                             f"retrain it with {_retrain(path, space)}")
    if space is not None and doc["space_hash"] != space.content_hash:
        raise CheckpointSpaceMismatch(
            f"checkpoint {path} was trained on space {doc['space']!r} (hash {doc['space_hash']}), not "
            f"on {space.name!r} (hash {space.content_hash}); use the space it was trained with or "
            f"retrain it with {_retrain(path, space)}"
        )
    if doc["anchors"] is not None and not isinstance(doc["anchors"], dict):
        raise StitchnasError(f"checkpoint {path} is damaged ('anchors' is neither a state dict nor "
                             f"null): retrain it with {_retrain(path, space)}")
    for section in ("stitch_layers", "anchors"):
        bad = nonfinite_tensor(doc[section], f"{section}.")
        if bad:
            raise StitchnasError(
                f"checkpoint {path} is not usable: tensor {bad} (training diverged or the file is "
                f"damaged); retrain it with {_retrain(path, space)[:-1]} --lr LR` (a lower one)")
    return doc


def load_network(space: SearchSpace | str, path: str | os.PathLike | None = None) -> StitchedNetwork:
    """A StitchedNetwork of ``space`` (a space, a bundled name or a YAML path) with its anchors'
    weights and, if given, a checkpoint's layers."""
    space = load_space(space)
    if path is None:
        return StitchedNetwork(space, space.create_models())
    doc = read_checkpoint(path, space)
    changed = anchors_changed(doc, space)
    if changed:
        from ..progress import get_logger

        get_logger("network").warning(
            f"{path} was trained on other weights of anchor(s) {', '.join(changed)} (their checkpoint files "
            f"changed since), so its stitching layers fit features these anchors no longer give: retrain "
            f"it with {_retrain(Path(path), space)}")
    models = space.create_models(weights=doc["anchors"] is None)
    net = StitchedNetwork(space, models, rank=doc.get("rank"))
    apply_checkpoint(net, doc, path)
    return net.eval()


def apply_checkpoint(net: StitchedNetwork, doc: dict[str, Any], path: str | os.PathLike) -> None:
    """Load a read checkpoint's stitching layers (and tuned anchors) into ``net``."""
    try:
        net.stitch_layers.load_state_dict(doc["stitch_layers"])
        if doc["anchors"] is not None:
            net.anchors.load_state_dict(doc["anchors"])
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        detail = " ".join(lines[1:3] or lines[:1])[:300].rstrip(".")
        raise StitchnasError(
            f"checkpoint {path} does not fit space {net.space.name!r} ({detail}); retrain with "
            "this space"
        ) from err
