"""The canonical layout of .flow programs (`flowc fmt`).

    schema Access {
      ip: ip,
      `user-agent`: str?,
    }

    pipeline web =
      source file("access.log")
      | where status >= 500
      | sink elastic("web")

    from web.errors
      | sink file("errors.jsonl")

- A schema has one field per line, indented two spaces, each followed by a
  comma, and an open one ends with `..` on a line of its own (`schema S {}`
  or `schema S { .. }` when it has no fields).
- A named pipeline is `pipeline NAME =`, then its head on the next line
  indented two spaces, then each further stage on a line of its own as
  `  | stage`. A bare chain starts at column 0 with its head and goes on
  with the same `  | stage` lines.
- Statements are separated by one blank line, except that consecutive
  `import "…"` lines stay together; the file ends with a newline.
- A line longer than MAX_WIDTH wraps where it has a list: a `set`, `drop`,
  `keep`, `rename` or `summarize` puts each item on a line of its own,
  aligned under the first (and the `by … every …` of a summarize on the
  next line, indented four more than the stage); a source's, processor's or
  sink's arguments fill lines indented four more than the stage. Expressions
  do not wrap.
- Expressions are spaced canonically (`a + b`, `f(x, k=v)`, `[a, b]`, `-x`)
  and carry exactly the parentheses that the tree needs, given the
  precedence (loosest first): `if`, `or`, `and`, `not`, comparisons
  (non-associative), `??` (right-associative), `+ -`, `* / %`, unary `-`.
  `-(5)` keeps its parentheses, because `-5` is the literal minus five.
- Strings and durations are written as `flowlang.syntax` writes them:
  strings re-escaped (`\\"` `\\\\` `\\n` `\\t`, and `\\uHHHH` for other
  control characters, U+2028, U+2029 and lone surrogates), a raw string
  kept raw when its text can be written raw; durations in the largest exact
  unit (`90s` is `90s`, `120s` is `2m`, zero is `0s`). Floats are written
  by `repr` (always with a `.` or an exponent).
- A field name is written in backticks when it is not an identifier or is a
  reserved word. A stage's call without arguments has no parentheses
  (`| geoip`); aggregates and calls in expressions always have them.
- A comment on a line of its own goes, at the same indentation, before the
  schema field, statement or stage that follows it; a comment after code
  stays at the end of the line of the field, statement or stage it follows;
  comments after the last statement stay at the end of the file. A blank
  line after a comment is kept (as one) before a statement and between the
  comments at the end; elsewhere blank lines go. An end-of-line comment is
  written two spaces after the code; several that end up on one line are
  joined.

`format_program` of a parsed program, parsed again, gives the same program,
and formatting is idempotent.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from . import ast
from .diagnostics import Diagnostic
from .names import is_identifier
from .parser import parse
from .source import SourceFile, Span
from .syntax import (
    ATOM,
    BINARY_PRECEDENCE,
    COMPARISON,
    IF,
    NEGATE,
    NOT,
    RIGHT_ASSOCIATIVE,
    duration_text,
    field_name,
    field_path,
    quote,
    raw_literal,
)

INDENT = "  "
_CONTINUATION = INDENT + "    "
MAX_WIDTH = 88  # a longer line wraps where it has a list (see above)


def format_source(src: SourceFile) -> tuple[str | None, list[Diagnostic]]:
    """The canonical text of a file, or None when it does not parse."""
    program, diags = parse(src)
    if program is None:
        return None, diags
    return format_program(program), diags


def format_program(program: ast.Program) -> str:
    """The canonical text of a program, its comments kept (see the module doc)."""
    blocks = [_statement(s) for s in program.statements]
    trailing = _attach_comments(program.comments, [line for b in blocks for line in b])
    out: list[str] = []
    statements = program.statements
    for i, block in enumerate(blocks):
        # statements are set apart by a blank line; a run of imports stays together
        together = i and isinstance(statements[i], ast.Import)
        if i and not (together and isinstance(statements[i - 1], ast.Import)):
            out.append("")
        for j, line in enumerate(block):
            for comment in line.before:
                out.append(line.comment_indent + comment.text)
                if comment.blank_after and j == 0:
                    out.append("")  # a comment set apart from its statement stays apart
            text = line.indent + line.text
            if line.after:
                text += "  " + " ".join(c.text for c in line.after)
            out.append(text)
    if trailing and out:
        out.append("")
    for i, comment in enumerate(trailing):
        out.append(comment.text)
        if comment.blank_after and i + 1 < len(trailing):
            out.append("")
    return "\n".join(out) + "\n" if out else ""


# ---------------------------------------------------------------- lines and comments


@dataclass
class _Line:
    """One element of the output (it may wrap onto further physical lines)."""

    indent: str
    text: str
    span: Span  # the part of the source this line shows; comments attach by it
    comment_indent: str | None = None
    before: list[ast.Comment] = field(default_factory=list)
    after: list[ast.Comment] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.comment_indent is None:
            self.comment_indent = self.indent


def _attach_comments(comments: tuple[ast.Comment, ...], lines: list[_Line]) -> list[ast.Comment]:
    """Give each comment to a line; return the comments left for the end of the file.

    A comment after code goes to the last line that starts before it; a comment
    on its own line to the first line that ends after it (the lines are in
    source order, so both are found by bisection)."""
    starts = [line.span.start for line in lines]
    ends = [line.span.end for line in lines]
    trailing = []
    for comment in comments:
        start = comment.span.start
        i = bisect.bisect_left(starts, start) - 1
        if not comment.own_line and i >= 0:
            lines[i].after.append(comment)
            continue
        i = bisect.bisect_right(ends, start)
        if i < len(lines):
            lines[i].before.append(comment)
        else:
            trailing.append(comment)
    return trailing


# ---------------------------------------------------------------- statements


def _statement(statement: ast.Statement) -> list[_Line]:
    if isinstance(statement, ast.Import):
        return [_Line("", f"import {quote(statement.path)}", statement.span)]
    if isinstance(statement, ast.Schema):
        return _schema(statement)
    if isinstance(statement, ast.Test):
        return _test(statement)
    chain = statement.chain
    if statement.name is None:
        lines = [_Line("", _head(chain.head, ""), chain.head.span)]
    else:
        header = Span(statement.span.start, statement.name_span.end)
        lines = [
            _Line("", f"pipeline {_name(statement.name)} =", header),
            _Line(INDENT, _head(chain.head, INDENT), chain.head.span),
        ]
    for s in chain.stages:
        if isinstance(s, ast.RouteStage):
            lines += _route(s)
        else:
            lines.append(_Line(INDENT, _stage(s), s.span))
    return lines


def _route(stage: ast.RouteStage) -> list[_Line]:
    """`| route {`, one route per line, `}`."""
    routes = stage.routes
    out = [_Line(INDENT, "| route {", Span(stage.span.start, routes[0].span.start))]
    for r in routes:
        cond = "else" if r.cond is None else format_expr(r.cond)
        out.append(_Line(INDENT * 2, f"{_name(r.target)}: {cond},", r.span))
    end = stage.span.end
    out.append(_Line(INDENT, "}", Span(max(end - 1, 0), end), comment_indent=INDENT * 2))
    return out


def _test(test: ast.Test) -> list[_Line]:
    word = "property" if test.property else "test"
    header = f"{word} {quote(test.name)} {{"
    end = test.span.end
    lines = [_Line("", header, Span(test.span.start, test.name_span.end))]
    for item in test.items:
        lines += _test_item(item)
    lines.append(_Line("", "}", Span(max(end - 1, 0), end), comment_indent=INDENT))
    return lines


def _test_item(item: ast.TestItem) -> list[_Line]:
    inner = INDENT * 2
    if isinstance(item, ast.Given):
        if item.records is None:
            where = f" where {format_expr(item.where)}" if item.where is not None else ""
            text = f"given {_name(item.pipeline)}{where}"
            cond = item.where
            if (
                len(INDENT + text) > MAX_WIDTH
                and isinstance(cond, ast.Binary)
                and cond.op == "in"
                and isinstance(cond.right, ast.ListExpr)
                and len(cond.right.items) > 1
            ):
                # a long value set: one value per line
                values = cond.right.items
                head = f"given {_name(item.pipeline)} where {format_expr(cond.left)} in ["
                out = [_Line(INDENT, head, Span(item.span.start, values[0].span.start))]
                out += [_Line(inner, format_expr(v) + ",", v.span) for v in values]
                out.append(
                    _Line(
                        INDENT,
                        "]",
                        Span(max(item.span.end - 1, 0), item.span.end),
                        comment_indent=inner,
                    )
                )
                return out
            return [_Line(INDENT, text, item.span)]
        records = item.records
        if not isinstance(records, ast.ListExpr) or len(records.items) < 2:
            return [
                _Line(INDENT, f"given {_name(item.pipeline)} = {format_expr(records)}", item.span)
            ]
        first = Span(item.span.start, records.items[0].span.start)
        out = [_Line(INDENT, f"given {_name(item.pipeline)} = [", first)]
        out += [_Line(inner, format_expr(r) + ",", r.span) for r in records.items]
        out.append(
            _Line(INDENT, "]", Span(max(item.span.end - 1, 0), item.span.end), comment_indent=inner)
        )
        return out
    if isinstance(item, ast.Setting):
        if item.name == "env":
            text = f"env {_name(item.variable)} = {format_expr(item.value)}"
        elif item.name == "now":
            text = f"now = {format_expr(item.value)}"
        else:
            text = f"examples {format_expr(item.value)}"
        return [_Line(INDENT, text, item.span)]
    if item.form == "that":
        text = f"expect {format_expr(item.cond)}"
    elif item.form == "every":
        text = f"expect every {_path(item.target)}: {format_expr(item.cond)}"
    else:
        quantifier = "every" if item.form == "reaches" else "no"
        where = f" where {format_expr(item.cond)}" if item.cond is not None else ""
        by = (" by " + ", ".join(_path(k) for k in item.by)) if item.by else ""
        text = (
            f"expect {quantifier} given {_name(item.given)}{where} reaches "
            f"{_name(item.pipeline)}{by}"
        )
    return [_Line(INDENT, text, item.span)]


def _schema(schema: ast.Schema) -> list[_Line]:
    header = f"schema {_name(schema.name)} {{"
    if not schema.fields:
        return [_Line("", header + (" .. }" if schema.open else "}"), schema.span)]
    end = schema.span.end
    fields = [_Line(INDENT, _field_decl(f) + ",", f.span) for f in schema.fields]
    if schema.open:
        fields.append(_Line(INDENT, "..", schema.open_span))
    return [
        _Line("", header, Span(schema.span.start, schema.name_span.end)),
        *fields,
        _Line("", "}", Span(max(end - 1, 0), end), comment_indent=INDENT),
    ]


def _field_decl(decl: ast.FieldDecl) -> str:
    return f"{field_name(decl.name)}: {_type(decl.type)}"


def _type(t: ast.TypeExpr) -> str:
    if isinstance(t, ast.TypeName):
        return _name(t.name)
    if isinstance(t, ast.NullableType):
        return _type(t.inner) + "?"
    if isinstance(t, ast.ListType):
        return f"[{_type(t.inner)}]"
    parts = [_field_decl(f) for f in t.fields]
    if t.open:
        parts.append("..")
    return "{" + ", ".join(parts) + "}"


def _head(head: ast.Head, indent: str) -> str:
    if isinstance(head, ast.SourceHead):
        return _stage_call("source ", head.call, indent)
    return f"from {_name(head.name)}" + (".errors" if head.errors else "")


def _stage(stage: ast.Stage) -> str:
    """`| stage`, with a long list of items wrapped one per line."""
    if isinstance(stage, ast.ProcessorStage):
        return _stage_call("| ", stage.call, INDENT)
    if isinstance(stage, ast.SinkStage):
        return _stage_call("| sink ", stage.call, INDENT)
    if isinstance(stage, ast.WhereStage):
        return "| where " + format_expr(stage.cond)
    if isinstance(stage, ast.SetStage):
        items = [f"{_path(a.target)} = {format_expr(a.value)}" for a in stage.assignments]
        return _items("set", items)
    if isinstance(stage, ast.DropStage):
        return _items("drop", [_path(f) for f in stage.fields])
    if isinstance(stage, ast.KeepStage):
        return _items("keep", [_path(f) for f in stage.fields])
    if isinstance(stage, ast.RenameStage):
        return _items("rename", [f"{_path(p.old)} as {_path(p.new)}" for p in stage.pairs])
    return _summarize(stage)


def _items(keyword: str, items: list[str], tail: str = "") -> str:
    """`| keyword a, b, c` plus `tail`; past MAX_WIDTH the tail goes to a line
    of its own, and if the items still do not fit, each item too."""
    text = f"| {keyword} " + ", ".join(items)
    if len(INDENT + text + tail) <= MAX_WIDTH:
        return text + tail
    if len(INDENT + text) > MAX_WIDTH:
        align = "\n" + " " * len(f"{INDENT}| {keyword} ")
        text = f"| {keyword} " + ("," + align).join(items)
    return text + (f"\n{_CONTINUATION}{tail.lstrip()}" if tail else "")


def _summarize(stage: ast.SummarizeStage) -> str:
    aggregates = [f"{field_name(a.name)} = {_call(a.call, stage=True)}" for a in stage.aggregates]
    tail = ""
    if stage.by:
        keys = [
            (_path(k.field) if k.name is None else f"{field_name(k.name)} = {_path(k.field)}")
            for k in stage.by
        ]
        tail += " by " + ", ".join(keys)
    tail += " every " + duration_text(stage.every.millis)
    if stage.on is not None:
        tail += " on " + _path(stage.on)
    if stage.allowed_lateness is not None:
        tail += " allowed_lateness = " + duration_text(stage.allowed_lateness.millis)
    return _items("summarize", aggregates, tail)


def _stage_call(prefix: str, call: ast.Call, indent: str) -> str:
    """`prefix` and a stage's call; arguments that do not fit in MAX_WIDTH
    fill further lines, indented four more than the stage."""
    if not call.args:
        return prefix + _call_name(call, stage=True)
    text = prefix + _call(call, stage=True)
    if len(indent + text) <= MAX_WIDTH:
        return text
    parts = [_argument(arg) for arg in call.args]
    lines = [indent + prefix + _call_name(call, stage=True) + "("]
    continuation = indent + "    "
    for i, part in enumerate(parts):
        piece = part + ("," if i + 1 < len(parts) else ")")
        line = lines[-1]
        fresh = line.endswith("(") or line == continuation
        if not fresh and len(line) + 1 + len(piece) > MAX_WIDTH:
            lines.append(continuation + piece)
        else:
            lines[-1] = line + ("" if fresh else " ") + piece
    return "\n".join(lines)[len(indent) :]


def _call(call: ast.Call, stage: bool = False) -> str:
    args = ", ".join(_argument(arg) for arg in call.args)
    return f"{_call_name(call, stage)}({args})"


def _argument(arg: ast.Arg) -> str:
    value = format_expr(arg.value)
    if arg.name is None:
        return value
    # a keyword argument may be named by a reserved word: `schema=S`
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", arg.name):
        raise ValueError(f"{arg.name!r} cannot name an argument")
    return f"{arg.name}={value}"


def _call_name(call: ast.Call, stage: bool) -> str:
    # `null` (the discarding sink) is a reserved word that names a stage
    if stage and call.name == "null":
        return "null"
    return _name(call.name)


# ---------------------------------------------------------------- expressions


def format_expr(expr: ast.Expr) -> str:
    """An expression in canonical form, with only the parentheses it needs."""
    return _expr(expr)[0]


def _expr(e: ast.Expr) -> tuple[str, int]:
    """The text of `e` and the precedence of its outermost operator."""
    if isinstance(e, ast.Binary):
        prec = BINARY_PRECEDENCE[e.op]
        left, left_prec = _expr(e.left)
        right, right_prec = _expr(e.right)
        # comparisons do not associate, ?? associates to the right, the rest to the left
        if left_prec < prec or (left_prec == prec and prec in (COMPARISON, RIGHT_ASSOCIATIVE)):
            left = f"({left})"
        if right_prec < prec or (right_prec == prec and prec != RIGHT_ASSOCIATIVE):
            right = f"({right})"
        return f"{left} {e.op} {right}", prec
    if isinstance(e, ast.Unary):
        operand, operand_prec = _expr(e.operand)
        if e.op == "not":
            return "not " + (f"({operand})" if operand_prec < NOT else operand), NOT
        if operand_prec < NEGATE or _is_number(e.operand) and not operand.startswith("-"):
            operand = f"({operand})"
        return "-" + operand, NEGATE
    if isinstance(e, ast.IfExpr):
        parts = (format_expr(e.cond), format_expr(e.then), format_expr(e.else_))
        return "if {} then {} else {}".format(*parts), IF
    if isinstance(e, ast.Literal):
        text = format_literal(e)
        return text, NEGATE if text.startswith("-") else ATOM
    if isinstance(e, ast.Duration):
        return duration_text(e.millis), ATOM
    if isinstance(e, ast.FieldRef):
        return _path(e), ATOM
    if isinstance(e, ast.ListExpr):
        return "[" + ", ".join(format_expr(i) for i in e.items) + "]", ATOM
    if isinstance(e, ast.Call):
        return _call(e), ATOM
    if isinstance(e, ast.RecordExpr):
        entries = (f"{field_name(x.name)}: {format_expr(x.value)}" for x in e.entries)
        return "{" + ", ".join(entries) + "}", ATOM
    raise TypeError(f"not an expression: {e!r}")


def _is_number(e: ast.Expr) -> bool:
    return isinstance(e, ast.Literal) and type(e.value) in (int, float)


def format_literal(lit: ast.Literal) -> str:
    """`"text"`, `r"raw"`, `42`, `-1.5`, `true`, `null`."""
    value = lit.value
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return (lit.raw and raw_literal(value)) or quote(value)
    if isinstance(value, float):
        text = repr(value)
        if not re.fullmatch(r"-?[0-9][0-9.e+-]*", text):
            raise ValueError(f"{value!r} cannot be written in flowlang")
        return text
    return str(value)


def _path(ref: ast.FieldRef) -> str:
    return field_path(ref.path)


def _name(name: str) -> str:
    if not is_identifier(name):
        raise ValueError(f"{name!r} is not a flowlang identifier")
    return name
