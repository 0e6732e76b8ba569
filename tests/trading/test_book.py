"""Book state: validation without corrupting accepted state, staleness, prices; consolidation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.trading.book import BookError, BookErrorCode, BookState, ConsolidatedBook
from actors.trading.messages import BookSnapshot, TopOfBook


def snap(
    bids=((99.0, 1.0), (98.0, 2.0)),
    asks=((101.0, 1.0), (102.0, 3.0)),
    nonce: int | None = 1,
    ts: int | None = 1000,
    venue: str = "sim",
    symbol: str = "BTC/USDT",
) -> BookSnapshot:
    return BookSnapshot(
        venue=venue,
        symbol=symbol,
        bids=tuple(bids),
        asks=tuple(asks),
        nonce=nonce,
        timestamp_ms=ts,
        received_at=0.0,
    )


def test_accepted_snapshot_gives_top_mid_spread() -> None:
    book = BookState("sim", "BTC/USDT")
    assert book.stale and book.is_stale(0.0, 10.0) and book.mid() is None
    top = book.apply(snap(), now=5.0)
    assert (top.bid, top.bid_size, top.ask, top.ask_size) == (99.0, 1.0, 101.0, 1.0)
    assert top.stale is False and top.received_at == 5.0 and top.nonce == 1
    assert book.mid() == 100.0 and book.spread() == 2.0
    assert book.best_bid() == 99.0 and book.best_ask() == 101.0


def test_depth_truncates_a_copy() -> None:
    book = BookState("sim", "BTC/USDT", depth=1)
    book.apply(snap(), 0.0)
    assert book.bids == ((99.0, 1.0),) and book.asks == ((101.0, 1.0),)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        BookState("sim", "BTC/USDT", depth=0)


@pytest.mark.parametrize(
    ("bad", "code", "needle"),
    [
        (snap(bids=((101.0, 1.0),), nonce=2), BookErrorCode.CROSSED, "best bid 101.0 >= best ask"),
        (snap(bids=((101.0, 1.0),), asks=((101.0, 1.0),), nonce=2), BookErrorCode.CROSSED, ">="),
        (snap(nonce=1), BookErrorCode.NONCE_NOT_ADVANCING, "nonce 1 <= last accepted 1"),
        (snap(nonce=0), BookErrorCode.NONCE_NOT_ADVANCING, "nonce 0 <= last accepted 1"),
        (snap(nonce=2, ts=999), BookErrorCode.TIME_BACKWARDS, "timestamp_ms 999 < last"),
        (snap(venue="x", nonce=2), BookErrorCode.WRONG_INSTRUMENT, "for x BTC/USDT"),
        (snap(bids=((98.0, 1.0), (99.0, 1.0)), nonce=2), BookErrorCode.UNSORTED, "bid level 1"),
        (snap(asks=((101.0, 1.0), (101.0, 1.0)), nonce=2), BookErrorCode.UNSORTED, "ask level 1"),
        (snap(bids=((99.0, 0.0),), nonce=2), BookErrorCode.BAD_LEVEL, "size=0.0"),
        (snap(asks=((float("nan"), 1.0),), nonce=2), BookErrorCode.BAD_LEVEL, "price=nan"),
        (snap(asks=((-1.0, 1.0),), nonce=2), BookErrorCode.BAD_LEVEL, "price=-1.0"),
    ],
)
def test_bad_snapshot_is_refused_and_old_book_kept(bad, code, needle) -> None:
    book = BookState("sim", "BTC/USDT")
    good = snap()
    book.apply(good, now=1.0)
    before = (book.bids, book.asks, book.nonce, book.timestamp_ms, book.last_update)
    with pytest.raises(BookError) as err:
        book.apply(bad, now=2.0)
    assert err.value.code is code
    assert needle in str(err.value) and "sim BTC/USDT" in str(err.value)
    assert (book.bids, book.asks, book.nonce, book.timestamp_ms, book.last_update) == before
    assert not book.stale


def test_mark_stale_then_resync_may_reset_nonce() -> None:
    book = BookState("sim", "BTC/USDT")
    book.apply(snap(nonce=100, ts=5000), 0.0)
    book.mark_stale("websocket closed")
    assert book.stale and book.stale_reason == "websocket closed"
    assert book.top().stale is True
    assert book.is_stale(0.0, 100.0)
    book.apply(snap(nonce=3, ts=10), 1.0)  # fresh resync: venue restarted its sequence
    assert not book.stale and book.nonce == 3
    with pytest.raises(BookError):
        book.apply(snap(nonce=3), 2.0)  # but after the resync, nonces must advance again


def test_crossed_resync_is_still_refused() -> None:
    book = BookState("sim", "BTC/USDT")
    with pytest.raises(BookError, match="CROSSED"):
        book.apply(snap(bids=((102.0, 1.0),)), 0.0)
    assert book.stale and book.bids == ()


def test_is_stale_by_age() -> None:
    book = BookState("sim", "BTC/USDT")
    book.apply(snap(), now=10.0)
    assert not book.is_stale(12.0, max_age=5.0)
    assert book.is_stale(15.5, max_age=5.0)


def test_missing_nonce_and_timestamp_are_accepted() -> None:
    book = BookState("sim", "BTC/USDT")
    book.apply(snap(nonce=None, ts=None), 0.0)
    book.apply(snap(nonce=None, ts=None), 1.0)
    assert book.updates == 2


def test_one_sided_book() -> None:
    book = BookState("sim", "BTC/USDT")
    top = book.apply(snap(asks=()), 0.0)
    assert top.ask is None and top.bid == 99.0
    assert book.mid() is None and book.spread() is None
    assert book.price_for(1.0, "buy") is None


def test_price_for_walks_levels() -> None:
    book = BookState("sim", "BTC/USDT")
    book.apply(snap(), 0.0)
    assert book.price_for(1.0, "buy") == 101.0
    assert book.price_for(2.0, "buy") == pytest.approx((101.0 + 102.0) / 2)
    assert book.price_for(3.0, "sell") == pytest.approx((99.0 + 2 * 98.0) / 3)
    assert book.price_for(4.0, "buy") == pytest.approx((101.0 + 3 * 102.0) / 4)
    assert book.price_for(4.01, "buy") is None
    with pytest.raises(ValueError, match="amount must be > 0"):
        book.price_for(0.0, "buy")


side_levels = st.lists(
    st.tuples(
        st.floats(min_value=1, max_value=1000, allow_nan=False),
        st.floats(min_value=0.001, max_value=10),
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(side_levels, side_levels, st.integers(0, 20)), max_size=15))
def test_accepted_book_is_never_crossed_and_nonce_increases(updates) -> None:
    book = BookState("sim", "BTC/USDT", depth=4)
    last_nonce = None
    for bids, asks, nonce in updates:
        s = snap(
            bids=sorted(dict(bids).items(), reverse=True),
            asks=sorted(dict(asks).items()),
            nonce=nonce,
            ts=None,
        )
        was_stale = book.stale
        try:
            book.apply(s, 0.0)
        except BookError:
            continue
        if book.bids and book.asks:
            assert book.bids[0][0] < book.asks[0][0]
        if last_nonce is not None and not was_stale:
            assert nonce > last_nonce
        last_nonce = nonce
        assert len(book.bids) <= 4 and len(book.asks) <= 4


# --- consolidated --------------------------------------------------------------------------


def top(venue: str, bid: float | None, ask: float | None, stale: bool = False, at: float = 0.0):
    return TopOfBook(
        venue=venue,
        symbol="BTC/USDT",
        bid=bid,
        bid_size=None if bid is None else 1.0,
        ask=ask,
        ask_size=None if ask is None else 2.0,
        stale=stale,
        received_at=at,
    )


def test_consolidated_best_prices_and_venues() -> None:
    cb = ConsolidatedBook("BTC/USDT")
    assert cb.consolidated() is None and cb.best_venue("buy") is None
    cb.update(top("a", 99.0, 101.0))
    cb.update(top("b", 99.5, 102.0))
    cb.update(top("c", 98.0, 100.5))
    c = cb.consolidated()
    assert c is not None
    assert (c.bid, c.bid_venue, c.ask, c.ask_venue) == (99.5, "b", 100.5, "c")
    assert c.venues == ("a", "b", "c")
    assert cb.best_venue("buy") == "c" and cb.best_venue("sell") == "b"


def test_consolidated_ignores_stale_down_and_old_venues() -> None:
    cb = ConsolidatedBook("BTC/USDT")
    cb.update(top("a", 99.0, 101.0, at=10.0))
    cb.update(top("b", 99.9, 100.1, stale=True, at=10.0))
    assert cb.best_venue("buy") == "a"
    cb.update(top("b", 99.9, 100.1, at=10.0))
    assert cb.best_venue("buy") == "b"
    cb.mark_down("b", "ws closed")
    assert cb.best_venue("buy") == "a"
    cb.update(top("b", 99.9, 100.1, at=20.0))  # fresh data clears the down mark
    assert cb.best_venue("buy") == "b"
    assert cb.best_venue("buy", now=25.0, max_age=10.0) == "b"
    assert cb.best_venue("sell", now=25.0, max_age=10.0) == "b"
    cb.update(top("b", 99.9, None, at=20.0))
    assert cb.best_venue("buy", now=25.0, max_age=10.0) is None  # 'a' is too old
    assert cb.best_venue("buy") == "a"


def test_consolidated_tie_is_deterministic_and_symbol_checked() -> None:
    cb = ConsolidatedBook("BTC/USDT")
    cb.update(top("z", 99.0, 101.0))
    cb.update(top("a", 99.0, 101.0))
    assert cb.best_venue("buy") == "a" and cb.best_venue("sell") == "a"
    with pytest.raises(ValueError, match="got a top of ETH/USDT from q"):
        cb.update(TopOfBook(venue="q", symbol="ETH/USDT", bid=1, bid_size=1, ask=2, ask_size=1))
