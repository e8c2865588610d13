"""`anomaly(field, method=zscore, threshold=3.0, window=100, by=[…])`."""

from __future__ import annotations

from ..types import ANY, BOOL, FLOAT, INT, Nullable
from ._rules import with_field
from ._spec import Example, Kind, Param, RuleContext, StageSpec


def _output(ctx: RuleContext):
    out = with_field(ctx.input, "anomaly", BOOL)
    return with_field(out, "anomaly_score", Nullable(FLOAT))


SPEC = StageSpec(
    name="anomaly",
    kind="processor",
    doc=(
        "Flags values far from what came before, per key (`by`). `zscore`: the "
        "distance from the mean of the last `window` values in standard "
        "deviations; `ewma(alpha=0.1)`: the same against an exponentially weighted "
        "mean and variance. Adds `anomaly: bool` and `anomaly_score: float?`; "
        "fewer than `warmup` values is never an anomaly. Keys are bounded by "
        "`max_keys` (least recently seen evicted, counted)."
    ),
    params=(
        Param("field", Kind.FIELD, "the numeric value",
              accepts=(INT, FLOAT, Nullable(INT), Nullable(FLOAT), ANY)),
        Param("method", Kind.CHOICE, "the detector", default="zscore", options={
            "zscore": (),
            "ewma": (Param("alpha", Kind.VALUE, "smoothing factor", type=FLOAT, default=0.1),),
        }),
        Param("threshold", Kind.VALUE, "score above which a value is an anomaly",
              type=FLOAT, default=3.0),
        Param("window", Kind.VALUE, "values kept per key (zscore)", type=INT, default=100),
        Param("by", Kind.FIELDS, "keys with separate statistics", default=()),
        Param("warmup", Kind.VALUE, "values needed before flagging", type=INT, default=10),
        Param("max_keys", Kind.VALUE, "keys kept", type=INT, default=100_000),
    ),  # fmt: skip
    output=_output,
    runtime="Anomaly",
    module=__name__,
    examples=(Example("anomaly(latency_ms, threshold=4.0, by=[host])"),),
)
