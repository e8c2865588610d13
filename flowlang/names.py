"""Names: flowlang identifiers, and the one sanitiser that turns user text
into Python identifiers for generated code."""

from __future__ import annotations

import hashlib
import keyword
import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# words the grammar reserves; a field with such a name is written in backticks
KEYWORDS = frozenset(
    """source from pipeline schema import where set drop keep rename as summarize by
    every on sink and or not in if then else true false null allowed_lateness
    """.split()
)


# words that are keywords only inside tests, where a test expects them; a
# field may still be called `test` or `given` anywhere else
TEST_WORDS = frozenset("test property given expect now env no reaches examples".split())


def is_identifier(text: str) -> bool:
    """Is `text` a flowlang identifier (ASCII, not a keyword)?"""
    return bool(_IDENT.match(text)) and text not in KEYWORDS


def python_identifier(text: str, prefix: str = "") -> str:
    """A valid, non-keyword Python identifier derived from `text`.

    Only ASCII letters, digits and underscores survive; anything else is
    replaced and a short hash of the original keeps distinct names distinct.
    The result never shadows a Python keyword or a builtin-looking dunder.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if cleaned != text or not cleaned or cleaned[0].isdigit() or cleaned.startswith("__"):
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cleaned = f"{cleaned.strip('_')[:40]}_{digest}".lstrip("_")
        if cleaned[0].isdigit():
            cleaned = "n" + cleaned
    if keyword.iskeyword(cleaned) or keyword.issoftkeyword(cleaned):
        cleaned += "_"
    result = prefix + cleaned
    assert result.isidentifier() and not keyword.iskeyword(result), result
    return result
