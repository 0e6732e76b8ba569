"""Unit tests of the trading actors in virtual time (no network): risk, book, journal..."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from actors.runtime import Actor, ChildSpec, MailboxSpec, Overflow, open_system, supervisor_spec
from actors.trading.book_actor import OrderBookActor, market_data_key
from actors.trading.journal import Journal
from actors.trading.journal_actor import JournalActor
from actors.trading.markets import MarketInfo, Markets
from actors.trading.messages import (
    BookSnapshot,
    FeedStatus,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SetTradingState,
    SubmitOrder,
    TopOfBook,
    TradingState,
)
from actors.trading.protocol import Append, BookView, Flush, GetBook, GetRiskState, ReadJournal
from actors.trading.risk import RiskLimits
from actors.trading.risk_actor import RiskActor
from actors.trading.strategy import load_strategy

SYM = "BTC/USDT"


@pytest.fixture
def vclock() -> trio.testing.MockClock:
    """Virtual time that jumps once everything has been idle for 20 ms of real time.

    Not plain autojump: the journal commits on a worker thread, and a clock that jumped while
    SQLite works would time out the asks waiting for it.
    """
    return trio.testing.MockClock(autojump_threshold=0.02)


class Sink(Actor):
    """Records every message; answers intents like a permissive risk engine would."""

    def __init__(self, log: list[Any], delay: float = 0.0) -> None:
        self.log = log
        self.delay = delay

    async def handle(self, message: Any) -> Any:
        if self.delay:
            await trio.sleep(self.delay)
        self.log.append(message)
        if isinstance(message, OrderIntent):
            return RiskApproved(intent=message)
        if message == "log":
            return list(self.log)
        return None


def top(venue: str = "sim", bid: float = 99.0, ask: float = 101.0, size: float = 5.0) -> TopOfBook:
    return TopOfBook(
        venue=venue, symbol=SYM, bid=bid, bid_size=size, ask=ask, ask_size=size,
        received_at=trio.current_time(),
    )  # fmt: skip


def intent(cid: str, side: str = "buy", amount: str = "1", price: str | None = "100",
           venue: str | None = "sim") -> OrderIntent:  # fmt: skip
    return OrderIntent(
        client_order_id=cid, strategy="t", venue=venue, symbol=SYM, side=side,  # type: ignore[arg-type]
        order_type="limit" if price else "market", amount=D(amount),
        price=D(price) if price else None, created_at=0.0,
    )  # fmt: skip


# --- risk ----------------------------------------------------------------------------------


def risk_desk(tmp_path: Path, limits: RiskLimits, routed: list[Any]) -> list[ChildSpec]:
    return [
        ChildSpec("journal", lambda: JournalActor(str(tmp_path / "j.sqlite"))),
        ChildSpec("risk", lambda: RiskActor(limits)),
        ChildSpec("router", lambda: Sink(routed)),
    ]


CASES: list[tuple[str, RiskLimits, dict[str, Any], dict[str, Any], RejectReason]] = [
    ("amount", RiskLimits(max_order_amount=D("1")), {"amount": "1"}, {"amount": "1.01"},
     RejectReason.AMOUNT_LIMIT),
    ("notional", RiskLimits(max_order_notional=D("100")), {"price": "100"}, {"price": "100.5"},
     RejectReason.NOTIONAL_LIMIT),
    ("band", RiskLimits(price_band=D("0.05")), {"price": "105"}, {"price": "105.1"},
     RejectReason.PRICE_BAND),
    ("position", RiskLimits(max_position=D("2")), {"amount": "2"}, {"amount": "2.5"},
     RejectReason.POSITION_LIMIT),
    ("exposure", RiskLimits(max_gross_exposure=D("300")), {"amount": "3"}, {"amount": "3.1"},
     RejectReason.EXPOSURE_LIMIT),
    ("market-no-book", RiskLimits(), {"venue": "sim"}, {"venue": "other"},
     RejectReason.NO_BOOK),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "limits", "ok", "bad", "reason"), CASES, ids=[c[0] for c in CASES]
)
async def test_each_risk_rule_passes_inside_and_rejects_outside_and_journals(
    vclock: trio.abc.Clock,
    tmp_path: Path,
    name: str,
    limits: RiskLimits,
    ok: dict[str, Any],
    bad: dict[str, Any],
    reason: RejectReason,
) -> None:
    routed: list[Any] = []
    async with open_system(risk_desk(tmp_path, limits, routed)) as system:
        risk = system.lookup("/risk")
        assert risk is not None
        await risk.send(top())
        good = await risk.ask(intent("ok1", **ok))
        assert isinstance(good, RiskApproved), good
        refused = await risk.ask(intent("bad1", **bad))
        assert isinstance(refused, RiskRejected)
        assert refused.reason is reason
        await trio.sleep(0.1)
        assert [m.client_order_id for m in routed] == ["ok1"]  # only approvals reach it
        journal = system.lookup("/journal")
        assert journal is not None
        events = await journal.ask(ReadJournal())
        decisions = [e for e in events if isinstance(e, (RiskApproved, RiskRejected))]
        assert [type(d).__name__ for d in decisions] == ["RiskApproved", "RiskRejected"]
        assert decisions[1].reason is reason


async def test_open_orders_and_rate_limits(vclock: trio.abc.Clock, tmp_path: Path) -> None:
    routed: list[Any] = []
    limits = RiskLimits(max_open_orders=3, max_orders_per_second=2, max_orders_per_minute=3)
    async with open_system(risk_desk(tmp_path, limits, routed)) as system:
        risk = system.lookup("/risk")
        assert risk is not None
        await risk.send(top())
        assert isinstance(await risk.ask(intent("a")), RiskApproved)
        assert isinstance(await risk.ask(intent("b")), RiskApproved)
        third = await risk.ask(intent("c"))
        assert third.reason is RejectReason.RATE_LIMIT_SECOND
        await trio.sleep(1.1)
        await risk.send(top())
        assert isinstance(await risk.ask(intent("d")), RiskApproved)
        # Three approved and still open: the open-order cap bites before the minute window.
        assert (await risk.ask(intent("e"))).reason is RejectReason.OPEN_ORDERS_LIMIT
        await risk.send(
            OrderUpdate(
                client_order_id="a",
                venue="sim",
                venue_order_id="1",
                status=OrderStatus.CANCELLED,
                filled=D(0),
                remaining=D(1),
            )
        )
        assert (await risk.ask(intent("f"))).reason is RejectReason.RATE_LIMIT_MINUTE
        await trio.sleep(60)
        await risk.send(top())
        assert isinstance(await risk.ask(intent("g")), RiskApproved)
        assert (await risk.ask(intent("a"))).reason is RejectReason.DUPLICATE_ID


async def test_stale_book_kill_switch_and_daily_loss(
    vclock: trio.abc.Clock, tmp_path: Path
) -> None:
    routed: list[Any] = []
    limits = RiskLimits(max_daily_loss=D("5"), max_book_age=5.0)
    async with open_system(risk_desk(tmp_path, limits, routed)) as system:
        risk = system.lookup("/risk")
        assert risk is not None
        await risk.send(top())
        await risk.send(FeedStatus(venue="sim", symbol=SYM, live=False, reason="test"))
        assert (await risk.ask(intent("s1"))).reason is RejectReason.STALE_BOOK
        await risk.send(top())
        assert isinstance(await risk.ask(intent("s2")), RiskApproved)
        await trio.sleep(6)  # no book update for longer than max_book_age
        assert (await risk.ask(intent("s3"))).reason is RejectReason.STALE_BOOK
        await risk.send(top())
        change = await risk.ask(SetTradingState(state=TradingState.HALTED, reason="kill"))
        assert change.state is TradingState.HALTED
        assert (await risk.ask(intent("k1", side="sell"))).reason is RejectReason.HALTED
        await risk.ask(SetTradingState(state=TradingState.ACTIVE, reason="resume"))
        # A fill at 100 marked at 90 loses 10 > 5: REDUCING, only the reducing sell passes.
        await risk.send(
            Fill(
                client_order_id="s2",
                venue="sim",
                symbol=SYM,
                side="buy",
                price=D("100"),
                amount=D("1"),
                trade_id="t1",
            )
        )
        await risk.send(top(bid=89.0, ask=91.0))
        assert (await risk.ask(intent("l1", price="90"))).reason is RejectReason.DAILY_LOSS
        assert isinstance(await risk.ask(intent("l2", side="sell", price="90")), RiskApproved)
        view = await risk.ask(GetRiskState())
        assert view.state is TradingState.REDUCING and view.positions[SYM] == D(1)


async def test_risk_rebuilds_positions_state_and_ids_from_journal(
    vclock: trio.abc.Clock, tmp_path: Path
) -> None:
    routed: list[Any] = []
    async with open_system(risk_desk(tmp_path, RiskLimits(), routed)) as system:
        risk = system.lookup("/risk")
        assert risk is not None
        await risk.send(top())
        assert isinstance(await risk.ask(intent("r1")), RiskApproved)
        journal = system.lookup("/journal")
        assert journal is not None
        fill = Fill(client_order_id="r1", venue="sim", symbol=SYM, side="buy", price=D("100"),
                    amount=D("1"), trade_id="t1")  # fmt: skip
        submit = SubmitOrder(intent=intent("r1"), venue="sim")
        await journal.ask(Append(events=(submit, fill)))
        await risk.ask(SetTradingState(state=TradingState.HALTED, reason="kill"))
    async with open_system(risk_desk(tmp_path, RiskLimits(), routed)) as system:
        risk = system.lookup("/risk")
        assert risk is not None
        view = await risk.ask(GetRiskState())
        assert view.state is TradingState.HALTED
        assert view.positions == {SYM: D(1)}
        await risk.ask(SetTradingState(state=TradingState.ACTIVE, reason="resume"))
        await risk.send(top())
        assert (await risk.ask(intent("r1"))).reason is RejectReason.DUPLICATE_ID


# --- journal -------------------------------------------------------------------------------


async def test_journal_group_commits_queued_events_before_a_durable_one(
    vclock: trio.abc.Clock, tmp_path: Path
) -> None:
    path = str(tmp_path / "j.sqlite")
    i1, i2 = intent("j1"), intent("j2")
    async with open_system([ChildSpec("journal", lambda: JournalActor(path, 10.0))]) as system:
        journal = system.lookup("/journal")
        assert journal is not None
        await journal.send(Append(events=(i1,), durable=False))
        seq = await journal.ask(Append(events=(i2,)))
        assert seq == 2
        with Journal(path) as j:  # durable: visible to another connection right now
            assert [e.message for e in j.events()] == [i1, i2]
        await journal.send(Append(events=(RiskApproved(intent=i1),), durable=False))
        await trio.sleep(11)  # the flush timer commits it
        with Journal(path) as j:
            assert j.last_seq() == 3
        assert await journal.ask(Flush()) == 0


# --- book ----------------------------------------------------------------------------------


def snap(nonce: int, bid: float = 99.0, ask: float = 101.0) -> BookSnapshot:
    return BookSnapshot(
        venue="sim",
        symbol=SYM,
        bids=((bid, 1.0), (bid - 1, 2.0)),
        asks=((ask, 1.0), (ask + 1, 2.0)),
        nonce=nonce,
        received_at=0.0,
    )


def book_specs(seen: list[Any], delay: float = 0.0) -> list[ChildSpec]:
    conflated = MailboxSpec(capacity=64, overflow=Overflow.CONFLATE, key=market_data_key)
    return [
        ChildSpec("sub", lambda: Sink(seen, delay), mailbox=conflated),
        supervisor_spec("books", [supervisor_spec("sim", [ChildSpec(
            "BTC-USDT", lambda: OrderBookActor("sim", SYM, depth=1, stale_after=2.0,
                                               subscribers=("/sub",)))])]),
    ]  # fmt: skip


async def test_book_checks_publishes_goes_stale_and_resyncs(vclock: trio.abc.Clock) -> None:
    seen: list[Any] = []
    async with open_system(book_specs(seen)) as system:
        book = system.lookup("/books/sim/BTC-USDT")
        assert book is not None
        await book.send(snap(1))
        await trio.sleep(0.1)
        assert seen[-1].bid == 99.0 and not seen[-1].stale
        await book.send(snap(1, bid=98.0))  # nonce did not advance: refused, book stale
        await book.send(snap(3, bid=102.0))  # crossed: refused
        await trio.sleep(0.1)
        view: BookView = await book.ask(GetBook())
        assert view.stale and view.rejected == 2
        assert seen[-1].stale and seen[-1].bid == 99.0
        await book.send(snap(2, bid=98.5))  # a resync snapshot makes it fresh again
        await trio.sleep(0.1)
        view = await book.ask(GetBook())
        assert not view.stale and view.snapshot is not None
        assert view.snapshot.bids == ((98.5, 1.0),)  # depth-limited copy
        await trio.sleep(3.0)  # quiet for longer than stale_after
        assert seen[-1].stale and (await book.ask(GetBook())).stale_reason.startswith("no update")
        await book.send(snap(5))
        await book.send(FeedStatus(venue="sim", symbol=SYM, live=False, reason="feed down"))
        await trio.sleep(0.1)
        assert seen[-1].stale


async def test_slow_subscriber_sees_latest_book_not_a_backlog(
    vclock: trio.abc.Clock,
) -> None:
    seen: list[Any] = []
    async with open_system(book_specs(seen, delay=1.0)) as system:
        book = system.lookup("/books/sim/BTC-USDT")
        assert book is not None
        for nonce in range(1, 51):
            await book.send(snap(nonce, bid=90.0 + nonce / 10))
            await trio.sleep(0.01)
        await trio.sleep(5)
        nonces = [m.nonce for m in seen]
        assert nonces[-1] == 50
        assert len(nonces) < 5  # conflated: the sink never worked through 50 books


# --- strategies ----------------------------------------------------------------------------


def markets(*venues: str, tick: str = "0.01") -> list[Markets]:
    """What each venue's private session tells the strategies: its precision and limits."""
    return [
        Markets(venue=v, markets=(MarketInfo(venue=v, symbol=SYM, price_step=D(tick),
                                             amount_step=D("0.00001"), min_cost=D("5")),))
        for v in venues
    ]  # fmt: skip


def strategy_specs(path: str, params: dict[str, Any], log: list[Any]) -> list[ChildSpec]:
    return [
        ChildSpec("risk", lambda: Sink(log)),
        ChildSpec("router", lambda: Sink(log)),
        supervisor_spec("strategies", [ChildSpec("s", load_strategy(path, "s", params))]),
    ]


async def test_market_maker_quotes_around_mid_requotes_and_skews(
    vclock: trio.abc.Clock,
) -> None:
    log: list[Any] = []
    params = {"venue": "sim", "symbol": SYM, "amount": "0.5", "spread_bps": 20,
              "skew_bps": 10, "max_inventory": "1", "tolerance_bps": 5}  # fmt: skip
    path = "actors.trading.strategies.market_maker:MarketMaker"
    async with open_system(strategy_specs(path, params, log)) as system:
        mm = system.lookup("/strategies/s")
        assert mm is not None
        await mm.send(top(bid=99.99, ask=100.01))
        await trio.sleep(0.5)
        assert not [m for m in log if isinstance(m, OrderIntent)]  # no market (tick) yet
        for m in markets("sim"):
            await mm.send(m)
        await mm.send(top(bid=99.99, ask=100.01))
        await trio.sleep(0.5)
        quotes = [m for m in log if isinstance(m, OrderIntent)]
        assert [(q.side, q.price) for q in quotes] == [("buy", D("99.9")), ("sell", D("100.1"))]
        await mm.send(top(bid=100.0, ask=100.02))  # 1 bp move: within tolerance
        await trio.sleep(0.5)
        assert len([m for m in log if isinstance(m, OrderIntent)]) == 2
        buy = quotes[0]
        await mm.send(Fill(client_order_id=buy.client_order_id, venue="sim", symbol=SYM,
                           side="buy", price=D("99.9"), amount=D("0.5"), trade_id="1"))  # fmt: skip
        await mm.send(top(bid=100.99, ask=101.01))  # 100 bp move: cancel and requote, skewed
        await trio.sleep(0.5)
        cancels = [m.client_order_id for m in log if type(m).__name__ == "CancelOrder"]
        assert set(cancels) == {q.client_order_id for q in quotes}
        new = [m for m in log if isinstance(m, OrderIntent)][2:]
        # long 0.5 of max 1: quotes shift down by 5 bp
        assert [(q.side, q.price) for q in new] == [("buy", D("100.84")), ("sell", D("101.06"))]


async def test_arbitrage_takes_crossed_venues_net_of_fees(vclock: trio.abc.Clock) -> None:
    log: list[Any] = []
    params = {"symbol": SYM, "venues": ["a", "b"], "threshold_bps": 5, "fee_bps": 10,
              "max_amount": "0.3", "cooldown": 1.0}  # fmt: skip
    path = "actors.trading.strategies.arbitrage:TakerArbitrage"
    async with open_system(strategy_specs(path, params, log)) as system:
        arb = system.lookup("/strategies/s")
        assert arb is not None
        for m in markets("a", "b"):
            await arb.send(m)
        await arb.send(top("a", bid=100.0, ask=100.1))
        await arb.send(top("b", bid=99.9, ask=99.85))  # edge 15 bp - 20 bp fees: nothing
        await trio.sleep(0.5)
        assert not [m for m in log if isinstance(m, OrderIntent)]
        await arb.send(top("b", bid=99.5, ask=99.6, size=0.2))  # 40 bp - 20 = 20 > 5: take
        await trio.sleep(0.5)
        legs = [m for m in log if isinstance(m, OrderIntent)]
        assert [
            (leg.venue, leg.side, leg.price, leg.amount, leg.time_in_force) for leg in legs
        ] == [
            ("b", "buy", D("99.6"), D("0.2"), "IOC"),
            ("a", "sell", D("100"), D("0.2"), "IOC"),
        ]
        await arb.send(top("b", bid=99.5, ask=99.6, size=0.2))
        await trio.sleep(2)
        assert len([m for m in log if isinstance(m, OrderIntent)]) == 2  # legs still pending


def test_market_data_is_conflated_per_kind_venue_symbol_and_order_flow_never() -> None:
    from decimal import Decimal as D

    from actors.trading.messages import Fill, Ticker

    a = Ticker(venue="sim", symbol="BTC/USDT", last=1.0)
    b = Ticker(venue="sim", symbol="BTC/USDT", last=2.0)
    other = Ticker(venue="sim2", symbol="BTC/USDT", last=2.0)
    assert market_data_key(a) == market_data_key(b) != market_data_key(other)
    fill = Fill(
        client_order_id="c", venue="sim", symbol="BTC/USDT", side="buy", price=D("1"),
        amount=D("1"), fee=D("0"), fee_currency="USDT", trade_id="t", timestamp_ms=1,
    )  # fmt: skip
    assert market_data_key(fill) is None
