"""When a stream whose socket dropped resubscribes in place, and when it crashes instead.

ccxt.pro reconnects and resubscribes on the next ``watch_*`` call after a ``NetworkError``; a
restart of the actor that owns the stream would add its supervisor's backoff, a new ccxt
instance and its start-up to every drop (BENCHMARKS.md "Recovery"). A drop is resubscribed
in place when it looks like one: a lost connection after the stream worked, not too often.
Anything else stays a crash, so the supervisor's escalating backoff still guards a venue
that refuses us or a socket that keeps dropping.

>>> import ccxt
>>> r = Resubscriber()
>>> r.allow(ccxt.NetworkError("Connection closed by remote server"), now=10.0)
True
>>> r.allow(ccxt.NetworkError("Connection closed by remote server"), now=10.5)
False
"""

from __future__ import annotations

import math

from actors.trading.ccxt_bridge import is_connection_lost

RESUBSCRIBE_SPACING = 1.0
"""Seconds between two in-place resubscriptions of one stream. A socket that drops more often
crashes the connection instead, into its supervisor's escalating backoff (Binance allows 300
connection attempts per 5 minutes per IP: one a second)."""


class Resubscriber:
    """Whether a stream whose socket dropped may resubscribe in place instead of crashing.

    Only for a lost connection (ccxt's plain ``NetworkError``: not a venue's answer, not a
    desync), only once the stream has delivered (or its subscription was confirmed) since its
    last resubscription (a dial the venue refuses fails before anything is delivered: that is
    for the backoff), and at most once per ``spacing`` seconds.
    """

    def __init__(self, spacing: float = RESUBSCRIBE_SPACING) -> None:
        self.spacing = spacing
        self.delivered = True
        """Whether the stream delivered since its last resubscription (set by the stream)."""
        self.dropped_at: float | None = None
        """When the last resubscription began (None: before any, or once it delivered)."""
        self._last = -math.inf

    def allow(self, exc: BaseException, now: float) -> bool:
        """True (and the resubscription starts now) when ``exc`` may be handled in place."""
        if not (self.delivered and is_connection_lost(exc) and now - self._last >= self.spacing):
            return False
        self._last = self.dropped_at = now
        self.delivered = False
        return True
