"""Every captured Bybit payload in tests/fixtures/bybit parses, and the fake speaks the same shapes."""
from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp
import pytest
import websockets

from bybit_testkit import H1, NOW_MS, FakeThread, market_config
from tradebot.data.bybit import kline_rows, ret_code
from tradebot.data.wsconn import named_topic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bybit"
SAMPLES = sorted(p for p in FIXTURES.iterdir() if p.name != "README.md")


def load(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonc":
        text = re.sub(r"//[^\n]*", "", text)
    if path.name.endswith(".http.txt"):
        return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return json.loads(text)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_parses(path: Path) -> None:
    body = load(path)
    assert isinstance(body, dict)
    name = path.name
    if name.startswith("rest_kline"):
        rows = kline_rows(body["result"]["list"], category=body["result"]["category"])
        assert [r[0] for r in rows] == sorted(r[0] for r in rows)
        assert all(r[2] >= max(r[1], r[4]) and r[3] <= min(r[1], r[4]) for r in rows)
    elif name.startswith("rest_"):
        if "retCode" in body:
            assert ret_code(body) in (0, 10001, 10006, 10016)
        else:
            assert int(body["X-Bapi-Limit-Reset-Timestamp"]) > 0
    elif name.startswith("ws_subscribe_fail"):
        assert body["success"] is False
        assert name.endswith("args_size.issue.json") or named_topic(body["ret_msg"])
    elif name.startswith("ws_kline_push"):
        item = body["data"][0]
        assert item["end"] == item["start"] + 5 * 60_000 - 1 and item["confirm"] is False
    else:
        assert body.get("op") in ("ping", "pong", "subscribe", "unsubscribe")


def test_inverse_volume_is_base_coin() -> None:
    body = load(FIXTURES / "rest_kline_response.docs.json")
    rows = kline_rows(body["result"]["list"], category="inverse")  # type: ignore[index]
    assert rows[-1][5] == pytest.approx(15.74462667)  # turnover column, in BTC


def keys(obj: object) -> set[str]:
    return set(obj) if isinstance(obj, dict) else set()


def test_fake_rest_and_stream_match_sample_shapes() -> None:
    async def scenario(rest_url: str, ws_url: str) -> tuple[dict, dict, dict, dict]:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{rest_url}/v5/market/kline", params={
                    "category": "linear", "symbol": "BTCUSDT", "interval": "60", "limit": "3"}) as r:
                kline = await r.json()
            async with http.get(f"{rest_url}/v5/market/time") as r:
                clock = await r.json()
        async with websockets.connect(f"{ws_url}/v5/public/linear") as ws:
            await ws.send(json.dumps({"op": "subscribe", "args": ["kline.5.BTCUSDT"]}))
            ack = json.loads(await ws.recv())
            push = json.loads(await ws.recv())
        return kline, clock, ack, push

    with FakeThread(market_config()) as fake:
        kline, clock, ack, push = asyncio.run(scenario(fake.rest_url, fake.ws_url))
    assert keys(kline) == keys(load(FIXTURES / "rest_kline_response.docs.json"))
    assert keys(kline["result"]) == {"symbol", "category", "list"}
    assert all(isinstance(v, str) for v in kline["result"]["list"][0])
    assert int(kline["result"]["list"][0][0]) == NOW_MS // H1.ms * H1.ms  # open candle included
    assert keys(clock["result"]) == keys(load(FIXTURES / "rest_time_response.docs.json")["result"])
    assert keys(ack) == keys(load(FIXTURES / "ws_subscribe_ack_linear_inverse.docs.json"))
    sample_push = load(FIXTURES / "ws_kline_push.docs.json")
    assert keys(push) == keys(sample_push)
    assert keys(push["data"][0]) == keys(sample_push["data"][0])  # type: ignore[index]
