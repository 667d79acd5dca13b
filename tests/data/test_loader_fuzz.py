"""Mutated CSV files never crash the loader: every outcome is a valid frame or a DataError
(issue 10.6). A fixed, CI-sized budget; the examples come from the vendor fixtures."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.data.loader import load_ohlcv
from tradebot.data.schema import validate_ohlcv
from tradebot.errors import DataError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
SEEDS = [path.read_bytes()[:1500] for path in sorted(FIXTURES.glob("*.csv"))]
NASTY = [b"\r", b"\n", b",", b";", b"\t", b'"', b"\x00", b"\xff", b"-", b"0", b"9" * 20, b"e9",
         b"nan", b"inf", b"\xef\xbb\xbf", b" ", b"1e400", b"2024-13-45", b"99999999999999999"]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(NASTY) | st.binary(min_size=1, max_size=3))
        if kind == "insert":
            data[at:at] = piece
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        else:
            data[at:at + len(piece)] = piece
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated())
def test_mutated_csv_loads_or_is_a_data_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(data)
    try:
        frame = load_ohlcv(path, allow_empty=True)
    except DataError as err:
        assert err.render().startswith(str(path))
        return
    assert validate_ohlcv(frame, path) is frame
