"""Opening an Optuna storage: SQLite files, journal files, server databases, memory.

* only Optuna's own storage is written to: an existing SQLite or journal file that holds anything
  else (another program's database, a measurements file, any other file) is refused before it is
  touched;
* journal files are named ``journal:PATH`` or ``PATH.journal`` (never ``.jsonl``, the suffix of
  measurements files);
* SQLite files get WAL and ``synchronous=NORMAL`` (a commit no longer waits for the disk);
* journal files get a writers' lock the kernel releases when its holder dies, and a last line cut
  short by a killed writer is cut off before the next append;
* lock files live in one hidden folder beside the storage file (``.locks/``), never beside it;
* on PostgreSQL one worker at a time opens the storage (Optuna creates its tables on first open).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import stat
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import StitchnasError, StorageError
from ..fileio import LOCK_DIR, lock_file
from ..paths import STORAGE, storage_path
from ._keys import pg_lock_key
from ._urls import mask_password, scrub_secrets

if TYPE_CHECKING:  # pragma: no cover
    from ..space import SearchSpace

__all__ = ["META_KEY", "LOCK_DIR", "OpenedStorage", "open_storage", "error_line", "quiet_optuna",
           "lock_file", "close_storage"]

#: The study user attribute where stitchnas keeps what a study was made for.
META_KEY = "stitchnas"
#: ``--storage PATH.journal`` is a journal file; ``journal:PATH`` names one of any other suffix.
JOURNAL_SUFFIX = ".journal"
JOURNAL_PREFIX = "journal:"
_OLD_JOURNAL_SUFFIX = ".log"  # deprecated: a log file is one slip away
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_NOT_JOURNAL = ".jsonl"  # measurements files
_JOURNAL_HINT = (f"name a journal file PATH{JOURNAL_SUFFIX} or {JOURNAL_PREFIX}PATH (e.g. "
                 f"results/search{JOURNAL_SUFFIX}); {_NOT_JOURNAL} is the suffix of measurements files")
_SQLITE_MAGIC = b"SQLite format 3\x00"
# every table Optuna's RDB storage creates (Optuna 5); a database holding only these (or all of
# the core three) is Optuna's
_OPTUNA_TABLES = frozenset({
    "alembic_version", "studies", "study_directions", "study_system_attributes",
    "study_user_attributes", "trial_heartbeats", "trial_intermediate_values", "trial_params",
    "trial_system_attributes", "trial_user_attributes", "trial_values", "trials", "version_info"})
_OPTUNA_CORE = frozenset({"studies", "trials", "version_info"})
_JOURNAL_HEAD = re.compile(rb'\A\{\s*"op_code"\s*:')
_PROBE_BYTES = 1 << 16


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


from ..progress import quiet_optuna  # noqa: E402 - scoped: Optuna's verbosity restored after each call


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
    ending in ``.db``/``.sqlite`` (SQLite) or ``.journal`` (journal file), ``journal:PATH`` (a
    journal file of any other name but ``.jsonl``), ``"memory"``, or a storage object. An existing
    file that is not Optuna's storage is refused before it is touched."""
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
    if text.lower().startswith(JOURNAL_PREFIX) or text.lower().startswith("file://"):
        rest = text.split(":", 1)[1]
        rest = rest[2:] if rest.startswith("//") else rest  # journal://PATH, journal:///abs/PATH
        if not rest:
            raise StorageError(f"storage {text!r} names no file: {_JOURNAL_HINT}")
        return _journal(Path(rest))
    if "://" not in text:
        path = Path(text).expanduser()
        if path.suffix in _SQLITE_SUFFIXES:
            text = f"sqlite:///{path.resolve()}"
        elif path.suffix == JOURNAL_SUFFIX:
            return _journal(path)
        elif path.suffix == _OLD_JOURNAL_SUFFIX:
            from ..progress import get_logger

            get_logger("storage").warning(
                "a .log storage is taken as an Optuna journal file for now; this will stop: "
                "rename it %s or write %s%s", path.with_suffix(JOURNAL_SUFFIX).name,
                JOURNAL_PREFIX, path)
            return _journal(path)
        elif path.suffix == _NOT_JOURNAL:
            raise StorageError(f"storage {text!r} ends in {_NOT_JOURNAL}, the suffix of measurements "
                               f"files, not of an Optuna storage: {_JOURNAL_HINT}")
        else:
            raise StorageError(
                f"storage {text!r} is neither a URL nor a path ending in .db (SQLite) or "
                f"{JOURNAL_SUFFIX} (journal file): write e.g. results/search.db, "
                f"search{JOURNAL_SUFFIX}, {JOURNAL_PREFIX}PATH, sqlite:///search.db or "
                "postgresql://user:password@host/db")
    scheme = text.split("://", 1)[0].lower()
    _check_url(text, masked)
    if scheme in ("postgresql", "postgres"):  # no driver named: the one installed
        text = f"postgresql+{_postgres_driver()}://{text.split('://', 1)[1]}"
        scheme = text.split("://", 1)[0]
    local = _sqlite_file(text) if scheme.startswith("sqlite") else None
    if local is not None:
        local = local.expanduser().resolve()
        _check_sqlite_file(local, masked)
        try:
            local.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            blocker = next((p for p in local.parents if p.is_file()), None)
            why = (f"{blocker} is a file, not a folder; put the database elsewhere"
                   if blocker is not None else f"{err.strerror}; choose a writable folder")
            raise StorageError(f"cannot create the folder of storage {masked}: {why}") from err
    if local is None and not scheme.startswith("sqlite"):
        _check_server_tables(text, masked)
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


def close_storage(opened: OpenedStorage) -> None:
    """Close the pooled connections of a storage :func:`open_storage` opened from a file (the
    last connection to close checkpoints SQLite's WAL and removes ``-wal``/``-shm``); the storage
    reconnects if used again."""
    engine = getattr(opened.storage, "engine", None)
    if opened.file is None or engine is None:
        return
    try:
        opened.storage.remove_session()
        engine.dispose()
    except Exception:  # noqa: BLE001 - best effort: only tidies the folder
        pass


def _refuse(path: Path, label: str, what: str) -> StorageError:
    return StorageError(
        f"storage {label} exists and {what}, not an Optuna storage: stitchnas writes only to "
        "Optuna's own storage and left it untouched; give a new file or an existing Optuna "
        "database (e.g. results/SPACE/search.db)")


def _regular_size(path: Path, label: str) -> int | None:
    """The size of ``path`` if it is a regular file, None if it does not exist; else an error."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):  # the folder's own check says what is wrong
        return None
    except OSError as err:
        raise StorageError(f"cannot read storage {label}: {err.strerror}") from err
    if stat.S_ISDIR(st.st_mode):
        raise StorageError(f"storage {label} is a folder: give a file in it, e.g. {label}/search.db")
    if not stat.S_ISREG(st.st_mode):
        raise StorageError(f"storage {label} is not a regular file (a FIFO, device or socket): "
                           "give a file such as results/search.db")
    return st.st_size


def _check_sqlite_file(path: Path, label: str) -> None:
    """Refuse an existing file that is not an Optuna SQLite database (read only, nothing changed):
    not SQLite at all, or SQLite holding tables of something else. An empty file, an empty
    database and an Optuna database (while its tables are being created too) pass."""
    size = _regular_size(path, label)
    if not size:
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise StorageError(f"cannot read storage {label}: {err.strerror}") from err
    if head != _SQLITE_MAGIC:
        raise _refuse(path, label, "is not a SQLite database")
    import sqlite3

    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except sqlite3.Error as err:
        raise StorageError(f"cannot read storage {label} as SQLite ({err}): give a new file or "
                           "an Optuna database") from err
    other = _foreign_tables({t for t in tables if not t.startswith("sqlite_")})
    if other:
        raise _refuse(path, label, f"is a SQLite database of something else (tables {other})")


def _foreign_tables(tables: set[str]) -> str | None:
    """The tables that make a database someone else's, as an error shows them, or None for an
    empty database and an Optuna one (also while Optuna is still creating its tables)."""
    if tables <= _OPTUNA_TABLES or _OPTUNA_CORE <= tables:
        return None
    other = sorted(tables - _OPTUNA_TABLES)
    return ", ".join(other[:3]) + (", ..." if len(other) > 3 else "")


def _check_server_tables(url: str, masked: str) -> None:
    """Refuse a server database (PostgreSQL, MySQL) whose default schema holds tables that are not
    Optuna's, before Optuna creates its own there: read only, nothing changed. An empty database
    and an Optuna one pass; a server that cannot be reached is left to the open that follows."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    except Exception:  # noqa: BLE001 - a missing driver: the open that follows says so
        return
    try:
        with engine.connect() as conn:
            tables = set(sqlalchemy.inspect(conn).get_table_names())
    except Exception:  # noqa: BLE001 - unreachable, no rights: the open that follows says so
        return
    finally:
        engine.dispose()
    other = _foreign_tables(tables)
    if other:
        raise StorageError(f"storage {masked} is a database of something else (tables {other}): "
                       "stitchnas writes only to Optuna's own storage; give an empty database or "
                       "an Optuna one")


def _check_journal_file(path: Path, label: str) -> None:
    """Refuse an existing, non-empty file whose first record is not an Optuna journal record
    (``{"op_code": ..., "worker_id": ...}``): a measurements file, a log, anything else."""
    size = _regular_size(path, label)
    if not size:
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(_PROBE_BYTES)
    except OSError as err:
        raise StorageError(f"cannot read storage {label}: {err.strerror}") from err
    first, newline, _ = head.partition(b"\n")
    ok = False
    if newline:
        try:
            record = json.loads(first)
            ok = isinstance(record, dict) and "op_code" in record and "worker_id" in record
        except (ValueError, RecursionError):
            ok = False
    else:  # one record, cut short by a killed writer (the next append cuts it off)
        ok = bool(_JOURNAL_HEAD.match(first))
    if not ok:
        raise _refuse(path, label, "is not an Optuna journal file (its first line is no journal "
                      "record)")


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
    if path.suffix == _NOT_JOURNAL:
        raise StorageError(f"journal file {path} ends in {_NOT_JOURNAL}, the suffix of measurements "
                           f"files: {_JOURNAL_HINT}")
    _check_journal_file(path, str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = optuna.storages.JournalStorage(_journal_backend(path))
    except Exception as err:  # noqa: BLE001
        raise StorageError(f"cannot open journal storage {path}: {error_line(err)}") from err
    return OpenedStorage(storage, f"{JOURNAL_PREFIX}{path}", path)


def _journal_backend(path: Path):
    """Optuna's journal file, made safe for workers that get killed (one machine):

    * the writers' lock is an ``flock`` on ``.locks/NAME.flock``, which the kernel releases when its
      holder dies (Optuna's default, a symlink, stays behind and stalls every other worker for
      its 30 s grace period, then is broken even if its holder is merely slow);
    * before appending, a last line cut short by a writer killed mid-write is cut off (it was
      never a whole record, so no reader has applied it); appended to, it would corrupt the
      journal for good ("Invalid log format").
    """
    from optuna.storages.journal import JournalFileBackend

    class FlockLock:  # Optuna's lock protocol (acquire/release); its base class is private
        def __init__(self, target: Path) -> None:
            self._path = lock_file(target, "flock")
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
