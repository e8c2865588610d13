"""Running a program's tests: example tests once on their given records,
property tests on inputs Hypothesis generates from the sources' types, and
in every property test the built-in laws.

The laws, checked on every run of a property test:
- no exception escapes a stage: the run ends normally, and no error record
  comes from an exception that is not a record error (code `runtime`);
- conservation, per pipeline: in = out + dropped + errors + absorbed;
- every record a pipeline emits conforms to the type the checker inferred;
- determinism: the same input gives the same outputs and error records (as
  multisets), with `now()` and the anonymize key fixed.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from .. import ir
from ..runtime.metrics import balanced
from ..runtime.ops import get_path
from ..types import ANY, ListT, Nullable, RecordT, Type
from .harness import RunResult
from .literals import record_literal, value_literal

DEFAULT_EXAMPLES = 100
MAX_RECORDS = 20  # generated records per source and example


@dataclass
class TestOutcome:
    """The result of one test."""

    file: str
    name: str
    property: bool
    line: int
    passed: bool
    seconds: float = 0.0
    examples: int = 0  # runs of the program
    records: int = 0  # input records over all runs
    failure: str | None = None  # what failed, in words
    span: Any = None  # where (the expectation, or the test)
    counterexample: str | None = None  # `given …` lines to paste into a test
    seed: int | None = None

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


class Failed(Exception):
    """One run broke a law or an expectation."""

    def __init__(self, message: str, span: Any = None, inputs: dict | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.inputs = inputs


def select(tests: Iterable[ir.TestPlan], pattern: str | None) -> list[ir.TestPlan]:
    """The tests whose name contains `pattern` (or matches it as a glob)."""
    tests = list(tests)
    if not pattern:
        return tests
    low = pattern.lower()
    return [t for t in tests if low in t.name.lower() or fnmatch.fnmatchcase(t.name.lower(), low)]


def run_tests(
    program, *, pattern: str | None = None, examples: int | None = None, seed: int | None = None
) -> list[TestOutcome]:
    """Run the tests of a loaded program (`flowlang.testing.FlowProgram`)."""
    outcomes = []
    for index, test in enumerate(program.plan.tests):
        if test not in select([test], pattern):
            continue
        outcomes.append(run_test(program, index, test, examples=examples, seed=seed))
    return outcomes


def run_test(
    program, index: int, test: ir.TestPlan, *, examples: int | None = None, seed: int | None = None
) -> TestOutcome:
    outcome = TestOutcome(program.plan.file, test.name, test.property, test.line, passed=False)
    began = time.perf_counter()
    try:
        if test.property:
            _property(program, index, test, outcome, examples, seed)
        else:
            inputs = {g.pipeline: list(g.records or ()) for g in test.given}
            outcome.examples, outcome.records = 1, sum(map(len, inputs.values()))
            _check_run(program, index, test, inputs, laws=False)
        outcome.passed = True
    except Failed as failed:
        outcome.failure, outcome.span = failed.message, failed.span or test.span
    outcome.seconds = time.perf_counter() - began
    return outcome


def _property(program, index, test, outcome, examples, seed) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st
    from hypothesis.errors import HypothesisException

    fixed = {g.pipeline: list(g.records) for g in test.given if g.records is not None}
    generated = {
        g.pipeline: st.lists(program.given_strategy(index, position, g), max_size=MAX_RECORDS)
        for position, g in enumerate(test.given)
        if g.records is None
    }
    for name in program.source_pipelines():
        if name not in fixed and name not in generated and not test.given:
            generated[name] = st.lists(program.records(name), max_size=MAX_RECORDS)
    outcome.seed = seed if seed is not None else random.randrange(2**32)
    count = examples or test.examples or DEFAULT_EXAMPLES

    def body(drawn: dict) -> None:
        inputs = {**fixed, **drawn}
        outcome.examples += 1
        outcome.records += sum(map(len, inputs.values()))
        try:
            _check_run(program, index, test, inputs, laws=True)
        except Failed as failed:
            failed.inputs = drawn
            raise

    run = settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=False,
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        # no `explain` phase: it reruns the test many times to word a
        # failure that the counterexample already shows
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
    )(hypothesis_seed(outcome.seed)(given(st.fixed_dictionaries(generated))(body)))
    try:
        run()
    except Failed as failed:
        if failed.inputs is not None:
            failed = _fewer_records(program, index, test, fixed, failed)
            outcome.counterexample = "\n".join(
                f"given {name} = {value_literal(records)}"
                for name, records in failed.inputs.items()
            )
        raise failed from None
    except HypothesisException as exc:
        raise Failed(f"the inputs could not be generated: {exc}", test.span) from None


def _fewer_records(program, index, test, fixed: dict, failed: Failed) -> Failed:
    """Hypothesis's shrinking leaves some records a failure does not need
    (when a value came from the program's constants); drop each record whose
    removal keeps the same expectation failing, so every record left matters."""
    drawn = {name: list(records) for name, records in failed.inputs.items()}
    for name in drawn:
        i = 0
        while i < len(drawn[name]):
            trial = {**drawn, name: drawn[name][:i] + drawn[name][i + 1 :]}
            try:
                _check_run(program, index, test, {**fixed, **trial}, laws=True)
            except Failed as again:
                if again.span == failed.span:
                    drawn, failed = trial, again
                    continue
            i += 1
    failed.inputs = drawn
    return failed


def _check_run(program, index: int, test: ir.TestPlan, inputs: dict, laws: bool) -> None:
    result = program.run(inputs, now=test.now, env=dict(test.env))
    if result.exit_code != 0:
        raise Failed(f"the run failed: {result.failure}", test.span)
    if laws:
        check_laws(program, result)
    for position, expect in enumerate(test.expects):
        problem = check_expect(program, index, position, expect, result)
        if problem is not None:
            raise Failed(problem, expect.span)
    if laws:
        again = program.run(inputs, now=test.now, env=dict(test.env))
        for name in result.outputs:
            for what, first, second in (
                ("records", result.outputs[name], again.outputs[name]),
                ("error records", result.errors[name], again.errors[name]),
            ):
                if _multiset(first) != _multiset(second):
                    raise Failed(
                        f"law broken: determinism — `{name}` gave different {what} on "
                        "the same input",
                        test.span,
                    )


# ---------------------------------------------------------------- laws


def check_laws(program, result: RunResult) -> None:
    for name, errors in result.errors.items():
        for err in errors:
            if err.get("code") == "runtime":
                raise Failed(
                    f"law broken: an exception escaped stage {err.get('stage')}: "
                    f"{err.get('message')}\n  on record {_show(err.get('record'))}"
                )
    for name, snapshot in result.metrics.items():
        if not balanced(snapshot):
            s = snapshot
            raise Failed(
                f"law broken: conservation in `{name}`: in {s['in']} ≠ out {s['out']} + dropped "
                f"{s['dropped']} + errors {s['errors']} + absorbed {s['absorbed']}"
            )
    for name, records in result.outputs.items():
        typ = program.output_types[name]
        for rec in records:
            problem = conformance(rec, typ)
            if problem is not None:
                raise Failed(
                    f"law broken: `{name}` emitted a record that is not {typ}: {problem}\n"
                    f"  record {_show(rec)}"
                )


def conformance(value: Any, typ: Type, path: str = "") -> str | None:
    """Why `value` is not a run-time value of `typ`, or None when it is. A
    missing field reads as null; an int is a float."""
    where = f"field `{path}` " if path else ""
    if typ == ANY:
        return None
    if isinstance(typ, Nullable):
        return None if value is None else conformance(value, typ.inner, path)
    if value is None:
        return f"{where}is null"
    if isinstance(typ, RecordT):
        if not isinstance(value, dict):
            return f"{where}is not a record"
        for name, ftype in typ.fields:
            problem = conformance(value.get(name), ftype, f"{path}.{name}" if path else name)
            if problem is not None:
                return problem
        if not typ.open:
            extra = [k for k in value if typ.get(k) is None]
            if extra:
                return f"{where}has field `{extra[0]}`, not in the closed type"
        return None
    if isinstance(typ, ListT):
        if not isinstance(value, list):
            return f"{where}is not a list"
        for i, item in enumerate(value):
            problem = conformance(item, typ.item, f"{path}[{i}]")
            if problem is not None:
                return problem
        return None
    ok = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "time": lambda v: isinstance(v, _dt.datetime) and v.tzinfo is not None,
        "ip": _is_ip_text,
        "duration": lambda v: isinstance(v, _dt.timedelta),
        "null": lambda v: v is None,
    }[typ.name]
    return None if ok(value) else f"{where}is {value_literal(value)}, not {typ}"


def _is_ip_text(value: Any) -> bool:
    import ipaddress

    if not isinstance(value, str):
        return False
    try:
        return str(ipaddress.ip_address(value)) == value
    except ValueError:
        return False


# ---------------------------------------------------------------- expectations


def check_expect(
    program, index: int, position: int, expect: ir.ExpectPlan, result: RunResult
) -> str | None:
    """Why `expect` does not hold for `result`, or None when it does."""
    form = expect.form
    if form == "counts":
        counts = {
            key: result.count(name, part) for key, (name, part) in program.count_keys().items()
        }
        if program.check(index, "e", position)(counts):
            return None
        used = _fields_of(expect.cond)
        shown = ", ".join(f"{k} = {v}" for k, v in counts.items() if (k,) in used)
        return f"expected {_short(expect)}, but {shown}"
    records = (result.errors if expect.errors else result.outputs)[expect.pipeline]
    what = f"`{expect.pipeline}{'.errors' if expect.errors else ''}`"
    if form == "every":
        pred = program.check(index, "e", position)
        for rec in records:
            if not pred(rec):
                return f"a record of {what} does not satisfy it:\n  {_show(rec)}"
        return None
    if form in ("contains", "lacks"):
        wanted = expect.records[0]
        found = next((r for r in records if _matches(r, wanted)), None)
        if form == "contains" and found is None:
            return f"no record of {what} matches {record_literal(wanted)}" + _listing(records)
        if form == "lacks" and found is not None:
            return f"{what} has a record matching {record_literal(wanted)}:\n  {_show(found)}"
        return None
    if form == "equals":
        got, want = _multiset(records), _multiset(expect.records)
        if got == want:
            return None
        missing = [r for r in expect.records if _norm(r) in (want - got)]
        extra = [r for r in records if _norm(r) in (got - want)]
        parts = [
            f"{what} has {len(records)} record(s), expected {len(expect.records)}"
            if len(records) != len(expect.records)
            else f"{what} differs"
        ]
        parts += [f"  missing:    {_show(r)}" for r in missing[:5]]
        parts += [f"  unexpected: {_show(r)}" for r in extra[:5]]
        return "\n".join(parts)
    # reaches / absent
    inputs = result.inputs.get(expect.given, [])
    cond = program.check(index, "e", position) if expect.cond is not None else None
    keys = {_key(r, expect.key) for r in records}
    for rec in inputs:
        coerced = program.coerce_input(expect.given, rec)
        if coerced is None or (cond is not None and not cond(coerced)):
            continue
        present = _key(coerced, expect.key) in keys
        if form == "reaches" and not present:
            return f"a given record of `{expect.given}` did not reach `{expect.pipeline}`:\n  {_show(rec)}"
        if form == "absent" and present:
            return (
                f"a given record of `{expect.given}` reached `{expect.pipeline}`:\n  {_show(rec)}"
            )
    return None


def _fields_of(e: Any) -> set:
    """The field paths an expression reads."""
    if isinstance(e, ir.FieldRef):
        return {e.path}
    found: set = set()
    if isinstance(e, (tuple, list)):
        for item in e:
            found |= _fields_of(item)
    elif hasattr(e, "__dataclass_fields__"):
        for name in e.__dataclass_fields__:
            found |= _fields_of(getattr(e, name))
    return found


def _short(expect: ir.ExpectPlan) -> str:
    text = expect.text
    return text[len("expect ") :] if text.startswith("expect ") else text


def _listing(records: list) -> str:
    if not records:
        return " (it has no records)"
    shown = "\n".join(f"  {_show(r)}" for r in records[:3])
    more = f"\n  … and {len(records) - 3} more" if len(records) > 3 else ""
    return f"; it has:\n{shown}{more}"


def _show(value: Any) -> str:
    try:
        return value_literal(value)
    except ValueError:
        return repr(value)


def _key(rec: dict, key: tuple) -> tuple:
    return tuple(_norm(get_path(rec, path)) for path in key)


def _matches(rec: Any, partial: dict) -> bool:
    if not isinstance(rec, dict):
        return False
    for name, want in partial.items():
        got = rec.get(name)
        if isinstance(want, dict):
            if not _matches(got, want):
                return False
        elif _norm(got) != _norm(want):
            return False
    return True


def _norm(value: Any) -> Any:
    """A hashable form for comparing records: a missing field equals null."""
    if isinstance(value, dict):
        return ("{}", frozenset((k, _norm(v)) for k, v in value.items() if v is not None))
    if isinstance(value, list):
        return ("[]", tuple(_norm(v) for v in value))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _multiset(records: Iterable[Any]) -> Counter:
    return Counter(_norm(r) for r in records)
