"""Bad input never poisons the desk: refused at submit, and a broken journal still starts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.runtime import Actor, ActorCrashed, Backoff, ChildSpec, open_system
from actors.trading.ids import ClientOrderIdGenerator
from actors.trading.messages import OrderIntent, OrderStatus, RejectReason, RiskRejected
from actors.trading.strategy import InvalidIntent, Strategy
from actors.venues import VenueConfig, open_venue
from tests.trading.e2e_helpers import running_desk, wait_for
from tests.trading.test_journal import write_broken_journal

SYM = "BTC/USDT"


class NoRisk:
    """Stands in for /risk: submit must never get this far with a bad intent."""

    asked: list[Any]

    def __init__(self) -> None:
        self.asked = []

    async def ask(self, message: Any, timeout: float = 0) -> Any:
        self.asked.append(message)
        raise AssertionError(f"risk was asked {message!r}")


def strategy() -> tuple[Strategy, NoRisk]:
    s = Strategy("t", markets={"sim": (SYM,), "other": ("ETH/USDT",)})
    s.ids = ClientOrderIdGenerator("t")
    risk = NoRisk()
    s.risk = risk  # type: ignore[assignment]
    return s, risk


GOOD: dict[str, Any] = {"symbol": SYM, "side": "buy", "amount": Decimal("1"),
                        "price": Decimal("100"), "venue": "sim"}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": Decimal("NaN")}, "amount must be a finite number > 0, got NaN"),
        ({"amount": float("nan")}, "amount must be a finite number > 0, got NaN"),
        ({"amount": float("inf")}, "amount must be a finite number > 0, got Infinity"),
        ({"amount": Decimal("-1")}, "amount must be a finite number > 0, got -1"),
        ({"amount": 0}, "amount must be a finite number > 0, got 0"),
        ({"price": Decimal("NaN")}, "price must be a finite number > 0, got NaN"),
        ({"price": float("-inf")}, "price must be a finite number > 0, got -Infinity"),
        ({"price": Decimal("0")}, "price must be a finite number > 0, got 0"),
        ({"amount": True}, "amount must be a Decimal, got True"),
        ({"amount": "lots"}, "amount must be a Decimal, got 'lots'"),
        ({"side": "up"}, "side must be 'buy' or 'sell', got 'up'"),
        ({"order_type": "stop"}, "order_type must be 'limit' or 'market', got 'stop'"),
        ({"time_in_force": "GTX"}, "time_in_force must be GTC, IOC or FOK, got 'GTX'"),
        ({"venue": "nowhere"}, "no venue 'nowhere'"),
        ({"symbol": "ETH/USDT"}, "'ETH/USDT' is not traded on ['sim']"),
        ({"symbol": "DOGE/USDT", "venue": None}, "'DOGE/USDT' is not traded on ['sim', 'other']"),
        ({"price": None}, "limit order needs a price"),
    ],
)
async def test_an_invalid_intent_fails_at_submit_before_anything_is_asked(
    change: dict[str, Any], message: str
) -> None:
    s, risk = strategy()
    with pytest.raises(InvalidIntent, match="^t: order .*" + _escape(message)):
        await s.submit(**{**GOOD, **change})
    assert risk.asked == [] and s.submitted == 0


def _escape(text: str) -> str:
    import re

    return re.escape(text)


async def test_a_valid_intent_reaches_risk_with_decimal_amounts() -> None:
    s, risk = strategy()
    with pytest.raises(AssertionError, match="risk was asked"):
        await s.submit(**{**GOOD, "amount": 0.5, "price": 100})
    (intent,) = risk.asked
    assert isinstance(intent, OrderIntent)
    assert (intent.amount, intent.price) == (Decimal("0.5"), Decimal("100"))


async def test_submit_while_risk_is_down_is_a_refusal_the_strategy_sees_not_a_crash(
    autojump_clock: Any,
) -> None:
    class CrashingRisk(Actor):
        async def handle(self, message: Any) -> Any:
            raise RuntimeError("risk crashed")

    spec = ChildSpec("risk", CrashingRisk, backoff=Backoff(initial=60, maximum=60, jitter=0))
    async with open_system([spec]) as system:
        risk = system.lookup("/risk")
        assert risk is not None
        risk.send_nowait("boom")
        while system.stats()["/risk"].state != "restarting":  # noqa: ASYNC110 - virtual time
            await trio.sleep(0.01)
        s, _ = strategy()
        s.risk = risk
        seen: list[RiskRejected] = []

        async def on_reject(rejection: RiskRejected) -> None:
            seen.append(rejection)

        s.on_reject = on_reject  # type: ignore[method-assign]
        assert await s.submit(**GOOD) is None
        [rejection] = seen
        assert rejection.reason is RejectReason.RISK_UNAVAILABLE
        assert "actor /risk is not running (restarting)" in rejection.detail
        assert (s.submitted, s.rejected) == (1, 1)


@pytest.mark.e2e
async def test_a_desk_starts_on_a_journal_full_of_broken_records(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    seqs = write_broken_journal(journal)
    async with open_venue(VenueConfig(seed=31, rate_hz=0.0, symbols=(SYM,))) as venue:
        venue.pause_market()
        async with running_desk([venue], str(journal)) as desk:
            await desk.system.ready.wait()
            # The desk runs on what applies: the good orders are there, nothing bad is.
            orders = await desk.orders()
            assert "good" in orders and "a" in orders and "nan" not in orders
            assert desk.peek("/journal").quarantined == len(seqs)
            assert desk.restarts("/router") == 0 and desk.restarts("/risk") == 0
            # A strategy that submits NaN sees the error; nothing reaches the journal.
            before = len(await desk.journal())
            with pytest.raises(ActorCrashed) as info:
                await desk.submit(venue="sim", symbol=SYM, side="buy",
                                  amount=Decimal("NaN"), price=Decimal("100"))  # fmt: skip
            assert isinstance(info.value.cause, InvalidIntent)
            assert len(await desk.journal()) == before
            await wait_for(lambda: desk.system.stats()["/strategies/probe"].restarts == 1)
            assert (await desk.orders())["good"].status in (
                OrderStatus.OPEN, OrderStatus.EXPIRED, OrderStatus.PARTIALLY_FILLED,
                OrderStatus.REJECTED,
            )  # fmt: skip
        await trio.lowlevel.checkpoint()
