"""Hop latency: how long a parked actor takes to run after a message is put in its mailbox.

``bench/mailbox_relay.py`` measures throughput (a busy chain drains without yielding: well
under a microsecond per hop). On the order path every hop is a *parked* receiver woken by one
message, and it runs in trio's next scheduler batch, with every other task the same event
woke. trio shuffles each batch and reverses it half the time, so the receiver waits, on
average, behind half of the others' work. This bench shows that mechanism in isolation:
a ping-pong between two tasks through the runtime's mailboxes, while each ping also wakes
``K`` bystander tasks that each do ``W`` microseconds of work (as a depth update wakes the
strategy, risk, the consolidated book and the asyncio loop together on the desk).

One process, one row per ``K``, in interleaved rounds; the figure is one hop (half the
round trip), p50 and p90 in microseconds.

Run: ``.venv/bin/python bench/hop_latency.py [--pings 2000] [--work-us 40] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from actors.runtime.mailbox import Mailbox, Overflow  # noqa: E402


def spin(us: float) -> None:
    """Hold the thread for ``us`` microseconds (a handler's Python work)."""
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


async def one(pings: int, bystanders: int, work_us: float) -> list[float]:
    """Hop latencies (us) of ``pings`` ping-pongs, each waking ``bystanders`` other tasks."""
    ping, pong = Mailbox(64, Overflow.BLOCK, "ping"), Mailbox(64, Overflow.BLOCK, "pong")
    others = [Mailbox(64, Overflow.BLOCK, f"other{i}") for i in range(bystanders)]
    hops: list[float] = []

    async def echo() -> None:
        while True:
            await ping.wait()
            pong.put_nowait(ping.pop_nowait())

    async def bystander(box: Mailbox) -> None:
        while True:
            await box.wait()
            box.pop_nowait()
            spin(work_us)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        for box in others:
            nursery.start_soon(bystander, box)
        await trio.sleep(0.05)
        for i in range(pings):
            started = time.perf_counter()
            ping.put_nowait(i)
            for box in others:
                box.put_nowait(i)
            await pong.wait()
            pong.pop_nowait()
            hops.append((time.perf_counter() - started) * 1e6 / 2)
            await trio.sleep(0.0002)  # parked again, as between two market events
        nursery.cancel_scope.cancel()
    return hops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--work-us", type=float, default=40.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bystanders", default="0,1,2,4")
    args = parser.parse_args()
    ks = [int(k) for k in args.bystanders.split(",")]
    results: dict[int, list[float]] = {k: [] for k in ks}
    for _ in range(args.rounds):
        for k in ks:
            results[k] += trio.run(one, args.pings, k, args.work_us)
    base = statistics.median(results[ks[0]])
    print(f"work per bystander: {args.work_us:g} us; {args.pings} pings x {args.rounds} rounds")
    print("| bystanders woken with the receiver | hop p50 us | hop p90 us | p50 vs first row |")
    print("|---:|---:|---:|---:|")
    for k in ks:
        hops = sorted(results[k])
        p50, p90 = statistics.median(hops), hops[int(0.9 * (len(hops) - 1))]
        print(f"| {k} | {p50:.1f} | {p90:.1f} | {p50 / base:.2f} |")


if __name__ == "__main__":
    main()
