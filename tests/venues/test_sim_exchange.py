"""``actors sim-exchange``: bad arguments and busy ports exit 2 in one line; OKX and Binance
venues in their own process print ccxt options that work, and stop cleanly on SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import ccxt
import msgspec
import pytest

from actors.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--host", "::1"], "IPv6 is not supported"),
        (["--host", "0.0.0.0"], "loopback only"),
        (["--port", "8765", "--port", "8765"], "--port 8765 is given more than once"),
        (["--port", "70000"], "--port 70000"),
        (["--protocol", "kraken"], "--protocol"),
        (["--port", "0", "--protocol", "okx,binance,okx"], "one per --port"),
        (["--rate", "nan"], "rate_hz"),
        (["--symbols", "btc-usdt"], "BASE/QUOTE"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    assert main(["sim-exchange", *args]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_port_in_use_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["sim-exchange", "--port", str(port), "--rate", "0"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}: address already in use" in err and err.count("\n") == 1


def test_okx_and_binance_side_by_side_with_generated_keys_then_sigint() -> None:
    argv = [sys.executable, "-m", "actors.cli", "sim-exchange", "--port", "0", "--port", "0"]
    argv += ["--protocol", "okx,binance", "--symbols", "BTC/USDT", "--rate", "5"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        assert proc.stdout is not None
        okx_line, binance_line = (msgspec.json.decode(proc.stdout.readline()) for _ in range(2))
        assert (okx_line["protocol"], binance_line["protocol"]) == ("okx", "binance")
        creds = okx_line["ccxt"]
        assert creds["apiKey"] != "sim-api-key" and creds["password"]  # generated per run
        assert binance_line["ccxt"]["apiKey"] == creds["apiKey"]  # one set per run
        okx = ccxt.okx({**creds, "enableRateLimit": False})  # the sync class, unmodified
        assert okx.fetch_balance()["USDT"]["free"] == 100000
        assert okx_line["control"]["token"] and okx_line["control"]["url"].endswith("/_sim")
        binance = ccxt.binance({**binance_line["ccxt"], "enableRateLimit": False})
        assert binance.fetch_balance()["USDT"]["free"] == 100000
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
