"""`anonymize(field, method=hash, key=env("FLOW_ANON_KEY"))`: GDPR-safe tokens."""

from __future__ import annotations

import os

from .. import codes
from ..types import ANY, STR, Nullable
from ._spec import EnvRef, Example, Kind, Param, RuleContext, StageSpec

KEY_ENV = "FLOW_ANON_KEY"


def _output(ctx: RuleContext):
    key = ctx.args["key"]
    if ctx.args["method"] == "hash" and isinstance(key, EnvRef) and key.name == KEY_ENV \
            and not ctx.given("key") and not os.environ.get(KEY_ENV):  # fmt: skip
        ctx.warn(
            codes.NO_ANON_KEY,
            f"anonymize has no key: `{KEY_ENV}` is not set and no `key=` is given",
            hint="tokens will differ between runs; set FLOW_ANON_KEY or pass key=env(\"…\")",
        )
    # every method maps str to str and null to null: the record type is unchanged
    return ctx.input


SPEC = StageSpec(
    name="anonymize",
    kind="processor",
    doc=(
        "Replaces a personal value. `hash`: hex HMAC-SHA256 keyed with `key` (same "
        "value and key give the same token, so joins still work; without the key "
        "the token cannot be reversed by a dictionary of e-mail addresses). `mask`: "
        "keeps the first character and, for e-mail addresses, the domain "
        "(`j***@example.com`). `redact`: `\"[REDACTED]\"`. `null` stays `null`."
    ),
    params=(
        Param("field", Kind.FIELD, "the value to anonymize",
              accepts=(STR, Nullable(STR), ANY)),
        Param("method", Kind.CHOICE, "how", default="hash",
              options={"hash": (), "mask": (), "redact": ()}),
        Param("key", Kind.VALUE, "HMAC key (its UTF-8 bytes)", type=STR,
              default=EnvRef(KEY_ENV), allow_env=True),
    ),  # fmt: skip
    output=_output,
    runtime="Anonymize",
    module=__name__,
    examples=(
        Example("anonymize(email)"),
        Example(
            "anonymize(email, method=mask)",
            input=({"email": "jane@example.com"},),
            output=({"email": "j***@example.com"},),
        ),
        Example(
            "anonymize(user, method=redact)",
            input=({"user": "jane"}, {"user": None}),
            output=({"user": "[REDACTED]"}, {"user": None}),
        ),
    ),
)
