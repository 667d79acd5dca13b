"""TradeBot: a strategy language (.tbs) compiled to vectorized Polars, with backtests,
optimization sweeps, Bybit data collection and a REPL."""

__version__ = "0.1.0"
