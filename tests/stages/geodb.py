"""MaxMind DB files built by the tests with `mmdb-writer`, with known answers."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def _names(en: str) -> dict:
    return {"names": {"en": en, "de": en + " (de)"}}


# network -> the MaxMind record stored for it
CITY_NETWORKS: dict[str, dict] = {
    # a full City record
    "81.2.69.0/24": {
        "city": _names("London"),
        "country": {"iso_code": "GB", **_names("United Kingdom")},
        "location": {"latitude": 51.5142, "longitude": -0.0931},
    },
    # country and location, no city
    "89.160.0.0/16": {
        "country": {"iso_code": "SE", **_names("Sweden")},
        "location": {"latitude": 59.3247, "longitude": 18.056},
    },
    # country only
    "175.16.199.0/24": {"country": {"iso_code": "CN", **_names("China")}},
    # IPv6
    "2001:470::/32": {
        "city": _names("Fremont"),
        "country": {"iso_code": "US", **_names("United States")},
        "location": {"latitude": 37.5483, "longitude": -121.9886},
    },
    "2a02:ec80::/29": {
        "country": {"iso_code": "DE", **_names("Germany")},
        "location": {"latitude": 51.2993, "longitude": 9.491},
    },
    # a private range a database might carry; geoip must still answer null
    "10.0.0.0/8": {"country": {"iso_code": "ZZ", **_names("Intranet")}},
    # a record without any of the fields geoip reads
    "203.0.114.0/24": {"continent": {"code": "OC"}},
}

# address -> the `geo` value geoip must produce with CITY_NETWORKS
CITY_ANSWERS: dict[str, dict | None] = {
    "81.2.69.160": {
        "country_iso": "GB",
        "country": "United Kingdom",
        "city": "London",
        "lat": 51.5142,
        "lon": -0.0931,
    },
    "81.2.69.1": {
        "country_iso": "GB",
        "country": "United Kingdom",
        "city": "London",
        "lat": 51.5142,
        "lon": -0.0931,
    },
    "::ffff:81.2.69.7": {
        "country_iso": "GB",
        "country": "United Kingdom",
        "city": "London",
        "lat": 51.5142,
        "lon": -0.0931,
    },
    "89.160.20.112": {
        "country_iso": "SE",
        "country": "Sweden",
        "city": None,
        "lat": 59.3247,
        "lon": 18.056,
    },
    "175.16.199.10": {
        "country_iso": "CN",
        "country": "China",
        "city": None,
        "lat": None,
        "lon": None,
    },
    "2001:470:1:2::3": {
        "country_iso": "US",
        "country": "United States",
        "city": "Fremont",
        "lat": 37.5483,
        "lon": -121.9886,
    },
    "2001:0470:0001:0002:0000:0000:0000:0003": {
        "country_iso": "US",
        "country": "United States",
        "city": "Fremont",
        "lat": 37.5483,
        "lon": -121.9886,
    },
    "2a02:ec80:1::1": {
        "country_iso": "DE",
        "country": "Germany",
        "city": None,
        "lat": 51.2993,
        "lon": 9.491,
    },
    "203.0.114.9": {"country_iso": None, "country": None, "city": None, "lat": None, "lon": None},
}

# address -> the counter it bumps (geo is null)
CITY_NULLS: dict[str, str] = {
    "10.1.2.3": "private",
    "192.168.0.10": "private",
    "172.16.5.4": "private",
    "127.0.0.1": "private",
    "169.254.1.1": "private",
    "100.64.0.1": "private",
    "224.0.0.251": "private",
    "255.255.255.255": "private",
    "0.0.0.0": "private",
    "192.0.2.1": "private",
    "::1": "private",
    "::": "private",
    "fe80::1": "private",
    "fe80::1%eth0": "private",
    "fd12:3456:789a::1": "private",
    "ff02::1": "private",
    "2001:db8::1": "private",
    "::ffff:10.0.0.1": "private",
    "8.8.8.8": "not_found",
    "2606:4700::1111": "not_found",
    "not an address": "invalid",
    "": "invalid",
    "1.2.3": "invalid",
    "1.2.3.4.5": "invalid",
    "256.1.1.1": "invalid",
    "01.2.3.4": "invalid",
    "2001:470::zz": "invalid",
    "1.2.3.4\x00": "invalid",
}


def build_city_db(path: Path) -> Path:
    """A GeoIP2-City-shaped IPv6 database (IPv4 mapped) holding CITY_NETWORKS."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoIP2-City",
        languages=["en", "de"],
        description="flowlang test database",
    )
    for network, record in CITY_NETWORKS.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def build_ipv4_db(path: Path) -> Path:
    """An IPv4-only database with one network."""
    writer = MMDBWriter(
        ip_version=4,
        database_type="GeoIP2-Country",
        languages=["en"],
        description="flowlang IPv4 test database",
    )
    writer.insert_network(IPSet(["81.2.69.0/24"]), CITY_NETWORKS["81.2.69.0/24"])
    writer.to_db_file(str(path))
    return path
