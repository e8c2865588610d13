"""Chaos trials: `flowc run` killed with SIGKILL at random moments, restarted,
and what its sink wrote compared with what it should hold.

    python -m tests.chaos [--trials 10] [--kills 1] [--seed N] [--scenario NAME …]

Each trial runs a real `flowc run` process over a followed input file
(`follow=true`) that a writer thread keeps appending to. At random moments
the process is killed with `kill -9` and started again at once, on the same
state directory; once the writer is done and the last input record has
come out, the process is stopped with SIGTERM. Then every line the sink wrote
is checked:

- `file`: `source file(…, follow=true) | sink file(…)`; every input record must
  come out unchanged;
- `enrich`: `… | geoip(ip) | anonymize(user) | sink file(…)`; every record must
  equal what one uninterrupted run (without `follow`) writes for it;
- `summarize`: `… | summarize n = count(), total = sum(v) by host every 1m on
  ts | sink file(…)`; every window must carry the count and sum computed
  here from the input.

The table gives, over all trials of a scenario: records (or windows)
expected, lost (never written), duplicated (written more than once),
corrupt (a line that is not JSON, or a record or window that is wrong) and,
for windows, whether every one was exact. The target: lost 0, corrupt 0,
windows exact; duplicates are what at-least-once delivery allows (records in
flight at the kill, written again by the restarted run).

`make chaos` runs 10 trials of each scenario; `tests/test_chaos.py` runs two
as part of the suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FLOWC = str(Path(sys.executable).with_name("flowc"))
ANON_KEY = "chaos-trial-key"
WRITING = 3.0  # seconds the writer takes to write a trial's input
BASE = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
ADDRESSES = (
    "81.2.69.160",
    "89.160.20.112",
    "175.16.199.10",
    "2001:470:1:2::3",
    "10.1.2.3",
    "8.8.8.8",
    "not an address",
)

COPY = """\
pipeline copy =
  source file(env("FLOW_IN"), format=json, follow={follow})
  | sink file(env("FLOW_OUT"))
"""

ENRICH = """\
pipeline enrich =
  source file(env("FLOW_IN"), format=json, follow={follow})
  | geoip(ip)
  | anonymize(user)
  | sink file(env("FLOW_OUT"))
"""

SUMMARIZE = """\
schema R {{ ts: time, host: str, v: int }}

pipeline per_minute =
  source file(env("FLOW_IN"), format=json, schema=R, follow={follow})
  | summarize n = count(), total = sum(v) by host every 1m on ts
  | sink file(env("FLOW_OUT"))
"""


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------ input


def window_events(windows: int, rng: random.Random) -> list[dict]:
    """Events over `windows` minutes from BASE, in time order, 40 to 300 a
    minute (so windows end in the middle of the source's batches), then one
    event in a later minute that closes the last of them."""
    events = []
    for w in range(windows):
        count = rng.randint(40, 300)
        offsets = sorted(rng.randrange(60_000_000) for _ in range(count))
        for us in offsets:
            t = BASE + dt.timedelta(minutes=w, microseconds=us)
            events.append({"ts": iso(t), "host": rng.choice("abc"), "v": rng.randint(0, 999)})
    closing = BASE + dt.timedelta(minutes=windows + 5)
    events.append({"ts": iso(closing), "host": "end", "v": 0})
    return events


def expected_windows(events: list[dict]) -> dict[tuple[str, str], dict]:
    """(window_start, host) -> the window record summarize must write, for
    every minute before the last event's (which never closes)."""
    last = _minute(events[-1]["ts"])
    out: dict[tuple[str, str], dict] = {}
    for e in events:
        minute = _minute(e["ts"])
        if minute >= last:
            continue
        start = BASE + dt.timedelta(minutes=minute)
        key = (iso(start), e["host"])
        rec = out.setdefault(
            key,
            {
                "window_start": iso(start),
                "window_end": iso(start + dt.timedelta(minutes=1)),
                "host": e["host"],
                "n": 0,
                "total": 0,
            },
        )
        rec["n"] += 1
        rec["total"] += e["v"]
    return out


def _minute(ts: str) -> int:
    t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return int((t - BASE).total_seconds() // 60)


def lines_of(records: list[dict]) -> list[bytes]:
    return [json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records]


# ------------------------------------------------------------------ output


@dataclass
class Written:
    """The lines of an output file: decoded records and the lines that are
    not JSON objects (a torn or mangled line)."""

    records: list[dict] = field(default_factory=list)
    bad_lines: int = 0


def read_output(path: Path, final: bool = False) -> Written:
    """The output's complete lines; with `final`, a last line without its
    newline counts as bad too (nothing may be left half-written)."""
    got = Written()
    if not path.exists():
        return got
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()
    if final and tail:
        got.bad_lines += 1
    for line in lines:
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            got.bad_lines += 1
            continue
        if isinstance(rec, dict):
            got.records.append(rec)
        else:
            got.bad_lines += 1
    return got


# ------------------------------------------------------------------ scenarios


@dataclass
class Scenario:
    name: str
    program: str  # with {follow}
    records: int = 0  # input records (file, enrich) or events (summarize)
    windows: int = 0  # summarize: minutes of input

    def flow(self, follow: bool) -> str:
        return self.program.format(follow="true" if follow else "false")


SCENARIOS = {
    "file": Scenario("file", COPY, records=20_000),
    "enrich": Scenario("enrich", ENRICH, records=10_000),
    "summarize": Scenario("summarize", SUMMARIZE, windows=40),
}


def scenario_input(scenario: Scenario, rng: random.Random) -> list[dict]:
    if scenario.name == "summarize":
        return window_events(scenario.windows, rng)
    records = []
    for n in range(scenario.records):
        rec = {
            "n": n,
            "ip": rng.choice(ADDRESSES),
            "user": f"user{rng.randrange(500)}@example.com",
            "msg": "x" * rng.randrange(80),
        }
        records.append(rec)
    return records


@dataclass
class Outcome:
    """One trial's figures (records for file and enrich, windows for summarize)."""

    scenario: str
    expected: int
    lost: int = 0
    duplicated: int = 0
    corrupt: int = 0
    kills: int = 0
    failed_runs: list[str] = field(default_factory=list)  # exit statuses that were not expected
    finished: bool = True  # the last input record came out before the deadline

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.corrupt == 0 and self.finished and not self.failed_runs


def judge_records(expected: dict[int, dict], written: Written, outcome: Outcome) -> None:
    seen: dict[int, int] = {}
    outcome.corrupt += written.bad_lines
    for rec in written.records:
        n = rec.get("n")
        if not isinstance(n, int) or expected.get(n) != rec:
            outcome.corrupt += 1
            continue
        seen[n] = seen.get(n, 0) + 1
    outcome.lost += sum(1 for n in expected if n not in seen)
    outcome.duplicated += sum(c - 1 for c in seen.values())


def judge_windows(
    expected: dict[tuple[str, str], dict], written: Written, outcome: Outcome
) -> None:
    seen: dict[tuple[str, str], int] = {}
    outcome.corrupt += written.bad_lines
    for rec in written.records:
        key = (rec.get("window_start"), rec.get("host"))
        if expected.get(key) != rec:  # a partial count, a window that should not exist
            outcome.corrupt += 1
            continue
        seen[key] = seen.get(key, 0) + 1
    outcome.lost += sum(1 for k in expected if k not in seen)
    outcome.duplicated += sum(c - 1 for c in seen.values())


# ------------------------------------------------------------------ running


class Runs:
    """`flowc run` processes of one trial, all on the same program, input,
    output and state directory; their stderr goes to numbered files."""

    def __init__(self, root: Path, program: Path, cache: Path):
        self.root = root
        self.program = program
        self.env = dict(
            os.environ,
            FLOW_IN=str(root / "input.jsonl"),
            FLOW_OUT=str(root / "output.jsonl"),
            FLOWC_CACHE_DIR=str(cache),
            FLOW_ANON_KEY=ANON_KEY,
        )
        self.started = 0
        self.last_start = 0.0

    def start(self) -> subprocess.Popen:
        self.started += 1
        self.last_start = time.time()
        err = open(self.root / f"stderr-{self.started}.txt", "wb")
        try:
            return subprocess.Popen(
                [FLOWC, "run", str(self.program), "--state-dir", str(self.root / "state")],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        finally:
            err.close()

    def running(self, proc: subprocess.Popen) -> bool:
        """Has `proc`, the latest run, started reading (its source saved a
        checkpoint since it started)? Signals reach its handlers from then on."""
        saved = [p.stat().st_mtime for p in (self.root / "state").glob("file-*.json")]
        return bool(saved) and max(saved) >= self.last_start

    def stderr(self, number: int) -> str:
        return (self.root / f"stderr-{number}.txt").read_text(errors="replace")


def reference_output(
    scenario: Scenario, records: list[dict], root: Path, cache: Path
) -> list[dict]:
    """What one uninterrupted run without `follow` writes for `records`."""
    root.mkdir(parents=True, exist_ok=True)
    program = root / f"{scenario.name}_reference.flow"
    program.write_text(scenario.flow(follow=False))
    (root / "input.jsonl").write_bytes(b"".join(lines_of(records)))
    runs = Runs(root, program, cache)
    proc = runs.start()
    if proc.wait(300) != 0:
        raise RuntimeError(f"the reference run failed:\n{runs.stderr(1)}")
    written = read_output(root / "output.jsonl", final=True)
    if written.bad_lines or len(written.records) != len(records):
        raise RuntimeError("the reference run did not write one record per input record")
    return written.records


def trial(
    scenario: Scenario,
    records: list[dict],
    expected: dict,
    root: Path,
    cache: Path,
    rng: random.Random,
    kills: int = 1,
    deadline: float = 120.0,
) -> Outcome:
    """One trial: write `records` into a followed file while `flowc run`
    reads it, kill it `kills` times at random moments, finish, judge."""
    root.mkdir(parents=True, exist_ok=True)
    program = root / f"{scenario.name}.flow"
    program.write_text(scenario.flow(follow=True))
    source, out = root / "input.jsonl", root / "output.jsonl"
    source.write_bytes(b"")
    data = lines_of(records)
    body, last = data[:-1], data[-1]

    pause = WRITING / (len(body) / 440)  # chunks hold 440 lines on average

    def writer() -> None:
        # the input grows in chunks of random size at a random pace for about
        # WRITING seconds, now and then in a burst that keeps the process busy
        # for a while; the last record comes alone, at the end
        i = 0
        with open(source, "ab") as f:
            while i < len(body):
                step = rng.randint(20, 400) if rng.random() < 0.9 else rng.randint(1000, 4000)
                f.write(b"".join(body[i : i + step]))
                f.flush()
                i += step
                time.sleep(rng.uniform(0.0, 2 * pause))
            f.write(last)

    outcome = Outcome(scenario.name, expected=len(expected), kills=kills)
    runs = Runs(root, program, cache)
    # kills land while the writer writes, some while a restarted process is
    # still starting
    moments = sorted(rng.uniform(0.2, WRITING) for _ in range(kills))
    thread = threading.Thread(target=writer, daemon=True)
    began = time.monotonic()
    proc = runs.start()
    thread.start()
    for moment in moments:
        time.sleep(max(0.0, began + moment - time.monotonic()))
        if proc.poll() is not None:
            outcome.failed_runs.append(
                f"run {runs.started} exited {proc.returncode}: {runs.stderr(runs.started)[-2000:]}"
            )
        proc.kill()
        proc.wait()
        proc = runs.start()
    thread.join()
    done = _finished(scenario, expected, records)
    limit = time.monotonic() + deadline
    # the last run must be under way (it saved its checkpoint) and have
    # written everything before it is stopped
    while not (runs.running(proc) and done(read_output(out))):
        if proc.poll() is not None or time.monotonic() > limit:
            outcome.finished = False
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        outcome.failed_runs.append(
            f"run {runs.started} exited {proc.returncode}: {runs.stderr(runs.started)[-2000:]}"
        )
    written = read_output(out, final=True)
    if scenario.name == "summarize":
        judge_windows(expected, written, outcome)
    else:
        judge_records(expected, written, outcome)
    return outcome


def _finished(scenario: Scenario, expected: dict, records: list[dict]):
    """When the last run has written everything it can: the last input record
    (file, enrich), or the last window that the final event closes."""
    if scenario.name == "summarize":
        last_start = max(k[0] for k in expected)
        return lambda w: any(r.get("window_start") == last_start for r in w.records)
    final = records[-1]["n"]
    return lambda w: any(r.get("n") == final for r in w.records)


def run_scenario(name: str, trials: int, kills: int, seed: int, workdir: Path) -> list[Outcome]:
    scenario = SCENARIOS[name]
    rng = random.Random(f"{seed}-{name}")
    cache = workdir / "cache"
    records = scenario_input(scenario, rng)
    if name == "summarize":
        expected: dict = expected_windows(records)
    elif name == "file":
        expected = {r["n"]: r for r in records}
    else:
        reference = reference_output(scenario, records, workdir / f"{name}-reference", cache)
        expected = {r["n"]: r for r in reference}
    return [
        trial(scenario, records, expected, workdir / f"{name}-{k}", cache, rng, kills=kills)
        for k in range(trials)
    ]


def table(outcomes: list[Outcome]) -> str:
    """One row per scenario, summed over its trials."""
    header = (
        "scenario",
        "trials",
        "kills",
        "expected",
        "lost",
        "duplicated",
        "corrupt",
        "failed runs",
        "exact",
    )
    rows = [header]
    for name in dict.fromkeys(o.scenario for o in outcomes):
        mine = [o for o in outcomes if o.scenario == name]
        unit = "windows" if name == "summarize" else "records"
        rows.append(
            (
                name,
                str(len(mine)),
                str(sum(o.kills for o in mine)),
                f"{sum(o.expected for o in mine):,} {unit}",
                str(sum(o.lost for o in mine)),
                str(sum(o.duplicated for o in mine)),
                str(sum(o.corrupt for o in mine)),
                str(sum(len(o.failed_runs) + (not o.finished) for o in mine)),
                f"{sum(o.exact for o in mine)}/{len(mine)}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10, help="trials per scenario")
    parser.add_argument("--kills", type=int, default=1, help="kill -9 per trial")
    parser.add_argument("--seed", type=int, default=None, help="for a repeatable series")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="only these scenarios (default: all)",
    )
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    names = args.scenario or list(SCENARIOS)
    print(
        f"chaos: seed {seed}, {args.trials} trials per scenario, {args.kills} kill -9 each",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="flowc-chaos-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        outcomes: list[Outcome] = []
        for name in names:
            outcomes += run_scenario(name, args.trials, args.kills, seed, workdir)
        print(table(outcomes))
        for o in outcomes:
            for failure in o.failed_runs:
                print(f"{o.scenario}: {failure}")
    bad = [o for o in outcomes if not o.exact]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
