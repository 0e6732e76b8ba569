"""Fault knobs: a Python API on ``Venue.faults`` and the same knobs over HTTP under ``/_sim``.

The knobs are shared by every protocol; how a fault looks on the wire (a 429 body, a
malformed frame, a sequence gap) is the protocol's. Every argument is checked and bounded:
a bad value raises ``ValueError`` naming the argument (the control endpoint answers 400 with
that message), so nothing like ``stall_streams(1e308)`` is ever accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from actors.venues.config import StartupFaults
    from actors.venues.hub import Conn
    from actors.venues.server import Venue

ORDER_FAULT_MODES = ("error_after", "error_before", "timeout_after", "timeout_before")
MALFORMED_KINDS = ("truncated", "garbage", "wrong_types")
MAX_FAULT_SECONDS = 3600.0
"""No fault lasts longer than an hour (stalls, refusals, latency, held replies)."""
MAX_FAULT_COUNT = 1_000_000
MAX_SKEW_MS = 24 * 3600 * 1000


def check_seconds(name: str, value: object, maximum: float = MAX_FAULT_SECONDS) -> float:
    """``value`` as a finite number of seconds in [0, maximum], else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number of seconds, got {value!r}")
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise ValueError(f"{name}: expected seconds in [0, {maximum:g}], got {value!r}")
    return float(value)


def check_count(name: str, value: object, minimum: int = 0, maximum: int = MAX_FAULT_COUNT) -> int:
    """``value`` as an integer in [minimum, maximum], else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name}: expected an integer in [{minimum}, {maximum}], got {value!r}")
    return value


def check_choice(name: str, value: object, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else ValueError listing them."""
    if value not in options:
        raise ValueError(f"{name}: expected one of {list(options)}, got {value!r}")
    assert isinstance(value, str)
    return value


@dataclass(slots=True)
class OrderFault:
    """How the next order placements misbehave."""

    mode: str
    remaining: int
    status: int = 503
    hold_s: float = 30.0


class Faults:
    """Misbehaviour on command. Every method acts at once and returns quickly.

    Example::

        venue.faults.drop_websockets()          # ccxt sees NetworkError
        venue.faults.stall_user_streams(30)     # user stream open but silent
        venue.faults.skip_update_ids("BTC/USDT", 5)
        venue.faults.rate_limit_next(3, then_418=1)
        venue.faults.fail_next_order("error_after")
        venue.faults.refuse_private_websockets(5)   # order entry over the socket is down
    """

    def __init__(self, venue: Venue) -> None:
        self._venue = venue
        self.latency_s = 0.0
        self.clock_skew_ms = 0
        self.stall_until = 0.0
        self._stall_changed = trio.Event()
        self.refuse_until = 0.0
        self.refuse_private_until = 0.0
        self.order_fault: OrderFault | None = None
        self.forced_429 = 0
        self.forced_418 = 0
        self.forced_retry_after = 1

    def apply_startup(self, sf: StartupFaults) -> None:
        """Arm the faults a ``VenueConfig`` asks for from start-up (refusal comes later)."""
        self.add_latency(sf.latency_s)
        self.skew_clock(sf.clock_skew_ms)
        if sf.rate_limit_next:
            self.rate_limit_next(sf.rate_limit_next)
        if sf.stall_streams_s:
            self.stall_streams(sf.stall_streams_s)

    def drop_websockets(self) -> int:
        """Close every websocket (market data and private) now; returns how many."""
        return self._venue.hub.drop_all()

    def stall_streams(self, seconds: float) -> None:
        """Hold market-data frames for ``seconds`` with the connections kept open."""
        self.stall_until = trio.current_time() + check_seconds("seconds", seconds)
        self._wake_stalled()

    def stall_user_streams(self, seconds: float) -> int:
        """Hold every frame of the private connections open now (account events and replies)
        for ``seconds``, the connections kept open and answering websocket pings; returns how
        many. Connections made later are not affected: a reconnect cures it.

        A silently dead private stream (``stall_streams`` holds only market data). Held frames
        go out in order afterwards, unless the client closed the connection meanwhile.
        """
        until = trio.current_time() + check_seconds("seconds", seconds)
        stalled = self._venue.hub.private_conns()
        for c in stalled:
            c.stalled_until = until
        self._wake_stalled()
        return len(stalled)

    def resume_streams(self) -> None:
        """End a stall (market and user streams) now; held frames go out in order."""
        self.stall_until = 0.0
        for c in self._venue.hub.conns:
            c.stalled_until = 0.0
        self._wake_stalled()

    def _wake_stalled(self) -> None:
        self._stall_changed.set()
        self._stall_changed = trio.Event()

    async def wait_unstalled(self) -> None:
        """Return once market streams may send (used by stream senders)."""
        while trio.current_time() < self.stall_until:
            with trio.move_on_at(self.stall_until):
                await self._stall_changed.wait()

    async def wait_conn_unstalled(self, conn: Conn) -> None:
        """Return once ``conn`` (a private connection) may send again (used by its sender)."""
        while trio.current_time() < conn.stalled_until:
            with trio.move_on_at(conn.stalled_until):
                await self._stall_changed.wait()

    def skip_update_ids(self, symbol: str | None = None, count: int = 10) -> None:
        """Skip ``count`` book update ids on ``symbol`` (all symbols if None): a sequence gap
        (Binance: ``U`` jumps; OKX: ``prevSeqId`` no longer matches the last ``seqId``)."""
        n = check_count("count", count, 1)
        books = [
            b
            for b in self._venue.engine.books.values()
            if symbol is None or symbol in (b.market.symbol, b.market.id, b.market.okx_id)
        ]
        if not books:
            raise ValueError(f"symbol: not traded here: {symbol!r}")
        for book in books:
            book.skip_ids(n)

    def send_malformed_frame(self, kind: str = "truncated") -> int:
        """Send one malformed text frame on every market-data connection; returns how many."""
        frame = self._venue.protocol.malformed_frame(check_choice("kind", kind, MALFORMED_KINDS))
        return self._venue.hub.broadcast_raw(frame)

    def refuse_connections(self, seconds: float, drop_existing: bool = True) -> None:
        """Stop listening for ``seconds`` (connects refused); by default drop open sockets too."""
        value = check_seconds("seconds", seconds)
        if not isinstance(drop_existing, bool):
            raise ValueError(f"drop_existing: expected true or false, got {drop_existing!r}")
        self.refuse_until = trio.current_time() + value
        self._venue.stop_listening()
        if drop_existing:
            self._venue.hub.drop_all()

    def refuse_private_websockets(self, seconds: float) -> int:
        """Drop every private websocket (Binance ws-api and user streams, OKX private) and
        refuse new ones for ``seconds``; REST and market data go on. Returns how many were
        dropped. A client's order entry over the socket must fall back to REST meanwhile."""
        self.refuse_private_until = trio.current_time() + check_seconds("seconds", seconds)
        dropped = self._venue.hub.private_conns()
        for c in dropped:
            c.scope.cancel()
        return len(dropped)

    def refusing_private(self) -> bool:
        """Whether private websockets are refused now (used by their endpoints)."""
        return trio.current_time() < self.refuse_private_until

    def rate_limit_next(self, n: int, then_418: int = 0, retry_after: int = 1) -> None:
        """Answer the next ``n`` REST requests with the protocol's rate-limit answer (429),
        then ``then_418`` more with Binance's IP ban (418; OKX has none and answers 429)."""
        self.forced_429 = check_count("n", n)
        self.forced_418 = check_count("then_418", then_418)
        self.forced_retry_after = check_count("retry_after", retry_after, 0, 3600)

    def take_forced(self) -> int | None:
        """Consume one forced rate-limit answer: 429, 418 or None (used by limiters)."""
        if self.forced_429 > 0:
            self.forced_429 -= 1
            return 429
        if self.forced_418 > 0:
            self.forced_418 -= 1
            return 418
        return None

    def fail_next_order(
        self, mode: str = "error_after", count: int = 1, status: int = 503, hold_s: float = 30.0
    ) -> None:
        """Make the next ``count`` order placements fail.

        ``error_before``/``timeout_before``: nothing is placed; ``error_after``/``timeout_after``:
        the order is placed and rests or fills, but the reply is a 5xx or never comes in time.
        """
        mode = check_choice("mode", mode, ORDER_FAULT_MODES)
        n = check_count("count", count, 1)
        if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
            raise ValueError(f"status: expected a 5xx HTTP status, got {status!r}")
        self.order_fault = OrderFault(mode, n, status, check_seconds("hold_s", hold_s))

    def take_order_fault(self) -> OrderFault | None:
        """Consume one pending order fault, if any."""
        f = self.order_fault
        if f is None:
            return None
        f.remaining -= 1
        if f.remaining <= 0:
            self.order_fault = None
        return f

    def add_latency(self, seconds: float) -> None:
        """Delay every REST reply, websocket reply and market frame by ``seconds`` (<= 60)."""
        self.latency_s = check_seconds("seconds", seconds, 60.0)

    def skew_clock(self, ms: int) -> None:
        """Shift the server clock by ``ms`` (signed requests then fail the timestamp check)."""
        self.clock_skew_ms = check_count("ms", ms, -MAX_SKEW_MS, MAX_SKEW_MS)

    def reset(self) -> None:
        """Clear every fault."""
        self.latency_s = 0.0
        self.clock_skew_ms = 0
        self.resume_streams()
        self.refuse_until = 0.0
        self.refuse_private_until = 0.0
        self.order_fault = None
        self.rate_limit_next(0)

    def state(self) -> dict[str, Any]:
        """Current fault settings, for the control endpoint."""
        now = trio.current_time()
        return {
            "latency_s": self.latency_s,
            "clock_skew_ms": self.clock_skew_ms,
            "stalled_for_s": max(0.0, self.stall_until - now),
            "user_streams_stalled": sum(1 for c in self._venue.hub.conns if c.stalled_until > now),
            "refusing_for_s": max(0.0, self.refuse_until - now),
            "refusing_private_for_s": max(0.0, self.refuse_private_until - now),
            "order_fault": None
            if self.order_fault is None
            else {"mode": self.order_fault.mode, "remaining": self.order_fault.remaining},
            "forced_429": self.forced_429,
            "forced_418": self.forced_418,
        }


# the control endpoint exposes exactly these methods, with their keyword arguments
CONTROL_ACTIONS = frozenset(
    {
        "drop_websockets",
        "stall_streams",
        "stall_user_streams",
        "resume_streams",
        "skip_update_ids",
        "send_malformed_frame",
        "refuse_connections",
        "refuse_private_websockets",
        "rate_limit_next",
        "fail_next_order",
        "add_latency",
        "skew_clock",
        "reset",
    }
)
