"""`--http ADDR`: the run's metrics in the Prometheus text format, and its
health and readiness, served from the run's own event loop.

- `/metrics`: `MetricsCollector`, a `prometheus_client` collector that reads
  the counters the summary table reads (`PipelineMetrics.snapshot`, plus
  the sources' lag, the checkpoint age and the open windows, read when
  scraped): the numbers are the same, never a second count.
- `/health`: 200 while the process runs.
- `/ready`: 200 when every pipeline runs, every source can read and every
  sink answers its probe (`Sink.probe`); else 503 with one reason a line
  (also while a reload drains the old program and starts the new one).
- `/tap?pipeline=P[&line=N][&rate=R][&errors=1]`: a live sample of the
  records passing a point (`runtime/tap.py`), as newline-delimited JSON on
  one streamed response; 404 with the valid points for an unknown one (a
  reload ends the taps of the old program).

Served by aiohttp on the run's loop, not by prometheus_client's threaded
server: a scrape then reads the counters between two batches, never while
a batch is half counted, and the sinks' probes use their clients, which
belong to that loop. The names are documented in docs/operations.md.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

from .errors import FlowError

PROBE_TIMEOUT = 5.0  # seconds a sink's probe may take before it counts as failed
READY_HEADER = {"Content-Type": "text/plain; charset=utf-8"}
TAP_HEADER = {"Content-Type": "application/x-ndjson", "Cache-Control": "no-store"}
TAP_IDLE = 1.0  # seconds a tap waits for samples before it looks whether its client left
SHUTDOWN_GRACE = 2.0  # seconds a tap's client has to take the last lines at the end


def parse_address(text: str) -> tuple[str, int]:
    """`PORT` (on 127.0.0.1), `HOST:PORT`, `[V6]:PORT`, or `:PORT` (every
    interface, as Prometheus's exporters write it). Port 0: a free one."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    elif not host:
        host = "0.0.0.0"
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or int(port) > 65535:
        raise FlowError(f"--http {text!r}: expected PORT, HOST:PORT or :PORT")
    return host, int(port)


class MetricsCollector:
    """Every pipeline's counters as Prometheus metric families."""

    def __init__(self, engine: Any):
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=labels)

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        P, S = ("pipeline",), ("pipeline", "stage")
        pipe_in = counter("flowlang_pipeline_records_in", "records the pipeline read", P)
        pipe_out = counter(
            "flowlang_pipeline_records_out", "records the pipeline wrote or passed on", P
        )
        unread = counter(
            "flowlang_unread_errors", "error records no pipeline reads (`from P.errors`)", P
        )
        pauses = counter("flowlang_source_pauses", "times the source waited on a full queue", P)
        paused = counter(
            "flowlang_source_paused_seconds", "seconds the source waited on a full queue", P
        )
        rin = counter("flowlang_records_in", "records that reached the stage", S)
        rout = counter("flowlang_records_out", "records the stage passed on", S)
        dropped = counter("flowlang_records_dropped", "records the stage dropped", S)
        errors = counter("flowlang_records_errors", "records the stage sent to the error stream", S)
        counts = counter(
            "flowlang_stage_events",
            "a stage's own counters (geoip `private`, elastic `bulk_requests`, …)",
            (*S, "counter"),
        )
        writes = counter("flowlang_sink_writes", "batches the sink wrote", S)
        retries = counter("flowlang_sink_retries", "retries the sink waited for", S)
        latency = HistogramMetricFamily(
            "flowlang_sink_write_duration_seconds",
            "time one sink write took, retries included",
            labels=S,
        )
        waiting = gauge(
            "flowlang_sink_records_waiting", "records queued for the sink or being written", S
        )
        lag_bytes = gauge("flowlang_source_lag_bytes", "bytes of input not read yet", S)
        pending = gauge(
            "flowlang_source_pending_messages", "messages the server holds not fetched yet", S
        )
        age = gauge(
            "flowlang_checkpoint_age_seconds",
            "seconds since the oldest batch not yet acknowledged was read (0: none)",
            S,
        )
        windows = gauge("flowlang_windows_open", "windows open in the stage", S)
        for name, runner in self.engine.runners.items():
            m = runner.metrics
            snap = m.snapshot()
            pipe_in.add_metric([name], snap["in"])
            pipe_out.add_metric([name], snap["out"])
            unread.add_metric([name], snap["unread_errors"])
            if runner.source is not None:
                pauses.add_metric([name], snap["pauses"])
                paused.add_metric([name], snap["paused_seconds"])
            labels = _unique(runner.labels)
            for stage, label in zip(snap["stages"], labels):
                at = [name, label]
                rin.add_metric(at, stage["in"])
                rout.add_metric(at, stage["out"])
                dropped.add_metric(at, stage["dropped"])
                errors.add_metric(at, stage["errors"])
                for key, value in sorted(stage["counters"].items()):
                    counts.add_metric([*at, key], value)
                if stage["role"] == "sink":
                    writes.add_metric(at, stage["writes"])
                    retries.add_metric(at, stage["counters"].get("retries", 0))
                    buckets = [(repr(float(b)), n) for b, n in stage["latency_buckets"]]
                    latency.add_metric(
                        at, buckets + [("+Inf", stage["writes"])], stage["latency_seconds"]
                    )
                    # what left the last processor and the sink has not finished
                    waiting.add_metric(at, m.emitted - stage["out"] - stage["errors"])
            source = runner.source
            if source is not None:
                at = [name, labels[0]]
                behind = source.lag_bytes()
                if behind is not None:
                    lag_bytes.add_metric(at, behind)
                held = source.pending_messages()
                if held is not None:
                    pending.add_metric(at, held)
                if getattr(source, "acknowledges", False) and runner.acks is not None:
                    age.add_metric(at, runner.acks.age())
            for step in runner.steps:
                proc = getattr(step, "proc", None)
                if proc is not None:
                    n = proc.open_windows()
                    if n is not None:
                        windows.add_metric([name, labels[step.index]], n)
        yield from (pipe_in, pipe_out, unread, pauses, paused, rin, rout, dropped, errors)
        yield from (counts, writes, retries, latency, waiting, lag_bytes, pending, age, windows)


def _unique(labels: list[str]) -> list[str]:
    """Stage labels, a repeated one (two equal stages on one line) numbered
    by its position, so no two series share their labels."""
    seen = {label: labels.count(label) for label in labels}
    return [label if seen[label] == 1 else f"{label} #{i}" for i, label in enumerate(labels)]


class MonitorServer:
    """The `--http` server of one run."""

    def __init__(self, engine: Any, address: str):
        self.host, self.port = parse_address(address)
        self._unsubscribe: list[Any] = []
        self.collector = MetricsCollector(engine)
        self.taps: Any = None
        self.follow(engine)
        self._runner: Any = None
        self.url = ""

    def follow(self, engine: Any) -> None:
        """Serve `engine`'s program: at the start, and after a reload (its
        pipelines are then "starting" until they run)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self.engine = engine
        self.collector.engine = engine
        self.started: set[str] = set()
        self.stopped: set[str] = set()
        bus = engine.ctx.bus
        self._unsubscribe = [
            bus.subscribe("started", lambda topic, pipeline, **_: self.started.add(pipeline)),
            bus.subscribe("stopped", lambda topic, pipeline, **_: self._stopped(pipeline)),
        ]
        from .tap import Taps

        if self.taps is not None:  # a reload: the old program's points are gone
            self.taps.end_all("the program was reloaded")
        self.taps = Taps(engine.runners)

    async def start(self) -> None:
        """Listen; FlowError when the address cannot be used."""
        from aiohttp import web
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_get("/ready", self._ready)
        app.router.add_get("/tap", self._tap)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise FlowError(
                f"--http: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        host, port = self._runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self.port = port
        self.url = f"http://{shown}:{port}"

    def _stopped(self, pipeline: str) -> None:
        self.stopped.add(pipeline)
        if self.engine.reloading:
            self.taps.end_all("the program was reloaded")  # drained for the swap
        else:
            self.taps.pipeline_finished(pipeline)

    async def stop(self) -> None:
        self.taps.end_all("the run has ended")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: Any) -> Any:
        from aiohttp import web
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _health(self, request: Any) -> Any:
        from aiohttp import web

        return web.Response(text="ok\n", headers=READY_HEADER)

    async def _ready(self, request: Any) -> Any:
        from aiohttp import web

        reasons = await self.unready()
        if reasons:
            return web.Response(status=503, text="\n".join(reasons) + "\n", headers=READY_HEADER)
        return web.Response(text="ready\n", headers=READY_HEADER)

    async def _tap(self, request: Any) -> Any:
        from aiohttp import web

        from . import jsonl
        from .tap import DEFAULT_RATE, MAX_RATE

        def refuse(status: int, message: str, **more: Any) -> Any:
            body = jsonl.dumps({"error": message, **more}) + b"\n"
            return web.Response(status=status, body=body, headers=TAP_HEADER)

        query = request.query
        pipeline = query.get("pipeline")
        line_text = query.get("line")
        listing = [p.describe() for p in self.taps.points()]
        if not pipeline:
            return refuse(400, "which pipeline? (?pipeline=P[&line=N])", points=listing)
        line = None
        if line_text is not None:
            if not line_text.isdigit():
                return refuse(400, f"line must be a line number, not {line_text!r}")
            line = int(line_text)
        try:
            rate = float(query.get("rate", DEFAULT_RATE))
        except ValueError:
            rate = -1.0
        if not 0 < rate <= MAX_RATE:
            return refuse(
                400, f"rate must be more than 0 and at most {MAX_RATE:g} records a second"
            )
        errors = query.get("errors", "0") not in ("", "0", "false", "no")
        point = self.taps.find(pipeline, line)
        if point is None:
            if pipeline not in self.engine.runners:
                known = ", ".join(self.engine.runners) or "none"
                message = f"no pipeline {pipeline!r} in this run (pipelines: {known})"
            else:
                message = f"pipeline {pipeline} has no stage to tap on line {line}"
            return refuse(404, message, points=listing)
        response = web.StreamResponse(headers=TAP_HEADER)
        await response.prepare(request)
        tap = self.taps.attach(point, rate, errors)
        try:
            head = {**point.describe(), "rate": rate, "errors": errors}
            await response.write(jsonl.dumps({"tap": head}) + b"\n")
            while True:
                await tap.wait(TAP_IDLE)
                lines = tap.lines()
                if lines:
                    await response.write(b"".join(jsonl.dumps(x) + b"\n" for x in lines))
                elif tap.ended is not None:
                    await response.write(jsonl.dumps({"end": tap.ended}) + b"\n")
                    break
                elif request.transport is None or request.transport.is_closing():
                    break  # the client left while nothing was passing
        except ConnectionError:
            pass  # the client left
        finally:
            self.taps.detach(tap)
        return response

    async def unready(self) -> list[str]:
        """Why the run is not ready, one reason per pipeline or stage (none: ready)."""
        reasons: list[str] = []
        probes = []
        if self.engine.reloading:
            reasons.append("the program is being reloaded")
        elif self.engine.stopping:
            reasons.append("the run is stopping")
        for name, runner in self.engine.runners.items():
            if name not in self.started:
                reasons.append(f"pipeline {name}: starting")
                continue
            if name in self.stopped:
                reasons.append(f"pipeline {name}: finished (its input ended)")
                continue
            if runner.source is not None:
                problem = runner.source.problem()
                if problem:
                    reasons.append(f"pipeline {name}, stage {runner.labels[0]}: {problem}")
            if runner.sink is not None and not runner.sink_closed:
                where = f"pipeline {name}, stage {runner.labels[runner.sink_index]}"
                probes.append((where, runner.sink))
        answers = await asyncio.gather(*(_probe(sink) for _, sink in probes))
        reasons += [f"{where}: {answer}" for (where, _), answer in zip(probes, answers) if answer]
        return reasons


async def _probe(sink: Any) -> str | None:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            return await sink.probe()
    except TimeoutError:
        return f"no answer to the probe within {PROBE_TIMEOUT:g}s"
    except Exception as exc:  # an unreachable server surfaces as any client error
        return f"probe failed: {type(exc).__name__}: {exc}"
