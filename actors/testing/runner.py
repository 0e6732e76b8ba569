"""Running a :class:`~actors.testing.plan.FaultPlan` against a running desk.

The runner fires each fault when its trigger says, applies it (actor faults inside the
target actor or on its mailbox, venue faults through the venue's knobs), ends it when its
duration is over, and after each fault measures how long the desk took to recover: until
every book the fault touched holds a fresh snapshot, and until the next order went out to the
venue(s) it touched. Every injection is logged (WARNING ``fault injected: ...``), counted
per kind in its :class:`~actors.testing.faultlog.FaultLog`, and journaled as a
``FaultInjected`` event when the desk has a journal. :meth:`FaultRunner.verify` ends every
fault, lets the desk settle and checks the invariants (``actors.testing.invariants``).

``actors run`` starts the runner of a topology's ``[faults]`` section by itself (see
``actors.topology.run``); a test can run one on any system::

    runner = FaultRunner(plan, venues={"sim": LocalVenue(venue)}, symbols={"sim": ["BTC/USDT"]},
                         journal=str(tmp_path / "j.sqlite"))
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run, system)
        await runner.finished.wait()
        report = await runner.verify()
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import trio

from actors.runtime import System
from actors.testing.faultlog import FaultLog, FaultRecord
from actors.testing.faults import crash_actor, pause_actor
from actors.testing.invariants import InvariantReport, JournalFacts, check_desk
from actors.testing.mailbox_faults import MailboxFaults
from actors.testing.plan import ACTOR_FAULTS, Fault, FaultPlan
from actors.testing.venues import VenueHandle
from actors.trading.config import JOURNAL, book_path, exec_path
from actors.trading.messages import BookSnapshot, FaultInjected
from actors.trading.protocol import Append, BookView, GetBook, PlaceOrder

log = logging.getLogger("actors.faults")

VenueSource = Mapping[str, VenueHandle] | Callable[[], Mapping[str, VenueHandle]]
Undo = Callable[[], Awaitable[None]]

RECOVERY_TIMEOUT = 120.0
"""Seconds after a fault's end within which recovery is measured (later: not recovered)."""


class FaultRunner:
    """Fires, applies, ends and logs the faults of ``plan`` on a running desk.

    ``venues``: venue handles by name (or a function returning them, for venues that start
    with the desk); ``symbols``: the symbols of each venue's books (for recovery times and
    the book invariant); ``journal``: the journal file (for the invariants).
    """

    def __init__(
        self,
        plan: FaultPlan,
        *,
        venues: VenueSource | None = None,
        symbols: Mapping[str, Sequence[str]] | None = None,
        journal: str | None = None,
        prefix: str = "ax",
        depth: int = 20,
        log_: FaultLog | None = None,
    ) -> None:
        plan.check()
        self.plan = plan
        self.log = log_ if log_ is not None else FaultLog()
        self.symbols = {v: tuple(s) for v, s in (symbols or {}).items()}
        self.journal = journal
        self.prefix = prefix
        self.depth = depth
        self.finished = trio.Event()
        """Set once no trigger will fire again (all exhausted, or injection stopped)."""
        self.report: InvariantReport | None = None
        """The result of the last :meth:`verify`."""
        self.started_at: float | None = None
        self._venues = venues if venues is not None else {}
        self._system: System | None = None
        self._nursery: trio.Nursery | None = None
        self._triggers = trio.CancelScope()
        self._stop_at = math.inf
        self._stop_changed = trio.Event()
        self._stopped = False
        self._active: dict[int, tuple[FaultRecord, Undo | None]] = {}
        self._mailboxes: dict[str, MailboxFaults] = {}
        self._capacity: dict[str, int] = {}
        self._users: dict[tuple[str, str], int] = {}
        self._orders: dict[str, list[float]] = {}
        self._order_seen = trio.Event()
        self._hit: set[str] = set()
        self._since = 0

    # -- running --

    @property
    def venues(self) -> Mapping[str, VenueHandle]:
        """The venue handles by name."""
        return self._venues() if callable(self._venues) else self._venues

    @property
    def system(self) -> System:
        """The system the runner runs on (once started)."""
        assert self._system is not None, "the runner has not started"
        return self._system

    async def run(self, system: System, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run the plan on ``system`` until cancelled (start with ``nursery.start``)."""
        self._system = system
        self.started_at = trio.current_time()
        if self.journal is not None and self.journal != ":memory:":
            # The venues of this run started with the desk: positions compare from here.
            self._since = await trio.to_thread.run_sync(JournalFacts.last_seq, self.journal)
        start = self.started_at + self.plan.start_after
        if self.plan.stop_after is not None:
            self._stop_at = min(self._stop_at, start + self.plan.stop_after)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for venue in self.symbols:
                    self._tap(exec_path(venue), self._order_tap(venue))
                nursery.start_soon(self._run_triggers, start)
                task_status.started(self)
                await trio.sleep_forever()
        finally:
            self._stopped = True
            self.finished.set()
            with trio.CancelScope(shield=True):
                await self._end_all()

    def run_for(self, seconds: float) -> None:
        """A run that lasts ``seconds`` from the runner's start: stop injecting the plan's
        ``settle`` seconds before its end (so the desk can recover before the check)."""
        origin = self.started_at if self.started_at is not None else trio.current_time()
        self._stop_at = min(self._stop_at, origin + max(0.0, seconds - self.plan.settle))
        self._stop_changed.set()

    async def _run_triggers(self, start: float) -> None:
        with self._triggers:
            async with trio.open_nursery() as nursery:
                triggers = trio.open_nursery()
                async with triggers as inner:
                    for i, fault in enumerate(self.plan.inject):
                        rng = random.Random(f"{self.plan.seed}:{i}")
                        inner.start_soon(self._trigger, fault, rng, start)
                    nursery.start_soon(self._stop_when_due, inner.cancel_scope)
                nursery.cancel_scope.cancel()  # every trigger is exhausted
        self.finished.set()

    async def _stop_when_due(self, triggers: trio.CancelScope) -> None:
        while True:
            self._stop_changed = trio.Event()
            with trio.move_on_at(self._stop_at):
                await self._stop_changed.wait()
                continue
            triggers.cancel()
            return

    async def _trigger(self, fault: Fault, rng: random.Random, start: float) -> None:
        limit = fault.times or (1 if fault.at is not None else math.inf)
        fired = 0
        if fault.at is not None:
            await trio.sleep_until(start + fault.at)
            await self._fire(fault)
            return
        if fault.every is not None:
            moment = start
            while fired < limit:
                moment += fault.every * rng.uniform(1 - fault.jitter, 1 + fault.jitter)
                await trio.sleep_until(moment)
                await self._fire(fault)
                fired += 1
            return
        assert fault.after is not None
        await trio.sleep_until(start)
        counted = [0]
        due = trio.Event()
        every = fault.after

        def count(message: Any) -> None:
            if fault.of is None or type(message).__name__ == fault.of:
                counted[0] += 1
                if counted[0] % every == 0:
                    due.set()

        path = fault.to or fault.actor
        assert path is not None
        self._tap(path, count)
        while fired < limit:
            await due.wait()
            due = trio.Event()
            await self._fire(fault)
            fired += 1

    def stop_injecting(self) -> None:
        """No fault fires from now on (those active still end when due)."""
        self._stopped = True
        self._triggers.cancel()
        self.finished.set()

    # -- one fault --

    async def inject(self, fault: Fault) -> FaultRecord:
        """Apply ``fault`` now, whatever its trigger (for tests that drive faults by hand)."""
        record = await self._fire(fault, force=True)
        assert record is not None
        return record

    async def _fire(self, fault: Fault, *, force: bool = False) -> FaultRecord | None:
        now = trio.current_time()
        if not force and (self._stopped or now >= self._stop_at):
            return None
        undo: Undo | None = None
        error: str | None = None
        try:
            undo = await self._apply(fault)
        except Exception as exc:  # a fault that cannot be applied is reported, not fatal
            error = f"{type(exc).__name__}: {exc}"
        duration = fault.seconds if fault.timed else 0.0
        record = self.log.begin(fault.kind, fault.target, fault.describe(), duration, now, error)
        if error is None:
            log.warning("fault injected: %s", record.description)
            if fault.kind not in ACTOR_FAULTS:
                self._hit.add(fault.target)
        else:
            log.error("fault not applied: %s: %s", record.description, error)
        await self._journal(record, fault)
        if error is None:
            self._active[record.seq] = (record, undo)
            assert self._nursery is not None
            self._nursery.start_soon(self._end_later, record, fault)
        return record

    async def _journal(self, record: FaultRecord, fault: Fault) -> None:
        journal = self.system.lookup(JOURNAL)
        if journal is None:
            return
        event = FaultInjected(
            fault=record.kind,
            target=record.target,
            description=record.description,
            seconds=record.ends - record.started,
            error=record.error,
            at=record.wall,
        )
        try:
            await journal.send(Append(events=(event,), durable=False))
        except Exception as exc:  # a journal that cannot take it must not stop the plan
            log.error("fault %s not journaled: %r", record.description, exc)

    async def _end_later(self, record: FaultRecord, fault: Fault) -> None:
        await trio.sleep_until(record.ends)
        await self._end(record.seq)
        await self._measure(record, fault)

    async def _end(self, seq: int) -> None:
        entry = self._active.pop(seq, None)
        if entry is None:
            return
        record, undo = entry
        if undo is not None:
            try:
                await undo()
            except Exception as exc:
                log.error("ending fault %s failed: %r", record.description, exc)
        record.ended = True
        if record.ends > record.started:
            log.info("fault over: %s", record.description)

    async def _end_all(self) -> None:
        """End every active fault now; clear the venue faults of every venue hit."""
        for seq in list(self._active):
            await self._end(seq)
        for faults in self._mailboxes.values():
            faults.flush()
        for name in sorted(self._hit):
            handle = self.venues.get(name)
            if handle is not None:
                try:
                    await handle.fault("reset")
                except Exception as exc:
                    log.error("clearing the faults of venue %s failed: %r", name, exc)

    # -- applying --

    async def _apply(self, fault: Fault) -> Undo | None:
        system = self.system
        kind = fault.kind
        if kind in ACTOR_FAULTS:
            path = fault.actor
            assert path is not None
            system.mailbox(path)  # LookupError naming the path when no actor lives there
            if kind == "crash":
                crash_actor(system, path)
            elif kind == "stall":
                pause_actor(system, path, fault.seconds)
            elif kind == "delay_messages":
                return self._delay(path, fault.delay)
            elif kind == "drop_messages":
                return self._drop(path, fault.probability)
            elif kind == "fill_mailbox":
                return self._fill(path, fault.seconds)
            return None
        assert fault.venue is not None
        handle = self.venues.get(fault.venue)
        if handle is None:
            raise LookupError(f"no venue named {fault.venue!r} to inject into")
        action, kwargs, reset = _venue_call(fault)
        await handle.fault(action, **kwargs)
        if reset is None:
            return None
        key = (fault.venue, kind)
        self._users[key] = self._users.get(key, 0) + 1

        async def undo() -> None:
            self._users[key] -= 1
            if not self._users[key]:
                await handle.fault(action, **reset)

        return undo

    def _mailbox_faults(self, path: str) -> MailboxFaults:
        faults = self._mailboxes.get(path)
        if faults is None:
            rng = random.Random(f"{self.plan.seed}:{path}")
            faults = self._mailboxes[path] = MailboxFaults(self.system, path, rng)
            assert self._nursery is not None
            self._nursery.start_soon(faults.deliver)
        return faults

    def _tap(self, path: str, tap: Callable[[Any], None]) -> None:
        try:
            faults = self._mailbox_faults(path)
        except LookupError:
            log.warning("fault plan: no actor at %s to watch", path)
            return
        faults.taps.append(tap)
        faults.attach()

    def _delay(self, path: str, delay: float) -> Undo:
        faults = self._mailbox_faults(path)
        key = (path, "delay")
        self._users[key] = self._users.get(key, 0) + 1
        faults.delay = delay
        faults.attach()

        async def undo() -> None:
            self._users[key] -= 1
            if not self._users[key]:
                faults.delay = None
                faults.detach_if_idle()

        return undo

    def _drop(self, path: str, probability: float) -> Undo:
        faults = self._mailbox_faults(path)
        key = (path, "drop")
        self._users[key] = self._users.get(key, 0) + 1
        faults.drop_probability = probability
        faults.attach()

        async def undo() -> None:
            self._users[key] -= 1
            if not self._users[key]:
                faults.drop_probability = 0.0
                faults.detach_if_idle()

        return undo

    def _fill(self, path: str, seconds: float) -> Undo:
        mailbox = self.system.mailbox(path)
        original = self._capacity.setdefault(path, mailbox.capacity)
        key = (path, "fill")
        self._users[key] = self._users.get(key, 0) + 1
        # Full: nothing is handled meanwhile, and there is no room for one more message.
        mailbox.capacity = max(1, len(mailbox))
        pause_actor(self.system, path, seconds)

        async def undo() -> None:
            self._users[key] -= 1
            if not self._users[key]:
                mailbox.capacity = original

        return undo

    # -- recovery --

    def _order_tap(self, venue: str) -> Callable[[Any], None]:
        times = self._orders.setdefault(venue, [])

        def seen(message: Any) -> None:
            if type(message) is PlaceOrder:
                times.append(trio.current_time())
                if len(times) > 64:
                    del times[:32]
                # Wake every waiter once; later waiters wait on the next event.
                self._order_seen.set()
                self._order_seen = trio.Event()

        return seen

    def _touched(self, fault: Fault) -> tuple[set[str], set[str]]:
        """(venues whose books it touched, venues whose orders it touched)."""
        venues = set(self.symbols)
        if fault.kind not in ACTOR_FAULTS:
            name = fault.venue or ""
            books = (
                {name} if fault.kind not in ("rate_limit", "order_error", "clock_skew") else set()
            )
            return books & venues, {name} & venues
        path = fault.actor or ""
        for name in venues:
            if path in (f"/market/{name}",) or path.startswith(f"/books/{name}"):
                return {name}, {name}
            if path == exec_path(name):
                return set(), {name}
        if path.startswith(("/market", "/books")):
            return venues, venues
        return set(), venues

    async def _measure(self, record: FaultRecord, fault: Fault) -> None:
        books, orders = self._touched(fault)
        end = record.ends
        async with trio.open_nursery() as nursery:
            if books:
                nursery.start_soon(self._book_recovery, record, books, end)
            if orders:
                nursery.start_soon(self._order_recovery, record, orders, end)

    async def _book_recovery(self, record: FaultRecord, venues: set[str], end: float) -> None:
        pending = {(v, s) for v in venues for s in self.symbols.get(v, ())}
        with trio.move_on_at(end + RECOVERY_TIMEOUT):
            while pending:
                for venue, symbol in sorted(pending):
                    if await self._fresh_since(venue, symbol, end):
                        pending.discard((venue, symbol))
                if pending:
                    await trio.sleep(0.05)
            record.book_recovery = max(0.0, trio.current_time() - end)

    async def _fresh_since(self, venue: str, symbol: str, since: float) -> bool:
        ref = self.system.lookup(book_path(venue, symbol))
        if ref is None:
            return False
        try:
            view: BookView = await ref.ask(GetBook(), timeout=2.0)
        except Exception:
            return False
        snapshot: BookSnapshot | None = view.snapshot
        return not view.stale and snapshot is not None and snapshot.received_at > since

    async def _order_recovery(self, record: FaultRecord, venues: set[str], end: float) -> None:
        with trio.move_on_at(end + RECOVERY_TIMEOUT):
            while True:
                seen = self._order_seen
                firsts = [t for v in venues for t in self._orders.get(v, ()) if t > end]
                if firsts:
                    record.order_recovery = max(0.0, min(firsts) - end)
                    return
                await seen.wait()

    # -- the end --

    async def verify(self, timeout: float = 60.0) -> InvariantReport:
        """Stop injecting, end every fault, let the desk settle, check the seven invariants
        (also kept as ``report``); each is logged, a violation at ERROR."""
        self.stop_injecting()
        await self._end_all()
        # A venue refusing connections cannot be told to listen again before its deadline.
        refusals = [r.ends for r in self.log.records if r.ok and r.kind == "refuse_connections"]
        await trio.sleep_until(max(refusals, default=0.0))
        report = await check_desk(
            self.system,
            self.journal,
            self.venues,
            self.symbols,
            faults=self.log,
            hit_venues=self._hit,
            prefix=self.prefix,
            depth=self.depth,
            timeout=timeout,
            since=self._since,
        )
        self.report = report
        for result in report.results:
            (log.info if result.ok is not False else log.error)("invariant %s", result.line())
        return report


def _venue_call(fault: Fault) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """The venue knob of ``fault``: (method, arguments, arguments that undo it or None)."""
    kind = fault.kind
    if kind == "drop_websockets":
        return "drop_websockets", {}, None
    if kind == "stall_streams":
        return "stall_streams", {"seconds": fault.seconds}, None
    if kind == "stall_user_streams":
        return "stall_user_streams", {"seconds": fault.seconds}, None
    if kind == "sequence_gap":
        return "skip_update_ids", {"symbol": fault.symbol, "count": fault.count}, None
    if kind == "malformed_frame":
        return "send_malformed_frame", {"kind": fault.frame}, None
    if kind == "refuse_connections":
        return "refuse_connections", {"seconds": fault.seconds}, None
    if kind == "rate_limit":
        args = {"n": fault.count, "then_418": fault.then_418, "retry_after": fault.retry_after}
        return "rate_limit_next", args, None
    if kind == "order_error":
        args = {"mode": fault.mode, "count": fault.count, "status": fault.status}
        return "fail_next_order", {**args, "hold_s": fault.hold}, None
    if kind == "latency":
        return "add_latency", {"seconds": fault.delay}, {"seconds": 0.0}
    if kind == "clock_skew":
        return "skew_clock", {"ms": fault.skew_ms}, {"ms": 0}
    raise ValueError(f"{kind} is not a venue fault")
