"""`parse_url` and `parse_query_string`: a URL's parts and a query string's
pairs, as VRL's functions of those names give them (VRL reads URLs with the
WHATWG rules of Rust's `url` crate; this reads them with `urllib.parse` and
adds the checks that make the same text fail)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

# schemes the WHATWG URL standard calls special: a host is required (but
# for file) and an empty path is "/"; their default ports are not reported
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "file": None}
# characters no host may hold (WHATWG forbidden host code points)
_FORBIDDEN_IN_HOST = frozenset(" \t\n\r#%/:<>?@[\\]^|\x00")


def query_pairs(text: str) -> list[tuple[str, str]]:
    """`a=1&b=&c` as [(a, 1), (b, ""), (c, "")]: `+` is a space, %XX is
    decoded as UTF-8 (a bad sequence becomes U+FFFD), empty pieces are skipped."""
    return parse_qsl(text, keep_blank_values=True, errors="replace")


def parse_query_string(text: str) -> dict:
    """A record of the pairs; a key given more than once holds the list of its values."""
    if text.startswith("?"):
        text = text[1:]
    out: dict = {}
    for key, value in query_pairs(text):
        if key not in out:
            out[key] = value
        elif isinstance(out[key], list):
            out[key].append(value)
        else:
            out[key] = [out[key], value]
    return out


def parse_url(text: str, default_known_ports: bool = False) -> dict:
    """scheme, username, password, host, port, path, query, fragment; ValueError
    for text that is not an absolute URL."""
    parts = urlsplit(text.strip("".join(map(chr, range(33)))))  # C0 controls and space
    scheme = parts.scheme
    if not scheme:
        raise ValueError("relative URL without a base")
    special = scheme in DEFAULT_PORTS
    host = parts.hostname  # lower-cased; None without an authority
    if not host:
        if special and scheme != "file":
            raise ValueError("empty host")
        host = None
    elif ":" in host:  # an IPv6 address, written in brackets as VRL does
        host = f"[{host}]"
    elif any(c in _FORBIDDEN_IN_HOST for c in host):
        raise ValueError("invalid domain character")
    elif special and not host.isascii():
        # a special URL's domain is written in ASCII (IDNA), as VRL's (WHATWG's) parser gives it
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("invalid international domain name") from None
    port = parts.port  # ValueError when out of range or not a number
    if port is not None and special and port == DEFAULT_PORTS[scheme]:
        port = None
    if port is None and default_known_ports and special:
        port = DEFAULT_PORTS[scheme]
    path = parts.path
    if special and not path:
        path = "/"
    return {
        "scheme": scheme,
        "username": parts.username or "",
        "password": parts.password or "",
        "host": host,
        "port": port,
        "path": path,
        "query": dict(query_pairs(parts.query)),
        "fragment": parts.fragment if "#" in text else None,
    }
