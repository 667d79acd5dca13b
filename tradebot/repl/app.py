"""The terminal side of `tradebot repl`: a prompt_toolkit PromptSession around `controller.Repl`.

The prompt highlights as you type (the .tbs Pygments lexer), completes (completer.py), keeps a
persistent history (FileHistory in the user's data directory, or a file given for tests), and
reads multi-line input: Enter inserts a new, indented line while the parser says the input stops
in the middle of a statement (an open bracket, a trailing operator or keyword); an empty line
submits anyway, so the error can be seen. Ctrl-C cancels the line; Ctrl-D on an empty line exits.

Without a terminal on stdin (`tradebot repl < commands.txt`) it reads lines plainly instead.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Callable, Iterable, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.history import FileHistory, History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.output import Output
from pygments.lexer import inherit
from pygments.token import Name

from ..compiled import numba_warming_up
from ..lang.tooling.highlight import TbsLexer
from .completer import ReplCompleter
from .controller import Repl
from .session import needs_more

log = logging.getLogger(__name__)

PROMPT = "tbs> "
CONTINUATION = "...  "
INDENT = "    "  # continuation lines are indented: the layout rule makes them part of the statement
HISTORY_FILE = "repl_history"


class ReplLexer(TbsLexer):
    """The .tbs lexer, plus `:command` at the start of the input."""

    name = "TradeBot REPL"
    aliases: list[str] = []
    filenames: list[str] = []
    tokens = {"root": [(r"\A[ \t]*:[A-Za-z]*", Name.Decorator), inherit]}


def default_history_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("tradebot", appauthor=False)) / HISTORY_FILE


def open_history(path: Path) -> History:
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileHistory(str(path))


def key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.complete_state = None  # Enter picks the highlighted completion
            return
        text = buffer.text
        last_line_blank = "\n" in text and not text.rsplit("\n", 1)[-1].strip()
        if needs_more(text) and not last_line_blank:
            buffer.insert_text("\n" + INDENT)
        else:
            buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n" + INDENT)

    return bindings


def build_prompt(repl: Repl, *, history: History, input: Input | None = None,
                 output: Output | None = None) -> PromptSession:
    """The PromptSession: highlighting, completion, history, multi-line Enter handling."""
    return PromptSession(
        message=PROMPT,
        multiline=True,
        prompt_continuation=lambda width, line, soft: CONTINUATION.rjust(width),
        lexer=PygmentsLexer(ReplLexer),
        completer=ReplCompleter(lambda: repl.session),
        complete_while_typing=True,
        auto_suggest=AutoSuggestFromHistory(),
        history=history,
        key_bindings=key_bindings(),
        input=input,
        output=output,
    )


def respond(repl: Repl, text: str, write: Callable[[str], None]) -> bool:
    """Handle one input and print the reply; False when the REPL should stop."""
    try:
        reply = repl.handle(text)
    except KeyboardInterrupt:
        write("interrupted")
        return True
    except Exception as exc:  # a bug in tradebot: say so, keep the session
        log.debug("internal error", exc_info=True)
        write(f"internal error (a bug in tradebot, please report it): {type(exc).__name__}: {exc}")
        return True
    if reply.text:
        write(reply.text)
    return not reply.quit


def run_prompt(repl: Repl, prompt: PromptSession, write: Callable[[str], None]) -> int:
    """The read-eval-print loop on a terminal."""
    while True:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue  # Ctrl-C: the line is dropped, the session stays
        except EOFError:
            return 0  # Ctrl-D
        if not respond(repl, text, write):
            return 0


def run_lines(repl: Repl, lines: Iterable[str], write: Callable[[str], None]) -> int:
    """The loop without a terminal: lines are joined while the input needs more, as at the prompt."""
    pending = ""
    for line in lines:
        if pending and line.lstrip().startswith(":"):  # a command never continues a statement
            text, pending = pending, ""
            if not respond(repl, text, write):
                return 0
        pending = f"{pending}\n{line}" if pending else line
        if needs_more(pending) and line.strip():
            continue
        text, pending = pending, ""
        if not respond(repl, text, write):
            return 0
    if pending:
        respond(repl, pending, write)
    return 0


def banner(repl: Repl) -> str:
    return f"TradeBot REPL · {repl.data_summary()}\n:help lists commands and builtins · Ctrl-D quits"


def main(repl: Repl, *, history_path: Path | None, stdin: TextIO = sys.stdin,
         write: Callable[[str], None] = print) -> int:
    """Run the REPL on the terminal (or on piped lines when stdin is not one)."""
    if not stdin.isatty():
        return run_lines(repl, (line.rstrip("\r\n") for line in stdin), write)
    write(banner(repl))
    prompt = build_prompt(repl, history=open_history(history_path or default_history_path()))
    with numba_warming_up():  # while the user types, so the first answer is quick too
        return run_prompt(repl, prompt, write)
