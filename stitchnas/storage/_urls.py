"""Storage URLs as they may be shown: passwords masked, in the URL and in any message text.

A URL is parsed as SQLAlchemy parses it (``make_url``), so a password holding ``/``, ``#``, ``?``
or ``:`` unencoded, which SQLAlchemy accepts, is masked as a whole. Every password seen is also
remembered for this process, so :func:`scrub_secrets` can remove it from any text (a driver's or
Optuna's error message may quote the URL or part of it)."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote

__all__ = ["mask_password", "scrub_secrets", "MASK"]

MASK = "***"
_SECRETS: set[str] = set()
_MIN_SCRUBBED = 3  # shorter passwords are masked in URLs but not hunted in free text (noise)
# scheme://user:password@host... where SQLAlchemy cannot parse it: the password runs to the last @
_FALLBACK = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*):(?P<pw>.*)@(?P<tail>[^@]*)$", re.S)


def _remember(password: str) -> None:
    if len(password) < _MIN_SCRUBBED:
        return
    for form in (password, unquote(password), quote(password, safe=""), quote_plus(password)):
        if form:
            _SECRETS.add(form)


def mask_password(url: str | None) -> str | None:
    """A storage URL with any password replaced by ``***`` (``postgresql://u:***@host/db``)."""
    if not url or "@" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - SQLAlchemy rejects it: mask up to the last '@' ourselves
        parsed = None
    if parsed is not None:
        if parsed.password is None:
            return url
        begin = url.find("://") + 3
        start = url.find(":", begin)  # the user name holds no ':' or '/'
        first_at = url.find("@", start + 1) if start >= 0 else -1
        if first_at < 0 or "/" in url[begin:start]:
            _remember(str(parsed.password))
            return parsed.render_as_string(hide_password=True)
        # SQLAlchemy ends the password at the first '@' but lets the host hold more: a password
        # with an unencoded '@' runs on into the "host", so mask up to the host's last '@'
        stop = min([i for i in (url.find("/", first_at), url.find("?", first_at)) if i >= 0] or [len(url)])
        at = url.rfind("@", first_at, stop)
        _remember(url[start + 1:at])  # as written (encoded or not)
        return f"{url[:start + 1]}{MASK}{url[at:]}"
    match = _FALLBACK.match(url)
    if match is None:
        return url
    _remember(match["pw"])
    return f"{match['head']}:{MASK}@{match['tail']}"


def scrub_secrets(text: str) -> str:
    """``text`` with every password :func:`mask_password` has seen (raw or URL-encoded) masked."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
