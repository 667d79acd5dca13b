"""`tradebot ui` as a user starts it: the printed URL, a generated token on a non-local address,
the refusal of bad flags without a traceback, Ctrl-C ending it (jobs are left running)."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tradebot.cli import main


def start_ui(cwd: Path, *args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "tradebot", "ui", "--port", "0", *args], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()
    match = re.match(r"dashboard: (http://\S+)", first)
    if not match:
        process.kill()
        raise AssertionError(f"no URL printed: {first!r} {process.stderr.read()}")
    return process, match.group(1)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_non_local_address_prints_a_token_link_and_ctrl_c_ends_it(project: Path) -> None:
    process, url = start_ui(project, "--host", "127.0.0.2")
    try:
        base, token = url.split("?token=")
        assert base.startswith("http://127.0.0.2:") and len(token) >= 32
        assert requests.get(base + "data", timeout=30).status_code == 401
        session = requests.Session()
        assert session.get(url, timeout=30).status_code == 200  # the login link, then the cookie
        assert session.get(base + "api/jobs", timeout=30).json() == []
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "dashboard stopped" in err and "Traceback" not in err


def test_local_address_needs_no_token(project: Path) -> None:
    process, url = start_ui(project)
    try:
        assert "?token=" not in url and url.startswith("http://127.0.0.1:")
        assert requests.get(url + "strategies", timeout=30).status_code == 200
    finally:
        process.kill()
        process.communicate(timeout=30)


@pytest.mark.parametrize("argv, message", [
    (["ui", "--host", "my.server"], "--host: 'my.server' is not an IP address"),
    (["ui", "--port", "70000"], "--port: 70000 is not a port number"),
])
def test_bad_flags_exit_2_with_a_message(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_port_in_use_is_a_message(project: Path, capsys, monkeypatch) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.chdir(project)
        assert main(["ui", "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
