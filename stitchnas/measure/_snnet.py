"""Importing published per-stitch results (SN-Net's and SN-Netv2's ``stitches_res.txt``).

Each line of such a file is a Python-dict-like or JSON object with at least ``cfg_id`` (the
candidate's id in the official numbering, which the bundled SN-Net spaces reproduce; ``id`` is
taken for it) and ``acc1``; ``acc5``, ``flops`` and ``params`` are optional. A CSV file with a
header row naming the same columns is read the same way. Rows become measurements by id, with
route, flops and params from our space and profiler. Published flops are checked against ours:
SN-Net's stitched models skip the final LayerNorm, so a count lower by exactly ``5 * tokens * d``
(d: the last anchor's width) is the known convention; any other gap over 0.01% is reported, and
a file whose flops are mostly off by more than 3x is refused (results of another space). Rows are
labelled with the data set they were measured on: the space file's ``data:`` name, else ImageNet.
"""

from __future__ import annotations

import ast
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StitchnasError
from ._measurements import Measurement
from ..costs import Profiler
from ..space import SearchSpace

__all__ = ["PublishedRow", "FlopsMismatch", "SnnetImport", "read_snnet_results", "import_snnet",
           "mismatch_lines", "import_warnings", "published_dataset", "FLOPS_TOLERANCE",
           "PUBLISHED_DATASET"]

FLOPS_TOLERANCE = 1e-4  # relative gap (0.01%) above which published flops disagree with ours
FOREIGN_FLOPS_FACTOR = 3.0  # most rows this far off ours (either way): another space's results
PUBLISHED_DATASET = "imagenet-1k:published"


def published_dataset(space: SearchSpace, dataset: str | None = None) -> str:
    """The label of imported rows: ``dataset`` when given, else the space file's ``data:`` name
    (a user's own space measured on its own data), else ImageNet (SN-Net's published tables)."""
    name = dataset or (space.extra.get("data") or {}).get("name")
    if not name:
        return PUBLISHED_DATASET
    name = str(name)
    return name if name.endswith(":published") else f"{name}:published"


@dataclass(frozen=True)
class PublishedRow:
    """One published line: id, accuracies in percent, and the published counts if any."""

    id: int
    acc1: float
    acc5: float | None
    flops: int | None
    params: int | None
    line: int


@dataclass(frozen=True)
class FlopsMismatch:
    """A published flop count that disagrees with our profile beyond the known convention."""

    id: int
    published_flops: int
    our_flops: int

    @property
    def relative_gap(self) -> float:
        return (self.published_flops - self.our_flops) / self.our_flops


@dataclass(frozen=True)
class SnnetImport:
    """The measurements made from a published file, and the flop counts that disagree with ours."""

    rows: tuple[Measurement, ...]
    mismatches: tuple[FlopsMismatch, ...]
    #: ids the official numbering keeps that are not networks of the space (SN-Netv2 evaluates
    #: and publishes its S->L slot after the last S block, which has no L block left): skipped
    skipped: tuple[int, ...] = ()


def _parse_line(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return json.loads(text)  # JSON spellings literal_eval rejects: true, false, null


def _number(value: Any, key: str, where: str, integer: bool = False) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, float) and integer and value.is_integer():
        value, ok = int(value), True
    if not ok or isinstance(value, bool) or not math.isfinite(value):
        kind = "an integer" if integer else "a finite number"
        raise StitchnasError(f"{where}: {key!r} must be {kind}, got {value!r}; fix or delete that line")
    return value


def _csv_value(text: str) -> Any:
    text = text.strip()
    if text == "" or text.lower() in ("none", "null", "nan"):
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # not a number: _number names the column and the line


def _documents(path: Path, text: str):
    """``(line number, parsed row, where)`` for each non-empty line: one Python dict or JSON
    object per line, or a CSV whose first line is a header (``cfg_id``/``id``, ``acc1``, ...)."""
    import csv

    lines = text.lstrip("\ufeff").splitlines()  # a spreadsheet's CSV may start with a byte-order mark
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first and not first.startswith(("{", "[")) and "," in first:
        reader = csv.reader(lines)
        header = None
        for n, cells in enumerate(reader, 1):
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                continue
            where = f"{path}, line {n}"
            if len(cells) != len(header):
                raise StitchnasError(f"{where}: {len(cells)} values for the header's {len(header)} "
                                     f"columns ({', '.join(header)}); fix or delete that line")
            yield n, {k: _csv_value(v) for k, v in zip(header, cells)}, where
        return
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}, line {n}"
        try:
            yield n, _parse_line(line.strip()), where
        except ValueError:
            raise StitchnasError(
                f"{where}: not a Python dict or JSON object; each line must look like "
                "{'cfg_id': 3, 'acc1': 79.0} (or give a CSV with a header row)"
            ) from None


def read_snnet_results(path: str | os.PathLike) -> list[PublishedRow]:
    """Parse a ``stitches_res.txt`` (or JSONL) file; errors name the file and line. Last row per id wins."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StitchnasError(
            f"results file {path} does not exist: give the path of stitches_res.txt"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise StitchnasError(f"cannot read results file {path} ({err}): give a text file") from err
    rows: dict[int, PublishedRow] = {}
    for n, doc, where in _documents(path, text):
        if isinstance(doc, dict) and "cfg_id" not in doc and "id" in doc:
            doc = dict(doc, cfg_id=doc["id"])
        if not isinstance(doc, dict) or "cfg_id" not in doc or "acc1" not in doc:
            raise StitchnasError(f"{where}: each line needs at least 'cfg_id' (or 'id') and 'acc1', "
                                 "e.g. {'cfg_id': 3, 'acc1': 79.0}, or a CSV header naming them")
        cid = _number(doc["cfg_id"], "cfg_id", where, integer=True)
        acc = {k: (None if doc.get(k) is None else float(_number(doc[k], k, where)))
               for k in ("acc1", "acc5")}
        for k, v in acc.items():
            if v is not None and not 0 <= v <= 100:
                raise StitchnasError(f"{where}: {k!r} is {v}, outside 0..100: accuracies must be percentages")
        if acc["acc1"] is None:
            raise StitchnasError(f"{where}: 'acc1' is null; every line needs a top-1 accuracy")
        counts = {k: (None if doc.get(k) is None else _number(doc[k], k, where, integer=True))
                  for k in ("flops", "params")}
        rows[cid] = PublishedRow(cid, acc["acc1"], acc["acc5"], counts["flops"], counts["params"], n)
    if not rows:
        raise StitchnasError(f"results file {path} holds no rows: give SN-Net's stitches_res.txt")
    return [rows[k] for k in sorted(rows)]


def _final_norm_flops(space: SearchSpace, anchor: int) -> int:
    """fvcore's count for the last anchor's final LayerNorm: 5 per element, tokens x d."""
    spec = space.feature_specs[anchor][-1]
    return 5 * spec.positions * spec.channels


def import_snnet(path: str | os.PathLike, space: SearchSpace,
                 profiler: Profiler | None = None, dataset: str | None = None) -> SnnetImport:
    """Published results -> measurements of ``space`` (ids must be valid there), flops checked;
    rows labelled :func:`published_dataset` (``dataset``: the data set they were measured on)."""
    path = Path(path)
    published = read_snnet_results(path)
    valid = {c.id for c in space.candidates}
    skipped = tuple(r.id for r in published if r.id not in valid and 0 <= r.id < space.num_ids)
    published = [r for r in published if r.id not in skipped]
    bad = [r.id for r in published if r.id not in valid]
    if bad:
        shown = ", ".join(map(str, bad[:8])) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
        raise StitchnasError(
            f"{path}: id(s) {shown} are not valid candidates of space {space.name!r} (it has "
            f"{len(valid)} valid ids in 0..{space.num_ids - 1}); import with the space the results "
            "were published for (e.g. deit_tsb_v1 for SN-Net's DeiT-Ti/S/B)"
        )
    profiler = profiler or Profiler(space, progress=False)
    costs = {c.id: c for c in profiler.profile([space.candidate(r.id) for r in published])}
    _refuse_foreign_flops(path, space, published, costs)
    label = published_dataset(space, dataset)
    rows, mismatches = [], []
    for r in published:
        cost = costs[r.id]
        if r.flops is not None and r.flops != cost.flops:
            convention = cost.flops - _final_norm_flops(space, cost.route.last_anchor)
            if r.flops != convention and abs(r.flops - cost.flops) > FLOPS_TOLERANCE * cost.flops:
                mismatches.append(FlopsMismatch(r.id, r.flops, cost.flops))
        rows.append(Measurement(
            id=r.id, route=cost.route, acc1=r.acc1, acc5=r.acc5, loss=None, flops=cost.flops,
            params=cost.params, dataset=label, checkpoint=f"snnet-published:{path.name}",
            space=space.name, space_hash=space.content_hash,
        ))
    return SnnetImport(tuple(rows), tuple(mismatches), skipped)


def _refuse_foreign_flops(path: Path, space: SearchSpace, published: list[PublishedRow],
                          costs: dict) -> None:
    """Stop when most published flop counts are more than 3x off ours: the file holds results of
    another space (another family or input size), which no flop convention explains."""
    counted = [r for r in published if r.flops is not None]
    far = [r for r in counted if not (1 / FOREIGN_FLOPS_FACTOR
                                      <= r.flops / max(costs[r.id].flops, 1) <= FOREIGN_FLOPS_FACTOR)]
    if counted and 2 * len(far) > len(counted):
        r = far[0]
        raise StitchnasError(
            f"{path}: its flops are not those of space {space.name!r}: {len(far)} of {len(counted)} rows "
            f"are more than {FOREIGN_FLOPS_FACTOR:g}x off ours (id {r.id}: published {r.flops:,}, ours "
            f"{costs[r.id].flops:,}); import with the space the results were published for, or drop "
            "the file's flops to import its accuracies anyway"
        )


def import_warnings(result: SnnetImport, space: str, limit: int = 10) -> list[str]:
    """What an import left out or doubts, one line each: the skipped ids, then the flop counts
    that disagree with ours (:func:`mismatch_lines`)."""
    out = []
    if result.skipped:
        ids = ", ".join(map(str, result.skipped))
        out.append(f"warning: id(s) {ids} skipped: the official numbering keeps them, but they are not "
                   f"networks of {space} (e.g. a stitch after the last block with no block left to "
                   "run); `stitchnas enumerate` lists the valid ids")
    return out + mismatch_lines(result, limit)


def mismatch_lines(result: SnnetImport, limit: int = 10) -> list[str]:
    """One warning line per disagreeing id, the rest summarised after ``limit`` lines."""
    out = [
        f"warning: id {m.id}: published flops {m.published_flops:,} differ from ours {m.our_flops:,} "
        f"by {100 * m.relative_gap:+.3f}% (not the final-norm convention); check the space"
        for m in result.mismatches[:limit]
    ]
    rest = len(result.mismatches) - limit
    if rest > 0:
        out.append(f"warning: {rest} more id(s) disagree on flops ({len(result.mismatches)} of "
                   f"{len(result.rows)}); the file may belong to another space")
    return out
