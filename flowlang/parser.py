"""Text to `flowlang.ast`: the only module that sees Lark.

`parse(src)` never raises on any input; every problem is a Diagnostic, and the
program is None whenever there is an error. The grammar (`grammar/flow.lark`,
LALR with the contextual lexer) is built once per process.

What this module decides beyond the grammar:

- A unary minus written directly before a number is folded into it: `-5` is
  `Literal(-5)`, while `-(5)` stays `Unary("-", Literal(5))` and `-5m` is
  `Unary("-", Duration(300000))`.
- Integers are 64-bit signed, floats finite, durations whole numbers of
  `ms s m h d` no longer than Python's `timedelta.max` (E006).
- Strings know the escapes `\\" \\\\ \\n \\t \\uHHHH` (each `\\uHHHH` is one
  UTF-16 code unit, so a surrogate pair written this way stays two code
  units); anything else is E003. Control characters (but tab, CR and form
  feed) and lone surrogates anywhere in the text are E005.
- Expressions and types nest at most `MAX_NESTING` levels (E004); a chain of
  a left-associative operator counts one level per operator.
- Reserved words stay reserved everywhere (a field so named needs
  backticks), with two exceptions the stage catalogue needs: a keyword
  argument may be named by one (`file(p, schema=S)`, `anomaly(x, by=[h])`),
  and `null` names the discarding sink (`| sink null`).
- A bare chain becomes `Pipeline(None, chain)` whose `name_span` is its head's.
- Comments are kept in `Program.comments` with `own_line` and `blank_after`
  set, for the formatter.
- After a syntax error, each statement (it starts with `schema`, `pipeline`,
  `source` or `from`) is parsed on its own, so one run reports an error in
  every broken statement.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import gc
import importlib.resources
import re
import threading
import unicodedata
from datetime import timedelta
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import ast
from . import codes
from .diagnostics import Diagnostic, Label, error, sort_key
from .names import KEYWORDS
from .source import SourceFile, Span

MAX_NESTING = 100

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_MAX_DURATION_MS = timedelta.max // timedelta(milliseconds=1)

_INT_RE = re.compile(r"[0-9]+\Z")
_FLOAT_RE = re.compile(r"[0-9]+(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)\Z")
_DURATION_RE = re.compile(r"([0-9]+)(ms|s|m|h|d)\Z")
_ESCAPE_RE = re.compile(r"\\(u[0-9A-Fa-f]{4}|u|.)", re.S)
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
_ESCAPES_HINT = (
    'valid escapes are \\" \\\\ \\n \\t \\uHHHH; for a regular expression use r"..."'
)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_BAD_CHARS_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")

# ---------------------------------------------------------------- the Lark parser

_local = threading.local()
_build_lock = threading.Lock()
_lark_parser: Lark | None = None
_keyword_types: dict[str, str] = {}


def _grammar_text() -> str:
    packaged = importlib.resources.files("flowlang").joinpath("grammar/flow.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammar" / "flow.lark").read_text(
        encoding="utf-8"
    )


def _reserve_keywords(token: Token) -> Token:
    # The contextual lexer only knows the terminals of the current parser
    # state, so where a keyword is not expected it would lex as a NAME; keep
    # keywords reserved everywhere by retyping them here.
    kind = _keyword_types.get(token.value)
    if kind is not None:
        token.type = kind
    return token


def _collect_comment(token: Token) -> None:
    sink = getattr(_local, "comments", None)
    if sink is not None:
        sink.append(token)


def _lark() -> Lark:
    global _lark_parser
    if _lark_parser is None:
        with _build_lock:
            if _lark_parser is None:
                parser = Lark(
                    _grammar_text(),
                    parser="lalr",
                    lexer="contextual",
                    strict=True,
                    propagate_positions=True,
                    maybe_placeholders=False,
                    # NAME must come last: lark 1.3.1 chains a callback after
                    # its own keyword check with a condition that reads the
                    # loop variable of this dict's iteration after the loop
                    lexer_callbacks={
                        "COMMENT": _collect_comment,
                        "NAME": _reserve_keywords,
                    },
                )
                _keyword_types.update(grammar_keywords(parser))
                _lark_parser = parser
    return _lark_parser


def grammar_keywords(parser: Lark | None = None) -> dict[str, str]:
    """The grammar's reserved words, mapped to their terminal names."""
    parser = parser or _lark()
    return {
        t.pattern.value: t.name
        for t in parser.terminals
        if t.pattern.type == "str" and re.fullmatch(r"[A-Za-z_]\w*", t.pattern.value)
    }


def _lark_parse(text: str) -> tuple[Tree, list[Token]]:
    parser = _lark()
    _local.comments = comments = []
    try:
        return parser.parse(text), comments
    finally:
        _local.comments = None


# ---------------------------------------------------------------- entry points


def parse(src: SourceFile) -> tuple[ast.Program | None, list[Diagnostic]]:
    """Parse a .flow file; the program is None when there is any error."""
    # A parse allocates a great many small objects and no reference cycles;
    # the cyclic collector would only traverse the growing tree again and
    # again (a third of the time on large files), so it waits until the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse(src)
    finally:
        if collecting:
            gc.enable()


def _parse(src: SourceFile) -> tuple[ast.Program | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    text = src.text
    for m in _BAD_CHARS_RE.finditer(text):
        diags.append(_bad_character(m.group(), m.start()))
    if diags:
        # parse the rest anyway so that later errors are found in the same run
        text = _BAD_CHARS_RE.sub(" ", text)
    statements: list[ast.Statement] = []
    comments: list[ast.Comment] = []
    try:
        tree, comment_tokens = _lark_parse(text)
    except UnexpectedInput as first:
        if not _parse_each_statement(text, diags):
            diags.append(_syntax_error(first, text, 0, None))
    else:
        statements = _Builder(0, diags).statements(tree)
        comments = [_comment(text, t) for t in comment_tokens]
    diags = sorted(dict.fromkeys(diags), key=sort_key)
    diags = [dataclasses.replace(d, file=src) for d in diags]
    if any(d.is_error for d in diags):
        return None, diags
    program = ast.Program(
        tuple(statements), tuple(comments), span=Span(0, len(src.text))
    )
    return program, diags


def parse_text(
    text: str, name: str = "<string>"
) -> tuple[ast.Program | None, list[Diagnostic]]:
    """`parse` for a string; `name` is used in diagnostics."""
    return parse(SourceFile(name, text))


_BLANK_LINE_NEXT = re.compile(r"[ \t\f\r]*\n[ \t\f\r]*\n")


def _comment(text: str, token: Token) -> ast.Comment:
    body = token.value.rstrip()
    line_start = text.rfind("\n", 0, token.start_pos) + 1
    return ast.Comment(
        body,
        span=Span(token.start_pos, token.start_pos + len(body)),
        own_line=not text[line_start : token.start_pos].strip(),
        blank_after=bool(_BLANK_LINE_NEXT.match(text, token.end_pos)),
    )


# ---------------------------------------------------------------- recovery

_SCAN_RE = re.compile(
    r"""(?P<ws>[ \t\f\r\n]+)
      | (?P<comment>\#[^\r\n]*)
      | (?P<string>r?"(?:[^"\\\n]|\\[^\n])*"?)
      | (?P<tick>`[^`\n]*`?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<other>[0-9][A-Za-z0-9_.]*|==|=~|.)""",
    re.X | re.S,
)
_STATEMENT_WORDS = ("schema", "pipeline", "source", "from")


def _significant_tokens(text: str, start: int = 0, end: int | None = None):
    """(kind, start, end) of each token that is not white space or a comment."""
    end = len(text) if end is None else end
    pos = start
    while pos < end:
        m = _SCAN_RE.match(text, pos, end)
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            yield kind, m.start(), m.end()
        pos = m.end()


def _statement_starts(text: str) -> list[int]:
    """Where statements start: at `schema`, `pipeline`, `source` or `from`
    beginning a line or following something that can end a statement."""
    starts = []
    previous, previous_end = "|", 0
    for kind, start, end in _significant_tokens(text):
        word = text[start:end]
        if kind == "word" and word in _STATEMENT_WORDS and previous != "=":
            if "\n" in text[previous_end:start] or _can_end_statement(previous):
                starts.append(start)
        previous, previous_end = word, end
    return starts


def _can_end_statement(token: str) -> bool:
    if token in KEYWORDS:
        return token in ("true", "false", "null")
    return token[0] in '"`)]}?|_' or token[0].isalnum()


def _parse_each_statement(text: str, diags: list[Diagnostic]) -> bool:
    """Parse each statement on its own; report its errors. False if none failed."""
    starts = _statement_starts(text)
    if not starts or any(True for _ in _significant_tokens(text, 0, starts[0])):
        starts.insert(0, 0)
    failed = False
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        try:
            tree, _ = _lark_parse(text[start:end])
        except UnexpectedInput as e:
            failed = True
            following = None
            if end < len(text):
                following = Span(end, _SCAN_RE.match(text, end).end())
            diags.append(_syntax_error(e, text, start, following))
        else:
            _Builder(start, diags).statements(tree)
    return failed


# ---------------------------------------------------------------- tree to ast


_PRECEDENCE = {
    "OR": 1, "AND": 2,
    "EQ": 4, "NE": 4, "LT": 4, "LE": 4, "GT": 4, "GE": 4, "IN": 4, "MATCH": 4,
    "COALESCE": 5, "PLUS": 6, "MINUS": 6, "STAR": 7, "SLASH": 7, "PERCENT": 7,
}  # fmt: skip
_NOT = 3  # `not` binds looser than comparisons: `not a == b` is `not (a == b)`
_COMPARISON = 4
_NOT_LEFT_ASSOCIATIVE = (_COMPARISON, _PRECEDENCE["COALESCE"])  # none, right


def _prec(op: Token) -> int:
    return _NOT if op.type == "NOT" else _PRECEDENCE[op.type]


def _shape_tree(shape: tuple) -> Tree | Token:
    """Some tree inside a resolved chain part, to place a diagnostic."""
    while shape[0] != "leaf":
        shape = shape[2]
    return shape[1]


class _ChainedComparison(Exception):
    def __init__(self, first: Token, second: Token) -> None:
        self.first, self.second = first, second


class _MisplacedNot(Exception):
    def __init__(self, token: Token, after: Token) -> None:
        self.token, self.after = token, after


class _TooDeep(Exception):
    def __init__(self, node: Tree) -> None:
        self.node = node


class _Builder:
    """Builds ast nodes from one parse tree whose offsets start at `base`.

    Expressions and types carry their nesting depth down and stop at
    MAX_NESTING, which bounds the recursion here and in every later pass.
    """

    def __init__(self, base: int, diags: list[Diagnostic]) -> None:
        self.base = base
        self.diags = diags

    def fail(
        self, code: str, message: str, span: Span, hint: str | None = None
    ) -> None:
        self.diags.append(error(code, message, span, hint))

    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return Span(node.start_pos + self.base, node.end_pos + self.base)
        return Span(node.meta.start_pos + self.base, node.meta.end_pos + self.base)

    # statements

    def statements(self, tree: Tree) -> list[ast.Statement]:
        result = []
        for node in tree.children:
            try:
                result.append(getattr(self, node.data)(node))
            except _TooDeep as deep:
                start = self.span(deep.node).start
                self.fail(
                    codes.TOO_DEEP,
                    f"nested too deeply (more than {MAX_NESTING} levels)",
                    Span(start, start + 1),
                    "split the expression, or use `in [...]` instead of a long chain of `or`",
                )
            except _ChainedComparison as chained:
                self.fail(
                    codes.SYNTAX,
                    "comparisons cannot be chained",
                    self.span(chained.second),
                    "combine them with `and`: `a < b and b < c`",
                )
            except _MisplacedNot as misplaced:
                self.fail(
                    codes.SYNTAX,
                    f"`not` cannot follow `{misplaced.after}` without parentheses",
                    self.span(misplaced.token),
                    f"write `{misplaced.after} (not …)`",
                )
        return result

    def schema(self, node: Tree) -> ast.Schema:
        name, *fields = node.children
        return ast.Schema(
            name.value,
            tuple(self.field_decl(f) for f in fields),
            span=self.span(node),
            name_span=self.span(name),
        )

    def pipeline(self, node: Tree) -> ast.Pipeline:
        name, chain = node.children
        return ast.Pipeline(
            name.value,
            self.chain_of(chain),
            span=self.span(node),
            name_span=self.span(name),
        )

    def chain(self, node: Tree) -> ast.Pipeline:
        chain = self.chain_of(node)
        return ast.Pipeline(None, chain, span=chain.span, name_span=chain.head.span)

    def chain_of(self, node: Tree) -> ast.Chain:
        head, *stages = node.children
        return ast.Chain(
            self.head(head), tuple(self.stage(s) for s in stages), span=self.span(node)
        )

    # types

    def field_name(self, token: Token) -> str:
        if token.type == "BACKTICK":
            name = token.value[1:-1]
            if not name:
                self.fail(
                    codes.SYNTAX, "empty field name in backticks", self.span(token)
                )
            return name
        return token.value

    def field_decl(self, node: Tree, depth: int = 0) -> ast.FieldDecl:
        name, typ = node.children
        return ast.FieldDecl(
            self.field_name(name), self.type(typ, depth), span=self.span(node)
        )

    def type(self, node: Tree, depth: int) -> ast.TypeExpr:
        span = self.span(node)
        if node.data == "type_name":
            return ast.TypeName(node.children[0].value, span=span)
        depth += 1
        if depth > MAX_NESTING:
            raise _TooDeep(node)
        if node.data == "nullable_type":
            return ast.NullableType(self.type(node.children[0], depth), span=span)
        if node.data == "list_type":
            return ast.ListType(self.type(node.children[0], depth), span=span)
        fields = tuple(
            self.field_decl(c, depth) for c in node.children if isinstance(c, Tree)
        )
        is_open = any(
            isinstance(c, Token) and c.type == "DOTDOT" for c in node.children
        )
        return ast.RecordTypeExpr(fields, is_open, span=span)

    # chains

    def head(self, node: Tree) -> ast.Head:
        span = self.span(node)
        if node.data == "source_head":
            return ast.SourceHead(self.call(node.children[0]), span=span)
        name = node.children[0].value
        if node.data == "from_head":
            return ast.FromHead(name, span=span)
        suffix = node.children[1]
        if suffix.value != "errors":
            self.fail(
                codes.SYNTAX,
                f"expected `errors` after `from {name}.`, found `{suffix.value}`",
                self.span(suffix),
                f"`from {name}.errors` reads the error stream of `{name}`",
            )
        return ast.FromHead(name, errors=True, span=span)

    def stage(self, node: Tree) -> ast.Stage:
        span = self.span(node)
        kind, children = node.data, node.children
        if kind == "processor_stage":
            return ast.ProcessorStage(self.call(children[0]), span=span)
        if kind == "sink_stage":
            return ast.SinkStage(self.call(children[0]), span=span)
        if kind == "where_stage":
            return ast.WhereStage(self.expr(children[0]), span=span)
        if kind == "set_stage":
            return ast.SetStage(tuple(self.assignment(c) for c in children), span=span)
        if kind == "drop_stage":
            return ast.DropStage(tuple(self.field_ref(c) for c in children), span=span)
        if kind == "keep_stage":
            return ast.KeepStage(tuple(self.field_ref(c) for c in children), span=span)
        if kind == "rename_stage":
            pairs = tuple(
                ast.RenamePair(*map(self.field_ref, c.children), span=self.span(c))
                for c in children
            )
            return ast.RenameStage(pairs, span=span)
        return self.summarize(node)

    def assignment(self, node: Tree) -> ast.Assignment:
        target, value = node.children
        return ast.Assignment(
            self.field_ref(target), self.expr(value), span=self.span(node)
        )

    def summarize(self, node: Tree) -> ast.SummarizeStage:
        aggregates, by, on, lateness, every = [], [], None, None, None
        for child in node.children:
            if isinstance(child, Token):
                every = self.duration(child, "every")
            elif child.data == "aggregate":
                name, call = child.children
                aggregates.append(
                    ast.Aggregate(
                        self.field_name(name), self.call(call), span=self.span(child)
                    )
                )
            elif child.data == "by_clause":
                by.extend(self.group_key(k) for k in child.children)
            elif child.data == "on_clause":
                on = self.field_ref(child.children[0])
            else:
                lateness = self.duration(child.children[0], "allowed_lateness =")
        return ast.SummarizeStage(
            tuple(aggregates), tuple(by), every, on, lateness, span=self.span(node)
        )

    def group_key(self, node: Tree) -> ast.GroupKey:
        *name, path = node.children
        return ast.GroupKey(
            self.field_name(name[0]) if name else None,
            self.field_ref(path),
            span=self.span(node),
        )

    def duration(self, token: Token, after: str) -> ast.Duration:
        value = self.number(token)
        if isinstance(value, ast.Duration):
            return value
        if value is not None:
            self.fail(
                codes.BAD_NUMBER,
                f"expected a duration after `{after}`, found `{token.value}`",
                self.span(token),
                "a duration is a whole number with a unit: 250ms, 5s, 1m, 2h, 1d",
            )
        return ast.Duration(0, span=self.span(token))

    # calls

    def call(self, node: Tree, depth: int = 0) -> ast.Call:
        name, *rest = node.children
        args = self.arguments(rest[0], depth) if rest else ()
        return ast.Call(
            name.value,
            args,
            parens=node.data == "call",
            span=self.span(node),
            name_span=self.span(name),
        )

    def arguments(self, node: Tree, depth: int) -> tuple[ast.Arg, ...]:
        args = []
        seen_keyword = False
        for child in node.children:
            if isinstance(child, Tree) and child.data == "keyword_argument":
                name, value = child.children
                args.append(
                    ast.Arg(name.value, self.expr(value, depth), span=self.span(child))
                )
                seen_keyword = True
                continue
            arg = ast.Arg(None, self.expr(child, depth), span=self.span(child))
            if seen_keyword:
                self.fail(
                    codes.SYNTAX,
                    "positional argument after a keyword argument",
                    arg.span,
                    "write positional arguments first, then `name=value` ones",
                )
            args.append(arg)
        return tuple(args)

    def field_ref(self, node: Tree) -> ast.FieldRef:
        return ast.FieldRef(
            tuple(self.field_name(t) for t in node.children), span=self.span(node)
        )

    # expressions

    def expr(self, node: Tree | Token, depth: int = 0) -> ast.Expr:
        if isinstance(node, Token):
            return self.atom(node)
        kind, children, span = node.data, node.children, self.span(node)
        if kind == "field_path":
            return self.field_ref(node)
        depth += 1
        if depth > MAX_NESTING:
            raise _TooDeep(node)
        if kind == "opchain":
            return self.opchain(node, depth - 1)
        if kind == "prefix":
            op, operand = children
            if (
                op.type == "MINUS"
                and isinstance(operand, Token)
                and operand.type == "NUMBER"
            ):
                value = self.number(operand, negative=True)
                if isinstance(value, ast.Literal):
                    return ast.Literal(value.value, span=span)
            return ast.Unary(op.value, self.expr(operand, depth), span=span)
        if kind == "call":
            return self.call(node, depth)
        if kind == "paren":
            return self.expr(children[0], depth)
        if kind == "list":
            return ast.ListExpr(tuple(self.expr(c, depth) for c in children), span=span)
        cond, then, else_ = children
        return ast.IfExpr(
            self.expr(cond, depth),
            self.expr(then, depth),
            self.expr(else_, depth),
            span=span,
        )

    def opchain(self, node: Tree, depth: int) -> ast.Expr:
        """Resolve a flat chain `operand (op operand)*` by precedence
        (shunting-yard, no recursion), then build the AST depth-bounded."""
        items = node.children
        output: list = []  # shapes: ("leaf", tree) | ("not", token, x) | (op, x, y)
        ops: list[Token] = []

        def reduce() -> None:
            op = ops.pop()
            if op.type == "NOT":
                output.append(("not", op, output.pop()))
            else:
                right = output.pop()
                output.append((op, output.pop(), right))

        for i, item in enumerate(items):
            if i % 2:  # a binary operator
                prec = _PRECEDENCE[item.type]
                while ops and (_prec(ops[-1]) > prec or (
                        _prec(ops[-1]) == prec and prec not in _NOT_LEFT_ASSOCIATIVE)):  # fmt: skip
                    reduce()
                if ops and prec == _COMPARISON and _prec(ops[-1]) == _COMPARISON:
                    raise _ChainedComparison(ops[-1], item)
                ops.append(item)
                continue
            while isinstance(item, Tree) and item.data == "prefix" and item.children[0].type == "NOT":
                if ops and _prec(ops[-1]) > _NOT:
                    raise _MisplacedNot(item.children[0], ops[-1])
                ops.append(item.children[0])
                item = item.children[1]
            output.append(("leaf", item))
        while ops:
            reduce()
        (shape,) = output
        return self._shape(shape, depth)

    def _shape(self, shape: tuple, depth: int) -> ast.Expr:
        if shape[0] == "leaf":
            return self.expr(shape[1], depth)
        depth += 1
        if depth > MAX_NESTING:
            raise _TooDeep(_shape_tree(shape))
        if shape[0] == "not":
            operand = self._shape(shape[2], depth)
            start = shape[1].start_pos + self.base
            return ast.Unary("not", operand, span=Span(start, self._shape_span(shape[2]).end))
        op, left, right = shape
        span = Span(self._shape_span(left).start, self._shape_span(right).end)
        return ast.Binary(op.value, self._shape(left, depth), self._shape(right, depth), span=span)

    def _shape_span(self, shape: tuple) -> Span:
        """The source span of a resolved chain part (parentheses included)."""
        first = shape
        while first[0] != "leaf":
            if first[0] == "not":
                start = first[1].start_pos + self.base
                break
            first = first[1]
        else:
            start = self.span(first[1]).start
        last = shape
        while last[0] != "leaf":
            last = last[2]
        return Span(start, self.span(last[1]).end)

    def atom(self, token: Token) -> ast.Expr:
        span = self.span(token)
        kind = token.type
        if kind == "STRING":
            return ast.Literal(self.string(token), span=span)
        if kind == "RAW_STRING":
            return ast.Literal(token.value[2:-1], raw=True, span=span)
        if kind == "NUMBER":
            return self.number(token) or ast.Literal(0, span=span)
        return ast.Literal(
            {"TRUE": True, "FALSE": False, "NULL": None}[kind], span=span
        )

    def string(self, token: Token) -> str:
        body = token.value[1:-1]
        start = token.start_pos + self.base + 1

        def unescape(m: re.Match) -> str:
            esc = m.group(1)
            if esc in _SIMPLE_ESCAPES:
                return _SIMPLE_ESCAPES[esc]
            if len(esc) == 5:
                return chr(int(esc[1:], 16))
            where = Span(start + m.start(), start + m.end())
            if esc == "u":
                message, hint = (
                    "`\\u` must be followed by four hex digits",
                    "e.g. \\u00e9",
                )
            else:
                shown = esc if esc.isprintable() else f"U+{ord(esc):04X}"
                message = f"invalid escape `\\{shown}` in string"
                hint = _ESCAPES_HINT
            self.fail(codes.BAD_ESCAPE, message, where, hint)
            return ""

        return _ESCAPE_RE.sub(unescape, body)

    def number(
        self, token: Token, negative: bool = False
    ) -> ast.Literal | ast.Duration | None:
        text, span = token.value, self.span(token)
        if _INT_RE.match(text):
            value = -int(text) if negative else int(text)
            if _INT_MIN <= value <= _INT_MAX:
                return ast.Literal(value, span=span)
            hint = f"integers are 64-bit: at most {_INT_MAX}"
            self.fail(codes.BAD_NUMBER, f"integer `{text}` is out of range", span, hint)
            return None
        if _FLOAT_RE.match(text):
            value = float(text)
            if value != float("inf"):
                return ast.Literal(-value if negative else value, span=span)
            self.fail(codes.BAD_NUMBER, f"number `{text}` is too large", span)
            return None
        m = _DURATION_RE.match(text)
        if m:
            millis = int(m.group(1)) * _DURATION_UNITS[m.group(2)]
            if millis <= _MAX_DURATION_MS:
                return ast.Duration(millis, span=span)
            self.fail(codes.BAD_NUMBER, f"duration `{text}` is too long", span)
            return None
        hint = "numbers look like 42, 3.5 or 1e-3; durations like 250ms, 5s, 1m, 2h, 1d"
        if re.fullmatch(r"[0-9.]+(ms|s|m|h|d)", text):
            hint = "a duration is a whole number with a unit: write 1500ms rather than 1.5s"
        self.fail(codes.BAD_NUMBER, f"invalid number or duration `{text}`", span, hint)
        return None


# ---------------------------------------------------------------- syntax errors

_STATEMENT_TERMINALS = frozenset({"SCHEMA", "PIPELINE", "SOURCE", "FROM"})
_STAGE_WORDS = ("where", "set", "drop", "keep", "rename", "summarize", "sink")
_COMPARISONS = frozenset("EQ NE LT LE GT GE IN MATCH".split())
_OPERATORS = _COMPARISONS | set("OR AND COALESCE PLUS MINUS STAR SLASH PERCENT".split())
_EXPRESSION_STARTS = frozenset(
    "NAME BACKTICK STRING RAW_STRING NUMBER TRUE FALSE NULL LSQB LPAR MINUS NOT IF".split()
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
    "chained_comparison": ["source f | where a < b < c", "source f | where a == b == c"],
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
            return _lark_parse(text)[0]
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


def _syntax_error(
    e: UnexpectedInput, text: str, base: int, following: Span | None
) -> Diagnostic:
    """A readable diagnostic for a Lark error in the statement starting at `base`;
    `following` is the word after the statement, if the statement was cut there."""
    if isinstance(e, UnexpectedCharacters):
        return _unexpected_character(text, base + e.pos_in_stream)
    token = _whole_word(e.token, text, base)
    stack = (
        e.interactive_parser.parser_state.value_stack if e.interactive_parser else []
    )
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
            Token(_keyword_types.get(word, "NAME"), word),
            following,
            f"`{word}`",
        )
    elif kind == "$END":
        span, found = Span(*(2 * [_content_end(text, base)])), "the end of the file"
    else:
        span, found = span_of(token), _describe_token(token)
    ends = token.type == "$END" or token.type in _STATEMENT_TERMINALS

    if label == "missing_pipe" and (kind == "NAME" or token.value in _STAGE_WORDS):
        guess = top_kind == "NAME" and difflib.get_close_matches(
            top.value, _STAGE_WORDS, n=1
        )
        if guess:
            return _syntax(
                f"misspelt keyword `{top.value}`",
                span_of(top),
                f"did you mean `{guess[0]}`?",
            )
        return _syntax(
            f"missing `|` before {found}", span, "stages are separated by `|`"
        )
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
    guess = kind == "NAME" and difflib.get_close_matches(
        token.value, _STATEMENT_WORDS, n=1
    )
    if label == "misspelt_statement" and guess:
        return _syntax(
            f"misspelt keyword `{token.value}`", span, f"did you mean `{guess[0]}`?"
        )
    expected = _describe_expected(accepts)
    return _syntax(
        f"expected {expected}, found {found}", span, _generic_hint(token, accepts)
    )


def _whole_word(token: Token, text: str, base: int) -> Token:
    # Where a name is not expected, the contextual lexer may cut a keyword off
    # the front of one (`int` as `in`); report the whole word.
    if token.type == "$END" or token.value not in _keyword_types:
        return token
    start = base + token.start_pos
    word = re.match(r"[A-Za-z0-9_]*", text[start : start + 200]).group()
    if word == token.value:
        return token
    return Token(
        "NAME", word, start_pos=token.start_pos, end_pos=token.start_pos + len(word)
    )


def _fallback_label(token: Token, stack: list, accepts: set[str]) -> str | None:
    """Label mistakes that no example matched, from the token and the parser's stack."""
    kind = token.type
    kinds = [getattr(item, "type", None) for item in stack[-2:]]
    ends = kind == "$END" or kind in _STATEMENT_TERMINALS
    if kind == "EQUAL" and "EQ" in accepts:
        return "eq_for_compare"
    if kind in _COMPARISONS and len(kinds) == 2 and kinds[0] in _COMPARISONS:
        return "chained_comparison"
    if (ends or kind == "VBAR") and any(
        getattr(t, "type", "") in _BRACKETS for t in stack
    ):
        return "unclosed"
    if ends and kinds and kinds[-1] == "VBAR":
        return "trailing_pipe"
    if "VBAR" in accepts and (kind == "NAME" or kind.lower() in _STAGE_WORDS):
        return "missing_pipe"
    if kind == "NAME" and accepts <= _STATEMENT_TERMINALS | {"$END"}:
        return "misspelt_statement"
    return None


def _generic_hint(token: Token, accepts: set[str]) -> str | None:
    words = [word for word, kind in _keyword_types.items() if kind in accepts]
    guess = token.type == "NAME" and difflib.get_close_matches(token.value, words, n=1)
    if guess:
        return f"did you mean `{guess[0]}`?"
    if token.value in _keyword_types and accepts & {"NAME", "BACKTICK"}:
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
    pattern = _lark().get_terminal(name).pattern
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
        ending += (
            "" if "VBAR" in left else " (`schema`, `pipeline`, `source` or `from`)"
        )
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
    for _, _, token_end in _significant_tokens(text, start):
        end = token_end
    return end


def _unexpected_character(text: str, pos: int) -> Diagnostic:
    char = text[pos]
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if char == '"':
        raw = text[pos - 1 : pos] == "r" and (
            pos < 2 or not _IDENT_CHAR.match(text, pos - 2)
        )
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
    return _bad_character(char, pos)


def _bad_character(char: str, pos: int) -> Diagnostic:
    if char.isprintable() and not char.isspace():
        shown = f"`{char}`"
    else:
        name = unicodedata.name(char, "")
        shown = f"U+{ord(char):04X}" + (f" ({name})" if name else "")
    hint = _CHARACTER_HINTS.get(char)
    return error(
        codes.BAD_CHARACTER, f"unexpected character {shown}", Span(pos, pos + 1), hint
    )
