"""`lookup(table, key=…, into=…)`: enrich from a CSV or JSON file loaded once."""

from __future__ import annotations

import os

from .. import codes
from ..types import ANY, OPEN_RECORD, STR, nullable
from ._rules import with_field
from .spec import Example, Param, ParamKind, RuleContext, StageSpec

ROW_SUFFIXES = (".csv", ".jsonl", ".ndjson")  # tables of rows, whatever they hold
CHECK_AT_COMPILE_BYTES = 16 * 1024 * 1024  # larger tables are checked at start-up only


def _output(ctx: RuleContext):
    table = ctx.args.get("table")
    if isinstance(table, str):
        _check_table(ctx, table)
    # a .json table may map keys to rows or to plain values, which the text
    # of the program cannot tell: `into` is then `any`
    rows = isinstance(table, str) and table.lower().endswith(ROW_SUFFIXES)
    return with_field(ctx.input, ctx.args["into"], nullable(OPEN_RECORD) if rows else ANY)


def _check_table(ctx: RuleContext, table: str) -> None:
    """The table's shape, when the file is there to read at compile time
    (relative to the working directory, as at run time); a file that is not
    there may be where the program runs, and is checked when it starts."""
    try:
        if not os.path.isfile(table) or os.path.getsize(table) > CHECK_AT_COMPILE_BYTES:
            return
        key = ctx.args.get("key")
        column = ctx.args.get("column")
        if not isinstance(column, (str, type(None))):
            return  # env() names the column: checked when the run starts
        default = key[-1] if isinstance(key, tuple) and key else ""
        load_table(table, column or default, explicit_column=column is not None)
    except OSError:
        return  # unreadable here; the start of the run says why
    except NoColumn as exc:
        ctx.error(
            codes.BAD_TABLE,
            f"lookup table {table!r}: {exc}",
            param="column",
            hint="leave out `column=`: the keys of the object are the keys",
        )
    except (ValueError, UnicodeDecodeError) as exc:
        ctx.error(
            codes.BAD_TABLE,
            f"lookup table {table!r} is not usable: {exc}",
            param="table",
            hint=TABLE_SHAPES,
        )


TABLE_SHAPES = (
    "a table is a CSV file with a header, a JSON object of objects or of plain "
    'values (`{"CZ": "Czech Republic"}`), a JSON list of objects, or a JSON-lines '
    "file of objects"
)


SPEC = StageSpec(
    name="lookup",
    role="processor",
    doc=(
        "Adds `into`: the row of `table` whose `column` equals the record's `key`, "
        "or null when there is none (counted as `missing`). The table is a CSV file "
        "with a header (values are strings), a JSON file holding an object of "
        "objects (keyed by the object's keys) or a list of objects, or a JSON-lines "
        "file (`.jsonl`, `.ndjson`) of objects. A JSON object of plain values "
        '(`{"CZ": "Czech Republic"}`, the dictionaries of Logstash\'s `translate` '
        "and BSPump's lookups) maps keys to values: `into` is the value itself. `into` "
        "is typed `{..}?` for a CSV or JSON-lines table, and `any` for a `.json` or "
        "`env()` one, whose shape the program's text does not tell. It "
        "is loaded once when the pipeline starts; a missing or malformed table stops "
        "the start with a clear message, and a literal `table` that exists when the "
        "program is checked is checked then too (E410). Keys compare as text: the "
        'number `42` finds the row keyed `"42"`. When two rows have the same key, '
        "the last one wins. Relative paths are taken from the working directory."
    ),
    params=(
        Param("table", ParamKind.VALUE, "CSV, JSON or JSON-lines file", type=STR),
        Param("key", ParamKind.FIELD, "the record's field to look up"),
        Param("into", ParamKind.NEW_FIELD, "the field to add", default="lookup"),
        Param(
            "column",
            ParamKind.VALUE,
            "the key column of a table of rows (default: the key's name)",
            type=STR,
            default=None,
        ),
    ),
    output=_output,
    runtime="Lookup",
    module=__name__,
    examples=(
        Example(
            'lookup("hosts.csv", key=host, into=owner)',
            doc="With `hosts.csv` holding `host,team` rows, adds `owner: {host, team}?`.",
        ),
        Example(
            'lookup("countries.json", key=country_iso, into=country)',
            doc='With `countries.json` holding `{"CZ": "Czech Republic", …}`, adds '
            '`country: "Czech Republic"` (or null).',
        ),
        Example('lookup(env("USERS_JSON"), key=user.id, column="id", into=account)'),
    ),
)


# ---------------------------------------------------------------- runtime


def key_text(value) -> str | None:
    """The text a key compares as; None for values that cannot be keys."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


class NoColumn(ValueError):
    """`column=` was given for a table that maps keys to plain values."""


def load_table(path: str, column: str, explicit_column: bool = False) -> dict[str, object]:
    """Rows of a CSV, JSON or JSON-lines file by the text of their `column`,
    or the values of a JSON object of plain values by their keys.

    Raises ValueError (with the reason) for a file that is not a table;
    `explicit_column`: `column` was given, which a key → value table has none of."""
    import csv
    import io

    from ..runtime.jsonl import loads

    lower = path.lower()
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8-sig")
    if lower.endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        try:
            if reader.fieldnames is None or column not in reader.fieldnames:
                raise ValueError(f"the CSV header has no column {column!r}")
            rows = [dict(row) for row in reader]
        except csv.Error as exc:
            raise ValueError(f"invalid CSV on line {reader.line_num}: {exc}") from None
        keyed = None
    elif lower.endswith((".jsonl", ".ndjson")):
        rows = [loads(line) for line in text.splitlines() if line.strip()]
        keyed = None
    elif lower.endswith(".json"):
        document = loads(text)
        if isinstance(document, dict):
            keyed, rows = document, None
        elif isinstance(document, list):
            keyed, rows = None, document
        else:
            raise ValueError("expected an object of objects or a list of objects")
    else:
        raise ValueError("the table must be a .csv, .json, .jsonl or .ndjson file")
    table: dict[str, object] = {}
    if keyed is not None:
        objects = [k for k, v in keyed.items() if isinstance(v, dict)]
        plain = [k for k, v in keyed.items() if not isinstance(v, dict)]
        if objects and plain:
            raise ValueError(
                f"it mixes objects (key {objects[0]!r}) and plain values (key {plain[0]!r})"
            )
        if plain and explicit_column:
            raise NoColumn(f"it maps keys to plain values, so it has no column {column!r}")
        return dict(keyed)
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ValueError(f"row {number} is not an object")
        key = key_text(row.get(column))
        if key is not None:
            table[key] = row
    return table


class Lookup:
    """Adds `into`: the table's row (or value) for the record's `key`, or null."""

    def __init__(self, ctx, table, key, into="lookup", column=None):
        from ..runtime.errors import FlowError
        from ..runtime.ops import get_path

        self.ctx = ctx
        self.path = tuple(key)
        self.into = into
        try:
            rows = load_table(table, column or self.path[-1], explicit_column=column is not None)
        except OSError as exc:
            raise FlowError(f"{ctx.stage}: cannot read table {table!r}: {exc.strerror}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise FlowError(f"{ctx.stage}: table {table!r} is not usable: {exc}") from None
        # each record gets its own copy of a row or list: later stages may change it
        self.rows = {k: (value, _copier(value)) for k, value in rows.items()}
        self._get_path = get_path

    def __call__(self, rec):
        path = self.path
        value = rec.get(path[0]) if len(path) == 1 else self._get_path(rec, path)
        found = self.rows.get(value if value.__class__ is str else key_text(value))
        if found is None:
            self.ctx.count("missing")
            rec[self.into] = None
            return rec
        value, copy = found
        rec[self.into] = value if copy is None else copy(value)
        return rec


def _copier(value):
    """How to copy a table's value for one record: not at all (text, numbers),
    shallow (a row of plain values) or deep."""
    import copy

    if isinstance(value, dict):
        nested = any(isinstance(v, (dict, list)) for v in value.values())
        return copy.deepcopy if nested else dict.copy
    if isinstance(value, list):
        return copy.deepcopy
    return None
