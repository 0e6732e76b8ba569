"""`actors run` as `make run` runs it: a real process, embedded venues on loopback, signals."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from actors.trading.messages import TopOfBook
from actors.trading.strategy import Strategy

ROOT = Path(__file__).resolve().parents[1]


class CrashOnEveryBook(Strategy):
    """The crash loop of a real bug: a missing key on every message."""

    async def on_book(self, top: TopOfBook) -> None:
        raise KeyError("symbol")


pytestmark = pytest.mark.e2e


def paper_copy(tmp_path: Path) -> tuple[Path, Path]:
    """config/paper.toml with its journal in ``tmp_path`` and a status line every second."""
    journal = tmp_path / "journal.sqlite"
    text = (ROOT / "config" / "paper.toml").read_text()
    text = text.replace('journal = "var/paper.journal.sqlite"', f'journal = "{journal}"')
    text = text.replace("status_interval = 10.0", "status_interval = 1.0")
    text = text.partition("[faults]")[0]  # the demo's feed crash: not in these tests
    assert str(journal) in text and "status_interval = 1.0" in text
    path = tmp_path / "paper.toml"
    path.write_text(text)
    return path, journal


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    """Read stderr lines until one contains ``needle``; all lines read so far."""
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no line with {needle!r} within {timeout}s:\n{''.join(lines)}")


@contextmanager
def desk_run(config: Path, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """``actors run CONFIG`` as its own process (this checkout's test modules importable, for
    test strategies), killed at the end if a test left it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "actors.cli", "run", str(config)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> str:
    """Signal the desk and return the rest of its log once it has exited."""
    process.send_signal(sig)
    _, rest = process.communicate(timeout=60)
    return rest


def test_paper_desk_runs_trades_and_stops_on_sigint(tmp_path: Path) -> None:
    config, journal = paper_copy(tmp_path)
    with desk_run(config, tmp_path) as process:
        lines = wait_for_line(process, "desk up: 25 actors", timeout=60)
        assert any("venue sim-a listening on http://127.0.0.1:" in line for line in lines)
        # Let the market maker quote; then a graceful stop.
        status = wait_for_line(process, "actors.status", timeout=30)[-1]
        assert "running 25" in status and "restarts 0" in status, status
        rest = stop(process)
    assert process.returncode == 0, rest
    assert "SIGINT received: stopping gracefully" in rest
    assert "ran " in rest and "25 actors" in rest
    assert " 0 dead letters" in rest, rest  # a clean stop dead-letters nothing
    with sqlite3.connect(journal) as db:
        kinds = dict(db.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
    # The market maker's quotes went through risk and the router into the journal.
    assert kinds.get("intent", 0) >= 2 and kinds.get("submit", 0) >= 2, kinds


def test_run_refuses_a_bad_topology_before_starting(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[venues]]\nname = "sim"\nsymbols = ["BTC/USDT"]\n[risk]\nmax_pos = 1\n')
    result = subprocess.run(
        [sys.executable, "-m", "actors.cli", "run", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert f"{config}: risk.max_pos: unknown key" in result.stderr


def test_a_crash_looping_strategy_is_stopped_loudly_and_the_exit_code_says_so(
    tmp_path: Path,
) -> None:
    config, _ = paper_copy(tmp_path)
    text = config.read_text()
    text += (
        '\n[[strategies]]\nname = "broken"\nclass = "tests.test_run:CrashOnEveryBook"\n'
        'symbols = ["BTC/USDT"]\n'
    )
    config.write_text(text)
    with desk_run(config, tmp_path) as process:
        lines = wait_for_line(process, "gave up on /strategies/broken", timeout=90)
        # The rest of the desk keeps running: the status line still comes.
        lines += wait_for_line(process, "actors.status", timeout=30)
        rest = stop(process)
    log = "".join(lines) + rest
    assert process.returncode == 3, log
    assert "CRITICAL" in log and "it is stopped for good, its siblings keep running" in log
    assert "stopped, but a part of the desk had given up: /strategies/broken" in log
    # The cause is in the log with its traceback once, the repeats in one line each.
    assert log.count('raise KeyError("symbol")') == 1, log
    assert log.count("/strategies/broken crashed again: KeyError('symbol')") == 5


def test_run_exits_4_when_it_leaves_orders_open(tmp_path: Path) -> None:
    config, journal = paper_copy(tmp_path)
    config.write_text(
        config.read_text().replace("cancel_on_shutdown = true", "cancel_on_shutdown = false")
    )
    with desk_run(config, tmp_path) as process:
        wait_for_line(process, "desk up: 25 actors", timeout=60)
        deadline = time.monotonic() + 30
        acks = 0
        while acks < 2 and time.monotonic() < deadline:  # the market maker's quotes rest
            time.sleep(0.2)
            with sqlite3.connect(journal) as db:
                acks = db.execute("SELECT count(*) FROM events WHERE kind = 'ack'").fetchone()[0]
        assert acks >= 2
        rest = stop(process, signal.SIGTERM)
    assert process.returncode == 4, rest
    assert "order(s) possibly live at a venue: sim-a:ax2mm" in rest
