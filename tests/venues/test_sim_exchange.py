"""``actors sim-exchange``: bad arguments and busy ports exit 2 in one line; an OKX venue in its
own process prints ccxt options and a control token that work, and stops cleanly on SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import ccxt
import msgspec
import pytest
import trio

from actors.cli import main
from actors.testing import VenueControl
from actors.venues.standalone import build_configs

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


def test_protocols_per_port_share_one_set_of_generated_credentials() -> None:
    configs = build_configs(
        host="127.0.0.1",
        ports=[0, 0],
        symbols=["BTC/USDT"],
        seed=1,
        rate_hz=5.0,
        protocols=["okx", "binance"],
    )
    assert [c.protocol for c in configs] == ["okx", "binance"]
    assert configs[0].api_key not in (None, "sim-api-key")  # generated for this run
    assert {(c.api_key, c.secret, c.passphrase) for c in configs} == {
        (configs[0].api_key, configs[0].secret, configs[0].passphrase)
    }
    again = build_configs(host="127.0.0.1", ports=[0], symbols=["BTC/USDT"], seed=1, rate_hz=5.0)
    assert again[0].api_key != configs[0].api_key


def test_okx_venue_in_its_own_process_then_sigint() -> None:
    argv = [sys.executable, "-m", "actors.cli", "sim-exchange", "--protocol", "okx"]
    argv += ["--symbols", "BTC/USDT", "--rate", "5"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = msgspec.json.decode(proc.stdout.readline())
        assert line["protocol"] == "okx" and line["control"]["url"].endswith("/_sim")
        creds = line["ccxt"]
        assert creds["apiKey"] and creds["secret"] and creds["password"]
        okx = ccxt.okx({**creds, "enableRateLimit": False})  # the sync class, unmodified
        assert okx.fetch_balance()["USDT"]["free"] == 100000
        control = VenueControl(line["url"], token=line["control"]["token"])
        assert trio.run(control.state)["protocol"] == "okx"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
