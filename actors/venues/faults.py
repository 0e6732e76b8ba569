"""Fault knobs: a Python API on ``Venue.faults`` and the same knobs over HTTP under ``/_sim``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from actors.venues.server import Venue
    from actors.venues.streams import Conn

ORDER_FAULT_MODES = ("error_after", "error_before", "timeout_after", "timeout_before")


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
    """

    def __init__(self, venue: Venue) -> None:
        self._venue = venue
        self.latency_s = 0.0
        self.clock_skew_ms = 0
        self.stall_until = 0.0
        self._stall_changed = trio.Event()
        self.refuse_until = 0.0
        self.order_fault: OrderFault | None = None

    def drop_websockets(self) -> int:
        """Close every websocket (market streams and ws-api) now; returns how many."""
        return self._venue.hub.drop_all()

    def stall_streams(self, seconds: float) -> None:
        """Hold market-stream frames for ``seconds`` with the connection kept open."""
        self.stall_until = trio.current_time() + seconds
        self._wake_stalled()

    def stall_user_streams(self, seconds: float) -> int:
        """Hold every frame of the ws-api connections open now (user-data events and replies)
        for ``seconds``, the connections kept open and answering websocket pings; returns how
        many. Connections made later are not affected: a reconnect cures it.

        A silently dead private stream (``stall_streams`` holds only market streams). Held
        frames go out in order afterwards, unless the client closed the connection meanwhile.
        """
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not (0 <= seconds < float("inf"))
        ):
            raise ValueError(f"stall_user_streams: seconds must be a number >= 0, got {seconds!r}")
        until = trio.current_time() + seconds
        stalled = [c for c in self._venue.hub.conns if c.kind == "wsapi"]
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
        """Return once ``conn`` (a ws-api connection) may send again (used by its sender)."""
        while trio.current_time() < conn.stalled_until:
            with trio.move_on_at(conn.stalled_until):
                await self._stall_changed.wait()

    def skip_update_ids(self, symbol: str | None = None, count: int = 10) -> None:
        """Skip ``count`` depth update ids on ``symbol`` (all symbols if None): a sequence gap."""
        for book in self._venue.engine.books.values():
            if symbol is None or symbol in (book.market.symbol, book.market.id):
                book.skip_ids(count)

    def send_malformed_frame(self, kind: str = "truncated") -> int:
        """Send one malformed text frame on every market stream; returns how many got it."""
        frames = {
            "truncated": '{"e":"depthUpdate","E":',
            "garbage": "\x00not json at all",
            "wrong_types": '{"e":"depthUpdate","E":"x","s":"???","U":"a","u":null,"b":7,"a":{}}',
        }
        if kind not in frames:
            raise ValueError(f"kind must be one of {sorted(frames)}")
        return self._venue.hub.broadcast_raw(frames[kind])

    def refuse_connections(self, seconds: float, drop_existing: bool = True) -> None:
        """Stop listening for ``seconds`` (connects refused); by default drop open sockets too."""
        self.refuse_until = trio.current_time() + seconds
        self._venue.stop_listening()
        if drop_existing:
            self._venue.hub.drop_all()

    def rate_limit_next(self, n: int, then_418: int = 0, retry_after: int = 1) -> None:
        """Answer the next ``n`` REST requests 429, then ``then_418`` more with 418."""
        rl = self._venue.ratelimiter
        rl.forced_429 = n
        rl.forced_418 = then_418
        rl.forced_retry_after = retry_after

    def fail_next_order(
        self, mode: str = "error_after", count: int = 1, status: int = 503, hold_s: float = 30.0
    ) -> None:
        """Make the next ``count`` order placements fail.

        ``error_before``/``timeout_before``: nothing is placed; ``error_after``/``timeout_after``:
        the order is placed and rests or fills, but the reply is a 5xx or never comes in time.
        """
        if mode not in ORDER_FAULT_MODES:
            raise ValueError(f"mode must be one of {ORDER_FAULT_MODES}")
        self.order_fault = OrderFault(mode, count, status, hold_s)

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
        """Delay every REST reply, ws-api reply and market frame by ``seconds``."""
        self.latency_s = max(0.0, seconds)

    def skew_clock(self, ms: int) -> None:
        """Shift the server clock by ``ms`` (signed requests then fail the recvWindow check)."""
        self.clock_skew_ms = ms

    def reset(self) -> None:
        """Clear every fault."""
        self.latency_s = 0.0
        self.clock_skew_ms = 0
        self.resume_streams()
        self.refuse_until = 0.0
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
            "order_fault": None
            if self.order_fault is None
            else {"mode": self.order_fault.mode, "remaining": self.order_fault.remaining},
            "forced_429": self._venue.ratelimiter.forced_429,
            "forced_418": self._venue.ratelimiter.forced_418,
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
        "rate_limit_next",
        "fail_next_order",
        "add_latency",
        "skew_clock",
        "reset",
    }
)
