"""`anonymize(field, method=hash, key=env("FLOW_ANON_KEY"))`: GDPR-safe tokens."""

from __future__ import annotations

from .. import codes
from ..runtime.digest import Hmac, utf8
from ..types import ANY, STR, Nullable
from .spec import EnvRef, Example, Param, ParamKind, RuleContext, StageSpec

KEY_ENV = "FLOW_ANON_KEY"


def _output(ctx: RuleContext):
    key = ctx.args["key"]
    if ctx.given("key") and (not isinstance(key, EnvRef) or key.default):
        # a key written in the program (even as env()'s default) would be
        # copied into the generated module
        ctx.error(
            codes.BAD_ARG_VALUE,
            "the anonymize key must come from the environment, not the program text",
            param="key",
            hint='put the key in an environment variable and pass key=env("NAME")',
        )
    # whether the key is set is the run's business (checking is a function of
    # the text alone: a compiled program is cached and run elsewhere)
    # every method maps str to str and null to null: the record type is unchanged
    return ctx.input


# tokens `hash` keeps for values seen lately (a few MB at most)
TOKEN_CACHE = 16_384

SPEC = StageSpec(
    name="anonymize",
    role="processor",
    doc=(
        "Replaces a personal value. `hash`: hex HMAC-SHA256 keyed with `key` (same "
        "value and key give the same token, so joins and counts still work; "
        "without the key the token cannot be reversed by hashing a dictionary of "
        "e-mail addresses). `mask`: keeps the first character and, for e-mail "
        "addresses, the domain (`j***@example.com`); a one-character part is fully "
        'masked. `redact`: `"[REDACTED]"`. `null` stays `null`; numbers and '
        "booleans are anonymized as their text. The key comes from the "
        'environment (`FLOW_ANON_KEY` or `key=env("NAME")`); without one, a run '
        "warns when it starts (W501) and uses a random key that is never written "
        "anywhere, so tokens differ between runs. The tokens of the last "
        f"{TOKEN_CACHE:,} "
        "values hashed are kept in memory for the run (never written anywhere), as "
        "logs repeat the same users and addresses. See docs/privacy.md for what "
        "each method protects against."
    ),
    params=(
        Param(
            "field", ParamKind.FIELD, "the value to anonymize", accepts=(STR, Nullable(STR), ANY)
        ),
        Param(
            "method",
            ParamKind.CHOICE,
            "how",
            default="hash",
            options={"hash": (), "mask": (), "redact": ()},
        ),
        Param(
            "key",
            ParamKind.VALUE,
            "HMAC key (its UTF-8 bytes), from the environment",
            type=STR,
            default=EnvRef(KEY_ENV, ""),
        ),
    ),
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


# ---------------------------------------------------------------- runtime

REDACTED = "[REDACTED]"

_run_key: bytes | None = None


def run_key() -> bytes:
    """The random key of this run (this process), made on first use. It lives
    only in memory: it is never logged, stored or put in generated code."""
    global _run_key
    if _run_key is None:
        import secrets

        _run_key = secrets.token_bytes(32)
    return _run_key


def _mask_part(text: str) -> str:
    # keeping the only character of a one-character part would reveal it all
    return text[0] + "***" if len(text) > 1 else "***"


def mask(text: str) -> str:
    """`jane@example.com` → `j***@example.com`; `jane` → `j***`; `` stays ``."""
    if not text:
        return text
    local, at, domain = text.rpartition("@")
    if at and domain:
        return (_mask_part(local) if local else "***") + "@" + domain
    return _mask_part(text)


def _scalar_text(value) -> str | None:
    """The text of a number or boolean (as JSON writes it), else None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return None


class Anonymize:
    """Replaces the value at `field` by a token (`hash`), a mask or `[REDACTED]`.

    A value that is neither text, a number nor a boolean (a list, a record) is
    redacted in place and the record goes to the error stream, so the original
    never leaves the stage.
    """

    def __init__(self, ctx, field, method="hash", method_args=None, key=""):
        import functools
        import sys

        from ..runtime.ops import get_path, set_path

        self.ctx = ctx
        self.path = tuple(field)
        self._name = self.path[0] if len(self.path) == 1 else None
        self.method = method
        self._get_path, self._set_path = get_path, set_path
        if method == "hash":
            if not key:
                sys.stderr.write(
                    f"flowc: warning[{codes.NO_ANON_KEY}]: {ctx.stage}: anonymize has no key "
                    f"({KEY_ENV} is not set); using a random key for this run, so tokens "
                    "differ between runs\n"
                )
            self._hmac = Hmac(utf8(key) if key else run_key())
            # the tokens of recent values: the same address or user recurs
            # all through a log, and a token is a pure function of its value
            self.replace = functools.lru_cache(maxsize=TOKEN_CACHE)(self._hash)
        elif method == "mask":
            self.replace = mask
        elif method == "redact":
            self.replace = _redact
        else:
            raise ValueError(f"unknown anonymize method {method!r}")

    def _hash(self, text: str) -> str:
        return self._hmac.hexdigest(utf8(text))

    def __call__(self, rec):
        name = self._name
        if name is not None:
            value = rec.get(name)
            if value.__class__ is str:
                rec[name] = self.replace(value)
                return rec
            if value is None:
                return rec
        else:
            value = self._get_path(rec, self.path)
            if value is None:
                return rec
        if not isinstance(value, str):
            text = _scalar_text(value)
            if text is None:
                return self._refuse(rec, value)
            value = text
        self._set_path(rec, self.path, self.replace(value))
        return rec

    def _refuse(self, rec, value):
        from ..runtime.base import RecordError

        self._set_path(rec, self.path, REDACTED)
        what = "a record" if isinstance(value, dict) else f"a {type(value).__name__} value"
        where = ".".join(self.path)
        raise RecordError(
            "type",
            f"anonymize: `{where}` is {what}, not text; it was redacted",
        )


def _redact(text: str) -> str:
    return REDACTED
