"""The shared per-venue request budget: a token bucket plus a venue-wide pause.

Every ccxt instance that talks to one venue (its market-data connection and its private
session) holds the same :class:`VenueBudget`. Each REST request first waits for a token and
for any pause to end; a 429 or 418 answer sets a pause until its ``Retry-After`` for *everyone*
on that venue, so one actor's ban is honoured by all of them. ccxt's own ``enableRateLimit``
throttle stays on underneath; this budget is the desk-wide cap on top of it.

The budget is used from the asyncio side (inside ccxt's ``fetch``) and from trio; both run on
the same thread under trio-asyncio, so plain attributes need no lock. Time is trio's clock.

>>> budget = VenueBudget("sim", rate=10.0, burst=2)
>>> budget.name, budget.paused_for(now=0.0)
('sim', 0.0)
"""

from __future__ import annotations

import asyncio
import logging

import trio

log = logging.getLogger("actors.trading.ratelimit")

DEFAULT_RETRY_AFTER = 1.0


class VenueBudget:
    """Requests-per-second budget and 429 pause shared by every client of one venue."""

    def __init__(self, name: str, rate: float = 20.0, burst: int = 10) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"budget {name}: rate must be > 0 and burst >= 1")
        self.name = name
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp: float | None = None
        self.paused_until = 0.0
        self.pauses = 0
        """How many 429/418 answers paused the venue."""
        self.waited = 0
        """Requests that had to wait (for a token or a pause)."""
        self.malformed_frames = 0
        """Websocket frames of this venue that could not be parsed (dropped, not fatal)."""
        self.resubscribes = 0
        """Dropped sockets of this venue resubscribed in place (feeds and sessions)."""

    def paused_for(self, now: float | None = None) -> float:
        """Seconds left of the current venue-wide pause (0 when not paused)."""
        now = trio.current_time() if now is None else now
        return max(0.0, self.paused_until - now)

    def pause(self, seconds: float, reason: str = "") -> None:
        """Pause every request to this venue for ``seconds`` (never shortens a pause)."""
        until = trio.current_time() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until = until
        self.pauses += 1
        log.warning("venue %s paused for %.2fs: %s", self.name, seconds, reason)

    def _delay(self) -> float:
        """Seconds to wait before the next request may go (and take its token if 0)."""
        now = trio.current_time()
        paused = self.paused_until - now
        if paused > 0:
            return paused
        if self._stamp is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def acquire_async(self) -> None:
        """Wait (on asyncio) for a token and for any pause to end."""
        while (delay := self._delay()) > 0:
            self.waited += 1
            await asyncio.sleep(delay)

    async def acquire(self) -> None:
        """Wait (on trio) for a token and for any pause to end."""
        while (delay := self._delay()) > 0:
            self.waited += 1
            await trio.sleep(delay)


def retry_after(headers: object, default: float = DEFAULT_RETRY_AFTER) -> float:
    """The ``Retry-After`` seconds of a response's headers (case-insensitive), or ``default``."""
    if not isinstance(headers, dict):
        return default
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return default
    return default
