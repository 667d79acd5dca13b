"""What every layer means by "a bar": the low-level leaf that `lang`, `data` and `runtime` share.

    bars.py       the OHLCV column names, dtypes and the empty frame
    timeframe.py  the one calendar: epoch buckets, the week anchor, months, the data's interval
    intervals.py  the candle intervals Bybit serves, with their codes
    vocab.py      the execution words (fill policies, sizing and level modes) and their bounds

It imports nothing from tradebot except `errors`, so any layer may import it without a cycle.
"""
