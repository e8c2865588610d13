# generated from tail.flow by flowc, do not edit
# (hand-written in the generated shape, for the runtime tests)
from flowlang import runtime as rt
from flowlang.stages import file_sink as _st_file_sink
from flowlang.stages import file_source as _st_file_source


def _tail_segment_1(stages):
    def run(batch, dropped, fail):
        out = []
        append = out.append
        for rec in batch:
            at = 1
            try:
                # tail.flow:2 where n >= 0
                if not (rec.get("n") >= 0):
                    dropped[1] += 1
                    continue
                append(rec)
            except Exception as exc:
                fail(at, rec, exc)
        return out

    return run


def build(ctx: rt.Context) -> rt.Program:
    prog = rt.Program("tail.flow", ctx)
    # tail.flow:1
    tail = prog.pipeline(
        "tail", line=1, stages=[("source file", 1), ("where", 2), ("sink file", 3)]
    )
    tail.source(
        0,
        _st_file_source.FileSource,
        path=rt.env("FLOW_IN"),
        format="json",
        format_args={},
        schema=None,
        follow=rt.env("FLOW_FOLLOW", "yes") == "yes",
        start=rt.env("FLOW_START", "beginning"),
    )
    tail.segment(_tail_segment_1, first=1, last=1)
    tail.sink(2, _st_file_sink.FileSink, path=rt.env("FLOW_OUT"), format="json")
    return prog


if __name__ == "__main__":
    rt.main(build)
