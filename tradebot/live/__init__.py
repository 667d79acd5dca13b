"""Paper trading: confirmed candles through the same compiled plan and the same kernel step as a
backtest, with an append-only journal that makes a session resumable after any crash.

    journal.py   the session's durable record (JSON lines, fsync per record)
    broker.py    the Broker seam and PaperBroker (the kernel's own fill model)
    session.py   one script on one symbol: warm-up, each confirmed bar, restore, cancel
    window.py    how many bars a session keeps, and when it may forget the oldest
    review.py    reading a session folder: status, verify
    feed.py      bars in: the store + backfill for the warm-up, the stream or a replayed file

Above lang, runtime and data (through pipeline); nothing below imports it.
"""
