"""A throw-away PostgreSQL server for tests: ``initdb`` into a temporary folder, started on a free
loopback port (its unix socket in that folder too), trust authentication, stopped and removed at
the end of the session. Tests that use it skip when no PostgreSQL binaries or no driver are here
(``.ci/run`` installs Debian's ``postgresql`` package and ``psycopg2-binary``).

As root (CI containers), the cluster belongs to the ``postgres`` user: ``initdb`` refuses root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    dirs = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin")
            if Path(d, "initdb").is_file() and Path(d, "pg_ctl").is_file()]

    def version(d: Path) -> tuple:
        try:
            return (float(d.parent.name),)
        except ValueError:
            return (0.0,)

    return max(dirs, key=version) if dirs else None


def _driver() -> str | None:
    from importlib.util import find_spec

    for module in ("psycopg2", "psycopg"):
        if find_spec(module) is not None:
            return module
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="stitchnas-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                pytest.skip("running as root and there is no postgres user to own a test cluster")
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = dict(os.environ, LC_ALL="C", LANG="C")
        if self.user is not None:
            env["HOME"] = str(self.root)
        return subprocess.run([str(self.bindir / argv[0]), *argv[1:]], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False, **kwargs)

    def start(self) -> None:
        r = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C", "--no-sync")
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stdout}{r.stderr}")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        r = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                      "-t", "60", "-o", opts, "start")
        if r.returncode != 0:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {r.stdout}{r.stderr}{log[-2000:]}")

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str, driver: str | None = "psycopg2") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> None:
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.url("postgres", _driver()),
                                          poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def postgres():
    """A running throw-away cluster. Skips if PostgreSQL or a driver is missing, except in CI
    (``CI=true``), where ``.ci/run`` installs both and a skip would hide a lost test."""
    missing = pytest.fail if os.environ.get("CI", "").lower() == "true" else pytest.skip
    bindir = find_bindir()
    if bindir is None:
        missing("PostgreSQL is not installed (no initdb/pg_ctl on PATH or in "
                "/usr/lib/postgresql/*/bin): apt-get install postgresql")
    if _driver() is None:
        missing("no PostgreSQL driver: pip install psycopg2-binary")
    cluster = Cluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(postgres):
    """A fresh, empty database on the test cluster: ``postgresql+DRIVER://postgres@127.0.0.1:PORT/DB``."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    return postgres.url(name, _driver())
