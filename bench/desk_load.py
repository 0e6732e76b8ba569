"""Scale and burst: one desk process against 1-2 embedded venues with 1-50 symbols each.

The venues run in this process (``market_load.open_bench_venue``: still fair value, so marker
orders measure tick-to-order while the book moves); the desk runs as its own process
(``desk_specs`` with ``MarkerTaker`` on every symbol, metrics on a 127.0.0.1 port). This
process reads the desk's CPU time and resident memory from ``/proc/<pid>`` (Linux) and its
mailboxes from its ``/metrics``.

* ``scale``: venues x symbols from 1x1 to 2x50 at a FIXED aggregate rate of synthetic events
  (split evenly over every symbol): desk CPU per depth update, CPU share of one core, RSS,
  tick-to-order p50/p99 (markers on BTC/USDT of each venue). Where the CPU share nears 100 %,
  one core is saturated.
* ``burst``: a 1x10 desk at the base rate, then 10x the rate for 5 s, then the base rate:
  mailbox high-water marks and drops by policy (per actor), time for every mailbox to drain
  back to its pre-burst depth, RSS before / at the peak / after.

Run: ``.venv/bin/python bench/desk_load.py scale|burst [--quick] [--out FILE.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import trio

SCRIPT = str(Path(__file__).resolve())
ROOT = Path(SCRIPT).parents[1]
for _p in (str(ROOT), str(ROOT / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from market_load import (  # noqa: E402
    SYM,
    Clocks,
    bench_venue_config,
    machine,
    open_bench_venue,
    start_client,
    trial,
)
from tick_to_order import pct, taker_ccxt_config  # noqa: E402

AGGREGATE_RATE = 2000.0
"""Synthetic events per second over all symbols of all venues (scale)."""
SHAPES = (
    (1, 1, 0.0),
    *((v, s, AGGREGATE_RATE) for v, s in ((1, 1), (1, 10), (2, 10), (1, 50), (2, 50))),
)
"""(venues, symbols per venue, aggregate events/s) of the scale run: an idle 1x1 desk (its
fixed cost: timers, liveness, observer; only the markers move the book), then the shapes ..."""
RAMP = tuple((1, 10, float(rate)) for rate in (8000, 20000, 40000))
"""... then the 1x10 desk at higher aggregate rates, to find where one core saturates."""


def parse_shapes(text: str) -> tuple[tuple[int, int, float], ...]:
    """``2x50,2x100@3000`` -> ((2, 50, 2000.0), (2, 100, 3000.0))."""
    shapes = []
    for item in text.split(","):
        shape, _, rate = item.strip().partition("@")
        venues, _, count = shape.partition("x")
        try:
            parsed = (int(venues), int(count), float(rate) if rate else AGGREGATE_RATE)
        except ValueError:
            raise argparse.ArgumentTypeError(f"shape {item!r}: not VENUESxSYMBOLS[@RATE]") from None
        if parsed[0] < 1 or parsed[1] < 1 or not 0 <= parsed[2] < float("inf"):
            raise argparse.ArgumentTypeError(f"shape {item!r}: counts >= 1, a finite rate >= 0")
        shapes.append(parsed)
    return tuple(shapes)


def symbols(n: int) -> tuple[str, ...]:
    """BTC/USDT (where the markers go) and ``n - 1`` generic symbols."""
    return (SYM, *(f"S{i:02d}/USDT" for i in range(1, n)))


# --- the desk process ----------------------------------------------------------------------


async def desk_process(ports: list[int], n_symbols: int, journal: str) -> None:
    """A desk trading ``n_symbols`` on each venue at ``ports``; prints READY <metrics port>."""
    from actors.topology.build import Plan
    from actors.topology.run import Observe, open_desk
    from actors.trading.config import DeskOptions, StrategySpec, VenueSpec
    from actors.trading.desk import desk_specs
    from actors.trading.risk import RiskLimits

    venues = [
        VenueSpec(
            f"v{i}",
            taker_ccxt_config(port, "rolling"),
            symbols(n_symbols),
            watch_trades=False,
            rate=1000.0,
            burst=200,
            order_entry="rest",  # as measured in BENCHMARKS.md (before ws entry was the default)
        )
        for i, port in enumerate(ports)
    ]
    strategy = StrategySpec("taker", "market_load:MarkerTaker", {})
    specs = desk_specs(venues, [strategy], RiskLimits(), DeskOptions(journal_path=journal))
    observe = Observe(metrics_port=0)
    async with open_desk(Plan(specs, max_restarts=3, within=5.0), observe=observe) as running:
        print(f"READY {running.metrics_port}", flush=True)
        await trio.sleep_forever()


# --- reading the desk from outside --------------------------------------------------------


def proc_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident bytes of ``pid`` (Linux ``/proc``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


async def scrape(port: int) -> dict[str, dict[str, float]]:
    """The desk's ``actors_mailbox_*`` and ``actors_dropped`` metrics: {name: {path: value}}."""
    from prometheus_client.parser import text_string_to_metric_families

    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        req = f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        await s.send_all(req.encode())
        data = b""
        while chunk := await s.receive_some(1 << 16):
            data += chunk
    body = data.partition(b"\r\n\r\n")[2].decode()
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name.startswith(("actors_mailbox_", "actors_dropped")):
                out.setdefault(sample.name, {})[sample.labels.get("path", "")] = sample.value
    return out


@asynccontextmanager
async def desk_against(n_venues: int, n_symbols: int, rate: float) -> AsyncIterator[Any]:
    """``n_venues`` bench venues of ``n_symbols`` each at ``rate`` events/s per symbol, and a
    desk process trading all of them; yields (venues, desk process, metrics port)."""

    async with AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        venues = []
        for _ in range(n_venues):
            cfg = bench_venue_config(symbols(n_symbols), rate_hz=rate)
            venues.append(await stack.enter_async_context(open_bench_venue(cfg)))
        argv = [sys.executable, SCRIPT, "desk", "--ports", ",".join(str(v.port) for v in venues)]
        argv += ["--symbols", str(n_symbols), "--journal", os.path.join(tmp, "j.sqlite")]
        proc, ready = await start_client(argv, timeout=180.0)
        try:
            port = int(ready.split()[1])
            yield venues, proc, port
        finally:
            proc.kill()
            await proc.wait()


async def markers(venues: list[Any], trials: int) -> list[float]:
    """Tick-to-order ms of ``trials`` markers on BTC/USDT, round-robin over the venues."""
    clocks = [Clocks.hooked(v) for v in venues]
    out: list[float] = []
    for i in range(trials):
        k = i % len(venues)
        got = await trial(venues[k], clocks[k])
        if got is not None and got[0] == got[0]:
            out.append(got[0])
        await trio.sleep(0.2)
    return out


def update_ids(venues: list[Any]) -> int:
    """Book update ids issued so far over every book of every venue."""
    return sum(b.update_id for v in venues for b in v.engine.books.values())


def frames(venues: list[Any]) -> int:
    """Depth diffs published so far (one ``depthUpdate`` frame per symbol per 100 ms tick)."""
    return sum(v.depth_events for v in venues)


# --- scale ---------------------------------------------------------------------------------


async def scale(
    shapes: tuple[tuple[int, int, float], ...], window: float, trials: int
) -> list[dict]:
    """One desk per (venues, symbols, aggregate rate): CPU, RSS and tick-to-order.

    The venues' own CPU (this process) is reported too: where it nears one core, the venue,
    not the desk, is the limit (its sends queue up, which shows as tick-to-order)."""
    rows = []
    for n_venues, n_symbols, aggregate in shapes:
        rate = aggregate / (n_venues * n_symbols)
        async with desk_against(n_venues, n_symbols, rate) as (venues, proc, _port):
            await trio.sleep(2.0)  # subscriptions settle
            cpu0, _ = proc_usage(proc.pid)
            own0 = time.process_time()
            u0, t0 = update_ids(venues), time.perf_counter()
            f0 = frames(venues)
            ticks = await markers(venues, trials)
            await trio.sleep(max(0.0, window - (time.perf_counter() - t0)))
            cpu1, rss = proc_usage(proc.pid)
            own1 = time.process_time()
            u1, t1 = update_ids(venues), time.perf_counter()
            f1 = frames(venues)
        updates = u1 - u0
        row = {
            "shape": f"{n_venues}x{n_symbols}",
            "aggregate": aggregate,
            "events_s_per_symbol": rate,
            "updates_s": updates / (t1 - t0),
            "cpu_us_per_update": (cpu1 - cpu0) / updates * 1e6 if aggregate else float("nan"),
            "cpu_us_per_frame": (cpu1 - cpu0) / (f1 - f0) * 1e6 if f1 > f0 else float("nan"),
            "frames_s": (f1 - f0) / (t1 - t0),
            "cpu_share": (cpu1 - cpu0) / (t1 - t0),
            "venue_cpu_share": (own1 - own0) / (t1 - t0),
            "rss_mb": rss / 2**20,
            "t2o_p50": statistics.median(ticks) if ticks else float("nan"),
            "t2o_p99": pct(ticks, 0.99) if ticks else float("nan"),
            "samples": len(ticks),
        }
        print(row, flush=True)
        rows.append(row)
    return rows


def scale_report(rows: list[dict]) -> str:
    """Markdown table; the ratio column is CPU per update against the 1x1 desk of this run."""
    loaded = [r for r in rows if r["aggregate"] > 0]
    base = loaded[0]["cpu_us_per_update"] if loaded else float("nan")
    lines = [
        "| venues x symbols | events/s (all / per symbol) | depth updates/s | frames/s "
        "| desk CPU us/update | vs 1x1 | desk CPU us/frame | desk CPU (of one core) "
        "| venues' CPU (of one core) | desk RSS MB | tick-to-order p50 / p99 ms | n |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['shape']} | {r['aggregate']:,.0f} / {r['events_s_per_symbol']:,.0f} | "
            f"{r['updates_s']:,.0f} | {r['frames_s']:,.0f} | "
            f"{r['cpu_us_per_update']:.1f} | {r['cpu_us_per_update'] / base:.2f} | "
            f"{r['cpu_us_per_frame']:.0f} | "
            f"{r['cpu_share'] * 100:.0f} % | {r['venue_cpu_share'] * 100:.0f} % | "
            f"{r['rss_mb']:.0f} | "
            f"{r['t2o_p50']:.1f} / {r['t2o_p99']:.1f} | {r['samples']} |"
        )
    return "\n".join(lines)


# --- burst ---------------------------------------------------------------------------------


async def burst(n_symbols: int, base_rate: float, burst_s: float, settle: float) -> dict:
    """Base rate, 10x for ``burst_s``, base again; sample mailboxes and RSS every 0.2 s."""
    series: list[dict[str, Any]] = []
    async with desk_against(1, n_symbols, base_rate) as (venues, proc, port):
        await trio.sleep(2.0)
        t0 = time.perf_counter()

        async def sample(phase: str) -> dict[str, Any]:
            m = await scrape(port)
            cpu, rss = proc_usage(proc.pid)
            depth = sum(m.get("actors_mailbox_depth", {}).values())
            point = {"t": time.perf_counter() - t0, "phase": phase, "depth": depth}
            point |= {"rss_mb": rss / 2**20, "cpu": cpu, "metrics": m}
            series.append(point)
            return point

        async def phase(name: str, seconds: float) -> None:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                await sample(name)
                await trio.sleep(0.2)

        await phase("before", settle)
        for v in venues:
            v.set_rate(base_rate * 10)
        burst_start = time.perf_counter() - t0
        await phase("burst", burst_s)
        for v in venues:
            v.set_rate(base_rate)
        burst_end = time.perf_counter() - t0
        await phase("after", settle)
    before = [p for p in series if p["phase"] == "before"]
    during = [p for p in series if p["phase"] == "burst"]
    after = [p for p in series if p["phase"] == "after"]
    base_depth = max(p["depth"] for p in before)
    drained = next((p["t"] for p in after if p["depth"] <= base_depth), None)
    last = series[-1]["metrics"]
    first = before[0]["metrics"]
    hw = last.get("actors_mailbox_high_water", {})
    dropped = {
        path: v - first.get("actors_dropped_total", {}).get(path, 0.0)
        for path, v in last.get("actors_dropped_total", {}).items()
    }
    return {
        "symbols": n_symbols,
        "base_rate": base_rate,
        "burst_rate": base_rate * 10,
        "burst_s": burst_s,
        "high_water": {p: v for p, v in sorted(hw.items()) if v > 1},
        "dropped": {p: v for p, v in sorted(dropped.items()) if v},
        "drain_s": (drained - burst_end) if drained is not None else None,
        "rss_before_mb": statistics.median(p["rss_mb"] for p in before),
        "rss_peak_mb": max(p["rss_mb"] for p in during + after),
        "rss_after_mb": after[-1]["rss_mb"],
        "cpu_share": {
            name: _cpu_share(pts) for name, pts in (("before", before), ("burst", during))
        }
        | {"after": _cpu_share(after)},
        "burst_start": burst_start,
        "burst_end": burst_end,
        "series": [{k: p[k] for k in ("t", "phase", "depth", "rss_mb", "cpu")} for p in series],
    }


def _cpu_share(points: list[dict[str, Any]]) -> float:
    if len(points) < 2:
        return float("nan")
    return (points[-1]["cpu"] - points[0]["cpu"]) / (points[-1]["t"] - points[0]["t"])


def burst_report(r: dict) -> str:
    """Markdown summary of one burst."""
    drain = f"{r['drain_s']:.2f} s" if r["drain_s"] is not None else "not drained"
    lines = [
        f"Desk of 1 venue x {r['symbols']} symbols, {r['base_rate']:.0f} events/s per symbol, "
        f"then {r['burst_rate']:.0f} for {r['burst_s']:.0f} s.",
        "",
        "| | before | burst | after |",
        "|---|---:|---:|---:|",
        "| desk CPU (share of one core) | "
        + " | ".join(f"{r['cpu_share'][k] * 100:.0f} %" for k in ("before", "burst", "after"))
        + " |",
        f"| RSS MB (median / peak / last) | {r['rss_before_mb']:.1f} | {r['rss_peak_mb']:.1f} "
        f"| {r['rss_after_mb']:.1f} |",
        "",
        f"Time to drain (every mailbox back to its pre-burst depth after the burst): {drain}.",
        "",
        "| actor | mailbox high-water | dropped during the run |",
        "|---|---:|---:|",
    ]
    for path in sorted(set(r["high_water"]) | set(r["dropped"])):
        lines.append(
            f"| {path} | {r['high_water'].get(path, 0):.0f} | {r['dropped'].get(path, 0):.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("scale", "burst", "desk"))
    parser.add_argument("--quick", action="store_true", help="tiny parameters (a smoke run)")
    parser.add_argument("--out", help="write the results as JSON here (for bench/plots.py)")
    parser.add_argument("--ports")
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--journal")
    parser.add_argument(
        "--shapes",
        type=parse_shapes,
        help="scale only these shapes, e.g. 2x50,2x100@3000 (venues x symbols, @ aggregate "
        f"events/s; default {AGGREGATE_RATE:g}); default: the whole sweep",
    )
    parser.add_argument("--window", type=float, help="seconds measured per shape (default 6)")
    args = parser.parse_args()
    started = time.perf_counter()
    result: Any
    if args.mode == "desk":
        ports = [int(p) for p in args.ports.split(",")]
        trio.run(desk_process, ports, args.symbols, args.journal)
        sys.exit(0)
    elif args.mode == "scale":
        quick = ((1, 1, 0.0), (1, 1, AGGREGATE_RATE), (1, 10, AGGREGATE_RATE))
        shapes = args.shapes or (quick if args.quick else SHAPES + RAMP)
        window, trials = (3.0, 3) if args.quick else (6.0, 12)
        window = args.window or window
        result = trio.run(scale, shapes, window, trials)
        print(scale_report(result))
    else:
        result = trio.run(burst, 3 if args.quick else 10, 200.0, 2.0 if args.quick else 5.0, 3.0)
        print(burst_report(result))
    print(f"wall time {time.perf_counter() - started:.1f}s, machine {machine()}")
    if args.out:
        payload = {"result": result, "machine": machine(), "command": " ".join(sys.argv)}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(payload))
