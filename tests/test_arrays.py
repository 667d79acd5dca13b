"""tradebot.arrays: numpy arrays of Polars columns, against Polars' own `to_numpy` as the oracle."""
from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot import arrays
from tradebot.arrays import booleans

BITS = st.lists(st.booleans(), max_size=300)
_bits = arrays._from_bitmap


@settings(max_examples=200, deadline=None)
@given(BITS, st.integers(0, 40), st.integers(0, 300))
def test_a_boolean_column_equals_polars_own_conversion_at_any_offset_and_length(values, start, length):
    # Slices start inside a byte of the bitmap (Arrow's offset) and end anywhere.
    column = pl.Series(values, dtype=pl.Boolean).slice(start, length)
    expected = column.to_numpy()
    got = booleans(column)
    assert got.dtype == np.bool_ and got.tobytes() == expected.tobytes()


@settings(max_examples=50, deadline=None)
@given(BITS, BITS)
def test_columns_of_several_chunks_and_with_missing_values(first, second):
    chunked = pl.concat([pl.Series(first, dtype=pl.Boolean), pl.Series(second, dtype=pl.Boolean)], rechunk=False)
    assert booleans(chunked).tolist() == first + second
    assert booleans(chunked.slice(3)).tolist() == (first + second)[3:]  # a chunk cut inside a byte
    missing = pl.Series([*first, None], dtype=pl.Boolean)
    assert booleans(missing).tolist() == missing.to_numpy().tolist()


def test_the_bitmap_path_runs_and_a_polars_without_the_export_falls_back(monkeypatch):
    column = pl.Series([True, False, True] * 100)
    assert arrays._from_bitmap(column) is not None  # the fast path is the one tested above
    chunked = pl.concat([column, column], rechunk=False)
    seen = []
    monkeypatch.setattr(arrays, "_from_bitmap", lambda c: seen.append((len(c), c.n_chunks())) or _bits(c))
    assert booleans(chunked).tolist() == chunked.to_list() and seen == [(600, 1)]  # one bitmap
    monkeypatch.setattr(arrays, "_from_bitmap", lambda column: None)
    assert booleans(column).tolist() == [True, False, True] * 100


def test_a_column_of_another_type_is_polars_conversion():
    assert booleans(pl.Series([1, 0, 1], dtype=pl.UInt8)).tolist() == [1, 0, 1]
