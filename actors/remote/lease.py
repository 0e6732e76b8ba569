"""Exclusive leases on JetStream key-value: one node owns a named resource at a time.

A lease is one key in the cluster's bucket ``ax_<cluster>_leases``, whose entries expire
after the bucket's TTL. Claiming is ``create`` (succeeds only if the key is absent: a
second claimant is refused with ``LeaseHeld`` naming the holder); renewing is ``update``
with the revision the holder last wrote (compare-and-set: it fails if anyone else wrote the
key since, which can only happen after the holder's entry expired). A holder renews every
``ttl / 3``; a holder that stops renewing (killed, hung, cut off) loses the key ``ttl``
seconds after its last renewal, and then the next claimant gets it.

The holder must stop using the resource *before* anyone else can have it, so its own view
is conservative: the lease is ``valid`` until ``ttl`` minus a safety margin after the moment
it *sent* its last successful renewal (the server stored it later than that, so it expires
later). When that passes without a renewal, or a renewal is refused, the lease is lost:
``lost`` is set, observers are called and ``check()`` raises ``LeaseLost``. An execution
node calls ``check()`` before every order it sends, so a split brain cannot trade twice.

The TTL belongs to the bucket (the first node to create it sets it; a node asking for a
different one is told so in the log and uses the bucket's): JetStream servers before 2.11
have no per-key TTL.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import msgspec
import trio
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from actors.remote import subjects
from actors.remote.bus import Bus
from actors.remote.errors import LeaseHeld, LeaseLost

log = logging.getLogger("actors.remote.lease")

SAFETY = 0.2
"""Share of the TTL a holder gives up early (clock rates, the time a renewal takes)."""


class Holder(msgspec.Struct, frozen=True):
    """What a lease key holds: who has it."""

    node: str
    incarnation: str


_ENCODE = msgspec.json.encode
_DECODE = msgspec.json.Decoder(Holder).decode


class Lease:
    """A lease this node holds; made by ``Leases.acquire``. See the module doc.

    >>> # lease = await node.leases.acquire("account/sim-a")
    >>> # lease.check()  # before each order: raises LeaseLost once it is gone
    """

    def __init__(self, leases: Leases, name: str, revision: int, sent_at: float) -> None:
        self._leases = leases
        self.name = name
        self.revision = revision
        self.valid_until = sent_at + leases.ttl * (1 - SAFETY)
        self.lost = trio.Event()
        """Set once the lease is lost or released."""
        self.reason: str | None = None
        self.renewals = 0
        self._on_lost: list[Callable[[Lease], None]] = []

    @property
    def valid(self) -> bool:
        """Whether this node may still act as the owner (conservatively: see the module doc)."""
        return not self.lost.is_set() and trio.current_time() < self.valid_until

    def check(self) -> None:
        """Raise ``LeaseLost`` unless the lease is ``valid``."""
        if not self.valid:
            raise LeaseLost(self.name, self.reason or "not renewed in time")

    def on_lost(self, callback: Callable[[Lease], None]) -> None:
        """Call ``callback(lease)`` once, when the lease is lost (not on a release)."""
        self._on_lost.append(callback)

    async def release(self) -> None:
        """Give the lease up now (deletes the key if it is still ours)."""
        if self.lost.is_set():
            return
        self.reason = "released"
        self.lost.set()
        self._leases._held.pop(self.name, None)
        try:
            kv = await self._leases.bucket()
            await self._leases._bus.call(
                kv.delete, subjects.lease_key(self.name), last=self.revision
            )
            log.info("lease %r released", self.name)
        except Exception as exc:  # already taken over, or NATS down: it expires on its own
            log.info("lease %r released without deleting the key: %r", self.name, exc)

    def _lose(self, reason: str) -> None:
        if self.lost.is_set():
            return
        self.reason = reason
        self.lost.set()
        self._leases._held.pop(self.name, None)
        log.error("lease %r LOST: %s; this node must stop using it", self.name, reason)
        for callback in self._on_lost:
            try:
                callback(self)
            except Exception:
                log.exception("lease observer %r raised", callback)

    async def _renew_forever(self) -> None:
        leases = self._leases
        key = subjects.lease_key(self.name)
        value = leases._value()
        while not self.lost.is_set():
            await trio.sleep(leases.ttl / 3)
            while not self.lost.is_set():
                sent_at = trio.current_time()
                if sent_at >= self.valid_until:
                    self._lose(f"could not renew within {leases.ttl:g}s")
                    return
                try:
                    kv = await leases.bucket()
                    with trio.fail_after(max(self.valid_until - sent_at, 0.01)):
                        self.revision = await leases._bus.call(
                            kv.update, key, value, last=self.revision
                        )
                except KeyWrongLastSequenceError:
                    self._lose("taken over by another node (its entry expired first)")
                    return
                except Exception as exc:  # a timeout, NATS reconnecting
                    log.warning("renewing lease %r failed (retrying): %r", self.name, exc)
                    await trio.sleep(min(0.1, leases.ttl / 10))
                    continue
                self.valid_until = sent_at + leases.ttl * (1 - SAFETY)
                self.renewals += 1
                break


class Leases:
    """The leases of one node in its cluster's bucket; see the module doc."""

    def __init__(self, bus: Bus, cluster: str, node: str, incarnation: str, ttl: float) -> None:
        if not (math.isfinite(ttl) and ttl > 0):
            raise ValueError(f"a lease ttl must be > 0 seconds, got {ttl}")
        self._bus = bus
        self.cluster = cluster
        self.node = node
        self.incarnation = incarnation
        self.ttl = ttl
        self._kv: KeyValue | None = None
        self._held: dict[str, Lease] = {}
        self._nursery: trio.Nursery | None = None

    def _value(self) -> bytes:
        return _ENCODE(Holder(self.node, self.incarnation))

    async def bucket(self) -> KeyValue:
        """The cluster's lease bucket (created with this node's ttl if it is missing)."""
        if self._kv is None:
            name = subjects.lease_bucket(self.cluster)
            try:
                kv = await self._bus.call(self._bus.js.key_value, name)
            except BucketNotFoundError:
                kv = await self._bus.call(
                    self._bus.js.create_key_value, bucket=name, ttl=self.ttl, history=1
                )
            status = await self._bus.call(kv.status)
            if status.ttl and not math.isclose(status.ttl, self.ttl, rel_tol=1e-3):
                log.warning(
                    "lease bucket %s has a ttl of %gs (asked %gs): using the bucket's",
                    name,
                    status.ttl,
                    self.ttl,
                )
                self.ttl = status.ttl
            self._kv = kv
        return self._kv

    async def holder(self, name: str) -> str | None:
        """The node holding lease ``name`` now, or None."""
        kv = await self.bucket()
        try:
            entry = await self._bus.call(kv.get, subjects.lease_key(name))
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.operation is not None:
            return None
        return _DECODE(entry.value).node

    async def acquire(self, name: str, *, wait: float = 0.0, poll: float | None = None) -> Lease:
        """Claim lease ``name``; raises ``LeaseHeld`` if another node holds it past ``wait``.

        With ``wait`` > 0 it retries every ``poll`` seconds (default ``ttl / 4``) until the
        holder's entry expires or ``wait`` runs out. The lease is renewed in the background
        until released, lost or the node stops.
        """
        if name in self._held:
            raise ValueError(f"this node already holds lease {name!r}")
        kv = await self.bucket()
        key = subjects.lease_key(name)
        deadline = trio.current_time() + wait
        waiting = False
        while True:
            sent_at = trio.current_time()
            try:
                revision = await self._bus.call(kv.create, key, self._value())
                break
            except KeyNotFoundError:
                # The holder's entry expired between create's refusal and its own look-up
                # (nats-py checks for a tombstone): the key is free now, claim it again.
                continue
            except KeyWrongLastSequenceError:
                holder = await self.holder(name)
                if trio.current_time() >= deadline:
                    raise LeaseHeld(name, holder or "?") from None
                if not waiting:
                    waiting = True
                    log.warning(
                        "lease %r is held by node %s: waiting up to %gs for it to expire",
                        name,
                        holder or "?",
                        deadline - trio.current_time(),
                    )
            await trio.sleep(poll if poll is not None else self.ttl / 4)
        lease = Lease(self, name, revision, sent_at)
        self._held[name] = lease
        assert self._nursery is not None, "Leases.run is not running"
        self._nursery.start_soon(lease._renew_forever)
        log.info("lease %r acquired by node %s (ttl %gs)", name, self.node, self.ttl)
        return lease

    def held(self) -> dict[str, Lease]:
        """The leases this node holds now, by name."""
        return dict(self._held)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the renewal tasks until cancelled; then release every lease held."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True), trio.move_on_after(2.0):
                for lease in list(self._held.values()):
                    await lease.release()
