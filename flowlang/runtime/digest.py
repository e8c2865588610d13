"""Hashes of text: the HMAC of the anonymize stage and of the `hmac` builtin,
and `sha256`. Text is hashed as its UTF-8 bytes; a lone surrogate (lenient
JSON can hold one) is encoded as such rather than failing."""

from __future__ import annotations

import hashlib

# the `hmac` builtin's algorithms, by VRL's names -> hashlib's
ALGORITHMS = {
    "SHA1": "sha1",
    "SHA-224": "sha224",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from lenient JSON
        return text.encode("utf-8", "surrogatepass")


def algorithm_problem(name: str) -> str | None:
    """Why `name` is not an HMAC algorithm, or None when it is one."""
    if name.upper() in ALGORITHMS:
        return None
    known = ", ".join(f'"{a}"' for a in ALGORITHMS)
    return f"unknown algorithm (one of {known})"


class Hmac:
    """HMAC (RFC 2104) with the pads hashed once: about twice as fast per
    value as `hmac.digest`, with identical output. `algorithm` is a hashlib
    name (SHA-256 by default)."""

    def __init__(self, key: bytes, algorithm: str = "sha256"):
        block = hashlib.new(algorithm).block_size
        if len(key) > block:
            key = hashlib.new(algorithm, key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.new(algorithm, bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.new(algorithm, bytes(b ^ 0x5C for b in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(utf8(text)).hexdigest()
