"""Storage passwords never shown in clear: in URLs as SQLAlchemy parses them (a password may hold
``/``, ``#``, ``?``, ``@``, ``:`` unencoded), in error lines (ours and the driver's), on stdout and
in saved fronts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stitchnas.storage import mask_password, open_storage, scrub_secrets
from stitchnas.errors import StorageError
from support import run_cli
from support.pg import pg_url, postgres  # noqa: F401 - fixtures

# one password per character class SQLAlchemy lets through unencoded, and some it does not
PASSWORDS = [
    "Zx9/kQ+r2w==",  # '/' and base64 padding: the case
    "pa#ss#word", "what?now?x", "p@ss@word", "p:a:ss:wd", "100%sure", "a+b=c=d",
    "with space", "pässwörd€", "%2Fencoded%40", "mix/#?@:%+= é",
]


def _fragments(password: str) -> list[str]:
    """The pieces of a password between URL delimiters (a parser may split it there)."""
    return [f for f in re.split(r"[/@#?: ]", password) if len(f) >= 3]


@pytest.mark.parametrize("password", PASSWORDS)
def test_mask_password_hides_every_character_class(password):
    for scheme in ("postgresql", "postgresql+psycopg2", "mysql+pymysql"):
        url = f"{scheme}://stitch3:{password}@127.0.0.1:54329/stitchnas3"
        masked = mask_password(url)
        assert password not in masked
        for fragment in _fragments(password):
            assert fragment not in masked, masked
        assert masked.startswith(f"{scheme}://stitch3:***@"), masked
        assert scrub_secrets(f"driver said: {password} failed") == "driver said: *** failed"


@pytest.mark.parametrize("url", ["sqlite:///results/search.db", "postgresql://nobody@127.0.0.1:1/x",
                                 "results/search.db", "memory", None, ""])
def test_urls_without_password_unchanged(url):
    assert mask_password(url) == url


@pytest.mark.parametrize("password", ["Zx9/kQ+r2w==", "Pq7@Ss8:Wq9@Rd0#Xk5?Yz6", "hash#only", "é ü/€"])
def test_open_storage_error_masks_password(password):
    url = f"postgresql://stitch3:{password}@127.0.0.1:1/stitchnas3"
    with pytest.raises(StorageError) as err:
        open_storage(url)
    text = str(err.value)
    assert "\n" not in text and "***" in text
    for fragment in _fragments(password):
        assert fragment not in text, text


def _search_argv(tmp: Path, storage: str) -> list[str]:
    return ["search", "tiny_test", "--target", "flops_budget", "--out", str(tmp / "out"), "--trials", "4",
            "--anchor-acc", "s=60", "--anchor-acc", "l=70", "--storage", storage]


@pytest.mark.parametrize("password", ["Zx9/kQ+r2w==", "Pq7@Ss8:Wq9@Rd0#Xk5?Yz6"])
def test_cli_unreachable_server_line_hides_password(password, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *_search_argv(
        tmp_path, f"postgresql://stitch3:{password}@127.0.0.1:1/stitchnas3"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("stitchnas: error: ")
    assert "***" in err
    for fragment in _fragments(password):
        assert fragment not in err, err
    assert not any(tmp_path.rglob("*.json")), "nothing is written"


def test_cli_search_on_server_hides_password_on_stdout_and_front(pg_url, tmp_path, capsys,  # noqa: F811
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    password = "Zx9/kQ+r2w=="  # the test server trusts loopback: any password connects
    rest = pg_url.split("://", 1)[1]
    url = f"postgresql://{rest.replace('@', f':{password}@', 1)}"
    code, out, err = run_cli(capsys, *_search_argv(tmp_path, url))
    assert code == 0, err
    assert password not in out and password not in err and "***" in out
    fronts = list((tmp_path / "out").rglob("front.json"))
    assert fronts
    for front in fronts:
        text = front.read_text()
        assert password not in text
        assert "***" in json.loads(text)["study"]["storage"]
    for saved in (tmp_path / "out").rglob("*"):
        if saved.is_file() and saved.suffix in (".json", ".csv", ".md", ".txt"):
            assert password not in saved.read_text(errors="replace"), saved


def test_error_printer_masks_any_message(capsys):
    """An error raised anywhere (not only by open_storage) is printed without the password."""
    from stitchnas.cli import error_text
    from stitchnas.errors import StitchnasError

    mask_password("postgresql://u:Sup3r/Secret#1@h/db")
    assert "Sup3r/Secret#1" not in error_text(StitchnasError("bad study in u:Sup3r/Secret#1@h"))
