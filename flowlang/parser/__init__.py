"""Text to `flowlang.ast`: the only package that sees Lark.

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
import gc
import re

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from .. import ast, codes, syntax
from ..diagnostics import Diagnostic, error, sort_key
from ..names import KEYWORDS
from ..source import NO_SPAN, SourceFile, Span
from .grammar import SCAN_RE, STATEMENT_WORDS, lark_parse, significant_tokens
from .syntax_errors import bad_character, syntax_error

MAX_NESTING = 100

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

_INT_RE = re.compile(r"[0-9]+\Z")
_FLOAT_RE = re.compile(r"[0-9]+(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)\Z")
_ESCAPES_HINT = 'valid escapes are \\" \\\\ \\n \\t \\uHHHH; for a regular expression use r"..."'
_BAD_CHARS_RE = re.compile(f"[{syntax.FORBIDDEN_CHARACTERS}]")

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
        diags.append(bad_character(m.group(), m.start()))
    if diags:
        # parse the rest anyway so that later errors are found in the same run
        text = _BAD_CHARS_RE.sub(" ", text)
    statements: list[ast.Statement] = []
    comments: list[ast.Comment] = []
    try:
        tree, comment_tokens = lark_parse(text)
    except UnexpectedInput as first:
        if not _parse_each_statement(text, diags):
            diags.append(syntax_error(first, text, 0, None))
    else:
        statements = _Builder(0, diags).statements(tree)
        comments = [_comment(text, t) for t in comment_tokens]
    diags = sorted(dict.fromkeys(diags), key=sort_key)
    diags = [dataclasses.replace(d, file=src) for d in diags]
    if any(d.is_error for d in diags):
        return None, diags
    program = ast.Program(tuple(statements), tuple(comments), span=Span(0, len(src.text)))
    return program, diags


def parse_partial(src: SourceFile) -> tuple[ast.Program, list[Diagnostic]]:
    """`parse`, but with a program even when there are errors: the
    statements that parse and build without error on their own (comments
    left out), beside the diagnostics `parse` gives. For editors, which show
    the rest of a file while one statement is being written."""
    program, diags = parse(src)
    if program is not None:
        return program, diags
    text = _BAD_CHARS_RE.sub(" ", src.text)
    statements: list[ast.Statement] = []
    for start, end in _statement_chunks(text):
        try:
            tree, _ = lark_parse(text[start:end])
        except UnexpectedInput:
            continue
        problems: list[Diagnostic] = []
        built = _Builder(start, problems).statements(tree)
        if not any(d.is_error for d in problems):
            statements.extend(built)
    return ast.Program(tuple(statements), span=Span(0, len(src.text))), diags


def parse_text(text: str, name: str = "<string>") -> tuple[ast.Program | None, list[Diagnostic]]:
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


def expected_words(text: str, offset: int) -> frozenset[str] | None:
    """The words (reserved words, test words, and `NAME` for any name) the
    grammar accepts at `offset`, after the statement that holds it; None
    when the text before it in that statement is already not valid."""
    from lark.exceptions import LarkError

    from .grammar import lark_parser

    starts = [s for s in _statement_starts(text[:offset]) if s < offset]
    start = starts[-1] if starts else 0
    try:
        interactive = lark_parser().parse_interactive(text[start:offset])
        interactive.exhaust_lexer()
        accepted = interactive.accepts()
    except LarkError:
        return None
    words = {t.name: t.pattern.value for t in lark_parser().terminals if t.pattern.type == "str"}
    return frozenset(
        "NAME" if name == "NAME" else words[name]
        for name in accepted
        if name == "NAME" or _IDENT_WORD.fullmatch(words.get(name, ""))
    )


_IDENT_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ---------------------------------------------------------------- recovery


def _statement_starts(text: str) -> list[int]:
    """Where statements start: at `schema`, `pipeline`, `source` or `from`
    beginning a line or following something that can end a statement."""
    starts = []
    previous, previous_end = "|", 0
    for kind, start, end in significant_tokens(text):
        word = text[start:end]
        if kind == "word" and word in STATEMENT_WORDS and previous != "=":
            if "\n" in text[previous_end:start] or _can_end_statement(previous):
                starts.append(start)
        previous, previous_end = word, end
    return starts


def _can_end_statement(token: str) -> bool:
    if token in KEYWORDS:
        return token in ("true", "false", "null")
    return token[0] in '"`)]}?|_' or token[0].isalnum()


def _statement_chunks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each statement, as found by a plain scan."""
    starts = _statement_starts(text)
    if not starts or any(True for _ in significant_tokens(text, 0, starts[0])):
        starts.insert(0, 0)
    return [(s, starts[i + 1] if i + 1 < len(starts) else len(text)) for i, s in enumerate(starts)]


def _parse_each_statement(text: str, diags: list[Diagnostic]) -> bool:
    """Parse each statement on its own; report its errors. False if none failed."""
    failed = False
    for start, end in _statement_chunks(text):
        try:
            tree, _ = lark_parse(text[start:end])
        except UnexpectedInput as e:
            failed = True
            following = None
            if end < len(text):
                following = Span(end, SCAN_RE.match(text, end).end())
            diags.append(syntax_error(e, text, start, following))
        else:
            _Builder(start, diags).statements(tree)
    return failed


# ---------------------------------------------------------------- tree to ast

_TEST_WORD_TYPES = frozenset(
    "KW_GIVEN KW_EXPECT KW_NOW KW_ENV KW_NO KW_REACHES KW_EXAMPLES EVERY WHERE BY".split()
)


def _is_test_word(node: Tree | Token) -> bool:
    """A keyword token kept in a test item's tree (named terminals are kept)."""
    return isinstance(node, Token) and node.type in _TEST_WORD_TYPES


_NOT_LEFT_ASSOCIATIVE = (syntax.NON_ASSOCIATIVE, syntax.RIGHT_ASSOCIATIVE)


def _prec(op: Token) -> int:
    # `not` binds looser than comparisons: `not a == b` is `not (a == b)`
    return syntax.NOT if op.type == "NOT" else syntax.BINARY_PRECEDENCE[op.value]


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

    def fail(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
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

    def import_(self, node: Tree) -> ast.Import:
        _, path = node.children
        return ast.Import(self.string(path), span=self.span(node), path_span=self.span(path))

    def schema(self, node: Tree) -> ast.Schema:
        name, *rest = node.children
        dotdot = [t for t in rest if isinstance(t, Token) and t.type == "DOTDOT"]
        return ast.Schema(
            name.value,
            tuple(self.field_decl(f) for f in rest if isinstance(f, Tree)),
            bool(dotdot),
            span=self.span(node),
            name_span=self.span(name),
            open_span=self.span(dotdot[0]) if dotdot else NO_SPAN,
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

    # tests

    def test(self, node: Tree) -> ast.Test:
        word, name, *items = node.children
        return ast.Test(
            self.string(name),
            word.type == "KW_PROPERTY",
            tuple(self.test_item(item) for item in items),
            span=self.span(node),
            name_span=self.span(name),
        )

    def test_item(self, node: Tree) -> ast.TestItem:
        kind, span = node.data, self.span(node)
        parts = [c for c in node.children if not _is_test_word(c)]
        if kind == "given_records":
            name, records = parts
            return ast.Given(
                name.value, records=self.expr(records), span=span, name_span=self.span(name)
            )
        if kind == "given_generated":
            name, *where = parts
            return ast.Given(
                name.value,
                where=self.expr(where[0]) if where else None,
                span=span,
                name_span=self.span(name),
            )
        if kind == "now_item":
            return ast.Setting("now", self.expr(parts[0]), span=span)
        if kind == "env_item":
            name, value = parts
            return ast.Setting("env", self.expr(value), variable=name.value, span=span)
        if kind == "examples_item":
            return ast.Setting("examples", self.atom(parts[0]), span=span)
        if kind == "expect_that":
            return ast.Expect("that", cond=self.expr(parts[0]), span=span)
        if kind == "expect_every":
            target, cond = parts
            return ast.Expect(
                "every", cond=self.expr(cond), target=self.field_ref(target), span=span
            )
        given, *rest = parts
        where = None
        if isinstance(rest[0], Tree) or rest[0].type != "NAME":
            where = self.expr(rest.pop(0))
        pipeline, *by = rest
        return ast.Expect(
            "reaches" if kind == "expect_reaches" else "absent",
            cond=where,
            given=given.value,
            pipeline=pipeline.value,
            by=tuple(self.field_ref(p) for p in by[0].children if isinstance(p, Tree))
            if by
            else (),
            span=span,
            name_span=self.span(given),
            pipeline_span=self.span(pipeline),
        )

    # types

    def field_name(self, token: Token) -> str:
        if token.type == "BACKTICK":
            name = token.value[1:-1]
            if not name:
                self.fail(codes.SYNTAX, "empty field name in backticks", self.span(token))
            return name
        return token.value

    def field_decl(self, node: Tree, depth: int = 0) -> ast.FieldDecl:
        name, typ = node.children
        return ast.FieldDecl(self.field_name(name), self.type(typ, depth), span=self.span(node))

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
        fields = tuple(self.field_decl(c, depth) for c in node.children if isinstance(c, Tree))
        is_open = any(isinstance(c, Token) and c.type == "DOTDOT" for c in node.children)
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
        if kind == "block_stage":
            return self.route_stage(node)
        return self.summarize(node)

    def route_stage(self, node: Tree) -> ast.RouteStage:
        word, *entries = node.children
        if word.value != "route":
            close = difflib.get_close_matches(word.value, ["route"], n=1)
            self.fail(
                codes.SYNTAX,
                f"`{word.value} {{ … }}` is not a stage",
                self.span(word),
                "did you mean `route`?"
                if close
                else "the stage written with braces is `route { NAME: condition, …, NAME: else }`",
            )
        routes = []
        for entry in entries:
            if entry is None:  # the optional trailing comma
                continue
            name, value = entry.children
            cond = None if entry.data == "route_else" else self.expr(value)
            routes.append(
                ast.Route(name.value, cond, span=self.span(entry), name_span=self.span(name))
            )
        return ast.RouteStage(tuple(routes), span=self.span(node))

    def assignment(self, node: Tree) -> ast.Assignment:
        target, value = node.children
        return ast.Assignment(self.field_ref(target), self.expr(value), span=self.span(node))

    def summarize(self, node: Tree) -> ast.SummarizeStage:
        aggregates, by, on, lateness, every = [], [], None, None, None
        for child in node.children:
            if isinstance(child, Token):
                every = self.duration(child, "every")
            elif child.data == "aggregate":
                name, call = child.children
                aggregates.append(
                    ast.Aggregate(self.field_name(name), self.call(call), span=self.span(child))
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
                args.append(ast.Arg(name.value, self.expr(value, depth), span=self.span(child)))
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
        return ast.FieldRef(tuple(self.field_name(t) for t in node.children), span=self.span(node))

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
            if op.type == "MINUS" and isinstance(operand, Token) and operand.type == "NUMBER":
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
        if kind == "record":
            return ast.RecordExpr(
                tuple(
                    ast.RecordEntry(
                        self.field_name(c.children[0]),
                        self.expr(c.children[1], depth),
                        span=self.span(c),
                    )
                    for c in children
                ),
                span=span,
            )
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
                prec = syntax.BINARY_PRECEDENCE[item.value]
                while ops and (
                    _prec(ops[-1]) > prec
                    or (_prec(ops[-1]) == prec and prec not in _NOT_LEFT_ASSOCIATIVE)
                ):
                    reduce()
                if ops and prec == syntax.COMPARISON and _prec(ops[-1]) == syntax.COMPARISON:
                    raise _ChainedComparison(ops[-1], item)
                ops.append(item)
                continue
            while (
                isinstance(item, Tree) and item.data == "prefix" and item.children[0].type == "NOT"
            ):
                if ops and _prec(ops[-1]) > syntax.NOT:
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
        return ast.Literal({"TRUE": True, "FALSE": False, "NULL": None}[kind], span=span)

    def string(self, token: Token) -> str:
        body = token.value[1:-1]
        start = token.start_pos + self.base + 1

        def bad(begin: int, end: int, esc: str) -> None:
            where = Span(start + begin, start + end)
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

        return syntax.unescape(body, bad)

    def number(self, token: Token, negative: bool = False) -> ast.Literal | ast.Duration | None:
        text, span = token.value, self.span(token)
        if _INT_RE.match(text):
            # int() refuses thousands of digits; past 20 the value is out of range anyway
            value = int(text) if len(text.lstrip("0")) <= 20 else 10**20
            value = -value if negative else value
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
        millis = syntax.parse_duration(text)
        if millis is not None:
            if millis <= syntax.MAX_DURATION_MS:
                return ast.Duration(millis, span=span)
            self.fail(codes.BAD_NUMBER, f"duration `{text}` is too long", span)
            return None
        hint = "numbers look like 42, 3.5 or 1e-3; durations like 250ms, 5s, 1m, 2h, 1d"
        if re.fullmatch(r"[0-9.]+(ms|s|m|h|d)", text):
            hint = "a duration is a whole number with a unit: write 1500ms rather than 1.5s"
        self.fail(codes.BAD_NUMBER, f"invalid number or duration `{text}`", span, hint)
        return None


# ---------------------------------------------------------------- syntax errors
