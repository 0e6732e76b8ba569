"""The invariants a desk keeps through any fault, each checked with its evidence.

1. ``approved``: no order reached a venue without a risk approval in the journal.
2. ``unique``: no client order id was submitted twice, and no venue holds two orders for one
   intent.
3. ``reconciled``: every venue order of this account is known to the journal, in the same
   state, with the same fills (checked once nothing is in flight).
4. ``positions``: positions from the journal equal positions from the venue's trades.
5. ``books``: once the faults stop, every book equals the venue's own book (the venue's
   market paused to compare).
6. ``accounting``: no accepted message disappeared uncounted: per actor, received =
   processed + dropped + waiting + dead-lettered.
7. ``contained``: restarts happened only where faults hit, and no fault below the root took
   the process (or any part of it) down.

1-4 compare a journal with venue :class:`~actors.testing.venues.Ledger`s (read from an
embedded venue's engine, or over REST by ``actors verify``); 5-7 look at a running
``System``. :func:`check_desk` runs all seven on a running desk; the pure functions are
usable alone (``journal_invariants``, ``accounting``, ``contained``).

>>> # report = await check_desk(system, journal_path, venues, faults=runner.log)
>>> # assert report.ok, report.text()
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from actors.runtime import GaveUp, System
from actors.runtime.stats import ActorStats
from actors.testing.faultlog import FaultLog
from actors.testing.plan import ACTOR_FAULTS, VENUE_FAULTS
from actors.testing.venues import Ledger, VenueHandle
from actors.trading.config import JOURNAL, ROUTER, book_path, exec_path, market_path
from actors.trading.journal import Journal
from actors.trading.messages import Fill, RiskApproved, SubmitOrder
from actors.trading.orders import ACTIVE
from actors.trading.protocol import BookView, Flush, GetBook, GetOrders, ReconcileVenue

TITLES = {
    "approved": "no order reached a venue without a risk approval in the journal",
    "unique": "no client order id was submitted twice; no venue holds two orders for one intent",
    "reconciled": "every venue order is known to the journal, in the same state, with the "
    "same fills",
    "positions": "positions from the journal equal positions from the venue's trades",
    "books": "once the faults stop, every book equals the venue's own book",
    "accounting": "received = processed + dropped + waiting + dead-lettered, per actor",
    "contained": "restarts only where faults hit; no fault took down a part of the process",
}
MAX_EVIDENCE = 20
IN_FLIGHT = ("SUBMITTING", "UNKNOWN", "CANCELLING")


@dataclass(frozen=True, slots=True)
class InvariantResult:
    """One invariant: passed (True), violated (False) or not checked (None), and why."""

    name: str
    ok: bool | None
    evidence: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The invariant in words."""
        return TITLES.get(self.name, self.name)

    def line(self) -> str:
        """``PASS approved: <title> (<evidence>)``."""
        verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[self.ok]
        shown = "; ".join(self.evidence[:MAX_EVIDENCE])
        more = len(self.evidence) - MAX_EVIDENCE
        if more > 0:
            shown += f"; ... and {more} more"
        return f"{verdict} {self.name}: {self.title}" + (f" ({shown})" if shown else "")


@dataclass(slots=True)
class InvariantReport:
    """The results of a check; ``ok`` unless something was violated."""

    results: list[InvariantResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No invariant was violated (skipped ones do not count)."""
        return all(r.ok is not False for r in self.results)

    @property
    def violations(self) -> list[InvariantResult]:
        """The failed invariants."""
        return [r for r in self.results if r.ok is False]

    def text(self) -> str:
        """One line per invariant."""
        return "\n".join(r.line() for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        """For a JSON report."""
        return {
            "ok": self.ok,
            "violations": len(self.violations),
            "results": [
                {"name": r.name, "title": r.title, "ok": r.ok, "evidence": list(r.evidence)}
                for r in self.results
            ],
        }


# -- 1-4: the journal against the venues ---------------------------------------------------------


@dataclass(slots=True)
class JournalFacts:
    """What the invariants read from a journal."""

    approved: set[str]
    submits: Counter[str]
    fills: dict[str, set[str]]
    """Trade ids of the fills journaled per client order id."""
    orders: dict[str, tuple[str | None, str, Decimal]]
    """Per client order id: venue, status, filled (the larger of ours and the venue's)."""
    positions: dict[tuple[str, str], Decimal]
    """Net quantity per (venue, symbol) from the journaled fills (after ``since``)."""

    @classmethod
    def read(cls, path: str, since: int = 0) -> JournalFacts:
        """Read a journal file (a live one too: SQLite WAL lets readers in).

        ``since``: positions count only fills journaled after that seq, for a venue that
        started afresh then (an embedded venue lives as long as its process; the journal
        outlives both).
        """
        with Journal(path) as journal:
            # Every order ever, compacted history (the archive) included: a full replay.
            recovery = journal.recover(snapshots=False)
            approved: set[str] = set()
            submits: Counter[str] = Counter()
            fills: dict[str, set[str]] = {}
            seen: set[tuple[str, str, str]] = set()
            positions: dict[tuple[str, str], Decimal] = {}
            for event in journal.history():
                message = event.message
                if isinstance(message, RiskApproved):
                    approved.add(message.client_order_id)
                elif isinstance(message, SubmitOrder):
                    submits[message.client_order_id] += 1
                elif isinstance(message, Fill):
                    fills.setdefault(message.client_order_id, set()).add(message.trade_id)
                    key = (message.venue, message.symbol, message.trade_id)
                    if event.seq > since and key not in seen:  # a fill counts once
                        seen.add(key)
                        signed = message.amount if message.side == "buy" else -message.amount
                        where = (message.venue, message.symbol)
                        positions[where] = positions.get(where, Decimal(0)) + signed
        orders = {
            o.client_order_id: (o.venue, o.status.value, max(o.filled, o.venue_filled))
            for o in recovery.table
        }
        return cls(approved, submits, fills, orders, positions)

    @staticmethod
    def last_seq(path: str) -> int:
        """The seq of the newest record of the journal at ``path`` (0: none or no file)."""
        if not Path(path).is_file():
            return 0
        with Journal(path) as journal:
            return journal.last_seq()


def journal_invariants(
    journal: str | JournalFacts, ledgers: Mapping[str, Ledger | None]
) -> list[InvariantResult]:
    """Invariants 1-4: ``journal`` (a path, or facts already read) against the venues'
    ledgers by venue name (None: that venue's ledger could not be read)."""
    facts = journal if isinstance(journal, JournalFacts) else JournalFacts.read(journal)
    missing = sorted(name for name, ledger in ledgers.items() if ledger is None)
    ledgers_read = {name: ledger for name, ledger in ledgers.items() if ledger is not None}
    not_read = [f"venue {name}: ledger not available" for name in missing]
    orders_seen = sum(len(ledger.orders) for ledger in ledgers_read.values())

    unapproved = [
        f"{o.client_order_id} on {name}: at the venue, no RiskApproved in the journal"
        for name, ledger in ledgers_read.items()
        for o in ledger.orders
        if o.client_order_id not in facts.approved
    ]
    duplicates = [f"{cid}: {n} submit records" for cid, n in facts.submits.items() if n > 1]
    duplicates += [
        f"{cid} on {name}: {n} orders at the venue"
        for name, ledger in ledgers_read.items()
        for cid, n in ledger.placed().items()
        if n > 1
    ]
    mismatches: list[str] = []
    for name, ledger in ledgers_read.items():
        at_venue: set[str] = set()
        for o in ledger.orders:
            at_venue.add(o.client_order_id)
            ours = facts.orders.get(o.client_order_id)
            if ours is None:
                mismatches.append(f"{o.client_order_id} on {name}: {o.status.value} at the venue, "
                                  "unknown to the journal")  # fmt: skip
                continue
            _, status, filled = ours
            if status != o.status.value:
                mismatches.append(
                    f"{o.client_order_id} on {name}: {status} in the journal, "
                    f"{o.status.value} at the venue"
                )
            if filled != o.filled:
                mismatches.append(
                    f"{o.client_order_id} on {name}: filled {filled} in the journal, "
                    f"{o.filled} at the venue"
                )
            journaled = len(facts.fills.get(o.client_order_id, ()))
            if journaled != o.fills:
                mismatches.append(
                    f"{o.client_order_id} on {name}: {journaled} fills in the journal, "
                    f"{o.fills} at the venue"
                )
        for cid, (venue, status, _) in facts.orders.items():
            if venue == name and status in {s.value for s in ACTIVE} and cid not in at_venue:
                mismatches.append(f"{cid} on {name}: {status} in the journal, not at the venue")
    positions: list[str] = []
    for name, ledger in ledgers_read.items():
        symbols = {s for (v, s) in facts.positions if v == name} | set(ledger.traded)
        for symbol in sorted(symbols):
            ours = facts.positions.get((name, symbol), Decimal(0))
            theirs = ledger.traded.get(symbol, Decimal(0))
            if ours != theirs:
                positions.append(f"{symbol} on {name}: {ours} in the journal, {theirs} traded")
    checked = f"{orders_seen} venue orders, {len(facts.orders)} journaled"
    return [
        _result("approved", unapproved, [checked, *not_read], ledgers_read),
        _result("unique", duplicates, [checked, *not_read], ledgers_read),
        _result("reconciled", mismatches, [checked, *not_read], ledgers_read),
        _result(
            "positions",
            positions,
            [f"{len(facts.positions)} positions", *not_read],
            ledgers_read,
        ),
    ]


def _result(
    name: str, violations: list[str], seen: list[str], ledgers: Mapping[str, Ledger]
) -> InvariantResult:
    if violations:
        return InvariantResult(name, False, tuple(violations))
    if not ledgers:
        return InvariantResult(name, None, tuple(seen))
    return InvariantResult(name, True, tuple(seen))


# -- 6-7: what the runtime counted ------------------------------------------------------------


def accounting(stats: Mapping[str, ActorStats], *, running: bool = False) -> InvariantResult:
    """Invariant 6 on ``System.all_stats()``. While the tree runs (``running``), an actor
    may hold one message in its handler, neither waiting nor processed yet."""
    problems = []
    for path, s in sorted(stats.items()):
        counted = s.processed + s.dropped + s.depth + s.dead_letters
        in_hand = s.received - counted
        allowed = 1 if running and s.state in ("running", "stopping") else 0
        if not 0 <= in_hand <= allowed:
            problems.append(
                f"{path}: received {s.received} != processed {s.processed} + dropped "
                f"{s.dropped} + waiting {s.depth} + dead-lettered {s.dead_letters}"
            )
    if problems:
        return InvariantResult("accounting", False, tuple(problems))
    received = sum(s.received for s in stats.values())
    return InvariantResult("accounting", True, (f"{len(stats)} actors, {received} messages",))


def blast_radius(faults: FaultLog | None, venues: Iterable[str] = ()) -> Callable[[str], bool]:
    """Whether a restart at a path is explained by a fault of ``faults``: an actor fault
    explains its target and what is under it; a venue fault explains that venue's feed,
    session and books. ``venues`` adds venues hit by faults injected some other way."""
    actors: set[str] = set()
    hit = set(venues)
    for record in faults.records if faults is not None else ():
        if not record.ok:
            continue
        if record.kind in ACTOR_FAULTS:
            actors.add(record.target)
        elif record.kind in VENUE_FAULTS:
            hit.add(record.target)
    for name in hit:
        actors |= {market_path(name), exec_path(name), f"/books/{name}"}
    return lambda path: any(path == a or path.startswith(a + "/") for a in actors)


def contained(
    stats: Mapping[str, ActorStats],
    gave_up: Sequence[GaveUp],
    explained: Callable[[str], bool],
) -> InvariantResult:
    """Invariant 7: every restart is ``explained``; no supervisor gave up on anything."""
    stray = [
        f"{path}: {s.restarts} restart(s) where no fault hit (last crash: {s.last_crash})"
        for path, s in sorted(stats.items())
        if s.restarts and not explained(path)
    ]
    downs = [
        f"{g.path} gave up on {g.child or 'itself'} after {g.restarts} restarts in "
        f"{g.within:g}s: {type(g.error).__name__}: {g.error}"
        for g in gave_up
    ]
    if stray or downs:
        return InvariantResult("contained", False, tuple(downs + stray))
    restarted = {p: s.restarts for p, s in stats.items() if s.restarts}
    shown = ", ".join(f"{p} {n}" for p, n in sorted(restarted.items())) or "no restarts"
    return InvariantResult("contained", True, (shown,))


# -- 5: the books ---------------------------------------------------------------------------------


async def books_match(
    system: System,
    venues: Mapping[str, VenueHandle],
    symbols: Mapping[str, Sequence[str]],
    *,
    depth: int = 20,
    timeout: float = 20.0,
) -> InvariantResult:
    """Invariant 5: pause each venue's market, wait (bounded) until every desk book equals
    the venue's own, resume. The evidence of a failure is the last difference seen."""
    for handle in venues.values():
        await handle.pause_market()
    pending = {(v, s) for v, names in symbols.items() if v in venues for s in names}
    last: dict[tuple[str, str], str] = {}
    try:
        with trio.move_on_after(timeout):
            while pending:
                for venue, symbol in sorted(pending):
                    difference = await _book_difference(system, venues[venue], venue, symbol, depth)
                    if difference is None:
                        pending.discard((venue, symbol))
                    else:
                        last[(venue, symbol)] = difference
                if pending:
                    await trio.sleep(0.05)
    finally:
        with trio.CancelScope(shield=True):
            for handle in venues.values():
                await handle.resume_market()
    if pending:
        return InvariantResult(
            "books",
            False,
            tuple(f"{v} {s}: {last.get((v, s), 'never compared')}" for v, s in sorted(pending)),
        )
    count = sum(len(names) for v, names in symbols.items() if v in venues)
    return InvariantResult("books", True, (f"{count} books equal to the venue's own",))


async def _book_difference(
    system: System, handle: VenueHandle, venue: str, symbol: str, depth: int
) -> str | None:
    ref = system.lookup(book_path(venue, symbol))
    if ref is None:
        return "no book actor"
    try:
        view: BookView = await ref.ask(GetBook(), timeout=2.0)
    except Exception as exc:  # a restarting book is a difference, not an error
        return f"book not answering: {type(exc).__name__}"
    snapshot = view.snapshot
    if snapshot is None:
        return "no snapshot yet"
    own = await handle.book(symbol, depth)
    if own["lastUpdateId"] != own["publishedUpdateId"]:
        return "the venue has unpublished changes"
    if snapshot.nonce != own["publishedUpdateId"]:
        return f"nonce {snapshot.nonce}, the venue's {own['publishedUpdateId']}"
    for side in ("bids", "asks"):
        ours = [list(level) for level in getattr(snapshot, side)]
        theirs = [list(level) for level in own[side][: max(depth, len(ours))]]
        if ours != theirs[: len(ours)] or len(ours) != min(depth, len(own[side])):
            return f"{side} differ: ours {ours[:3]}..., the venue's {theirs[:3]}..."
    return None


# -- all seven on a running desk ------------------------------------------------------------------


async def settled(system: System, timeout: float = 30.0) -> bool:
    """Wait (bounded) until the router has no order in flight (submitting, unknown,
    cancelling) and the journal has committed what is queued; whether it got there."""
    router = system.lookup(ROUTER)
    with trio.move_on_after(timeout):
        while router is not None:
            try:
                views = await router.ask(GetOrders(active_only=True), timeout=5.0)
            except Exception:
                await trio.sleep(0.2)
                continue
            if not any(v.status.value in IN_FLIGHT for v in views):
                break
            await trio.sleep(0.1)
        journal = system.lookup(JOURNAL)
        if journal is not None:
            await journal.ask(Flush(), timeout=10.0)
        return True
    return False


async def _journal_checks(
    system: System,
    journal: str,
    venues: Mapping[str, VenueHandle],
    prefix: str,
    timeout: float,
    since: int,
) -> list[InvariantResult]:
    """Invariants 1-4 once the desk has settled, compared again (after asking the router to
    reconcile) while they fail and time is left: an outcome still on its way (a fill in a
    stream that just reconnected) converges, a real violation persists to the deadline."""
    deadline = trio.current_time() + timeout
    router = system.lookup(ROUTER)
    while True:
        settled_in_time = await settled(system, max(0.0, deadline - trio.current_time()))
        facts = await trio.to_thread.run_sync(JournalFacts.read, journal, since)
        ledgers = {name: handle.ledger(prefix) for name, handle in venues.items()}
        results = journal_invariants(facts, ledgers)
        if all(r.ok is not False for r in results) or trio.current_time() >= deadline:
            break
        if router is not None:
            # A router restarting now is asked again in the next round.
            with trio.move_on_after(max(0.0, deadline - trio.current_time())), suppress(Exception):
                await router.ask(ReconcileVenue(), timeout=10.0)
        await trio.sleep(0.2)
    if not settled_in_time:
        results = [
            InvariantResult(r.name, r.ok, (*r.evidence, "the router never settled"))
            for r in results
        ]
    return results


async def check_desk(
    system: System,
    journal: str | None,
    venues: Mapping[str, VenueHandle],
    symbols: Mapping[str, Sequence[str]],
    *,
    faults: FaultLog | None = None,
    hit_venues: Iterable[str] = (),
    prefix: str = "ax",
    depth: int = 20,
    timeout: float = 30.0,
    since: int = 0,
) -> InvariantReport:
    """All seven invariants on a running desk, once its router has settled.

    ``venues``: handles by venue name (``LocalVenue`` gives ledgers); ``symbols``: the
    symbols of each venue's books; ``faults``: what explains restarts (plus ``hit_venues``
    for venue faults applied by hand); ``since``: the journal seq when the venues started
    (positions are compared from there). Call it with the faults over.
    """
    results: list[InvariantResult] = []
    # Frozen markets: a resting order of ours filled between reading the journal and reading
    # the venue would look like a lost fill. books_match resumes them when it is done.
    for handle in venues.values():
        await handle.pause_market()
    try:
        if journal is not None and journal != ":memory:":
            results += await _journal_checks(system, journal, venues, prefix, timeout, since)
        else:
            results += [InvariantResult(n, None, ("no journal file",)) for n in list(TITLES)[:4]]
    except BaseException:
        with trio.CancelScope(shield=True):
            for handle in venues.values():
                await handle.resume_market()
        raise
    results.append(await books_match(system, venues, symbols, depth=depth, timeout=timeout))
    results.append(accounting(system.all_stats(), running=not system.stopped.is_set()))
    explained = blast_radius(faults, hit_venues)
    results.append(contained(system.all_stats(), system.gave_up, explained))
    return InvariantReport(results)
