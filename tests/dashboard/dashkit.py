"""Helpers of the dashboard tests: a small project folder, its settings, a served dashboard's
client, waiting for a job."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests

from tradebot.dashboard.server import Dashboard
from tradebot.dashboard.settings import DashboardSettings

HERE = Path(__file__).parent

ROOT = HERE.parents[1]
BROKEN = """strategy "broken"
data "data/EURUSD_1h.csv"
r = rsi(close, 14)
enter long when r crosses above 30
exit long when r crosess above 70
"""
SWEEP = """strategy "SMA sweep"
data "data/EURUSD_1h.csv"
param fast = 10 in 5..20 step 5
param slow = 40 in 30..60 step 10
fast_ma = sma(close, fast)
slow_ma = sma(close, slow)
enter long  when fast_ma crosses above slow_ma
enter short when fast_ma crosses below slow_ma
optimize maximize sharpe by grid
"""
# Fast retries for jobs that talk to the fake exchange (the children inherit the environment).
FAST_ENV = {"TRADEBOT_BYBIT_RETRY_BASE": "0.005", "TRADEBOT_BYBIT_RETRY_CAP": "0.05",
            "TRADEBOT_BYBIT_RATE": "2000", "TRADEBOT_BYBIT_BURST": "50"}


def make_project(folder: Path, *, bars: int = 800) -> Path:
    """strategies/rsi.tbs (the example, with its optimize block) on the first `bars` EURUSD hours,
    strategies/broken.tbs (a misspelt keyword), strategies/sweep.tbs (a 16-point grid), and the
    data they read."""
    # The data beside the scripts: a script may only read files under its own folder.
    (folder / "strategies" / "data").mkdir(parents=True)
    lines = (ROOT / "data" / "EURUSD_1h.csv").read_text(encoding="utf-8").splitlines()[: bars + 1]
    (folder / "strategies" / "data" / "EURUSD_1h.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    example = (ROOT / "examples" / "rsi.tbs").read_text(encoding="utf-8")
    (folder / "strategies" / "rsi.tbs").write_text(example.replace('"../data/EURUSD_1h.csv"', '"data/EURUSD_1h.csv"'),
                                                   encoding="utf-8")
    (folder / "strategies" / "broken.tbs").write_text(BROKEN, encoding="utf-8")
    (folder / "strategies" / "sweep.tbs").write_text(SWEEP, encoding="utf-8")
    return folder


def settings_for(project: Path, *, host: str = "127.0.0.1", token: str | None = None) -> DashboardSettings:
    return DashboardSettings(project=project.resolve(), store=(project / "data" / "bybit").resolve(),
                             sessions=(project / "sessions").resolve(), storage="sqlite:///" + (project / ".tradebot" / "studies.db").resolve().as_posix(),
                             host=host, port=0, token=token)


@dataclass
class Served:
    """A dashboard running in a background thread."""

    url: str
    dashboard: Dashboard
    session: requests.Session

    @property
    def csrf(self) -> str:
        return self.dashboard.guard.csrf

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url + path, timeout=60, **kwargs)

    def post(self, path: str, *, csrf: bool = True, headers: dict | None = None, **kwargs) -> requests.Response:
        headers = {**({"X-CSRF-Token": self.csrf} if csrf else {}), **(headers or {})}
        return self.session.post(self.url + path, headers=headers, timeout=60, allow_redirects=False, **kwargs)


def wait_for(served: Served, job_id: str, *, until=lambda job: job["status"] not in ("running", "stopping"),
             timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = served.get(f"/api/jobs/{job_id}").json()
        if until(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']}: {job['tail']}")
        time.sleep(0.3)


def write_gapless_bars(path: Path, *, bars: int) -> None:
    """Hourly bars without a gap (a replay refuses one, as live trading would): a seeded walk."""
    rng = np.random.default_rng(7)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.002, bars)))
    open_ = np.concatenate([[1.1], close[:-1]])
    high, low = np.maximum(open_, close) * 1.0005, np.minimum(open_, close) * 0.9995
    start = np.datetime64("2024-01-01T00:00")
    rows = [f"{(start + np.timedelta64(i, 'h')).astype(str)}:00Z,{open_[i]:.5f},{high[i]:.5f},{low[i]:.5f},"
            f"{close[i]:.5f},100" for i in range(bars)]
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n", encoding="utf-8")
