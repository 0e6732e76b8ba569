"""The subject scheme: where an actor path, a node's heartbeat or a lease lives on NATS.

Subjects name paths, never nodes, so a sender needs no idea where an actor runs: NATS routes
to whichever node subscribed. One cluster (a desk) uses::

    ax.<cluster>.a.<path tokens>._     core NATS: sends, latest-wins data, asks (request/reply)
    ax.<cluster>.d.<path tokens>._     JetStream stream AX_<cluster>: durable sends
    ax.<cluster>.node.hb               heartbeats (and a node's goodbye)
    ax.<cluster>.node.probe            "announce yourselves now" from a node that just started
    KV bucket ax_<cluster>_leases      exclusive leases, one key per resource

A path's segments become tokens (``/books/sim-a/BTC-USDT`` -> ``books.sim-a.BTC-USDT``);
characters other than ``[A-Za-z0-9-]`` are escaped as ``_XX`` (hex of each UTF-8 byte), so
``BTC/USDT`` -> ``BTC_2FUSDT`` and a dot can never split a segment. Every actor subject ends
with the token ``_`` (which no escaped segment can equal): that makes the subtree of a prefix
one wildcard, ``ax.<cluster>.a.books.>``, matching ``/books`` itself and everything below.

>>> actor_subject("desk", "/books/sim-a/BTC-USDT")
'ax.desk.a.books.sim-a.BTC-USDT._'
>>> escape("BTC/USDT"), escape("a.b_c")
('BTC_2FUSDT', 'a_2Eb_5Fc')
>>> path_of(actor_subject("desk", "/a/b.c"), "desk")
'/a/b.c'
>>> serve_pattern("desk", "/books")
'ax.desk.a.books.>'
"""

from __future__ import annotations

import hashlib
import string

ROOT = "ax"
END = "_"
"""The last token of every actor subject."""

_SAFE = frozenset(string.ascii_letters + string.digits + "-")


def escape(segment: str) -> str:
    """One path segment (or cluster name) as a NATS subject token."""
    if not segment:
        raise ValueError("an empty name cannot be a subject token")
    if all(c in _SAFE for c in segment):
        return segment
    try:
        segment.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(f"{segment!r} is not valid text: {exc.reason}") from None
    out: list[str] = []
    for char in segment:
        if char in _SAFE:
            out.append(char)
        else:
            out.extend(f"_{byte:02X}" for byte in char.encode())
    return "".join(out)


def unescape(token: str) -> str:
    """Inverse of :func:`escape`."""
    if "_" not in token:
        return token
    raw = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "_":
            raw.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(token[i].encode())
            i += 1
    return raw.decode()


def segments(path: str) -> list[str]:
    """The segments of an actor path; ``/`` has none. Raises ``ValueError`` for a bad path."""
    if not path.startswith("/"):
        raise ValueError(f"an actor path starts with '/': {path!r}")
    if path == "/":
        return []
    parts = path[1:].split("/")
    if any(not part for part in parts):
        raise ValueError(f"an actor path has no empty segments: {path!r}")
    return parts


def _tokens(path: str) -> str:
    return ".".join(escape(part) for part in segments(path))


def _base(cluster: str, kind: str) -> str:
    return f"{ROOT}.{escape(cluster)}.{kind}"


def actor_subject(cluster: str, path: str) -> str:
    """Core NATS subject of the actor at ``path``: sends, latest-wins data and asks."""
    tokens = _tokens(path)
    return f"{_base(cluster, 'a')}.{tokens}.{END}" if tokens else f"{_base(cluster, 'a')}.{END}"


def durable_subject(cluster: str, path: str) -> str:
    """JetStream subject of the actor at ``path``: durable sends."""
    tokens = _tokens(path)
    return f"{_base(cluster, 'd')}.{tokens}.{END}" if tokens else f"{_base(cluster, 'd')}.{END}"


def serve_pattern(cluster: str, prefix: str, *, durable: bool = False) -> str:
    """Wildcard subject of the subtree at ``prefix`` (the prefix's own actor included)."""
    tokens = _tokens(prefix)
    base = _base(cluster, "d" if durable else "a")
    return f"{base}.{tokens}.>" if tokens else f"{base}.>"


def path_of(subject: str, cluster: str) -> str:
    """The actor path an actor subject (core or durable) of ``cluster`` addresses."""
    head = f"{ROOT}.{escape(cluster)}."
    if not subject.startswith(head) or not subject.endswith(f".{END}"):
        raise ValueError(f"not an actor subject of cluster {cluster!r}: {subject!r}")
    tokens = subject[len(head) :].split(".")[1:-1]  # drop the kind and the end token
    return "/" + "/".join(unescape(token) for token in tokens)


def heartbeat_subject(cluster: str) -> str:
    """Where nodes announce themselves (and say goodbye)."""
    return f"{ROOT}.{escape(cluster)}.node.hb"


def probe_subject(cluster: str) -> str:
    """Where a node that just started asks every other node to announce itself at once."""
    return f"{ROOT}.{escape(cluster)}.node.probe"


def stream_name(cluster: str) -> str:
    """The JetStream stream holding the cluster's durable messages."""
    return f"AX_{escape(cluster)}"


def consumer_name(prefix: str) -> str:
    """Durable consumer name of the subtree at ``prefix`` (readable part plus a short hash).

    Named after the prefix, not the node: a subtree that moves to another node (or a node
    that restarts) takes up the same consumer where it stopped.
    """
    readable = "-".join(escape(part) for part in segments(prefix)) or "root"
    digest = hashlib.sha1(prefix.encode()).hexdigest()[:10]
    return f"ax-{readable[:40]}-{digest}"


def lease_bucket(cluster: str) -> str:
    """The key-value bucket of the cluster's leases."""
    return f"ax_{escape(cluster)}_leases"


def lease_key(name: str) -> str:
    """A lease name as a key-value key (dots would be subject separators: escaped)."""
    return ".".join(escape(part) for part in name.split("/") if part) or escape(name)


def covers(prefix: str, path: str) -> bool:
    """Whether ``path`` is ``prefix`` or lies below it."""
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")
