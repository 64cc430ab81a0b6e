"""Fixtures for every test; helpers live in ``tests/support`` (``from support import run_cli``)."""

import os

import pytest

from support.parallel import auto_workers, share_cpus

share_cpus()


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, the test extra's
def pytest_xdist_auto_num_workers(config):
    """``pytest -n auto``: a worker per CPU this process may use, as many as memory holds."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own override
    return auto_workers()


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """Keep the caches of each test session out of the user's home, from before the first
    module- or session-scoped fixture runs (those are set up before any function fixture)."""
    old = os.environ.get("STITCHNAS_CACHE")
    os.environ["STITCHNAS_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    yield
    if old is None:
        os.environ.pop("STITCHNAS_CACHE", None)
    else:
        os.environ["STITCHNAS_CACHE"] = old


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """The same folder for every test, set again in case a test changed it."""
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
