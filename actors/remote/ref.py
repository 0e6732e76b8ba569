"""The remote ``Ref``, and the courier that carries what it sends and asks.

A ``RemoteRef`` has the ``Ref`` interface of the runtime (``send``, ``send_nowait``, ``ask``,
``path``) and the same failure semantics as a local one:

- ``ask(message, timeout=)`` is NATS request/reply within the same deadline: ``AskTimeout``
  past it; ``ActorUnavailable`` at once when the node serving the path is known to be down,
  when nobody serves the path (NATS "no responders"), when there is no actor at the path on
  the node that serves it, or when this node's NATS connection is down; ``ActorCrashed`` when
  the remote actor crashes before replying; a refusal (``Refuse(error)``) raises ``error``
  (rebuilt here when its type is builtin or registered, else ``RemoteError``).
- ``send`` goes by the message type's delivery class (see ``actors.remote.codec``). Core
  messages (direct, latest-wins) to a node known to be down are dead letters, counted, as a
  send to a stopped local actor is. A durable send returns once JetStream has stored the
  message (its PubAck); without a PubAck in time it publishes again with the same message
  id, which JetStream deduplicates, until ``accept_timeout``, then raises ``NotAccepted``.
  Durable messages are stored whether or not their node is up: it gets them when it is back.
- ``send_nowait`` never waits: core messages go to the connection's outbox; durable ones to
  the path's durable lane, retried (same id) until JetStream stores them. A lane lives in
  memory: what it holds when the process dies was never accepted (``send`` is the call that
  waits for acceptance).

Durable sends to one path, ``send`` and ``send_nowait`` alike, go through one lane per path
and are stored strictly in the order they were made (a cancel never overtakes its submit);
lanes of different paths run side by side. One lane stores one message per PubAck round
trip (about 1-2 ms here): enough for order flow, not meant for market data.

The JetStream message id of a durable send is ``<path>|<type>|<id(message)>``: the same fill
sent to the router and to risk is two messages, a retry of either is one.
"""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from typing import Any

import trio

from actors.remote import subjects
from actors.remote.bus import Bus, NoResponders, NotConnected
from actors.remote.codec import Durable, Registry
from actors.remote.errors import NotAccepted
from actors.remote.liveness import Directory, NodeRecord
from actors.remote.stats import NodeStats
from actors.runtime import DEFAULT_ASK_TIMEOUT, ActorUnavailable, AskTimeout, MailboxFull, Ref
from actors.runtime.envelope import Reply

log = logging.getLogger("actors.remote.ref")

MSG_ID = "Nats-Msg-Id"


class RemoteRef(Ref):
    """A ``Ref`` to an actor served by another node; see the module doc.

    >>> # ref = system.lookup("/exec/sim-a")  # a RemoteRef when another node serves /exec
    >>> # await ref.ask(GetOrders(), timeout=2.0)
    """

    __slots__ = ("_courier", "_path")

    def __init__(self, courier: Courier, path: str) -> None:
        subjects.segments(path)  # refuses a malformed path here, not on the first send
        self._courier = courier
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    async def send(self, message: Any) -> None:
        await self._courier.send(self._path, message)

    def send_nowait(self, message: Any) -> None:
        self._courier.send_nowait(self._path, message)

    async def ask(self, message: Any, *, timeout: float = DEFAULT_ASK_TIMEOUT) -> Any:
        return await self._courier.ask(self._path, message, timeout)


class _Lane:
    """The durable sends to one path, published strictly in order (a cancel must not
    overtake its submit)."""

    __slots__ = ("idle", "items", "lot", "path", "subject")

    def __init__(self, path: str, subject: str) -> None:
        self.path = path
        self.subject = subject
        self.items: deque[tuple[bytes, str, float, Reply | None]] = deque()
        self.lot = trio.lowlevel.ParkingLot()
        self.idle = trio.Event()
        """Set while the lane holds nothing (a fresh event whenever something is put)."""
        self.idle.set()

    def put(self, data: bytes, msg_id: str, deadline: float, slot: Reply | None) -> None:
        if not self.items:
            self.idle = trio.Event()
        self.items.append((data, msg_id, deadline, slot))
        self.lot.unpark()


class Courier:
    """The outgoing half of a node: sends, asks and the durable outbox."""

    def __init__(
        self,
        bus: Bus,
        registry: Registry,
        directory: Directory,
        stats: NodeStats,
        *,
        cluster: str,
        accept_timeout: float = 30.0,
        puback_timeout: float = 2.0,
        outbox_capacity: int = 65_536,
    ) -> None:
        self._bus = bus
        self._registry = registry
        self._directory = directory
        self.stats = stats
        self.cluster = cluster
        self.accept_timeout = accept_timeout
        self.puback_timeout = puback_timeout
        self.outbox_capacity = outbox_capacity
        self._refs: dict[str, RemoteRef] = {}
        self._subjects: dict[str, str] = {}
        self._lanes: dict[str, _Lane] = {}
        self._nursery: trio.Nursery | None = None
        self._dead_logged = 0

    def ref(self, path: str) -> RemoteRef:
        """The ``RemoteRef`` of ``path`` (one per path)."""
        ref = self._refs.get(path)
        if ref is None:
            ref = self._refs[path] = RemoteRef(self, path)
        return ref

    @property
    def outbox(self) -> int:
        """Durable sends queued and not yet stored by JetStream."""
        return sum(len(lane.items) for lane in self._lanes.values())

    async def flush(self) -> None:
        """Return once every durable send queued so far is stored (or given up on)."""
        while self.outbox:
            lane = next(lane for lane in self._lanes.values() if lane.items)
            await lane.idle.wait()

    def _subject(self, path: str) -> str:
        subject = self._subjects.get(path)
        if subject is None:
            subject = self._subjects[path] = subjects.actor_subject(self.cluster, path)
        return subject

    def _down(self, path: str) -> NodeRecord | None:
        owner = self._directory.owner(path)
        return owner if owner is not None and self._directory.is_down(owner) else None

    def _dead_letter(self, path: str, message: Any, node: str) -> None:
        self.stats.dead_letters += 1
        self._dead_logged += 1
        if self._dead_logged == 1 or self._dead_logged % 1000 == 0:
            log.warning(
                "%s to %s dead-lettered: node %s is down (%d so far)",
                type(message).__name__,
                path,
                node,
                self._dead_logged,
            )

    # -- sending ---------------------------------------------------------------------------

    def _durable_id(self, path: str, entry_name: str, delivery: Durable, message: Any) -> str:
        ident = delivery.id(message)
        if not isinstance(ident, str) or not ident or "\r" in ident or "\n" in ident:
            raise ValueError(
                f"the durable id of {entry_name} to {path} must be a non-empty one-line str, "
                f"got {ident!r}"
            )
        return f"{path}|{entry_name}|{ident}"

    async def send(self, path: str, message: Any) -> None:
        """``RemoteRef.send``: see the module doc."""
        entry, data = self._registry.encode(message)
        delivery = entry.delivery
        if type(delivery) is Durable:
            msg_id = self._durable_id(path, entry.name, delivery, message)
            slot = Reply()
            self._lane(path).put(data, msg_id, trio.current_time() + self.accept_timeout, slot)
            await slot.wait()
            return
        down = self._down(path)
        if down is not None:
            self._dead_letter(path, message, down.name)
            return
        await self._bus.publish_wait(self._subject(path), data)
        self.stats.sent += 1

    def send_nowait(self, path: str, message: Any) -> None:
        """``RemoteRef.send_nowait``: see the module doc."""
        entry, data = self._registry.encode(message)
        delivery = entry.delivery
        if type(delivery) is Durable:
            if self.outbox >= self.outbox_capacity:
                raise MailboxFull(f"durable outbox ({path})", self.outbox_capacity)
            msg_id = self._durable_id(path, entry.name, delivery, message)
            self._lane(path).put(data, msg_id, math.inf, None)
            return
        down = self._down(path)
        if down is not None:
            self._dead_letter(path, message, down.name)
            return
        self._bus.publish(self._subject(path), data)
        self.stats.sent += 1

    def _lane(self, path: str) -> _Lane:
        lane = self._lanes.get(path)
        if lane is None:
            if self._nursery is None:
                raise RuntimeError("the node is not running: no durable sends")
            lane = self._lanes[path] = _Lane(path, subjects.durable_subject(self.cluster, path))
            self._nursery.start_soon(self._drain, lane)
        return lane

    async def _drain(self, lane: _Lane) -> None:
        """Publish one path's durable sends in order, each until stored or past its deadline."""
        items = lane.items
        while True:
            if not items:
                await lane.lot.park()
                continue
            data, msg_id, deadline, slot = items[0]
            try:
                await self._publish_durable(lane.path, lane.subject, data, msg_id, deadline)
            except NotAccepted as exc:
                if slot is not None:
                    slot.set_error(exc)
                else:
                    self.stats.dead_letters += 1
                    log.error("durable send dropped: %s", exc)
            else:
                if slot is not None:
                    slot.set_result(None)
            items.popleft()
            if not items:
                lane.idle.set()

    async def _publish_durable(
        self, path: str, subject: str, data: bytes, msg_id: str, deadline: float
    ) -> None:
        headers = {MSG_ID: msg_id}
        delay = 0.05
        attempts = 0
        while True:
            attempts += 1
            try:
                with trio.fail_after(self.puback_timeout):
                    reply = await self._bus.request(subject, data, headers=headers)
                ack = json.loads(reply.data)
            except trio.TooSlowError:
                reason = f"no PubAck within {self.puback_timeout:g}s"
            except NoResponders:
                reason = "no JetStream stream answered (server restarting, or no stream)"
            except NotConnected as exc:
                reason = str(exc)
            except ValueError as exc:
                reason = f"unreadable PubAck ({exc})"
            else:
                error = ack.get("error") if isinstance(ack, dict) else {"description": ack}
                if error is None:
                    self.stats.sent_durable += 1
                    if ack.get("duplicate"):
                        self.stats.duplicates_published += 1
                    return
                raise NotAccepted(path, msg_id, f"JetStream refused it: {error}")
            if trio.current_time() + delay >= deadline:
                raise NotAccepted(path, msg_id, f"{reason}, {attempts} attempts")
            self.stats.publish_retries += 1
            if attempts == 1 or attempts % 20 == 0:
                log.warning(
                    "durable send %r to %s: %s; publishing again with the same id (attempt %d)",
                    msg_id,
                    path,
                    reason,
                    attempts + 1,
                )
            await trio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the durable lanes until cancelled; report what they never got stored."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            left = [item for lane in self._lanes.values() for item in lane.items]
            if left:
                log.error(
                    "%d durable sends were never stored by JetStream (first: %r)",
                    len(left),
                    left[0][1],
                )
            for lane in self._lanes.values():
                for *_, slot in lane.items:
                    if slot is not None:
                        slot.set_error(NotAccepted(lane.path, "?", "the node stopped"))

    # -- asking ----------------------------------------------------------------------------

    async def ask(self, path: str, message: Any, timeout: float) -> Any:
        """``RemoteRef.ask``: see the module doc."""
        if math.isnan(timeout) or timeout <= 0:
            raise ValueError(f"an ask's timeout must be > 0 seconds, got {timeout}")
        down = self._down(path)
        if down is not None:
            raise ActorUnavailable(path, f"node {down.name} is down")
        if not self._bus.connected:
            raise ActorUnavailable(path, "this node's NATS connection is down")
        _entry, data = self._registry.encode(message, timeout=timeout)
        self.stats.asks_sent += 1
        try:
            with trio.fail_after(timeout):
                reply = await self._bus.request(self._subject(path), data)
        except trio.TooSlowError:
            raise AskTimeout(path, message, timeout) from None
        except NoResponders:
            raise ActorUnavailable(path, "no node serves it (NATS: no responders)") from None
        except NotConnected as exc:
            raise ActorUnavailable(path, str(exc)) from None
        return self._registry.decode_reply(reply.data, path=path, message=message, timeout=timeout)
