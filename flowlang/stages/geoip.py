"""`geoip(field=ip, into=geo, db=…)`: country, city and coordinates of an IP address."""

from __future__ import annotations

from ..types import ANY, FLOAT, IP, STR, Nullable, RecordT, nullable
from ._rules import with_field
from ._spec import Example, Kind, Param, RuleContext, StageSpec

GEO = nullable(
    RecordT(
        (
            ("country_iso", Nullable(STR)),
            ("country", Nullable(STR)),
            ("city", Nullable(STR)),
            ("lat", Nullable(FLOAT)),
            ("lon", Nullable(FLOAT)),
        )
    )
)


def _output(ctx: RuleContext):
    return with_field(ctx.input, ctx.args["into"], GEO)


SPEC = StageSpec(
    name="geoip",
    kind="processor",
    doc=(
        "Looks up the address in `field` in a MaxMind DB and adds `into: "
        "{country_iso, country, city, lat, lon}?`, which is null when the address "
        "is private, reserved, unknown or invalid. The default database is GeoLite2 "
        "City from the `maxminddb-geolite2` package; `db=` takes any MaxMind DB file."
    ),
    params=(
        Param("field", Kind.FIELD, "the address", default=("ip",),
              accepts=(IP, STR, Nullable(IP), Nullable(STR), ANY)),
        Param("into", Kind.NEW_FIELD, "the field to add", default="geo"),
        Param("db", Kind.VALUE, "a MaxMind DB (.mmdb) file", type=STR, default=None,
              allow_env=True),
    ),  # fmt: skip
    output=_output,
    runtime="GeoIP",
    module=__name__,
    examples=(Example("geoip"), Example("geoip(client_ip, into=client_geo)")),
)
