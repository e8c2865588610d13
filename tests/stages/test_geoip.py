"""geoip on databases the tests build, on the packaged GeoLite2 City database,
and through compiled pipelines."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import StageContext
from flowlang.runtime.errors import FlowError
from flowlang.stages.geoip import CACHE_SIZE, GeoIP, default_database
from tests.flowrun import run_flow
from tests.stages.geodb import CITY_ANSWERS, CITY_NULLS, build_city_db, build_ipv4_db


@pytest.fixture(scope="module")
def city_db(tmp_path_factory):
    return build_city_db(tmp_path_factory.mktemp("geo") / "city.mmdb")


def stage(db=None, **args) -> GeoIP:
    return GeoIP(
        StageContext("p", "geoip(ip) (t.flow:2)", "t.flow:2"), db=str(db) if db else None, **args
    )


@pytest.mark.parametrize("address", sorted(CITY_ANSWERS))
def test_known_answers(city_db, address):
    geo = stage(city_db)
    rec = geo({"ip": address, "n": 1})
    assert rec == {"ip": address, "n": 1, "geo": CITY_ANSWERS[address]}
    assert geo.ctx.counters == {}


@pytest.mark.parametrize("address", sorted(CITY_NULLS))
def test_null_answers_are_counted(city_db, address):
    geo = stage(city_db)
    assert geo({"ip": address})["geo"] is None
    assert geo.ctx.counters == {CITY_NULLS[address]: 1}


def test_private_range_in_the_database_is_still_null(city_db):
    # the test database maps 10.0.0.0/8 to a country; private space never gets one
    import maxminddb

    assert maxminddb.open_database(str(city_db)).get("10.1.2.3") is not None
    assert stage(city_db)({"ip": "10.1.2.3"})["geo"] is None


def test_null_missing_and_non_text_values(city_db):
    geo = stage(city_db)
    assert geo({"ip": None})["geo"] is None
    assert geo({})["geo"] is None
    assert geo({"ip": 1234})["geo"] is None
    assert geo({"ip": ["81.2.69.1"]})["geo"] is None
    assert geo.ctx.counters == {"missing": 2, "invalid": 2}


def test_ipaddress_objects_are_accepted(city_db):
    rec = stage(city_db)({"ip": ipaddress.ip_address("81.2.69.160")})
    assert rec["geo"]["city"] == "London"


def test_surrounding_whitespace_is_ignored(city_db):
    assert stage(city_db)({"ip": " 81.2.69.160\n"})["geo"]["country_iso"] == "GB"


def test_nested_field_and_into(city_db):
    geo = stage(city_db, field=("client", "addr"), into="where")
    rec = geo({"client": {"addr": "2001:470:1:2::3"}})
    assert rec["where"]["city"] == "Fremont"
    assert rec["client"] == {"addr": "2001:470:1:2::3"}
    assert geo({"client": None})["where"] is None
    assert geo.ctx.counters == {"missing": 1}


def test_counters_count_records_not_cache_misses(city_db):
    geo = stage(city_db)
    for _ in range(5):
        geo({"ip": "10.0.0.1"})
        geo({"ip": "8.8.8.8"})
        geo({"ip": "81.2.69.1"})
    assert geo.ctx.counters == {"private": 5, "not_found": 5}
    info = geo._resolve.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (12, 3, CACHE_SIZE)


def test_each_record_gets_its_own_geo_record(city_db):
    geo = stage(city_db)
    first = geo({"ip": "81.2.69.1"})
    first["geo"]["city"] = "changed by a later stage"
    second = geo({"ip": "81.2.69.1"})
    assert second["geo"]["city"] == "London"


def test_ipv6_lookup_in_an_ipv4_database_is_not_found(tmp_path):
    geo = stage(build_ipv4_db(tmp_path / "v4.mmdb"))
    assert geo({"ip": "2001:470::1"})["geo"] is None
    assert geo({"ip": "81.2.69.9"})["geo"]["country_iso"] == "GB"
    assert geo.ctx.counters == {"not_found": 1}


def test_missing_or_broken_database_is_a_start_error(tmp_path):
    with pytest.raises(FlowError, match="cannot open MaxMind DB .*nope.mmdb"):
        stage(tmp_path / "nope.mmdb")
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"this is not a MaxMind database" * 100)
    with pytest.raises(FlowError, match="cannot open MaxMind DB"):
        stage(bad)


@settings(max_examples=150, deadline=None)
@given(
    value=st.one_of(
        st.text(max_size=60),
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda a: a.exploded),
        st.integers(),
        st.none(),
        st.floats(allow_nan=True),
    )
)
def test_any_value_gives_a_geo_record_or_null(city_db, value):
    geo = stage(city_db)
    rec = geo({"ip": value})
    out = rec["geo"]
    assert out is None or set(out) == {"country_iso", "country", "city", "lat", "lon"}
    counted = sum(geo.ctx.counters.values())
    assert counted == (1 if out is None else 0)


# ---------------------------------------------------------------- the packaged database


@pytest.fixture(scope="module")
def geolite():
    return stage()


def test_default_database_is_geolite2_city(geolite):
    assert default_database().endswith("GeoLite2-City.mmdb")
    assert geolite.reader.metadata().database_type == "GeoLite2-City"
    assert type(geolite.reader).__module__ == "maxminddb.extension"  # the C reader


@pytest.mark.parametrize(
    ("address", "iso", "country", "city"),
    [
        ("8.8.8.8", "US", "United States", None),
        ("1.1.1.1", "AU", "Australia", "Research"),
        ("193.0.6.139", "NL", "Netherlands", "Amsterdam"),
        ("128.101.101.101", "US", "United States", "Minneapolis"),
        ("89.160.20.112", "SE", "Sweden", "Stockholm"),
        ("2001:4860:4860::8888", "US", "United States", "Mountain View"),
        ("2a03:2880:f10c:83:face:b00c:0:25de", "IE", "Ireland", None),
    ],
)
def test_well_known_public_addresses(geolite, address, iso, country, city):
    out = geolite({"ip": address})["geo"]
    assert (out["country_iso"], out["country"], out["city"]) == (iso, country, city)
    assert isinstance(out["lat"], float) and isinstance(out["lon"], float)


@pytest.mark.parametrize("address", ["10.0.0.1", "192.168.1.1", "127.0.0.1", "::1", "fc00::1"])
def test_private_addresses_on_the_default_database(geolite, address):
    assert geolite({"ip": address})["geo"] is None


# ---------------------------------------------------------------- compiled pipelines


def test_geoip_in_a_compiled_pipeline(tmp_path, city_db):
    records = [
        {"ip": "81.2.69.160"},
        {"ip": "10.0.0.1"},
        {"ip": "garbage"},
        {"ip": "2001:470:1:2::3"},
        {"ip": "8.8.8.8"},
        {"other": 1},
    ]
    program = (
        'source file("input.jsonl", format=json)\n'
        '  | geoip(ip, into=place, db=env("GEO_DB"))\n'
        '  | sink file("output.jsonl")\n'
    )
    result = run_flow(program, tmp_path, records=records, env={"GEO_DB": str(city_db)})
    assert result.exit_code == 0, result.stderr
    assert result.errors == []
    assert [r["place"] for r in result.output] == [
        CITY_ANSWERS["81.2.69.160"],
        None,
        None,
        CITY_ANSWERS["2001:470:1:2::3"],
        None,
        None,
    ]
    stage_metrics = result.metrics["test"]["stages"][1]
    assert stage_metrics["counters"] == {
        "private": 1,
        "invalid": 1,
        "not_found": 1,
        "missing": 1,
    }


def test_seed_example_shape_with_default_database(tmp_path):
    program = 'source file("input.jsonl")\n  | geoip\n  | sink file("output.jsonl")\n'
    result = run_flow(program, tmp_path, records=[{"ip": "193.0.6.139"}])
    assert result.exit_code == 0, result.stderr
    assert result.output[0]["geo"]["city"] == "Amsterdam"
