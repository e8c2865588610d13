"""What an editor shows at a point of a `.flow` file: hover text, completions
and definitions, from the checker's `Analysis` (the types around every stage)
and the stage catalogue. Offsets are character offsets; `server` turns them
into LSP positions. Nothing here knows the protocol."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .. import ast
from ..builtins import AGGREGATES, FUNCTIONS, describe
from ..checker import Analysis, StagePoint, analyze, pipeline_name_for_file
from ..names import KEYWORDS
from ..parser import expected_words
from ..parser.grammar import SCAN_RE, STATEMENT_WORDS
from ..source import SourceFile, Span
from ..stagedocs import option_text, signature, type_text
from ..stages import CATALOGUE, find
from ..stages.spec import Param, ParamKind, StageSpec
from ..syntax import STAGE_FORMS, field_name
from ..types import ANY, BOOL, Nullable, RecordT, Type, walk_path

# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    kind: str  # SCAN_RE's groups: ws comment string tick word other
    start: int
    end: int
    text: str


def tokens(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """The tokens of `text[start:end]` but white space (comments kept)."""
    end = len(text) if end is None else end
    found, pos = [], start
    while pos < end:
        m = SCAN_RE.match(text, pos, end)
        if m.lastgroup != "ws":
            found.append(Token(m.lastgroup, m.start(), m.end(), m.group()))
        pos = m.end()
    return found


def _name_of(token: Token) -> str | None:
    """The field or stage name a token writes (backticks removed), or None."""
    if token.kind == "word":
        return token.text
    if token.kind == "tick" and len(token.text) >= 2 and token.text.endswith("`"):
        return token.text[1:-1]
    return None


def word_at(text: str, offset: int) -> Token | None:
    """The name token (word or backticked field) under or just before `offset`."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    for token in tokens(text, line_start, len(text) if line_end < 0 else line_end):
        if token.start <= offset <= token.end and token.kind in ("word", "tick"):
            return token
    return None


def _path_before(toks: list[Token], i: int) -> tuple[str, ...]:
    """The field path that ends with toks[i]: `geo.city` for the token `city`."""
    parts = [_name_of(toks[i])]
    while i >= 2 and toks[i - 1].text == "." and _name_of(toks[i - 2]) is not None:
        i -= 2
        parts.insert(0, _name_of(toks[i]))
    return tuple(p for p in parts if p is not None)


# ---------------------------------------------------------------- text of types


def type_block(typ: Type | None) -> str:
    """A type for a hover: a record one field a line."""
    if isinstance(typ, RecordT):
        lines = [f"  {field_name(k)}: {t}," for k, t in typ.fields]
        if typ.open:
            lines.append("  ..")
        if not lines:
            return "{}"
        return "{\n" + "\n".join(lines) + "\n}"
    return str(typ)


def _code(text: str) -> str:
    return f"```flow\n{text}\n```"


# ---------------------------------------------------------------- hover


@dataclass(frozen=True)
class Hover:
    span: Span
    markdown: str


def stage_doc(spec: StageSpec) -> str:
    """A stage's signature, doc and parameters, as Markdown."""
    written = spec.form or STAGE_FORMS.get(spec.role, "| {}").format(signature(spec))
    parts = [_code(written), spec.doc]
    params = [p for p in spec.params if p.kind is not ParamKind.SYNTAX]
    if params:
        parts.append("\n".join(f"- `{p.name}` ({type_text(p)}): {p.doc}" for p in params))
    return "\n\n".join(parts)


def function_doc(name: str) -> str | None:
    fn = FUNCTIONS.get(name)
    if fn is not None:
        params = ", ".join(f"{p.name}: {describe(p.accepts)}" for p in fn.params)
        returns = fn.returns_text.strip("`")
        return f"{_code(f'{name}({params}) -> {returns}')}\n\n{fn.doc}"
    agg = AGGREGATES.get(name)
    if agg is not None:
        params = ", ".join(p.name for p in agg.params)
        return f"{_code(f'{name}({params})')}\n\naggregate of `summarize`: {agg.doc}"
    return None


def _around(point: StagePoint) -> str:
    parts = []
    if point.before is not None:
        parts.append(f"record in:\n{_code(type_block(point.before))}")
    if point.after is not None:
        word = "record out" if point.before is not None else "records"
        parts.append(f"{word}:\n{_code(type_block(point.after))}")
    return "\n\n".join(parts)


_ROLE_OF_NODE = {ast.SourceHead: "source", ast.ProcessorStage: "processor", ast.SinkStage: "sink"}


def _spec_of(point: StagePoint) -> StageSpec | None:
    role = _ROLE_OF_NODE.get(type(point.node))
    if role is not None:
        return find(role, point.node.call.name)
    if isinstance(point.node, ast.SummarizeStage):
        return find("window", "summarize")
    return None


def hover(analysis: Analysis, offset: int) -> Hover | None:
    """What to show at `offset`: a stage's signature, docs and the record
    types around it; a builtin's signature; a field's, pipeline's or
    schema's type."""
    text = analysis.src.text
    word = word_at(text, offset)
    point = analysis.stage_at(offset)
    if word is not None:
        found = _hover_word(analysis, point, word)
        if found is not None:
            return found
    if point is None:
        return None
    spec = _spec_of(point)
    if spec is not None:
        head = stage_doc(spec)
    else:
        word = text[point.span.start : point.span.end].split(None, 1)[0]
        head = _code(word) + (f"\n\n{_CLAUSES[word]}" if word in _CLAUSES else "")
    return Hover(point.span, head + "\n\n" + _around(point))


# what the stages written in their own syntax do (summarize has a declaration)
_CLAUSES = {
    "from": "reads every record another pipeline emits (`from P.errors`: its error records)",
    "where": "passes the records whose condition is true (null counts as false)",
    "set": "sets fields to the values of expressions; a field set again takes the new type",
    "drop": "removes fields",
    "keep": "keeps only the named fields",
    "rename": "renames fields: `rename old as new`",
}


def _hover_word(analysis: Analysis, point: StagePoint | None, word: Token) -> Hover | None:
    text = analysis.src.text
    span = Span(word.start, word.end)
    name = _name_of(word)
    if point is not None:
        node = point.node
        call = getattr(node, "call", None)
        if isinstance(call, ast.Call) and call.name_span == span:
            spec = _spec_of(point)
            if spec is not None:
                return Hover(span, stage_doc(spec) + "\n\n" + _around(point))
        if isinstance(node, ast.FromHead) and name == node.name:
            return Hover(span, f"pipeline `{name}`\n\n{_around(point)}")
    following = tokens(text, word.end, min(len(text), word.end + 2))
    if word.kind == "word" and following and following[0].text == "(":
        doc = function_doc(word.text)
        if doc is not None:
            return Hover(span, doc)
    if name in analysis.schemas:
        record, _ = analysis.schemas[name]
        return Hover(span, f"schema `{name}`\n\n{_code(type_block(record))}")
    if point is None or point.before is None or name is None:
        return None
    if word.kind == "word" and name in KEYWORDS:
        return None
    if (
        following
        and following[0].text == "="
        and text[following[0].end : following[0].end + 1] != "="
    ):
        return None  # a keyword argument's or an assignment's name
    toks = tokens(text, point.span.start, word.end)
    path = _path_before(toks, len(toks) - 1)
    if (
        isinstance(getattr(point.node, "call", None), ast.Call)
        and point.before.get(path[0]) is None
    ):
        return None  # in a stage's arguments only a declared field is surely one
    typ, _, _ = walk_path(point.before, path)
    if typ is None:
        return None
    return Hover(span, _code(f"{'.'.join(field_name(p) for p in path)}: {typ}"))


# ---------------------------------------------------------------- definition


def definition(analysis: Analysis, offset: int) -> Span | None:
    """Where the pipeline of `from P` (or a test's `given P`) or a schema
    named at `offset` is declared (a schema perhaps in an imported file:
    `definition_file`)."""
    word = word_at(analysis.src.text, offset)
    if word is None:
        return None
    name = _name_of(word)
    before = tokens(analysis.src.text, max(0, word.start - 40), word.start)
    previous = before[-1].text if before else ""
    if name in analysis.pipelines and previous in ("from", "given", "reaches"):
        return analysis.pipelines[name]
    if name in analysis.schemas:
        return analysis.schemas[name][1]
    return None


def definition_file(analysis: Analysis, offset: int) -> SourceFile:
    """The file that holds what `definition` finds: an imported file for an
    imported schema, else the analysed one."""
    word = word_at(analysis.src.text, offset)
    name = _name_of(word) if word is not None else None
    return analysis.schema_files.get(name, analysis.src) if name else analysis.src


# ---------------------------------------------------------------- completion


@dataclass(frozen=True)
class Completion:
    label: str
    # stage, keyword, field, function, parameter, option, pipeline, schema, value
    kind: str
    detail: str = ""
    doc: str = ""
    insert: str | None = None  # the text to insert when it is not the label


def _fields(record: RecordT | None, path: tuple[str, ...] = ()) -> list[Completion]:
    if record is None:
        return []
    typ: Type | None = record
    if path:
        typ, _, _ = walk_path(record, path)
    if isinstance(typ, Nullable):
        typ = typ.inner
    if not isinstance(typ, RecordT):
        return []
    return [Completion(k, "field", str(t), insert=field_name(k)) for k, t in typ.fields]


def _functions() -> list[Completion]:
    return [
        Completion(name, "function", detail=fn.returns_text.strip("`"), doc=function_doc(name))
        for name, fn in FUNCTIONS.items()
    ]


def _keywords(text: str, offset: int, exclude: frozenset[str] = frozenset()) -> list[Completion]:
    words = expected_words(text, offset) or frozenset()
    return [Completion(w, "keyword") for w in sorted(words - {"NAME"} - exclude)]


def _stages(role: str) -> list[Completion]:
    roles = ("processor",) if role == "processor" else (role,)
    return [
        Completion(s.name, "stage", detail=signature(s), doc=stage_doc(s))
        for s in CATALOGUE
        if s.role in roles
    ]


def _starts_statement(toks: list[Token], i: int) -> bool:
    """Does toks[i] begin a statement or a chain's head? (`test` and
    `property` only before a test's name: elsewhere they are names.)"""
    t = toks[i]
    if t.kind != "word" or t.text not in STATEMENT_WORDS:
        return False
    if i + 1 < len(toks) and toks[i + 1].text == "=":
        return False  # a keyword argument: `file(p, schema=S)`
    if t.text in ("test", "property"):
        return i + 1 < len(toks) and toks[i + 1].kind == "string"
    return True


def _stage_start(toks: list[Token]) -> int:
    """The index of the `|`, head or statement word that starts the current stage."""
    for i in range(len(toks) - 1, -1, -1):
        if toks[i].text == "|" or _starts_statement(toks, i):
            return i
    return -1


def _stage_end(text: str, offset: int, whole: bool = False) -> int:
    """Where the stage holding `offset` ends: the next `|` or statement (with
    `whole`, the next statement: a chain's stages do not parse without its head)."""
    previous_end = offset
    after = [t for t in tokens(text, offset) if t.kind != "comment"]
    for i, t in enumerate(after):
        if t.text == "|" and not whole:
            return t.start
        if _starts_statement(after, i) and "\n" in text[previous_end : t.start]:
            return t.start
        previous_end = t.end
    return len(text)


Analyzer = Callable[[SourceFile], Analysis]


def completions(
    name: str, text: str, offset: int, fallback: Analysis | None = None, run: Analyzer = analyze
) -> list[Completion]:
    """What may be written at `offset`: stage names after `| `, `source ` and
    `sink `, pipelines after `from `, the fields of the record at that point
    (in `where`, `set`, … and a stage's field arguments), builtin functions
    in expressions, a stage's parameter names and option values in its
    arguments, and the keywords the grammar accepts there.

    The record type before the stage being written is found by checking the
    text with that stage blanked out (so the half-written stage cannot stop
    the parse); when the chain before it does not parse either, `fallback`
    (the analysis of the last text that parsed) is asked."""
    toks = tokens(text, 0, offset)
    if toks and toks[-1].end == offset and toks[-1].kind in ("word", "tick"):
        toks.pop()  # the word being written: the client filters by it
    if toks and toks[-1].kind in ("comment", "string", "tick") and toks[-1].end >= offset:
        last = toks[-1]
        if last.kind == "comment" or not _closed(last):
            return []
    toks = [t for t in toks if t.kind != "comment"]
    cursor = toks[-1].end if toks else 0
    at = _stage_start(toks)
    if at < 0:
        return _keywords(text, cursor)
    lead = toks[at].text
    rest = toks[at + 1 :]
    if lead in ("pipeline", "schema", "test", "property"):
        return _keywords(text, cursor)
    start, whole = toks[at], lead != "|"
    if whole and at >= 3 and toks[at - 3].text == "pipeline":
        start = toks[at - 3]  # `pipeline p =` without its chain does not parse
    analysis = _analysis_before(run, name, text, start, offset, whole)
    if whole and not analysis.parsed:
        analysis = fallback or analysis
    if lead == "from":
        if not rest and analysis is not None:
            return [Completion(p, "pipeline") for p in sorted(analysis.pipelines)]
        return _keywords(text, cursor)
    record = None
    if lead == "|" and analysis is not None:
        point = analysis.stage_before(toks[at].start)
        record = point.after if point is not None else None
    elif lead == "|" and fallback is not None:
        # the same stage of the same pipeline in the last text that parsed
        pipeline, index = _place(name, toks, at)
        point = next(
            (p for p in fallback.stages if p.pipeline == pipeline and p.index == index), None
        )
        record = point.after if point is not None else None
        analysis = fallback
    if lead == "source":
        if not rest:
            return _stages("source")
        return _in_call(rest, "source", record, text, cursor, analysis)
    # lead == "|"
    if not rest:
        # `null` is lexed as a keyword, but here it is the null sink's name
        sinks = frozenset(s.name for s in CATALOGUE if s.role == "sink")
        return _stages("processor") + _keywords(text, cursor, exclude=sinks)
    first = rest[0].text
    if first == "sink":
        if len(rest) == 1:
            return _stages("sink")
        return _in_call(rest[1:], "sink", record, text, cursor, analysis)
    if rest[0].kind == "word" and find("processor", first) is not None:
        return _in_call(rest, "processor", record, text, cursor, analysis)
    return _in_clause(first, rest, record, text, cursor)


_CLOSED = {"string": re.compile(r'r?"(?:[^"\\\n]|\\[^\n])*"'), "tick": re.compile(r"`[^`\n]*`")}


def _closed(token: Token) -> bool:
    pattern = _CLOSED.get(token.kind)
    return pattern is not None and pattern.fullmatch(token.text) is not None


def _masked(text: str, start: int, offset: int, whole: bool = False) -> str:
    end = max(offset, _stage_end(text, offset, whole))
    blank = re.sub(r"[^\n]", " ", text[start:end])
    return text[:start] + blank + text[end:]


def _analysis_before(
    run: Analyzer, name: str, text: str, lead: Token, offset: int, whole: bool
) -> Analysis | None:
    """The analysis of the text with the stage that `lead` starts (with
    `whole`, its statement) blanked out; None when a stage starts there and
    the chain before it does not parse."""
    masked = _masked(text, lead.start, offset, whole)
    analysis = run(SourceFile(name, masked))
    if analysis.parsed or whole:
        return analysis
    point = analysis.stage_before(lead.start)
    between = tokens(masked, point.span.end, lead.start) if point is not None else None
    if between is not None and all(t.kind == "comment" for t in between):
        return analysis  # the chain up to the stage parsed: only other text is broken
    return None


def _place(name: str, toks: list[Token], at: int) -> tuple[str, int]:
    """The pipeline of the stage that toks[at] (a `|`) starts, and the index
    of the stage before it (the head is 0), counted in the text."""
    index = 0
    for i in range(at - 1, -1, -1):
        if toks[i].text == "|":
            index += 1
        elif toks[i].text in ("source", "from") and _starts_statement(toks, i):
            if i >= 3 and toks[i - 3].text == "pipeline" and toks[i - 1].text == "=":
                return toks[i - 2].text, index
            return pipeline_name_for_file(name), index
    return pipeline_name_for_file(name), index


def _schemas(analysis: Analysis | None) -> list[Completion]:
    names = sorted(analysis.schemas) if analysis is not None else []
    return [Completion(n, "schema") for n in names]


def _in_clause(
    word: str, rest: list[Token], record: RecordT | None, text: str, cursor: int
) -> list[Completion]:
    """Inside `where`, `set`, `drop`, `keep`, `rename` or `summarize`."""
    last = rest[-1]
    if last.text == "." and len(rest) >= 2:
        return _fields(record, _path_before(rest, len(rest) - 2))
    depth = sum((t.text in "([") - (t.text in ")]") for t in rest if t.kind == "other")
    if word == "summarize":
        if last.text == "=" and depth == 0:
            return [Completion(a, "function", doc=function_doc(a)) for a in AGGREGATES]
        if depth > 0 or last.text in ("by", "on") or _seen(rest, "by") and last.text == ",":
            return _fields(record)
        return _keywords(text, cursor)
    if word == "rename" and _since_comma(rest, "as"):
        return []
    if word in ("drop", "keep", "rename") and last.text in (word, ",", "as"):
        return _fields(record) if last.text != "as" else []
    if word == "set" and not _since_comma(rest, "="):
        return _fields(record) if last.text in ("set", ",") else _keywords(text, cursor)
    expression = _expects_operand(last)
    if expression:
        return _fields(record) + _functions() + _keywords(text, cursor)
    return _keywords(text, cursor)


def _seen(rest: list[Token], word: str) -> bool:
    return any(t.text == word for t in rest)


def _since_comma(rest: list[Token], word: str) -> bool:
    """Has `word` been written in the current item (since the last `,` at depth 0)?"""
    depth = 0
    for t in reversed(rest):
        if t.kind == "other" and t.text in ")]":
            depth += 1
        elif t.kind == "other" and t.text in "([":
            depth -= 1
        elif depth == 0 and t.text == ",":
            return False
        if depth == 0 and t.text == word:
            return True
    return False


_OPERATOR_WORDS = frozenset(("where", "set", "and", "or", "not", "in", "if", "then", "else"))


def _expects_operand(last: Token) -> bool:
    """Does an expression operand come after `last`?"""
    if last.kind == "word":
        return last.text in _OPERATOR_WORDS
    return last.kind == "other" and not last.text[0].isdigit() and last.text not in (")", "]")


# ---------------------------------------------------------------- stage calls


@dataclass
class _Frame:
    kind: str  # "call" | "list"
    name: str
    params: tuple[Param, ...]
    positional: int = 0  # positional arguments written before the current one
    given: set | None = None  # keyword arguments written
    keyword: str | None = None  # the current argument's `name=`


def _in_call(
    rest: list[Token],
    role: str,
    record: RecordT | None,
    text: str,
    cursor: int,
    analysis: Analysis | None,
) -> list[Completion]:
    """Inside a stage call's parentheses: parameter names, option values,
    fields and schemas for the argument being written."""
    spec = find(role, rest[0].text)
    if spec is None or len(rest) < 2 or rest[1].text != "(":
        return _keywords(text, cursor) if spec is not None else []
    params = tuple(p for p in spec.params if p.kind is not ParamKind.SYNTAX)
    stack = [_Frame("call", spec.name, params, given=set())]
    toks = rest[2:]
    for i, t in enumerate(toks):
        top = stack[-1]
        if t.text == ")" or t.text == "]":
            stack.pop()
            if not stack:
                return []  # after the call's closing parenthesis
            continue
        if t.text == "[":
            stack.append(_Frame("list", "", (_param_of(top),) if _param_of(top) else ()))
            continue
        if t.text == "(" and i > 0:
            option = _param_of(top)
            params = option.options.get(toks[i - 1].text, ()) if option else ()
            stack.append(_Frame("call", toks[i - 1].text, params, given=set()))
            continue
        if top.kind != "call":
            continue
        if t.text == "," and top.kind == "call":
            if top.keyword is None:
                top.positional += 1
            top.keyword = None
            continue
        if t.text == "=" and i > 0 and toks[i - 1].kind == "word":
            top.keyword = toks[i - 1].text
            top.given.add(top.keyword)
    top = stack[-1]
    last = toks[-1] if toks else rest[1]
    if last.text == "." and len(toks) >= 2:
        return _fields(record, _path_before(toks, len(toks) - 2))
    if top.kind == "list":
        return _values(top.params[0], record, analysis) if top.params else []
    param = _param_of(top)
    if last.text == "=" or top.keyword is not None:
        return _values(param, record, analysis) if param is not None else []
    if last.text not in ("(", ","):
        return []
    names = [
        Completion(f"{p.name}=", "parameter", detail=type_text(p), doc=p.doc)
        for p in top.params
        if p.name not in top.given
    ]
    values = _values(param, record, analysis) if param is not None else []
    return values + names


def _param_of(frame: _Frame) -> Param | None:
    """The parameter the frame's current argument binds to."""
    if frame.kind != "call":
        return None
    if frame.keyword is not None:
        return next((p for p in frame.params if p.name == frame.keyword), None)
    if frame.positional < len(frame.params):
        return frame.params[frame.positional]
    return None


def _values(param: Param, record: RecordT | None, analysis: Analysis | None) -> list[Completion]:
    if param.kind in (ParamKind.FIELD, ParamKind.FIELDS):
        fields = _fields(record)
        if param.accepts and record is not None:
            fields = [
                f for f in fields if param.admits(record.get(f.label) or ANY)
            ]  # the fields the parameter takes
        return fields
    if param.kind is ParamKind.CHOICE:
        return [
            Completion(name, "option", detail=option_text(name, params))
            for name, params in param.options.items()
        ]
    if param.kind is ParamKind.SCHEMA:
        return _schemas(analysis)
    if param.kind is ParamKind.VALUE and param.type == BOOL:
        return [Completion("true", "value"), Completion("false", "value")]
    return []
