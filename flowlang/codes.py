"""Stable diagnostic codes. A code, once released, is never reused or renumbered:
retire a code by leaving it here with `retired=True`. Every code is explained
in `explanations.py` (what it means, a program that gives it, the fix), which
`flowc explain` and docs/errors.md show; the suite fails on a code without
an entry.

E0xx  syntax            E1xx  names and structure     E2xx  fields and records
E3xx  types             E4xx  stage arguments          W5xx  warnings
E6xx  tests             E9xx  internal compiler errors
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    retired: bool = False


_ALL: dict[str, Code] = {}


def _c(code: str, title: str) -> str:
    assert code not in _ALL, f"code {code} declared twice"
    _ALL[code] = Code(code, title)
    return code


# syntax
SYNTAX = _c("E001", "syntax error")
UNCLOSED_STRING = _c("E002", "unterminated string")
BAD_ESCAPE = _c("E003", "invalid escape in string")
TOO_DEEP = _c("E004", "expression nested too deeply")
BAD_CHARACTER = _c("E005", "unexpected character")
BAD_NUMBER = _c("E006", "invalid number or duration")
UNCLOSED_BACKTICK = _c("E007", "unterminated field name in backticks")

# names and structure
UNKNOWN_STAGE = _c("E101", "unknown stage")
UNKNOWN_PIPELINE = _c("E102", "unknown pipeline")
DUPLICATE_NAME = _c("E103", "name defined twice")
CYCLE = _c("E104", "pipelines form a cycle")
NO_SINK = _c("E105", "pipeline has no sink and nobody reads it")
SINK_NOT_LAST = _c("E106", "sink must be the last stage")
UNKNOWN_SCHEMA = _c("E107", "unknown schema")
UNKNOWN_FUNCTION = _c("E108", "unknown function")
WRONG_STAGE_KIND = _c("E109", "stage used in the wrong place")
UNKNOWN_TYPE = _c("E110", "unknown type name")
RECURSIVE_SCHEMA = _c("E111", "schema contains itself")
ROUTE_NOT_LAST = _c("E112", "route must be the last stage")
NOT_ROUTE_READER = _c("E113", "route target does not read the routed pipeline")
READS_ROUTED = _c("E114", "pipeline reads a routed pipeline but is none of its routes")
BAD_IMPORT = _c("E115", "imported file cannot be read")
IMPORT_CYCLE = _c("E116", "files import each other in a cycle")

# fields and records
UNKNOWN_FIELD = _c("E201", "unknown field")
FIELD_EXISTS = _c("E202", "field already exists")
DUPLICATE_FIELD = _c("E203", "field named twice")
NOT_A_RECORD = _c("E204", "field access on a value that is not a record")

# types
TYPE_MISMATCH = _c("E301", "type mismatch")
NOT_BOOL = _c("E302", "condition is not bool")
NOT_NUMERIC = _c("E303", "operand is not a number")
NULLABLE_OPERAND = _c("E304", "operand may be null")
BAD_OPERANDS = _c("E305", "operator does not apply to these types")
BAD_REGEX = _c("E306", "invalid regular expression")

# stage and function arguments
UNKNOWN_PARAM = _c("E401", "unknown parameter")
MISSING_ARG = _c("E402", "missing required argument")
TOO_MANY_ARGS = _c("E403", "too many positional arguments")
DUPLICATE_ARG = _c("E404", "argument given twice")
UNKNOWN_OPTION = _c("E405", "unknown option")
NOT_CONSTANT = _c("E406", "argument must be a constant")
BAD_ARG_VALUE = _c("E407", "invalid argument value")
BAD_AGGREGATE = _c("E408", "invalid aggregate")
BAD_INDEX_NAME = _c("E409", "invalid Elasticsearch index name")
BAD_TABLE = _c("E410", "lookup table is not usable")
BAD_GROK = _c("E411", "invalid grok pattern")
BAD_GROK_FILE = _c("E412", "grok patterns file is not usable")

# warnings
NO_ANON_KEY = _c("W501", "anonymize has no key")
UNREACHABLE = _c("W502", "stage can never pass a record")
ROUTE_UNREACHABLE = _c("W503", "route can never take a record")

# tests
RECORD_OUTSIDE_TEST = _c("E601", "record literal outside a test")
GIVEN_NO_SOURCE = _c("E602", "input given to a pipeline without a source")
BAD_TEST_SETTING = _c("E603", "invalid test setting")
BAD_EXPECTATION = _c("E604", "invalid expectation")
NOT_DOWNSTREAM = _c("E605", "pipeline does not receive the given records")

# internal
INTERNAL = _c("E901", "internal compiler error")


def all_codes() -> dict[str, Code]:
    return dict(_ALL)
