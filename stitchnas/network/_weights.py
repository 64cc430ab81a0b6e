"""Where an export's weights come from, and the refusal to ship random ones.

Each anchor's weights come from the stitched checkpoint (when the anchors were fine-tuned with
the stitching layers), else from its own ``checkpoint:`` file, else from timm's pretrained hub
(``pretrained: true``), else nowhere: timm's random initialisation. The stitching layers come from
the stitched checkpoint or nowhere. Every export records these sources (with each file's
SHA-256) and refuses random weights unless asked (``allow_random_weights``), which only suits
size and speed checks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from ..errors import StitchnasError
from ..space import SearchSpace

__all__ = ["weights_sources", "check_weights", "describe_sources", "RANDOM"]

#: the ``source`` of weights nobody trained or downloaded
RANDOM = "random"


def _sha256(path: str | os.PathLike) -> str | None:
    from ..fileio import file_digest

    return file_digest(path, None) if Path(path).is_file() else None


def weights_sources(space: SearchSpace, checkpoint: str | os.PathLike | None = None,
                    doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"anchors": [{name, source, path, sha256}, ...], "stitching": {source, path, sha256}}``.

    ``source`` is ``stitched-checkpoint``, ``checkpoint``, ``pretrained`` or ``random``; ``doc``
    is the stitched checkpoint already read (read from ``checkpoint`` otherwise).
    """
    if checkpoint is not None and doc is None:
        from ._checkpoints import read_checkpoint

        doc = read_checkpoint(checkpoint, space)
    ckpt = str(checkpoint) if checkpoint is not None else None
    ckpt_sha = _sha256(checkpoint) if checkpoint is not None else None
    tuned = doc is not None and doc.get("anchors") is not None
    anchors = []
    for spec in space.anchors:
        if tuned:
            row = {"source": "stitched-checkpoint", "path": ckpt, "sha256": ckpt_sha}
        elif spec.checkpoint:
            row = {"source": "checkpoint", "path": str(spec.checkpoint), "sha256": _sha256(spec.checkpoint)}
        elif spec.pretrained:
            row = {"source": "pretrained", "path": f"timm:{spec.model}", "sha256": None}
        else:
            row = {"source": RANDOM, "path": None, "sha256": None}
        anchors.append({"name": spec.name, **row})
    stitching = ({"source": "stitched-checkpoint", "path": ckpt, "sha256": ckpt_sha} if ckpt
                 else {"source": RANDOM, "path": None, "sha256": None})
    return {"anchors": anchors, "stitching": stitching}


def describe_sources(sources: dict[str, Any], anchors: Iterable[int] | None = None,
                     stitched: bool = True) -> str:
    """One line: ``anchor tiny: checkpoint results/anchors/x/tiny.pt; stitching layers: ...``."""
    rows = sources["anchors"]
    used = sorted(set(anchors)) if anchors is not None else range(len(rows))
    parts = [f"anchor {rows[i]['name']}: {rows[i]['source']}"
             + (f" {rows[i]['path']}" if rows[i]["path"] else "") for i in used]
    if stitched:
        s = sources["stitching"]
        parts.append(f"stitching layers: {s['source']}" + (f" {s['path']}" if s["path"] else ""))
    return "; ".join(parts)


def check_weights(space: SearchSpace, sources: dict[str, Any], anchors: Iterable[int],
                  stitched: bool, allow_random_weights: bool = False) -> None:
    """Refuse (one line) to export random anchors or untrained stitching layers unless allowed.

    ``anchors`` are the anchor indices the exported stitches use; ``stitched`` whether any of
    them has a stitching layer.
    """
    if allow_random_weights:
        return
    missing = [sources["anchors"][i]["name"] for i in sorted(set(anchors))
               if sources["anchors"][i]["source"] == RANDOM]
    if missing:
        raise StitchnasError(
            f"anchor(s) {', '.join(repr(n) for n in missing)} of {space.name} have no weights (no "
            "`checkpoint:`, no `pretrained: true`, and no stitched checkpoint with tuned anchors): "
            "the export would ship random weights; set `checkpoint:` or `pretrained: true` in the "
            "space file, or pass --allow-random-weights for a size or speed check"
        )
    if stitched and sources["stitching"]["source"] == RANDOM:
        raise StitchnasError(
            f"the stitches of {space.name} need trained stitching layers but no stitched checkpoint "
            f"was given: train one with `stitchnas train {space.given_as}` and pass --checkpoint, or "
            "pass --allow-random-weights for a size or speed check"
        )
