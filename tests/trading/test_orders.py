"""Order state machine, order table, reconciliation rule and client order ids."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.trading.dialects import dialect_for
from actors.trading.ids import ClientOrderIdGenerator, base36
from actors.trading.messages import (
    CancelOrder,
    CancelRejected,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    ReconcileVerdict,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SubmitOrder,
    SubmitUnknown,
)
from actors.trading.orders import (
    TERMINAL,
    TRANSITIONS,
    InvalidTransition,
    Order,
    OrderError,
    OrderTable,
)

S = OrderStatus
D = Decimal


def intent(cid: str = "c1", amount: str = "2", venue: str | None = "sim", **kw: object):
    fields: dict[str, object] = dict(
        client_order_id=cid,
        strategy="s",
        venue=venue,
        symbol="BTC/USDT",
        side="buy",
        order_type="limit",
        amount=D(amount),
        price=D("100"),
        created_at=0.0,
    )
    fields.update(kw)
    return OrderIntent(**fields)  # type: ignore[arg-type]


def fill(amount: str, trade_id: str, cid: str = "c1", price: str = "100", **kw: object) -> Fill:
    fields: dict[str, object] = dict(
        client_order_id=cid,
        venue="sim",
        symbol="BTC/USDT",
        side="buy",
        price=D(price),
        amount=D(amount),
        trade_id=trade_id,
    )
    fields.update(kw)
    return Fill(**fields)  # type: ignore[arg-type]


def update(status: S, filled: str = "0", cid: str = "c1", vid: str | None = "v1", amount="2"):
    return OrderUpdate(
        client_order_id=cid,
        venue="sim",
        venue_order_id=vid,
        status=status,
        filled=D(filled),
        remaining=D(amount) - D(filled),
    )


def submitted(cid: str = "c1", amount: str = "2", now: float = 1.0) -> tuple[OrderTable, Order]:
    table = OrderTable(unknown_grace=10.0)
    it = intent(cid, amount)
    table.apply(it, 0.0)
    table.apply(RiskApproved(intent=it), 0.0)
    order = table.apply(SubmitOrder(intent=it, venue="sim"), now)
    assert order is not None
    return table, order


# --- transition table ---------------------------------------------------------------------


def test_terminal_states_have_no_exits() -> None:
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset()
    assert set(TRANSITIONS) == set(OrderStatus)


def test_happy_path_limit_order() -> None:
    table, order = submitted()
    assert order.status is S.SUBMITTING and order.submitted_at == 1.0
    table.apply(update(S.OPEN), 2.0)
    assert order.status is S.OPEN and order.venue_order_id == "v1"
    assert table.by_venue_order_id("sim", "v1") is order
    table.apply(fill("0.5", "t1", price="100"), 3.0)
    assert order.status is S.PARTIALLY_FILLED
    table.apply(fill("1.5", "t2", price="101"), 4.0)
    assert order.status is S.FILLED
    assert order.filled == D("2") and order.remaining == 0 and order.open_quantity == 0
    # (0.5*100 + 1.5*101) / 2 = 100.75 exactly
    assert order.average_price == D("100.75")


def test_illegal_transition_names_order_and_states_and_changes_nothing() -> None:
    table, order = submitted()
    table.apply(update(S.CANCELLED), 2.0)
    before = order.snapshot()
    with pytest.raises(InvalidTransition) as err:
        order.submit_unknown("timeout", 3.0)
    assert "c1" in str(err.value) and "CANCELLED -> UNKNOWN" in str(err.value)
    assert err.value.current is S.CANCELLED and err.value.target is S.UNKNOWN
    assert order.snapshot() == before


def test_submit_before_intent_and_duplicate_id_are_errors() -> None:
    table = OrderTable()
    with pytest.raises(OrderError, match="c9: SubmitOrder for an unknown client order id"):
        table.apply(SubmitOrder(intent=intent("c9"), venue="sim"), 0.0)
    table.apply(intent("c1"), 0.0)
    with pytest.raises(OrderError, match="c1: duplicate client order id"):
        table.apply(intent("c1"), 0.0)


def test_invalid_intent_cannot_become_an_order() -> None:
    with pytest.raises(OrderError, match="c1: amount must be"):
        OrderTable().apply(intent(amount="0"), 0.0)


def test_submit_to_other_venue_than_intent_is_refused() -> None:
    table = OrderTable()
    it = intent(venue="a")
    table.apply(it, 0.0)
    with pytest.raises(OrderError, match="venue 'b' but the intent names venue 'a'"):
        table.apply(SubmitOrder(intent=it, venue="b"), 0.0)
    assert table["c1"].status is S.NEW


def test_routed_intent_takes_the_submit_venue() -> None:
    table = OrderTable()
    it = intent(venue=None)
    table.apply(it, 0.0)
    table.apply(SubmitOrder(intent=it, venue="b"), 0.0)
    assert table["c1"].venue == "b"
    assert table.open_orders(venue="b") == [table["c1"]]


def test_risk_rejected_order_is_terminal() -> None:
    table = OrderTable()
    it = intent()
    table.apply(it, 0.0)
    table.apply(RiskRejected(intent=it, reason=RejectReason.AMOUNT_LIMIT, detail="too big"), 0.0)
    order = table["c1"]
    assert order.status is S.REJECTED and "AMOUNT_LIMIT: too big" in order.reason
    with pytest.raises(InvalidTransition):
        table.apply(SubmitOrder(intent=it, venue="sim"), 0.0)


def test_approved_twice_or_after_submit_is_refused() -> None:
    table, _ = submitted()
    with pytest.raises(InvalidTransition, match="risk_approved"):
        table.apply(RiskApproved(intent=intent()), 0.0)


def test_cancel_of_unsent_order_is_local() -> None:
    table = OrderTable()
    table.apply(intent(), 0.0)
    table.apply(CancelOrder(client_order_id="c1", reason="user"), 0.0)
    assert table["c1"].status is S.CANCELLED


def test_cancel_flow_and_cancel_rejected_returns_to_live_state() -> None:
    table, order = submitted()
    table.apply(update(S.OPEN), 1.0)
    table.apply(CancelOrder(client_order_id="c1", reason="requote"), 2.0)
    assert order.status is S.CANCELLING and order.cancel_reason == "requote"
    table.apply(fill("0.5", "t1"), 2.5)
    assert order.status is S.CANCELLING  # a partial fill keeps the cancel pending
    table.apply(CancelRejected(client_order_id="c1", venue="sim", reason="busy"), 3.0)
    assert order.status is S.PARTIALLY_FILLED
    table.apply(CancelOrder(client_order_id="c1"), 4.0)
    table.apply(update(S.CANCELLED, filled="0.5"), 5.0)
    assert order.status is S.CANCELLED and order.open_quantity == 0


def test_cancel_rejected_after_fill_is_harmless() -> None:
    table, order = submitted()
    table.apply(CancelOrder(client_order_id="c1"), 1.0)
    table.apply(fill("2", "t1"), 2.0)
    assert order.status is S.FILLED
    table.apply(CancelRejected(client_order_id="c1", venue="sim", reason="filled"), 3.0)
    assert order.status is S.FILLED


def test_cancel_rejected_without_pending_cancel_is_an_error() -> None:
    table, order = submitted()
    table.apply(update(S.OPEN), 1.0)
    with pytest.raises(InvalidTransition, match="cancel_rejected"):
        table.apply(CancelRejected(client_order_id="c1", venue="sim", reason="?"), 2.0)
    assert order.status is S.OPEN


# --- fills ---------------------------------------------------------------------------------


def test_same_fill_twice_counts_once() -> None:
    table, order = submitted()
    f = fill("1", "t1")
    table.apply(f, 1.0)
    assert order.fill(f, 2.0) is False
    assert order.filled == D("1")


def test_overfill_is_an_error_and_changes_nothing() -> None:
    table, order = submitted()
    table.apply(fill("1.5", "t1"), 1.0)
    before = order.snapshot()
    with pytest.raises(OrderError, match=r"c1: overfill: fill t2 of 0.6 brings filled to 2.1"):
        table.apply(fill("0.6", "t2"), 2.0)
    assert order.snapshot() == before


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"side": "sell"}, "fill t1 is sell BTC/USDT but the order is buy BTC/USDT"),
        ({"symbol": "ETH/USDT"}, "is buy ETH/USDT"),
        ({"venue": "other"}, "from venue 'other', order is on 'sim'"),
        ({"price": "0"}, "price must be > 0"),
        ({"amount": "-1"}, "amount must be > 0"),
    ],
)
def test_bad_fills_are_refused_with_reason(kw: dict[str, str], needle: str) -> None:
    table, order = submitted()
    amount = kw.pop("amount", "1")
    with pytest.raises(OrderError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        table.apply(fill(amount, "t1", **kw), 1.0)
    assert order.filled == 0 and order.status is S.SUBMITTING


def test_fill_on_never_sent_order_is_refused() -> None:
    table = OrderTable()
    table.apply(intent(), 0.0)
    with pytest.raises(InvalidTransition, match="NEW -> PARTIALLY_FILLED"):
        table.apply(fill("1", "t1"), 0.0)


def test_venue_reports_filled_before_fills_then_fills_catch_up() -> None:
    table, order = submitted()
    table.apply(update(S.FILLED, filled="2"), 1.0)
    assert order.status is S.FILLED and order.filled == 0 and order.venue_filled == 2
    table.apply(fill("2", "t1"), 2.0)
    assert order.filled == 2 and order.status is S.FILLED


def test_fill_after_cancel_only_up_to_what_venue_reported() -> None:
    table, order = submitted()
    table.apply(update(S.OPEN), 1.0)
    table.apply(update(S.CANCELLED, filled="0.5"), 2.0)
    table.apply(fill("0.5", "t1"), 3.0)  # the late fill of the part executed before cancel
    assert order.filled == D("0.5") and order.status is S.CANCELLED
    with pytest.raises(OrderError, match=r"beyond the venue-reported 0\.5"):
        table.apply(fill("0.1", "t2"), 4.0)


def test_fill_before_ack_then_late_ack_records_venue_id() -> None:
    table, order = submitted()
    table.apply(fill("2", "t1"), 1.0)
    table.apply(update(S.OPEN, vid="v7"), 2.0)
    assert order.status is S.FILLED and order.venue_order_id == "v7"


def test_venue_order_id_cannot_change() -> None:
    table, order = submitted()
    table.apply(update(S.OPEN, vid="v1"), 1.0)
    with pytest.raises(OrderError, match="venue order id changed from 'v1' to 'v2'"):
        table.apply(update(S.PARTIALLY_FILLED, filled="1", vid="v2"), 2.0)
    assert order.status is S.OPEN and order.venue_filled == 0


def test_update_validation() -> None:
    table, order = submitted()
    with pytest.raises(OrderError, match="filled=3, order amount is 2"):
        table.apply(update(S.OPEN, filled="3"), 1.0)
    with pytest.raises(OrderError, match="FILLED with filled=1 != amount 2"):
        table.apply(update(S.FILLED, filled="1"), 1.0)
    with pytest.raises(OrderError, match="venue cannot report status CANCELLING"):
        table.apply(update(S.CANCELLING), 1.0)
    assert order.status is S.SUBMITTING


def test_cancelled_report_on_filled_order_is_invalid() -> None:
    table, order = submitted()
    table.apply(fill("2", "t1"), 1.0)
    with pytest.raises(InvalidTransition, match="FILLED -> CANCELLED"):
        table.apply(update(S.CANCELLED, filled="2"), 2.0)
    assert order.venue_order_id is None  # nothing of the refused update was kept


def test_ack_after_never_reached_venue_is_loud() -> None:
    table, order = submitted(now=0.0)
    table.apply(SubmitUnknown(client_order_id="c1", venue="sim", reason="timeout"), 1.0)
    table.apply(table.reconcile("c1", None, now=20.0), 20.0)
    assert order.status is S.REJECTED
    with pytest.raises(InvalidTransition, match="REJECTED -> OPEN"):
        table.apply(update(S.OPEN), 21.0)


# --- UNKNOWN and reconciliation ----------------------------------------------------------


def test_unknown_not_found_within_grace_stays_unknown() -> None:
    table, order = submitted(now=100.0)
    table.apply(SubmitUnknown(client_order_id="c1", venue="sim", reason="502"), 101.0)
    result = table.reconcile("c1", None, now=105.0)
    assert result.verdict is ReconcileVerdict.NOT_FOUND_IN_GRACE
    table.apply(result, 105.0)
    assert order.status is S.UNKNOWN
    assert table.in_flight() == [order]


def test_unknown_not_found_after_grace_is_rejected_never_reached() -> None:
    table, order = submitted(now=100.0)
    table.apply(SubmitUnknown(client_order_id="c1", venue="sim", reason="timeout"), 101.0)
    result = table.reconcile("c1", None, now=110.0)
    assert result.verdict is ReconcileVerdict.NEVER_REACHED_VENUE
    table.apply(result, 110.0)
    assert order.status is S.REJECTED and order.reason == "never reached venue"


def test_unknown_found_on_venue_takes_venue_status() -> None:
    table, order = submitted()
    table.apply(SubmitUnknown(client_order_id="c1", venue="sim", reason="timeout"), 1.0)
    table.apply(table.reconcile("c1", update(S.PARTIALLY_FILLED, filled="1"), 2.0), 2.0)
    assert order.status is S.PARTIALLY_FILLED and order.venue_filled == 1
    assert order.open_quantity == 1


def test_not_found_for_acked_order_changes_nothing() -> None:
    table, order = submitted()
    table.apply(update(S.OPEN), 1.0)
    result = table.reconcile("c1", None, now=1000.0)
    assert result.verdict is ReconcileVerdict.NOT_FOUND_IN_GRACE
    table.apply(result, 1000.0)
    assert order.status is S.OPEN


def test_rebase_clock_restarts_grace() -> None:
    table, _ = submitted(now=5.0)
    table.apply(SubmitUnknown(client_order_id="c1", venue="sim", reason="t"), 6.0)
    table.rebase_clock(1_000_000.0)
    assert table.reconcile("c1", None, 1_000_001.0).verdict is ReconcileVerdict.NOT_FOUND_IN_GRACE


def test_open_orders_filters() -> None:
    table = OrderTable()
    for cid, sym in (("a", "BTC/USDT"), ("b", "ETH/USDT"), ("c", "BTC/USDT")):
        it = intent(cid, symbol=sym)
        table.apply(it, 0.0)
        table.apply(SubmitOrder(intent=it, venue="sim"), 0.0)
    table.apply(update(S.CANCELLED, cid="c", vid=None), 0.0)
    assert {o.client_order_id for o in table.open_orders(symbol="BTC/USDT")} == {"a"}
    assert {o.client_order_id for o in table.open_orders(venue="sim")} == {"a", "b"}
    assert table.open_orders(venue="other") == []
    with pytest.raises(KeyError, match="'zz'"):
        table["zz"]


# --- property: random event sequences -----------------------------------------------------

EVENTS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "submit",
                "ack",
                "reject",
                "unknown",
                "cancel_req",
                "cancel_rej",
                "cancelled",
                "expired",
                "fill",
                "upd_partial",
                "upd_filled",
                "recon_none",
                "recon_late",
            ]
        ),
        st.integers(min_value=1, max_value=9),
        st.integers(min_value=0, max_value=6),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(EVENTS)
def test_random_events_never_leave_terminal_or_overfill(events) -> None:
    table = OrderTable(unknown_grace=5.0)
    it = intent(amount="1")
    table.apply(it, 0.0)
    order = table["c1"]
    now = 0.0
    for name, qty, tid in events:
        now += 1.0
        msg: object
        if name == "submit":
            msg = SubmitOrder(intent=it, venue="sim")
        elif name == "ack":
            msg = update(S.OPEN, amount="1")
        elif name == "reject":
            msg = update(S.REJECTED, amount="1")
        elif name == "unknown":
            msg = SubmitUnknown(client_order_id="c1", venue="sim", reason="t")
        elif name == "cancel_req":
            msg = CancelOrder(client_order_id="c1")
        elif name == "cancel_rej":
            msg = CancelRejected(client_order_id="c1", venue="sim", reason="r")
        elif name == "cancelled":
            msg = update(S.CANCELLED, filled=str(order.filled), amount="1")
        elif name == "expired":
            msg = update(S.EXPIRED, filled=str(order.filled), amount="1")
        elif name == "fill":
            msg = fill(f"0.{qty}", f"t{tid}")
        elif name == "upd_partial":
            msg = update(S.PARTIALLY_FILLED, filled=f"0.{qty}", amount="1")
        elif name == "upd_filled":
            msg = update(S.FILLED, filled="1", amount="1")
        elif name == "recon_none":
            msg = table.reconcile("c1", None, now) if order.status is not S.NEW else None
        else:
            msg = table.reconcile("c1", None, now + 100) if order.status is not S.NEW else None
        if msg is None:
            continue
        before_status, before = order.status, order.snapshot()
        try:
            table.apply(msg, now)  # type: ignore[arg-type]
        except OrderError:
            assert order.snapshot() == before  # refused events change nothing
            continue
        if before_status in TERMINAL:
            assert order.status is before_status
        assert order.status is before_status or order.status in TRANSITIONS[before_status]
        assert 0 <= order.filled <= order.amount
        assert order.venue_filled <= order.amount
        assert order.remaining == order.amount - order.filled


# --- client order ids ---------------------------------------------------------------------


def test_ids_are_unique_valid_and_short() -> None:
    gen = ClientOrderIdGenerator("market_maker_long_name", wall_clock=lambda: 1.7e9)
    ids = [gen.next() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for exchange in ("binance", "okx"):
        assert all(dialect_for(exchange).client_ids.accepts(i) for i in ids)
    assert ids[0].startswith("ax8marketma")


def test_ids_differ_across_restarts_even_in_the_same_millisecond() -> None:
    first = ClientOrderIdGenerator("mm", wall_clock=lambda: 1.7e9, rng=random.Random(1))
    second = ClientOrderIdGenerator("mm", wall_clock=lambda: 1.7e9, rng=random.Random(2))
    later = ClientOrderIdGenerator("mm", wall_clock=lambda: 1.7e9 + 0.001, rng=random.Random(1))
    a = {first.next() for _ in range(100)}
    assert a.isdisjoint({second.next() for _ in range(100)})
    assert a.isdisjoint({later.next() for _ in range(100)})


def test_id_generator_rejects_bad_tags() -> None:
    with pytest.raises(ValueError, match="strategy tag '!!!'"):
        ClientOrderIdGenerator("!!!")
    with pytest.raises(ValueError, match="prefix must be"):
        ClientOrderIdGenerator("mm", prefix="a-b")
    with pytest.raises(ValueError, match="n >= 0"):
        base36(-1)
    with pytest.raises(ValueError, match="do not fit the venues' 18-character limit"):
        ClientOrderIdGenerator("mm", max_len=18)
