"""`python -m tradebot` is the same as the `tradebot` command, whose entry point is `run`."""
import signal
import sys


def run() -> int:
    """Import the CLI, then run it: a Ctrl-C even while it imports is a word, not a traceback."""
    if hasattr(signal, "SIGBREAK"):
        # Windows: Ctrl-Break (what the dashboard sends to stop a job in its own process group,
        # where Ctrl-C cannot be delivered) stops tradebot as gracefully as Ctrl-C does.
        signal.signal(signal.SIGBREAK, signal.default_int_handler)
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
