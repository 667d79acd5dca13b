"""Self-contained HTML reports: plain data in (model.py), one offline HTML file out (html.py).

- `model`    - the data model of a page: `BacktestPage`, `PortfolioPage`, `SweepPage` and their
               parts, plain values and numpy arrays only, so any caller (a run, a sweep, a saved
               --out folder, later a paper session) can fill one.
- `backtest` - a `BacktestPage` from a backtest's result, bars and named series.
- `portfolio`- a `PortfolioPage` from a portfolio run's result and its symbols' prices.
- `sweep`    - a `SweepPage` from an optimizer review.
- `saved`    - the extra files `--out` writes for a report, and a page rebuilt from such a folder.
- `html`     - `render(page)`: the page as one HTML string with every script inlined.
"""
from __future__ import annotations

from .html import render, write_report
from .model import BacktestPage, NamedSeries, PortfolioPage, PriceBars, SweepPage

__all__ = ["BacktestPage", "NamedSeries", "PortfolioPage", "PriceBars", "SweepPage", "render", "write_report"]
