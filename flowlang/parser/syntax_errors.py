"""Syntax errors in words a user understands: Lark's `match_examples` labels
the common mistakes, and what is expected is named, never a terminal."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput

from .. import codes
from ..diagnostics import Diagnostic, Label, error
from ..source import Span
from .grammar import STATEMENT_WORDS, keyword_types, lark_parse, lark_parser, significant_tokens

_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")

_STATEMENT_TERMINALS = frozenset(
    {"IMPORT", "SCHEMA", "PIPELINE", "SOURCE", "FROM", "KW_TEST", "KW_PROPERTY"}
)
_STAGE_WORDS = ("where", "set", "drop", "keep", "rename", "summarize", "sink")
_COMPARISONS = frozenset("EQ NE LT LE GT GE IN MATCH".split())
_OPERATORS = _COMPARISONS | set("OR AND COALESCE PLUS MINUS STAR SLASH PERCENT".split())
_EXPRESSION_STARTS = frozenset(
    "NAME BACKTICK STRING RAW_STRING NUMBER TRUE FALSE NULL LSQB LBRACE LPAR MINUS NOT IF".split()
)
_BRACKETS = {"LPAR": ")", "LSQB": "]", "LBRACE": "}"}
_TERMINAL_WORDS = {
    "NAME": "a name",
    "BACKTICK": "a field name in backticks",
    "STRING": "a string",
    "RAW_STRING": "a raw string",
    "NUMBER": "a number",
    "$END": "the end of the file",
}
_CHARACTER_HINTS = {
    "!": "negation is written `not`",
    "&": "logical and is written `and`",
    "'": 'strings are written in double quotes: "..."',
    ";": "statements need no separator; stages are separated by `|`",
    "$": 'read environment variables with env("NAME")',
}

# Example mistakes for Lark's match_examples. Each chain is also tried inside
# `pipeline p = …`; each is parsed alone, as the statements of a broken file are.
# fmt: off
_EXAMPLES: dict[str, list[str]] = {
    "missing_pipe": [
        "source f g", "source f() g", "source f(x) g", "from p g", "from p.errors g",
        "source f | g h", "source f | g() h", "source f | g(x) h", "source f() where x",
        "source f() sink g", "source f | where x h", "source f | where x > 1 h",
        "source f | where f(x) h", 'source f | where x == "s" h', "source f | where true h",
        "source f | set a = 1 h", "source f | drop a h", "source f | keep a h",
        "source f | rename a as b h", "source f | summarize n = count() every 1m h",
        "source f | sink g h", "source f | sink g() h",
    ],
    "eq_for_compare": [
        "source f | where x = 1", "source f | where x.y = 1", "source f | where f(x) = 1",
        'source f | where x == 1 and y = "a"',
    ],
    "trailing_pipe": ["source f |", "source f() |", "source f | g |", "source f | g() |"],
    "unclosed": [
        'source f("x" | g', "source f(x | g", 'source f("x"', "source f(", "source f(x",
        "source f | where (x > 1 | g", "source f | where x in [1, 2 | g",
    ],
    "misspelt_statement": ["souce f()", "pipelin p = from a", "schem S {}", "frm a"],
}
# fmt: on
_example_errors: dict[str, UnexpectedInput] = {}


@functools.cache
def _example_table() -> list[tuple[str, list[str]]]:
    table = []
    for label, examples in _EXAMPLES.items():
        chains = [e for e in examples if e.split()[0] in ("source", "from")]
        table.append((label, examples + ["pipeline p = " + e for e in chains]))
    return table


def _example_parse(text: str) -> Tree:
    err = _example_errors.get(text)
    if err is None:
        try:
            return lark_parse(text)[0]
        except UnexpectedInput as e:
            err = _example_errors[text] = _number_state(e)
    raise err.with_traceback(None)


def _number_state(e: UnexpectedInput) -> UnexpectedInput:
    # match_examples compares states with ==, and (in lark 1.3.1) formats them
    # with %d when the accepted terminals differ; a number with the same
    # equality as lark's ParserState (stack depth and top state) serves both.
    state = e.state
    if state is not None and hasattr(state, "state_stack"):
        e.state = len(state.state_stack) * 1_000_000 + state.position
    return e


def _syntax(message: str, span: Span, hint: str | None = None, labels=()) -> Diagnostic:
    return error(codes.SYNTAX, message, span, hint, labels)


def syntax_error(e: UnexpectedInput, text: str, base: int, following: Span | None) -> Diagnostic:
    """A readable diagnostic for a Lark error in the statement starting at `base`;
    `following` is the word after the statement, if the statement was cut there."""
    if isinstance(e, UnexpectedCharacters):
        return unexpected_character(text, base + e.pos_in_stream)
    token = _whole_word(e.token, text, base)
    stack = e.interactive_parser.parser_state.value_stack if e.interactive_parser else []
    accepts = set(e.accepts or e.expected)
    label = _number_state(e).match_examples(_example_parse, _example_table())
    label = label or _fallback_label(token, stack, accepts)

    def span_of(t: Token) -> Span:
        return Span(base + t.start_pos, base + t.end_pos)

    kind, top = token.type, (stack[-1] if stack else None)
    top_kind = getattr(top, "type", None)
    if kind == "$END" and following:
        word = text[following.start : following.end]
        token, span, found = (
            Token(keyword_types.get(word, "NAME"), word),
            following,
            f"`{word}`",
        )
    elif kind == "$END":
        span, found = Span(*(2 * [_content_end(text, base)])), "the end of the file"
    else:
        span, found = span_of(token), _describe_token(token)
    ends = token.type == "$END" or token.type in _STATEMENT_TERMINALS

    if label == "missing_pipe" and (kind == "NAME" or token.value in _STAGE_WORDS):
        guess = top_kind == "NAME" and difflib.get_close_matches(top.value, _STAGE_WORDS, n=1)
        if guess:
            return _syntax(
                f"misspelt keyword `{top.value}`",
                span_of(top),
                f"did you mean `{guess[0]}`?",
            )
        return _syntax(f"missing `|` before {found}", span, "stages are separated by `|`")
    if label == "eq_for_compare" and kind == "EQUAL":
        return _syntax("`=` is not a comparison", span, "use `==` to compare values")
    if label == "trailing_pipe" and top_kind == "VBAR":
        return _syntax(
            "expected a stage after `|`",
            span_of(top),
            "add a stage after the `|`, or remove it",
        )
    opened = [t for t in stack if getattr(t, "type", None) in _BRACKETS]
    if label == "unclosed" and (ends or kind == "VBAR") and opened:
        close = _BRACKETS[opened[-1].type]
        note = Label(span, f"expected `{close}` before {found}")
        return _syntax(
            f"unclosed `{opened[-1].value}`",
            span_of(opened[-1]),
            f"add the matching `{close}`",
            (note,),
        )
    if label == "chained_comparison" and kind in _COMPARISONS:
        return _syntax(
            "comparisons cannot be chained",
            span,
            "combine them with `and`: `a < b and b < c`",
        )
    guess = kind == "NAME" and difflib.get_close_matches(token.value, STATEMENT_WORDS, n=1)
    if label == "misspelt_statement" and guess:
        return _syntax(f"misspelt keyword `{token.value}`", span, f"did you mean `{guess[0]}`?")
    expected = _describe_expected(accepts)
    return _syntax(f"expected {expected}, found {found}", span, _generic_hint(token, accepts))


def _whole_word(token: Token, text: str, base: int) -> Token:
    # Where a name is not expected, the contextual lexer may cut a keyword off
    # the front of one (`int` as `in`); report the whole word.
    if token.type == "$END" or token.value not in keyword_types:
        return token
    start = base + token.start_pos
    word = re.match(r"[A-Za-z0-9_]*", text[start : start + 200]).group()
    if word == token.value:
        return token
    return Token("NAME", word, start_pos=token.start_pos, end_pos=token.start_pos + len(word))


def _fallback_label(token: Token, stack: list, accepts: set[str]) -> str | None:
    """Label mistakes that no example matched, from the token and the parser's stack."""
    kind = token.type
    kinds = [getattr(item, "type", None) for item in stack[-2:]]
    ends = kind == "$END" or kind in _STATEMENT_TERMINALS
    if kind == "EQUAL" and "EQ" in accepts:
        return "eq_for_compare"
    if kind in _COMPARISONS and len(kinds) == 2 and kinds[0] in _COMPARISONS:
        return "chained_comparison"
    if (ends or kind == "VBAR") and any(getattr(t, "type", "") in _BRACKETS for t in stack):
        return "unclosed"
    if ends and kinds and kinds[-1] == "VBAR":
        return "trailing_pipe"
    if "VBAR" in accepts and (kind == "NAME" or kind.lower() in _STAGE_WORDS):
        return "missing_pipe"
    if kind == "NAME" and accepts <= _STATEMENT_TERMINALS | {"$END"}:
        return "misspelt_statement"
    return None


def _generic_hint(token: Token, accepts: set[str]) -> str | None:
    words = [word for word, kind in keyword_types.items() if kind in accepts]
    guess = token.type == "NAME" and difflib.get_close_matches(token.value, words, n=1)
    if guess:
        return f"did you mean `{guess[0]}`?"
    if token.value in keyword_types and accepts & {"NAME", "BACKTICK"}:
        word = token.value
        return f"`{word}` is a reserved word; as a field name write it in backticks: `` `{word}` ``"
    return None


def _describe_token(token: Token) -> str:
    if token.type in ("STRING", "RAW_STRING"):
        return "a string"
    if token.type == "BACKTICK":
        return f"`` {token.value} ``"
    return f"`{token.value}`"


def _terminal_text(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    pattern = lark_parser().get_terminal(name).pattern
    return f"`{pattern.value}`" if pattern.type == "str" else name.lower()


def _describe_expected(accepts: set[str]) -> str:
    """Expected terminals in words: `|` or the end of the pipeline, an operator, …"""
    left = set(accepts)
    phrases, ending = [], None
    if {"STRING", "NUMBER", "LSQB", "LPAR"} <= left:
        phrases.append("an expression")
        left -= _EXPRESSION_STARTS
    if len(left & _OPERATORS) >= 3:
        phrases.append("an operator")
        left -= _OPERATORS
    if _STATEMENT_TERMINALS | {"$END"} <= left:
        left -= _STATEMENT_TERMINALS | {"$END"}
        ending = "the end of the pipeline" if "VBAR" in left else "a statement"
        ending += "" if "VBAR" in left else " (`schema`, `pipeline`, `source` or `from`)"
    if left == {"NAME", "LSQB", "LBRACE"}:
        return "a type"
    if "NAME" in left:
        left.discard("NULL")  # `null` names a stage only as the discarding sink
    if {"NAME", "BACKTICK"} <= left:
        phrases.append("a field name")
        left -= {"NAME", "BACKTICK"}
    phrases += sorted(_terminal_text(n) for n in left) + ([ending] if ending else [])
    if len(phrases) < 2:
        return phrases[0] if phrases else "nothing more"
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _content_end(text: str, start: int) -> int:
    end = start
    for _, _, token_end in significant_tokens(text, start):
        end = token_end
    return end


def unexpected_character(text: str, pos: int) -> Diagnostic:
    char = text[pos]
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if char == '"':
        raw = text[pos - 1 : pos] == "r" and (pos < 2 or not _IDENT_CHAR.match(text, pos - 2))
        hint = 'close it with `"` on the same line; write a line break as \\n'
        return error(
            codes.UNCLOSED_STRING,
            "unterminated string",
            Span(pos - raw, line_end),
            hint,
        )
    if char == "`":
        hint = "close it with a backtick on the same line"
        message = "unterminated field name in backticks"
        return error(codes.UNCLOSED_BACKTICK, message, Span(pos, line_end), hint)
    return bad_character(char, pos)


def bad_character(char: str, pos: int) -> Diagnostic:
    if char.isprintable() and not char.isspace():
        shown = f"`{char}`"
    else:
        name = unicodedata.name(char, "")
        shown = f"U+{ord(char):04X}" + (f" ({name})" if name else "")
    hint = _CHARACTER_HINTS.get(char)
    return error(codes.BAD_CHARACTER, f"unexpected character {shown}", Span(pos, pos + 1), hint)
