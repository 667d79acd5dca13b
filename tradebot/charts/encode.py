"""Numeric arrays as compact JSON values the page decodes into typed arrays.

A million bars of five float64 columns are 40 MB of raw bytes and ~100 MB as JSON text; as
base64 Float32 they are 27 MB, and regular timestamps take a few bytes. Float32 keeps 7
significant digits: enough to draw (a pixel is ~1/1000 of a chart), never used for the numbers
the tables show, which travel as JSON floats.
"""
from __future__ import annotations

import base64
from typing import Any

import numpy as np


def encode_array(values: np.ndarray, *, dtype: str = "f32") -> dict[str, Any]:
    """{"f32": base64} (or "f64"): little-endian, NaN kept (the page draws a gap)."""
    kind = {"f32": "<f4", "f64": "<f8"}[dtype]
    raw = np.ascontiguousarray(values, dtype=kind).tobytes()
    return {dtype: base64.b64encode(raw).decode("ascii")}


def encode_times(ms: np.ndarray) -> dict[str, Any]:
    """Strictly increasing epoch milliseconds as the usual step plus the exceptions to it:
    {"start", "step", "n", "jumps": [[index, gap], ...]}; an irregular series (more than a tenth
    of its steps differ from the usual one) travels as float64 instead."""
    ms = np.asarray(ms, dtype=np.int64)
    if len(ms) < 2:
        return {"start": int(ms[0]) if len(ms) else 0, "step": 0, "n": int(len(ms)), "jumps": []}
    gaps = np.diff(ms)
    values, counts = np.unique(gaps, return_counts=True)
    step = int(values[np.argmax(counts)])
    odd = np.flatnonzero(gaps != step)
    if len(odd) > len(gaps) // 10:
        return {"n": int(len(ms)), **encode_array(ms.astype(np.float64), dtype="f64")}
    jumps = [[int(i) + 1, int(gaps[i])] for i in odd]
    return {"start": int(ms[0]), "step": step, "n": int(len(ms)), "jumps": jumps}
