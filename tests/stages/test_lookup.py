"""lookup from CSV, JSON and JSON-lines tables."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import StageContext
from flowlang.runtime.errors import FlowError
from flowlang.stages.lookup import Lookup, key_text
from tests.flowrun import run_flow

HOSTS_CSV = "host,team,tier\nweb-1,payments,1\nweb-2,search,2\n42,numbers,3\nweb-1,payments-new,1\n"


def stage(table, key=("host",), into="owner", column=None) -> Lookup:
    return Lookup(StageContext("p", "lookup (t.flow:2)", "t.flow:2"), table=str(table), key=key,
                  into=into, column=column)  # fmt: skip


@pytest.fixture
def hosts_csv(tmp_path):
    path = tmp_path / "hosts.csv"
    path.write_text(HOSTS_CSV, encoding="utf-8")
    return path


def test_csv_rows_by_key_last_row_wins(hosts_csv):
    look = stage(hosts_csv)
    assert look({"host": "web-2"})["owner"] == {
        "host": "web-2",
        "team": "search",
        "tier": "2",
    }
    assert look({"host": "web-1"})["owner"]["team"] == "payments-new"


def test_missing_keys_give_null_and_are_counted(hosts_csv):
    look = stage(hosts_csv)
    assert look({"host": "db-9"})["owner"] is None
    assert look({"host": None})["owner"] is None
    assert look({})["owner"] is None
    assert look({"host": ["web-1"]})["owner"] is None
    assert look.ctx.counters == {"missing": 4}


def test_keys_compare_as_text(hosts_csv):
    look = stage(hosts_csv)
    assert look({"host": 42})["owner"]["team"] == "numbers"
    assert look({"host": 42.0})["owner"]["team"] == "numbers"
    assert look({"host": True})["owner"] is None


@settings(max_examples=100)
@given(st.one_of(st.integers(), st.booleans(), st.text(max_size=10),
                 st.floats(allow_nan=False, allow_infinity=False)))  # fmt: skip
def test_key_text_of_a_value_matches_its_json_text(value):
    # the text of a key is the way JSON writes it, so JSON and CSV tables agree
    text = key_text(value)
    if isinstance(value, str):
        assert text == value
    elif isinstance(value, float) and value.is_integer():
        assert text == json.dumps(int(value))
    else:
        assert text == json.dumps(value)


def test_json_object_of_objects(tmp_path):
    path = tmp_path / "users.json"
    path.write_text(
        json.dumps({"u1": {"name": "Ann", "roles": ["admin"]}, "u2": {"name": "Bo"}})
    )
    look = stage(path, key=("user", "id"), into="account")
    rec = look({"user": {"id": "u1"}})
    assert rec["account"] == {"name": "Ann", "roles": ["admin"]}
    rec["account"]["roles"].append("changed")  # a later stage changing the row
    assert look({"user": {"id": "u1"}})["account"]["roles"] == ["admin"]


def test_json_list_of_objects_with_column(tmp_path):
    path = tmp_path / "users.json"
    path.write_text(
        json.dumps([{"id": 7, "name": "Ann"}, {"id": 8, "name": "Bo"}, {"name": "x"}])
    )
    look = stage(path, key=("uid",), column="id")
    assert look({"uid": 8})["owner"] == {"id": 8, "name": "Bo"}
    assert look({"uid": "7"})["owner"]["name"] == "Ann"


def test_json_lines_table(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"code": "DE", "name": "Germany"}\n\n{"code": "FR", "name": "France"}\n'
    )
    look = stage(path, key=("cc",), column="code", into="country")
    assert look({"cc": "FR"})["country"] == {"code": "FR", "name": "France"}


def test_each_record_gets_its_own_row(hosts_csv):
    look = stage(hosts_csv)
    first = look({"host": "web-2"})
    first["owner"]["team"] = "changed"
    assert look({"host": "web-2"})["owner"]["team"] == "search"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("t.csv", "a,b\n1,2\n", "has no column 'host'"),
    ("t.csv", "", "has no column 'host'"),
    ("t.csv", 'host,x\n"unterminated,1\n', "not usable"),
    ("t.json", "[1, 2]", "row 1 is not an object"),
    ("t.json", '{"a": 1}', "the value of key 'a' is not an object"),
    ("t.json", '"text"', "expected an object of objects or a list of objects"),
    ("t.json", "{broken", "not usable"),
    ("t.txt", "host\nx\n", "must be a .csv, .json, .jsonl or .ndjson file"),
])  # fmt: skip
def test_unusable_tables_stop_the_start(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(FlowError, match=message):
        stage(path)


def test_missing_table(tmp_path):
    with pytest.raises(FlowError, match="cannot read table .*nope.csv"):
        stage(tmp_path / "nope.csv")


def test_lookup_in_a_compiled_pipeline(tmp_path):
    (tmp_path / "hosts.csv").write_text(HOSTS_CSV)
    program = (
        'source file("input.jsonl", format=json)\n'
        '  | lookup("hosts.csv", key=host, into=owner)\n'
        "  | set team = owner.team\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [{"host": "web-2"}, {"host": "nope"}, {"host": 42}]
    result = run_flow(program, tmp_path, records=records)
    assert result.exit_code == 0, result.stderr
    assert [r["team"] for r in result.output] == ["search", None, "numbers"]
    assert result.metrics["test"]["stages"][1]["counters"] == {"missing": 1}


def test_missing_table_in_a_compiled_pipeline_is_a_start_error(tmp_path):
    program = 'source file("input.jsonl") | lookup("nope.csv", key=host) | sink file("output.jsonl")'
    result = run_flow(program, tmp_path, records=[{"host": "a"}])
    assert result.exit_code == 2
    assert "cannot read table 'nope.csv'" in result.stderr
