"""lookup from CSV, JSON and JSON-lines tables."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang import codes
from flowlang.checker import check_source
from flowlang.runtime.base import StageContext
from flowlang.runtime.errors import FlowError
from flowlang.source import SourceFile
from flowlang.stages.lookup import Lookup, key_text
from flowlang.types import ANY, OPEN_RECORD, nullable
from tests.flowrun import run_flow, run_flow_cli, write_jsonl

HOSTS_CSV = "host,team,tier\nweb-1,payments,1\nweb-2,search,2\n42,numbers,3\nweb-1,payments-new,1\n"


def stage(table, key=("host",), into="owner", column=None) -> Lookup:
    return Lookup(
        StageContext("p", "lookup (t.flow:2)", "t.flow:2"),
        table=str(table),
        key=key,
        into=into,
        column=column,
    )


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
@given(
    st.one_of(
        st.integers(),
        st.booleans(),
        st.text(max_size=10),
        st.floats(allow_nan=False, allow_infinity=False),
    )
)
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
    path.write_text(json.dumps({"u1": {"name": "Ann", "roles": ["admin"]}, "u2": {"name": "Bo"}}))
    look = stage(path, key=("user", "id"), into="account")
    rec = look({"user": {"id": "u1"}})
    assert rec["account"] == {"name": "Ann", "roles": ["admin"]}
    rec["account"]["roles"].append("changed")  # a later stage changing the row
    assert look({"user": {"id": "u1"}})["account"]["roles"] == ["admin"]


def test_json_list_of_objects_with_column(tmp_path):
    path = tmp_path / "users.json"
    path.write_text(json.dumps([{"id": 7, "name": "Ann"}, {"id": 8, "name": "Bo"}, {"name": "x"}]))
    look = stage(path, key=("uid",), column="id")
    assert look({"uid": 8})["owner"] == {"id": 8, "name": "Bo"}
    assert look({"uid": "7"})["owner"]["name"] == "Ann"


def test_json_lines_table(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"code": "DE", "name": "Germany"}\n\n{"code": "FR", "name": "France"}\n')
    look = stage(path, key=("cc",), column="code", into="country")
    assert look({"cc": "FR"})["country"] == {"code": "FR", "name": "France"}


def test_each_record_gets_its_own_row(hosts_csv):
    look = stage(hosts_csv)
    first = look({"host": "web-2"})
    first["owner"]["team"] = "changed"
    assert look({"host": "web-2"})["owner"]["team"] == "search"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.csv", "a,b\n1,2\n", "has no column 'host'"),
        ("t.csv", "", "has no column 'host'"),
        ("t.csv", 'host,x\n"unterminated,1\n', "not usable"),
        ("t.json", "[1, 2]", "row 1 is not an object"),
        (
            "t.json",
            '{"a": {"x": 1}, "b": 1}',
            "mixes objects \\(key 'a'\\) and plain values \\(key 'b'\\)",
        ),
        ("t.json", '"text"', "expected an object of objects or a list of objects"),
        ("t.json", "{broken", "not usable"),
        ("t.txt", "host\nx\n", "must be a .csv, .json, .jsonl or .ndjson file"),
    ],
)
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
    program = (
        'source file("input.jsonl") | lookup("nope.csv", key=host) | sink file("output.jsonl")'
    )
    result = run_flow(program, tmp_path, records=[{"host": "a"}])
    assert result.exit_code == 2
    assert "cannot read table 'nope.csv'" in result.stderr


# ---------------------------------------------------------------- key → value tables

COUNTRIES = {"CZ": "Czech Republic", "DE": "Germany", "42": 7, "L": ["a", "b"], "N": None}


@pytest.fixture
def countries(tmp_path):
    path = tmp_path / "countries.json"
    path.write_text(json.dumps(COUNTRIES), encoding="utf-8")
    return path


def test_a_json_object_of_plain_values_maps_keys_to_values(countries):
    look = stage(countries, key=("cc",), into="country")
    assert look({"cc": "CZ"}) == {"cc": "CZ", "country": "Czech Republic"}
    assert look({"cc": 42})["country"] == 7
    assert look({"cc": "N"})["country"] is None  # a key whose value is null is not missing
    assert look({"cc": "FR"})["country"] is None
    assert look.ctx.counters == {"missing": 1}


def test_each_record_gets_its_own_list_value(countries):
    look = stage(countries, key=("cc",), into="letters")
    look({"cc": "L"})["letters"].append("changed")
    assert look({"cc": "L"})["letters"] == ["a", "b"]


def test_a_key_value_table_has_no_column(countries):
    with pytest.raises(FlowError, match="maps keys to plain values, so it has no column 'code'"):
        stage(countries, key=("cc",), column="code")


@settings(max_examples=100)
@given(
    st.dictionaries(
        st.text(max_size=4),
        st.none() | st.booleans() | st.integers() | st.text(max_size=4),
        max_size=6,
    ),
    st.lists(st.text(max_size=4) | st.integers(-3, 3), max_size=6),
)
def test_a_key_value_table_gives_the_value_of_the_keys_text(tmp_path_factory, table, keys):
    path = tmp_path_factory.mktemp("t") / "t.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    look = stage(path, key=("k",), into="v")
    for key in keys:
        assert look({"k": key})["v"] == table.get(key_text(key))


def test_a_key_value_table_in_a_run(tmp_path):
    (tmp_path / "countries.json").write_text(json.dumps(COUNTRIES))
    write_jsonl(tmp_path / "in.jsonl", [{"cc": "CZ"}, {"cc": "FR"}, {"cc": "DE"}])
    (tmp_path / "geo.flow").write_text(
        'source file("in.jsonl", format=json)\n'
        '  | lookup("countries.json", key=cc, into=country)\n'
        "  | set shout = upper(country)\n"
        '  | sink file("out.jsonl")\n'
    )
    done = run_flow_cli(tmp_path / "geo.flow", "--strict", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows == [
        {"cc": "CZ", "country": "Czech Republic", "shout": "CZECH REPUBLIC"},
        {"cc": "FR", "country": None, "shout": None},
        {"cc": "DE", "country": "Germany", "shout": "GERMANY"},
    ]


# ---------------------------------------------------------------- checked with the program


def check_in(folder, table: str, extra: str = ""):
    """Check a lookup of `table` from `folder` (relative tables are found in
    the working directory, as when the program runs)."""
    text = f'source stdin(format=json) | lookup("{table}", key=cc, into=c{extra}) | sink stdout\n'
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        plan, diags = check_source(SourceFile("t.flow", text))
    finally:
        os.chdir(cwd)
    return plan, [(d.code, d.message) for d in diags]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.json", '{"a": {"x": 1}, "b": 1}', "mixes objects (key 'a') and plain values (key 'b')"),
        ("t.json", "[1]", "row 1 is not an object"),
        ("t.json", "{broken", "not usable"),
        ("t.csv", "code,name\nCZ,Czechia\n", "the CSV header has no column 'cc'"),
        ("t.txt", "{}", "must be a .csv, .json, .jsonl or .ndjson file"),
    ],
)
def test_a_table_there_when_the_program_is_checked_is_checked_then(
    tmp_path, name, content, message
):
    (tmp_path / name).write_text(content)
    _, diags = check_in(tmp_path, name)
    ((code, text),) = diags
    assert code == codes.BAD_TABLE and message in text and name in text


def test_column_of_a_key_value_table_is_an_error_when_checked(tmp_path, countries):
    _, diags = check_in(tmp_path, "countries.json", ', column="code"')
    assert [c for c, _ in diags] == [codes.BAD_TABLE]


def test_a_table_not_there_when_checked_is_checked_when_the_run_starts(tmp_path):
    plan, diags = check_in(tmp_path, "later.json")
    assert diags == [] and plan is not None


def test_the_type_of_into_follows_what_the_text_says(tmp_path, countries, hosts_csv):
    def into_type(table, extra=""):
        plan, diags = check_in(tmp_path, table, extra)
        assert diags == []
        return plan.pipelines[0].steps[0].output_type.get("c")

    # a .json object may hold rows or plain values: the text cannot tell, and
    # the type does not depend on the file
    assert into_type("countries.json") == ANY
    assert into_type("hosts.csv", ', column="host"') == nullable(OPEN_RECORD)


def test_a_bad_table_named_by_env_stops_the_start(tmp_path):
    (tmp_path / "mixed.json").write_text('{"CZ": {"name": "Czechia"}, "DE": "Germany"}')
    write_jsonl(tmp_path / "in.jsonl", [{"cc": "CZ"}])
    (tmp_path / "geo.flow").write_text(
        'source file("in.jsonl", format=json)\n'
        '  | lookup(env("TABLE"), key=cc)\n'
        '  | sink file("out.jsonl")\n'
    )
    done = run_flow_cli(tmp_path / "geo.flow", cwd=tmp_path, env={"TABLE": "mixed.json"})
    assert done.returncode == 2
    assert b"mixes objects (key 'CZ') and plain values (key 'DE')" in done.stderr
    assert not (tmp_path / "out.jsonl").exists()
