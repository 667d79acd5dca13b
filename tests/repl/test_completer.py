"""Completion: what is offered comes from the registries and the session, with signature and doc."""
from __future__ import annotations

from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from tests.repl.conftest import FAKE_FIELDS
from tradebot.lang.builtins import REGISTRY
from tradebot.lang.settings import SETTINGS
from tradebot.lang.tooling.vocabulary import vocabulary
from tradebot.repl.completer import ReplCompleter, trailing_operand


def complete(repl, text: str, *, tab: bool = False) -> dict[str, str]:
    completer = ReplCompleter(lambda: repl.session)
    event = CompleteEvent(completion_requested=tab)
    return {c.text: c.display_meta_text for c in completer.get_completions(Document(text), event)}


def test_builtins_with_signature_and_summary(repl):
    offered = complete(repl, "x = r")
    assert offered["rsi"] == f"{REGISTRY['rsi'].signature()} — {REGISTRY['rsi'].summary()}"
    assert set(offered) >= {n for n in REGISTRY if n.startswith("r")}
    assert complete(repl, "x = clo")["close"] == REGISTRY["close"].summary()


def test_every_builtin_keyword_and_setting_is_offered_on_tab(repl):
    offered = complete(repl, "", tab=True)
    assert set(REGISTRY) | set(vocabulary().all_keywords) | set(SETTINGS) <= set(offered)
    assert complete(repl, "") == {}  # no menu before anything is typed


def test_settings_only_where_a_statement_starts(repl):
    assert "fee" in complete(repl, "fe")
    assert "fee" not in complete(repl, "x = fe")
    assert "fee" not in complete(repl, "enter long when close > open\n    and fe")


def test_session_names_params_and_functions(repl):
    for line in ("param length = 14 in 5..30", "def band(src, k) = sma(src, 20) + k", "level = rsi(close, length)"):
        repl.handle(line)
    offered = complete(repl, "x = le")
    assert offered["length"] == "param = 14 in 5..30" and offered["level"].startswith("number series = rsi(")
    assert complete(repl, "x = ba")["band"] == "def band(src, k) = sma(src, 20) + k"


def test_fields_after_a_dot_follow_the_value_type(repl, bands):
    repl.handle(f"bb = {bands}(close, 20)")
    repl.handle(f"def wide(x) = {bands}(x, 50)")
    for text in ("bb.", "x = bb.", f"x = {bands}(close, 5).", "x = wide(close) .", "enter long when close > bb."):
        assert list(complete(repl, text)) == list(FAKE_FIELDS), text
    assert list(complete(repl, "bb.up")) == ["upper"]
    assert complete(repl, "close.") == {}  # a plain series has no fields
    assert complete(repl, "x = 5..") == {}


def test_trailing_operand():
    assert trailing_operand("x = bbands(close, f(2)) ") == "bbands(close, f(2))"
    assert trailing_operand("a + b.c") == "b.c"
    assert trailing_operand("x = (close") == "close"


def test_commands_files_help_topics_and_set(repl, tmp_path):
    assert set(complete(repl, ":")) == {":" + name for name in
                                        ("help", "data", "load", "run", "set", "show", "save", "plot", "tail",
                                         "reset", "quit")}
    Path(tmp_path / "mystrategy.tbs").write_text("x = 1\n", encoding="utf-8")
    assert "strategy.tbs" in complete(repl, ":load my")
    assert "rsi" in complete(repl, ":help rs")
    assert "rsi" in complete(repl, ":plot rs")
    repl.handle("param length = 14 in 5..30")
    assert set(complete(repl, ":set ", tab=True)) == {"length", *SETTINGS}
