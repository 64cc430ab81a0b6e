"""Storage URLs as they may be shown: passwords masked."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["mask_password"]


def mask_password(url: str | None) -> str | None:
    """A storage URL with any password replaced by ``***`` (``postgresql://u:***@host/db``)."""
    if not url or "@" not in url:
        return url
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
    except ValueError:
        return url
