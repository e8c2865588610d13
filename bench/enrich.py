"""Compiled `file(json) | geoip(ip) | anonymize(email) | sink file` against a
hand-written loop doing the same work with the same libraries (orjson,
maxminddb on the bundled GeoLite2 City database, HMAC-SHA256), in the same
process; and what geoip's lookup cache is worth."""

from __future__ import annotations

import functools
import hmac
import os
import random
import time
from pathlib import Path

import orjson

from ._harness import race

RECORDS = 200_000
ROUNDS = 3
CLIENTS = 5_000  # distinct client addresses, drawn with a skew as in web logs
USERS = 20_000
KEY = "bench-key-0123456789abcdef"

PROGRAM = """
pipeline bench =
  source file("{input}", format=json)
  | geoip(ip)
  | anonymize(email)
  | sink file("{output}")
"""


def _addresses(rnd: random.Random, n: int) -> list[str]:
    """Public addresses (a few private ones among them, as health checks are)."""
    out = []
    while len(out) < n:
        a, b = rnd.randrange(1, 224), rnd.randrange(256)
        if a in (10, 127) or (a, b) in ((192, 168), (169, 254)):
            continue
        out.append(f"{a}.{b}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}")
    out[: n // 100] = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(n // 100)]
    return out


def make_input(path: Path, n: int, clients: int = CLIENTS, seed: int = 1) -> None:
    rnd = random.Random(seed)
    pool = _addresses(rnd, clients)
    weights = [1.0 / (i + 1) for i in range(len(pool))]  # Zipf-like: few busy clients
    ips = rnd.choices(pool, weights, k=n)
    with open(path, "wb") as f:
        for i, ip in enumerate(ips):
            rec = {
                "id": i,
                "ip": ip,
                "email": f"user{rnd.randrange(USERS)}@example.com",
                "path": "/api/items/%d" % rnd.randrange(1000),
                "status": rnd.choice((200, 200, 200, 404, 500)),
            }
            f.write(orjson.dumps(rec) + b"\n")


def hand_written(src: Path, dst: Path) -> int:
    """The baseline: what one would write by hand for this pipeline, with the
    same null rules (private and unknown addresses give null) and a cache of
    the same size as the stage's."""
    import ipaddress

    import maxminddb
    from _maxminddb_geolite2 import geolite2_database

    reader = maxminddb.open_database(geolite2_database(), maxminddb.MODE_AUTO)
    key = KEY.encode()

    @functools.lru_cache(maxsize=16_384)
    def locate(ip: str):
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if not address.is_global or address.is_multicast:
            return None
        found = reader.get(ip)
        if found is None:
            return None
        country = found.get("country") or {}
        location = found.get("location") or {}
        return {
            "country_iso": country.get("iso_code"),
            "country": (country.get("names") or {}).get("en"),
            "city": ((found.get("city") or {}).get("names") or {}).get("en"),
            "lat": location.get("latitude"),
            "lon": location.get("longitude"),
        }

    loads, dumps = orjson.loads, orjson.dumps
    n = 0
    with open(src, "rb") as inp, open(dst, "ab") as out:
        batch = []
        for line in inp:
            rec = loads(line)
            geo = locate(rec["ip"])
            rec["geo"] = None if geo is None else dict(geo)
            email = rec.get("email")
            if email is not None:
                rec["email"] = hmac.digest(key, email.encode(), "sha256").hex()
            batch.append(dumps(rec))
            n += 1
            if len(batch) >= 1024:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return n


def pipeline_row() -> dict:
    saved = os.environ.get("FLOW_ANON_KEY")
    os.environ["FLOW_ANON_KEY"] = KEY
    try:
        best_compiled, best_hand = race(
            PROGRAM, make_input, hand_written, RECORDS, ROUNDS, "bench_enrich"
        )
    finally:
        if saved is None:
            os.environ.pop("FLOW_ANON_KEY", None)
        else:
            os.environ["FLOW_ANON_KEY"] = saved
    rps, base = RECORDS / best_compiled, RECORDS / best_hand
    return {
        "benchmark": "file(json) | geoip(ip) | anonymize(email) | sink file",
        "records_per_s": rps,
        "baseline_records_per_s": base,
        "ratio": rps / base,
        "note": f"{RECORDS:,} records, {CLIENTS:,} clients, best of {ROUNDS}; the loop uses "
        "hmac.digest and an lru_cache of the stage's size; target ratio >= 0.8",
    }


def cache_rows(n: int = 100_000) -> list[dict]:
    """geoip lookups per second with the cache against the same stage without it."""
    from flowlang.runtime.base import StageContext
    from flowlang.stages.geoip import GeoIP

    rnd = random.Random(2)
    rows = []
    for label, addresses in (
        (
            f"{CLIENTS:,} clients, skewed",
            rnd.choices(_addresses(rnd, CLIENTS), [1.0 / (i + 1) for i in range(CLIENTS)], k=n),
        ),
        ("all addresses distinct", _addresses(rnd, n)),
    ):
        rates = {}
        for cached in (True, False):
            best = float("inf")
            for _ in range(ROUNDS):
                stage = GeoIP(StageContext("bench", "geoip", "bench:1"))
                if not cached:
                    stage._resolve = stage._lookup
                records = [{"ip": ip} for ip in addresses]
                t = time.perf_counter()
                for rec in records:
                    stage(rec)
                best = min(best, time.perf_counter() - t)
            rates[cached] = n / best
        rows.append(
            {
                "benchmark": f"geoip lookup cache ({label})",
                "records_per_s": rates[True],
                "baseline_records_per_s": rates[False],
                "ratio": rates[True] / rates[False],
                "note": f"{n:,} lookups on GeoLite2 City; baseline: the same stage without its cache",
            }
        )
    return rows


def run() -> list[dict]:
    return [pipeline_row(), *cache_rows()]


if __name__ == "__main__":
    for row in run():
        print(row)
