"""Metrics, /ready and the control endpoint of a desk trading on an embedded venue (loopback)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from actors.observe.ctl import ControlError, call
from actors.topology.run import Observe
from actors.trading.messages import OrderStatus
from actors.venues import VenueConfig, open_venue
from tests.trading.e2e_helpers import price_of, running_desk, wait_for

pytestmark = pytest.mark.e2e
SYM = "BTC/USDT"


async def get(port: int, path: str) -> tuple[int, str]:
    """Status code and body of ``GET path`` on 127.0.0.1:``port`` (a real socket)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        await stream.send_all(request.encode())
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by prometheus-client's own parser."""
    status, body = await get(port, "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


async def test_metrics_move_while_trading_and_ready_follows_the_feed(tmp_path: Path) -> None:
    observe = Observe(metrics_port=0, poll_interval=0.1)
    async with (
        open_venue(VenueConfig(seed=3, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk([venue], str(tmp_path / "j.sqlite"), observe=observe) as desk,
    ):
        assert desk.running is not None and desk.running.metrics_port
        port = desk.running.metrics_port

        async def ready() -> bool:
            return (await get(port, "/ready"))[0] == 200

        await wait_for(ready, timeout=30.0)
        before = await scrape(port)
        assert before[("actors_orders", (("state", "FILLED"),))] == 0
        assert before[("actors_book_stale", (("symbol", SYM), ("venue", "sim")))] == 0
        assert ("actors_mailbox_depth", (("path", "/router"),)) in before
        view = await desk.wait_fresh("sim", SYM)
        assert view.snapshot is not None
        cid = await desk.submit(
            venue="sim",
            symbol=SYM,
            side="buy",
            amount=Decimal("0.002"),
            price=price_of(view.snapshot.asks[0][0] * 1.001),
            time_in_force="IOC",
        )
        assert isinstance(cid, str)

        async def traded() -> dict[Any, float] | None:
            samples = await scrape(port)
            filled = samples.get(("actors_orders", (("state", "FILLED"),)))
            position = samples.get(("actors_position", (("symbol", SYM),)))
            return samples if filled == 1 and position == 0.002 else None

        after = await wait_for(traded, timeout=15.0)
        key = (
            "actors_filled_base_total",
            (("side", "buy"), ("strategy", "probe"), ("symbol", SYM)),
        )
        assert after[key] == 0.002
        assert after[("actors_risk_approved_total", ())] == 1
        assert (
            after[("actors_processed_total", (("path", "/router"),))]
            > before[("actors_processed_total", (("path", "/router"),))]
        )
        assert after[("actors_trading_state", (("state", "ACTIVE"),))] == 1

        # The venue refuses connections and drops every socket: feed and session go down.
        # (In process: through VenueControl the fault would also cut its own request.)
        venue.faults.refuse_connections(3.0)
        status, body = await wait_for(lambda: _not_ready(port), timeout=30.0, poll=0.02)
        assert status == 503 and json.loads(body)["problems"], body
        assert (await scrape(port))[("actors_ready", ())] == 0
        await wait_for(ready, timeout=60.0)
        samples = await scrape(port)
        assert samples[("actors_ready", ())] == 1
        assert samples[("actors_restarts_total", (("path", "/market/sim"),))] >= 1


async def _not_ready(port: int) -> tuple[int, str] | None:
    status, body = await get(port, "/ready")
    return (status, body) if status == 503 else None


async def test_control_endpoint_halts_cancels_and_refuses_a_bad_token(tmp_path: Path) -> None:
    control = tmp_path / "desk.control.json"
    observe = Observe(control_file=control, poll_interval=0.1)
    async with (
        open_venue(VenueConfig(seed=5, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk([venue], str(tmp_path / "j.sqlite"), observe=observe) as desk,
    ):
        venue.pause_market()  # the book holds still: a resting order stays resting
        assert control.stat().st_mode & 0o777 == 0o600
        view = await desk.wait_fresh("sim", SYM, timeout=30.0)
        assert view.snapshot is not None
        far = price_of(view.snapshot.bids[0][0] * 0.99)
        order = {"venue": "sim", "symbol": SYM, "side": "buy", "amount": Decimal("0.001")}
        cid = await desk.submit(**order, price=far)
        assert isinstance(cid, str)
        await wait_for(lambda: _status(desk, cid, OrderStatus.OPEN), timeout=15.0)

        listed = await trio.to_thread.run_sync(call, control, "GET", "/orders")
        assert [o["client_order_id"] for o in listed["orders"]] == [cid]
        halted = await trio.to_thread.run_sync(call, control, "POST", "/halt", {"reason": "test"})
        assert halted["changed"] and halted["trading_state"] == "HALTED"
        refused = await desk.submit(**order, price=far)
        assert refused.reason.value == "HALTED"
        cancelled = await trio.to_thread.run_sync(call, control, "POST", "/cancel-all", {})
        assert cancelled == {"cancelling": 1}
        await wait_for(lambda: _status(desk, cid, OrderStatus.CANCELLED), timeout=15.0)
        reducing = await trio.to_thread.run_sync(call, control, "POST", "/reduce", {})
        assert reducing["trading_state"] == "REDUCING"
        refused = await desk.submit(**order, price=far)  # flat: a buy grows the position
        assert refused.reason.value == "REDUCING_ONLY"
        resumed = await trio.to_thread.run_sync(call, control, "POST", "/resume", {})
        assert resumed["trading_state"] == "ACTIVE"
        assert isinstance(await desk.submit(**order, price=far), str)

        info = json.loads(control.read_text())
        control.write_text(json.dumps({**info, "token": "guess"}))
        with pytest.raises(ControlError, match="bad or missing token"):
            await trio.to_thread.run_sync(call, control, "GET", "/status")
        control.write_text(json.dumps(info))
    assert not control.exists()  # removed when the desk stopped
    with pytest.raises(ControlError, match="is the desk running"):
        call(control, "GET", "/status")


async def _status(desk: Any, cid: str, status: OrderStatus) -> bool:
    orders = await desk.orders()
    return cid in orders and orders[cid].status is status
