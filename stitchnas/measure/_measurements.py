"""Measurements files: one JSON row per measured stitch, the currency between evaluating,
predicting and searching.

A row is ``{"id", "route", "acc1", "acc5", "loss", "flops", "params", "dataset", "checkpoint",
"space", "space_hash"}``: accuracies in percent (0..100), ``loss`` the mean cross-entropy in nats,
``flops`` fvcore's count at batch 1 (one multiply-add = 1), ``route`` the JSON form
``[[anchor, start, end], ...]``. ``acc5`` and ``loss`` may be null (published tables).

Reading checks every row against the space and names the file and line of the first bad one.
Writing merges with what the file already holds (a re-measured id replaces its row), sorts by
id, replaces the file atomically and holds an exclusive lock on ``.locks/NAME.lock`` beside it
meanwhile, so concurrent writers never lose each other's rows.

Merges never drop data silently: rows of one id that differ (acc1 71.5 in one, 10.0 in another)
are refused in one line naming the id, lines and values, identical repeats are fine; a re-measured
row that changes an id's values replaces it with a warning naming the ids; keys a user added to
rows (``note``, ``operator``, ...) are kept, and carried over to a re-measured row. A write that
fails (disk full, read-only) leaves the file as it was and saves the merged rows to a recovery
file named in the error.
"""

from __future__ import annotations

import fcntl
import json
import functools
import math
import numbers
import os
import shlex
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .._util import short_repr
from ..errors import StitchnasError
from ..fileio import (WriteError, lock_file, make_dirs, read_text, save_recovery, shown, write_error,
                      write_or_recover)
from ..space import Route

if TYPE_CHECKING:  # pragma: no cover
    from ..space import SearchSpace

__all__ = ["Measurement", "FIELDS", "TOP1_HITS", "encode_outcomes", "top1_outcomes", "top1_stderr",
           "difference_stderr", "read_measurements", "measurements_snapshot", "write_measurements",
           "lock_path", "CHECKPOINT_DIGEST", "checkpoint_digest", "measured_elsewhere", "val_subset_option"]

#: the extra key a measured row carries: the first 16 hex digits of its stitched checkpoint's
#: sha256, so rows of a checkpoint trained again at the same path are told apart
CHECKPOINT_DIGEST = "checkpoint_sha256"

#: the extra key of a row's per-image top-1 outcomes in its evaluation's image order: ``N:B``,
#: N images and B their outcomes (1: right) packed 8 to a byte, base64. Rows measured on the
#: same images then give paired standard errors of their differences (:func:`top1_outcomes`)
TOP1_HITS = "top1_hits"

#: extra keys that describe how a row was measured: a re-measured row never inherits them
_MEASURED_WITH = frozenset({CHECKPOINT_DIGEST, "batchnorm", TOP1_HITS})


def encode_outcomes(hits) -> str:
    """``TOP1_HITS``'s text of a 0/1 sequence (one entry per image, in evaluation order)."""
    import base64

    import numpy as np

    bits = np.asarray(hits, dtype=bool)
    return f"{bits.size}:{base64.b64encode(np.packbits(bits).tobytes()).decode('ascii')}"


#: whole validation splits whose image count is fixed, so a row measured on all of one says how many
#: images it saw: Fashion-MNIST's val is its 10,000 test images (digits' depends on the seed).
_WHOLE_SPLIT_IMAGES = {"fashion_mnist:val": 10_000}


def top1_outcomes(m: "Measurement"):
    """A row's per-image top-1 outcomes as a float array of 0 and 1, or None where it carries none
    (rows from before they were recorded, a resumed evaluation, published tables) or they do not
    decode to a top-1 equal to the row's own."""
    import base64
    import binascii

    import numpy as np

    text = dict(m.extra).get(TOP1_HITS)
    if not isinstance(text, str) or ":" not in text:
        return None
    count, _, data = text.partition(":")
    try:
        n = int(count)
        bits = np.unpackbits(np.frombuffer(base64.b64decode(data, validate=True), dtype=np.uint8))
    except (ValueError, binascii.Error):
        return None
    if n <= 0 or bits.size < n or bits.size - n >= 8:
        return None
    out = bits[:n].astype(float)
    return out if abs(100.0 * out.mean() - m.acc1) < 1e-6 else None


def top1_stderr(acc1: float, images: int) -> float:
    """Standard error, in points, of a top-1 of ``acc1`` percent measured on ``images`` images
    (binomial): what a difference between two measurements must exceed to mean something."""
    p = min(max(acc1 / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(p * (1.0 - p) / max(int(images), 1))


def difference_stderr(a: "Measurement", b: "Measurement") -> tuple[float, bool] | None:
    """``(stderr, paired)``: the standard error, in points, of ``a.acc1 - b.acc1``. Paired where
    both rows carry per-image outcomes of the same images (same dataset label and count: two
    stitches mostly agree image by image, so this is well below the error taken as independent);
    else each row's binomial error on the images its label names (``...:subsetN``), taken as
    independent; a whole split of fixed size (Fashion-MNIST's val) counts as named. None
    where the image count is unknown (published rows, an image folder's or digits' whole split)."""
    import numpy as np

    oa, ob = top1_outcomes(a), top1_outcomes(b)
    if oa is not None and ob is not None and oa.size == ob.size > 1 and a.dataset == b.dataset:
        d = oa - ob
        return 100.0 * float(np.std(d, ddof=1)) / math.sqrt(d.size), True
    counts = {o.size for o in (oa, ob) if o is not None}
    for row in (a, b):
        head, _, tail = row.dataset.rpartition(":subset")
        if head and tail.isdigit():
            counts.add(int(tail))
        elif row.dataset in _WHOLE_SPLIT_IMAGES:
            counts.add(_WHOLE_SPLIT_IMAGES[row.dataset])
    if len(counts) != 1 or a.dataset != b.dataset:
        return None
    n = counts.pop()
    return math.hypot(top1_stderr(a.acc1, n), top1_stderr(b.acc1, n)), False


def checkpoint_digest(path: str | os.PathLike | None) -> str | None:
    """The first 16 hex digits of a checkpoint file's sha256 (None when it is not a file).
    Hashed once per version of the file (path, size and modification time), however many
    steps of one command ask."""
    if path is None or not Path(path).is_file():
        return None
    st = Path(path).stat()
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    from ..fileio import file_digest

    return file_digest(path)


def measured_elsewhere(rows: Iterable["Measurement"], checkpoint: str, digest: str | None) -> list[int]:
    """Ids of ``rows`` measured on ``checkpoint``'s path but another version of the file (its
    digest recorded and different): weights trained again since, not to be mixed with new rows.
    Rows without a recorded digest (older files) cannot tell and are not counted."""
    if digest is None:
        return []
    return sorted(m.id for m in rows if m.checkpoint == str(checkpoint)
                  and dict(m.extra).get(CHECKPOINT_DIGEST, digest) != digest)

FIELDS = ("id", "route", "acc1", "acc5", "loss", "flops", "params", "dataset", "checkpoint",
          "space", "space_hash")
_NULLABLE = {"acc5", "loss"}


@dataclass(frozen=True)
class Measurement:
    """One measured stitch. ``acc1``/``acc5`` in percent, ``loss`` mean cross-entropy (nats),
    ``flops`` multiply-adds at batch 1, ``params`` a count; ``dataset`` and ``checkpoint`` say
    what was measured, ``space``/``space_hash`` which space the id belongs to."""

    id: int
    route: Route
    acc1: float
    acc5: float | None
    loss: float | None
    flops: int
    params: int
    dataset: str
    checkpoint: str
    space: str
    space_hash: str
    #: keys a user added to the row (``note``, ``operator``, ...) as (key, value) pairs: kept
    #: through every merge, not compared.
    extra: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # numpy scalars (rows built from arrays) become Python numbers, so the row writes as JSON
        # and compares equal to its read-back; anything else is left for the checks on writing
        for key, kind, cast in (("id", numbers.Integral, int), ("flops", numbers.Integral, int),
                                ("params", numbers.Integral, int), ("acc1", numbers.Real, float),
                                ("acc5", numbers.Real, float), ("loss", numbers.Real, float)):
            value = getattr(self, key)
            if isinstance(value, kind) and not isinstance(value, bool) and type(value) is not cast:
                object.__setattr__(self, key, cast(value))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "route": self.route.to_json(), "acc1": self.acc1, "acc5": self.acc5,
            "loss": self.loss, "flops": self.flops, "params": self.params, "dataset": self.dataset,
            "checkpoint": self.checkpoint, "space": self.space, "space_hash": self.space_hash,
            **{k: v for k, v in self.extra if k not in FIELDS},
        }

    def core(self) -> dict[str, Any]:
        """The measured fields only (what two rows of one id must agree on)."""
        return {k: v for k, v in self.to_json().items() if k in FIELDS}

    @classmethod
    def from_json(cls, row: Any, space: "SearchSpace") -> "Measurement":
        """Build from a parsed row, checking it fully against ``space``."""
        _check_row(row)
        if row["space_hash"] != space.content_hash:
            raise StitchnasError(
                f"the row belongs to another space ({row['space']!r}, hash {row['space_hash']}), "
                f"not {space.name!r} (hash {space.content_hash}): read it with the space it was "
                "measured on, or write this space's measurements to a new file"
            )
        cand = space.candidate(row["id"])
        route = Route.of(row["route"])
        if route != cand.route:
            raise StitchnasError(
                f"id {cand.id} has route {route.to_json()} here but {cand.route.to_json()} in space "
                f"{space.name!r}: the row comes from a different enumeration; re-measure it"
            )
        return _from_checked(row, route)


def _from_checked(row: dict[str, Any], route: Route) -> Measurement:
    def num(v):
        return None if v is None else float(v)

    return Measurement(
        id=row["id"], route=route, acc1=float(row["acc1"]), acc5=num(row["acc5"]),
        loss=num(row["loss"]), flops=row["flops"], params=row["params"], dataset=row["dataset"],
        checkpoint=row["checkpoint"], space=row["space"], space_hash=row["space_hash"],
        extra=tuple((k, v) for k, v in row.items() if k not in FIELDS),
    )


def _values(m: Measurement) -> str:
    acc = "null" if m.acc5 is None else f"{m.acc5:g}"
    return f"acc1 {m.acc1:g}, acc5 {acc}, {m.dataset}, {m.checkpoint}"


def _conflicts(path: Path, rows: Iterable[tuple[int, Measurement]], where: str = "line") -> dict[int, Measurement]:
    """One row per id from (line, row) pairs: identical repeats merge (their added keys joined),
    rows of one id that differ are refused in one line naming the id, lines and values."""
    by_id: dict[int, tuple[int, Measurement]] = {}
    for n, m in rows:
        if m.id not in by_id:
            by_id[m.id] = (n, m)
            continue
        n0, m0 = by_id[m.id]
        if m0.core() != m.core():
            if m0.acc1 != m.acc1 or m0.acc5 != m.acc5:
                what = f"acc1 {m0.acc1:g} vs {m.acc1:g}" if m0.acc1 != m.acc1 else \
                    f"acc5 {m0.acc5} vs {m.acc5}"
            else:
                what = ", ".join(f"{k} {m0.core()[k]!r} vs {m.core()[k]!r}" for k in FIELDS
                                 if m0.core()[k] != m.core()[k])
            raise StitchnasError(
                f"{shown(path)}: id {m.id} has conflicting rows ({where}s {n0} and {n}: {what}): "
                "keep the right one and delete the other (identical repeats are fine)")
        by_id[m.id] = (n0, _with_extra(m0, m.extra))
    return {cid: m for cid, (_, m) in by_id.items()}


def _with_extra(m: Measurement, extra: tuple[tuple[str, Any], ...]) -> Measurement:
    """``m`` with ``extra``'s keys added (``m``'s own win)."""
    if not extra:
        return m
    import dataclasses

    own = dict(m.extra)
    return dataclasses.replace(m, extra=tuple({**dict(extra), **own}.items()))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_row(row: Any) -> None:
    """Space-independent checks: keys, types, finite values, ranges."""
    if not isinstance(row, dict):
        raise StitchnasError(f"expected a JSON object with keys {list(FIELDS)}, got {type(row).__name__}")
    missing = [k for k in FIELDS if k not in row]
    if missing:
        raise StitchnasError(f"missing key(s) {missing}: every row needs {list(FIELDS)}")
    if not _is_int(row["id"]) or row["id"] < 0:
        raise StitchnasError(f"'id' must be an integer >= 0, got {row['id']!r}")
    if not isinstance(row["route"], list):
        raise StitchnasError(f"'route' must be a list [[anchor, start, end], ...], got {row['route']!r}")
    Route.of(row["route"])  # raises a one-line StitchnasError if malformed
    for key in ("acc1", "acc5", "loss"):
        value = row[key]
        if value is None and key in _NULLABLE:
            continue
        if not _is_number(value):
            what = "a number or null" if key in _NULLABLE else "a number"
            raise StitchnasError(f"{key!r} must be {what}, got {value!r}")
        try:
            value = float(value)
        except OverflowError:  # an integer beyond any float
            value = math.inf if value > 0 else -math.inf
        if not math.isfinite(value):
            raise StitchnasError(f"{key!r} is {value}: measurements must be finite; re-measure this id")
        if key != "loss" and not 0.0 <= value <= 100.0:
            raise StitchnasError(
                f"{key!r} is {value}, outside 0..100: accuracies are percentages (write 0.75 as 75.0)"
            )
        if key == "loss" and value < 0:
            raise StitchnasError(f"'loss' is {value}: a cross-entropy cannot be negative")
    for key in ("flops", "params"):
        if not _is_int(row[key]) or not 0 <= row[key] < 2 ** 63:
            raise StitchnasError(f"{key!r} must be an integer in 0..2**63-1, got {short_repr(row[key])}; "
                                 "take counts from `stitchnas enumerate`")
    for key in ("dataset", "checkpoint", "space", "space_hash"):
        if not isinstance(row[key], str):
            raise StitchnasError(f"{key!r} must be a string, got {row[key]!r}")


def _read_file(path: Path) -> str:
    try:
        return read_text(path, "measurements file")  # regular files only, size-capped
    except FileNotFoundError:
        raise StitchnasError(
            f"measurements file {path} does not exist: create it with `stitchnas evaluate` or "
            "`stitchnas import-snnet`"
        ) from None
    except UnicodeDecodeError as err:
        raise StitchnasError(f"cannot read measurements file {path}: it is not text ({err.reason} at "
                             f"byte {err.start}); give a JSONL file, one JSON row per line") from err
    except OSError as err:
        raise StitchnasError(f"cannot read measurements file {path} ({err.strerror or err}): check "
                             "the path") from err


def _parse_lines(path: Path, space: "SearchSpace | None" = None,
                 text: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, checked row) for every non-blank line of ``text`` (default: the file's);
    errors name the file and line (and, for a row without a usable ``space_hash``, the hash of
    ``space``)."""
    if text is None:
        text = _read_file(path)
    lines = text.removeprefix("\ufeff").split("\n")  # a BOM (some editors write one) is not data
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
            last = n == len(lines) or all(not rest.strip() for rest in lines[n:])
            hint = ("the last line is cut short (an interrupted write?): delete that line and re-measure "
                    "its stitch" if last else "fix or delete that line")
            raise StitchnasError(f"{path}, line {n}: not valid JSON; {hint}") from None
        try:
            _check_row(row)
        except StitchnasError as err:
            hint = ""
            if isinstance(row, dict) and "acc1" in row and "route" not in row:
                given = shlex.quote(space.given_as) if space is not None else "SPACE"
                hint = (f"; a file of ids and top-1 alone (published results) becomes rows with "
                        f"`stitchnas import-snnet {shlex.quote(str(path))} --space {given} --out M.jsonl`")
            elif space is not None and isinstance(row, dict) and not isinstance(row.get("space_hash"), str):
                hint = (f"; rows of space {space.name!r} take \"space_hash\": \"{space.content_hash}\" "
                        "(`stitchnas enumerate` prints it)")
            raise StitchnasError(f"{path}, line {n}: {err}{hint}") from None
        yield n, row


def val_subset_option(dataset: str) -> str:
    """``" --val-subset N"`` for a row's dataset label measured on N validation images
    (``...:subsetN``), else ``""``: what `evaluate` needs to measure on the same images."""
    head, _, tail = dataset.rpartition(":subset")
    return f" --val-subset {tail}" if head and tail.isdigit() else ""


def read_measurements(path: str | os.PathLike, space: "SearchSpace | str") -> list[Measurement]:
    """Every measurement in ``path``, checked against ``space`` (a space, a bundled name or a YAML
    path), sorted by id; an id's identical repeats are one row, differing ones an error."""
    from ..space import load_space

    return measurements_snapshot(path, load_space(space))[0]


def measurements_snapshot(path: str | os.PathLike, space: "SearchSpace") -> tuple[list[Measurement], str]:
    """:func:`read_measurements` and the SHA-256 (hex) of the very bytes the rows were parsed
    from, read once: a writer replacing the file meanwhile cannot make the two disagree."""
    import hashlib

    path = Path(path)
    text = _read_file(path)
    rows: list[tuple[int, Measurement]] = []
    for n, row in _parse_lines(path, space, text):
        if row["space_hash"] != space.content_hash:
            raise StitchnasError(
                f"{path}, line {n}: the file belongs to another space ({row['space']!r}, hash "
                f"{row['space_hash']}), not {space.name!r} (hash {space.content_hash}): pass the "
                "space it was measured on, or write this space's measurements to a new file (a "
                f"hand-written row of {space.name!r} takes space_hash {space.content_hash}, as "
                "`stitchnas enumerate` prints)"
            )
        try:
            m = Measurement.from_json(row, space)
        except StitchnasError as err:
            raise StitchnasError(f"{path}, line {n}: {err}") from None
        rows.append((n, m))
    by_id = _conflicts(path, rows)
    return [by_id[k] for k in sorted(by_id)], hashlib.sha256(text.encode("utf-8")).hexdigest()


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file writers of ``path`` hold: ``.locks/NAME.lock`` beside it (the hidden folder
    that storages keep their locks in too)."""
    return lock_file(path, "lock", create=False)


class _LockError(WriteError):
    """The lock file of a measurements file cannot be created."""


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    make_dirs(path.parent)
    try:
        fd = os.open(lock_file(path, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise _LockError(str(write_error(err, path, "measurements file"))) from None
    except WriteError as err:  # the lock folder could not be made
        raise _LockError(str(err)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_measurements(path: str | os.PathLike, rows: Iterable[Measurement],
                       replace: bool = True, conflicts: str | None = None) -> list[Measurement]:
    """Merge ``rows`` into ``path`` (created if absent) and return the file's rows, sorted by id.

    ``conflicts`` says what a new row does to the file's row of its id when their values differ:
    ``"replace"`` (re-measuring; the default, ``replace=True``) replaces it and warns naming the
    ids; ``"keep"`` (``replace=False``) keeps the file's row; ``"refuse"`` (importing) raises;
    ``"overwrite"`` replaces the whole file with ``rows`` (a table re-made from scratch).
    Identical rows merge; keys a user added to the file's row are kept. All rows must share the
    file's space hash. The file is rewritten atomically under an exclusive lock on
    ``.locks/NAME.lock``; if that write fails, the merged rows are saved to a recovery file the
    error names.
    """
    conflicts = conflicts or ("replace" if replace else "keep")
    if conflicts not in ("replace", "keep", "refuse", "overwrite"):
        raise ValueError(f"conflicts must be replace, keep, refuse or overwrite, got {conflicts!r}")
    path = Path(path)
    batch: list[tuple[int, Measurement]] = []
    for n, m in enumerate(rows, 1):
        if not isinstance(m, Measurement):
            raise TypeError(f"write_measurements takes Measurement rows, got {type(m).__name__}")
        try:
            _check_row(m.to_json())
        except StitchnasError as err:
            raise StitchnasError(f"cannot write id {m.id} to {shown(path)}: {err}") from None
        batch.append((n, m))
    new = _conflicts(path, batch, where="new row")
    hashes = {m.space_hash for m in new.values()}
    if len(hashes) > 1:
        raise StitchnasError(
            f"cannot write rows of several spaces (hashes {sorted(hashes)}) to one file {shown(path)}: "
            "write each space's measurements to its own file"
        )
    if conflicts == "refuse" and path.exists():  # refused before the lock file exists
        _merge(path, new, hashes, conflicts, dry=True)
    try:
        return _merge(path, new, hashes, conflicts)
    except _LockError as err:  # before anything was merged: save the new rows alone
        text = "".join(json.dumps(m.to_json()) + "\n" for m in new.values())
        raise WriteError(f"{err}{save_recovery(path, text, f'the {len(new)} new row(s)')}") from None


@contextmanager
def _unlocked() -> Iterator[None]:
    yield


def _merge(path: Path, new: dict[int, Measurement], hashes: set[str], conflicts: str,
           dry: bool = False) -> list[Measurement]:
    """Merge ``new`` into the file's rows and write them (``dry``: check only, no lock, no write)."""
    with (_unlocked() if dry else _locked(path)):
        old: list[tuple[int, Measurement]] = []
        if path.exists() and conflicts != "overwrite":
            for n, row in _parse_lines(path):
                if hashes and row["space_hash"] not in hashes:
                    raise StitchnasError(
                        f"{shown(path)}, line {n}: the file holds measurements of space {row['space']!r} "
                        f"(hash {row['space_hash']}), not of {next(iter(new.values())).space!r} (hash "
                        f"{next(iter(hashes))}): write to a new file, or delete this one"
                    )
                old.append((n, _from_checked(row, Route.of(row["route"]))))
        merged = _conflicts(path, old)
        changed: list[tuple[Measurement, Measurement]] = []
        for cid, m in new.items():
            was = merged.get(cid)
            if was is None:
                merged[cid] = m
            elif was.core() == m.core() or conflicts == "replace":
                if was.core() != m.core():
                    changed.append((was, m))
                # a user's notes stay with the id; what the old measurement was made with does not
                merged[cid] = _with_extra(m, tuple((k, v) for k, v in was.extra if k not in _MEASURED_WITH))
            elif conflicts == "refuse":
                raise StitchnasError(
                    f"{shown(path)} already holds id {cid} with other values ({_values(was)}) than "
                    f"the rows written now ({_values(m)}): write to a new file, or delete that row "
                    "first to replace it")
        if dry:
            return []
        if changed:
            from ..progress import get_logger

            shown_ids = ", ".join(f"{a.id} (acc1 {a.acc1:g} -> {b.acc1:g})" for a, b in changed[:5])
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            get_logger("measure").warning(
                f"{shown(path)}: re-measured id(s) {shown_ids}{more} replace their rows")
        out = [merged[k] for k in sorted(merged)]
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644  # mkstemp's 0600 hides rows
        text = "".join(json.dumps(m.to_json()) + "\n" for m in out)
        saved = ("the new rows," if conflicts == "overwrite" else
                 f"the {len(new)} new row(s), merged with the file's,")
        write_or_recover(path, text, "measurements file", mode=mode, saved=saved)
    return out

