"""Many workers, one Optuna study: what ``stitchnas search`` and ``stitchnas evaluate`` share to
run on several processes or machines at once (PostgreSQL, MySQL, or a SQLite/journal file on one
machine).

* **The study mutex** (:class:`StudyMutex`): a PostgreSQL advisory lock (MySQL: ``GET_LOCK``) held
  on its own connection to the storage's server, an ``flock`` on a file in the hidden ``.locks/``
  folder beside a SQLite or journal file, a thread lock for in-memory storage. The server or the
  kernel releases it when its holder dies. Every decision that must not race happens under it,
  never the work itself: creating the study and its metadata, failing stale trials and queueing
  them again, queueing work, admitting a new trial (so a study never holds more completed trials
  than asked for), popping waiting ones.
* **Heartbeats** (:class:`Heartbeat`): while a worker works on a trial, a thread writes the time
  into the trial's system attribute ``stitchnas:heartbeat`` every ``stale_after_s / 4`` seconds.
* **Stale trials** (:class:`StaleWatch`, :func:`fail_trials`): a RUNNING trial whose heartbeat a
  live worker sees unchanged for ``stale_after_s`` seconds, timed by that worker's own clock (so
  clock skew between machines does not matter), belongs to a dead worker: it is failed and its
  parameters are queued again, exactly once (the state change is a row-locked update on a server
  database and happens under the mutex everywhere). Its worker, should it still be alive after
  all, finds its trial finished and drops its result.
* **File storages** also know at once (:func:`study_lock`): every worker holds a shared ``flock``
  on ``.locks/FILE.<study>.lock``; one that gets it exclusively at start-up is alone, so every
  RUNNING trial is a dead one's.

Optuna's own RDB heartbeat is not used: it exists only inside ``Study.optimize``, needs the
server's clock, and never fails a trial that died before its first beat. Only public Optuna API
is used: the storage object is passed along with the study (:class:`SharedStudy`), and trial ids
come from the storage by trial number.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from ..errors import StorageError
from ._keys import _key, pg_lock_key
from ._open import lock_file

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["HEARTBEAT_KEY", "SharedStudy", "set_metric_names", "StudyMutex", "Heartbeat",
           "StaleWatch", "fail_trials", "pop_waiting",
           "study_lock", "heartbeat_interval", "poll_interval", "trials_in", "tell", "worker_name"]

HEARTBEAT_KEY = "stitchnas:heartbeat"


def worker_name() -> str:
    """``host:pid`` of this process: the user attribute ``worker`` of the trials it runs."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_interval(stale_after_s: float) -> float:
    """Seconds between heartbeats: four fit in the stale time."""
    return max(0.1, float(stale_after_s) / 4.0)


def poll_interval(stale_after_s: float) -> float:
    """How often an idle worker looks again while others' trials are in flight."""
    return min(1.0, max(0.05, float(stale_after_s) / 8.0))


@dataclass(frozen=True)
class SharedStudy:
    """A study with the storage object it lives in (what :func:`open_storage` opened) and its id
    there: Optuna keeps a study's storage private, so the storage travels with it, and a trial's
    storage id comes from its number (``get_trial_id_from_study_id_trial_number``)."""

    study: "optuna.Study"
    storage: Any
    study_id: int

    @classmethod
    def of(cls, study: "optuna.Study", storage: Any) -> "SharedStudy":
        """``storage``: the Optuna storage object the study was created or loaded with."""
        return cls(study, storage, storage.get_study_id_from_name(study.study_name))

    def trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def trial(self, number: int) -> "FrozenTrial":
        return self.storage.get_trial(self.trial_id(number))


# ---------------------------------------------------------------------------------------------
# the study mutex
# ---------------------------------------------------------------------------------------------
_THREAD_LOCKS: dict[tuple[int, str], threading.RLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _mysql_lock_name(name: str) -> str:
    return "stitchnas:" + _key(name).hex()[:40]


class StudyMutex:
    """A lock per study, shared by every worker of every machine that uses the storage. Enter it
    as often as needed (``with mutex: ...``); :meth:`close` when done. ``storage`` is
    :func:`open_storage`'s result (``.storage``, ``.file``, ``.label``)."""

    def __init__(self, storage: Any, name: str) -> None:
        self.name = name
        self.label = storage.label
        self.kind = "none"
        self._conn = None
        self._fd: int | None = None
        self._thread_lock: threading.RLock | None = None
        backend = storage.storage
        engine = getattr(backend, "engine", None)
        if storage.file is not None:
            self.kind = "flock"
            self._path = lock_file(storage.file, f"{_key(name).hex()[:12]}.mutex")
        elif engine is not None:
            dialect = engine.dialect.name
            if dialect == "postgresql":
                self.kind = "postgresql"
            elif dialect in ("mysql", "mariadb"):
                self.kind = "mysql"
            self._engine = engine
        else:
            import optuna

            if isinstance(backend, optuna.storages.InMemoryStorage):
                self.kind = "thread"
                with _THREAD_LOCKS_GUARD:
                    self._thread_lock = _THREAD_LOCKS.setdefault((id(backend), name), threading.RLock())

    @property
    def exclusive_across_workers(self) -> bool:
        """False where the storage offers no lock (another RDB dialect): then concurrent workers
        of one study may admit a few trials too many."""
        return self.kind != "none"

    def _connection(self):
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def __enter__(self) -> "StudyMutex":
        try:
            return self._acquire()
        except Exception as err:  # noqa: BLE001 - a lost server, a read-only folder
            self._drop_connection()
            lines = str(err).strip().splitlines()
            raise StorageError(f"cannot lock study {self.name!r} in {self.label}: "
                                 f"{type(err).__name__}: {lines[0] if lines else ''}") from err

    def _acquire(self) -> "StudyMutex":
        import sqlalchemy

        if self.kind == "flock":
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        elif self.kind == "postgresql":
            self._connection().execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"),
                                       {"k": pg_lock_key(self.name)})
        elif self.kind == "mysql":
            self._connection().execute(sqlalchemy.text("SELECT GET_LOCK(:n, -1)"),
                                       {"n": _mysql_lock_name(self.name)})
        elif self.kind == "thread":
            assert self._thread_lock is not None
            self._thread_lock.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        import sqlalchemy

        if self.kind == "flock" and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        elif self.kind == "postgresql" and self._conn is not None:
            try:
                self._conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"),
                                   {"k": pg_lock_key(self.name)})
            except Exception:  # noqa: BLE001 - a dead connection has released it already
                self._drop_connection()
        elif self.kind == "mysql" and self._conn is not None:
            try:
                self._conn.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"),
                                   {"n": _mysql_lock_name(self.name)})
            except Exception:  # noqa: BLE001
                self._drop_connection()
        elif self.kind == "thread" and self._thread_lock is not None:
            self._thread_lock.release()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        self._drop_connection()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# ---------------------------------------------------------------------------------------------
# the start-up lock of file storages
# ---------------------------------------------------------------------------------------------
@dataclass
class StudyLock:
    """``exclusive``: no other live process works on the study through this file now."""

    exclusive: bool
    _fd: int | None = None

    def share(self) -> None:
        """Let other workers in (after the start-up clean-up)."""
        if self._fd is not None and self.exclusive:
            fcntl.flock(self._fd, fcntl.LOCK_SH)


@contextmanager
def study_lock(file: Path | None, study_name: str) -> Iterator[StudyLock]:
    """Hold a lock on ``.locks/FILE.<study>.lock`` while working on the study: exclusive if no other
    process holds it (then RUNNING trials are left over from dead ones), else shared. Call
    :meth:`StudyLock.share` once the start-up is done; every worker holds it shared from then on,
    so a later one never mistakes itself for the only one. No file (a server database): never
    exclusive."""
    if file is None:
        yield StudyLock(False)
        return
    lock = lock_file(file, f"{hashlib.sha256(study_name.encode()).hexdigest()[:12]}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            exclusive = True
        except BlockingIOError:
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits only for an exclusive holder's start-up
            exclusive = False
        yield StudyLock(exclusive, fd)
    finally:
        os.close(fd)  # closing releases the lock


# ---------------------------------------------------------------------------------------------
# heartbeats and stale trials
# ---------------------------------------------------------------------------------------------
class Heartbeat:
    """While the ``with`` block runs, write the time into each trial's ``stitchnas:heartbeat``
    system attribute every ``interval`` seconds (the first beat after one interval: a trial that
    ends sooner needs none). A trial that another worker failed meanwhile is dropped."""

    def __init__(self, shared: SharedStudy, trial_numbers: Iterable[int], interval: float) -> None:
        self._storage = shared.storage
        self._ids = [shared.trial_id(n) for n in trial_numbers]
        self._interval = float(interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stitchnas-heartbeat", daemon=True)

    def _run(self) -> None:
        from optuna.exceptions import UpdateFinishedTrialError

        while not self._stop.wait(self._interval):
            for tid in list(self._ids):
                try:
                    self._storage.set_trial_system_attr(tid, HEARTBEAT_KEY, time.time())
                except UpdateFinishedTrialError:
                    self._ids.remove(tid)
                except Exception:  # noqa: BLE001 - a passing storage error: beat again next time
                    pass

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


class StaleWatch:
    """Remembers, for every RUNNING trial it is shown (by number), when its heartbeat last changed
    (by this process's monotonic clock); :meth:`stale` names those unchanged for ``stale_after_s``
    (``own``: numbers of this worker's trials, never stale)."""

    def __init__(self, stale_after_s: float) -> None:
        self.stale_after_s = float(stale_after_s)
        self._seen: dict[int, tuple[Any, float]] = {}

    def stale(self, running: Sequence["FrozenTrial"], own: Iterable[int] = ()) -> list["FrozenTrial"]:
        now = time.monotonic()
        mine = set(own)
        seen: dict[int, tuple[Any, float]] = {}
        out = []
        for t in running:
            if t.number in mine:
                continue
            mark = (t.system_attrs.get(HEARTBEAT_KEY), t.datetime_start)
            prev = self._seen.get(t.number)
            if prev is None or prev[0] != mark:
                seen[t.number] = (mark, now)
                continue
            seen[t.number] = prev
            if now - prev[1] >= self.stale_after_s:
                out.append(t)
        self._seen = seen
        return out


def trials_in(study: "optuna.Study", *states: Any) -> list["FrozenTrial"]:
    """The study's trials in ``states``, fresh from the storage (finished ones are cached)."""
    return study.get_trials(deepcopy=False, states=states)


def fail_trials(shared: SharedStudy, trials: Iterable["FrozenTrial"], retry: bool = True) -> int:
    """Fail each RUNNING trial (left by a dead worker) and, with ``retry``, queue its parameters
    again (user attribute ``retry_of``: the failed trial's number). Only the process whose update
    changed the state queues the retry. Call under the study mutex. Returns how many it failed."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    failed = 0
    for t in trials:
        try:
            if not shared.storage.set_trial_state_values(shared.trial_id(t.number), TrialState.FAIL):
                continue
        except (UpdateFinishedTrialError, KeyError):  # finished or failed by another meanwhile
            continue
        failed += 1
        if not retry:
            continue
        params = {**dict(t.system_attrs.get("fixed_params") or {}), **t.params}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shared.study.enqueue_trial(params, user_attrs={"retry_of": t.number})
    return failed


def pop_waiting(study: "optuna.Study", limit: int = 1) -> list["optuna.Trial"]:
    """Up to ``limit`` WAITING trials, popped with ``Study.ask`` (each by one process only). Call
    under the study mutex; never creates a trial: should another process have popped the last
    waiting one meanwhile (a storage without a mutex), the trial ``ask`` made is failed."""
    from optuna.trial import TrialState

    waiting = {t.number for t in trials_in(study, TrialState.WAITING)}
    out: list[optuna.Trial] = []
    for _ in range(min(limit, len(waiting))):
        trial = study.ask()
        if trial.number not in waiting:  # a new trial: nothing was waiting any more
            study.tell(trial, state=TrialState.FAIL)
            break
        out.append(trial)
    return out


def tell(study: "optuna.Study", trial: Any, values: Any = None, state: Any = None) -> bool:
    """``Study.tell`` that tolerates what distributed runs bring: a trial another worker has
    failed as stale meanwhile (returns False: the result is dropped, its retry redoes it) and a
    sampler's ``study.stop()`` outside ``optimize`` (the caller decides when to stop)."""
    from optuna.trial import TrialState

    try:
        frozen = study.tell(trial, values, state=state, skip_if_finished=True)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise
        number = trial if isinstance(trial, int) else trial.number
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
    # a trial another worker failed meanwhile stays FAIL: the result was dropped
    return frozen.state == (state or TrialState.COMPLETE)


def set_metric_names(study: "optuna.Study", names: Sequence[str]) -> None:
    """Name the study's objectives (``study.metric_names``: dashboards and ``trials_dataframe``
    label them so instead of "Objective 0")."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(names))
