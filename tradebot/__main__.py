"""`python -m tradebot` is the same as the `tradebot` command, whose entry point is `run`."""
import atexit
import os
import signal
import sys
import threading


def run() -> int:
    """Import the CLI, then run it: a Ctrl-C even while it imports is a word, not a traceback."""
    install_interrupt_handlers()
    try:
        from .cli import main, teardown_skippable
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    code = main()
    if teardown_skippable():
        end_process(code)
    return code


def install_interrupt_handlers() -> None:
    """Ctrl-C raises KeyboardInterrupt through `interrupt` (unless the process was started with
    it ignored); on Windows Ctrl-Break does the same (what the dashboard sends to stop a job in its
    own process group, where Ctrl-C cannot be delivered)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)
    if hasattr(signal, "SIGBREAK"):
        signal.signal(signal.SIGBREAK, interrupt)


def interrupt(signum: int, frame: object) -> None:
    """Ctrl-C: KeyboardInterrupt, as Python's own handler raises it, but not that handler itself.
    Under Python's default handler, a press that lands inside a Polars call is raised a second
    time (Polars re-raises it after ending its query): during `pl.read_csv` 12 presses of 12 came
    twice, and the second one, raised while the first was being reported, printed a traceback
    instead of "interrupted". With a handler of our own, each press is raised once."""
    raise KeyboardInterrupt


def end_process(code: int) -> None:
    """End the process now, as Python's own exit would but without tearing the interpreter down.

    Python's exit frees every module and object one by one; after a backtest that is numba's and
    LLVM's whole library and the data's frames, 0.15-0.25 s of CPU (a sixth of a million-bar
    `tradebot run`) that no one sees the result of. What the exit must still do is done here:
    the output flushed, the atexit handlers run (logging's flush, temporary folders, workers).
    Only with no other thread running (their shutdown is Python's to wait for), and only if the
    output flushes: otherwise the ordinary exit reports the problem."""
    if threading.active_count() > 1:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


if __name__ == "__main__":
    sys.exit(run())
