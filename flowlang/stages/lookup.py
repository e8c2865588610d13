"""`lookup(table, key=…, into=…)`: enrich from a CSV or JSON file loaded once."""

from __future__ import annotations

from ..types import OPEN_RECORD, STR, nullable
from ._rules import with_field
from ._spec import Example, Kind, Param, RuleContext, StageSpec


def _output(ctx: RuleContext):
    return with_field(ctx.input, ctx.args["into"], nullable(OPEN_RECORD))


SPEC = StageSpec(
    name="lookup",
    kind="processor",
    doc=(
        "Adds `into`: the row of `table` whose `column` equals the record's `key`, "
        "or null when there is none (counted as `missing`). The table is a CSV file "
        "with a header (values are strings), a JSON file holding an object of "
        "objects (keyed by the object's keys) or a list of objects, or a JSON-lines "
        "file (`.jsonl`, `.ndjson`) of objects. It is loaded once when the pipeline "
        "starts; a missing or malformed table stops the start with a clear message. "
        "Keys compare as text: the number `42` finds the row keyed `\"42\"`. When "
        "two rows have the same key, the last one wins. Relative paths are taken "
        "from the working directory."
    ),
    params=(
        Param("table", Kind.VALUE, "CSV, JSON or JSON-lines file", type=STR, allow_env=True),
        Param("key", Kind.FIELD, "the record's field to look up"),
        Param("into", Kind.NEW_FIELD, "the field to add", default="lookup"),
        Param("column", Kind.VALUE, "the table's key column (default: the key's name)",
              type=STR, default=None),
    ),  # fmt: skip
    output=_output,
    runtime="Lookup",
    module=__name__,
    examples=(
        Example('lookup("hosts.csv", key=host, into=owner)',
                doc="With `hosts.csv` holding `host,team` rows, adds `owner: {host, team}?`."),
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


def load_table(path: str, column: str) -> dict[str, dict]:
    """Rows of a CSV, JSON or JSON-lines file by the text of their `column`.

    Raises ValueError (with the reason) for a file that is not a table."""
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
    table: dict[str, dict] = {}
    if keyed is not None:
        for key, row in keyed.items():
            if not isinstance(row, dict):
                raise ValueError(f"the value of key {key!r} is not an object")
            table[key] = row
        return table
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ValueError(f"row {number} is not an object")
        key = key_text(row.get(column))
        if key is not None:
            table[key] = row
    return table


class Lookup:
    """Adds `into`: the table row for the record's `key`, or null."""

    def __init__(self, ctx, table, key, into="lookup", column=None):
        from ..runtime.errors import FlowError
        from ..runtime.ops import get_path

        self.ctx = ctx
        self.path = tuple(key)
        self.into = into
        column = column or self.path[-1]
        try:
            rows = load_table(table, column)
        except OSError as exc:
            raise FlowError(f"{ctx.stage}: cannot read table {table!r}: {exc.strerror}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise FlowError(f"{ctx.stage}: table {table!r} is not usable: {exc}") from None
        # rows holding records or lists are copied deeply: later stages may change them
        self.rows = {k: (row, _is_flat(row)) for k, row in rows.items()}
        self._get_path = get_path

    def __call__(self, rec):
        path = self.path
        value = rec.get(path[0]) if len(path) == 1 else self._get_path(rec, path)
        found = self.rows.get(value if value.__class__ is str else key_text(value))
        if found is None:
            self.ctx.count("missing")
            rec[self.into] = None
            return rec
        row, flat = found
        rec[self.into] = row.copy() if flat else _deep_copy(row)
        return rec


def _is_flat(row: dict) -> bool:
    return not any(isinstance(v, (dict, list)) for v in row.values())


def _deep_copy(value):
    import copy

    return copy.deepcopy(value)
