"""One NATS connection of a node, driven from trio: publish, request, subscribe.

nats-py runs on asyncio; the process runs on trio with one trio-asyncio loop at its root, as
ccxt.pro does. A crossing with ``trio_asyncio.aio_as_trio`` costs about 0.3 ms here, far too
much per message, so the hot paths never cross:

- ``publish`` appends to an outbox and wakes one asyncio task that feeds nats-py (which
  buffers and flushes on its own, and keeps buffering while it reconnects);
- subscription callbacks run inside trio-asyncio's loop task, where trio's synchronous calls
  (waking a parked task, setting an event, appending to a mailbox) work, so they hand each
  message over without waiting;
- replies to requests come back through one wildcard inbox subscription, straight into
  trio-side reply slots; NATS's "no responders" status fails a request at once.

Only set-up and management (connect, subscribe, JetStream streams, consumers and key-value
buckets) cross with ``aio_as_trio``, through :meth:`Bus.call`.

>>> # async with open_bus("nats://127.0.0.1:4222", name="md") as bus:
>>> #     bus.publish("greetings", b"hi")
>>> #     reply = await bus.request("echo", b"ping")
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import nats
import nats.js
import trio
import trio_asyncio
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from actors.runtime import MailboxFull
from actors.runtime.envelope import Reply

log = logging.getLogger("actors.remote.bus")

STATUS = "Status"
FAIRNESS = 32
"""Messages a subscription hands over before it lets other tasks run."""
NO_RESPONDERS = "503"


class NoResponders(Exception):
    """Nobody subscribes to the subject a request went to (NATS status 503)."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"no responders on {subject}")
        self.subject = subject


class Hold:
    """Backpressure from a subscription callback: no next message until ``release()``.

    Made on the asyncio side (in the callback), released from trio code.
    """

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def release(self) -> None:
        """Let the subscription go on."""
        if not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        await self._future


class NotConnected(Exception):
    """The connection to NATS is down (reconnecting) or closed."""


class Bus:
    """A NATS connection used from trio; see the module doc. Made by :func:`open_bus`."""

    def __init__(self, nc: nats.NATS, loop: asyncio.AbstractEventLoop, capacity: int) -> None:
        self._nc = nc
        self._loop = loop
        self.capacity = capacity
        """Most messages the outbox holds; ``publish`` beyond raises, ``publish_wait`` waits."""
        self._out: deque[tuple[str, bytes, str, dict[str, str] | None]] = deque()
        self._wake = asyncio.Event()
        self._room = trio.lowlevel.ParkingLot()
        self._pump_task: asyncio.Future[None] | None = None
        self._inbox = nc.new_inbox()
        self._tokens = itertools.count()
        self._replies: dict[str, Reply] = {}
        self._subs: list[Subscription] = []
        self.js = nc.jetstream()
        self.jsm = nc.jsm()
        self.published = 0
        self.publish_errors = 0
        self.disconnects = 0
        self.reconnects = 0
        self.closing = False
        self.on_reconnect: list[Callable[[], None]] = []
        """Called (synchronously, in trio context) each time the connection is back."""

    # -- state -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the connection is up right now."""
        return self._nc.is_connected

    @property
    def pending(self) -> int:
        """Messages in the outbox, not yet handed to nats-py."""
        return len(self._out)

    def new_inbox(self) -> str:
        """A unique subject for replies to this connection."""
        return self._nc.new_inbox()

    # -- publishing ------------------------------------------------------------------------

    def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Queue a message for NATS without waiting; raises ``MailboxFull`` past ``capacity``."""
        out = self._out
        if len(out) >= self.capacity:
            raise MailboxFull(f"NATS outbox ({subject})", self.capacity)
        out.append((subject, payload, reply, headers))
        if not self._wake.is_set():
            self._wake.set()

    async def publish_wait(
        self,
        subject: str,
        payload: bytes,
        *,
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Like ``publish``, but wait for room in the outbox instead of raising."""
        while len(self._out) >= self.capacity:
            await self._room.park()
        self.publish(subject, payload, reply=reply, headers=headers)

    async def _pump(self) -> None:
        """The asyncio task that feeds the outbox to nats-py, in order."""
        out, nc, wake = self._out, self._nc, self._wake
        low = self.capacity // 2
        while True:
            while out:
                subject, payload, reply, headers = out.popleft()
                try:
                    await nc.publish(subject, payload, reply=reply, headers=headers)
                    self.published += 1
                except Exception as exc:
                    self._publish_failed(subject, reply, exc)
                if len(out) <= low and self._room.statistics().tasks_waiting:
                    self._room.unpark_all()
            self._room.unpark_all()
            wake.clear()
            await wake.wait()

    def _publish_failed(self, subject: str, reply: str, exc: Exception) -> None:
        self.publish_errors += 1
        if self.publish_errors == 1 or self.publish_errors % 1000 == 0:
            log.warning("publish to %s failed (%d so far): %r", subject, self.publish_errors, exc)
        if reply.startswith(self._inbox):
            waiting = self._replies.pop(reply[len(self._inbox) + 1 :], None)
            if waiting is not None:
                waiting.set_error(NotConnected(f"publish to {subject} failed: {exc!r}"))

    # -- requests --------------------------------------------------------------------------

    async def request(
        self, subject: str, payload: bytes, *, headers: dict[str, str] | None = None
    ) -> Msg:
        """Publish with a reply subject and wait for the first reply (no deadline of its own:
        wrap it in ``trio.fail_after``). Raises ``NoResponders`` when nobody listens."""
        token = str(next(self._tokens))
        slot = Reply()
        self._replies[token] = slot
        try:
            await self.publish_wait(
                subject, payload, reply=f"{self._inbox}.{token}", headers=headers
            )
            msg: Msg = await slot.wait()
        finally:
            self._replies.pop(token, None)
        if msg.headers and msg.headers.get(STATUS) == NO_RESPONDERS:
            raise NoResponders(subject)
        return msg

    def _on_reply(self, msg: Msg) -> None:
        slot = self._replies.pop(msg.subject[len(self._inbox) + 1 :], None)
        if slot is not None:
            slot.set_result(msg)

    # -- subscriptions ---------------------------------------------------------------------

    async def subscribe(
        self, subject: str, callback: Callable[[Msg], Hold | None], *, queue: str = ""
    ) -> Subscription:
        """Call ``callback(msg)`` for every message on ``subject``.

        ``callback`` is a plain function that must not block (it runs on the loop task; an
        exception is logged, never fatal). To apply backpressure it returns a ``Hold``: the
        subscription takes no further message until the hold is released (the messages wait
        in nats-py's buffer meanwhile).
        """
        handed = 0

        async def deliver(msg: Msg) -> None:
            nonlocal handed
            try:
                hold = callback(msg)
            except Exception:
                log.exception("handler of %s raised on a message to %s", subject, msg.subject)
                hold = None
            if hold is not None:
                await hold.wait()
            handed += 1
            if handed >= FAIRNESS:
                # nats-py hands a subscription's whole backlog over in one asyncio step; end
                # the step now and then, so trio tasks (the ones emptying what we fill) run.
                handed = 0
                await asyncio.sleep(0)

        sub: Subscription = await trio_asyncio.aio_as_trio(self._nc.subscribe)(
            subject,
            queue=queue,
            cb=deliver,
            pending_msgs_limit=1_000_000,
            pending_bytes_limit=256 * 1024 * 1024,
        )
        self._subs.append(sub)
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        """Stop a subscription made with ``subscribe``."""
        if sub in self._subs:
            self._subs.remove(sub)
        if not self._nc.is_closed:
            await trio_asyncio.aio_as_trio(sub.unsubscribe)()

    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """Await an asyncio coroutine function of nats-py (management, not the hot path)."""
        return await trio_asyncio.aio_as_trio(fn)(*args, **kwargs)

    # -- life ------------------------------------------------------------------------------

    async def _start(self) -> None:
        self._pump_task = asyncio.ensure_future(self._pump(), loop=self._loop)
        await self.subscribe(f"{self._inbox}.*", self._on_reply)
        await self.call(self._nc.flush)

    async def _close(self, grace: float = 2.0) -> None:
        self.closing = True
        with trio.move_on_after(grace):
            while self._out and self._nc.is_connected:  # noqa: ASYNC110 - an asyncio task drains it
                await trio.sleep(0.005)
            if self._nc.is_connected:
                await self.call(self._nc.flush, timeout=grace)
        if self._pump_task is not None:
            self._pump_task.cancel()
        for slot in self._replies.values():
            slot.set_error(NotConnected("the NATS connection was closed"))
        self._replies.clear()
        self._room.unpark_all()
        with trio.move_on_after(grace):
            await self.call(self._nc.close)

    def _disconnected(self) -> None:
        if self.closing:
            return
        self.disconnects += 1
        log.warning("NATS connection lost; reconnecting")

    def _reconnected(self) -> None:
        self.reconnects += 1
        log.info("NATS connection back (%s)", self._nc.connected_url)
        for hook in list(self.on_reconnect):
            hook()


@asynccontextmanager
async def asyncio_loop() -> AsyncIterator[asyncio.AbstractEventLoop]:
    """The process's trio-asyncio loop: the running one, else one for the block's life."""
    loop = trio_asyncio.current_loop.get()
    if loop is not None:
        yield loop
        return
    async with trio_asyncio.open_loop() as opened:
        yield opened


@asynccontextmanager
async def open_bus(
    servers: str | list[str],
    *,
    name: str,
    reconnect_wait: float = 0.25,
    ping_interval: float = 5.0,
    connect_timeout: float = 5.0,
    capacity: int = 65_536,
) -> AsyncIterator[Bus]:
    """Connect to NATS for the block's life; reconnects forever, every ``reconnect_wait`` s.

    Needs trio-asyncio: uses the running loop (``actors run`` opens one at the root) or opens
    one. A connection that cannot be made at all raises nats-py's error at once.
    """
    async with asyncio_loop() as loop:
        holder: list[Bus] = []
        errors = 0

        async def on_error(exc: Exception) -> None:
            nonlocal errors
            errors += 1  # a server that is down answers every reconnect: log a few
            if errors <= 3 or errors % 100 == 0:
                log.warning("NATS (%s, %s): %r (%d errors so far)", name, servers, exc, errors)

        async def on_disconnect() -> None:
            if holder:
                holder[0]._disconnected()

        async def on_reconnect() -> None:
            if holder:
                holder[0]._reconnected()

        log.info("connecting to NATS at %s as %s (retrying until it answers)", servers, name)
        nc = await trio_asyncio.aio_as_trio(nats.connect)(
            servers,
            name=name,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=reconnect_wait,
            ping_interval=ping_interval,
            max_outstanding_pings=2,
            connect_timeout=connect_timeout,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
        )
        bus = Bus(nc, loop, capacity)
        holder.append(bus)
        try:
            await bus._start()
            yield bus
        finally:
            with trio.CancelScope(shield=True):
                await bus._close()
