"""examples/metrics.flow end to end: `flowc run` into a real VictoriaMetrics
(speaking the InfluxDB write API), then the series are read back.

examples/expected/metrics.jsonl holds the samples the database must hold
afterwards, one per line: `{"series", "tags", "value", "time"}` (series is
`<measurement>_<field>`, as VictoriaMetrics names them; time in ISO 8601).
It is checked twice: against what the run wrote, and against a plain
reference computation from the input data (JSON, the GeoLite2 database read
directly, a group-by and a z-score written out by hand), so the golden file is
not just whatever the code happened to produce. After a deliberate change,
rewrite it with `python -m tests.metrics.test_metrics_example`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

from tests.flowrun import read_jsonl, run_flow_cli
from tests.metrics.test_anomaly import zscore_reference
from tests.metrics.test_summarize_properties import reference as summarize_reference

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data" / "requests.jsonl"
EXPECTED = ROOT / "examples" / "expected" / "metrics.jsonl"
UTC = dt.timezone.utc


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _valid(rec: dict) -> dict | None:
    """The record as the schema makes it, or None when it does not fit."""
    try:
        ts = _time(rec["ts"])
    except ValueError:
        return None
    if not isinstance(rec["latency_ms"], (int, float)):
        return None
    return dict(rec, ts=ts, latency_ms=float(rec["latency_ms"]))


def expected_samples() -> list[dict]:
    """The samples examples/metrics.flow must write, computed from scratch."""
    from geolite2 import geolite2

    reader = geolite2.reader()
    records = []
    for line in DATA.read_text().splitlines():
        rec = _valid(json.loads(line))
        if rec is None:
            continue
        found = reader.get(rec["client"]) or {}
        rec["country"] = found.get("country", {}).get("iso_code") or "unknown"
        records.append(rec)

    samples = []
    rows, _late = summarize_reference(
        records,
        60_000,
        15_000,
        aggregates=(("requests", "count", None), ("p95_latency_ms", "p95", ("latency_ms",))),
        keys=(("country", ("country",)),),
    )
    for row in rows:
        for field in ("requests", "p95_latency_ms"):
            samples.append(
                {
                    "series": f"requests_{field}",
                    "tags": {"country": row["country"]},
                    "value": float(row[field]),
                    "time": _iso(row["window_start"]),
                }
            )

    scores = zscore_reference(
        [r["latency_ms"] for r in records], [r["host"] for r in records], 100, 10, 4.0
    )
    for rec, (flagged, score) in zip(records, scores):
        if flagged:
            samples.append(
                {
                    "series": "latency_anomalies_latency_ms",
                    "tags": {"host": rec["host"]},
                    "value": rec["latency_ms"],
                    "time": _iso(rec["ts"]),
                }
            )
            if score is not None:
                samples.append(
                    {
                        "series": "latency_anomalies_anomaly_score",
                        "tags": {"host": rec["host"]},
                        "value": score,
                        "time": _iso(rec["ts"]),
                    }
                )
    return _sorted(samples)


def _sorted(samples: list[dict]) -> list[dict]:
    return sorted(samples, key=lambda s: (s["time"], s["series"], sorted(s["tags"].items())))


def _same(got: list[dict], want: list[dict]) -> None:
    assert [(s["series"], s["tags"], s["time"]) for s in got] == [
        (s["series"], s["tags"], s["time"]) for s in want
    ]
    for g, w in zip(got, want):
        assert math.isclose(g["value"], w["value"], rel_tol=1e-9), (g, w)


def test_the_expected_series_follow_from_the_data():
    expected = read_jsonl(EXPECTED)
    _same(expected_samples(), expected)
    # the example shows something: several countries, the private range,
    # the latency incident on web-2 and the one slow request on web-3
    countries = {s["tags"]["country"] for s in expected if s["series"] == "requests_requests"}
    assert {"US", "GB", "DE", "JP", "unknown"} <= countries
    anomalies = [
        (s["tags"]["host"], s["value"])
        for s in expected
        if s["series"] == "latency_anomalies_latency_ms"
    ]
    assert anomalies == [
        ("web-2", 1180.5),
        ("web-2", 947.2),
        ("web-2", 1320.0),
        ("web-3", 655.8),
    ]


def test_the_metrics_example_runs_into_victoria_metrics(victoria_metrics, tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    proc = run_flow_cli(
        Path("examples") / "metrics.flow",
        cwd=tmp_path,
        env={
            "FLOW_INFLUX_URL": victoria_metrics.url,
            "FLOW_INFLUX_BUCKET": "metrics",
            "FLOWC_CACHE_DIR": str(tmp_path / "cache"),
        },
    )
    assert proc.returncode == 0, proc.stderr.decode()

    written = []
    for measurement in ("requests", "latency_anomalies"):
        for field, tags, value, ts in victoria_metrics.samples(measurement):
            when = dt.datetime.fromtimestamp(ts / 1000, UTC)
            written.append(
                {
                    "series": f"{measurement}_{field}",
                    "tags": tags,
                    "value": value,
                    "time": _iso(when),
                }
            )
    _same(_sorted(written), read_jsonl(EXPECTED))

    # nothing was dropped silently: the two malformed lines and the two
    # stragglers are in the error files, with their reasons
    invalid = read_jsonl(tmp_path / "out" / "metrics" / "invalid.jsonl")
    assert [e["code"] for e in invalid] == ["schema", "schema"]
    assert "latency_ms" in invalid[0]["message"] and "n/a" in invalid[0]["raw"]
    late = read_jsonl(tmp_path / "out" / "metrics" / "late.jsonl")
    assert [e["code"] for e in late] == ["late", "late"]
    assert all("already emitted" in e["message"] for e in late)
    assert all(e["record"]["host"].startswith("web-") for e in late)


def main() -> None:
    """Rewrite examples/expected/metrics.jsonl from the reference computation."""
    with open(EXPECTED, "w", encoding="utf-8") as f:
        for sample in expected_samples():
            f.write(json.dumps(sample) + "\n")


if __name__ == "__main__":
    main()
