"""Scale sweep of a split desk: more market data (venues x symbols) into one execution node.

Each point is a split desk of three ``actors run CONFIG --node NAME`` processes on a
``nats-server`` the bench starts: ``venue`` (the embedded venues, synthetic markets at
``--rate`` events/s each), ``md`` (market connections, books, consolidated) and ``exec``
(journal, risk, router, sessions; no strategy). Every book sends its top of book to risk on
the execution node (latest-wins over NATS), so its intake grows with venues x symbols.

Each node logs its status line every ``--window`` seconds (``observe.status_interval``); the
bench reads two consecutive lines of ``md`` and ``exec`` and the processes' CPU time
(``/proc/PID/stat``) between them: tops sent by md per second, tops received and conflated
by exec per second, each process's CPU. A node is saturated when its CPU reaches one core
(one Python process is one core) or, for exec, when conflation grows (it takes the newest top
and drops the ones it had no time for, by design).

Run: ``.venv/bin/python bench/split_scale.py [--venues 1,2,4] [--symbols 8] [--rate 200]``
(about 20 s a point; a book publishes at most 10 depth updates/s, Binance's
``@depth@100ms``, so load grows with books, not with ``--rate``). Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def symbols_of(n: int) -> list[str]:
    """``n`` symbols: BTC/USDT, ETH/USDT, then generic ones (the venue makes up their rules)."""
    return ["BTC/USDT", "ETH/USDT", *(f"S{j}/USDT" for j in range(n - 2))][:n]


NODES = ("venue", "md", "exec")
COUNTER = re.compile(r"(\w+)=(\d+)")
TICK = os.sysconf("SC_CLK_TCK")


def topology(directory: Path, nats_url: str, venues: int, symbols: int, rate: float,
             window: float, ports: list[int]) -> Path:  # fmt: skip
    """A split desk of ``venues`` embedded venues with ``symbols`` symbols each."""
    names = ", ".join(f'"{s}"' for s in symbols_of(symbols))
    journal = directory / f"scale-{venues}.journal.sqlite"
    text = f"""
[desk]
name = "scale"
journal = "{journal}"

[cluster]
servers = ["{nats_url}"]
heartbeat = 0.5
node_timeout = 5.0

[nodes.venue]
groups = ["venues"]
[nodes.md]
groups = ["market", "books", "consolidated"]
[nodes.exec]
groups = ["journal", "risk", "router", "exec", "strategies"]

[risk]
max_book_age = 30.0

[observe]
status_interval = {window}
control = false
"""
    for i in range(venues):
        text += f"""
[[venues]]
name = "sim-{i}"
kind = "embedded"
symbols = [{names}]
embedded = {{ port = {ports[i]}, seed = {i + 1}, rate_hz = {rate}, api_key = "k{i}", \
secret = "s{i}" }}
"""
    path = directory / f"scale-{venues}.toml"
    path.write_text(text)
    return path


def free_ports(n: int) -> list[int]:
    """``n`` free TCP ports on 127.0.0.1 (the product's ``free_port``)."""
    sys.path.insert(0, str(ROOT))
    from actors.topology.build import free_port

    return [free_port() for _ in range(n)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_lines(log: Path, node: str) -> list[dict[str, int]]:
    """The counters of every status line node ``node`` logged so far."""
    marker = f"node {node} (cluster scale): peers"
    lines = [line for line in log.read_text(errors="replace").splitlines() if marker in line]
    return [{k: int(v) for k, v in COUNTER.findall(line.split(" | ", 2)[-1])} for line in lines]


def point(directory: Path, nats_url: str, venues: int, symbols: int, rate: float,
          window: float) -> dict[str, float]:  # fmt: skip
    """Run one split desk; the rates and CPU of its md and exec nodes over one window."""
    config = topology(directory, nats_url, venues, symbols, rate, window, free_ports(venues))
    logs = {node: directory / f"{node}-{venues}.log" for node in NODES}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {
        node: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "actors.cli",
                "run",
                str(config),
                "--node",
                node,
                "--view",
                "lines",
            ],
            stdout=logs[node].open("wb"),
            stderr=subprocess.STDOUT,
            cwd=directory,
            env=env,
        )
        for node in NODES
    }
    try:
        # Warm up: wait for a status line of exec that shows tops arriving, then measure
        # between the next two lines of exec.
        deadline = time.monotonic() + 120
        while not any(c.get("received", 0) for c in status_lines(logs["exec"], "exec")):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs.values()):
                tails = "\n".join(f"--- {n}\n{logs[n].read_text()[-1500:]}" for n in NODES)
                raise RuntimeError(f"the desk did not start:\n{tails}")
            time.sleep(0.05)
        seen = len(status_lines(logs["exec"], "exec"))
        while len(status_lines(logs["exec"], "exec")) == seen:
            time.sleep(0.02)
        cpu0 = {n: cpu_seconds(procs[n].pid) for n in NODES}
        t0, first = time.monotonic(), status_lines(logs["exec"], "exec")[-1]
        md_first = status_lines(logs["md"], "md")[-1]
        while len(status_lines(logs["exec"], "exec")) == seen + 1:
            time.sleep(0.02)
        elapsed = time.monotonic() - t0
        cpu1 = {n: cpu_seconds(procs[n].pid) for n in NODES}
        last, md_last = status_lines(logs["exec"], "exec")[-1], status_lines(logs["md"], "md")[-1]
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def rate_of(a: dict[str, int], b: dict[str, int], key: str) -> float:
        return (b.get(key, 0) - a.get(key, 0)) / window

    return {
        "venues": venues,
        "books": venues * symbols,
        "md_sent": rate_of(md_first, md_last, "sent"),
        "exec_received": rate_of(first, last, "received"),
        "exec_conflated": rate_of(first, last, "conflated"),
        "md_cpu": 100 * (cpu1["md"] - cpu0["md"]) / elapsed,
        "exec_cpu": 100 * (cpu1["exec"] - cpu0["exec"]) / elapsed,
        "venue_cpu": 100 * (cpu1["venue"] - cpu0["venue"]) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venues", default="1,2,4", help="venue counts to sweep")
    parser.add_argument("--symbols", type=int, default=8, help="symbols per venue")
    parser.add_argument("--rate", type=float, default=200.0, help="synthetic events/s a venue")
    parser.add_argument("--window", type=float, default=3.0, help="seconds measured a point")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from actors.remote import NatsServer

    rows = []
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as nats:
        for venues in (int(v) for v in args.venues.split(",")):
            rows.append(point(Path(tmp), nats.url, venues, args.symbols, args.rate, args.window))
    print(f"symbols per venue {args.symbols}, {args.rate:g} synthetic events/s per venue")
    print("| venues | books | md sent/s | exec received/s | exec conflated/s | md CPU % | "
          "exec CPU % | venue CPU % |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    keys = ("md_sent", "exec_received", "exec_conflated", "md_cpu", "exec_cpu", "venue_cpu")
    for r in rows:
        figures = " | ".join(f"{r[k]:.0f}" for k in keys)
        print(f"| {r['venues']} | {r['books']} | {figures} |")


if __name__ == "__main__":
    main()
