"""`python -m tradebot` is the same as the `tradebot` command, whose entry point is `run`."""
import sys


def run() -> int:
    """Import the CLI, then run it: a Ctrl-C even while it imports is a word, not a traceback."""
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
