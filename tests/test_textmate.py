"""The TextMate grammar of editors/vscode: up to date with the lexical rules,
every pattern an Oniguruma regex (the engine TextMate and VS Code use), and,
run line by line as TextMate runs it, it colours each comment, string,
number, backticked field and reserved word of the example programs as the
parser's own lexer reads them."""

from __future__ import annotations

import json
from pathlib import Path

import onigurumacffi
import pytest

from flowlang import textmate
from flowlang.names import KEYWORDS, TEST_WORDS
from flowlang.parser.grammar import grammar_keywords, lex

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((EXTENSION / "syntaxes" / "flow.tmLanguage.json").read_text("utf-8"))
PROGRAMS = sorted((ROOT / "examples").glob("*.flow")) + sorted(
    (ROOT / "tests" / "formatter").glob("*.flow")
)


def test_the_grammar_file_is_up_to_date():
    assert textmate.render() == (EXTENSION / "syntaxes" / "flow.tmLanguage.json").read_text(
        "utf-8"
    ), "run python -m flowlang.textmate"


def _word_list(rule: dict) -> set[str]:
    body = rule["match"].removeprefix(r"\b(?:").removesuffix(r")\b")
    return set(body.split("|"))


def test_the_reserved_words_are_the_keywords():
    repo = GRAMMAR["repository"]
    lists = [_word_list(repo[name]) for name in ("literal", "operator-word", "keyword")]
    assert set().union(*lists) == KEYWORDS
    assert sum(len(words) for words in lists) == len(KEYWORDS)  # each in one list
    assert set(grammar_keywords()) == KEYWORDS  # what the parser reserves


def _patterns(rule: dict):
    for key in ("match", "begin", "end"):
        if key in rule:
            yield rule[key]
    for inner in rule.get("patterns", ()):
        yield from _patterns(inner)


def test_every_pattern_compiles_in_oniguruma():
    found = [p for rule in GRAMMAR["repository"].values() for p in _patterns(rule)]
    assert len(found) >= 15
    for pattern in found:
        onigurumacffi.compile(pattern)


def test_the_extension_registers_the_language_grammar_and_server():
    package = json.loads((EXTENSION / "package.json").read_text("utf-8"))
    (language,) = package["contributes"]["languages"]
    (grammar,) = package["contributes"]["grammars"]
    assert language["extensions"] == [".flow"] and grammar["language"] == language["id"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"]
    assert (EXTENSION / grammar["path"]).resolve() == (
        EXTENSION / "syntaxes" / "flow.tmLanguage.json"
    )
    assert (EXTENSION / language["configuration"]).is_file()
    assert package["contributes"]["configuration"]["properties"]["flowlang.server.command"][
        "default"
    ] == ["flowc", "lsp"]
    assert "vscode-languageclient" in package["dependencies"]
    assert (EXTENSION / package["main"]).is_file()


# ---------------------------------------------------------------- a TextMate run


class Tokenizer:
    """TextMate's scan of one line: at each position the rule whose match
    starts first wins (the first listed among equals); a begin/end rule
    scans its inner patterns until its end matches."""

    def __init__(self, grammar: dict) -> None:
        repo = grammar["repository"]
        self.rules = [repo[p["include"].lstrip("#")] for p in grammar["patterns"]]
        self.compiled: dict[str, onigurumacffi._Pattern] = {}

    def regex(self, pattern: str):
        if pattern not in self.compiled:
            self.compiled[pattern] = onigurumacffi.compile(pattern)
        return self.compiled[pattern]

    def first(self, rules, line: str, pos: int):
        best = None
        for rule in rules:
            m = self.regex(rule.get("match") or rule["begin"]).search(line, pos)
            if m is not None and (best is None or m.start() < best[1].start()):
                best = (rule, m)
        return best

    @staticmethod
    def paint(scopes: list, rule: dict, m) -> None:
        start, end = m.span()
        if "name" in rule:
            scopes[start:end] = [rule["name"]] * (end - start)
        for group, capture in rule.get("captures", {}).items():
            s, e = m.span(int(group))
            if 0 <= s < e:
                scopes[s:e] = [capture["name"]] * (e - s)

    def line(self, line: str) -> list[str | None]:
        scopes: list[str | None] = [None] * len(line)
        pos = 0
        while pos < len(line):
            found = self.first(self.rules, line, pos)
            if found is None:
                break
            rule, m = found
            if "match" in rule:
                self.paint(scopes, rule, m)
                pos = max(m.end(), m.start() + 1)
                continue
            start, pos = m.start(), m.end()
            end_rx = self.regex(rule["end"])
            while True:
                end = end_rx.search(line, pos)
                inner = self.first(rule.get("patterns", ()), line, pos)
                if inner is not None and inner[1].start() < end.start():
                    self.paint(scopes, *inner)
                    pos = max(inner[1].end(), inner[1].start() + 1)
                    continue
                break
            stop = end.end()
            scopes[start:stop] = [
                s if s is not None and start < i < stop else rule["name"]
                for i, s in enumerate(scopes[start:stop], start)
            ]
            pos = max(stop, start + 1)
        return scopes


def expected_scope(terminal: str, text: str) -> str | None:
    """The scope a token's terminal calls for; None where any will do."""
    if terminal in grammar_keywords().values():
        if text in textmate.LITERAL_WORDS:
            return "constant.language.flow"
        if text in textmate.OPERATOR_WORDS:
            return "keyword.operator.word.flow"
        return "keyword.control.flow"
    return {
        "COMMENT": "comment.line.number-sign.flow",
        "STRING": "string.quoted.double.flow",
        "RAW_STRING": "string.regexp.flow",
        "NUMBER": "constant.numeric.flow",
        "BACKTICK": "variable.other.field.flow",
    }.get(terminal)


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_the_grammar_colours_the_programs_as_the_lexer_reads_them(path: Path):
    text = path.read_text("utf-8")
    tokenizer = Tokenizer(GRAMMAR)
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    scopes = [s for line in lines for s in tokenizer.line(line) + [None]]
    checked = 0
    for terminal, start, end in lex(text):
        word = text[start:end]
        if terminal == "WS" or word in TEST_WORDS:
            continue
        got = set(scopes[start:end])
        want = expected_scope(terminal, word)
        if want is not None:
            inside = {want, "constant.character.escape.flow"} if terminal == "STRING" else {want}
            ends = {scopes[start], scopes[end - 1]}
            assert got <= inside and ends == {want}, (
                f"{path.name}: {word!r} ({terminal}) coloured {got}"
            )
            checked += 1
        elif terminal == "NAME":
            # a name is a field, a stage or a function: never a word the parser reserves
            assert got <= {None, "entity.name.function.flow", "entity.name.type.flow"}, (
                f"{path.name}: the name {word!r} coloured {got}"
            )
    assert checked > 0 or not text.strip()


def test_the_tokenizer_sees_what_a_line_holds():
    # the run above would pass on a tokenizer that colours nothing; this
    # line has every kind, escapes and traps
    line = r'| where `where` =~ r"a\"b" and x == "q\"#" # c'
    scopes = Tokenizer(GRAMMAR).line(line)

    def at(piece: str) -> set:
        i = line.index(piece)
        return set(scopes[i : i + len(piece)])

    assert at("where") == {"keyword.control.flow"}
    assert at("`where`") == {"variable.other.field.flow"}
    assert at(r'r"a\"b"') == {"string.regexp.flow"}
    assert at("and") == {"keyword.operator.word.flow"}
    assert at(r'"q\"#"') <= {"string.quoted.double.flow", "constant.character.escape.flow"}
    assert at("# c") == {"comment.line.number-sign.flow"}
    assert at("x ") == {None}


def regenerate() -> list[Path]:
    """`python -m tests.regen`: rewrite the grammar from the lexical rules."""
    path = textmate.DEFAULT_PATH
    text = textmate.render()
    if path.read_text("utf-8") == text:
        return []
    path.write_text(text, "utf-8")
    return [path]
