"""``actors verify``: a journal against a venue next door, over REST, invariant by invariant."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio

from actors.cli import main
from actors.testing.venues import LocalVenue
from actors.testing.verify import verify_topology
from actors.topology.load import load
from actors.trading.messages import OrderStatus
from actors.venues import Venue, VenueConfig, open_venue
from tests.trading.e2e_helpers import (
    FROZEN,
    frozen_book,
    price_of,
    rest_ask,
    running_desk,
    wait_for,
)

pytestmark = pytest.mark.e2e
SYM = "BTC/USDT"


def topology_file(tmp_path: Path, journal: str) -> Path:
    path = tmp_path / "desk.toml"
    path.write_text(
        f'[desk]\njournal = "{journal}"\n\n[[venues]]\nname = "sim"\nsymbols = ["BTC/USDT"]\n'
        'embedded = { api_key = "sim-api-key", secret = "sim-secret" }\n'
    )
    return path


async def _traded(desk, venue: Venue) -> list[str]:  # type: ignore[no-untyped-def]
    """One order resting and one filled (against the test's own ask), both known to the desk."""
    view = await frozen_book(desk, venue)
    assert view.snapshot is not None
    bid, ask = view.snapshot.bids[0][0], price_of(view.snapshot.asks[0][0])
    rest_ask(venue, SYM, ask, Decimal("0.001"))
    resting = await desk.submit(venue="sim", symbol=SYM, side="buy", amount=Decimal("0.001"),
                                price=price_of(bid * 0.99))  # fmt: skip
    taken = await desk.submit(venue="sim", symbol=SYM, side="buy", amount=Decimal("0.001"),
                              price=ask, time_in_force="IOC")  # fmt: skip
    want = {resting: OrderStatus.OPEN, taken: OrderStatus.FILLED}

    async def settled() -> bool:
        orders = await desk.orders()
        return all(orders[c].status is s for c, s in want.items())

    await wait_for(settled, timeout=20.0)
    return [resting, taken]


async def test_verify_passes_a_journal_that_matches_and_names_what_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = str(tmp_path / "j.sqlite")
    async with open_venue(VenueConfig(seed=91, rate_hz=30.0, symbols=(SYM,))) as venue:
        async with running_desk([venue], journal, **FROZEN(journal)) as desk:
            cids = await _traded(desk, venue)
        # The desk has stopped; the venue next door still runs. Ask it over REST.
        path = topology_file(tmp_path, journal)
        report = await trio.to_thread.run_sync(
            lambda: verify_topology(load(path), urls={"sim": venue.url})
        )
        assert report.ok, report.text()
        lines = {r.name: r for r in report.results}
        assert all(lines[n].ok is True for n in ("approved", "unique", "reconciled", "positions"))
        assert "2 venue orders, 2 journaled" in lines["reconciled"].evidence[0]
        assert all(lines[n].ok is None for n in ("books", "accounting", "contained"))

        # An order with the desk's prefix that the journal never saw (a lost journal tail).
        m = venue.market_of(SYM)
        stray = venue.engine.new_order(
            symbol=m.id, side="BUY", type="LIMIT", tif="GTC", price=m.to_price_units(Decimal(1)),
            qty=m.to_qty_units(Decimal("0.001")), account=venue.config.api_key,
            client_id="axprobe-stray",
        )  # fmt: skip
        venue.engine.submit(stray)
        code = await trio.to_thread.run_sync(
            main, ["verify", str(path), "--venue", f"sim={venue.url}"]
        )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "FAIL approved" in out and "axprobe-stray on sim: at the venue, no RiskApproved" in out
    assert "FAIL reconciled" in out and "axprobe-stray on sim: OPEN at the venue, unknown" in out
    assert "PASS unique" in out and "SKIP books" in out and cids[0] not in out
    assert out.rstrip().endswith("2 invariant(s) violated")


def test_verify_refuses_what_it_cannot_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = topology_file(tmp_path, str(tmp_path / "missing.sqlite"))
    assert main(["verify", str(path)]) == 1
    assert "FAIL approved: " in capsys.readouterr().out  # no journal: not a pass
    (tmp_path / "j.sqlite").write_bytes(b"")
    path = topology_file(tmp_path, str(tmp_path / "j.sqlite"))
    report = verify_topology(load(path))
    assert not report.ok
    assert "venue sim: embedded on a free port: give venues[0].embedded.port" in report.text()
    path.write_text(path.read_text().replace("embedded = {", "embedded = { port = 9,")
                    .replace('api_key = "sim-api-key", ', ""))  # fmt: skip
    assert "its credentials are generated for each run" in verify_topology(load(path)).text()
    path = topology_file(tmp_path, str(tmp_path / "j.sqlite"))
    assert main(["verify", str(path), "--venue", "nope=http://127.0.0.1:1"]) == 2
    assert main(["verify", str(path), "--venue", "sim"]) == 2
    (tmp_path / "j.sqlite").write_text("not a database, not at all" * 100)
    report = verify_topology(load(path))
    assert "not an SQLite database" in report.text() and not report.ok


@pytest.mark.parametrize(("protocol", "shown"), [("binance", "EXPIRED"), ("okx", "CANCELLED")])
async def test_a_ledger_shows_each_order_as_the_venues_protocol_does(
    protocol: str, shown: str
) -> None:
    config = VenueConfig(seed=92, rate_hz=0.0, symbols=(SYM,), protocol=protocol)
    async with open_venue(config) as venue:
        m = venue.market_of(SYM)
        unfilled_ioc = venue.engine.new_order(
            symbol=m.id, side="BUY", type="LIMIT", tif="IOC", price=m.to_price_units(Decimal(1)),
            qty=m.to_qty_units(Decimal("0.001")), account=venue.config.api_key, client_id="ax-1",
        )  # fmt: skip
        venue.engine.submit(unfilled_ioc)
        [order] = LocalVenue(venue).ledger("ax").orders
    # OKX has no "expired": the rest of an IOC is "canceled", and that is what the desk hears.
    assert (order.client_order_id, order.status.value, order.fills) == ("ax-1", shown, 0)
