"""The text, list, hash, URL and address builtins: VRL's examples, the laws
between them, compile-time checks of constant arguments, and failures that
reach the error stream."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime import ops
from flowlang.runtime.base import RecordError
from tests.flowrun import run_flow

text = st.text(st.sampled_from("ab,é-$ "), max_size=10)


def test_vrl_examples_of_slice():
    assert ops.fn_slice("foo", 0) == "foo"
    assert ops.fn_slice("foo", 1) == "oo"
    assert ops.fn_slice("foo", 1, 2) == "o"
    assert ops.fn_slice("Supercalifragilisticexpialidocious", 0, 5) == "Super"
    assert ops.fn_slice("Supercalifragilisticexpialidocious", 5, 9) == "cali"
    assert ops.fn_slice("foo", -2) == "oo"
    assert ops.fn_slice("foo", 0, 100) == "foo"
    assert ops.fn_slice([0, 1, 2], 1) == [1, 2]
    assert ops.fn_slice("héllo", 1, 2) == "é"  # characters, not bytes as in VRL
    with pytest.raises(RecordError, match="start must be between -3 and 3"):
        ops.fn_slice("foo", 4)
    with pytest.raises(RecordError, match="end must not be before start"):
        ops.fn_slice("foo", 2, 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(), max_size=6) | text, st.integers(-8, 8), st.integers(-8, 8))
def test_slice_is_python_slicing_where_it_is_defined(value, start, end):
    n = len(value)
    first, last = start + n if start < 0 else start, end + n if end < 0 else end
    if 0 <= first <= n and first <= last:
        assert ops.fn_slice(value, start, end) == value[start:end]  # Python clamps the end
    else:
        with pytest.raises(RecordError):
            ops.fn_slice(value, start, end)


def test_vrl_examples_of_split_and_join():
    assert ops.fn_split("", " ") == [""]
    assert ops.fn_split("This is a long string.", " ") == ["This", "is", "a", "long", "string."]
    assert ops.fn_split("This is a long string", " ", 2) == ["This", "is a long string"]
    assert ops.fn_split("abc", "") == ["", "a", "b", "c", ""]
    assert ops.fn_split("a,b", ",", 0) == []
    assert ops.fn_join(["sources", "transforms", "sinks"], ", ") == "sources, transforms, sinks"
    assert ops.fn_join(["a", "b"]) == "ab"
    with pytest.raises(RecordError, match="list of str"):
        ops.fn_join(["a", 1])


@settings(max_examples=300, deadline=None)
@given(text, st.sampled_from([",", "ab", " ", "é"]), st.none() | st.integers(1, 5))
def test_join_undoes_split(s, sep, limit):
    pieces = ops.fn_split(s, sep, limit)
    assert ops.fn_join(pieces, sep) == s
    assert limit is None or len(pieces) <= limit


def test_vrl_examples_of_replace():
    s = "I like apples and bananas"
    assert ops.fn_replace(s, "a", "o") == "I like opples ond bononos"
    assert ops.fn_replace(s, "a", "o", 1) == "I like opples and bananas"
    assert ops.fn_replace(s, "a", "o", 0) == s
    assert ops.fn_replace_regex(s, "[aeiou]", "X") == "I lXkX XpplXs Xnd bXnXnXs"
    assert ops.fn_replace_regex(s, "a", "o", 2) == "I like opples ond bananas"
    assert ops.fn_replace_regex("abc", "x*", "-") == "-a-b-c-"


def test_replacement_text_names_groups_as_vrl_does():
    name = r"(?P<first>\w+) (?P<last>\w+)"
    assert ops.fn_replace_regex("John Smith", name, "$last, $first") == "Smith, John"
    assert ops.fn_replace_regex("John Smith", name, "${first}_") == "John_"
    assert ops.fn_replace_regex("John Smith", name, "$1 $$ $9 $1a") == "John $  "
    assert ops.fn_replace_regex("a", "a", "$") == "$"
    with pytest.raises(RecordError, match="invalid regular expression"):
        ops.fn_replace_regex("a", "(", "x")


@settings(max_examples=300, deadline=None)
@given(text, st.sampled_from(["a", ",", "é", "ab"]), st.sampled_from(["", "x", "$"]))
def test_replace_of_a_literal_equals_replace_regex_of_its_escaped_pattern(s, old, new):
    import re

    assert ops.fn_replace(s, old, new) == ops.fn_replace_regex(s, re.escape(old), new)


def test_pad():
    assert ops.fn_pad_start("7", 3, "0") == "007"
    assert ops.fn_pad_end("ab", 7, "xyz") == "abxyzxy"
    assert ops.fn_pad_start("abcdef", 3) == "abcdef"
    assert ops.fn_pad_start("é", 3) == "  é"
    with pytest.raises(RecordError, match="empty"):
        ops.fn_pad_start("a", 3, "")
    with pytest.raises(RecordError, match="above"):
        ops.fn_pad_end("a", 10**12)


@settings(max_examples=300, deadline=None)
@given(text, st.integers(-2, 14), st.sampled_from([" ", "0", "ab"]))
def test_padded_text_has_the_length_and_keeps_the_text(s, width, fill):
    start, end = ops.fn_pad_start(s, width, fill), ops.fn_pad_end(s, width, fill)
    assert len(start) == len(end) == max(width, len(s))
    assert start.endswith(s) and end.startswith(s)


# RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (case 5 truncates the output)
RFC_4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 20,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ),
    (
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data."
        b" The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


@pytest.mark.parametrize(("key", "data", "want"), RFC_4231)
def test_hmac_sha256_meets_rfc_4231(key, data, want):
    from flowlang.runtime.digest import Hmac

    assert Hmac(key).hexdigest(data) == want
    if key.isascii() and data.isascii():  # text keys and messages: the builtin itself
        assert ops.fn_hmac(data.decode(), key.decode()) == want


def test_vrl_examples_of_hmac_and_sha256():
    assert ops.fn_hmac("Hello there", "super-secret-key") == (
        "78b184f1832f8aff3934f5e0212454671b2d04d494e3b25075c5e45167029662"
    )
    assert ops.fn_hmac("Hello there", "super-secret-key", "SHA-224") == (
        "42fccbc2b7d22a143b92f265a8046187558a94d11ddbb30622207e90"
    )
    assert ops.fn_sha256("foobar") == hashlib.sha256(b"foobar").hexdigest()
    with pytest.raises(RecordError, match="unknown algorithm") as failure:
        ops.fn_hmac("x", "the-key", "MD5")
    assert "the-key" not in str(failure.value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.text(max_size=70), st.sampled_from(["SHA1", "sha-384", "SHA-512"]))
def test_hmac_agrees_with_the_standard_library(message, key, algorithm):
    name = algorithm.upper().replace("-", "").lower()
    encode = lambda t: t.encode("utf-8", "surrogatepass")  # noqa: E731
    want = hmac.new(encode(key), encode(message), name).hexdigest()
    assert ops.fn_hmac(message, key, algorithm) == want


def test_vrl_examples_of_parse_url():
    assert ops.fn_parse_url("ftp://foo:bar@example.com:4343/foobar?hello=world#123") == {
        "scheme": "ftp",
        "username": "foo",
        "password": "bar",
        "host": "example.com",
        "port": 4343,
        "path": "/foobar",
        "query": {"hello": "world"},
        "fragment": "123",
    }
    assert ops.fn_parse_url("https://example.com", True) == {
        "scheme": "https",
        "username": "",
        "password": "",
        "host": "example.com",
        "port": 443,
        "path": "/",
        "query": {},
        "fragment": None,
    }
    assert ops.fn_parse_url("https://example.com:443")["port"] is None
    assert ops.fn_parse_url("https://[2001:db8::1]:8080/")["host"] == "[2001:db8::1]"


@pytest.mark.parametrize(
    "url", ["example.com/x", "/relative", "http://", "http://a b/", "http://h:99999/", ""]
)
def test_text_that_is_not_an_absolute_url_is_an_error(url):
    with pytest.raises(RecordError, match="parse_url"):
        ops.fn_parse_url(url)


def test_vrl_examples_of_parse_query_string():
    assert ops.fn_parse_query_string("foo=%2B1&bar=2&bar=3&xyz") == {
        "foo": "+1",
        "bar": ["2", "3"],
        "xyz": "",
    }
    assert ops.fn_parse_query_string("?foo%5b%5d=1&foo%5b%5d=2") == {"foo[]": ["1", "2"]}
    assert ops.fn_parse_query_string("=&=") == {"": ["", ""]}
    assert ops.fn_parse_query_string("") == {}
    assert ops.fn_parse_query_string("a=b+c%20d") == {"a": "b c d"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=4), st.text(max_size=4)), max_size=5))
def test_parse_query_string_reads_what_urlencode_writes(pairs):
    from urllib.parse import urlencode

    got = ops.fn_parse_query_string(urlencode(pairs))
    for key in {k for k, _ in pairs}:
        values = [v for k, v in pairs if k == key]
        assert got[key] == (values[0] if len(values) == 1 else values)
    assert set(got) == {k for k, _ in pairs}
    url = ops.fn_parse_url("https://h.example/?" + urlencode(pairs))
    assert url["query"] == dict(pairs)  # a repeated key keeps its last value


def test_vrl_examples_of_ip_cidr_contains():
    assert ops.fn_ip_cidr_contains("192.168.0.0/16", "192.168.10.32") is True
    private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    assert ops.fn_ip_cidr_contains(private, "192.168.10.32") is True
    assert ops.fn_ip_cidr_contains("2001:4f8:4:ba::/64", "2001:4f8:4:ba:2e0:81ff:fe22:d1f1")
    assert ops.fn_ip_cidr_contains("192.168.0.0/24", "192.168.10.32") is False
    assert ops.fn_ip_cidr_contains("10.0.0.0/8", "::ffff:10.0.0.1") is False
    with pytest.raises(RecordError, match="not an ip address"):
        ops.fn_ip_cidr_contains("192.168.0.0/24", "INVALID")
    for bad in ("10.0.0.1/8", "1.2.3.0/255.255.255.0", "10.0.0.0/33"):
        with pytest.raises(RecordError):
            ops.fn_ip_cidr_contains(bad, "10.0.0.1")


def test_get_hostname_is_the_machines_name():
    import socket

    assert ops.fn_get_hostname() == socket.gethostname()


def _diagnostics(program: str) -> list[str]:
    from flowlang.checker import check
    from flowlang.parser import parse
    from flowlang.source import SourceFile

    src = SourceFile("t.flow", program)
    ast, diags = parse(src)
    _, more = check(ast, src)
    return [f"{d.code} {d.message}" for d in [*diags, *more]]


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        ('replace_regex(s, r"(a", "x")', "E407 `pattern` of `replace_regex`: invalid regular"),
        ('hmac(s, "literal-key")', "E407 the `key` of `hmac` must come from the environment"),
        ('hmac(s, env("K", "fallback"))', "E407 the `key` of `hmac` must come from"),
        ('hmac(s, env("K"), algorithm="MD5")', "E407 `algorithm` of `hmac`: unknown algorithm"),
        ('ip_cidr_contains("10.0.0.1/8", s)', "E407 `cidr` of `ip_cidr_contains`: 10.0.0.1/8 has"),
        ('ip_cidr_contains(["10.0.0.0/8", "x"], s)', "E407 `cidr` of `ip_cidr_contains`"),
        ("join([1, 2])", "E301 `value` of `join` must be [str]"),
        ("slice(5, 1)", "E301 `value` of `slice` must be str or [T]"),
    ],
)
def test_constant_arguments_are_checked_before_the_run(call, complaint):
    found = _diagnostics(f"source stdin(format=json) | set x = {call} | sink stdout\n")
    assert any(d.startswith(complaint) for d in found), found


def test_parse_url_is_a_typed_record():
    found = _diagnostics(
        "source stdin(format=json)\n"
        '  | set u = parse_url(to_str(link) ?? "") | set p = u.port + 1, h = u.hots\n'
        "  | sink stdout\n"
    )
    assert any("E304" in d and "u.port" in d for d in found), found
    assert any("E201" in d and "hots" in d for d in found), found


def test_text_builtins_through_a_compiled_pipeline(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWTEST_HMAC_KEY", "super-secret-key")
    program = (
        'source file("input.jsonl", format=json)\n'
        '  | set u = parse_url(link), q = parse_query_string(u.query.next ?? ""),\n'
        '        parts = split(path, "/", limit=3), again = join(parts, "/"),\n'
        '        tag = hmac(msg, env("FLOWTEST_HMAC_KEY")),\n'
        '        lan = ip_cidr_contains(["10.0.0.0/8", "192.168.0.0/16"], ip),\n'
        '        id = pad_start(to_str(n), 4, "0"), head = slice(path, 0, 4),\n'
        '        clean = replace_regex(msg, r"\\s+", " ")\n'
        "  | drop u\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [
        {
            "link": "https://h.example/x?next=a%3D1%26a%3D2",
            "path": "/a/b/c",
            "msg": "Hello there",
            "ip": "192.168.1.2",
            "n": 7,
        },
        {"link": "not a url", "path": "/", "msg": "", "ip": "10.0.0.1", "n": 1},
    ]
    result = run_flow(program, tmp_path, records=records)
    assert result.exit_code == 0, result.stderr
    (out,) = result.output
    assert out["q"] == {"a": ["1", "2"]}
    assert out["parts"] == ["", "a", "b/c"] and out["again"] == "/a/b/c"
    assert out["tag"] == "78b184f1832f8aff3934f5e0212454671b2d04d494e3b25075c5e45167029662"
    assert (out["lan"], out["id"], out["head"], out["clean"]) == (
        True,
        "0007",
        "/a/b",
        "Hello there",
    )
    (error,) = result.errors
    assert "parse_url" in str(error)
    assert "super-secret-key" not in result.stderr + str(result.errors)


def test_vrl_examples_of_split_with_a_regex():
    assert ops.fn_split_regex("This is a long string", " ", 2) == ["This", "is a long string"]
    assert ops.fn_split_regex("ThisaisAlongAstring.", "(?i)a") == ["This", "is", "long", "string."]
    assert ops.fn_split_regex("a  b\tc", r"\s+") == ["a", "b", "c"]
    assert ops.fn_split_regex("abc", "x*") == ["", "a", "b", "c", ""]
    assert ops.fn_split_regex("a,b", ",", 0) == []
    assert ops.fn_split_regex("a,b", ",", -3) == []
    assert ops.fn_split_regex("", ",") == [""]
    assert ops.fn_split_regex(None, ",") is None
    with pytest.raises(RecordError, match="invalid regular expression"):
        ops.fn_split_regex("a", "(")


@settings(max_examples=300, deadline=None)
@given(text, st.sampled_from([",", "é", "-$", " ", "ab"]), st.none() | st.integers(-2, 6))
def test_split_regex_of_an_escaped_literal_is_split(s, sep, limit):
    import re

    assert ops.fn_split_regex(s, re.escape(sep), limit) == ops.fn_split(s, sep, limit)


def test_split_regex_in_a_program_and_its_pattern_checked(tmp_path):
    program = (
        'source file("input.jsonl", format=json)\n'
        '  | set words = split_regex(line, r"[,;]\\s*", limit=3)\n'
        '  | sink file("output.jsonl")\n'
    )
    result = run_flow(program, tmp_path, records=[{"line": "a, b;c ,d"}, {"line": "x"}])
    assert [r["words"] for r in result.output] == [["a", "b", "c ,d"], ["x"]]
    bad = 'source stdin(format=json)\n  | set w = split_regex(line, "(")\n  | sink stdout\n'
    with pytest.raises(Exception, match="E407"):
        run_flow(bad, tmp_path)


def test_parse_url_writes_an_international_domain_in_ascii_as_vrl_does():
    assert ops.fn_parse_url("https://www.café.com")["host"] == "www.xn--caf-dma.com"
    assert ops.fn_parse_url("https://www.CAFé.com/x")["host"] == "www.xn--caf-dma.com"
    assert ops.fn_parse_url("https://例え.テスト/")["host"] == "xn--r8jz45g.xn--zckzah"
    assert ops.fn_parse_url("https://vector.dev")["host"] == "vector.dev"
    with pytest.raises(RecordError):
        ops.fn_parse_url("https://" + "é" * 70 + ".com")  # a label longer than 63 characters


def test_len_of_a_record_counts_its_fields_as_vrls_length(tmp_path):
    assert ops.fn_len({"a": 1, "b": {"c": 2}}) == 2
    assert ops.fn_len({}) == 0
    assert ops.fn_len("héllo") == 5 and ops.fn_len([1, 2]) == 2
    with pytest.raises(RecordError, match="str, list or record"):
        ops.fn_len(3)
    program = (
        'source file("input.jsonl", format=json)\n'
        "  | set n = len(tags), k = len(labels)\n"
        '  | sink file("output.jsonl")\n'
    )
    result = run_flow(program, tmp_path, records=[{"tags": ["a"], "labels": {"x": 1, "y": 2}}])
    assert [(r["n"], r["k"]) for r in result.output] == [(1, 2)]
