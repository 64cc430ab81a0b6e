"""File I/O in one place: atomic writes (results appear whole or not at all), one line per
failed write (:func:`write_error`: disk full, read-only, not a folder, ... each with its fix), and
bounded reads of user files (:func:`read_bytes`: regular files only, size-capped; :func:`load_yaml`:
alias bombs refused; :func:`read_yaml`: both, each failure worded)."""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import StitchnasError
from .paths import nearest_existing, results_dir  # results_dir: kept here for old imports

__all__ = ["atomic_write", "write_json", "write_text", "results_dir", "WriteError", "write_error",
           "check_writable", "make_dirs", "write_or_recover", "save_recovery", "is_write_error", "read_bytes", "read_text", "load_yaml", "read_yaml", "MAX_FILE_BYTES",
           "MAX_YAML_BYTES", "MAX_YAML_NODES", "shown", "LOCK_DIR", "lock_file", "file_digest"]


def file_digest(path: str | os.PathLike, n: int | None = 16) -> str:
    """The first ``n`` hex digits of the SHA-256 of a file's bytes (all 64 when ``n`` is None)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def shown(path: object) -> str:
    """A path as messages show it: as is when printable, else quoted with escapes (a newline or
    other control character in a name never breaks an error line)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


class WriteError(StitchnasError):
    """A file or folder could not be written (disk full, read-only, not a folder, ...)."""


#: errno -> (what happened, how to fix it): one wording per class of failed write.
_WRITE_ERRORS = {
    errno.ENOSPC: ("the disk is full", "free space there or write elsewhere"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space there or write elsewhere"),
    errno.EROFS: ("the file system is read-only", "write to a writable folder"),
    errno.EACCES: ("permission denied", "make it writable for this user or write elsewhere"),
    errno.EPERM: ("operation not permitted", "make it writable for this user or write elsewhere"),
    errno.EFBIG: ("the file would exceed the size limit (ulimit -f)",
                  "raise the limit or write elsewhere"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder",
                    "move that file away or choose another path"),
    errno.EISDIR: ("it is a folder", "give a file path, not a folder"),
    errno.EEXIST: ("a file is in the way of a folder", "move that file away or choose another path"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
    errno.ELOOP: ("too many symbolic links", "fix the links or choose another path"),
    errno.ENOENT: ("the folder does not take new files", "write to a writable folder"),
    errno.EIO: ("an I/O error occurred (a failing disk?)", "check the disk or write elsewhere"),
}


def write_error(err: OSError, path: str | os.PathLike, what: str = "file") -> WriteError:
    """One line for a failed write of ``what`` at ``path``: what happened and the fix."""
    problem, fix = _WRITE_ERRORS.get(err.errno, (err.strerror or type(err).__name__,
                                                 "check the path or write elsewhere"))
    where = getattr(err, "filename", None)
    at = f" (at {shown(where)})" if where and str(where) != str(path) else ""
    return WriteError(f"cannot write {what} {shown(path)}: {problem}{at}; {fix}")


#: The hidden folder beside a file that holds the file's lock files (storages, measurements files).
LOCK_DIR = ".locks"


def lock_file(path: str | os.PathLike, name: str, create: bool = True) -> Path:
    """``<folder>/.locks/<file name>.<name>``: a lock file of ``path``, kept in one hidden folder
    beside it so that no lock litters the folder users read (locks are never deleted: a process
    may be waiting on one). ``create`` makes the folder; one that cannot be made is one
    :class:`WriteError` line."""
    path = Path(path)
    folder = path.parent / LOCK_DIR
    return (make_dirs(folder, "lock folder") if create else folder) / f"{path.name}.{name}"


def make_dirs(folder: str | os.PathLike, what: str = "folder") -> Path:
    """``mkdir -p folder``, a failure as one :class:`WriteError` line."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:  # a file stands where a folder must be
        raise write_error(OSError(errno.ENOTDIR, "", err.filename), folder, what) from None
    except OSError as err:
        raise write_error(err, folder, what) from None
    return folder


def check_writable(path: str | os.PathLike, what: str = "file") -> Path:
    """Fail now, before any work, if ``path`` cannot be written: it is a folder or a device, a
    parent is a file, or the nearest existing folder refuses a new file (read-only, permission,
    disk full, size limit). Creates nothing that stays."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise write_error(err, path, what) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise write_error(OSError(errno.EISDIR, "", str(path)), path, what)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise WriteError(f"cannot write {what} {shown(path)}: it is not a regular file (a device, "
                         "FIFO or socket); give a file path")
    folder = nearest_existing(path.parent)
    if not folder.is_dir():
        raise write_error(OSError(errno.ENOTDIR, "", str(folder)), path, what)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:50]}.", suffix=".probe", dir=folder)
    except OSError as err:  # named by the folder, not the probe's random name
        raise write_error(OSError(err.errno, err.strerror, str(folder)), path, what) from None
    try:
        os.write(fd, b"\n")
    except OSError as err:
        raise write_error(OSError(err.errno, err.strerror, str(folder)), path, what) from None
    finally:
        os.close(fd)
        os.unlink(tmp)
    return path


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", what: str = "file") -> Iterator:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    Readers see the old file or the new one, never a mix: a process killed at any point (even
    SIGKILL) leaves ``path`` as it was and at most a hidden ``.NAME.*.tmp`` beside it. A failed
    write (disk full, read-only, ...) is one :class:`WriteError` line naming ``what`` and
    ``path``; an existing ``path`` that is not a regular file (``/dev/full``, a FIFO) is refused,
    never replaced."""
    path = Path(path)
    if os.path.lexists(path) and not (path.is_file() or path.is_symlink() and not path.exists()):
        check_writable(path, what)  # a folder or a device: one line, and the node stays
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:  # a file stands where a folder must be
        raise write_error(OSError(errno.ENOTDIR, "", err.filename), path, what) from None
    except OSError as err:
        raise write_error(err, path, what) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise write_error(err, path, what) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError) and err.errno in _WRITE_ERRORS:
            raise write_error(err, path, what) from None
        raise


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it keeps the new file); best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str, what: str = "file") -> None:
    with atomic_write(path, what=what) as fh:
        fh.write(text)


def write_json(path: str | os.PathLike, obj, what: str = "file", recover: bool = False) -> None:
    """``obj`` as indented JSON; ``recover``: see :func:`write_or_recover`."""
    text = json.dumps(obj, indent=1, sort_keys=True) + "\n"
    if recover:
        write_or_recover(path, text, what)
    else:
        write_text(path, text, what=what)


def write_or_recover(path: str | os.PathLike, text: str, what: str = "file", mode: int | None = None,
                     saved: str = "") -> None:
    """Write ``text`` to ``path`` atomically; if that fails (disk full, read-only, ...), save it to
    a recovery file beside ``path`` or in the temp folder and name it in the one-line error, so
    work already done (measured rows, a timed table) is not lost. ``saved`` words what it holds."""
    path = Path(path)
    try:
        with atomic_write(path, what=what) as fh:
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            fh.write(text)
    except WriteError as err:
        raise WriteError(f"{err}{save_recovery(path, text, saved or 'its contents')}") from None


def save_recovery(path: Path, text: str, saved: str) -> str:
    """Save ``text`` to a recovery file (beside ``path``, else in the temp folder); the clause
    naming it, for the error line."""
    for folder in (path.parent, None):  # None: the temp folder (found lazily: it may fail too)
        name = None
        try:
            folder = folder if folder is not None else Path(tempfile.gettempdir())
            fd, name = tempfile.mkstemp(prefix=f"{path.stem[:50]}.recovered.", suffix=path.suffix[:20],
                                        dir=folder)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            return f" ({saved} saved in {shown(name)}: once fixed, move it to {shown(path)})"
        except OSError:
            if name is not None:
                try:
                    os.unlink(name)
                except OSError:
                    pass
    return f" ({saved} could not be saved anywhere: free space and run it again)"


# ---- bounded reads ----------------------------------------------------------------------------

#: The largest file stitchnas reads (measurements, fronts, latency tables): 512 MiB.
MAX_FILE_BYTES = 512 * 2 ** 20
#: The largest YAML file (space, target) read: 1 MiB (real ones are a few KiB).
MAX_YAML_BYTES = 2 ** 20
#: The most nodes a YAML document may expand to, aliases counted as often as used.
MAX_YAML_NODES = 100_000


def read_bytes(path: str | os.PathLike, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``). A folder, FIFO or device
    is refused before reading (a FIFO would block, ``/dev/zero`` never ends), as is a file over
    the cap; a missing file raises ``FileNotFoundError`` for the caller to word."""
    path = Path(path)
    st = os.stat(path)  # FileNotFoundError: the caller's message
    if stat.S_ISDIR(st.st_mode):
        raise StitchnasError(f"{what} {shown(path)} is a folder, not a file; give the file's path")
    if not stat.S_ISREG(st.st_mode):
        raise StitchnasError(f"{what} {shown(path)} is not a regular file (a FIFO, device or socket);"
                             " give a file's path")
    if st.st_size > max_bytes:
        raise StitchnasError(f"{what} {shown(path)} is {st.st_size:,} bytes, over the {max_bytes:,} "
                             "stitchnas reads; give the right file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even if swapped for a FIFO
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StitchnasError(f"{what} {shown(path)} is not a regular file; give a file's path")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(2 ** 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:  # it grew while read
        raise StitchnasError(f"{what} {shown(path)} is over the {max_bytes:,} bytes stitchnas reads; "
                             "give the right file")
    return b"".join(chunks)


def read_text(path: str | os.PathLike, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> str:
    """:func:`read_bytes` decoded as UTF-8 (``UnicodeDecodeError`` for the caller to word)."""
    return read_bytes(path, what, max_bytes).decode("utf-8")


def load_yaml(text: str, what: str, max_nodes: int = MAX_YAML_NODES) -> Any:
    """``yaml.safe_load(text)``, refusing a document that expands past ``max_nodes`` nodes
    (an alias chain, "billion laughs", is a few hundred bytes that expand to billions): the
    expanded size is counted on the composed graph, each shared node once per use, in linear time."""
    import yaml

    class _Bounded(yaml.SafeLoader):
        def compose_document(self):
            node = super().compose_document()
            _check_expansion(node, what, max_nodes)
            return node

    loader = _Bounded(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | os.PathLike, what: str) -> Any:
    """The document of the YAML file ``path`` (``what``: "space file", "target file"), read by
    :func:`read_text` and :func:`load_yaml`; every failure is one line naming the file and the fix.
    A ``${...}`` value inside a ``{ }`` mapping (``checkpoint: ${results}/a.pt``) is the usual
    syntax error in a space file: YAML reads its ``{`` as a mapping, so the line says to quote it."""
    import yaml

    name = f"{what} {shown(path)}"
    try:
        text = read_text(path, what, MAX_YAML_BYTES)
    except OSError as err:
        raise StitchnasError(f"cannot read {name}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise StitchnasError(f"cannot read {name}: it is not text ({err.reason} at byte {err.start}); "
                             "save it as UTF-8 YAML") from err
    try:
        return load_yaml(text, name)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "malformed YAML"
        lines = text.splitlines()
        line = lines[mark.line] if mark and mark.line < len(lines) else ""
        if "${" in line and "{" in line.split("${", 1)[0]:
            fix = 'inside { } a value with ${...} must be quoted, e.g. checkpoint: "${results}/anchors/a.pt"'
        else:
            fix = "fix the file's syntax"
        raise StitchnasError(f"{name} is not valid YAML{where}: {problem}; {fix}") from err
    except RecursionError as err:
        raise StitchnasError(f"{name} nests lists or mappings too deeply to read; fix the file's syntax") from err


def _check_expansion(root: Any, what: str, max_nodes: int) -> None:
    import yaml

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # iterative post-order: deep nesting cannot overflow the stack here
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            sizes[id(node)] = 1
            continue
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(c), 1) for c in children)
        if total > max_nodes:
            raise StitchnasError(f"{what} expands to more than {max_nodes:,} values (YAML aliases "
                                 "*name repeat &name's value; a chain of them multiplies): write "
                                 "the values out, or use fewer aliases")
        sizes[id(node)] = total


def is_write_error(err: OSError) -> bool:
    """Whether ``err`` is a failed write of a named file that :func:`write_error` explains."""
    return err.errno in _WRITE_ERRORS and err.errno != errno.ENOENT and bool(err.filename)
