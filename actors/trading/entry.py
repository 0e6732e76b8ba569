"""Which path an order or a cancel takes to its venue: the websocket API, or REST.

Orders go over the exchange's websocket API (ccxt's ``create_order_ws``/``cancel_order_ws``)
where the venue's dialect and ccxt allow it and the topology does not say ``order_entry =
"rest"``, and only while the private socket is known to be up: the session marks it up once
the venue confirmed its login or user-data subscription, down when the socket fails; REST
serves meanwhile. A plain class, owned by the private session, tested alone.

>>> path = EntryPath(ws_enabled=True)
>>> path.transport()
'rest'
>>> path.mark_up(); path.transport()
'ws'
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

Transport = Literal["ws", "rest"]
OrderEntryMode = Literal["ws", "rest"]
"""A venue's ``order_entry`` setting: ``ws`` (the default where the exchange has it: the
websocket API, REST while the socket is down) or ``rest`` (always REST)."""


class EntryPath:
    """The transport of the next order request of one venue, and what each path carried."""

    def __init__(self, ws_enabled: bool) -> None:
        self.ws_enabled = ws_enabled
        """Orders may go over the websocket (the setting, the dialect and ccxt agree)."""
        self.ws_up = False
        """The private socket is confirmed up (login or user-data subscription answered)."""
        self.down_reason: str | None = None
        """Why the socket is down while websocket entry is enabled (None: it is not)."""
        self.requests: Counter[str] = Counter()
        """Requests sent, by ``transport.operation`` (``ws.place``, ``rest.cancel``...)."""
        self.fallbacks = 0
        """Times the socket went down and REST took over."""

    def transport(self) -> Transport:
        """``ws`` while websocket entry is enabled and its socket is up, else ``rest``."""
        return "ws" if self.ws_enabled and self.ws_up else "rest"

    def mark_up(self) -> None:
        """The venue confirmed the private socket: orders go over it from now on."""
        self.ws_up = self.ws_enabled
        self.down_reason = None

    def mark_down(self, reason: str) -> bool:
        """The private socket failed: REST from now on. True when it was up (a new outage)."""
        was_up = self.ws_up or self.down_reason is None
        self.ws_up = False
        self.down_reason = reason
        if was_up and self.ws_enabled:
            self.fallbacks += 1
            return True
        return False

    def sent(self, transport: Transport, operation: str) -> None:
        """Count one request of ``operation`` (place, cancel) sent over ``transport``."""
        self.requests[f"{transport}.{operation}"] += 1

    def describe(self) -> str:
        """One line for the log and ``actors check``: the setting and the current path."""
        if not self.ws_enabled:
            return "REST"
        if self.ws_up:
            return "websocket (REST while the socket is down)"
        return f"REST while the websocket is down ({self.down_reason or 'not connected yet'})"
