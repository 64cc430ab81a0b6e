"""Latency tables: the per-piece timings and memory of one space on one target, their files.

A table is keyed by the space's structure (what decides shapes; weights do not change latency),
the target's settings and the machine's identity, saved under ``results/latency/``; a
candidate's latency and memory are composed from its pieces (see :mod:`._latency`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import StitchnasError
from ..fileio import write_json
from ..paths import check_name, inside, latency_dir, results_flag
from ..space import Candidate, Route, SearchSpace, load_space
from ._machine import machine_identity
from ._table_numbers import number_problem
from ._targets import MB, Target, load_target

__all__ = [
    "FORMAT",
    "STATISTIC",
    "LatencyTable",
    "StitchLatency",
    "TargetCost",
    "latency_table_path",
    "load_latency_table",
]

FORMAT = "stitchnas-latency-table/1"


# ---- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StitchLatency:
    """A candidate's composed latency (ms per forward at the target's batch size) and peak memory
    (MB = 2**20 bytes)."""

    id: int
    route: Route
    latency_ms: float
    memory_mb: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "route": self.route.to_json(), "latency_ms": self.latency_ms,
                "memory_mb": self.memory_mb}


@dataclass(frozen=True)
class TargetCost:
    """A candidate's costs on a target: ``cost`` in the target's cost model (ms, flops or params),
    the figures behind it (``None`` where the target does not provide them) and the budgets it
    breaks (empty: feasible)."""

    id: int
    route: Route
    cost: float
    flops: int
    params: int
    latency_ms: float | None
    memory_mb: float | None
    violations: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "route": self.route.to_json(), "cost": self.cost, "flops": self.flops,
                "params": self.params, "latency_ms": self.latency_ms, "memory_mb": self.memory_mb,
                "violations": list(self.violations)}


def _outer_keys(cand: Candidate) -> list[str]:
    """The pieces of a candidate outside its segments' blocks: stem, stitching layers, head."""
    route = cand.route
    return [f"stem:{route.first_anchor}", *(f"stitch:{k}" for k in cand.layer_keys),
            f"head:{route.last_anchor}"]


def _piece_keys(cand: Candidate) -> list[str]:
    """Every piece of a candidate, in route order (stem, blocks, stitching layers, head): the
    order its times are summed in."""
    stem, *rest = _outer_keys(cand)
    return [stem, *(f"block:{s.anchor}:{i}" for s in cand.route for i in range(s.start, s.end)), *rest]


def _required_keys(space: SearchSpace) -> set[str]:
    keys = set()
    for a, d in enumerate(space.depths):
        keys |= {f"stem:{a}", f"head:{a}"} | {f"block:{a}:{i}" for i in range(d)}
    keys |= {f"stitch:{k}" for k in space.layer_shapes}
    return keys


def _statistic(samples) -> float:
    """``STATISTIC`` of ``samples``: ``numpy.percentile(samples, STATISTIC_PERCENTILE)`` (linear
    interpolation), without its overhead: composing every candidate of a large space calls this
    once per candidate."""
    import numpy as np

    v = np.sort(samples)
    pos = STATISTIC_PERCENTILE / 100 * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return float(v[lo] + (v[hi] - v[lo]) * (pos - lo))


def _hash(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


STATISTIC_PERCENTILE = 10
#: the per-piece and end-to-end statistic that latencies are composed of (a key of every piece)
STATISTIC = f"p{STATISTIC_PERCENTILE}_ms"
#: a validation's ``composition`` when the overhead constants were not applied
PLAIN_SUM = "plain sum"


def composes_plain_sum(validation: dict[str, Any] | None) -> bool:
    """Whether a table's validation (or a report carrying its ``composition``) says the table
    composes without the overhead constants, which erred more out of sample than the plain sum."""
    return bool(validation) and validation.get("composition") == PLAIN_SUM


# ---- the table -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LatencyTable:
    """Per-piece latency and memory of one space on one target, measured on one machine.

    ``space``: name, structure and content hashes, input size. ``target``: the target as it was
    (name, settings, budgets). ``machine``: :func:`machine_identity`. ``pieces``: piece key
    (``stem:A``, ``block:A:I``, ``head:A``, ``stitch:KEY``, as the Profiler's) -> ``median_ms``,
    ``p10_ms``, ``p90_ms``, ``iqr_ms``, ``repeats``. ``memory``: ``input_bytes`` and per piece
    ``params_bytes``/``peak_bytes``. ``overhead``: ``per_network_ms``, ``per_stitch_ms`` (zero
    until validated). ``validation``: the last validation report. ``meta``: how it was made.
    """

    space: dict[str, Any]
    target: dict[str, Any]
    machine: dict[str, Any]
    pieces: dict[str, dict[str, Any]]
    memory: dict[str, Any]
    overhead: dict[str, Any]
    validation: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    reused: bool = field(default=False, compare=False)
    bound_space: SearchSpace | None = field(default=None, compare=False, repr=False)

    # ---- composition ------------------------------------------------------------------------
    def bind(self, space: SearchSpace) -> LatencyTable:
        """This table, knowing its space (needed to look candidates up by id or route)."""
        return replace(self, bound_space=space)

    def candidate(self, which: Candidate | Route | str | int | Sequence) -> Candidate:
        if isinstance(which, Candidate):
            return which
        if self.bound_space is None:
            raise StitchnasError("this latency table is not bound to a space: pass a Candidate, or "
                                 "get the table from load_latency_table(space, target)")
        if isinstance(which, int) and not isinstance(which, bool):
            return self.bound_space.candidate(which)
        return self.bound_space.find(which)

    @cached_property
    def _rounds(self) -> dict[str, Any] | None:
        """Each piece's times in round order (every piece is timed once per round), or None for
        a table without them (made before tables kept them; loading checks that they line up)."""
        import numpy as np

        rounds = {k: st.get("samples_ms") for k, st in self.pieces.items()}
        lengths = {len(v) if isinstance(v, list) else -1 for v in rounds.values()}
        if len(lengths) != 1 or min(lengths) < 1:
            return None
        return {k: np.asarray(v, dtype=float) for k, v in rounds.items()}

    @property
    def per_round(self) -> bool:
        """Whether the table keeps every piece's time in each round, and so composes routes
        round by round (False: a table made before tables kept them; it sums percentiles)."""
        return self._rounds is not None

    def composed_ms(self, which) -> float:
        """The candidate's latency from its pieces, without the overhead constants: the
        ``STATISTIC`` (10th percentile) over the rounds of its pieces' summed times, as its
        end-to-end runs are measured (a sum of per-piece percentiles runs low: each piece keeps its
        luckiest rounds); tables without per-round times sum the pieces' ``STATISTIC``."""
        cand = self.candidate(which)
        rounds = self._rounds
        if rounds is None:
            return self.percentile_sum_ms(cand)
        try:
            stem, *outer = _outer_keys(cand)
            total = rounds[stem] + sum(self._segment_rounds(s.anchor, s.start, s.end) for s in cand.route)
            return _statistic(sum((rounds[k] for k in outer), total))
        except KeyError as err:
            raise self._missing(cand, err) from None

    def _segment_rounds(self, anchor: int, start: int, end: int):
        """Blocks ``start .. end-1`` of ``anchor``, their times summed round by round, once per
        segment (a space of 10^5 routes has a few thousand)."""
        key = ("rounds", anchor, start, end)
        if key not in self._segments:
            self._segments[key] = sum(self._rounds[f"block:{anchor}:{i}"] for i in range(start, end))
        return self._segments[key]

    def percentile_sum_ms(self, which) -> float:
        """The sum of the candidate's pieces' own ``STATISTIC``: how tables without per-round
        times compose (validation reports it beside :meth:`composed_ms` on the same runs)."""
        cand = self.candidate(which)
        try:
            return float(sum(self.pieces[k][STATISTIC] for k in _piece_keys(cand)))
        except KeyError as err:
            raise self._missing(cand, err) from None

    @staticmethod
    def _missing(cand: Candidate, err: KeyError) -> StitchnasError:
        return StitchnasError(f"latency table has no timing for piece {err.args[0]!r} of route "
                              f"{cand.route}: the table is of another space; re-profile")

    def latency_ms(self, which) -> float:
        """Composed latency in ms per forward at the target's batch size, overhead included;
        never below a tenth of the plain sum (constants fitted on a noisy validation can drive a
        small candidate negative; :func:`latency_warning` flags such tables)."""
        cand = self.candidate(which)
        raw = self.composed_ms(cand)
        return max(0.1 * raw, raw + float(self.overhead.get("per_network_ms", 0.0))
                   + float(self.overhead.get("per_stitch_ms", 0.0)) * cand.route.num_stitches)

    def memory_bytes(self, which) -> int:
        """Peak bytes: parameters and buffers + input image + the largest piece's live
        activations (within a segment, plus the segment's input, which the standalone module
        holds until the segment ends)."""
        cand = self.candidate(which)
        pieces = self.memory["pieces"]
        keys = _outer_keys(cand)
        segments = [self._segment_memory(s.anchor, s.start, s.end) for s in cand.route]
        return int(sum(pieces[k]["params_bytes"] for k in keys) + sum(b for b, _ in segments)
                   + self.memory["input_bytes"]
                   + max(max(pieces[k]["peak_bytes"] for k in keys), max(p for _, p in segments)))

    @cached_property
    def _segments(self) -> dict[tuple, Any]:
        """Per-segment sums: (anchor, start, end) -> memory, ("rounds", ...) -> round times."""
        return {}

    def _segment_memory(self, anchor: int, start: int, end: int) -> tuple[int, int]:
        """(parameter bytes, peak bytes) of blocks ``start .. end-1`` of ``anchor``, each block's
        peak plus the segment's input, which the standalone module holds until the segment ends."""
        key = (anchor, start, end)
        if key not in self._segments:
            pieces = self.memory["pieces"]
            blocks = [pieces[f"block:{anchor}:{i}"] for i in range(start, end)]
            held = blocks[0]["input_bytes"]
            peak = max([blocks[0]["peak_bytes"]] + [b["peak_bytes"] + held for b in blocks[1:]])
            self._segments[key] = (sum(b["params_bytes"] for b in blocks), peak)
        return self._segments[key]

    def memory_mb(self, which) -> float:
        """Peak memory in MB (2**20 bytes) at the target's batch size."""
        return self.memory_bytes(which) / MB

    def profile(self, candidates: Iterable[Candidate] | None = None) -> list[StitchLatency]:
        """Composed latency and memory of the given candidates (every candidate by default)."""
        if candidates is None:
            if self.bound_space is None:
                raise StitchnasError("pass the candidates, or bind the table to its space")
            candidates = self.bound_space.candidates
        return [StitchLatency(c.id, c.route, self.latency_ms(c), self.memory_mb(c))
                for c in (self.candidate(c) for c in candidates)]

    def summary(self) -> list[str]:
        """A few lines for people: what was timed, validation errors, ranges, where it lives."""
        m, meta = self.machine, self.meta
        gpu = f", {m['gpu']}" if m.get("gpu") else ""
        st = self.target.get("settings", {})
        lines = [f"{self.space['name']} on target {self.target['name']} ({st.get('device')}, batch "
                 f"{st.get('batch_size')}, {st.get('dtype')}; {m.get('cpu')}{gpu}, torch "
                 f"{m.get('torch')}, {m.get('threads')} threads): {meta.get('pieces')} pieces, "
                 f"{meta.get('distinct_pieces_timed')} distinct timed, {meta.get('repeats')} repeats "
                 f"after {meta.get('warmup')} warm-up, in {meta.get('timing_s', 0):.2f} s "
                 f"(+ {meta.get('memory_s', 0):.2f} s tracing memory)"
                 + (f"; reused the table made {meta.get('created')}" if self.reused else "")]
        if self.pieces and not self.per_round:
            lines.append("made before tables kept each round's times: routes compose as sums of "
                         "the pieces' 10th percentiles, which run a few percent low; --force re-times")
        v = self.validation
        if v:
            def fmt(e):
                return f"median {e['median_ape_pct']:.2f}% / worst {e['worst_ape_pct']:.2f}%"
            loo = v.get("corrected_loo")
            lines.append(
                f"validation on {v['k']} candidates timed end to end (seed {v['seed']}, "
                f"{v['e2e_timing_s']:.1f} s): composed vs measured abs. error {fmt(v['raw'])} as a "
                f"plain sum of pieces; "
                + (f"{fmt(loo)} with the overhead constants (leave-one-out)" if loo else
                   f"{fmt(v['corrected_fit'])} with the overhead constants (in-sample)")
                + f"; memory within {v['memory_worst_error_pct']:.2f}% of a traced run")
            if composes_plain_sum(v):
                lines.append("composition: the plain sum of pieces (the overhead constants, fitted on "
                             f"{self.overhead['fitted_on']}, erred more out of sample: mean "
                             f"{v['corrected_loo']['mean_ape_pct']:.2f}% against "
                             f"{v['raw']['mean_ape_pct']:.2f}%)")
            else:
                lines.append(f"overhead: {self.overhead['per_network_ms']:+.4f} ms per network, "
                             f"{self.overhead['per_stitch_ms']:+.4f} ms per stitch (fitted on "
                             f"{self.overhead['fitted_on']})")
        else:
            lines.append("not validated: add --validate K to time K candidates end to end, "
                         "measure the error and fit the overhead constants")
        if self.bound_space is not None:
            cands = self.bound_space.candidates
            lat = [self.latency_ms(c) for c in cands]
            mem = [self.memory_mb(c) for c in cands]
            lines.append(f"{len(cands)} candidates: latency {min(lat):.3f} .. {max(lat):.3f} ms, "
                         f"peak memory {min(mem):.2f} .. {max(mem):.2f} MB")
        if self.path is not None:
            lines.append(f"table: {self.path}")
        return lines

    # ---- identity ---------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"latency table {self.path}" if self.path else "latency table"

    def check(self, space: SearchSpace, target: Target, check_machine: bool = True) -> None:
        """Raise a StitchnasError unless this table fits the space, the target and (with
        ``check_machine``) this machine."""
        redo = f"`stitchnas profile-latency {_arg(space)} --target {_arg(target)}{results_flag()}`"
        if self.space.get("structure_hash") != space.structure_hash:
            raise StitchnasError(
                f"{self.where} belongs to space {self.space.get('name')!r} (structure "
                f"{self.space.get('structure_hash')}), not to {space.name!r} (structure "
                f"{space.structure_hash}): its pieces are other models; profile this space with {redo}")
        mine = dict(self.target.get("settings", {}))
        wanted = _settings(target, space)
        diffs = [f"{k} {mine.get(k)!r} vs {wanted[k]!r}" for k in wanted if mine.get(k) != wanted[k]]
        if diffs:
            raise StitchnasError(
                f"{self.where} was measured for target {self.target.get('name')!r}, which differs "
                f"from target {target.name!r} in {'; '.join(diffs)} (table vs target): "
                f"re-profile with {redo}")
        required = _required_keys(space)
        for what, have in (("timings", set(self.pieces)), ("memory", set(self.memory["pieces"]))):
            missing, extra = sorted(required - have), sorted(have - required)
            if missing:
                raise StitchnasError(
                    f"{self.where} lacks the {what} of {len(missing)} piece(s) of space "
                    f"{space.name!r} ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): "
                    f"it is incomplete; re-profile with {redo} --force")
            if extra:
                raise StitchnasError(
                    f"{self.where} holds {what} of {len(extra)} piece(s) space {space.name!r} does "
                    f"not have ({', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''}): it was "
                    f"edited or made for another space; re-profile with {redo} --force")
        if check_machine:
            here = machine_identity(target)
            diffs = [f"{k}: table {self.machine.get(k)!r}, here {here[k]!r}"
                     for k in here if self.machine.get(k) != here[k]]
            if diffs:
                raise StitchnasError(
                    f"{self.where} was measured on another machine ({'; '.join(diffs)}), so its "
                    f"timings do not hold here: re-profile here with {redo}, or, to search with it "
                    "anyway (tables travel: profile on the device, search anywhere), load it with "
                    "check_machine=False (CLI: --any-machine)")

    # ---- files ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The file's content (a deep copy: editing it leaves the table alone)."""
        import copy

        return copy.deepcopy({
            "format": FORMAT, "space": self.space, "target": self.target, "machine": self.machine,
            "overhead": self.overhead, "validation": self.validation, "meta": self.meta,
            "memory": self.memory, "pieces": self.pieces})

    @classmethod
    def from_json(cls, doc: Any, path: Path | None = None) -> LatencyTable:
        where = f"latency table {path}" if path else "latency table"
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise StitchnasError(f"{where} is not a {FORMAT} file (format {found!r}); re-profile "
                                 "with `stitchnas profile-latency SPACE --target T --force`")
        try:
            table = cls(space=dict(doc["space"]), target=dict(doc["target"]),
                        machine=dict(doc["machine"]), pieces=dict(doc["pieces"]),
                        memory=dict(doc["memory"]), overhead=dict(doc["overhead"]),
                        validation=doc.get("validation"), meta=dict(doc.get("meta") or {}),
                        path=path)
        except (KeyError, TypeError, ValueError) as err:
            raise StitchnasError(f"{where} is damaged ({type(err).__name__}: {err}); delete it or "
                                 "re-profile with `stitchnas profile-latency SPACE --target T --force`"
                                 ) from None
        problem = number_problem(table, ("median_ms", STATISTIC))
        if problem:
            space, target = doc.get("space"), doc.get("target")
            space = space.get("name") if isinstance(space, dict) else None
            target = target.get("name") if isinstance(target, dict) else None
            redo = (f"`stitchnas profile-latency {space if isinstance(space, str) else 'SPACE'} "
                    f"--target {target if isinstance(target, str) else 'T'} --force`")
            raise StitchnasError(f"{where} is damaged: {problem}; delete it or re-profile with {redo}")
        return table

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the table (atomically) to ``path``, its own path, or the default path."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise StitchnasError("no path to save the latency table to")
        write_json(path, self.to_json(), what="latency table", recover=True)  # timings not lost
        object.__setattr__(self, "path", path)
        return path


def _arg(obj) -> str:
    path = getattr(obj, "path", None)
    from ..space import bundled_spaces_dir
    from ._targets import bundled_targets_dir

    if path is not None and Path(path).parent.resolve() not in (bundled_spaces_dir().resolve(),
                                                                bundled_targets_dir().resolve()):
        return str(path)
    return obj.name


def _settings(target: Target, space: SearchSpace) -> dict[str, Any]:
    s = target.settings()
    s["input_size"] = list(target.resolved_input_size(space.input_size))
    return s


def latency_table_path(space: SearchSpace | str, target: Target | str,
                       machine: dict[str, Any] | None = None) -> Path:
    """Where the table of this space, target and machine goes: ``results/latency/
    SPACE__TARGET__KEY.json``, KEY hashing the space's structure, the target's settings and the
    machine's identity."""
    space, target = load_space(space), load_target(target)
    machine = machine if machine is not None else machine_identity(target)
    key = _hash({"structure": space.structure_hash, "settings": _settings(target, space),
                 "machine": machine})[:12]
    return inside(latency_dir(), f"{check_name(space.name, 'space name')}__"
                                 f"{check_name(target.name, 'target name')}__{key}.json")


def _read_table(path: Path) -> LatencyTable:
    try:
        from ..fileio import read_text

        doc = json.loads(read_text(path, "latency table"))  # regular files only, size-capped
    except OSError as err:
        raise StitchnasError(f"cannot read latency table {path}: {err.strerror}") from err
    except ValueError as err:
        raise StitchnasError(f"latency table {path} is not valid JSON ({err}); delete it or "
                             "re-profile with `stitchnas profile-latency SPACE --target T --force`") from None
    return LatencyTable.from_json(doc, path)


def _measurable(target: Target, what: str) -> None:
    if not target.measurable:
        raise StitchnasError(
            f"target {target.name!r} counts {target.cost_model} (fvcore), so it has no {what}: its "
            "costs need no device (stitchnas enumerate, or latency.target_costs); use a latency "
            "target (stitchnas targets) to time on a device")


def _saved_tables(space: SearchSpace | str, target: Target | str) -> list[LatencyTable]:
    """Every readable saved table of this space's structure and this target's settings, from
    any machine, by path (unbound)."""
    space, target = load_space(space), load_target(target)
    found = []
    for p in sorted(latency_dir().glob(f"{space.name}__{target.name}__*.json")):
        try:
            t = _read_table(p)
        except StitchnasError:
            continue
        if (t.space.get("structure_hash") == space.structure_hash
                and t.target.get("settings") == _settings(target, space)):
            found.append(t)
    return found


# What makes another machine's timings nearest this one's, most telling first.
_NEAREST = ("cpu", "arch", "gpu", "cuda", "threads", "torch")


def _nearest_machine(tables: list[LatencyTable], here: dict[str, Any]) -> LatencyTable:
    """The table whose machine agrees with ``here`` (:func:`machine_identity`) on the most telling
    fields: the same CPU model before the same architecture, GPU, CUDA version, threads and torch
    build; the first of ``tables`` among equals."""
    return max(tables, key=lambda t: tuple(t.machine.get(k) == here.get(k) for k in _NEAREST))


def load_latency_table(space: SearchSpace | str, target: Target | str,
                       path: str | os.PathLike | None = None,
                       check_machine: bool = True) -> LatencyTable:
    """The saved table of this space and target, checked against both (and, by default, this
    machine), bound to the space.

    Without ``path``: this machine's table; with ``check_machine=False``, this machine's if
    present, else the one from the machine nearest this one (same CPU model first: where the
    repository carries tables timed on several machines, as ours does, a user's machine is none of
    them). Errors say what differs and the command that makes a fitting table.
    """
    space, target = load_space(space), load_target(target)
    _measurable(target, "latency table")
    redo = f"`stitchnas profile-latency {_arg(space)} --target {_arg(target)}{results_flag()}`"
    if path is None:
        own = latency_table_path(space, target)
        if own.is_file():
            path = own
        else:
            others = _saved_tables(space, target)
            if not others:
                raise StitchnasError(f"no latency table for space {space.name!r} on target "
                                     f"{target.name!r} (looked for {own}); make one on the device "
                                     f"with {redo}")
            here = machine_identity(target)
            t = _nearest_machine(others, here)
            if check_machine:
                diffs = "; ".join(f"{k}: table {t.machine.get(k)!r}, here {here[k]!r}"
                                  for k in here if t.machine.get(k) != here[k])
                raise StitchnasError(
                    f"the latency table(s) of space {space.name!r} on target {target.name!r} "
                    f"({', '.join(str(o.path) for o in others)}) were measured on another machine "
                    f"({diffs}): re-profile here with {redo}, or, to search with one anyway, load "
                    "it with check_machine=False (CLI: --any-machine)")
            t.check(space, target, check_machine=False)
            return t.bind(space)
    path = Path(path)
    if not path.exists():  # a folder, FIFO or device exists: _read_table says what it is
        raise StitchnasError(f"latency table {path} does not exist; make one on the device with "
                             f"{redo} --out {path}")
    table = _read_table(path)
    table.check(space, target, check_machine=check_machine)
    return table.bind(space)
