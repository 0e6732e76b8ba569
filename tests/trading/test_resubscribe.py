"""When a dropped stream resubscribes in place and when it crashes into the backoff."""

from __future__ import annotations

import ccxt

from actors.trading.resubscribe import RESUBSCRIBE_SPACING, Resubscriber

DROPPED = ccxt.NetworkError("Connection closed by remote server, closing code 1001")


def test_a_drop_after_the_stream_delivered_is_resubscribed_in_place() -> None:
    r = Resubscriber()
    assert r.allow(DROPPED, now=100.0)
    assert r.dropped_at == 100.0 and not r.delivered


def test_a_second_drop_before_the_stream_delivered_again_is_a_crash() -> None:
    # The reconnect itself failed (a refused dial): that is for the supervisor's backoff.
    r = Resubscriber()
    assert r.allow(DROPPED, now=100.0)
    assert not r.allow(DROPPED, now=100.0 + 10 * RESUBSCRIBE_SPACING)


def test_drops_closer_than_the_spacing_are_a_crash_even_after_a_delivery() -> None:
    r = Resubscriber()
    assert r.allow(DROPPED, now=100.0)
    r.delivered = True
    assert not r.allow(DROPPED, now=100.0 + RESUBSCRIBE_SPACING / 2)
    assert r.allow(DROPPED, now=100.0 + RESUBSCRIBE_SPACING)


def test_only_a_lost_connection_is_resubscribed_in_place() -> None:
    r = Resubscriber()
    for exc in (
        ccxt.InvalidNonce("binance order book gap"),  # a desync: restart and resync
        ccxt.ChecksumError("okx checksum"),
        ccxt.RequestTimeout('binance {"code":-1007}'),  # the venue's answer
        ccxt.ExchangeNotAvailable("503"),
        ValueError("a bug"),
    ):
        assert not r.allow(exc, now=100.0), exc
    assert r.delivered  # refusing leaves the state alone
    assert r.allow(ccxt.RequestTimeout("Connection timeout"), now=100.0)
