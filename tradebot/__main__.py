"""`python -m tradebot` is the same as the `tradebot` command, whose entry point is `run`."""
import atexit
import os
import signal
import sys
import threading


def run() -> int:
    """Import the CLI, then run it: a Ctrl-C even while it imports is a word, not a traceback."""
    if hasattr(signal, "SIGBREAK"):
        # Windows: Ctrl-Break (what the dashboard sends to stop a job in its own process group,
        # where Ctrl-C cannot be delivered) stops tradebot as gracefully as Ctrl-C does.
        signal.signal(signal.SIGBREAK, signal.default_int_handler)
    try:
        from .cli import main, teardown_skippable
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    code = main()
    if teardown_skippable():
        end_process(code)
    return code


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
