"""Opening an Optuna storage: SQLite files, journal files, server databases, memory.

* SQLite files get WAL and ``synchronous=NORMAL`` (a commit no longer waits for the disk);
* journal files get a writers' lock the kernel releases when its holder dies, and a last line cut
  short by a killed writer is cut off before the next append;
* on PostgreSQL one worker at a time opens the storage (Optuna creates its tables on first open).
"""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import StitchnasError, StorageError
from ..paths import STORAGE, storage_path
from ._keys import pg_lock_key
from ._urls import mask_password, scrub_secrets

if TYPE_CHECKING:  # pragma: no cover
    from ..space import SearchSpace

__all__ = ["META_KEY", "OpenedStorage", "open_storage", "error_line", "quiet_optuna"]

#: The study user attribute where stitchnas keeps what a study was made for.
META_KEY = "stitchnas"
_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class OpenedStorage:
    """What :func:`open_storage` opened: the Optuna storage, a label to show (URL or path,
    password masked) and the local file (SQLite or journal) if any: lock files go beside it."""

    storage: Any
    label: str
    file: Path | None


def error_line(err: BaseException) -> str:
    """``Type: first line of the message``: an exception as one line of an error message, with
    any storage password in it masked (drivers and Optuna may quote the URL)."""
    text = scrub_secrets(str(err)).strip().splitlines()
    return f"{type(err).__name__}: {text[0].rstrip('.') if text else ''}".rstrip(": ")


class _DropChatter:
    """Logging filter: Optuna's per-run notes that say nothing about the search (the GP sampler
    falling back to sequential L-BFGS-B when greenlet is missing)."""

    def filter(self, record) -> bool:  # noqa: ANN001
        return "greenlet" not in record.getMessage()


def quiet_optuna() -> None:
    """No per-trial INFO lines from Optuna, and none of its chatter."""
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no per-trial INFO lines
    for handler in logging.getLogger("optuna").handlers:
        if not any(isinstance(f, _DropChatter) for f in handler.filters):
            handler.addFilter(_DropChatter())


def _sqlite_file(url: str) -> Path | None:
    rest = url.split("://", 1)[1] if "://" in url else ""
    if not rest.startswith("/"):
        return None
    path = rest[1:].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def open_storage(spec: Any, space: "SearchSpace | None" = None,
                 out_dir: str | os.PathLike | None = None) -> OpenedStorage:
    """An Optuna storage from None (``sqlite:///<out_dir>/<space>/search.db``), a URL, a path
    ending in ``.db``/``.sqlite`` (SQLite) or ``.log``/``.journal``/``.jsonl`` (journal file),
    ``"memory"``, or a storage object."""
    import optuna

    if isinstance(spec, optuna.storages.BaseStorage):
        return OpenedStorage(spec, type(spec).__name__, None)
    if spec is None:
        if space is None:
            raise StitchnasError(f"open_storage(None) needs the space (for results/<space>/{STORAGE})")
        spec = f"sqlite:///{storage_path(space.name, out_dir).resolve()}"
    if not isinstance(spec, (str, os.PathLike)):
        raise StorageError(f"storage must be a URL, a path or an Optuna storage, not {type(spec).__name__}")
    text = str(spec)
    if text in ("memory", ":memory:"):
        return OpenedStorage(optuna.storages.InMemoryStorage(), "memory", None)
    masked = mask_password(text) or text
    if "://" not in text:
        path = Path(text).expanduser()
        if path.suffix in _SQLITE_SUFFIXES:
            text = f"sqlite:///{path.resolve()}"
        elif path.suffix in _JOURNAL_SUFFIXES:
            return _journal(path)
        else:
            raise StorageError(
                f"storage {text!r} is neither a URL nor a path ending in .db (SQLite) or .log "
                "(journal file): write e.g. results/search.db, search.log, sqlite:///search.db or "
                "postgresql://user:password@host/db")
    scheme = text.split("://", 1)[0].lower()
    if scheme not in ("journal", "file"):
        _check_url(text, masked)
    if scheme in ("journal", "file"):
        return _journal(Path(text.split("://", 1)[1]))
    if scheme in ("postgresql", "postgres"):  # no driver named: the one installed
        text = f"postgresql+{_postgres_driver()}://{text.split('://', 1)[1]}"
        scheme = text.split("://", 1)[0]
    local = _sqlite_file(text) if scheme.startswith("sqlite") else None
    if local is not None:
        local = local.resolve()
        try:
            local.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            blocker = next((p for p in local.parents if p.is_file()), None)
            why = (f"{blocker} is a file, not a folder; put the database elsewhere"
                   if blocker is not None else f"{err.strerror}; choose a writable folder")
            raise StorageError(f"cannot create the folder of storage {masked}: {why}") from err
    engine_kwargs = ({"connect_args": {"timeout": 60}} if scheme.startswith("sqlite")
                     else {"pool_pre_ping": True})  # a server restart costs no worker
    try:
        with warnings.catch_warnings(), _schema_lock(text):
            warnings.simplefilter("ignore")
            storage = optuna.storages.RDBStorage(text, engine_kwargs=engine_kwargs)
    except Exception as err:  # noqa: BLE001 - SQLAlchemy/driver errors of every kind
        raise StorageError(
            f"cannot open Optuna storage {masked}: {error_line(err)}; check the URL, that the "
            "server is reachable and its driver installed (e.g. psycopg2 for postgresql://), or "
            "use a local file such as results/search.db") from err
    if local is not None:
        _fast_sqlite(storage)
    return OpenedStorage(storage, masked if local is None else f"sqlite:///{local}", local)


def _check_url(url: str, masked: str) -> None:
    """A URL SQLAlchemy cannot parse is an error that quotes none of it but the masked form
    (SQLAlchemy's own message would quote a fragment of a password holding '@' or ':')."""
    from sqlalchemy.engine import make_url

    try:
        make_url(url)
    except Exception:  # noqa: BLE001 - ValueError, ArgumentError: the text may hold the password
        raise StorageError(
            f"cannot parse storage URL {masked}: write it as dialect://user:password@host:port/db, "
            "percent-encoding '@', ':', '/', '?' and '#' in the password (e.g. '@' as %40)") from None


def _postgres_driver() -> str:
    """``psycopg`` (3) or ``psycopg2``, whichever is installed: SQLAlchemy 2.1 takes a bare
    ``postgresql://`` for psycopg 3 only, while most installs (and Optuna's docs) have psycopg2."""
    from importlib.util import find_spec

    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if find_spec(module) is not None:
            return driver
    raise StorageError("postgresql:// storage needs a PostgreSQL driver: pip install "
                       "psycopg2-binary (or psycopg[binary])")


@contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """On PostgreSQL, let one worker at a time open the storage: Optuna creates its tables on the
    first open, and workers starting together on an empty database would collide doing so."""
    if not url.startswith("postgresql"):
        yield
        return
    import sqlalchemy

    engine = None
    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except Exception:  # noqa: BLE001 - RDBStorage reports the connection error itself
        if engine is not None:
            engine.dispose()
        yield
        return
    try:
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": pg_lock_key("optuna-schema")})
        yield
    finally:
        conn.close()  # closing the session releases the lock
        engine.dispose()


def _fast_sqlite(storage: Any) -> None:
    """WAL journal and ``synchronous=NORMAL`` on every connection: a commit no longer waits for
    the disk (Optuna commits a dozen times per trial: 230 ms per trial became a few ms here),
    and a killed process still loses nothing that was committed (only a power cut can)."""
    import sqlalchemy

    engine = getattr(storage, "engine", None)
    if engine is None:
        return

    def pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        cur = dbapi_connection.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        finally:
            cur.close()

    engine.dispose()  # connections opened while creating the tables go; new ones get the pragmas
    sqlalchemy.event.listen(engine, "connect", pragmas)


def _journal(path: Path) -> OpenedStorage:
    import optuna

    path = path.expanduser().resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = optuna.storages.JournalStorage(_journal_backend(path))
    except Exception as err:  # noqa: BLE001
        raise StorageError(f"cannot open journal storage {path}: {error_line(err)}") from err
    return OpenedStorage(storage, str(path), path)


def _journal_backend(path: Path):
    """Optuna's journal file, made safe for workers that get killed (one machine):

    * the writers' lock is an ``flock`` on ``PATH.flock``, which the kernel releases when its
      holder dies (Optuna's default, a symlink, stays behind and stalls every other worker for
      its 30 s grace period, then is broken even if its holder is merely slow);
    * before appending, a last line cut short by a writer killed mid-write is cut off (it was
      never a whole record, so no reader has applied it); appended to, it would corrupt the
      journal for good ("Invalid log format").
    """
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import BaseJournalFileLock

    class FlockLock(BaseJournalFileLock):
        def __init__(self, target: Path) -> None:
            self._path = target.with_name(target.name + ".flock")
            self._fd: int | None = None

        def acquire(self) -> bool:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return True

        def release(self) -> None:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)  # closing releases the lock

    class Backend(JournalFileBackend):
        def append_logs(self, logs: list) -> None:  # Optuna's, plus the repair
            data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode()
            lock.acquire()
            try:
                _cut_torn_tail(path)
                with open(path, "ab") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            finally:
                lock.release()

    lock = FlockLock(path)
    return Backend(str(path), lock_obj=lock)


def _cut_torn_tail(path: Path) -> None:
    """Truncate a file after its last newline (a record cut short by a killed writer)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        pos = size
        while pos > 0:  # find the last newline, reading backwards in blocks
            step = min(1 << 16, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                fh.truncate(pos - step + nl + 1)
                return
            pos -= step
        fh.truncate(0)
