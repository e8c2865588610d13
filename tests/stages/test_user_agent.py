"""`user_agent`: real agent strings read with the uap-core database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.stages.user_agent import UA

from .stagebind import make_stage

NO_DEVICE = {"family": None, "brand": None, "model": None}

AGENTS = [
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        {
            "browser": {"family": "Chrome Mobile", "version": "124.0.0.0"},
            "os": {"family": "Android", "version": "14"},
            "device": {"family": "Samsung SM-S918B", "brand": "Samsung", "model": "SM-S918B"},
        },
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        {
            "browser": {"family": "Mobile Safari", "version": "17.4"},
            "os": {"family": "iOS", "version": "17.4"},
            "device": {"family": "iPhone", "brand": "Apple", "model": "iPhone"},
        },
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        {
            "browser": {"family": "Firefox", "version": "128.0"},
            "os": {"family": "Linux", "version": None},
            "device": NO_DEVICE,
        },
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        {
            "browser": {"family": "Googlebot", "version": "2.1"},
            "os": {"family": None, "version": None},
            "device": {"family": "Spider", "brand": "Spider", "model": "Desktop"},
        },
    ),
    (
        "definitely not a browser",
        {
            "browser": {"family": None, "version": None},
            "os": {"family": None, "version": None},
            "device": NO_DEVICE,
        },
    ),
]


@pytest.mark.parametrize(("agent", "ua"), AGENTS)
def test_real_agents(agent, ua):
    assert make_stage("user_agent")({"agent": agent}) == {"agent": agent, "ua": ua}


def test_a_field_path_and_into():
    stage = make_stage("user_agent(http.agent, into=client)")
    out = stage({"http": {"agent": AGENTS[2][0]}})
    assert out["client"] == AGENTS[2][1] and out["http"] == {"agent": AGENTS[2][0]}


def test_null_empty_and_non_text_give_null_and_only_non_text_is_counted():
    stage = make_stage("user_agent")
    assert [stage({"agent": a})["ua"] for a in (None, "", 42)] == [None, None, None]
    assert stage({})["ua"] is None
    assert stage.ctx.counters.get("invalid") == 1


def test_cached_answers_are_fresh_records():
    stage = make_stage("user_agent")
    first = stage({"agent": AGENTS[0][0]})
    first["ua"]["browser"]["family"] = "changed by a later stage"
    assert stage({"agent": AGENTS[0][0]})["ua"] == AGENTS[0][1]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_record_of_the_declared_shape(agent):
    out = make_stage("user_agent")({"agent": agent})["ua"]
    if agent == "":
        assert out is None
        return
    assert set(out) == {name for name, _ in UA.inner.fields}
    assert set(out["browser"]) == {"family", "version"} == set(out["os"])
    assert set(out["device"]) == {"family", "brand", "model"}
    for part in out.values():
        assert all(v is None or (isinstance(v, str) and v) for v in part.values())
