"""`user_agent(field=agent, into=ua)`: browser, operating system and device of a user-agent string."""

from __future__ import annotations

from ..types import ANY, STR, Nullable, RecordT, nullable
from ._rules import with_field
from .spec import Example, Param, ParamKind, RuleContext, StageSpec

_PART = RecordT((("family", Nullable(STR)), ("version", Nullable(STR))))
UA = nullable(
    RecordT(
        (
            ("browser", _PART),
            ("os", _PART),
            (
                "device",
                RecordT(
                    (
                        ("family", Nullable(STR)),
                        ("brand", Nullable(STR)),
                        ("model", Nullable(STR)),
                    )
                ),
            ),
        )
    )
)


def _output(ctx: RuleContext):
    return with_field(ctx.input, ctx.args["into"], UA)


SPEC = StageSpec(
    name="user_agent",
    role="processor",
    doc=(
        "Reads the browser, operating system and device from the user-agent "
        "string in `field` and adds `into: {browser: {family, version}, os: "
        "{family, version}, device: {family, brand, model}}?`, with the regular "
        "expressions of the uap-core project (the `ua-parser` package, updated "
        "with it). What the database does not recognise is null (uap-core says "
        "`Other`); a version joins the parts it knows with dots (`124.0.6367.91`). "
        "`into` is null when the field is null or empty; a value that is not "
        "text is counted as `invalid`. Answers are cached (16,384 strings), as "
        "logs repeat a few agents many times."
    ),
    params=(
        Param(
            "field",
            ParamKind.FIELD,
            "the user-agent string",
            default=("agent",),
            accepts=(STR, Nullable(STR), ANY),
        ),
        Param("into", ParamKind.NEW_FIELD, "the field to add", default="ua"),
    ),
    output=_output,
    runtime="UserAgent",
    module=__name__,
    examples=(
        Example(
            "user_agent",
            input=(
                {
                    "agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                    "(KHTML, like Gecko) Chrome/124.0.6367.91 Safari/537.36"
                },
                {"agent": "curl/8.5.0"},
                {"agent": None},
            ),
            output=(
                {
                    "agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                    "(KHTML, like Gecko) Chrome/124.0.6367.91 Safari/537.36",
                    "ua": {
                        "browser": {"family": "Chrome", "version": "124.0.6367.91"},
                        "os": {"family": "Windows", "version": "10"},
                        "device": {"family": None, "brand": None, "model": None},
                    },
                },
                {
                    "agent": "curl/8.5.0",
                    "ua": {
                        "browser": {"family": "curl", "version": "8.5.0"},
                        "os": {"family": None, "version": None},
                        "device": {"family": None, "brand": None, "model": None},
                    },
                },
                {"agent": None, "ua": None},
            ),
        ),
        Example("user_agent(http.user_agent, into=client)"),
    ),
)

CACHE_SIZE = 16_384


def _version(*parts) -> str | None:
    known = []
    for part in parts:
        if part is None or part == "":
            break
        known.append(str(part))
    return ".".join(known) or None


def _family(name) -> str | None:
    return None if name in (None, "", "Other") else name


class UserAgent:
    """Adds `into` from the uap-core reading of the string in `field`."""

    def __init__(self, ctx, field=("agent",), into="ua"):
        import functools

        from ua_parser import parse

        from ..runtime.ops import get_path

        self.ctx = ctx
        self.path = tuple(field)
        self._name = self.path[0] if len(self.path) == 1 else None
        self.into = into
        self._get_path = get_path
        self._parse = parse
        self._read = functools.lru_cache(maxsize=CACHE_SIZE)(self._lookup)

    def __call__(self, rec):
        name = self._name
        value = rec.get(name) if name is not None else self._get_path(rec, self.path)
        if value.__class__ is not str or not value:
            if value is not None and value != "":
                self.ctx.count("invalid")
            rec[self.into] = None
            return rec
        found = self._read(value)
        # a fresh record per input: later stages may change it in place
        rec[self.into] = {
            "browser": dict(found["browser"]),
            "os": dict(found["os"]),
            "device": dict(found["device"]),
        }
        return rec

    def _lookup(self, text: str) -> dict:
        result = self._parse(text)
        agent, os, device = result.user_agent, result.os, result.device
        return {
            "browser": {
                "family": _family(agent and agent.family),
                "version": _version(agent.major, agent.minor, agent.patch, agent.patch_minor)
                if agent
                else None,
            },
            "os": {
                "family": _family(os and os.family),
                "version": _version(os.major, os.minor, os.patch, os.patch_minor) if os else None,
            },
            "device": {
                "family": _family(device and device.family),
                "brand": device.brand if device else None,
                "model": device.model if device else None,
            },
        }
