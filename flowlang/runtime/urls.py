"""Showing server URLs without their credentials: the one rule every message
that shows a URL, or an error that may quote one, goes through.

The URLs come from the user's environment (`url=env("ESURL")`) and may carry
`user:password@` or a token; they may also be malformed, and client
libraries quote a URL they cannot parse in their error. So the credentials
are found by reading the text, not by a URL parser that could refuse it."""

from __future__ import annotations

from urllib.parse import unquote

MASK = "***"


def _split(part: str) -> tuple[str, str | None, str]:
    """(`scheme://`, userinfo or None, the rest) of one URL, read as text."""
    scheme, sep, rest = part.partition("://")
    if not sep:
        scheme, rest = "", part
    else:
        scheme += sep
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if at >= 0:
            end = min(end, at)
    authority, tail = rest[:end], rest[end:]
    if "@" not in authority:
        return scheme, None, rest
    userinfo, host = authority.rsplit("@", 1)
    return scheme, userinfo, host + tail


def credentials(url: str) -> list[str]:
    """The secret strings a URL, or a comma-separated list of them, carries:
    each userinfo, its user and password, raw and percent-decoded; longest
    first, so that no secret is half replaced by a shorter one."""
    found: set[str] = set()
    for part in url.split(","):
        _, userinfo, _ = _split(part.strip())
        if not userinfo:
            continue
        found.add(userinfo)
        for piece in userinfo.split(":", 1):
            if piece:
                found.update((piece, unquote(piece)))
    return sorted(found, key=len, reverse=True)


def shown(url: str) -> str:
    """The URL (list) as it may be shown: each userinfo replaced by `***`,
    query and fragment (which may carry tokens) left out."""
    parts = []
    for part in url.split(","):
        scheme, userinfo, rest = _split(part.strip())
        for stop in "?#":
            rest = rest.split(stop, 1)[0]
        parts.append(scheme + (f"{MASK}@" if userinfo is not None else "") + rest)
    return ",".join(parts)


def redact(text: str, url: str, *secrets: str | None) -> str:
    """`text` with `url` shown as `shown` does and every credential of it,
    and every one of `secrets` (an API key, a password), replaced by `***`."""
    if url and url in text:
        text = text.replace(url, shown(url))
    for secret in sorted((s for s in {*credentials(url), *secrets} if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def problem(url: str) -> str | None:
    """Why `url` cannot name a server (None: it can), without quoting it."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL with a host"
    return None
