"""A graceful stop that is graceful: the drain between the strategies and the router.

The desk stops in reverse start order, and this actor sits between the strategies (started
after it, so stopped before it) and the router (started before it, so stopped after it). Its
``on_stop`` therefore runs when no strategy can place an order any more and while the router,
the private sessions, risk and the journal are all still up:

1. the router is asked to :class:`Drain`: it refuses new orders and, with
   ``cancel_on_shutdown``, sends every cancel at once;
2. the router keeps handling what the sessions deliver (acks, cancels, fills), journaling
   each, until no order is in flight or being cancelled (or, with ``cancel_on_shutdown``,
   none is open at all), or the grace period is over;
3. every session is asked to :class:`Quiesce` (its streams stop, so nothing more reaches the
   router), then one last ask to the router returns after everything queued before it was
   handled: the router's mailbox is empty when it is stopped, so nothing is dead-lettered.

The router then stops and reports the orders still possibly live at a venue (the run's exit
code says so); the sessions, books, risk and finally the journal stop after it.

The grace period is the router's own (its ``ChildSpec.shutdown_grace``, set from the
topology), so the whole drain fits in the time the router would have had anyway.

>>> # ChildSpec("shutdown", lambda: Shutdown(("sim",), cancel=True, grace=5.0))
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import trio

from actors.runtime import Actor, ActorError, Ref
from actors.trading.config import ROUTER, exec_path
from actors.trading.messages import OrderStatus
from actors.trading.protocol import Drain, GetOrders, Quiesce

SETTLING = frozenset({OrderStatus.SUBMITTING, OrderStatus.UNKNOWN, OrderStatus.CANCELLING})
"""States whose outcome is on its way from the venue: worth waiting for."""
POLL = 0.05


@dataclass
class ShutdownReport:
    """What the router left behind when it stopped (filled in by the router's ``on_stop``)."""

    open_orders: list[str] = field(default_factory=list)
    """Client order ids possibly still live at a venue: each ``venue:cid STATUS``."""
    stopped: bool = False
    """Whether the router has stopped (and this report is final)."""
    lease_lookups: int = 0
    """Filled in at start-up: leased client ids of earlier runs the journal had no submit
    record of, looked up at the venues (:meth:`Router._recover_leases`)."""
    lease_adopted: int = 0
    """Orders those lookups found at the venues and adopted (a lost journal tail)."""


class Shutdown(Actor):
    """Drains the router within its grace period when the desk stops (see module doc)."""

    def __init__(self, venues: tuple[str, ...], *, cancel: bool, grace: float) -> None:
        self.venues = venues
        self.cancel = cancel
        self.grace = grace
        self.drained = False
        """After the stop: whether everything settled within the grace period."""

    async def on_stop(self) -> None:
        """Drain the router, quiesce the sessions, flush the router's mailbox."""
        router = self.ctx.lookup(ROUTER)
        if router is None:
            return
        # Most of the grace for the venue's answers; the rest for quiescing and flushing.
        deadline = trio.current_time() + self.grace * 0.8
        if not self.drained:
            self.ctx.log.info("stopping: draining the router (grace %gs)", self.grace)
        try:
            sent = await router.ask(Drain(cancel=self.cancel), timeout=max(self.grace * 0.2, 0.1))
            self.ctx.log.info("stopping: %d open order(s) being cancelled", sent)
            with trio.move_on_at(deadline):
                while not await self._settled(router):  # noqa: ASYNC110 - polling the router
                    await trio.sleep(POLL)
                self.drained = True
        except ActorError as exc:
            self.ctx.log.warning("stopping: the router could not drain: %r", exc)
        self.drained = False
        for venue in self.venues:
            session = self.ctx.lookup(exec_path(venue))
            if session is not None:
                # A session that is down sends nothing anyway.
                with contextlib.suppress(ActorError):
                    await session.ask(Quiesce(), timeout=1.0)
        with contextlib.suppress(ActorError):
            # Handled after everything the sessions sent before they went quiet.
            await router.ask(GetOrders(active_only=True), timeout=max(self.grace * 0.1, 0.5))

    async def _settled(self, router: Ref) -> bool:
        views = await router.ask(GetOrders(active_only=True), timeout=5.0)
        if self.cancel:
            return not views
        return not any(v.status in SETTLING for v in views)
