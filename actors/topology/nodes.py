"""One desk across processes: ``[nodes]`` places the top-level groups, each node runs its share.

A topology without ``[nodes]`` runs in one process, as it always has. With nodes, every group
is placed on exactly one node and ``actors run CONFIG --node NAME`` runs that node's groups
beside a NATS node (``actors.remote``) that serves them under their paths (``/market``,
``/books``, ...) and resolves every other group's paths to the node it was placed on:

    [cluster]
    servers = ["nats://127.0.0.1:4222"]

    [nodes.md]
    groups = ["venues", "market", "books", "consolidated"]
    [nodes.exec]
    groups = ["journal", "risk", "router", "exec"]
    [nodes.strategies]
    groups = ["strategies"]

Market data can be placed per venue instead: ``market_data = ["binance"]`` puts that venue's
feed (``/market/binance``) and books (``/books/binance/...``) on the node, so each venue's
market data runs in a process of its own (close to the venue, on a core of its own) while
every other node resolves those paths to it:

    [nodes.md-binance]
    market_data = ["binance"]
    [nodes.md-okx]
    market_data = ["okx"]
    [nodes.exec]
    groups = ["journal", "risk", "router", "exec", "consolidated"]

Either the whole ``market`` and ``books`` groups are placed or every venue's market data is
(the two would serve overlapping subtrees), each venue once.
Rules, each checked with an error naming the key: journal, risk, router and exec share one
node (the router journals every order before it leaves and asks the journal on the way;
``Append`` carries any message and stays local); an embedded venue of a split desk has a
fixed port and fixed credentials (the node that runs it and the nodes that trade on it must
agree without talking). What travels between nodes, and how, is ``actors.topology.wire``.

Start order does not matter: a node whose actors ask another group as they start (the
strategies ask the router) starts them once that group's node says it is ready; the others
start at once. Supervision across nodes: the execution node takes an exclusive lease per
venue account (``account/<venue>``) before anything starts, and refuses to start while
another node holds one; if it loses a lease while running it stops (a split brain never
trades twice).
When a node that fed books goes down, every book it fed (and only those: one venue's with
``market_data``) is reported stale to the local risk
and consolidated actors (``FeedStatus``), so risk refuses orders against them, and
strategies stop seeing them in the consolidated top, until fresh tops come again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from actors.remote import Lease, Node, NodeDown, NodeEvent, open_node
from actors.runtime import ChildSpec, MailboxFull, System, with_children
from actors.topology.load import NAME, ConfigError
from actors.topology.schema import NodeSection, Topology
from actors.topology.wire import desk_registry
from actors.trading.config import RISK, consolidated_path
from actors.trading.messages import FeedStatus

log = logging.getLogger("actors.nodes")

PLACEABLE = (
    "venues",
    "journal",
    "risk",
    "consolidated",
    "books",
    "exec",
    "router",
    "strategies",
    "market",
)
"""Top-level groups a node can run."""
EXECUTION = ("journal", "risk", "router", "exec")
"""Groups that must share a node."""
COMPANIONS = {"router": ("shutdown",)}
"""Groups that go wherever another goes (the router's shutdown drain)."""
NEEDS = {"strategies": ("router",)}
"""Groups whose actors ask another group as they start (a strategy asks the router for its
open orders): their node starts its actors only once that group's node is ready."""
FEEDS = ("books", "market")
"""Groups whose node going down makes its books stale elsewhere; also the groups a node can
take one venue's share of (``market_data``: ``/market/<venue>``, ``/books/<venue>``)."""
FRESH = ("strategies",)
"""Groups that start from the execution node's state (a strategy asks the router for its
open orders): order updates and fills stored for them while their node was down are dropped
when it starts again, as a restarted single-process desk starts with empty mailboxes.
Cancels to the router, on the other hand, wait for the execution node however long it is
down (within the stream's 7 days): a cancel is safe at any age, and nothing that opens an
order ever waits in JetStream (intents are asks, answered now or refused)."""


@dataclass(frozen=True)
class NodePlan:
    """This process's share of a split desk, and how it joins the others."""

    name: str
    cluster: str
    servers: tuple[str, ...]
    groups: tuple[str, ...]
    market_data: tuple[str, ...]
    """Venues whose feed and books this node runs (besides whole ``groups``)."""
    peers: dict[str, tuple[str, ...]]
    """Every other node and the path prefixes it serves."""
    accounts: tuple[str, ...]
    """Venues whose account this node trades (it holds their leases)."""
    feeds: dict[str, tuple[tuple[str, str], ...]]
    """(venue, symbol) pairs whose books each node feeds (nodes with books or market data)."""
    heartbeat: float
    node_timeout: float
    lease_ttl: float
    ack_wait: float

    @property
    def serve(self) -> tuple[str, ...]:
        """The path prefixes this node serves."""
        return prefixes(self.groups, self.market_data)


def prefixes(groups: Sequence[str], market_data: Sequence[str] = ()) -> tuple[str, ...]:
    """The path prefixes of ``groups`` and their companions, then of each venue's market data.

    >>> prefixes(["router"], ["sim-a"])
    ('/router', '/shutdown', '/market/sim-a', '/books/sim-a')
    """
    names = [g for group in groups for g in (group, *COMPANIONS.get(group, ()))]
    names += [f"{group}/{venue}" for venue in market_data for group in reversed(FEEDS)]
    return tuple(f"/{name}" for name in names)


def placement(name: str, node: NodeSection) -> str:
    """One node's share for the operator (``actors check``): what it runs, the paths it serves.

    >>> placement("md-a", NodeSection(market_data=["sim-a"]))
    'node md-a: market data of sim-a; serves /market/sim-a, /books/sim-a'
    """
    parts = list(node.groups)
    if node.market_data:
        parts.append(f"market data of {', '.join(node.market_data)}")
    served = ", ".join(prefixes(node.groups, node.market_data))
    return f"node {name}: {', '.join(parts)}; serves {served}"


def node_problems(topology: Topology) -> list[str]:
    """What is wrong with ``[nodes]`` and ``[cluster]`` (nothing when no node is declared)."""
    if not topology.nodes:
        return []
    problems: list[str] = []
    placed: dict[str, str] = {}
    for name, node in topology.nodes.items():
        at = f"nodes.{name}"
        if not NAME.match(name):
            problems.append(f"{at}: node name {name!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        if not node.groups and not node.market_data:
            problems.append(f"{at}.groups: a node runs at least one group or venue's market data")
        for j, group in enumerate(node.groups):
            if group not in PLACEABLE:
                problems.append(f"{at}.groups[{j}]: no group {group!r} (groups: {PLACEABLE})")
            elif group in placed:
                problems.append(f"{at}.groups[{j}]: {group!r} is already on node {placed[group]!r}")
            else:
                placed[group] = name
    problems += _market_data_problems(topology, placed)
    per_venue = any(node.market_data for node in topology.nodes.values())
    embedded = [v for v in topology.venues if v.kind == "embedded"]
    needed = [
        g for g in PLACEABLE if (g != "venues" or embedded) and not (per_venue and g in FEEDS)
    ]
    missing = [g for g in needed if g not in placed]
    if missing:
        problems.append(f"nodes: groups on no node: {', '.join(missing)}")
    where = {placed[g] for g in EXECUTION if g in placed}
    if len(where) > 1:
        problems.append(
            f"nodes: {', '.join(EXECUTION)} must share one node (found on {sorted(where)}): the "
            "router journals and asks risk on every order's way out"
        )
    for i, venue in enumerate(topology.venues):
        if venue.kind != "embedded":
            continue
        at = f"venues[{i}].embedded"
        if not venue.embedded.port:
            problems.append(f"{at}.port: a split desk needs a fixed port (every node dials it)")
        if not (venue.embedded.api_key and venue.embedded.secret):
            problems.append(f"{at}: a split desk needs a fixed api_key and secret")
    cluster = topology.cluster
    if not cluster.servers:
        problems.append("cluster.servers: at least one NATS server URL is required")
    for j, url in enumerate(cluster.servers):
        if not url.startswith(("nats://", "tls://")):
            problems.append(f"cluster.servers[{j}]: {url!r} is not a nats:// or tls:// URL")
    if not cluster.heartbeat < cluster.node_timeout:
        problems.append("cluster.heartbeat: must be less than cluster.node_timeout")
    return problems


def _market_data_problems(topology: Topology, placed: dict[str, str]) -> list[str]:
    """What is wrong with the nodes' ``market_data`` (each venue placed once, every venue
    placed, never beside a whole ``market`` or ``books`` group)."""
    problems: list[str] = []
    venues = [v.name for v in topology.venues]
    owner: dict[str, str] = {}
    for name, node in topology.nodes.items():
        for j, venue in enumerate(node.market_data):
            at = f"nodes.{name}.market_data[{j}]"
            whole = [f"{g!r} on node {placed[g]!r}" for g in FEEDS if g in placed]
            if venue not in venues:
                problems.append(f"{at}: no venue {venue!r} (venues: {venues})")
            elif venue in owner:
                problems.append(
                    f"{at}: the market data of {venue!r} is already on node {owner[venue]!r}"
                )
            elif whole:
                problems.append(
                    f"{at}: {venue!r} cannot run apart from the whole group {', '.join(whole)}"
                    " (place either the market and books groups or every venue's market data)"
                )
            else:
                owner[venue] = name
    if any(node.market_data for node in topology.nodes.values()):
        missing = [v for v in venues if v not in owner]
        if missing and not any(g in placed for g in FEEDS):
            problems.append(
                f"nodes: the market data of {', '.join(missing)} is on no node "
                "(add each venue to a node's market_data)"
            )
    return problems


def node_plan(topology: Topology, name: str, *, source: str) -> NodePlan:
    """Node ``name``'s ``NodePlan``; ``ConfigError`` when the topology has no such node."""
    if not topology.nodes:
        raise ConfigError(source, [f"--node {name}: this topology declares no [nodes]"])
    if name not in topology.nodes:
        raise ConfigError(source, [f"--node {name}: no such node (nodes: {list(topology.nodes)})"])
    groups = {n: tuple(node.groups) for n, node in topology.nodes.items()}
    market_data = {n: tuple(node.market_data) for n, node in topology.nodes.items()}
    feeds = {
        n: tuple(
            (v.name, s)
            for v in topology.venues
            if any(g in FEEDS for g in placed) or v.name in market_data[n]
            for s in v.symbols
        )
        for n, placed in groups.items()
        if any(g in FEEDS for g in placed) or market_data[n]
    }
    cluster = topology.cluster
    return NodePlan(
        name=name,
        cluster=cluster.name or topology.desk.name,
        servers=tuple(cluster.servers),
        groups=groups[name],
        market_data=market_data[name],
        peers={n: prefixes(g, market_data[n]) for n, g in groups.items() if n != name},
        accounts=tuple(v.name for v in topology.venues) if "exec" in groups[name] else (),
        feeds=feeds,
        heartbeat=cluster.heartbeat,
        node_timeout=cluster.node_timeout,
        lease_ttl=cluster.lease_ttl,
        ack_wait=cluster.ack_wait,
    )


def place(specs: Sequence[ChildSpec], plan: NodePlan) -> list[ChildSpec]:
    """The top-level specs node ``plan`` runs: its whole groups, and the ``market`` and
    ``books`` groups cut down to its venues' children when it runs their market data."""
    names = {name.lstrip("/") for name in prefixes(plan.groups)}
    placed: list[ChildSpec] = []
    for spec in specs:
        if spec.name in names:
            placed.append(spec)
        elif spec.name in FEEDS and plan.market_data:
            mine = [child for child in spec.children if child.name in plan.market_data]
            placed.append(with_children(spec, mine))
    return placed


@asynccontextmanager
async def join(plan: NodePlan | None) -> AsyncIterator[Node | None]:
    """Join the cluster as ``plan`` says (None: no cluster, yields None), leases taken.

    Opened before the node's ``System``: actors that look up another node's paths in
    ``on_start`` find them (``Node.attach`` the system once it exists).
    """
    if plan is None:
        yield None
        return
    async with open_node(
        None,
        name=plan.name,
        servers=list(plan.servers),
        registry=desk_registry(),
        cluster=plan.cluster,
        serve=plan.serve,
        fresh=prefixes([g for g in plan.groups if g in FRESH]),
        peers=plan.peers,
        heartbeat=plan.heartbeat,
        node_timeout=plan.node_timeout,
        lease_ttl=plan.lease_ttl,
        ack_wait=plan.ack_wait,
        claims=[f"account/{venue}" for venue in plan.accounts],  # LeaseHeld: another trades it
    ) as node:
        for needed in sorted(needs(plan)):
            await wait_ready(node, needed)
        yield node


def needs(plan: NodePlan) -> set[str]:
    """The other nodes whose actors ``plan``'s actors ask as they start."""
    wanted = {f"/{g}" for group in plan.groups for g in NEEDS.get(group, ())}
    return {name for name, served in plan.peers.items() if wanted & set(served)}


async def wait_ready(node: Node, name: str, every: float = 10.0) -> None:
    """Wait for node ``name`` to be ready, saying so in the log every ``every`` seconds."""
    waited = 0.0
    while True:
        with trio.move_on_after(every):
            await node.wait_ready(name)
            return
        waited += every
        log.warning("node %s: still waiting for node %s to be ready (%gs)", node.name, name, waited)


def supervise(node: Node, plan: NodePlan, system: System, nursery: trio.Nursery) -> None:
    """Tie the node's fate to the desk's: a lost lease stops the desk; a feeding node that
    goes down makes its books stale here."""

    def lease_lost(lease: Lease) -> None:
        log.critical("lease %s lost: stopping this node's desk (%s)", lease.name, lease.reason)
        nursery.start_soon(system.stop)

    for lease in node.leases.held().values():
        lease.on_lost(lease_lost)

    def node_event(event: NodeEvent) -> None:
        if not isinstance(event, NodeDown) or event.node not in plan.feeds:
            return
        now = trio.current_time()
        for venue, symbol in plan.feeds[event.node]:
            status = FeedStatus(
                venue=venue,
                symbol=symbol,
                live=False,
                reason=f"node {event.node} down: {event.reason}",
                at=now,
            )
            for path in (RISK, consolidated_path(symbol)):
                ref = system.lookup_local(path)
                if ref is not None:
                    try:
                        ref.send_nowait(status)
                    except MailboxFull:
                        log.warning("%s is full: it missed that %s is down", path, event.node)

    node.watch(node_event)
