"""anonymize: the laws of each method, key handling, and compiled pipelines."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flowlang.runtime import jsonl
from flowlang.runtime.base import RecordError, StageContext
from flowlang.stages.anonymize import REDACTED, TOKEN_CACHE, Anonymize, Hmac, mask
from tests.flowrun import CompileFailed, run_flow

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20)
DOMAIN = st.from_regex(r"\A[a-z0-9]{1,12}(\.[a-z0-9]{1,8}){0,2}\.[a-z]{2,6}\Z")
EMAILS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
USERS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="*"),
    min_size=1,
    max_size=30,
)
KEYS = st.text(min_size=1, max_size=80)


def stage(field=("email",), method="hash", key="k") -> Anonymize:
    ctx = StageContext("p", "anonymize (t.flow:3)", "t.flow:3")
    return Anonymize(ctx, field, method=method, method_args={}, key=key)


def token(value: str, key: str) -> str:
    return stage(key=key)({"email": value})["email"]


@settings(max_examples=150)
@given(value=st.one_of(EMAILS, USERS), key=KEYS)
def test_same_value_and_key_give_the_same_token(value, key):
    first = token(value, key)
    assert first == token(value, key)
    assert len(first) == 64 and all(c in "0123456789abcdef" for c in first)


@settings(max_examples=150)
@given(value=st.one_of(EMAILS, USERS), key=KEYS, other=KEYS)
def test_different_keys_give_unrelated_tokens(value, key, other):
    assume(key != other)
    a, b = token(value, key), token(value, other)
    assert a != b
    # unrelated: no more agreeing hex digits than chance (64/16 expected; 24 is far out)
    assert sum(x == y for x, y in zip(a, b)) < 24


@settings(max_examples=150)
@given(value=st.one_of(EMAILS, USERS), other=st.one_of(EMAILS, USERS), key=KEYS)
def test_different_values_give_different_tokens(value, other, key):
    assume(value != other)
    assert token(value, key) != token(other, key)


@settings(max_examples=100)
@given(value=st.one_of(EMAILS, USERS), key=KEYS)
def test_token_is_the_specified_hmac(value, key):
    expected = hmac.digest(key.encode(), value.encode(), "sha256").hex()
    assert token(value, key) == expected


def test_tokens_stay_the_hmac_when_values_outnumber_the_cache():
    one = stage(key="k")
    values = [f"user{i}@example.com" for i in range(TOKEN_CACHE + 500)]
    for _ in range(2):  # the second round finds some in the cache, some evicted
        for value in values[::-1] + values[:1000]:
            expected = hmac.digest(b"k", value.encode(), "sha256").hex()
            assert one({"email": value})["email"] == expected


@settings(max_examples=50)
@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=300))
def test_precomputed_pads_equal_the_standard_library(key, message):
    assert Hmac(key).hexdigest(message) == hmac.digest(key, message, "sha256").hex()


ORIGINALS = st.one_of(EMAILS, USERS.filter(lambda u: len(u) >= 3))


@settings(max_examples=150)
@given(email=EMAILS, user=ORIGINALS, method=st.sampled_from(["hash", "mask", "redact"]), key=KEYS)
def test_the_original_never_appears_in_the_output_record(email, user, method, key):
    rec = {"email": email, "who": {"user": user}, "n": 1}
    rec = stage(("email",), method, key)(rec)
    rec = stage(("who", "user"), method, key)(rec)
    encoded = jsonl.dumps(rec).decode()
    # e-mails contain "@", which no token contains; user names are compared as
    # whole values (a hex token may contain a short hex-looking name by chance)
    assert email not in encoded
    assert rec["who"]["user"] != user
    if method != "hash":
        assert user not in encoded
    assert rec["n"] == 1


@settings(max_examples=150)
@given(local=LOCAL, domain=DOMAIN)
def test_mask_keeps_the_first_character_and_the_domain(local, domain):
    out = stage(method="mask")({"email": f"{local}@{domain}"})["email"]
    assert out.endswith("@" + domain)
    masked = out[: -len(domain) - 1]
    assert masked == (local[0] + "***" if len(local) > 1 else "***")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("jane@example.com", "j***@example.com"),
        ("j@example.com", "***@example.com"),
        ("@example.com", "***@example.com"),
        ("first.last+tag@mail.example.org", "f***@mail.example.org"),
        ('"a@b"@example.com', '"***@example.com'),
        ("jane", "j***"),
        ("j", "***"),
        ("jane@", "j***"),
        ("", ""),
        ("Ødegård", "Ø***"),
    ],
)
def test_mask_cases(value, masked):
    assert mask(value) == masked


def test_mask_does_not_reveal_length():
    assert mask("ab@x.org") == mask("abcdefghijklmnop@x.org".replace("bcdefghijklmnop", "b"))
    assert len(mask("alexander")) == len(mask("al"))


def test_redact_and_null():
    redact = stage(method="redact")
    assert redact({"email": "jane@example.com"}) == {"email": REDACTED}
    for method in ("hash", "mask", "redact"):
        assert stage(method=method)({"email": None}) == {"email": None}
        assert stage(method=method)({"other": 1}) == {"other": 1}


def test_lone_surrogates_are_hashed_by_their_code_points():
    value = "jane\udc80@example.com"
    expected = hmac.digest(b"k", value.encode("utf-8", "surrogatepass"), "sha256").hex()
    assert token(value, "k") == expected
    assert stage(("a", "b"), key="k")({"a": {"b": value}})["a"]["b"] == expected


def test_numbers_and_booleans_are_anonymized_as_text():
    hashed = stage(key="k")
    assert hashed({"email": 42})["email"] == token("42", "k")
    assert hashed({"email": True})["email"] == token("true", "k")
    assert stage(method="mask")({"email": 12345})["email"] == "1***"


def test_a_record_value_is_redacted_before_it_goes_to_the_error_stream():
    anon = stage()
    rec = {"email": {"address": "jane@example.com"}}
    with pytest.raises(RecordError) as raised:
        anon(rec)
    assert raised.value.code == "type"
    assert rec == {"email": REDACTED}
    assert "jane" not in raised.value.message


def test_without_a_key_a_random_run_key_is_used_and_never_printed(capfd):
    a = stage(key="")({"email": "jane@example.com"})["email"]
    b = stage(key="")({"email": "jane@example.com"})["email"]
    assert a == b  # one key for the whole run
    assert a != hmac.digest(b"", b"jane@example.com", "sha256").hex()
    err = capfd.readouterr().err
    assert "random key" in err
    from flowlang.stages import anonymize

    assert anonymize._run_key.hex() not in err


def _token_in_fresh_process(env_key: str | None) -> str:
    code = (
        "from flowlang.runtime.base import StageContext\n"
        "from flowlang.stages.anonymize import Anonymize\n"
        "import os\n"
        "a = Anonymize(StageContext('p', 's', 'l'), ('e',), key=os.environ.get('K', ''))\n"
        "print(a({'e': 'jane@example.com'})['e'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "K"}
    if env_key is not None:
        env["K"] = env_key
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_random_keys_differ_between_runs_and_real_keys_do_not():
    assert _token_in_fresh_process(None) != _token_in_fresh_process(None)
    assert _token_in_fresh_process("s3cret") == _token_in_fresh_process("s3cret")


# ---------------------------------------------------------------- compiled pipelines


PROGRAM = (
    'source file("input.jsonl", format=json)\n'
    "  | anonymize(email)\n"
    "  | anonymize(user, method=mask)\n"
    "  | anonymize(name, method=redact)\n"
    '  | sink file("output.jsonl")\n'
)
RECORDS = [
    {"email": "jane@example.com", "user": "jane", "name": "Jane Doe"},
    {"email": None, "user": "bob@corp.example", "name": None},
]


def test_compiled_pipeline_with_key_from_the_environment(tmp_path):
    result = run_flow(PROGRAM, tmp_path, records=RECORDS, env={"FLOW_ANON_KEY": "k1"})
    assert result.exit_code == 0, result.stderr
    assert result.output == [
        {"email": token("jane@example.com", "k1"), "user": "j***", "name": REDACTED},
        {"email": None, "user": "b***@corp.example", "name": None},
    ]
    assert "k1" not in result.code


def test_key_is_never_in_generated_code_or_output(tmp_path):
    secret = "very-secret-key-material"
    program = PROGRAM.replace("anonymize(email)", 'anonymize(email, key=env("MY_KEY"))')
    result = run_flow(program, tmp_path, records=RECORDS, env={"MY_KEY": secret})
    assert result.exit_code == 0, result.stderr
    assert result.output[0]["email"] == token("jane@example.com", secret)
    for text in (result.code, result.stderr, (tmp_path / "output.jsonl").read_text()):
        assert secret not in text


@pytest.mark.parametrize("written", ['key="hunter2"', 'key=env("K", "hunter2")'])
def test_a_key_written_in_the_program_is_refused(tmp_path, written):
    program = PROGRAM.replace("anonymize(email)", f"anonymize(email, {written})")
    with pytest.raises(CompileFailed, match="must come from the environment"):
        run_flow(program, tmp_path, records=RECORDS)


def test_no_key_runs_with_a_warning(tmp_path):
    env = {"FLOW_ANON_KEY": ""}
    result = run_flow(PROGRAM, tmp_path, records=RECORDS, env=env)
    assert result.exit_code == 0
    assert len(result.output[0]["email"]) == 64
    assert "random key" in result.stderr
