"""Counters of one node's transport: what went out, what came in, what was lost and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class NodeStats:
    """Everything a node counts; ``as_dict`` for logs and the run summary.

    Nothing that reaches a node disappears uncounted: a message that arrives is delivered to
    a local mailbox, superseded by a newer one (``conflated``), or counted in ``undecodable``,
    ``dead_letters`` (no such actor here), ``inlet_dropped`` (its queue was full) or
    ``mailbox_full`` (the actor's ``fail`` policy refused it).
    """

    sent: int = 0
    """Core messages published (sends and latest-wins data)."""
    sent_durable: int = 0
    """Durable sends JetStream confirmed storing."""
    duplicates_published: int = 0
    """Durable sends JetStream recognised as a repeat of an id it already had (a retry)."""
    publish_retries: int = 0
    """Durable sends published again, same id, after no PubAck came in time."""
    asks_sent: int = 0
    received: int = 0
    """Core messages and asks that arrived for local actors."""
    received_durable: int = 0
    """Durable messages put in a local mailbox and acked."""
    redelivered: int = 0
    """Durable messages JetStream delivered again (not acked in time, e.g. after a crash)."""
    duplicates_received: int = 0
    """Redeliveries of a message already put in a mailbox by this incarnation (acked, skipped)."""
    nacked: int = 0
    """Durable messages handed back for later (their actor is not running here yet)."""
    asks_served: int = 0
    conflated: int = 0
    """Latest-wins messages replaced by a newer one of the same key before delivery."""
    undecodable: int = 0
    dead_letters: int = 0
    """Messages for a path with no actor: on arrival here, or sent to a node that is down."""
    inlet_dropped: int = 0
    held: int = 0
    """Times a subscription paused because an inlet had ``inlet_high`` messages waiting."""
    mailbox_full: int = 0
    node_downs: int = 0
    stale_dropped: int = 0
    """Durable messages stored for a previous incarnation of a ``fresh`` prefix, dropped at
    start (their actors rebuild their state from its owner instead)."""

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return asdict(self)
