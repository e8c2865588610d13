"""The stage reference, `docs/stages.md`, rendered from the stage catalogue.

Every stage's doc, parameters (kinds, types, defaults), output type, and
examples come from its declaration in `flowlang/stages/`, so the reference
cannot drift from the code (`summarize`, written in its own syntax, declares
its clauses the same way); the builtin functions come from `builtins.py`. `python -m flowlang.stagedocs` rewrites the file;
`--check` only reports whether it is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from . import docpages
from .stages import CATALOGUE
from .stages.spec import REQUIRED, EnvRef, Example, Param, ParamKind, RuleContext, StageSpec
from .syntax import STAGE_FORMS, duration_text, field_path, quote
from .types import DURATION, OPEN_RECORD, ListT, Prim, Type

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "docs" / "stages.md"

_ROLE_WORDS = {"source": "Sources", "processor": "Processors", "sink": "Sinks"}
# the section each role is listed in: a window stage is a processor to its readers
_SECTION = {"source": "source", "processor": "processor", "window": "processor", "sink": "sink"}
# roles whose examples are a stage in a chain (`| code`), not a whole program
_CHAINED = ("processor", "window")

INTRO = """\
# Stage reference

Every source, processor and sink of flowlang, with its parameters, the type of
the records it produces, and examples. This page is generated from the stage
catalogue (`flowlang/stages/`) by `python -m flowlang.stagedocs`; the test
suite checks that it is up to date, that every example checks clean, and that
every example with input and output records gives exactly that output when
compiled and run.

Arguments are written positionally in the order of the table, or by name.
Kinds: a *field* is a field of the input record (`ip`, `geo.city`); *fields*
is one field or a list (`[user, action]`); a *new field* is the name of a
field the stage adds; an *option* is a bare name, possibly with its own
arguments (`csv(columns=["a"])`); a *schema* is the name of a `schema`
declared in the program; a *value* is a constant, or, unless the table
says it is a literal, `env("NAME")` / `env("NAME", "default")`: read when
the program starts, never written into generated code, converted to the
value's type (`30s` for a duration, `42` for an int, `true`/`false`) and
held to the rule a literal is held to when the program is checked; a value
that breaks it stops the run before it starts (exit status 2), in a message
that names the variable and the rule, never the value.

See also [the language](language.md) and [privacy](privacy.md).
"""


# ---------------------------------------------------------------- values in flow syntax


def flow_value(value: Any, typ: Type | None = None) -> str:
    """A constant as it would be written in a program."""
    if isinstance(value, EnvRef):
        if value.default:
            return f"env({quote(value.name)}, {quote(value.default)})"
        return f"env({quote(value.name)})"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and typ == DURATION:
        return duration_text(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (list, tuple)):
        item = typ.item if isinstance(typ, ListT) else None
        return "[" + ", ".join(flow_value(v, item) for v in value) + "]"
    return repr(value)


def default_text(param: Param) -> str | None:
    """The default as written, or None when the parameter is required or
    has no default value (the stage then decides, see its doc)."""
    if param.default is REQUIRED:
        return None
    default = param.default
    if param.kind is ParamKind.FIELD:
        return field_path(default) if default else None
    if param.kind is ParamKind.FIELDS:
        return "[" + ", ".join(field_path(p) for p in default) + "]"
    if param.kind in (ParamKind.NEW_FIELD, ParamKind.CHOICE):
        return default
    if param.kind is ParamKind.SCHEMA or default is None:
        return None
    if isinstance(default, EnvRef) and not default.default:
        return f"env({quote(default.name)})"
    return flow_value(default, param.type)


# ---------------------------------------------------------------- signatures and tables


def option_text(name: str, params: tuple[Param, ...]) -> str:
    if not params:
        return name
    return f"{name}({', '.join(_param_in_signature(p) for p in params)})"


def _param_in_signature(param: Param) -> str:
    if param.required:
        return param.name
    default = default_text(param)
    return f"{param.name}={default if default is not None else '…'}"


def signature(spec: StageSpec) -> str:
    """`geoip(field=ip, into=geo, db=…)`."""
    if not spec.params:
        return spec.name
    return f"{spec.name}({', '.join(_param_in_signature(p) for p in spec.params)})"


def type_text(param: Param) -> str:
    """What an argument may be, in words."""
    if param.kind is ParamKind.FIELD:
        if not param.accepts:
            return "field"
        return "field of type " + " or ".join(f"`{t}`" for t in param.accepts)
    if param.kind is ParamKind.FIELDS:
        return "field or list of fields"
    if param.kind is ParamKind.NEW_FIELD:
        return "new field"
    if param.kind is ParamKind.SCHEMA:
        return "schema"
    if param.kind is ParamKind.CHOICE:
        return "option: " + ", ".join(f"`{option_text(n, ps)}`" for n, ps in param.options.items())
    words = f"`{param.type}`"
    if not param.env and not isinstance(param.type, ListT):
        words += " (a literal)"
    return words


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def param_table(spec: StageSpec) -> list[str]:
    rows = ["| parameter | kind and type | default | meaning |", "|---|---|---|---|"]
    for p in spec.params:
        if p.required:
            default = "required"
        else:
            written = default_text(p)
            default = f"`{written}`" if written is not None else "none"
        rows.append(f"| `{p.name}` | {_cell(type_text(p))} | {_cell(default)} | {_cell(p.doc)} |")
    return rows


def _option_docs(spec: StageSpec) -> list[str]:
    lines = []
    for p in spec.params:
        for option, params in p.options.items():
            for q in params:
                default = "required" if q.required else f"default `{default_text(q)}`"
                lines.append(
                    f"- `{p.name}={option}(…)` `{q.name}`: {q.doc} (`{q.type}`, {default})"
                )
    return lines


# ---------------------------------------------------------------- output types


class _DocRuleContext(RuleContext):
    """Runs an output-type rule on `{..}` with illustrative arguments; any
    diagnostic means the illustration does not apply."""

    def __init__(self, args: dict[str, Any]):
        self.input = OPEN_RECORD
        self.args = args
        self.failed = False

    def error(self, code, message, param=None, hint=None) -> None:
        self.failed = True

    def warn(self, code, message, param=None, hint=None) -> None:
        pass

    def given(self, param: str) -> bool:
        return False

    def field_type(self, path):
        from .types import ANY

        return ANY


def _illustrative(param: Param) -> Any:
    if not param.required:
        return param.default
    if param.kind is ParamKind.FIELD:
        return (param.name,)
    if param.kind is ParamKind.FIELDS:
        return ((param.name,),)
    if param.kind is ParamKind.NEW_FIELD:
        return param.name
    if param.kind is ParamKind.VALUE and isinstance(param.type, Prim):
        return {"str": "x", "int": 1, "float": 1.0, "bool": True, "duration": 1000}.get(
            param.type.name
        )
    return None


def _args(params: tuple[Param, ...], overrides: dict[str, Any]) -> dict[str, Any] | None:
    args: dict[str, Any] = {}
    for p in params:
        if p.name in overrides:
            args[p.name] = overrides[p.name]
            if p.name + "_args" in overrides:
                args[p.name + "_args"] = overrides[p.name + "_args"]
            continue
        value = _illustrative(p)
        if p.required and value is None:
            return None
        args[p.name] = value
        if p.kind is ParamKind.CHOICE:
            option_args = _args(p.options.get(value, ()), {})
            if option_args is None:
                return None
            args[p.name + "_args"] = option_args
    return args


def output_lines(spec: StageSpec) -> list[str]:
    """The output record type for an open input record `{..}`, per option
    when a required option decides it."""
    if spec.role == "sink":
        return []
    choices = [p for p in spec.params if p.kind is ParamKind.CHOICE and p.required]
    variants: list[tuple[str, dict[str, Any]]] = [("", {})]
    if choices:
        choice = choices[0]
        variants = []
        for option, params in choice.options.items():
            option_args = _args(params, {})
            if option_args is not None:
                variants.append((option, {choice.name: option, choice.name + "_args": option_args}))
    lines = []
    for label, overrides in variants:
        args = _args(spec.params, overrides)
        if args is None:
            continue
        ctx = _DocRuleContext(args)
        result = spec.output(ctx)
        if ctx.failed or result is None:
            continue
        if result == OPEN_RECORD:
            continue
        where = f" with `{spec.name}({label})`" if label else ""
        lines.append(f"- {where.strip() + ': ' if where else ''}`{result}`")
    return lines


# ---------------------------------------------------------------- examples


def example_lines(spec_role: str, example: Example) -> list[str]:
    from .runtime import jsonl

    lines = []
    if example.doc:
        lines += [example.doc, ""]
    if spec_role in _CHAINED:
        lines += ["```", f"| {example.code}", "```"]
    else:
        lines += ["```flow", example.code, "```"]
    if example.input is not None:
        lines += ["", "Input:", "", "```json"]
        lines += [jsonl.dumps(r).decode() for r in example.input]
        lines += ["```", "", "Output:", "", "```json"]
        lines += [jsonl.dumps(r).decode() for r in example.output or ()]
        lines += ["```"]
    return lines + [""]


# ---------------------------------------------------------------- sections


def stage_section(spec: StageSpec) -> list[str]:
    written = spec.form or STAGE_FORMS[spec.role].format(signature(spec))
    lines = [f"### `{spec.name}`", "", f"`{written}`", ""]
    lines += [spec.doc, ""]
    if spec.reference is not None:
        lines += spec.reference() + [""]
    if spec.may_drop:
        lines += ["This stage may drop records (counted as dropped).", ""]
    clauses = [p for p in spec.params if p.kind is ParamKind.SYNTAX]
    if clauses:
        lines += ["Clauses:", ""] + [f"- {p.doc}" for p in clauses] + [""]
    elif spec.params:
        lines += param_table(spec) + [""]
        options = _option_docs(spec)
        if options:
            lines += ["Option arguments:", ""] + options + [""]
    output = output_lines(spec) if spec.output is not None else []
    if output:
        heading = "Output:" if spec.role == "source" else "Output, for an input record `{..}`:"
        lines += [heading, ""] + output + [""]
    if spec.examples:
        lines += ["Examples:", ""]
        for example in spec.examples:
            lines += example_lines(spec.role, example)
    return lines


def functions_section() -> list[str]:
    from .builtins import FUNCTIONS, describe

    lines = [
        "## Builtin functions",
        "",
        "Functions for `where` and `set` expressions. A null argument gives null.",
        "",
        "| function | returns | meaning |",
        "|---|---|---|",
    ]
    for fn in FUNCTIONS.values():
        params = []
        for p in fn.params:
            accepts = describe(p.accepts)
            written = f"{p.name}: {accepts}"
            if not p.required:
                written += "?" if p.default is None else f" = {flow_value(p.default)}"
            params.append(written)
        lines.append(f"| `{fn.name}({', '.join(params)})` | {fn.returns_text} | {_cell(fn.doc)} |")
    return lines + [""]


def render() -> str:
    """The whole of docs/stages.md."""
    lines = [INTRO]
    lines.append("Contents:")
    lines.append("")
    for role, title in _ROLE_WORDS.items():
        names = [s.name for s in CATALOGUE if _SECTION[s.role] == role]
        links = ", ".join(f"[`{n}`](#{n})" if role == "processor" else f"`{n}`" for n in names)
        lines.append(f"- {title}: {links}")
    lines.append("- [Builtin functions](#builtin-functions)")
    lines.append("")
    for role, title in _ROLE_WORDS.items():
        lines += [f"## {title}", ""]
        for spec in CATALOGUE:
            if _SECTION[spec.role] == role:
                lines += stage_section(spec)
    lines += functions_section()
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m flowlang.stagedocs [--check] [-o PATH]`."""
    return docpages.main(argv, "flowlang.stagedocs", "the stage reference", render, DEFAULT_PATH)


if __name__ == "__main__":
    sys.exit(main())
