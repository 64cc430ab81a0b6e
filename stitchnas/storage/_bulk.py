"""Recording many finished trials in a SQLite or PostgreSQL storage in one transaction.

Optuna's database storage adds a trial with a dozen ORM queries and a commit (5–10 ms a trial
in a local SQLite file, 15 ms in a local PostgreSQL), so the 5,000 trials of a large search, or
the front of an exact search over priors (every candidate), took tens of seconds to record: far
more than the search. For a database of a schema this module knows, the same rows go in with
SQLAlchemy Core in one transaction (about 0.1 ms a trial), numbered as Optuna numbers them, the
study's row locked as Optuna locks it; what Optuna then reads back is the same trial for trial
(tested against ``study.add_trials`` on both). Only Optuna's public API is used: the tables are
read from the database, and the schema's version (``RDBStorage.get_current_version``) gates the
path. Any other storage (MySQL, a journal file, memory), another schema version, a SQLite without
``RETURNING`` (before 3.35), or a trial that is not finished goes through ``study.add_trials``
unchanged.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

__all__ = ["record_trials", "BULK_SCHEMAS", "BULK_DIALECTS"]

#: Optuna RDB schema versions whose tables this module writes (``v3.2.0.a``: Optuna 5.1's).
BULK_SCHEMAS = frozenset({"v3.2.0.a"})

#: Databases the one-transaction path is tested on (others, e.g. MySQL, go trial by trial).
BULK_DIALECTS = frozenset({"sqlite", "postgresql"})

_TABLES = ("studies", "trials", "trial_params", "trial_values", "trial_user_attributes",
           "trial_system_attributes", "trial_intermediate_values")


def record_trials(study: Any, trials: Sequence[Any], storage: Any) -> bool:
    """Add finished ``trials`` (FrozenTrials, e.g. of an in-memory study) to ``study``, which
    lives in the Optuna ``storage``, as ``study.add_trials`` does; in one transaction where that
    is a SQLite or PostgreSQL database of a known schema. Returns True when that path was taken."""
    trials = list(trials)
    storage = _bulk_storage(storage)
    if storage is None or not trials or not all(t.state.is_finished() for t in trials):
        study.add_trials(trials)
        return False
    _insert(storage, study.study_name, trials)
    return True


def _bulk_storage(storage: Any) -> Any | None:
    """``storage`` when it is an RDBStorage on a database of BULK_DIALECTS, of a schema in
    BULK_SCHEMAS, else None."""
    import optuna

    if not isinstance(storage, optuna.storages.RDBStorage) or storage.engine.dialect.name not in BULK_DIALECTS:
        return None
    if not getattr(storage.engine.dialect, "insert_executemany_returning_sort_by_parameter_order", False):
        return None  # SQLite before 3.35 (no RETURNING): the new trials' ids would be unknown
    try:
        if storage.get_current_version() not in BULK_SCHEMAS:
            return None
    except Exception:  # noqa: BLE001 - an unreadable version: Optuna's own path decides
        return None
    return storage


def _stored(value: float) -> tuple[float | None, str]:
    """A value as the schema stores it: infinities as a kind with no number."""
    if value == math.inf:
        return None, "INF_POS"
    if value == -math.inf:
        return None, "INF_NEG"
    return value, "FINITE"


def _insert(storage: Any, study_name: str, trials: list) -> None:
    """The rows of Optuna's schema (tables read from the database itself), numbered after the
    study's trials, in one transaction."""
    import sqlalchemy as sa
    from optuna.distributions import check_distribution_compatibility, distribution_to_json, json_to_distribution

    with storage.engine.begin() as conn:  # all or nothing
        meta = sa.MetaData()
        table = {name: sa.Table(name, meta, autoload_with=conn) for name in _TABLES}
        trial_t, param_t = table["trials"], table["trial_params"]
        # the study's row locked as Optuna locks it to create a trial (PostgreSQL; SQLite locks
        # the whole file at the first insert, below)
        study_id = conn.execute(sa.select(table["studies"].c.study_id)
                                .where(table["studies"].c.study_name == study_name).with_for_update()).scalar_one()

        def before(trial_id: int | None = None) -> int:
            where = trial_t.c.study_id == study_id
            if trial_id is not None:
                where = where & (trial_t.c.trial_id < trial_id)
            return conn.execute(sa.select(sa.func.count()).select_from(trial_t).where(where)).scalar_one()

        count = before()
        old = dict(conn.execute(sa.select(param_t.c.param_name, sa.func.min(param_t.c.distribution_json))
                                .join(trial_t, trial_t.c.trial_id == param_t.c.trial_id)
                                .where(trial_t.c.study_id == study_id).group_by(param_t.c.param_name)).all())
        text: dict[int, str] = {}  # one JSON per distribution object: a batch shares a handful
        for t in trials:
            for dist in t.distributions.values():
                if id(dist) not in text:
                    text[id(dist)] = distribution_to_json(dist)
        checked = set()
        for t in trials:  # what Optuna checks per parameter before it writes one, once per kind
            for name, dist in t.distributions.items():
                if name in old and (name, text[id(dist)]) not in checked:
                    check_distribution_compatibility(json_to_distribution(old[name]), dist)
                    checked.add((name, text[id(dist)]))
        ids = list(conn.execute(
            trial_t.insert().returning(trial_t.c.trial_id, sort_by_parameter_order=True),
            [{"number": count + k, "study_id": study_id, "state": t.state.name,
              "datetime_start": t.datetime_start, "datetime_complete": t.datetime_complete}
             for k, t in enumerate(trials)]).scalars())
        # the insert holds SQLite's write lock (PostgreSQL: the study's row since the start), so
        # what precedes the first new trial is final now
        first = before(ids[0])
        if first != count:  # another process added trials between the count and the insert
            conn.execute(trial_t.update().where(trial_t.c.trial_id == sa.bindparam("tid"))
                         .values(number=sa.bindparam("n")),
                         [{"tid": tid, "n": first + k} for k, tid in enumerate(ids)])
        rows: dict[str, list[dict]] = {name: [] for name in _TABLES[2:]}
        for trial_id, t in zip(ids, trials):
            for name, value in t.params.items():
                dist = t.distributions[name]
                rows["trial_params"].append(
                    {"trial_id": trial_id, "param_name": name, "param_value": dist.to_internal_repr(value),
                     "distribution_json": text[id(dist)]})
            for objective, value in enumerate(t.values or ()):
                stored, kind = _stored(value)
                rows["trial_values"].append(
                    {"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind})
            for name, attrs in (("trial_user_attributes", t.user_attrs),
                                ("trial_system_attributes", t.system_attrs)):
                rows[name].extend({"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                                  for key, value in attrs.items())
            for step, value in t.intermediate_values.items():
                stored, kind = _stored(value) if not math.isnan(value) else (None, "NAN")
                rows["trial_intermediate_values"].append(
                    {"trial_id": trial_id, "step": step, "intermediate_value": stored,
                     "intermediate_value_type": kind})
        for name, batch in rows.items():
            if batch:
                conn.execute(table[name].insert(), batch)
