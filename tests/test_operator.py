"""The operator's desk as an operator uses it: `actors run` in a subprocess, steered with
`actors ctl`, seen in a real terminal (tmux), summarised on stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_run import paper_copy

ACTORS = [sys.executable, "-m", "actors.cli"]

pytestmark = pytest.mark.e2e


def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def ctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ACTORS, "ctl", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=config.parent,
    )


def status(config: Path) -> dict[str, Any] | None:
    result = ctl(config, "status", "--json")
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_ctl_halts_and_resumes_a_running_desk_and_the_summary_has_the_figures(
    tmp_path: Path,
) -> None:
    config, _ = paper_copy(tmp_path)
    config.write_text(config.read_text() + "poll_interval = 0.2\n")
    log_path, summary = tmp_path / "stderr.log", tmp_path / "summary.json"
    with log_path.open("w") as log:
        # Global options after the command, as an operator types them.
        command = [*ACTORS, "run", str(config), "--duration", "300", "--log-format", "json"]
        process = subprocess.Popen(
            [*command, "--summary-json", str(summary)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
            cwd=tmp_path,
        )
    try:
        # The market maker quotes: risk approves its intents.
        up = until(lambda: (s := status(config)) and s["approved"] > 0 and s, 90, "approvals")
        assert up["trading_state"] == "ACTIVE"
        halted = ctl(config, "halt", "--reason", "test kill switch")
        assert halted.returncode == 0, halted.stderr
        assert "trading now HALTED (test kill switch)" in halted.stdout
        approved = status(config)["approved"]  # type: ignore[index]
        # New intents are refused with HALTED, and none is approved meanwhile.
        during = until(
            lambda: (s := status(config)) and s["rejected"].get("HALTED", 0) >= 3 and s,
            60,
            "HALTED rejections",
        )
        assert during["approved"] == approved and during["trading_state"] == "HALTED"
        resumed = ctl(config, "resume")
        assert resumed.returncode == 0 and "trading now ACTIVE" in resumed.stdout
        until(lambda: (s := status(config)) and s["approved"] > approved, 60, "approvals again")
        orders = ctl(config, "orders")
        assert orders.returncode == 0 and "open orders" in orders.stdout
        positions = ctl(config, "positions")
        assert positions.returncode == 0 and positions.stdout.startswith("PnL ")
        cancel = ctl(config, "cancel-all")
        assert cancel.returncode == 0 and cancel.stdout.startswith("cancelling ")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    err = log_path.read_text()
    assert process.returncode == 0, err[-3000:]
    # Log lines are JSON (the option worked after the command); the summary is always printed.
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(r["message"].startswith("ctl halt") for r in records)
    trading = [r for r in records if r["logger"] == "actors.trading.status"]
    assert trading and "trading_state" in trading[-1]
    assert "run summary:" in err and "risk rejections:" in err
    figures = json.loads(summary.read_text())["trading"]
    assert figures["source"] == "journal"
    assert figures["rejections"].get("HALTED", 0) >= 3
    assert sum(figures["orders_by_state"].values()) >= 2
    assert figures["open_orders"] == []  # cancelled on shutdown
    # The router measured its orders from the book each answered (the market maker's quotes).
    assert figures["tick_to_order"]["count"] >= 2 and "tick-to-order: " in err
    # The order lifecycle as JSON fields, not prose.
    submitted = [r for r in records if r.get("order_event") == "submitted"]
    assert submitted and submitted[0]["logger"] == "actors.orders"
    first = submitted[0]
    assert first["venue"] == "sim-a" and first["symbol"] == "ETH/USDT" and first["side"]
    assert first["client_order_id"] and first["price"] and first["quantity"] == "0.05"
    assert any(r.get("order_event") == "cancelled" for r in records)
    # The desk is gone: ctl says so instead of hanging.
    gone = ctl(config, "status")
    assert gone.returncode == 1 and "is the desk running" in gone.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux (Debian package) not installed")
def test_live_view_in_a_real_terminal_shows_books_orders_and_pnl(tmp_path: Path) -> None:
    config, _ = paper_copy(tmp_path)
    socket = str(tmp_path / "tmux.sock")
    command = " ".join([*ACTORS, "run", str(config), "--duration", "300"])
    tmux = ["tmux", "-S", socket]
    # The terminal's own size, not the COLUMNS/LINES the test runner may export.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    shell = f"{command}; echo EXIT=$?; sleep 600"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "160", "-y", "60", "-c", str(tmp_path), shell],
        check=True,
        timeout=30,
        env=env,
    )

    def screen() -> str:
        return subprocess.run(
            [*tmux, "capture-pane", "-p"], capture_output=True, text=True, timeout=30
        ).stdout

    try:
        shown = until(
            lambda: (s := screen()) and "orders: " in s and "OPEN" in s and "mm" in s and s,
            90,
            "the view with open orders",
        )
        assert "actors · paper · trading ACTIVE" in shown
        assert "PnL" in shown and "risk (desk-wide)" in shown
        assert "fills" in shown and "realised" in shown and "unreal." in shown  # per strategy
        for venue in ("sim-a", "sim-b"):
            book = [ln for ln in shown.splitlines() if venue in ln and "BTC/USDT" in ln]
            assert book and "fresh" in book[0], shown
        subprocess.run([*tmux, "send-keys", "C-c"], check=True, timeout=30)
        after = until(lambda: (s := screen()) and "EXIT=" in s and s, 60, "the desk to stop")
        assert "EXIT=0" in after and "run summary:" in after and "orders: " in after
    finally:
        subprocess.run([*tmux, "kill-server"], timeout=30, check=False)
