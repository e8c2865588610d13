"""examples/access.flow on its bundled access log, run as a user runs it
(`flowc run` in a subprocess): its output must equal examples/expected/, and
every field of it must be enriched and free of personal data.

After a deliberate change: `python -m tests.regen tests.stages.test_access_example`."""

from __future__ import annotations

import hmac
import re
import shutil
from pathlib import Path

import pytest

from flowlang.runtime import jsonl
from tests.flowrun import read_jsonl, run_flow_cli

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "examples" / "expected"
KEY = "example-key"  # the demonstration key the expected output was made with
FIELDS = {
    "user",
    "time",
    "method",
    "path",
    "protocol",
    "status",
    "bytes",
    "referrer",
    "agent",
    "geo",
    "email",
    "client",
}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
IPV4 = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


def run_example(workdir: Path) -> tuple[list[dict], list[dict], str]:
    """Run the example in a copy of examples/; its output, its rejects and stderr."""
    shutil.copytree(ROOT / "examples", workdir / "examples")
    proc = run_flow_cli(
        Path("examples") / "access.flow",
        cwd=workdir,
        env={"FLOW_ANON_KEY": KEY, "FLOWC_CACHE_DIR": str(workdir / "cache")},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = workdir / "out" / "access"
    return (
        read_jsonl(out / "access.jsonl"),
        read_jsonl(out / "rejects.jsonl"),
        proc.stderr.decode(),
    )


def without_time(records: list[dict]) -> list[dict]:
    """Error records without their time, in a fixed order: errors of the
    source and of later stages reach the error stream from different tasks,
    so their interleaving is not part of the contract."""
    plain = [{k: v for k, v in r.items() if k != "at"} for r in records]
    return sorted(plain, key=lambda r: jsonl.dumps(r))


def regenerate() -> list[Path]:
    """Rewrite the example's expected files from a fresh run."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        output, rejects, _ = run_example(Path(tmp))
    written = []
    for name, records in (
        ("access.jsonl", output),
        ("access.rejects.jsonl", without_time(rejects)),
    ):
        path = EXPECTED / name
        path.write_bytes(b"".join(jsonl.dumps(r) + b"\n" for r in records))
        written.append(path)
    return written


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    return run_example(tmp_path_factory.mktemp("access"))


def test_output_equals_the_expected_file(example_run):
    output, rejects, _ = example_run
    assert output == read_jsonl(EXPECTED / "access.jsonl")
    assert without_time(rejects) == without_time(read_jsonl(EXPECTED / "access.rejects.jsonl"))


def test_every_line_is_accounted_for(example_run):
    output, rejects, _ = example_run
    lines = (ROOT / "examples" / "data" / "access.log").read_bytes().split(b"\n")[:-1]
    assert len(lines) >= 300
    assert len(output) + len(rejects) == len(lines)
    assert len(rejects) >= 8


def test_fields_are_typed_and_enriched(example_run):
    output, _, _ = example_run
    for rec in output:
        assert set(rec) == FIELDS
        assert re.fullmatch(r"2024-03-02T\d\d:\d\d:\d\dZ", rec["time"])
        assert rec["method"] in {"GET", "POST", "PUT", "DELETE"}
        assert isinstance(rec["status"], int) and 100 <= rec["status"] <= 599
        assert rec["bytes"] is None or isinstance(rec["bytes"], int)
        assert rec["protocol"].startswith("HTTP/")
        assert rec["geo"] is None or set(rec["geo"]) == {
            "country_iso",
            "country",
            "city",
            "lat",
            "lon",
        }
    located = [r for r in output if r["geo"] is not None]
    assert len(located) > len(output) * 0.8
    assert {"US", "GB", "NL", "DE", "JP", "NG"} <= {r["geo"]["country_iso"] for r in located}
    health = [r for r in output if r["path"] == "/healthz"]
    assert health and all(r["geo"] is None for r in health)  # private clients


def test_personal_data_does_not_leave_the_pipeline(example_run):
    output, rejects, _ = example_run
    text = b"\n".join(jsonl.dumps(r) for r in output + rejects).decode()
    for match in EMAIL.finditer(text):
        assert match.group(0).split("@")[0] in ("***", "j***", "o***"), match.group(0)
    log = (ROOT / "examples" / "data" / "access.log").read_bytes().decode("utf-8", "replace")
    clients = {
        line.split(" ", 1)[0]
        for line in log.splitlines()
        if IPV4.match(line) or ":" in line.split(" ", 1)[0]
    }
    assert len(clients) > 20
    for address in clients:
        assert f'"{address}"' not in text, address
    assert all("?" not in r["path"] for r in output)
    assert "jane.doe" not in text and "alice" not in text


def test_users_and_clients_are_keyed_tokens_and_emails_are_masked(example_run):
    output, _, _ = example_run

    def token(value: str) -> str:
        return hmac.digest(KEY.encode(), value.encode(), "sha256").hex()

    users = {r["user"] for r in output if r["user"] is not None}
    assert token("alice") in users and token("jane.doe@example.com") in users
    assert all(re.fullmatch(r"[0-9a-f]{64}", u) for u in users)
    clients = {r["client"] for r in output}
    assert token("81.2.69.160") in clients and token("2001:4860:4860::8888") in clients
    emails = {r["email"] for r in output if r["email"] is not None}
    assert emails == {
        "j***@example.com",
        "j***@corp.example",
        "o***@acme.test",
        "***@x.io",
    }


def test_rejects_name_the_reason(example_run):
    _, rejects, _ = example_run
    reasons = {(r["code"], r["message"]) for r in rejects}
    assert ("decode", "line is not valid UTF-8") in reasons
    assert ("parse", "the text contains a NUL character") in reasons
    # a `"-"` request (a 408) is a combined line whose path is null: the
    # example's query-string cut refuses it
    assert ("parse", "nothing to parse: `path` is null or missing") in reasons
    # a host name as the client parses (ip null), so it is not rejected
    assert not any("not-an-ip" in message for _, message in reasons)
    assert all(set(r) == {"stage", "code", "message", "at"} for r in rejects)


if __name__ == "__main__":
    for path in regenerate():
        print(path)


def test_privacy_page_shows_the_example_as_it_is():
    page = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    shown = page.split("```flow\n", 1)[1].split("```", 1)[0]
    program = (ROOT / "examples" / "access.flow").read_text(encoding="utf-8")
    program = program.split("\n# Tests:", 1)[0]  # the page shows the pipelines, not their tests
    code = "\n".join(line for line in program.splitlines() if not line.startswith("#")).strip()
    assert shown.strip() == code
