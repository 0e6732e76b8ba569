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
    assert (
        "/ (root supervisor, one_for_one, max 10 restarts within 60s, then the desk stops)" in out
    )
    assert (
        "  venues (permanent, backoff 0.2s x2 to 10s +-20% (reset 30s), grace 5s, start 30s, "
        "mailbox block 1024)"
    ) in out
    assert "  books/ (permanent supervisor, one_for_one, max 10 restarts within 10s" in out
    assert "      BTC-USDT (permanent, backoff 0.05s x2 to 2s" in out
    assert (
        "venue sim: embedded binance, orders and cancels over websocket API, "
        "REST while its socket is down"
    ) in out
    assert (
        "  strategies/ (permanent supervisor, one_for_one, max 5 restarts within 60s per child, "
        "then stop_child)"
    ) in out
    assert "  router (permanent, backoff 0.05s x2 to 2s +-10% (reset 30s), grace 15s" in out
    assert (
        "journal var/journal.sqlite: sync normal (survives a process crash); client ids leased "
        "16 at a time, the unused ones looked up at the next start"
    ) in out


def test_check_shows_the_journal_sync(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '[[venues]]\nname = "sim"\nsymbols = ["BTC/USDT"]\n[journal]\nsync = "full"\n'
    assert main(["check", str(write(tmp_path, text))]) == 0
    assert "sync full (every commit fsync'd)" in capsys.readouterr().out


def test_check_prints_each_groups_effective_supervision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # [supervision] sets defaults for every group; a group's own table wins, key by key.
    path = write(
        tmp_path,
        '[[venues]]\nname = "sim"\nsymbols = ["BTC/USDT"]\n'
        "[supervision]\nshutdown_grace = 7.0\nbackoff = { initial = 0.5, maximum = 4.0 }\n"
        '[supervision.market]\nmax_restarts = 3\nwithin = 9.0\ngive_up = "stop_child"\n'
        "backoff = { initial = 1.0 }\n"
        "[supervision.router]\nshutdown_grace = 20.0\n",
    )
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  market/ (permanent supervisor, one_for_one, max 3 restarts within 9s per child" in out
    assert "    sim (permanent, backoff 1s x2 to 4s +-20% (reset 30s), grace 7s, start 30s" in out
    assert "  router (permanent, backoff 0.5s x2 to 4s +-10% (reset 30s), grace 20s" in out
    assert "  journal (permanent, backoff 0.5s x2 to 4s +-10% (reset 30s), grace 7s" in out


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
