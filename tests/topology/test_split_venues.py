"""Each venue's market data on a node of its own (``market_data = [venue]``): losing one
venue's node stales that venue's books only, and the other venue keeps trading.

Three node processes on a test-local NATS: ``exec`` (the two embedded venues, journal, risk,
router, sessions, consolidated tops and the strategies: one market maker per venue), ``md-a``
(sim-a's feed and books), ``md-b`` (sim-b's). The test process joins as a fourth node and
probes risk per venue with intents far too big to send (``NOTIONAL_LIMIT`` on a fresh book,
``STALE_BOOK`` on a stale one) and asks the router how many orders each strategy placed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.remote import NatsServer
from actors.topology.build import free_port
from actors.trading.messages import RejectReason
from tests.remote.conftest import nats_server  # noqa: F401 - the fixture
from tests.topology.split_helpers import (
    observer,
    orders,
    peers_of,
    sigkill,
    start,
    stop_all,
    until_more_orders,
    verdict,
)

pytestmark = pytest.mark.e2e

VENUE = """
[[venues]]
name = "{name}"
kind = "embedded"
symbols = ["ETH/USDT"]
embedded = {{ port = {port}, seed = {seed}, rate_hz = 20.0, api_key = "k-{name}", secret = "s" }}

[[strategies]]
name = "mm-{name}"
class = "actors.trading.strategies.market_maker:MarketMaker"
symbols = ["ETH/USDT"]
venues = ["{name}"]
params = {{ amount = 0.05, spread_bps = 20.0, skew_bps = 10.0, max_inventory = 0.5 }}
"""

DESK = """
[desk]
name = "venues"
journal = "{journal}"

[cluster]
servers = ["{url}"]
heartbeat = 0.3
node_timeout = 2.0
lease_ttl = 3.0

[nodes.exec]
groups = ["venues", "journal", "risk", "router", "exec", "consolidated", "strategies"]
[nodes.md-a]
market_data = ["sim-a"]
[nodes.md-b]
market_data = ["sim-b"]

[risk]
max_order_amount = 1.0
max_order_notional = 20000
price_band = 0.05
max_position = 2.0
max_gross_exposure = 50000
max_open_orders = 40
max_orders_per_second = 10
max_orders_per_minute = 240
max_book_age = 5.0
max_daily_loss = 1000

[observe]
status_interval = 0.0
control = false
"""


def config(tmp_path: Path, url: str) -> Path:
    text = DESK.format(journal=tmp_path / "venues.journal.sqlite", url=url)
    for seed, name in enumerate(("sim-a", "sim-b"), start=7):
        text += VENUE.format(name=name, port=free_port(), seed=seed)
    path = tmp_path / "venues.toml"
    path.write_text(text)
    return path


async def test_losing_one_venues_market_data_node_stales_that_venue_only(
    nats_server: NatsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = config(tmp_path, nats_server.url)
    processes = {name: await start(path, name) for name in ("exec", "md-a", "md-b")}
    try:
        async with observer(nats_server.url, "venues", peers=peers_of(path)) as node:
            risk, router = node.ref("/risk"), node.ref("/router")
            # Both venues' books reach risk from their own node, and both market makers quote.
            a = await until_more_orders(router, 0, strategy="mm-sim-a")
            b = await until_more_orders(router, 0, strategy="mm-sim-b")
            await verdict(risk, RejectReason.NOTIONAL_LIMIT, venue="sim-a")
            await verdict(risk, RejectReason.NOTIONAL_LIMIT, venue="sim-b")

            # SIGKILL sim-a's market-data node: sim-a's books go stale (its orders refused)...
            sigkill(processes["md-a"])
            await processes["md-a"].wait()
            stale = await verdict(risk, RejectReason.STALE_BOOK, venue="sim-a")
            assert "node md-a down" in stale.detail
            a = await orders(router, "mm-sim-a")
            # ... while sim-b's books stay fresh and its market maker keeps trading.
            await verdict(risk, RejectReason.NOTIONAL_LIMIT, venue="sim-b", timeout=5.0)
            b = await until_more_orders(router, b, strategy="mm-sim-b")
            await verdict(risk, RejectReason.STALE_BOOK, venue="sim-a", timeout=5.0)

            # md-a comes back: sim-a's books are fresh again and its market maker trades.
            processes["md-a"] = await start(path, "md-a")
            await verdict(risk, RejectReason.NOTIONAL_LIMIT, venue="sim-a")
            await until_more_orders(router, a, strategy="mm-sim-a")
            for name, process in processes.items():
                assert process.returncode is None, f"node {name} stopped: see {name}.log"
        await stop_all(processes)
        codes = {name: p.returncode for name, p in processes.items()}
        assert codes == dict.fromkeys(processes, 0), codes
        # Each node's run summary says what it served.
        assert "serves /market/sim-a, /books/sim-a" in (tmp_path / "md-a.log").read_text()
    finally:
        await stop_all(processes)
