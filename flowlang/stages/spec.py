"""How a stage declares itself, once: name, role, parameters, output-type rule,
docs, examples, and the runtime class generated code instantiates.

Every stage module under `flowlang.stages` defines `SPEC = StageSpec(...)` and
its runtime class; `flowlang.stages.CATALOGUE` lists the modules explicitly.
Heavy libraries are imported inside the runtime class, so checking stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Literal

from .. import codes
from ..types import ANY, NULL, Type, assignable, strip_null


class ParamKind(Enum):
    """How an argument is written and what the checker binds it to."""

    FIELD = "field"  # an existing field of the input record: `ip`, `geo.city` -> tuple[str, ...]
    FIELDS = "fields"  # one field or a list of fields: `[a, b.c]` -> tuple[tuple[str, ...], ...]
    NEW_FIELD = "new_field"  # a field the stage creates: `into=geo` -> str
    CHOICE = "choice"  # an enumerated option, bare or with arguments: `csv(header=true)` -> str
    # (plus `<param>_args`, a dict of the option's own arguments, when any option takes some)
    # a schema name -> its RecordT (generated code gets types.to_descriptor of it)
    SCHEMA = "schema"
    VALUE = (
        "value"  # a constant of `type` (or env("X"[, "default"]) where `env`) -> value or EnvRef
    )
    EXPR = "expr"  # an expression evaluated for each record (builtin functions) -> ir.TExpr
    # a clause of a stage written in its own syntax (summarize's `by`, `every`, …), not a
    # call argument: the checker reads it from the syntax tree, the spec documents it
    SYNTAX = "syntax"


REQUIRED: Any = object()  # default marker: the argument must be given


@dataclass(frozen=True)
class Param:
    name: str
    kind: ParamKind
    doc: str
    type: Type | None = None  # VALUE: the constant's type; FIELD/FIELDS: None or see `accepts`
    # FIELD/FIELDS: allowed field types (empty: any type); EXPR: allowed types of the
    # argument, null aside (a null argument gives null; ANY among them: every type)
    accepts: tuple[Type, ...] = ()
    default: Any = REQUIRED  # FIELD default is a tuple path, CHOICE default an option name
    options: dict[str, tuple["Param", ...]] = field(default_factory=dict)  # CHOICE
    # VALUE of a scalar type: may come from env("X"[, "default"]); False for a
    # value the compile itself needs (a grok pattern, a file read while checking)
    env: bool = True
    # what is wrong with a constant argument: a message, (message, hint), or None
    # when nothing is. The checker applies it to a literal (VALUE: reported under
    # `check_code`; EXPR: other arguments are checked at run time) and to the
    # default of env(); the run applies it to an env() value when it starts, so
    # it is a module-level function of a stage module or of flowlang.runtime
    # that does not quote the value back (some values are secrets)
    check: Callable[..., str | tuple[str, str | None] | None] | None = None
    check_code: str = codes.BAD_ARG_VALUE

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def admits(self, typ: Type) -> bool:
        """May an argument of type `typ` be passed (FIELD, FIELDS, EXPR)? `any`
        always may: it is checked at run time. A field must be assignable to
        one of `accepts` (none: every type; `any` among them only says that
        `any` fields may be passed). An EXPR argument may also be null (null
        gives null), and `any` among its `accepts` admits every type."""
        if self.kind is ParamKind.EXPR:
            typ = strip_null(typ)
            if typ == NULL or ANY in self.accepts:
                return True
        if not self.accepts or typ == ANY:
            return True
        return any(assignable(typ, t) for t in self.accepts if t != ANY)


@dataclass(frozen=True)
class EnvRef:
    """`env("NAME", default)`: read once when the program starts
    (`runtime.env`), never written into code. `type` is what the text is
    converted to (`runtime.context.ENV_TYPES`); `check`, the parameter's
    rule (`Param.check`), is applied to the converted value with `args`
    after it; `what` names the argument in messages (`` `index` of `elastic` ``)."""

    name: str
    default: str | None = None
    type: str = "str"
    check: Callable[..., Any] | None = None
    args: tuple = ()
    what: str = field(default="", compare=False)


def problem_parts(found: str | tuple[str, str | None] | None) -> tuple[str, str | None] | None:
    """What a `Param.check` returned, as (message, hint), or None."""
    if not found:
        return None
    return (found, None) if isinstance(found, str) else found


class RuleContext:
    """What an output-type rule sees, and how it reports problems.

    `input` is the input record type (None for sources), `args` the bound
    arguments by name (defaults filled in), `schemas` the program's schemas,
    `source_name` the path of the program's file as given (files a rule
    reads at compile time are found relative to it).
    `error`/`warn` attach a diagnostic to the named parameter's argument (or
    the whole stage when `param` is None); the rule then returns its best
    guess of the output type so checking goes on.
    """

    input: Type | None
    args: dict[str, Any]
    source_name: str = ""

    def error(
        self, code: str, message: str, param: str | None = None, hint: str | None = None
    ) -> None:
        raise NotImplementedError

    def given(self, param: str) -> bool:
        """Was `param` written in the program (rather than defaulted)?"""
        raise NotImplementedError

    def resolve(self, path: str) -> str:
        """`path` as opened at compile time: a relative one is taken from the
        directory of the .flow file."""
        import os

        return os.path.join(os.path.dirname(self.source_name), path)

    def read_text(self, path: str) -> str:
        """The UTF-8 text of a file a rule reads at compile time and whose
        content the generated code carries (see `resolve`); raises OSError or
        UnicodeDecodeError. The checker notes the file, so a cached compile is
        redone when it changes."""
        with open(self.resolve(path), encoding="utf-8") as file:
            return file.read()

    def field_type(self, path: tuple[str, ...]) -> Type:
        """The type of a field of the input record (`any` when unknown)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Example:
    """A documented example. For a processor, `code` is the stage as written
    (`geoip(ip)`) and `input`/`output` are records before and after it; for a
    source or sink, `code` is a whole program that must check clean."""

    code: str
    doc: str = ""
    input: tuple[dict, ...] | None = None
    output: tuple[dict, ...] | None = None


# "window": a processor that absorbs records and emits others when a window closes
# (summarize); it is written in its own syntax, not called
StageRole = Literal["source", "processor", "window", "sink"]


@dataclass(frozen=True)
class StageSpec:
    name: str
    role: StageRole
    doc: str
    params: tuple[Param, ...]
    # input record type and bound args -> output record type (sinks: None); None for a
    # stage written in its own syntax, which the checker types (checker/summarize.py)
    output: Callable[[RuleContext], Type | None] | None
    runtime: str  # name of the runtime class in the stage's module
    module: str  # the stage's module, e.g. "flowlang.stages.geoip"
    examples: tuple[Example, ...] = ()
    may_drop: bool = False  # a processor that may return None (dedup)
    form: str | None = None  # how a stage written in its own syntax is written
    # more reference text after the doc, as Markdown lines (summarize: its aggregates)
    reference: Callable[[], list[str]] | None = None

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None
