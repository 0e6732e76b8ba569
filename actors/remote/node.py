"""A node: one process's share of a cluster of actor systems joined by NATS.

``open_node(system, ...)`` connects to NATS and, for the block's life,

- serves the local actors under the node's prefixes (``Endpoint``),
- carries what local actors send to and ask of remote ones (``Courier``, ``RemoteRef``),
- heartbeats and keeps the directory of nodes (``Directory``): ``system.lookup(path)``
  returns a ``RemoteRef`` for a path another node serves (the node installs itself as the
  system's resolver), and refs to a node that is gone fail fast,
- holds its exclusive leases (``Leases``).

It makes sure the cluster's JetStream stream ``AX_<cluster>`` exists (work-queue retention:
a message leaves the stream once acked; ``duplicate_window`` for deduplication by message
id; ``max_age`` for what nobody ever consumes).

>>> # registry = Registry()
>>> # registry.register(Ping)
>>> # async with open_system(specs) as system, open_node(
>>> #     system, name="exec", servers="nats://127.0.0.1:4222", registry=registry,
>>> #     cluster="desk", serve=("/exec", "/router"),
>>> # ) as node:
>>> #     await node.wait_for_path("/market/sim-a")
>>> #     await system.lookup("/market/sim-a").ask(Ping())
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from actors.remote import subjects
from actors.remote.bus import Bus, open_bus
from actors.remote.codec import Registry
from actors.remote.endpoint import Endpoint
from actors.remote.lease import Lease, Leases
from actors.remote.liveness import Directory, NodeDown, NodeEvent
from actors.remote.ref import Courier, RemoteRef
from actors.remote.stats import NodeStats
from actors.runtime import Ref, System

log = logging.getLogger("actors.remote.node")

STREAM_IN_USE = 10058
"""JetStream's error code for "stream name already in use with a different configuration"."""


class Node:
    """A running node (made by ``open_node``): refs, directory, leases and counters."""

    def __init__(
        self,
        name: str,
        cluster: str,
        system: System | None,
        bus: Bus,
        directory: Directory,
        courier: Courier,
        endpoint: Endpoint,
        leases: Leases,
        stats: NodeStats,
    ) -> None:
        self.name = name
        self.cluster = cluster
        self.system = system
        self.bus = bus
        self.directory = directory
        self.courier = courier
        self.endpoint = endpoint
        self.leases = leases
        self.stats = stats

    def attach(self, system: System) -> None:
        """Serve ``system``'s actors and resolve its lookups (for a node opened before its
        system: ``open_node(None, ...)``, then the system, then ``attach``)."""
        self.system = system
        self.endpoint.attach(system)
        system.resolver = self.resolve
        if not self.directory.ready:
            self.directory.mark_ready()

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The path prefixes this node serves."""
        return self.directory.prefixes

    def ref(self, path: str) -> RemoteRef:
        """A ``RemoteRef`` to ``path``, whether or not any node is known to serve it."""
        return self.courier.ref(path)

    def resolve(self, path: str) -> Ref | None:
        """The system's resolver: a ``RemoteRef`` if another known node serves ``path``."""
        owner = self.directory.owner(path)
        if owner is None or owner.name == self.name:
            return None
        return self.courier.ref(path)

    def watch(self, callback: Callable[[NodeEvent], None]) -> Callable[[], None]:
        """Call ``callback`` on every ``NodeUp``/``NodeDown``; returns an unwatch function."""
        return self.directory.watch(callback)

    async def wait_for_node(self, name: str) -> None:
        """Return once node ``name`` is up."""
        await self.directory.wait_until(lambda: self.directory.is_up(name))

    async def wait_ready(self, name: str) -> None:
        """Return once node ``name`` is up with its actors (its system attached)."""
        await self.directory.wait_until(lambda: self.directory.is_ready(name))

    async def wait_for_path(self, path: str) -> None:
        """Return once a node that is up (another one) serves ``path``."""

        def served() -> bool:
            owner = self.directory.owner(path)
            return owner is not None and owner.up and owner.name != self.name

        await self.directory.wait_until(served)

    async def acquire(self, lease: str, *, wait: float = 0.0) -> Lease:
        """Claim an exclusive lease (see ``actors.remote.lease``); ``LeaseHeld`` if taken."""
        return await self.leases.acquire(lease, wait=wait)

    def counters(self) -> dict[str, int]:
        """The transport's counters (``NodeStats``), the courier's outbox and the bus's."""
        counters = self.stats.as_dict()
        bus = self.bus
        counters.update(
            outbox=self.courier.outbox,
            published=bus.published,
            unpublished=bus.pending,
            publish_errors=bus.publish_errors,
            reconnects=bus.reconnects,
        )
        return counters

    def peers(self) -> dict[str, str]:
        """Every other node known (configured or heard from): ``up``, ``down`` or
        ``not heard`` (declared and never heard from yet)."""
        return {
            name: "up" if record.up else "down" if record.heard else "not heard"
            for name, record in sorted(self.directory.nodes().items())
            if name != self.name
        }

    def status(self) -> dict[str, Any]:
        """The node for the operator (``--summary-json``): its peers, leases and counters.

        >>> # node.status()["peers"] == {"md": "up", "strategies": "down"}
        """
        return {
            "node": self.name,
            "cluster": self.cluster,
            "peers": self.peers(),
            "serves": list(self.prefixes),
            "leases": sorted(self.leases.held()),
            "counters": self.counters(),
        }

    def status_line(self) -> str:
        """``node exec (cluster split): peers md up, strategies down | serves /exec, /router |
        leases account/sim-a | received_durable=12 ...`` (counters that are not zero)."""
        peers = ", ".join(f"{name} {state}" for name, state in self.peers().items())
        leases = ", ".join(sorted(self.leases.held()))
        text = " ".join(f"{k}={v}" for k, v in self.counters().items() if v)
        return (
            f"node {self.name} (cluster {self.cluster}): peers {peers or 'none'}"
            + f" | serves {', '.join(self.prefixes) or 'nothing'}"
            + (f" | leases {leases}" if leases else "")
            + f" | {text or 'no traffic'}"
        )

    def summary(self) -> str:
        """One line of the node's counters that are not zero."""
        up = sorted(n for n, r in self.directory.nodes().items() if r.up)
        text = " ".join(f"{k}={v}" for k, v in self.counters().items() if v)
        return f"node {self.name}: nodes up {up}; {text or 'no traffic'}"

    def _on_event(self, event: NodeEvent) -> None:
        if isinstance(event, NodeDown):
            self.stats.node_downs += 1


async def ensure_stream(bus: Bus, cluster: str, *, duplicate_window: float, max_age: float) -> None:
    """Create (or bring up to date) the cluster's stream of durable messages."""
    config = StreamConfig(
        name=subjects.stream_name(cluster),
        subjects=[subjects.serve_pattern(cluster, "/", durable=True)],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=duplicate_window,
        max_age=max_age,
    )
    try:
        await bus.call(bus.jsm.add_stream, config)
    except BadRequestError as exc:
        if exc.err_code != STREAM_IN_USE:
            raise
        await bus.call(bus.jsm.update_stream, config)


@asynccontextmanager
async def open_node(
    system: System | None,
    *,
    name: str,
    servers: str | Sequence[str],
    registry: Registry,
    cluster: str = "actors",
    serve: Sequence[str] = ("/",),
    fresh: Sequence[str] = (),
    peers: Mapping[str, Sequence[str]] | None = None,
    claims: Sequence[str] = (),
    claim_wait: float | None = None,
    heartbeat: float = 1.0,
    node_timeout: float = 5.0,
    ack_wait: float = 10.0,
    pull_expires: float = 5.0,
    inlet_high: int = 1024,
    lease_ttl: float = 10.0,
    accept_timeout: float = 30.0,
    puback_timeout: float = 2.0,
    reconnect_wait: float = 0.25,
    duplicate_window: float = 120.0,
    max_age: float = 7 * 86_400.0,
    flush_timeout: float = 5.0,
) -> AsyncIterator[Node]:
    """Join ``cluster`` as node ``name`` for the block's life; see the module doc.

    ``serve``: the path prefixes whose actors this node serves (they must not overlap with
    another node's). ``fresh``: served prefixes whose durable messages stored before this
    start are dropped as it starts (see ``actors.remote.endpoint``). ``peers``: the other
    nodes and their prefixes as configured, so their paths resolve before they are first
    heard from. ``system`` may be None: ``attach`` it
    later (a desk opens its node first, so actors looking up remote paths in ``on_start``
    find them). ``claims``: leases the node must hold to run at all, taken before it serves
    or announces anything; one held by another node is waited for up to ``claim_wait``
    seconds (default: twice the lease TTL, so a node restarted after a crash gets the lease
    its dead predecessor held once that expires), then ``LeaseHeld``.
    ``heartbeat``/``node_timeout``: how often this node announces itself and
    how long the others wait before they call it down. ``ack_wait``: how long JetStream waits
    for this node's ack before it redelivers. ``inlet_high``: messages waiting for one actor
    before the node stops taking more from NATS (see ``actors.remote.endpoint``).
    ``lease_ttl``: the lease bucket's TTL (when this node creates it). ``flush_timeout``:
    how long leaving the block waits for queued durable sends to be stored. Needs trio-asyncio
    (uses the running loop, else opens one).
    """
    prefixes = tuple(serve)
    for prefix in prefixes:
        subjects.segments(prefix)  # a bad prefix fails here, with its text
    subjects.escape(name)
    async with open_bus(
        list(servers) if not isinstance(servers, str) else servers,
        name=f"{cluster}/{name}",
        reconnect_wait=reconnect_wait,
    ) as bus:
        await ensure_stream(bus, cluster, duplicate_window=duplicate_window, max_age=max_age)
        stats = NodeStats()
        directory = Directory(
            bus,
            cluster,
            name,
            prefixes,
            interval=heartbeat,
            timeout=node_timeout,
            ready=system is not None,
        )
        courier = Courier(
            bus,
            registry,
            directory,
            stats,
            cluster=cluster,
            accept_timeout=accept_timeout,
            puback_timeout=puback_timeout,
        )
        endpoint = Endpoint(
            system,
            bus,
            registry,
            stats,
            cluster=cluster,
            node=name,
            prefixes=prefixes,
            ack_wait=ack_wait,
            pull_expires=pull_expires,
            inlet_high=inlet_high,
            fresh=tuple(fresh),
        )
        leases = Leases(bus, cluster, name, directory.incarnation, lease_ttl)
        node = Node(name, cluster, system, bus, directory, courier, endpoint, leases, stats)
        directory.watch(node._on_event)
        for peer, served in (peers or {}).items():
            directory.expect(peer, tuple(served))
        previous = system.resolver if system is not None else None
        async with trio.open_nursery() as nursery:
            await nursery.start(leases.run)
            # Before it serves or announces anything: a node that may not run says nothing.
            for lease in claims:
                await leases.bucket()  # its ttl is the bucket's
                wait = claim_wait if claim_wait is not None else 2 * leases.ttl
                await leases.acquire(lease, wait=wait)
            await nursery.start(endpoint.run)
            await nursery.start(courier.run)
            await nursery.start(directory.run)
            if system is not None:
                node.attach(system)
            log.info("node %s of cluster %s up, serving %s", name, cluster, ", ".join(prefixes))
            try:
                yield node
            finally:
                if node.system is not None:
                    node.system.resolver = previous
                # What the stopping actors sent last (a router's final order updates) is
                # stored before the connection closes, within a bound.
                with trio.CancelScope(shield=True), trio.move_on_after(flush_timeout):
                    await courier.flush()
                nursery.cancel_scope.cancel()
        log.info("%s", node.summary())
