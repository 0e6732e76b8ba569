"""A node's endpoint: serves the local actors of one process on NATS.

For every prefix the node serves (``/market``, ``/exec``; ``/`` for everything) it takes:

- the core subtree ``ax.<cluster>.a.<prefix>.>`` in queue group ``ax`` (should two nodes
  serve one path, each message still reaches only one): sends, latest-wins data and asks;
- a durable JetStream consumer on ``ax.<cluster>.d.<prefix>.>``, named after the prefix, so
  a restarted node (or another node taking the subtree over) resumes where it stopped.

Incoming core messages land in one small *inlet* per target path: a FIFO for sends and asks,
and a latest slot per key for latest-wins types (a newer message replaces the one waiting
and keeps its place in line, as the in-process conflating mailbox does). One trio task per
inlet moves them into the actor's own mailbox with ``Ref.send``, so the mailbox's policy
applies exactly as for a local sender. A FIFO that reaches ``inlet_high`` (1024) messages
pauses the prefix's subscription until it is half empty: the backlog waits in nats-py's
buffer rather than being dropped (what a ``block`` mailbox does to a local sender; the
other actors of that prefix wait meanwhile). ``inlet_capacity`` (10,000) is the last
safety net: a send that would pass it is dropped, and counted. An ask
goes through the inlet too (it is not overtaken by sends that came before it) and is
answered by a task of its own that asks the local actor and publishes the reply.

**Durable delivery.** A durable message is *accepted* by this node once it is in the target
actor's mailbox; only then is it acked. Until the ack reaches the server it can be
redelivered: after the consumer's ``ack_wait`` when the node died or lost its connection
before acking, sooner when it was handed back (``-NAK``) because no actor lives at its path
here yet, and again when nats-server itself crashed before it recorded the consumer's
progress. While a full ``block`` mailbox makes delivery wait, the node tells JetStream it is
still working on the message (``+WPI``) so it is not redelivered meanwhile. A message whose
id this incarnation already put in a mailbox is acked and skipped (the ids of the latest
64k are kept); across a restart of the receiving node the actor sees the duplicate and must
tolerate it by the message's id (the router knows its client order ids). A message acked
into a mailbox is the node's responsibility from then on: if the process dies before the
actor handles it, the desk's journal and reconciliation cover it (as for any in-process
mailbox). Frames that cannot be decoded are counted and logged; a durable one is
terminated (``+TERM``) so it cannot loop.

**Fresh prefixes.** Durable messages wait for a node that is down (up to the stream's
``max_age``). For a prefix served ``fresh``, what was stored before this node started is
dropped when it starts (counted in ``stale_dropped`` and logged): its actors rebuild their
state from its owner as they start (a strategy asks the router for its open orders), so a
backlog for the previous incarnation would only replay news they already have, or news of
orders they never knew. What arrives once the node runs is delivered as for any prefix.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Hashable
from typing import Any

import trio
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from actors.remote import subjects
from actors.remote.bus import STATUS, Bus, Hold
from actors.remote.codec import Latest, Registry
from actors.remote.errors import Undecodable
from actors.remote.stats import NodeStats
from actors.runtime import DEFAULT_ASK_TIMEOUT, ActorUnavailable, MailboxFull, Ref, System

log = logging.getLogger("actors.remote.endpoint")

QUEUE_GROUP = "ax"
MSG_ID = "Nats-Msg-Id"
ACK = b"+ACK"
PROGRESS = b"+WPI"
TERMINATE = b"+TERM"


class _Inlet:
    """What arrived for one local path and is not yet in its mailbox."""

    __slots__ = ("fifo", "held", "latest", "lot", "path", "sleeping", "turn")

    def __init__(self, path: str) -> None:
        self.path = path
        self.fifo: deque[tuple[Any, str, float]] = deque()
        """Sends (reply "") and asks (reply subject, deadline), in arrival order."""
        self.latest: dict[Hashable, Any] = {}
        """Latest-wins messages by key; insertion order is delivery order."""
        self.lot = trio.lowlevel.ParkingLot()
        self.sleeping = False
        self.turn = False
        self.held: Hold | None = None
        """The subscription waiting for this inlet to drain (backpressure), if any."""

    def wake(self) -> None:
        if self.sleeping:
            self.sleeping = False
            self.lot.unpark()

    def hold(self) -> Hold:
        if self.held is None:
            self.held = Hold()
        return self.held

    def release(self) -> None:
        if self.held is not None:
            self.held.release()
            self.held = None


class _Limited:
    """Logs the first occurrence of a problem, then every ``every``-th (a flood stays small)."""

    def __init__(self, every: int = 1000) -> None:
        self.every = every
        self.count = 0

    def due(self) -> bool:
        self.count += 1
        return self.count == 1 or self.count % self.every == 0


class Endpoint:
    """Serves ``system``'s local actors under ``prefixes`` on NATS; see the module doc."""

    def __init__(
        self,
        system: System | None,
        bus: Bus,
        registry: Registry,
        stats: NodeStats,
        *,
        cluster: str,
        node: str,
        prefixes: tuple[str, ...],
        inlet_capacity: int = 10_000,
        inlet_high: int = 1024,
        ack_wait: float = 10.0,
        max_ack_pending: int = 1000,
        pull_batch: int = 64,
        pull_expires: float = 5.0,
        nak_delay: float = 0.5,
        fresh: tuple[str, ...] = (),
    ) -> None:
        self._system = system
        self._bus = bus
        self._registry = registry
        self.stats = stats
        self.cluster = cluster
        self.node = node
        self.prefixes = prefixes
        self.inlet_capacity = inlet_capacity
        self.inlet_high = inlet_high
        self.ack_wait = ack_wait
        self.max_ack_pending = max_ack_pending
        self.pull_batch = pull_batch
        self.pull_expires = pull_expires
        self.nak_delay = nak_delay
        self.fresh = fresh
        self._inlets: dict[str, _Inlet] = {}
        self._nursery: trio.Nursery | None = None
        self._seen: set[str | int] = set()
        self._seen_order: deque[str | int] = deque()
        """Ids of the durable messages this incarnation put in a mailbox (the latest 64k)."""
        self._undecodable = _Limited()
        self._dead = _Limited()
        self._dropped = _Limited()
        self._nacked = _Limited(100)

    def attach(self, system: System) -> None:
        """Deliver to ``system``'s actors from now on (until then: nobody is here)."""
        self._system = system

    def _local(self, path: str) -> Ref | None:
        return self._system.lookup_local(path) if self._system is not None else None

    # -- running ---------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Subscribe and consume until cancelled (``task_status`` once all are in place)."""
        subs = []
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for prefix in self.prefixes:
                    pattern = subjects.serve_pattern(self.cluster, prefix)
                    subs.append(
                        await self._bus.subscribe(pattern, self._on_core, queue=QUEUE_GROUP)
                    )
                    await nursery.start(self._consume, prefix)
                task_status.started()
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True):
                for sub in subs:
                    await self._bus.unsubscribe(sub)

    # -- core: sends, latest-wins, asks ----------------------------------------------------

    def _on_core(self, msg: Msg) -> Hold | None:
        subject = msg.subject
        reply = msg.reply
        try:
            path = subjects.path_of(subject, self.cluster)
            incoming = self._registry.decode(msg.data, subject)
            delivery = incoming.entry.delivery
            key = delivery.key(incoming.message) if type(delivery) is Latest and not reply else None
        except Exception as exc:  # Undecodable, a bad path, a key function that raised
            self._drop_undecodable(subject, exc, reply)
            return None
        self.stats.received += 1
        inlet = self._inlets.get(path)
        if inlet is None:
            inlet = self._open_inlet(path)
        if reply:
            timeout = incoming.timeout if incoming.timeout is not None else DEFAULT_ASK_TIMEOUT
            inlet.fifo.append((incoming.message, reply, timeout))
        elif key is not None:
            latest = inlet.latest
            if key in latest:
                self.stats.conflated += 1
            latest[key] = incoming.message
        elif len(inlet.fifo) >= self.inlet_capacity:
            self.stats.inlet_dropped += 1
            if self._dropped.due():
                log.warning(
                    "inlet of %s full (%d waiting): dropped %s (%d so far)",
                    path,
                    len(inlet.fifo),
                    incoming.entry.name or type(incoming.message).__name__,
                    self._dropped.count,
                )
            return None
        else:
            inlet.fifo.append((incoming.message, "", 0.0))
            if len(inlet.fifo) >= self.inlet_high:
                self.stats.held += 1
                inlet.wake()
                return inlet.hold()
        inlet.wake()
        return None

    def _drop_undecodable(self, subject: str, exc: Exception, reply: str) -> None:
        self.stats.undecodable += 1
        if self._undecodable.due():
            log.warning(
                "dropped an undecodable message on %s (%d so far): %s",
                subject,
                self._undecodable.count,
                exc,
            )
        if reply:
            error = exc if isinstance(exc, Undecodable) else Undecodable(subject, str(exc))
            self._publish(reply, self._registry.encode_failure(subject, error))

    def _open_inlet(self, path: str) -> _Inlet:
        inlet = _Inlet(path)
        self._inlets[path] = inlet
        assert self._nursery is not None
        self._nursery.start_soon(self._pump, inlet)
        return inlet

    async def _pump(self, inlet: _Inlet) -> None:
        fifo, latest = inlet.fifo, inlet.latest
        low = self.inlet_high // 2
        done = 0
        while True:
            if fifo and (inlet.turn or not latest):
                inlet.turn = False
                message, reply, timeout = fifo.popleft()
                if inlet.held is not None and len(fifo) <= low:
                    inlet.release()
                if reply:
                    assert self._nursery is not None
                    self._nursery.start_soon(self._answer, inlet.path, message, reply, timeout)
                    continue
            elif latest:
                inlet.turn = True
                message = latest.pop(next(iter(latest)))
            else:
                done = 0
                inlet.release()
                inlet.sleeping = True
                try:
                    await inlet.lot.park()
                finally:
                    inlet.sleeping = False
                continue
            await self._deliver(inlet.path, message)
            done += 1
            if done >= 64:  # a sender that never stops must not starve the loop
                done = 0
                await trio.lowlevel.checkpoint()

    async def _deliver(self, path: str, message: Any) -> None:
        ref = self._local(path)
        if ref is None:
            self.stats.dead_letters += 1
            if self._dead.due():
                log.warning(
                    "no actor at %s on node %s: %s dead-lettered (%d so far)",
                    path,
                    self.node,
                    type(message).__name__,
                    self._dead.count,
                )
            return
        try:
            await ref.send(message)
        except MailboxFull:
            self.stats.mailbox_full += 1

    async def _answer(self, path: str, message: Any, reply: str, timeout: float) -> None:
        ref = self._local(path)
        try:
            if ref is None:
                raise ActorUnavailable(path, f"no such actor on node {self.node}")
            value = await ref.ask(message, timeout=timeout)
            data = self._registry.encode_reply(value)
        except Exception as exc:
            data = self._registry.encode_failure(path, exc)
        self.stats.asks_served += 1
        self._publish(reply, data)

    def _publish(self, subject: str, data: bytes) -> None:
        try:
            self._bus.publish(subject, data)
        except MailboxFull as exc:
            log.warning("reply to %s not sent: %s", subject, exc)

    # -- durable: a pull consumer per prefix -----------------------------------------------

    async def _consume(self, prefix: str, *, task_status: trio.TaskStatus[None]) -> None:
        stream = subjects.stream_name(self.cluster)
        name = subjects.consumer_name(prefix)
        config = ConsumerConfig(
            durable_name=name,
            filter_subject=subjects.serve_pattern(self.cluster, prefix, durable=True),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            max_ack_pending=self.max_ack_pending,
        )
        fresh = prefix in self.fresh
        if fresh:  # what was stored before this start ends at the stream's last seq now
            stored = await self._bus.call(self._bus.jsm.stream_info, stream)
            last_before = stored.state.last_seq
        info = await self._bus.call(self._bus.jsm.add_consumer, stream, config)
        if fresh:
            waiting = (info.num_pending or 0) + (info.num_ack_pending or 0)
            await self._drop_backlog(stream, prefix, waiting, last_before)
        queue: deque[Msg] = deque()
        lot = trio.lowlevel.ParkingLot()

        def arrived(msg: Msg) -> None:
            queue.append(msg)
            lot.unpark_all()

        inbox = self._bus.new_inbox()
        sub = await self._bus.subscribe(inbox, arrived)
        # A pull request dies with the server: ask again at once when the connection is back.
        self._bus.on_reconnect.append(lot.unpark_all)
        pull_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}"
        pull = json.dumps(
            {"batch": self.pull_batch, "expires": int(self.pull_expires * 1e9)}
        ).encode()
        task_status.started()
        try:
            while True:
                try:
                    await self._bus.publish_wait(pull_subject, pull, reply=inbox)
                except Exception as exc:
                    log.warning("pull from %s failed: %r", name, exc)
                    await trio.sleep(self.nak_delay)
                    continue
                await self._take_batch(queue, lot, trio.current_time() + self.pull_expires + 1.0)
        finally:
            with trio.CancelScope(shield=True):
                if lot.unpark_all in self._bus.on_reconnect:
                    self._bus.on_reconnect.remove(lot.unpark_all)
                await self._bus.unsubscribe(sub)

    async def _drop_backlog(self, stream: str, prefix: str, pending: int, last_seq: int) -> None:
        """Purge what was stored for ``prefix`` up to ``last_seq``, before this start (see
        "Fresh prefixes"): a message sent once the node started is kept, however close."""
        if not pending:
            return
        subject = subjects.serve_pattern(self.cluster, prefix, durable=True)
        # JetStream purges below ``seq``: everything up to and including last_seq.
        await self._bus.call(self._bus.jsm.purge_stream, stream, seq=last_seq + 1, subject=subject)
        self.stats.stale_dropped += pending
        log.info(
            "dropped %d durable message(s) stored for %s before this start (its actors "
            "start from their owner's state)",
            pending,
            prefix,
        )

    async def _take_batch(
        self, queue: deque[Msg], lot: trio.lowlevel.ParkingLot, deadline: float
    ) -> None:
        """Deliver what one pull request brings, until it ends (or is lost: ``deadline``)."""
        received = 0
        reconnects = self._bus.reconnects
        while received < self.pull_batch:
            if not queue:
                with trio.move_on_at(deadline):
                    await lot.park()
                if not queue:
                    return  # expired, or woken by a reconnect: pull again
                continue
            msg = queue.popleft()
            status = msg.headers.get(STATUS) if msg.headers else None
            if status is not None:
                if status == "100":  # idle heartbeat
                    continue
                return  # 404 / 408 / 409: this pull is over
            received += 1
            await self._deliver_durable(msg)
            if self._bus.reconnects != reconnects:
                return

    async def _deliver_durable(self, msg: Msg) -> None:
        ack = msg.reply
        try:
            meta = msg.metadata
            seq, delivered = meta.sequence.stream, meta.num_delivered
        except Exception as exc:
            self._drop_undecodable(
                msg.subject, Undecodable(msg.subject, f"no JetStream ack subject ({exc})"), ""
            )
            return
        if delivered > 1:
            self.stats.redelivered += 1
        # By message id: a repeat stored again, or delivered again after the server lost
        # the consumer's progress (a crash of nats-server), is still the same message.
        ident: str | int = (msg.headers or {}).get(MSG_ID) or seq
        if ident in self._seen:
            self.stats.duplicates_received += 1
            self._publish(ack, ACK)
            return
        try:
            path = subjects.path_of(msg.subject, self.cluster)
            incoming = self._registry.decode(msg.data, msg.subject)
        except Exception as exc:
            self._drop_undecodable(msg.subject, exc, "")
            self._publish(ack, TERMINATE)
            return
        ref = self._local(path)
        if ref is None:
            self._nak(ack, f"no actor at {path} on node {self.node} (yet)")
            return
        try:
            while True:
                with trio.move_on_after(self.ack_wait / 3) as waiting:
                    await ref.send(incoming.message)
                if not waiting.cancelled_caught:
                    break
                self._publish(ack, PROGRESS)  # still ours: a full mailbox, not a lost message
        except MailboxFull:
            self._nak(ack, f"mailbox of {path} full (its 'fail' policy)")
            return
        self._remember(ident)
        self.stats.received_durable += 1
        self._publish(ack, ACK)

    def _nak(self, ack: str, reason: str) -> None:
        self.stats.nacked += 1
        if self._nacked.due():
            log.warning(
                "durable message handed back for redelivery in %gs: %s (%d so far)",
                self.nak_delay,
                reason,
                self._nacked.count,
            )
        delay = json.dumps({"delay": int(self.nak_delay * 1e9)}).encode()
        self._publish(ack, b"-NAK " + delay)

    def _remember(self, ident: str | int) -> None:
        self._seen.add(ident)
        self._seen_order.append(ident)
        if len(self._seen_order) > 65_536:
            self._seen.discard(self._seen_order.popleft())
