"""Running the real command line the way a hostile or careless user does: a separate process
under a memory limit (RLIMIT_AS), a time limit (subprocess timeout) and optionally a file-size
limit (RLIMIT_FSIZE, SIGXFSZ ignored so writes fail with EFBIG), plus the checks every refusal
must pass: exit 2, one bounded stderr line, empty stdout, no file changed (hashes)."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from stitchnas.cli._main import MAX_ERROR_CHARS

REPO = Path(__file__).resolve().parents[2]
MEMORY_BYTES = 6 * 2 ** 30  # torch + timm + optuna need ~2 GiB of address space; a bomb needs more
TIMEOUT_S = 180
PREFIX = "stitchnas: error: "


def limits(fsize: int | None = None):
    """A ``preexec_fn``: the memory limit, and a file-size limit when ``fsize`` is given."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return apply


def env_for(work: Path, **changes: str | None) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "STITCHNAS_RESULTS": str(work / "results"), "STITCHNAS_CACHE": str(work.parent / f"{work.name}-cache"),  # caches may be written
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(argv, work: Path, *, fsize: int | None = None, env: dict | None = None,
        prefix: list[str] | None = None, timeout: float = TIMEOUT_S) -> tuple[int, str, str]:
    """``python -m stitchnas ARGV`` in ``work`` under the limits; (exit code, stdout, stderr)."""
    cmd = [*(prefix or []), sys.executable, "-m", "stitchnas", *map(str, argv)]
    proc = subprocess.run(cmd, cwd=work, env=env or env_for(work), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limits(fsize), check=False)
    return proc.returncode, proc.stdout, proc.stderr


def hashes(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too): its sha256."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_refused(result: tuple[int, str, str], *says: str) -> str:
    """Exit 2, exactly one stderr line of bounded length, no traceback, empty stdout, and each
    of ``says`` in the line; the line."""
    code, out, err = result
    assert code == 2, f"exit {code}: {err[-2000:]!r}"
    assert err.count("\n") == 1 and err.endswith("\n") and err.startswith(PREFIX), f"not one line: {err[-2000:]!r}"
    assert "Traceback" not in err
    assert len(err) <= MAX_ERROR_CHARS + len(PREFIX) + 1, f"a line of {len(err)} characters"
    assert out == "", f"stdout: {out!r}"
    for text in says:
        assert text in err, f"{text!r} not in {err!r}"
    return err


def can_mount_tmpfs() -> bool:
    """Whether ``unshare -rm`` lets this user mount a tmpfs (root, or user namespaces)."""
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k t /mnt"],
                           capture_output=True, check=False)
    return probe.returncode == 0


def in_tmpfs(folder: Path, size: str, read_only: bool = False) -> list[str]:
    """A command prefix that runs the command with a fresh tmpfs of ``size`` (e.g. ``64k``)
    mounted over ``folder`` (empty), read-only if asked: disk full and EROFS for real."""
    mount = f"mount -t tmpfs -o size={size}{',ro' if read_only else ''} stitchnas_test {folder}"
    return ["unshare", "-rm", "sh", "-c", f'{mount} && exec "$@"', "sh"]
