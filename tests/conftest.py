"""Fixtures for every test; helpers live in ``tests/support`` (``from support import run_cli``)."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the profile cache of each test session out of the user's home."""
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
