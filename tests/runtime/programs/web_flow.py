# generated from web.flow by flowc, do not edit
# (hand-written in the generated shape, for the runtime tests)
from flowlang import runtime as rt
from flowlang.stages import file_sink as _st_file_sink
from flowlang.stages import file_source as _st_file_source
from flowlang.stages import null_sink as _st_null_sink
from flowlang.stages import stdout_sink as _st_stdout_sink

SCHEMA_ACCESS = ("{}", True, (("status", "int"), ("ip", "ip"), ("ts", "time")))


def _web_segment_1(stages):
    def run(batch, dropped, fail):
        out = []
        append = out.append
        for rec in batch:
            at = 1
            try:
                # web.flow:3 where status >= 500
                if not (rec.get("status") >= 500):
                    dropped[1] += 1
                    continue
                at = 2
                # web.flow:4 set kb = bytes / 1024
                rec["kb"] = rec.get("bytes") / 1024
                append(rec)
            except Exception as exc:
                fail(at, rec, exc)
        return out

    return run


def build(ctx: rt.Context) -> rt.Program:
    prog = rt.Program("web.flow", ctx)
    # web.flow:2
    web = prog.pipeline(
        "web",
        line=2,
        stages=[("source file", 2), ("where", 3), ("set", 4), ("sink file", 5)],
    )
    web.source(
        0,
        _st_file_source.FileSource,
        path=rt.env("FLOW_IN"),
        format="json",
        format_args={},
        schema=SCHEMA_ACCESS,
        follow=False,
        start="beginning",
    )
    web.segment(_web_segment_1, first=1, last=2)
    web.sink(3, _st_file_sink.FileSink, path=rt.env("FLOW_OUT"), format="json")
    # web.flow:7
    problems = prog.pipeline(
        "problems", line=7, stages=[("from web.errors", 7), ("sink stdout", 8)]
    )
    problems.read_errors_from("web")
    problems.sink(1, _st_stdout_sink.StdoutSink, format="json")
    # web.flow:10
    count = prog.pipeline("count", line=10, stages=[("from web", 10), ("sink null", 11)])
    count.read_from("web")
    count.sink(1, _st_null_sink.NullSink)
    return prog


if __name__ == "__main__":
    rt.main(build)
