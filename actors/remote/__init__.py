"""Actors across processes and hosts, on NATS (core for speed, JetStream for what must last).

Generic: nothing here knows about trading. It needs the runtime, nats-py and trio-asyncio.

| module | its one job |
|---|---|
| ``subjects`` | the subject scheme: path -> subject, stream, consumer and bucket names |
| ``codec`` | msgpack frames with a type tag; the registry of accepted types and their
  delivery classes (``Direct``, ``Latest``, ``Durable``) |
| ``bus`` | one NATS connection driven from trio without a crossing per message |
| ``ref`` | ``RemoteRef`` (the runtime's ``Ref`` over NATS) and the ``Courier`` that sends |
| ``endpoint`` | serves a process's actors: inlets, asks, durable consumers (ack after
  the mailbox) |
| ``liveness`` | heartbeats (with readiness) and the directory of nodes, configured peers
  included; ``NodeUp``/``NodeDown`` |
| ``lease`` | exclusive leases on JetStream key-value (compare-and-set, TTL) |
| ``node`` | ``open_node``: all of the above for one process (leases it must hold first,
  a system attached now or later), and the system's resolver |
| ``server`` | running a local ``nats-server`` (tests, benchmarks, development) |

>>> # async with open_system(specs) as system, open_node(
>>> #     system, name="md", servers=url, registry=registry, serve=("/market",)
>>> # ) as node:
>>> #     ...
"""

from actors.remote.codec import DIRECT, Direct, Durable, Latest, Registry
from actors.remote.errors import (
    LeaseHeld,
    LeaseLost,
    NotAccepted,
    NotRegistered,
    RemoteError,
    Undecodable,
)
from actors.remote.lease import Lease
from actors.remote.liveness import NodeDown, NodeEvent, NodeUp
from actors.remote.node import Node, open_node
from actors.remote.ref import RemoteRef
from actors.remote.server import NatsServer, nats_server_binary
from actors.remote.stats import NodeStats

__all__ = [
    "DIRECT",
    "Direct",
    "Durable",
    "Latest",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "NatsServer",
    "Node",
    "NodeDown",
    "NodeEvent",
    "NodeStats",
    "NodeUp",
    "NotAccepted",
    "NotRegistered",
    "Registry",
    "RemoteError",
    "RemoteRef",
    "Undecodable",
    "nats_server_binary",
    "open_node",
]
