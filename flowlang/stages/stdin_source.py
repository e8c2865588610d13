"""`source stdin(format=auto, schema=S)`."""

from __future__ import annotations

from ._rules import decode_params, decoded_record
from .spec import Example, StageSpec

SPEC = StageSpec(
    name="stdin",
    role="source",
    doc="Reads records from standard input, decoded as by `file` (`format`, `schema`).",
    params=(*decode_params("lines"),),
    output=decoded_record,
    runtime="StdinSource",
    module=__name__,
    examples=(Example("source stdin(format=json) | sink stdout(format=pretty)"),),
)


# the runtime class (generated code instantiates it; checking never does)
import asyncio  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from ..runtime.base import Source, SourceBatch, StageContext  # noqa: E402


class StdinSource(Source):
    """Reads standard input to its end. A thread does the blocking reads and
    hands over lines as soon as they arrive (interactive input is not held
    back until a batch is full); a bounded queue slows it when the pipeline
    is behind."""

    def __init__(
        self, ctx: StageContext, format: str = "auto", format_args: dict | None = None, schema=None
    ) -> None:
        from ..runtime.context import DEFAULT_BATCH_SIZE
        from ..runtime.decode import Decoder

        self.ctx = ctx
        self.decoder = Decoder(format, format_args, schema)
        self.batch_size = int(ctx.options.get("batch_size", DEFAULT_BATCH_SIZE))
        self.fd = sys.stdin.fileno()
        self._stopped = False
        self._wake: asyncio.Event | None = None

    def stop(self) -> None:
        self._stopped = True
        if self._wake is not None:
            self._wake.set()

    def _read(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
        from ..runtime.lines import BATCH_BYTES, MIN_LINES, LineSplitter

        splitter = LineSplitter()
        pending: list = []

        def hand_over(item) -> bool:
            try:
                asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            except (RuntimeError, asyncio.CancelledError):
                return False  # the run is over
            return True

        while not self._stopped:
            try:
                chunk = os.read(self.fd, BATCH_BYTES)
            except OSError as exc:
                hand_over(exc)
                return
            pending += splitter.feed(chunk) if chunk else splitter.finish()
            # a short read means nothing more is waiting: pass on what there is
            if pending and (len(pending) >= MIN_LINES or len(chunk) < BATCH_BYTES):
                for i in range(0, len(pending), self.batch_size):
                    if not hand_over(pending[i : i + self.batch_size]):
                        return
                pending = []
            if not chunk:
                hand_over(None)
                return

    async def batches(self):
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(2)
        self._wake = asyncio.Event()
        threading.Thread(
            target=self._read, args=(loop, queue), daemon=True, name="flowlang-stdin"
        ).start()
        stopped = asyncio.ensure_future(self._wake.wait())
        try:
            while not self._stopped:
                got = asyncio.ensure_future(queue.get())
                await asyncio.wait({got, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not got.done():
                    got.cancel()
                    return
                lines = got.result()
                if lines is None:
                    unfinished = self.decoder.finish()  # a CSV quote never closed
                    if unfinished:
                        yield SourceBatch(unfinished)
                    return
                if isinstance(lines, OSError):
                    raise lines
                records, failed = self.decoder.decode(lines)
                if records or failed:
                    yield SourceBatch(failed, records=records)
        finally:
            stopped.cancel()
