"""SIGKILL and SIGTERM a trading desk against a venue in its own process; compare afterwards.

    python bench/kill_soak.py --kills 10 --seed 1

1. ``actors sim-exchange`` runs in its own process (the venue outlives every desk).
2. ``--kills`` times: a desk process (``tests/trading/desk_process.py``, a market maker
   requoting fast) starts on the same journal, trades for a random 0.5-4 s, and is killed
   with SIGKILL at that random moment.
3. The venue's market is frozen; a desk restarts in ``recover`` mode, reconciles, and is
   stopped with SIGTERM; then every order of the account at the venue (REST ``allOrders``)
   is compared with the journal: no order unknown to the journal, no client id placed twice,
   no state mismatch (status and filled quantity).
4. SIGTERM under latency: the market resumes, a desk with ``cancel_on_shutdown`` trades, the
   venue gets 3 s of latency on every reply (its ``add_latency`` fault), SIGTERM: the desk
   must exit within the router's grace period with every order cancelled and the journal
   matching the venue again.

Prints one line per step and a verdict; exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import ccxt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actors.trading.ccxt_bridge import order_update_of  # noqa: E402
from actors.trading.journal import Journal  # noqa: E402
from actors.trading.orders import ACTIVE  # noqa: E402

SYM = "BTC/USDT"
ROUTER_GRACE = 15.0


CONTROL_TOKEN: dict[str, str] = {}
"""The venue's ``/_sim`` token, from the line ``sim-exchange`` printed."""


def control(url: str, path: str, body: dict[str, Any] | None = None) -> None:
    """POST to the venue's ``/_sim`` control endpoint."""
    import urllib.request

    data = json.dumps(body or {}).encode()
    request = urllib.request.Request(url + path, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Sim-Token", CONTROL_TOKEN["token"])
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def desk(port: int, journal: Path, mode: str, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.trading.desk_process", "--port", str(port),
           "--journal", str(journal), "--mode", mode, *extra]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def wait_line(proc: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and proc.poll() is not None:
            raise RuntimeError(f"desk exited with {proc.returncode} before {prefix!r}")
    raise RuntimeError(f"no {prefix!r} within {timeout}s")


def compare(journal: Path, exchange: Any) -> list[str]:
    """Every disagreement between the journal and the venue about this desk's orders."""
    with Journal(journal) as j:
        table = j.recover(snapshots=False).table  # every order ever, archive too
    at_venue = [o for o in exchange.fetch_orders(SYM, limit=100_000) if o.get("clientOrderId")]
    placed = Counter(o["clientOrderId"] for o in at_venue)
    problems = [f"{cid}: placed {n} times" for cid, n in placed.items() if n > 1]
    seen = set()
    for raw in at_venue:
        update = order_update_of("sim", raw)
        assert update is not None
        seen.add(update.client_order_id)
        order = table.get(update.client_order_id)
        if order is None:
            problems.append(f"{update.client_order_id}: {update.status.value} at the venue, "
                            "unknown to the journal")  # fmt: skip
            continue
        if order.status is not update.status:
            problems.append(f"{order.client_order_id}: {order.status.value} in the journal, "
                            f"{update.status.value} at the venue")  # fmt: skip
        if max(order.filled, order.venue_filled) != update.filled:
            problems.append(f"{order.client_order_id}: filled {order.filled} in the journal, "
                            f"{update.filled} at the venue")  # fmt: skip
    for order in table:
        if order.status in ACTIVE and order.client_order_id not in seen:
            problems.append(f"{order.client_order_id}: {order.status.value} in the journal, "
                            "not at the venue")  # fmt: skip
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=3.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="kill-soak-"))
    journal = tmp / "desk.sqlite"
    venue = subprocess.Popen(
        [sys.executable, "-m", "actors.cli", "sim-exchange", "--port", "0", "--symbols", SYM,
         "--seed", "9", "--rate", "80",
         # the desk process signs with the fixed test keys; sim-exchange generates keys unless told
         "--api-key", "sim-api-key", "--secret", "sim-secret"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    ok = True
    try:
        assert venue.stdout is not None
        info = json.loads(venue.stdout.readline())
        url, port = info["url"], int(info["url"].rsplit(":", 1)[1])
        CONTROL_TOKEN["token"] = info["control"]["token"]
        exchange = ccxt.binance(info["ccxt"])
        exchange.load_markets()
        print(f"venue {url} in process {venue.pid}; journal {journal}")
        for kill in range(1, args.kills + 1):
            proc = desk(port, journal, "trade")
            wait_line(proc, "READY", 60)
            moment = rng.uniform(0.5, 4.0)
            time.sleep(moment)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            placed = len(exchange.fetch_orders(SYM, limit=100_000))
            print(f"kill {kill}: SIGKILL after {moment:.2f}s of trading; {placed} orders so far")
        control(url, "/_sim/market/pause")
        proc = desk(port, journal, "recover")
        recovered = json.loads(wait_line(proc, "RECOVERED", 120).split(" ", 1)[1])
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        problems = compare(journal, exchange)
        total = len(exchange.fetch_orders(SYM, limit=100_000))
        print(f"after {args.kills} kills: {total} orders at the venue, {len(recovered)} open; "
              f"journal vs venue: {len(problems)} problem(s)")  # fmt: skip
        for p in problems[:20]:
            print("  ", p)
        ok &= not problems

        control(url, "/_sim/market/resume")
        proc = desk(port, journal, "trade", "--cancel-on-shutdown")
        wait_line(proc, "READY", 60)
        time.sleep(3.0)
        control(url, "/_sim/market/pause")
        control(url, "/_sim/faults/add_latency", {"seconds": args.latency})
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        took = time.monotonic() - started
        control(url, "/_sim/faults/reset")
        problems = compare(journal, exchange)
        left = [o for o in exchange.fetch_open_orders(SYM) if o.get("clientOrderId")]
        print(f"SIGTERM with {args.latency:g}s of venue latency: exit {code} after {took:.1f}s "
              f"(router grace {ROUTER_GRACE:g}s); {len(left)} order(s) left open at the venue; "
              f"journal vs venue: {len(problems)} problem(s)")  # fmt: skip
        for p in problems[:20]:
            print("  ", p)
        ok &= not problems and took < ROUTER_GRACE and not left and code == 0
    finally:
        venue.send_signal(signal.SIGINT)
        venue.wait(timeout=30)
    print("verdict:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
