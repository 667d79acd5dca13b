"""Issue 10.11/10.12 benchmark: checking scripts built to be slow.

    .venv/bin/python bench/bench_hostile.py

- doubling definitions: `a{i} = a{i-1} + a{i-1}` (each line doubles the expression's tree);
- doubling functions: `def f{i}(x) = f{i-1}(x) + f{i-1}(x)`;
- syntax-error recovery: 2,000 bad lines, and 64 KB of random words and brackets.

Each figure is the wall time of parse + check + compile (`pipeline.compile_source`), errors
included, best of 3. Not part of the test suite: timings belong here, not in assertions.
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, table  # noqa: E402

from tradebot.errors import UserError  # noqa: E402
from tradebot.pipeline import compile_source  # noqa: E402


def doubling_definitions(n: int) -> str:
    lines = ["a0 = close", *(f"a{i} = a{i - 1} + a{i - 1}" for i in range(1, n + 1))]
    return "\n".join([*lines, f"enter long when a{n} > 0", ""])


def doubling_functions(n: int) -> str:
    lines = ["def f0(x) = x", *(f"def f{i}(x) = f{i - 1}(x) + f{i - 1}(x)" for i in range(1, n + 1))]
    return "\n".join([*lines, f"enter long when f{n}(close) > 0", ""])


def random_words(size: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    words = ["close", "(", "+", "enter", "long", "when", ">", "sma", "x", "=", ")", "1", ",", "@", "["]
    lines: list[str] = []
    while sum(map(len, lines)) < size:
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))))
    return "\n".join(lines) + "\n"


def compile_time(source: str) -> float:
    def once() -> None:
        try:
            compile_source(source, "bench.tbs")
        except UserError:
            pass
    start = time.perf_counter()
    once()
    first = time.perf_counter() - start
    return min(first, best_of(once, repeat=2, warmup=0))


def main() -> None:
    cases = [
        ("22 doubling definitions", doubling_definitions(22)),
        ("60 doubling definitions", doubling_definitions(60)),
        ("40 doubling functions", doubling_functions(40)),
        ("2,000 bad lines", "".join(f"x{i} = close +\n" for i in range(2000))),
        ("64 KB of random words", random_words(64_000)),
    ]
    rows = [(name, f"{compile_time(source):.2f} s") for name, source in cases]
    print(table(("script", "check"), rows))


if __name__ == "__main__":
    main()
