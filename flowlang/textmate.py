"""The TextMate grammar of `.flow` files (editors/vscode/syntaxes/), written
from the lexical rules: the reserved words are `names.KEYWORDS`, the word
operators those of `syntax.BINARY_PRECEDENCE`, the test words
`names.TEST_WORDS`, and the patterns of numbers, strings and field names are
the grammar's terminals (grammar/flow.lark). `python -m flowlang.textmate`
rewrites the file; `--check` only reports whether it is up to date, so a new
keyword reaches editors with one command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .names import KEYWORDS, TEST_WORDS
from .syntax import BINARY_PRECEDENCE

DEFAULT_PATH = (
    Path(__file__).resolve().parent.parent
    / "editors"
    / "vscode"
    / "syntaxes"
    / "flow.tmLanguage.json"
)

# reserved words that are values, and those that are operators; every other
# reserved word begins a statement, a stage or a clause
LITERAL_WORDS = ("true", "false", "null")
OPERATOR_WORDS = tuple(sorted({op for op in BINARY_PRECEDENCE if op.isidentifier()} | {"not"}))
# the test words that begin a test's item (the others follow `expect`)
TEST_ITEM_WORDS = ("given", "now", "env", "examples", "expect")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TEST = "keyword.other.test.flow"


def _words(words) -> str:
    return "(?:" + "|".join(sorted(words, key=lambda w: (-len(w), w))) + ")"


def control_words() -> list[str]:
    return sorted(KEYWORDS - set(LITERAL_WORDS) - set(OPERATOR_WORDS))


def grammar() -> dict:
    """The grammar as a JSON object."""
    not_keyword = rf"(?!{_words(KEYWORDS)}\b)"
    missing = set(TEST_ITEM_WORDS) - TEST_WORDS
    assert not missing, f"not test words: {missing}"
    return {
        "name": "flowlang",
        "scopeName": "source.flow",
        "fileTypes": ["flow"],
        "patterns": [
            {"include": f"#{name}"}
            for name in (
                "comment",
                "raw-string",
                "string",
                "field",
                "number",
                "test",
                "test-item",
                "declaration",
                "stage",
                "literal",
                "operator-word",
                "keyword",
                "call",
                "operator",
            )
        ],
        "repository": {
            "comment": {"name": "comment.line.number-sign.flow", "match": "#.*$"},
            "raw-string": {
                "name": "string.regexp.flow",
                "begin": r'\br"',
                "end": '"|$',
                # a backslash keeps the next quote from ending it
                "patterns": [{"match": r"\\."}],
            },
            "string": {
                "name": "string.quoted.double.flow",
                "begin": '"',
                "end": '"|$',
                "patterns": [
                    {
                        "name": "constant.character.escape.flow",
                        "match": r'\\(?:["\\nt]|u[0-9A-Fa-f]{4})',
                    },
                    {"name": "invalid.illegal.escape.flow", "match": r"\\."},
                ],
            },
            "field": {"name": "variable.other.field.flow", "match": r"`[^`]*`"},
            "number": {
                "name": "constant.numeric.flow",
                "match": r"\b[0-9][A-Za-z0-9_]*(?:\.[0-9][A-Za-z0-9_]*)?(?:(?<=[eE])[+-][0-9]+)?",
            },
            "test": {
                "match": r'\b(test|property)\b(?=\s*")',
                "captures": {"1": {"name": _TEST}},
            },
            "test-item": {
                "match": rf"^\s*({_words(TEST_ITEM_WORDS)})\b|\b(no)\s+(given)\b"
                r"|\b(every)\s+(given)\b|\b(reaches)\b(?=\s+[A-Za-z_])",
                "captures": {
                    str(group): {"name": "keyword.control.flow" if group == 4 else _TEST}
                    for group in range(1, 7)
                },
            },
            "declaration": {
                "match": rf"\b(pipeline|schema)\s+({_NAME})",
                "captures": {
                    "1": {"name": "keyword.control.flow"},
                    "2": {"name": "entity.name.type.flow"},
                },
            },
            "stage": {
                "match": rf"(\||\bsource\b|\bsink\b)\s*{not_keyword}({_NAME})",
                "captures": {
                    "1": {"name": "keyword.control.flow"},
                    "2": {"name": "entity.name.function.flow"},
                },
            },
            "literal": {
                "name": "constant.language.flow",
                "match": rf"\b{_words(LITERAL_WORDS)}\b",
            },
            "operator-word": {
                "name": "keyword.operator.word.flow",
                "match": rf"\b{_words(OPERATOR_WORDS)}\b",
            },
            "keyword": {
                "name": "keyword.control.flow",
                "match": rf"\b{_words(control_words())}\b",
            },
            "call": {
                "match": rf"\b({_NAME})\s*(?=\()",
                "captures": {"1": {"name": "entity.name.function.flow"}},
            },
            "operator": {
                "name": "keyword.operator.flow",
                "match": r"==|!=|<=|>=|=~|\?\?|\.\.|[-+*/%<>=?|]",
            },
        },
    }


def render() -> str:
    return json.dumps(grammar(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m flowlang.textmate [--check] [-o PATH]`."""
    from . import docpages

    return docpages.main(argv, "flowlang.textmate", "the TextMate grammar", render, DEFAULT_PATH)


if __name__ == "__main__":
    sys.exit(main())
