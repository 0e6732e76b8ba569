"""Latest-wins data on core NATS: a slow consumer sees the newest value per key."""

from __future__ import annotations

from typing import Any

import trio

from actors.remote import NatsServer
from actors.runtime import ChildSpec, MailboxSpec, open_system
from tests.remote.helpers import Hold, Quote, Recorder, eventually, node


async def test_a_slow_consumer_gets_the_latest_quote_per_symbol_not_a_backlog(
    nats_server: NatsServer,
) -> None:
    gate = trio.Event()
    seen: list[Any] = []
    spec = ChildSpec("strategy", lambda: Recorder(seen, gate), mailbox=MailboxSpec(capacity=1))
    sent = 300
    async with (
        open_system([spec]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/strategy"]) as na,
        node(b, nats_server.url, "b", ["/b"]) as nb,
    ):
        await nb.wait_for_path("/strategy")
        ref = b.lookup("/strategy")
        assert ref is not None
        await ref.send(Hold())  # the handler is busy until the gate opens
        stats = lambda: a.stats()["/strategy"]  # noqa: E731
        await eventually(lambda: stats().received == 1 and stats().depth == 0)
        for seq in range(1, sent + 1):
            await ref.send(Quote("BTC/USDT", seq))
            await ref.send(Quote("ETH/USDT", seq))
        # Everything has arrived while the actor is stuck: its mailbox holds one quote, the
        # inlet one latest quote per symbol; the rest was superseded, and counted.
        await eventually(lambda: na.stats.received == 1 + 2 * sent)
        gate.set()
        await eventually(lambda: Quote("ETH/USDT", sent) in seen)
        last = {q.symbol: q.seq for q in seen}
        assert last == {"BTC/USDT": sent, "ETH/USDT": sent}
        assert len(seen) <= 4  # one in the mailbox, then the latest of each symbol
        for symbol in ("BTC/USDT", "ETH/USDT"):
            seqs = [q.seq for q in seen if q.symbol == symbol]
            assert seqs == sorted(seqs)  # never an older value after a newer one
        assert na.stats.conflated == 2 * sent - len(seen)
