"""The command line, as a user runs it: real subprocesses, real signals, loopback only."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from actors.cli import main

ROOT = Path(__file__).resolve().parents[1]
ACTORS = [sys.executable, "-m", "actors.cli"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "desk.toml"
    path.write_text(text)
    return path


def test_check_prints_the_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[[venues]]\nname = "sim"\nsymbols = ["BTC/USDT"]\n')
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok: 1 venues, 0 strategies" in out
    assert "  venues (permanent, mailbox block 1024)" in out
    assert "  books/ (permanent supervisor)" in out
    assert "      BTC-USDT (permanent, mailbox conflate" in out


def test_check_refuses_a_bad_topology_with_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        '[[venues]]\nname = "a/b"\nsymbols = ["btc"]\n[supervision]\nwithin = 0\n',
    )
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"{path}: supervision.within: expected a number > 0, got 0" in err
    path.write_text('[[venues]]\nname = "a/b"\nsymbols = ["btc"]\n')
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"{path}: venues[0].name: 'a/b' must be 1-64 of A-Z a-z 0-9 _ . -" in err
    assert f"{path}: venues[0].symbols[0]: 'btc' is not BASE/QUOTE (BTC/USDT)" in err


def test_check_names_a_missing_key_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTORS_TEST_KEY", raising=False)
    monkeypatch.delenv("ACTORS_TEST_SECRET", raising=False)
    path = write(
        tmp_path,
        '[[venues]]\nname = "bn"\nkind = "exchange"\nsymbols = ["BTC/USDT"]\n'
        'api_key_env = "ACTORS_TEST_KEY"\nsecret_env = "ACTORS_TEST_SECRET"\n',
    )
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "venues[0].api_key_env: environment variable ACTORS_TEST_KEY is not set" in err
    monkeypatch.setenv("ACTORS_TEST_KEY", "k")
    monkeypatch.setenv("ACTORS_TEST_SECRET", "s")
    assert main(["check", str(path)]) == 0


def test_sim_exchange_serves_until_sigint() -> None:
    process = subprocess.Popen(
        [*ACTORS, "sim-exchange", "--port", "0", "--symbols", "BTC/USDT", "--rate", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        assert line["venue"] == "sim0" and line["symbols"] == ["BTC/USDT"]
        url = line["url"]
        assert url.startswith("http://127.0.0.1:")
        assert line["ccxt"]["urls"]["api"]["public"].startswith(url)
        with urllib.request.urlopen(url + "/api/v3/ping", timeout=5) as response:
            assert json.loads(response.read()) == {}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sim_exchange_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim-exchange", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback only" in capsys.readouterr().err
