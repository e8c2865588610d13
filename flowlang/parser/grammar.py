"""The Lark parser of grammar/flow.lark, built once per process, and the
lexer callbacks that keep keywords reserved and collect comments."""

from __future__ import annotations

import importlib.resources
import re
import threading
from pathlib import Path

from lark import Lark, Token, Tree

from ..names import TEST_WORDS

_local = threading.local()
_build_lock = threading.Lock()
_lark_parser: Lark | None = None
keyword_types: dict[str, str] = {}


def _grammar_text() -> str:
    packaged = importlib.resources.files("flowlang").joinpath("grammar/flow.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "flow.lark").read_text(
        encoding="utf-8"
    )


def _reserve_keywords(token: Token) -> Token:
    # The contextual lexer only knows the terminals of the current parser
    # state, so where a keyword is not expected it would lex as a NAME; keep
    # keywords reserved everywhere by retyping them here.
    kind = keyword_types.get(token.value)
    if kind is not None:
        token.type = kind
    return token


def _collect_comment(token: Token) -> Token:
    sink = getattr(_local, "comments", None)
    if sink is not None:
        sink.append(token)
    return token  # Lark keeps what a callback returns when it keeps comments


def _tables_file() -> str | bool:
    """The parser tables' cache file in the user's own cache directory, or
    False (no cache) when that directory cannot be made."""
    from ..cachedir import cache_dir

    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return str(folder / "flow-lark-tables.pickle")


class _Positions:
    """A tree's offsets, where lark's `propagate_positions` would keep them
    in a `Meta`: `start_pos`, `end_pos`, and the `container_` offsets of the
    text of the rule that made the tree (wider than the tree's own when a
    `?rule` inlined it and dropped tokens around it)."""

    __slots__ = ("start_pos", "end_pos", "container_start_pos", "container_end_pos")
    empty = False


def _with_positions(build):
    """`build` (lark's callback for one rule), then the positions of the
    tree it gives, from the children the rule matched (anonymous tokens
    included): what lark's `PropagatePositions` computes, for offsets only."""

    def callback(children):
        tree = build(children)
        if type(tree) is not Tree:
            return tree
        for c in children:
            if isinstance(c, Token):
                start = c.start_pos
                break
            if type(c) is Tree and c._meta is not None and not c._meta.empty:
                start = c._meta.container_start_pos
                break
        else:
            return tree  # no text: the tree stays empty, as lark leaves it
        for c in reversed(children):
            if isinstance(c, Token):
                end = c.end_pos
                break
            if type(c) is Tree and c._meta is not None and not c._meta.empty:
                end = c._meta.container_end_pos
                break
        meta = tree._meta
        if meta is None or meta.empty:
            meta = tree._meta = _Positions()
            meta.start_pos, meta.end_pos = start, end
        meta.container_start_pos, meta.container_end_pos = start, end
        return tree

    return callback


def _add_positions(parser: Lark) -> None:
    # the parser (and every interactive parser) calls the callbacks in this
    # dict; lark 1.3.1 keeps one per rule and one per terminal a transformer names
    callbacks = parser._callbacks
    for rule, build in list(callbacks.items()):
        if not isinstance(rule, str):
            callbacks[rule] = _with_positions(build)


def lark_parser() -> Lark:
    global _lark_parser
    if _lark_parser is None:
        with _build_lock:
            if _lark_parser is None:
                parser = Lark(
                    _grammar_text(),
                    parser="lalr",
                    lexer="contextual",
                    strict=True,
                    # the analysed tables are kept (checked against the
                    # grammar's hash): a flowc process starts 0.3 s sooner
                    cache=_tables_file(),
                    # positions are set by _with_positions, which does
                    # lark's work for the two offsets the parser reads
                    propagate_positions=False,
                    maybe_placeholders=False,
                    # NAME must come last: lark 1.3.1 chains a callback after
                    # its own keyword check with a condition that reads the
                    # loop variable of this dict's iteration after the loop
                    lexer_callbacks={
                        "COMMENT": _collect_comment,
                        "NAME": _reserve_keywords,
                    },
                )
                _add_positions(parser)
                keyword_types.update(grammar_keywords(parser))
                _lark_parser = parser
    return _lark_parser


def grammar_keywords(parser: Lark | None = None) -> dict[str, str]:
    """The grammar's reserved words, mapped to their terminal names (the
    test words are keywords only where a test expects them)."""
    parser = parser or lark_parser()
    return {
        t.pattern.value: t.name
        for t in parser.terminals
        if t.pattern.type == "str"
        and re.fullmatch(r"[A-Za-z_]\w*", t.pattern.value)
        and t.pattern.value not in TEST_WORDS
    }


def lark_parse(text: str) -> tuple[Tree, list[Token]]:
    parser = lark_parser()
    _local.comments = comments = []
    try:
        return parser.parse(text), comments
    finally:
        _local.comments = None


def lex(text: str) -> list[tuple[str, int, int]]:
    """(terminal, start, end) of every token of `text` as the parser's lexer
    reads it, comments and white space included (reserved words are typed
    as their terminal, test words as KW_…); raises lark's LexError on a
    character no terminal matches. For tools that colour source text."""
    return [(t.type, t.start_pos, t.end_pos) for t in lark_parser().lex(text, dont_ignore=True)]


# statements are found again by a plain scan when the parse fails
SCAN_RE = re.compile(
    r"""(?P<ws>[ \t\f\r\n]+)
      | (?P<comment>\#[^\r\n]*)
      | (?P<string>r?"(?:[^"\\\n]|\\[^\n])*"?)
      | (?P<tick>`[^`\n]*`?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<other>[0-9][A-Za-z0-9_.]*|==|=~|.)""",
    re.X | re.S,
)
STATEMENT_WORDS = ("import", "schema", "pipeline", "source", "from", "test", "property")


def significant_tokens(text: str, start: int = 0, end: int | None = None):
    """(kind, start, end) of each token that is not white space or a comment."""
    end = len(text) if end is None else end
    pos = start
    while pos < end:
        m = SCAN_RE.match(text, pos, end)
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            yield kind, m.start(), m.end()
        pos = m.end()
