"""What a strategy can do without overriding ``handle``, in its own file, on a running desk.

The README's example strategy is extracted from the README, saved as a file beside a topology
that names it ``buy_the_dip.py:BuyTheDip`` (no PYTHONPATH), and run on an embedded venue with a
frozen market: the test makes the dip (a synthetic seller takes the top bids), the strategy
buys at the ask and fills, and its position, open orders, balances and timer are read back;
the metrics show its fill, its PnL and the tick-to-order histogram.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.observe.ctl import ctl_command
from actors.runtime import ChildSpec, open_system
from actors.testing.faults import crash_actor
from actors.topology.build import build
from actors.topology.load import ConfigError, load
from actors.topology.run import observe_of, open_desk
from actors.trading.strategy import Strategy, import_file, resolve
from tests.observe.test_desk_endpoints import scrape
from tests.trading.e2e_helpers import (
    Desk,
    book_matches_venue,
    price_of,
    rest_bid,
    sweep_bids,
    wait_for,
)
from tests.trading.test_actors import Sink

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SYM = "BTC/USDT"

TOPOLOGY = """
[desk]
name = "dip"
journal = "{journal}"
book_stale_after = 120.0   # the market is frozen: a still book is not stale

[[venues]]
name = "sim"
kind = "embedded"
symbols = ["BTC/USDT"]
stall_after = 120.0
liveness_interval = 0.0
embedded = {{ port = 0, seed = 3, rate_hz = 40.0 }}

[[strategies]]
name = "dip"
class = "{cls}"
symbols = ["BTC/USDT"]
params = {{ dip_bps = 10.0, amount = 0.002 }}

[observe]
status_interval = 0.0
metrics_port = 0
poll_interval = 0.1
"""


def readme_strategy() -> str:
    """The first Python block of the README's "Writing a strategy" section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Writing a strategy") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def topology_file(tmp_path: Path, cls: str = "buy_the_dip.py:BuyTheDip") -> Path:
    path = tmp_path / "desk" / "dip.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(TOPOLOGY.format(journal=tmp_path / "j.sqlite", cls=cls))
    return path


@asynccontextmanager
async def dip_desk(tmp_path: Path) -> AsyncIterator[tuple[Desk, int, Path]]:
    """The README's strategy from its own file beside the topology, on a frozen market."""
    config = topology_file(tmp_path)
    (config.parent / "buy_the_dip.py").write_text(readme_strategy())
    topology = load(config)
    plan = build(topology, source=str(config))
    observe = observe_of(topology)
    async with open_desk(plan, observe=observe) as running:
        await running.system.ready.wait()
        desk = Desk(running.system, plan.budgets)
        desk.venues = desk.peek("/venues").venues()
        assert running.metrics_port and observe.control_file is not None
        yield desk, running.metrics_port, observe.control_file


async def test_the_readme_strategy_loads_from_its_file_buys_the_dip_and_fills(
    tmp_path: Path,
) -> None:
    async with dip_desk(tmp_path) as (desk, port, control):
        (venue,) = desk.venues
        await desk.wait_fresh("sim", SYM, timeout=30.0)
        venue.pause_market()
        await wait_for(lambda: book_matches_venue(desk, venue, SYM), timeout=15.0)
        dip = desk.peek("/strategies/dip")
        assert type(dip).__name__ == "BuyTheDip" and isinstance(dip, Strategy)
        await wait_for(lambda: dip.reference is not None, timeout=15.0)
        assert dip.open_orders() == [] and dip.position(SYM) == 0
        # The dip: a seller takes every bid down to 0.2% under the reference, and the best bid
        # left is 0.3% under it (the strategy buys at 0.1%).
        sweep_bids(venue, SYM, price_of(dip.reference * (1 - 0.002)))
        rest_bid(venue, SYM, price_of(dip.reference * (1 - 0.003)), Decimal("0.01"))
        ask = Decimal(str(venue.book(SYM, 1)["asks"][0][0]))

        def filled() -> bool:
            return dip.position(SYM) == Decimal("0.002")

        await wait_for(filled, timeout=20.0)
        (order,) = [o for o in (await desk.orders()).values() if o.strategy == "dip"]
        assert order.side == "buy" and order.price == ask and order.filled == Decimal("0.002")
        await wait_for(lambda: not dip.open_orders(), timeout=15.0)
        balances = await dip.balances("sim")  # pushed by the venue's user stream
        assert balances is not None and balances.venue == "sim" and "USDT" in balances.total

        unrealised = ("actors_symbol_pnl", (("kind", "unrealised"), ("symbol", SYM)))

        async def exported() -> dict[Any, float] | None:
            # One scrape reads the strategy, risk and the router one after another: wait for
            # the one in which all three have accounted the fill.
            samples = await scrape(port)
            fills = samples.get(("actors_strategy_fills_total", (("strategy", "dip"),)))
            desk_fills = samples.get(("actors_fills_total", ()))
            return samples if fills == 1 and desk_fills == 1 and unrealised in samples else None

        samples = await wait_for(exported, timeout=15.0)
        assert samples[("actors_strategy_position", (("strategy", "dip"), ("symbol", SYM)))] == (
            0.002
        )
        assert ("actors_strategy_pnl", (("kind", "realised"), ("strategy", "dip"))) in samples
        assert samples[("actors_position", (("symbol", SYM),))] == 0.002  # risk's own view
        # The order answered a book: the router measured book arrival -> submit.
        assert samples[("actors_tick_to_order_seconds_count", ())] == 1
        assert samples[("actors_tick_to_order_seconds_bucket", (("le", "+Inf"),))] == 1
        assert samples[("actors_fills_total", ())] == 1

        # `actors ctl positions`: per symbol and per strategy, with fills and PnL.
        shown = await trio.to_thread.run_sync(ctl_command, control, "positions")
        by_strategy = r"strategy dip: BTC/USDT 0\.002 \(1 fills, realised 0, unrealised -?\d"
        assert re.search(by_strategy, shown), shown
        assert re.search(r"BTC/USDT: 0\.002 \(realised 0, unrealised -?\d.*, fees ", shown), shown

        # Restarted, it knows its position again (from the router's views of its orders).
        crash_actor(desk.system, "/strategies/dip")
        await wait_for(lambda: desk.restarts("/strategies/dip") >= 1, timeout=15.0)

        def restarted() -> Any:
            cell = desk.system._registry.get("/strategies/dip")  # test-only introspection
            again = cell.actor if cell is not None else None
            # ``reference`` exists once setup ran (after the orders were seeded)
            return again if again is not dip and hasattr(again, "reference") else None

        again = await wait_for(restarted, timeout=30.0)
        assert again.position(SYM) == Decimal("0.002") and again.open_orders() == []


class Ticking(Strategy):
    """Counts its timer's ticks and cancels it at the third."""

    async def setup(self) -> None:
        self.ticks = 0
        self.third = trio.Event()
        self.timer = self.every(0.5, self._tick)

    async def _tick(self) -> None:
        self.ticks += 1
        if self.ticks == 3:
            self.timer.cancel()
            self.third.set()


async def test_every_fires_between_messages_until_cancelled(autojump_clock: Any) -> None:
    ticking = Ticking("t", None)
    specs = [
        ChildSpec("risk", lambda: Sink([])),
        ChildSpec("router", lambda: Sink([])),
        ChildSpec("t", lambda: ticking),
    ]
    async with open_system(specs) as system:
        await system.ready.wait()
        with trio.fail_after(10):
            await ticking.third.wait()
        await trio.sleep(5.0)  # virtual time: a live timer would have fired ten more times
        assert ticking.ticks == 3
        with pytest.raises(ValueError, match="finite number of seconds > 0, got nan"):
            ticking.every(float("nan"), ticking._tick)


def test_a_strategy_file_that_is_missing_or_broken_is_refused_with_its_key(
    tmp_path: Path,
) -> None:
    config = topology_file(tmp_path, "nowhere.py:BuyTheDip")
    with pytest.raises(ConfigError) as info:
        build(load(config), source=str(config))
    assert re.search(
        r"strategies\[0\]\.class: cannot load .*no such file: .*nowhere\.py", str(info.value)
    )
    (config.parent / "broken.py").write_text("class Oops(\n")
    config = topology_file(tmp_path, "broken.py:Oops")
    with pytest.raises(ConfigError, match=r"strategies\[0\]\.class: .*broken\.py:\d+"):
        build(load(config), source=str(config))


def test_a_strategy_module_beside_the_topology_imports_by_name(tmp_path: Path) -> None:
    config = topology_file(tmp_path, "dip_by_name:BuyTheDip")
    (config.parent / "dip_by_name.py").write_text(readme_strategy())
    load(config)  # puts the topology's directory on the import path
    cls = resolve("dip_by_name:BuyTheDip")
    assert issubclass(cls, Strategy)
    module = import_file(config.parent / "dip_by_name.py")  # once per file, by its path
    assert import_file(config.parent / "dip_by_name.py") is module
