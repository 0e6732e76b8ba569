"""Scale sweep of a split desk: market-data nodes (one per venue) into one execution node.

Each point is a split desk of ``actors run CONFIG --node NAME`` processes on a
``nats-server`` the bench starts: ``venue`` (the embedded venues, synthetic markets at
``--rate`` events/s each), market data and ``exec`` (journal, risk, router, sessions,
consolidated tops; no strategy). Market data runs two ways, interleaved at each venue count
(the same-run baseline):

- ``per-venue``: one node per venue (``md-0``, ``md-1``, ... with ``market_data = [venue]``);
- ``one-node``: one node ``md`` with the whole ``market`` and ``books`` groups.

Every book sends its top of book to risk and to the consolidated actor of its symbol, both on
the execution node (latest-wins over NATS), so exec's intake is 2 tops per book update and
grows with venues x symbols.

Each node logs its status line every ``--window`` seconds (``observe.status_interval``); the
bench reads two consecutive lines of every node and the processes' CPU time
(``/proc/PID/stat``) between them, and the machine's own CPU use (``/proc/stat``) and load
average over the same window: tops sent by the market-data nodes per second, tops received
and conflated by exec per second, each process's CPU. A process is saturated when its CPU
reaches one core (one Python process is one core); exec also shows it by conflating (it takes
the newest top and drops the ones it had no time for, by design); "dropped" counts what
arrived at exec and reached no mailbox (inlet full, no such actor, undecodable). The machine
is saturated when its busy share nears 100% of its cores.

Run: ``.venv/bin/python bench/split_scale.py [--venues 1,2,4] [--symbols 8] [--rate 200]
[--out docs/bench/split_scale.json]`` (about 30 s a point; a book publishes at most 10 depth
updates/s, Binance's ``@depth@100ms``, so load grows with books, not with ``--rate``).
Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = ("per-venue", "one-node")
COUNTER = re.compile(r"(\w+)=(\d+)")
TICK = os.sysconf("SC_CLK_TCK")


def symbols_of(n: int) -> list[str]:
    """``n`` symbols: BTC/USDT, ETH/USDT, then generic ones (the venue makes up their rules)."""
    return ["BTC/USDT", "ETH/USDT", *(f"S{j}/USDT" for j in range(n - 2))][:n]


def md_nodes(mode: str, venues: int) -> list[str]:
    """The market-data nodes of a point."""
    return [f"md-{i}" for i in range(venues)] if mode == "per-venue" else ["md"]


def topology(directory: Path, nats_url: str, mode: str, venues: int, symbols: int, rate: float,
             window: float, ports: list[int]) -> Path:  # fmt: skip
    """A split desk of ``venues`` embedded venues with ``symbols`` symbols each."""
    names = ", ".join(f'"{s}"' for s in symbols_of(symbols))
    tag = f"{mode}-{venues}"
    if mode == "per-venue":
        market = "".join(
            f'[nodes.md-{i}]\nmarket_data = ["sim-{i}"]\n' for i in range(venues)
        )  # fmt: skip
    else:
        market = '[nodes.md]\ngroups = ["market", "books"]\n'
    text = f"""
[desk]
name = "scale"
journal = "{directory / f"scale-{tag}.journal.sqlite"}"

[cluster]
name = "scale-{tag}"
servers = ["{nats_url}"]
heartbeat = 0.5
node_timeout = 5.0

[nodes.venue]
groups = ["venues"]
{market}
[nodes.exec]
groups = ["journal", "risk", "router", "exec", "consolidated", "strategies"]

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
    path = directory / f"scale-{tag}.toml"
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


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of every core since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def status_lines(log: Path, node: str, cluster: str) -> list[dict[str, int]]:
    """The counters of every status line node ``node`` logged so far."""
    marker = f"node {node} (cluster {cluster}): peers"
    lines = [line for line in log.read_text(errors="replace").splitlines() if marker in line]
    return [{k: int(v) for k, v in COUNTER.findall(line.rsplit(" | ", 1)[-1])} for line in lines]


def point(directory: Path, nats: Any, mode: str, venues: int, symbols: int, rate: float,
          window: float, windows: int) -> dict[str, Any]:  # fmt: skip
    """Run one split desk; the rates and CPU of its nodes over ``windows`` status windows."""
    ports = free_ports(venues)
    config = topology(directory, nats.url, mode, venues, symbols, rate, window, ports)
    cluster = f"scale-{mode}-{venues}"
    md = md_nodes(mode, venues)
    nodes = ["venue", *md, "exec"]
    logs = {node: directory / f"{node}-{mode}-{venues}.log" for node in nodes}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
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
        for node in nodes
    }

    def lines(node: str) -> list[dict[str, int]]:
        return status_lines(logs[node], node, cluster)

    try:
        # Warm up: wait for a status line of exec and one of every md node that shows tops
        # going out (the md nodes start one by one).
        deadline = time.monotonic() + 180
        while not (
            any(c.get("received", 0) for c in lines("exec"))
            and all(any(c.get("sent", 0) for c in lines(n)) for n in md)
        ):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs.values()):
                tails = "\n".join(f"--- {n}\n{logs[n].read_text()[-1500:]}" for n in nodes)
                raise RuntimeError(f"the desk did not start:\n{tails}")
            time.sleep(0.1)
        startup = time.monotonic() - started
        # Each node's rates come from its own status lines (k windows from the second line it
        # logs after t0, the first window left to settle): the nodes' lines are not in step.
        seen = {n: len(lines(n)) + 1 for n in nodes}
        cpu0 = {n: cpu_seconds(procs[n].pid) for n in nodes}
        cpu0["nats"] = cpu_seconds(nats.process.pid)
        busy0, total0 = machine_ticks()
        t0 = time.monotonic()
        while any(len(lines(n)) < seen[n] + windows + 1 for n in nodes):
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        cpu1 = {n: cpu_seconds(procs[n].pid) for n in nodes}
        cpu1["nats"] = cpu_seconds(nats.process.pid)
        busy1, total1 = machine_ticks()
        load = os.getloadavg()
        first = {n: lines(n)[seen[n]] for n in nodes}
        last = {n: lines(n)[seen[n] + windows] for n in nodes}
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def rate_of(node: str, key: str) -> float:
        return (last[node].get(key, 0) - first[node].get(key, 0)) / (windows * window)

    cpu = {n: 100 * (cpu1[n] - cpu0[n]) / elapsed for n in cpu1}
    return {
        "mode": mode,
        "venues": venues,
        "books": venues * symbols,
        "startup_s": startup,
        "md_sent": sum(rate_of(n, "sent") for n in md),
        "exec_received": rate_of("exec", "received"),
        "exec_conflated": rate_of("exec", "conflated"),
        "exec_lost": sum(
            rate_of("exec", k)
            for k in ("inlet_dropped", "dead_letters", "mailbox_full", "undecodable")
        ),
        "md_cpu": [cpu[n] for n in md],
        "exec_cpu": cpu["exec"],
        "venue_cpu": cpu["venue"],
        "nats_cpu": cpu["nats"],
        "machine_busy": 100 * (busy1 - busy0) / max(1, total1 - total0),
        "loadavg": load[0],
    }


def table(rows: list[dict[str, Any]], cores: int) -> str:
    """The rows as a markdown table."""
    out = [
        "| venues | books | market data | md tops sent/s | exec received/s | exec conflated/s "
        "| exec dropped/s "
        "| md CPU % (each) | exec CPU % | venue CPU % | nats CPU % | machine busy % "
        f"(of {cores} cores) | load | start s |",
        "|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        each = ", ".join(f"{c:.0f}" for c in r["md_cpu"])
        out.append(
            f"| {r['venues']} | {r['books']} | {r['mode']} | {r['md_sent']:.0f} | "
            f"{r['exec_received']:.0f} | {r['exec_conflated']:.0f} | "
            f"{r.get('exec_lost', float('nan')):.0f} | {each} | "
            f"{r['exec_cpu']:.0f} | {r['venue_cpu']:.0f} | {r['nats_cpu']:.0f} | "
            f"{r['machine_busy']:.0f} | {r['loadavg']:.1f} | {r['startup_s']:.0f} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venues", default="1,2,4", help="venue counts to sweep")
    parser.add_argument("--symbols", type=int, default=8, help="symbols per venue")
    parser.add_argument("--rate", type=float, default=200.0, help="synthetic events/s a venue")
    parser.add_argument("--window", type=float, default=3.0, help="seconds between status lines")
    parser.add_argument("--windows", type=int, default=3, help="status windows measured a point")
    parser.add_argument("--modes", default=",".join(MODES), help=f"market data: {MODES}")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here (for plots)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from actors.remote import NatsServer

    modes = [m for m in args.modes.split(",") if m]
    rows = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as nats:
        for venues in (int(v) for v in args.venues.split(",")):
            for mode in modes:
                if mode == "one-node" and venues == 1 and "per-venue" in modes:
                    continue  # one venue: the same desk either way
                rows.append(
                    point(
                        Path(tmp),
                        nats,
                        mode,
                        venues,
                        args.symbols,
                        args.rate,
                        args.window,
                        args.windows,
                    )
                )
                print(table(rows[-1:], os.cpu_count() or 0).splitlines()[-1], flush=True)
    cores = os.cpu_count() or 0
    print(f"symbols per venue {args.symbols}, {args.rate:g} synthetic events/s per venue")
    print(table(rows, cores))
    print(f"wall time {time.monotonic() - began:.0f}s")
    if args.out:
        command = "bench/split_scale.py " + " ".join(sys.argv[1:])
        data = {
            "command": command,
            "machine": {
                "nproc": cores,
                "python": platform.python_version(),
                "loadavg": list(os.getloadavg()),
            },
            "symbols": args.symbols,
            "rate": args.rate,
            "rows": rows,
        }
        args.out.write_text(json.dumps(data, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
