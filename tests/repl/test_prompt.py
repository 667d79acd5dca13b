"""The prompt loop driven through prompt_toolkit's pipe input and a dummy output: multi-line
input, Ctrl-C, Ctrl-D, Tab completion, persistent history, and the plain loop for piped stdin."""
from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Callable

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from tests.repl.support import parse_table
from tradebot.repl.app import ReplLexer, build_prompt, main, run_lines, run_prompt

ENTER, CTRL_C, CTRL_D, TAB, UP = "\r", "\x03", "\x04", "\t", "\x1b[A"


def drive(repl, keys: str | list[str], history: Path, *,
          settled: dict[int, Callable[[Buffer], bool]] | None = None) -> list[str]:
    """Type `keys` at the prompt (ending with Ctrl-D) and return what the REPL printed.

    A list of chunks is typed one after another; `settled[i]` says when the input line is ready for
    chunk i, for keys whose effect is asynchronous (completions are computed in the background, as
    at a real terminal), so a slow machine waits instead of racing ahead. Ctrl-D always ends."""
    printed: list[str] = []
    chunks = [keys] if isinstance(keys, str) else keys
    settled = settled or {}
    with create_pipe_input() as pipe:
        prompt = build_prompt(repl, history=FileHistory(str(history)), input=pipe, output=DummyOutput())

        def typist() -> None:
            for index, chunk in enumerate(chunks):
                deadline = time.monotonic() + 30
                while index in settled and not settled[index](prompt.default_buffer):
                    if time.monotonic() > deadline:  # give up; the test's assertions will say what is wrong
                        pipe.send_text(CTRL_C + CTRL_D)
                        return
                    time.sleep(0.02)
                pipe.send_text(chunk)

        thread = threading.Thread(target=typist, daemon=True)
        thread.start()
        assert run_prompt(repl, prompt, printed.append) == 0
        thread.join()
    return printed


def test_lines_continue_while_the_statement_is_open(repl, tmp_path):
    printed = drive(repl, "x = sma(close," + ENTER + "20)" + ENTER + "enter long when x >" + ENTER
                    + "open" + ENTER + ":show" + ENTER + CTRL_D, tmp_path / "history")
    assert printed[0] == "defined x (number series)"
    assert printed[1].startswith("rule added: enter long")
    assert printed[2] == "x = sma(close, 20)\nenter long when x > open"


def test_an_empty_line_submits_an_unfinished_input_to_show_the_error(repl, tmp_path):
    printed = drive(repl, "x = 1 +" + ENTER + ENTER + "x = 2" + ENTER + CTRL_D, tmp_path / "history")
    assert "ends too early" in printed[0] and "^" in printed[0]
    assert printed[1] == "defined x (number constant)"


def test_ctrl_c_drops_the_line_and_keeps_the_session(repl, tmp_path):
    printed = drive(repl, "y = 1" + ENTER + "y = sma(close" + CTRL_C + "y" + ENTER + CTRL_D, tmp_path / "history")
    assert printed == ["defined y (number constant)", "1"]


def test_ctrl_d_and_quit_leave(repl, tmp_path):
    assert drive(repl, CTRL_D, tmp_path / "history") == []
    assert drive(repl, ":quit" + ENTER + "close" + ENTER, tmp_path / "history") == []


def test_tab_completes_a_builtin(repl, tmp_path):
    printed = drive(repl, ["rs", TAB, "(close, 14)" + ENTER + CTRL_D], tmp_path / "history",
                    settled={1: lambda line: line.complete_state is not None,  # the menu is up
                             2: lambda line: line.text == "rsi"})
    assert "rsi(close, 14)" in parse_table(printed[0])[1]


def test_history_persists_between_runs(repl, tmp_path):
    history = tmp_path / "history"
    drive(repl, "z = 40 + 2" + ENTER + CTRL_D, history)
    assert "z = 40 + 2" in history.read_text(encoding="utf-8")
    printed = drive(repl, UP + ENTER + "z" + ENTER + CTRL_D, history)  # Up recalls the last input
    assert printed == ["redefined z (number constant)", "42"]


def test_piped_lines_are_read_without_a_terminal(repl):
    printed: list[str] = []
    run_lines(repl, ["x = sma(close,", "    20)", "", "x > 1", ":quit", "never read"], printed.append)
    assert printed[0] == "defined x (number series)"
    assert parse_table(printed[1])[1]["x > 1"]
    assert len(printed) == 2


def test_a_piped_command_ends_an_unfinished_statement(repl):
    printed: list[str] = []
    run_lines(repl, ["y = 1", "x = 1 +", ":show"], printed.append)
    assert printed[0] == "defined y (number constant)"
    assert "ends too early" in printed[1] and "^" in printed[1]
    assert printed[2] == "y = 1"  # the command ran on its own, not as part of the statement


def test_main_without_a_terminal_reads_stdin(repl):
    printed: list[str] = []
    assert main(repl, history_path=None, stdin=io.StringIO("1 + 1\n"), write=printed.append) == 0
    assert printed == ["2"]


def test_commands_are_highlighted_and_code_after_them_too():
    tokens = [(str(t), v) for t, v in ReplLexer().get_tokens(":plot rsi(close)")]
    assert tokens[0] == ("Token.Name.Decorator", ":plot")
    assert ("Token.Name.Builtin", "rsi") in tokens
