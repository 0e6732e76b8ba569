"""Who is up: heartbeats on a subject, and the directory of nodes and the paths they serve.

Every node publishes a heartbeat on ``ax.<cluster>.node.hb`` every ``interval`` seconds,
naming itself, its incarnation (new at each start), the path prefixes it serves and how long
others should wait for its next heartbeat (``timeout``). A node that has not been heard for
its ``timeout`` is down; a clean stop says goodbye and is down at once; a heartbeat with a new
incarnation means the node restarted (its old incarnation's mailboxes are gone): down, then
up. A node that starts asks on ``ax.<cluster>.node.probe`` for everyone to announce
themselves, so it knows the cluster within a round trip, not an interval.

The directory answers "which node serves this path, and is it up?" (the longest prefix
wins) and tells observers, synchronously and in trio context, of every ``NodeUp`` and
``NodeDown``. Prefixes of different nodes must not overlap; an overlap is logged as an error.

Heartbeats over a core subject rather than a key-value bucket with a TTL: an expired key
produces no event on servers before 2.11, and a subject gives every node the same view
within one heartbeat without polling.

>>> NodeDown("md", "7f3a", ("/market",), "no heartbeat for 3s").node
'md'
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import trio
from nats.aio.msg import Msg

from actors.remote import subjects
from actors.remote.bus import Bus

log = logging.getLogger("actors.remote.liveness")


class Heartbeat(msgspec.Struct, frozen=True, array_like=True):
    """What a node announces about itself."""

    node: str
    incarnation: str
    prefixes: tuple[str, ...]
    timeout: float
    bye: bool = False
    ready: bool = True
    """Whether the node's actors are up (a node opened before its system is not, yet)."""


@dataclass(frozen=True, slots=True)
class NodeUp:
    """A node (or a new incarnation of it) was heard from."""

    node: str
    incarnation: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NodeDown:
    """A node is gone: no heartbeat within its timeout, a goodbye, or a restart."""

    node: str
    incarnation: str
    prefixes: tuple[str, ...]
    reason: str


NodeEvent = NodeUp | NodeDown


@dataclass(slots=True)
class NodeRecord:
    """What the directory knows of one node."""

    name: str
    incarnation: str
    prefixes: tuple[str, ...]
    timeout: float
    last_seen: float
    up: bool = True
    downs: int = 0
    heard: bool = True
    """False for a node only declared (``expect``) and never heard from yet."""
    ready: bool = True
    """Whether its actors are up (see ``Heartbeat.ready``)."""


@dataclass(slots=True)
class _Watchers:
    callbacks: list[Callable[[NodeEvent], None]] = field(default_factory=list)


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(Heartbeat).decode


class Directory:
    """The nodes of one cluster, from their heartbeats; see the module doc.

    >>> # directory.owner("/books/sim-a/BTC-USDT")  # -> NodeRecord of the node serving it
    >>> # directory.watch(lambda event: print(event))
    """

    def __init__(
        self,
        bus: Bus,
        cluster: str,
        node: str,
        prefixes: tuple[str, ...],
        *,
        interval: float = 1.0,
        timeout: float = 5.0,
        ready: bool = True,
    ) -> None:
        if not (0 < interval < timeout):
            raise ValueError(f"heartbeat interval ({interval}) must be > 0 and < timeout")
        self._bus = bus
        self.cluster = cluster
        self.node = node
        self.incarnation = secrets.token_hex(6)
        self.prefixes = prefixes
        self.ready = ready
        """Whether this node's actors are up; announced in every heartbeat."""
        self.interval = interval
        self.timeout = timeout
        self._nodes: dict[str, NodeRecord] = {}
        self._owners: dict[str, str] = {}
        """Prefix -> node name, for every known node, up or down."""
        self._watchers = _Watchers()
        self._changed = trio.Event()
        self._subject = subjects.heartbeat_subject(cluster)
        self._probe = subjects.probe_subject(cluster)
        self._register(
            Heartbeat(node, self.incarnation, prefixes, timeout, ready=ready), trio.current_time()
        )

    # -- queries ---------------------------------------------------------------------------

    def nodes(self) -> dict[str, NodeRecord]:
        """Every node heard of (this one included), by name."""
        return dict(self._nodes)

    def is_up(self, name: str) -> bool:
        """Whether node ``name`` is up."""
        record = self._nodes.get(name)
        return record is not None and record.up

    def owner(self, path: str) -> NodeRecord | None:
        """The node whose served prefix is the longest one covering ``path``, up or down."""
        owners = self._owners
        probe = path
        while True:
            name = owners.get(probe)
            if name is not None:
                return self._nodes[name]
            if probe == "/":
                return None
            probe = probe.rsplit("/", 1)[0] or "/"

    def expect(self, node: str, prefixes: tuple[str, ...]) -> None:
        """Know of ``node`` and its prefixes before it is heard from (from configuration).

        Its paths resolve at once (``owner``), so an actor can look them up while that node
        is still starting; it counts as down only once it was up and went silent.
        """
        if node == self.node or node in self._nodes:
            return
        for prefix in prefixes:
            self._owners.setdefault(prefix, node)
        self._nodes[node] = NodeRecord(
            node, "", prefixes, self.timeout, -math.inf, up=False, heard=False
        )

    def mark_ready(self) -> None:
        """This node's actors are up: say so now (and in every heartbeat from now on)."""
        self.ready = True
        self._nodes[self.node].ready = True
        self._announce()
        self._changed_now()

    def is_ready(self, name: str) -> bool:
        """Whether node ``name`` is up and its actors are."""
        record = self._nodes.get(name)
        return record is not None and record.up and record.ready

    def is_down(self, record: NodeRecord) -> bool:
        """Whether ``record``'s node was up and is gone (not merely not heard from yet)."""
        return record.heard and not record.up

    def watch(self, callback: Callable[[NodeEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on every ``NodeUp``/``NodeDown``; returns an unwatch."""
        self._watchers.callbacks.append(callback)
        return lambda: self._watchers.callbacks.remove(callback)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds (re-checked at every change in the directory)."""
        while not condition():
            await self._changed.wait()

    # -- running ---------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Heartbeat, listen and expire until cancelled; says goodbye when cancelled."""
        hb = await self._bus.subscribe(self._subject, self._on_heartbeat)
        probe = await self._bus.subscribe(self._probe, self._on_probe)
        try:
            self._announce()
            self._bus.publish(self._probe, self.node.encode())
            self._bus.on_reconnect.append(self._announce)
            task_status.started()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._beat)
                nursery.start_soon(self._expire)
        finally:
            with trio.CancelScope(shield=True):
                if self._announce in self._bus.on_reconnect:
                    self._bus.on_reconnect.remove(self._announce)
                self._announce(bye=True)
                await self._bus.unsubscribe(hb)
                await self._bus.unsubscribe(probe)

    def _announce(self, *, bye: bool = False) -> None:
        beat = Heartbeat(self.node, self.incarnation, self.prefixes, self.timeout, bye, self.ready)
        try:
            self._bus.publish(self._subject, _ENCODE(beat))
        except Exception as exc:  # a full outbox: the next beat will do
            log.warning("heartbeat of %s not sent: %r", self.node, exc)

    async def _beat(self) -> None:
        while True:
            await trio.sleep(self.interval)
            self._announce()
            self._nodes[self.node].last_seen = trio.current_time()

    async def _expire(self) -> None:
        while True:
            now = trio.current_time()
            wake = now + self.interval
            for record in list(self._nodes.values()):
                if not record.up or record.name == self.node:
                    continue
                deadline = record.last_seen + record.timeout
                if deadline <= now:
                    self._down(record, f"no heartbeat for {record.timeout:g}s")
                else:
                    wake = min(wake, deadline)
            await trio.sleep_until(wake)

    # -- incoming --------------------------------------------------------------------------

    def _on_probe(self, msg: Msg) -> None:
        if msg.data != self.node.encode():  # our own probe needs no answer
            self._announce()

    def _on_heartbeat(self, msg: Msg) -> None:
        try:
            beat = _DECODE(msg.data)
        except msgspec.DecodeError as exc:
            log.warning("undecodable heartbeat on %s dropped: %s", msg.subject, exc)
            return
        if beat.node == self.node:
            if beat.incarnation != self.incarnation and not beat.bye:
                log.error(
                    "another node calls itself %r (incarnation %s)", beat.node, beat.incarnation
                )
            return
        now = trio.current_time()
        record = self._nodes.get(beat.node)
        if beat.bye:
            if record is not None and record.up and record.incarnation == beat.incarnation:
                self._down(record, "stopped (said goodbye)")
            return
        if record is not None and record.incarnation != beat.incarnation and record.up:
            self._down(record, "restarted (new incarnation)")
        if record is None or not record.up or record.incarnation != beat.incarnation:
            self._register(beat, now)
            log.info(
                "node %s up (incarnation %s) serving %s",
                beat.node,
                beat.incarnation,
                ", ".join(beat.prefixes) or "nothing",
            )
            self._emit(NodeUp(beat.node, beat.incarnation, beat.prefixes))
        else:
            record.last_seen = now
            record.timeout = beat.timeout
            if record.ready != beat.ready:
                record.ready = beat.ready
                log.info("node %s %s", beat.node, "ready" if beat.ready else "not ready")
                self._changed_now()

    def _register(self, beat: Heartbeat, now: float) -> None:
        old = self._nodes.get(beat.node)
        downs = old.downs if old is not None else 0
        if old is not None:
            for prefix in old.prefixes:
                if self._owners.get(prefix) == old.name:
                    del self._owners[prefix]
        for prefix in beat.prefixes:
            for other in self._nodes.values():
                if other.name == beat.node or not other.up:
                    continue
                clash = [
                    p
                    for p in other.prefixes
                    if subjects.covers(p, prefix) or subjects.covers(prefix, p)
                ]
                if clash:
                    log.error(
                        "nodes %s and %s both serve %s (prefixes must not overlap)",
                        beat.node,
                        other.name,
                        prefix,
                    )
            self._owners[prefix] = beat.node
        self._nodes[beat.node] = NodeRecord(
            beat.node, beat.incarnation, beat.prefixes, beat.timeout, now, True, downs, True,
            beat.ready,
        )  # fmt: skip
        self._changed_now()

    def _down(self, record: NodeRecord, reason: str) -> None:
        record.up = False
        record.downs += 1
        log.warning("node %s down (incarnation %s): %s", record.name, record.incarnation, reason)
        self._emit(NodeDown(record.name, record.incarnation, record.prefixes, reason))
        self._changed_now()

    def _emit(self, event: NodeEvent) -> None:
        for callback in list(self._watchers.callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("node watcher %r raised on %r", callback, event)

    def _changed_now(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
