"""The durable, append-only journal of order events (SQLite, WAL).

Every intent, risk decision, submit, ack, fill, cancel, status change, reconciliation and
trading-state change is appended *before* the next step acts on it; :meth:`Journal.append`
returns only after the transaction committed, so a killed process restarts into the same
order state with :meth:`Journal.recover`. Faults injected on purpose by a fault plan
(``actors.testing``) are journaled too (kind ``fault``), so a chaos run can be read
afterwards; replay passes over them.

How durable a commit is, is ``sync`` (the desk's ``journal.sync``):

* ``"normal"`` (the default, SQLite's ``synchronous=NORMAL`` in WAL mode): a commit is in the
  operating system's hands when it returns (about 0.05-0.25 ms): it survives any crash of the
  process, SIGKILL included, but a power loss (or a kernel crash) may take the last commits
  with it. The desk covers that with the venue as the second source of truth: client order ids
  come from durable leases (:mod:`actors.trading.leases`), and at start-up every leased id the
  journal lacks is looked up at the venue and adopted.
* ``"full"`` (``synchronous=FULL``): every commit is fsync'd before it returns (0.5-10 ms on a
  shared virtual disk), so not even a power loss takes a committed record.

Schema version 2 (a version-1 file is upgraded in place when opened; a program that reads
version 1 refuses a version-2 file, whose history may be compacted)::

    meta(key TEXT PRIMARY KEY, value TEXT)      -- schema, version, desk
    events(seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL, kind TEXT,
           client_order_id TEXT, payload BLOB)  -- payload: msgspec JSON of the message
    quarantine(seq INTEGER PRIMARY KEY, at REAL, kind TEXT, client_order_id TEXT,
               payload BLOB, reason TEXT)
    snapshots(seq INTEGER PRIMARY KEY, at REAL, format INTEGER, digest TEXT, body BLOB)
    venues(name TEXT PRIMARY KEY, kind TEXT, identity TEXT, since REAL)

Replay is total: :meth:`Journal.recover` applies every record it can and quarantines the
rest (undecodable bytes, a kind that does not match its payload, invalid values, an event
out of order or for an unknown order, a duplicate): the record stays where it is, a copy and
the reason go to the ``quarantine`` table, and every later read skips it. A quarantined
record is reported (logged by the journal actor, counted), never a reason not to start.

Start-up time is bounded by snapshots: :meth:`Journal.checkpoint` writes the replayed state
(:class:`~actors.trading.journal_state.DeskState`: orders, positions, trading state) as one
row of ``snapshots`` after record ``seq``, in one transaction like any append, and keeps the
newest two. :meth:`Journal.recover` starts from the newest snapshot whose digest checks and
replays only the records after it; a snapshot that cannot be used is reported and the next
older one is tried, then a full replay. Compaction then moves the records that no snapshot
and no restart needs (at or before the older kept snapshot, of orders no longer in the
state: terminal ones past the retention window) to the archive, ``<journal>.archive``, a
SQLite file of the same ``events`` rows; a full replay reads the archive and the journal
together, so even a journal whose every snapshot is unreadable replays its whole history.

``venues`` records which venue sessions (embedded venues) and accounts (real exchanges) the
journal belongs to, ``meta`` the desk's name: see :mod:`actors.trading.journal_session`.

Methods are synchronous and guarded by one lock; the connection is opened with
``check_same_thread=False`` so the owning actor can call them through
``trio.to_thread.run_sync`` on a worker thread.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "j.sqlite")
>>> with Journal(path) as journal:
...     journal.append("trading_state", SetTradingState(state=TradingState.HALTED, reason="x"))
1
"""

from __future__ import annotations

import heapq
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from actors.trading.journal_state import (
    DeskState,
    Replay,
    SnapshotCorrupt,
    decode_snapshot,
    encode_snapshot,
)
from actors.trading.messages import (
    AnyMessage,
    CancelOrder,
    CancelRejected,
    FaultInjected,
    Fill,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    ReconcileResult,
    RiskApproved,
    RiskRejected,
    SetTradingState,
    SubmitOrder,
    SubmitUnknown,
    TradingState,
    TradingStateChanged,
    client_order_id_of,
    decode,
    encode,
)
from actors.trading.orders import OrderTable
from actors.trading.positions import Portfolio

SCHEMA_NAME = "actors.journal"
ARCHIVE_SCHEMA_NAME = "actors.journal.archive"
SCHEMA_VERSION = 2
KEEP_SNAPSHOTS = 2
"""Snapshots kept: the newest, and one to fall back on should it be unreadable."""
_PAGE = 512
_COMPACT_BATCH = 1000
_COMPACT_SCAN = 5000

KINDS: dict[str, tuple[type[Message], ...]] = {
    "intent": (OrderIntent,),
    "risk_decision": (RiskApproved, RiskRejected),
    "submit": (SubmitOrder,),
    "ack": (OrderUpdate,),
    "fill": (Fill,),
    "cancel_request": (CancelOrder,),
    "cancel": (OrderUpdate,),
    "state": (OrderUpdate, SubmitUnknown, CancelRejected),
    "reconcile": (ReconcileResult,),
    "trading_state": (SetTradingState, TradingStateChanged),
    "fault": (FaultInjected,),
}
"""Journal kinds and the message types each may carry."""

SYNC_MODES = ("normal", "full")
"""Values of ``Journal(sync=...)`` (the desk's ``journal.sync``)."""

_Row = tuple[int, float, str, "str | None", "bytes | str"]
"""(seq, at, kind, client_order_id, payload) of one stored record."""


def kind_of(msg: Message) -> str:
    """The journal kind of a message (an OrderUpdate is 'ack', 'cancel' or 'state')."""
    if isinstance(msg, OrderUpdate):
        if msg.status is OrderStatus.OPEN:
            return "ack"
        if msg.status is OrderStatus.CANCELLED:
            return "cancel"
        return "state"
    for kind, types in KINDS.items():
        if isinstance(msg, types):
            return kind
    raise JournalError(f"{type(msg).__name__} is not a journal message")


def archive_path_of(path: str | Path) -> str:
    """Where the archive of the journal at ``path`` lives (``<path>.archive``)."""
    return f"{path}.archive"


class JournalError(Exception):
    """The journal cannot be opened, written or read."""


class JournalCorrupt(JournalError):
    """A stored row cannot be decoded or replayed; names the seq."""

    def __init__(self, path: str, seq: int, problem: str) -> None:
        super().__init__(f"journal {path}: event seq={seq}: {problem}")
        self.path = path
        self.seq = seq


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record replay could not apply (kept in the journal, skipped by reads)."""

    seq: int
    kind: str
    client_order_id: str | None
    reason: str


@dataclass(slots=True)
class Recovery:
    """What :meth:`Journal.recover` rebuilt, and what it had to set aside."""

    table: OrderTable
    portfolio: Portfolio
    trading_state: TradingState | None
    quarantined: list[Quarantined]
    """Records set aside by this recovery (earlier ones are already in the table)."""
    quarantined_total: int
    """Every record ever set aside in this journal."""
    replay: Replay | None = None
    """The state itself, to continue from (the journal actor keeps it for its snapshots)."""
    snapshot_seq: int = 0
    """The snapshot it started from (0: none, a replay from the first record)."""
    replayed: int = 0
    """Records replayed after the snapshot."""
    fallbacks: list[str] = field(default_factory=list)
    """Snapshots that could not be used, and why (each one is a line for the log)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What :meth:`Journal.checkpoint` did."""

    seq: int
    """The snapshot covers every record up to this one."""
    orders: int
    size: int
    """Bytes of the snapshot body."""
    pruned: int
    """Terminal orders dropped from the state (past the retention window)."""
    archived: int
    """Records moved from the journal to its archive."""
    quarantined: list[Quarantined]
    compact_upto: int = 0
    """Records up to this seq that are not of an order in ``keep`` are no longer needed."""
    keep: frozenset[str] = frozenset()
    """Orders still in the state (their records stay)."""


@dataclass(frozen=True, slots=True)
class VenueStamp:
    """Which session (embedded venue) or account (real exchange) a journal belongs to."""

    kind: str
    """``session`` or ``account``."""
    identity: str
    since: float
    """Wall-clock time it was recorded."""


@dataclass(frozen=True, slots=True)
class Header:
    """The journal's owner: the desk's name and a stamp per venue."""

    desk: str | None
    venues: dict[str, VenueStamp]


@dataclass(frozen=True, slots=True)
class JournalEvent:
    seq: int
    at: float
    """Wall-clock seconds (epoch) when appended."""
    kind: str
    client_order_id: str | None
    message: AnyMessage


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


class Journal:
    """An open journal file. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        path: str | Path,
        *,
        wall_clock: Callable[[], float] = time.time,
        sync: str = "normal",
    ) -> None:
        if sync not in SYNC_MODES:
            raise JournalError(f"journal {path}: sync must be one of {SYNC_MODES}, got {sync!r}")
        self.path = str(path)
        self.sync = sync
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._archive: sqlite3.Connection | None = None
        self.archive_path: str | None = (
            None if self.path == ":memory:" else archive_path_of(self.path)
        )
        """Where compacted records go (None for an in-memory journal: nothing is archived)."""
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: cannot open: {exc}") from exc
        try:
            self._init_schema()
        except BaseException:
            self._conn.close()
            raise

    def _init_schema(self) -> None:
        conn = self._conn
        try:
            tables = _tables(conn)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.path}: not an SQLite database ({exc})") from exc
        if tables and "meta" not in tables:
            raise JournalError(
                f"journal {self.path}: not a journal (tables {sorted(tables)}, no 'meta')"
            )
        version = SCHEMA_VERSION
        if tables:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            if meta.get("schema") != SCHEMA_NAME:
                raise JournalError(
                    f"journal {self.path}: not a journal (schema {meta.get('schema')!r})"
                )
            try:
                version = int(meta.get("version", ""))
            except ValueError:
                raise JournalError(
                    f"journal {self.path}: unreadable schema version {meta.get('version')!r}"
                ) from None
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {self.path}: schema version {version} is newer than this "
                    f"program's {SCHEMA_VERSION}; upgrade the program"
                )
        else:
            # Compaction frees pages; a new file gives them back to the file system.
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"journal {self.path}: cannot switch to WAL (mode {mode})")
        # NORMAL in WAL mode: a commit is written, not fsync'd (see the module docstring).
        conn.execute(f"PRAGMA synchronous={self.sync.upper()}")
        if not tables:
            with self._transaction():
                conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                conn.execute(
                    "CREATE TABLE events ("
                    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " at REAL NOT NULL,"
                    " kind TEXT NOT NULL,"
                    " client_order_id TEXT,"
                    " payload BLOB NOT NULL)"
                )
                conn.execute("CREATE INDEX events_order ON events (client_order_id, seq)")
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema", SCHEMA_NAME), ("version", str(SCHEMA_VERSION))],
                )
        # Added after version 1 shipped; an older file gets them on first open.
        with self._transaction():
            conn.execute(
                "CREATE TABLE IF NOT EXISTS quarantine ("
                " seq INTEGER PRIMARY KEY, at REAL, kind TEXT, client_order_id TEXT,"
                " payload BLOB, reason TEXT NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS snapshots ("
                " seq INTEGER PRIMARY KEY, at REAL NOT NULL, format INTEGER NOT NULL,"
                " digest TEXT NOT NULL, body BLOB NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS venues ("
                " name TEXT PRIMARY KEY, kind TEXT NOT NULL, identity TEXT NOT NULL,"
                " since REAL NOT NULL)"
            )
            if version < SCHEMA_VERSION:
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'version'", (str(SCHEMA_VERSION),)
                )

    def _transaction(self) -> _Tx:
        return _Tx(self._conn)

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._archive is not None:
                self._archive.close()
                self._archive = None
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------

    def _row(self, kind: str, msg: Message, at: float) -> tuple[float, str, str | None, bytes]:
        allowed = KINDS.get(kind)
        if allowed is None:
            raise JournalError(f"journal {self.path}: unknown kind {kind!r} (known: {list(KINDS)})")
        if not isinstance(msg, allowed):
            raise JournalError(
                f"journal {self.path}: kind {kind!r} cannot carry {type(msg).__name__} "
                f"(expects {', '.join(t.__name__ for t in allowed)})"
            )
        return (at, kind, client_order_id_of(msg), encode(msg))

    def append(self, kind: str, msg: Message) -> int:
        """Append one event; returns its seq once committed."""
        row = self._row(kind, msg, self._wall_clock())
        with self._lock, self._transaction():
            cur = self._conn.execute(
                "INSERT INTO events (at, kind, client_order_id, payload) VALUES (?, ?, ?, ?)",
                row,
            )
            seq = cur.lastrowid
        assert seq is not None
        return seq

    def append_message(self, msg: Message) -> int:
        """Append with the kind derived by :func:`kind_of`."""
        return self.append(kind_of(msg), msg)

    def append_many(self, items: Iterable[tuple[str, Message]]) -> list[int]:
        """Append several events in one transaction (all or none); returns their seqs."""
        at = self._wall_clock()
        rows = [self._row(kind, msg, at) for kind, msg in items]
        seqs = []
        with self._lock, self._transaction():
            for row in rows:
                cur = self._conn.execute(
                    "INSERT INTO events (at, kind, client_order_id, payload) VALUES (?, ?, ?, ?)",
                    row,
                )
                assert cur.lastrowid is not None
                seqs.append(cur.lastrowid)
        return seqs

    # --- reading -------------------------------------------------------------------------

    def last_seq(self) -> int:
        """The newest record's seq (0 for an empty journal), compacted records included."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()
            seq = int(row[0] or 0)
            if not seq:
                # Every record compacted away: AUTOINCREMENT still knows the last seq.
                found = self._conn.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
                ).fetchone()
                seq = int(found[0]) if found else 0
        return seq

    def accounted_ids(self, client_order_ids: Iterable[str]) -> set[str]:
        """Those of ``client_order_ids`` the journal accounts for (archived records too): a
        submit record (the order may have been sent; reconciliation follows it) or a risk
        rejection (never sent). Any other id was never sent, or a power loss took its submit
        record: only the venue can say which (:mod:`actors.trading.leases`)."""
        wanted = list(dict.fromkeys(client_order_ids))
        found = {cid for cid, _ in self._records_of(wanted, "submit")}
        rest = [cid for cid in wanted if cid not in found]
        for cid, payload in self._records_of(rest, "risk_decision"):
            try:
                if isinstance(decode(payload), RiskRejected):
                    found.add(cid)
            except (msgspec.DecodeError, TypeError):
                continue  # quarantined at recovery; not proof the order was never sent
        return found

    def _records_of(self, cids: list[str], kind: str) -> Iterator[tuple[str, bytes | str]]:
        """(client_order_id, payload) of the ``kind`` records of ``cids``, journal and archive."""
        archive = self._open_archive(create=False)
        for i in range(0, len(cids), 500):
            chunk = cids[i : i + 500]
            query = (
                "SELECT client_order_id, payload FROM events WHERE kind = ?"
                f" AND client_order_id IN ({','.join('?' * len(chunk))})"
            )
            with self._lock:
                rows = self._conn.execute(query, (kind, *chunk)).fetchall()
                if archive is not None:
                    rows += archive.execute(query, (kind, *chunk)).fetchall()
            yield from rows

    def events(
        self, since_seq: int = 0, client_order_id: str | None = None
    ) -> Iterator[JournalEvent]:
        """Events with seq > ``since_seq`` in order (read page by page, lock not held between).

        Records compacted into the archive are not among them. Quarantined records are
        skipped; a record that cannot be decoded and was not quarantined yet (no
        :meth:`recover` since it was written) raises :class:`JournalCorrupt`.
        """
        last = since_seq
        while True:
            rows = self._page(last, client_order_id)
            for seq, at, kind, cid, payload in rows:
                last = seq
                yield JournalEvent(seq, at, kind, cid, self._decode(seq, kind, payload))
            if len(rows) < _PAGE:
                return

    def history(self) -> Iterator[JournalEvent]:
        """Every record ever written, the archive's and the journal's, in seq order
        (quarantined ones left out; an undecodable one raises as in :meth:`events`)."""
        for seq, at, kind, cid, payload in self._history():
            yield JournalEvent(seq, at, kind, cid, self._decode(seq, kind, payload))

    def _page(self, after: int, client_order_id: str | None = None) -> list[Any]:
        """The next rows after seq ``after`` that are not quarantined."""
        where = "seq > ? AND seq NOT IN (SELECT seq FROM quarantine)"
        args: tuple[Any, ...] = (after,)
        if client_order_id is not None:
            where += " AND client_order_id = ?"
            args += (client_order_id,)
        with self._lock:
            return self._conn.execute(
                "SELECT seq, at, kind, client_order_id, payload FROM events"
                f" WHERE {where} ORDER BY seq LIMIT ?",
                (*args, _PAGE),
            ).fetchall()

    def _rows(self, after: int) -> Iterator[_Row]:
        """Every row after seq ``after`` that is not quarantined, page by page."""
        while True:
            rows = self._page(after)
            yield from rows
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def _archived_rows(self) -> Iterator[_Row]:
        """The archive's rows in seq order, quarantined ones left out (none: no archive)."""
        archive = self._open_archive(create=False)
        if archive is None:
            return
        with self._lock:
            skip = {row[0] for row in self._conn.execute("SELECT seq FROM quarantine")}
        after = 0
        while True:
            with self._lock:
                rows = archive.execute(
                    "SELECT seq, at, kind, client_order_id, payload FROM events"
                    " WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, _PAGE),
                ).fetchall()
            yield from (row for row in rows if row[0] not in skip)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def _history(self) -> Iterator[_Row]:
        """Every record ever written, archive and journal merged in seq order (a record
        found in both, because compaction was interrupted between the two, comes once)."""
        last = 0
        for row in heapq.merge(self._archived_rows(), self._rows(0), key=lambda r: r[0]):
            if row[0] != last:
                last = row[0]
                yield row

    def _decode(self, seq: int, kind: str, payload: bytes | str) -> AnyMessage:
        try:
            msg = decode(payload)
        except (msgspec.DecodeError, TypeError) as exc:
            raise JournalCorrupt(self.path, seq, f"undecodable payload ({exc})") from exc
        allowed = KINDS.get(kind)
        if allowed is None or not isinstance(msg, allowed):
            raise JournalCorrupt(self.path, seq, f"kind {kind!r} holds a {type(msg).__name__}")
        return msg

    # --- recovery ------------------------------------------------------------------------

    def recover(
        self, now: float = 0.0, unknown_grace: float = 30.0, *, snapshots: bool = True
    ) -> Recovery:
        """Rebuild the state: the newest usable snapshot plus every record after it, or (none
        usable) every record from the first; quarantine what does not apply (never raises
        for a bad record or a bad snapshot).

        ``now`` is the caller's trio clock: replayed events get it as their time, and orders
        still in flight restart their reconciliation grace period from it (trio's clock has a
        new origin in a new process, so old clock values mean nothing). ``snapshots=False``
        ignores the snapshots (a full replay, to compare with).
        """
        replay, fallbacks = self._from_snapshot(now, unknown_grace) if snapshots else (None, [])
        start = replay.seq if replay is not None else 0
        if replay is None:
            replay = Replay(unknown_grace, now)
            rows = self._history()
        else:
            rows = self._rows(replay.seq)
        replayed, found = self._apply(replay, rows)
        replay.table.rebase_clock(now)
        return Recovery(
            replay.table,
            replay.portfolio,
            replay.trading_state,
            found,
            len(self.quarantined()),
            replay,
            start,
            replayed,
            fallbacks,
        )

    def advance(self, replay: Replay) -> tuple[int, list[Quarantined]]:
        """Apply to ``replay`` every record appended after its seq; (records applied or set
        aside, those set aside)."""
        return self._apply(replay, self._rows(replay.seq))

    def _apply(self, replay: Replay, rows: Iterable[_Row]) -> tuple[int, list[Quarantined]]:
        found: list[tuple[Quarantined, float, bytes | str]] = []
        count = 0
        for seq, at, kind, cid, payload in rows:
            count += 1
            try:
                replay.apply(seq, at, self._decode(seq, kind, payload))
            except Exception as exc:  # total: whatever a record holds, it is set aside
                reason = str(exc) if isinstance(exc, JournalCorrupt) else f"cannot replay: {exc}"
                found.append((Quarantined(seq, kind, cid, reason), at, payload))
        if found:
            with self._lock, self._transaction():
                self._conn.executemany(
                    "INSERT OR IGNORE INTO quarantine"
                    " (seq, at, kind, client_order_id, payload, reason) VALUES (?, ?, ?, ?, ?, ?)",
                    [(q.seq, at, q.kind, q.client_order_id, p, q.reason) for q, at, p in found],
                )
        return count, [q for q, _, _ in found]

    def _from_snapshot(self, now: float, unknown_grace: float) -> tuple[Replay | None, list[str]]:
        """The state of the newest snapshot that can be used, and why the newer ones not."""
        fallbacks: list[str] = []
        try:
            with self._lock:
                seqs = [r[0] for r in self._conn.execute("SELECT seq FROM snapshots")]
        except sqlite3.Error as exc:
            return None, [f"snapshots cannot be read ({exc})"]
        for seq in sorted(seqs, reverse=True):
            try:
                with self._lock:
                    digest, body = self._conn.execute(
                        "SELECT digest, body FROM snapshots WHERE seq = ?", (seq,)
                    ).fetchone()
                state = decode_snapshot(body, digest)
                if state.seq != seq:
                    raise SnapshotCorrupt(f"its body says seq {state.seq}")
                return Replay.of_state(state, unknown_grace, now), fallbacks
            except Exception as exc:  # whatever is wrong with it, the next one is tried
                fallbacks.append(f"snapshot at seq {seq} cannot be used: {exc}")
        return None, fallbacks

    def quarantined(self) -> list[Quarantined]:
        """Every record set aside so far, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, client_order_id, reason FROM quarantine ORDER BY seq"
            ).fetchall()
        return [Quarantined(*row) for row in rows]

    def rebuild(self, now: float = 0.0, unknown_grace: float = 30.0) -> OrderTable:
        """The order table :meth:`recover` rebuilds (bad records quarantined, not raised)."""
        return self.recover(now, unknown_grace).table

    def rebuild_portfolio(self) -> Portfolio:
        """Positions from every journaled fill that applies (see :meth:`recover`)."""
        return self.recover().portfolio

    def last_trading_state(self) -> TradingState | None:
        """The trading state most recently journaled (to restart HALTED if it was)."""
        return self.recover().trading_state

    # --- snapshots and compaction --------------------------------------------------------

    def snapshot_seqs(self) -> list[int]:
        """The seqs of the snapshots kept, oldest first."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT seq FROM snapshots ORDER BY seq")]

    def write_snapshot(self, state: DeskState) -> int:
        """Store ``state`` as the snapshot after record ``state.seq``, keep the newest
        :data:`KEEP_SNAPSHOTS`; the oldest seq kept (no restart needs records at or before
        it, except those of orders still in the state)."""
        body, digest = encode_snapshot(state)  # outside the lock: the appends go on
        with self._lock, self._transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO snapshots (seq, at, format, digest, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (state.seq, self._wall_clock(), state.format, digest, body),
            )
            self._conn.execute(
                "DELETE FROM snapshots WHERE seq NOT IN"
                " (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                (KEEP_SNAPSHOTS,),
            )
            oldest = self._conn.execute("SELECT MIN(seq) FROM snapshots").fetchone()[0]
        return int(oldest)

    def checkpoint(
        self,
        replay: Replay,
        *,
        retention: float = 3600.0,
        retain_orders: int = 10_000,
    ) -> Checkpoint:
        """:meth:`snapshot`, then :meth:`compact` what it allows; what both did."""
        done = self.snapshot(replay, retention=retention, retain_orders=retain_orders)
        return replace(done, archived=self.compact(done.compact_upto, done.keep))

    def snapshot(
        self,
        replay: Replay,
        *,
        retention: float = 3600.0,
        retain_orders: int = 10_000,
    ) -> Checkpoint:
        """Bring ``replay`` up to the last record, drop terminal orders past the retention
        window from it and snapshot it (nothing archived yet: see ``compact_upto``).

        Runs beside the appends (on a worker thread): the lock is held only per page read
        and for the snapshot's insert.
        """
        _, found = self.advance(replay)
        pruned = replay.prune(self._wall_clock(), retention, retain_orders)
        state = replay.state()
        oldest = self.write_snapshot(state)
        return Checkpoint(
            state.seq, len(state.orders), self._snapshot_size(state.seq), len(pruned), 0, found,
            compact_upto=oldest, keep=frozenset(o.intent.client_order_id for o in state.orders),
        )  # fmt: skip

    def _snapshot_size(self, seq: int) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT length(body) FROM snapshots WHERE seq = ?", (seq,)
            ).fetchone()
        return int(row[0]) if row else 0

    def compact(self, upto: int, keep: Set[str]) -> int:
        """Move records with seq <= ``upto`` to the archive, except those of orders in
        ``keep``; how many moved. Each batch is committed to the archive before it is
        deleted here, so an interruption leaves a record in both files, never in none."""
        if self.archive_path is None:
            return 0
        moved = 0
        after = 0
        while True:
            with self._lock:  # narrow rows: which records, not what they hold
                rows = self._conn.execute(
                    "SELECT seq, client_order_id FROM events"
                    " WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                    (after, upto, _COMPACT_SCAN),
                ).fetchall()
            if not rows:
                break
            after = rows[-1][0]
            doomed = [seq for seq, cid in rows if cid is None or cid not in keep]
            for i in range(0, len(doomed), _COMPACT_BATCH):
                moved += self._archive_batch(doomed[i : i + _COMPACT_BATCH])
        return moved

    def _archive_batch(self, seqs: list[int]) -> int:
        archive = self._open_archive(create=True)
        assert archive is not None
        marks = ",".join("?" * len(seqs))
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, at, kind, client_order_id, payload FROM events"
                f" WHERE seq IN ({marks})",
                seqs,
            ).fetchall()
        # The archive is this thread's alone: its commit (an fsync) does not hold up appends.
        with _Tx(archive):
            archive.executemany(
                "INSERT OR IGNORE INTO events"
                " (seq, at, kind, client_order_id, payload) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        with self._lock:
            with self._transaction():
                self._conn.execute(f"DELETE FROM events WHERE seq IN ({marks})", seqs)
            # Give the freed pages back (a no-op for a file made without auto_vacuum).
            self._conn.execute("PRAGMA incremental_vacuum")
        return len(rows)

    def _open_archive(self, *, create: bool) -> sqlite3.Connection | None:
        """The archive's connection (made on first use); None if there is none."""
        if self._archive is not None or self.archive_path is None:
            return self._archive
        if not create and not os.path.exists(self.archive_path):
            return None
        conn = sqlite3.connect(self.archive_path, check_same_thread=False, isolation_level=None)
        try:
            tables = _tables(conn)
            if tables:
                meta = dict(conn.execute("SELECT key, value FROM meta"))
                if meta.get("schema") != ARCHIVE_SCHEMA_NAME:
                    raise JournalError(
                        f"journal archive {self.archive_path}: not an archive "
                        f"(schema {meta.get('schema')!r})"
                    )
            conn.execute("PRAGMA journal_mode=WAL")
            # Committed (fsync'd) before the same records are deleted from the journal.
            conn.execute("PRAGMA synchronous=FULL")
            if not tables:
                with _Tx(conn):
                    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                    conn.execute(
                        "CREATE TABLE events (seq INTEGER PRIMARY KEY, at REAL NOT NULL,"
                        " kind TEXT NOT NULL, client_order_id TEXT, payload BLOB NOT NULL)"
                    )
                    conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("schema", ARCHIVE_SCHEMA_NAME), ("version", "1")],
                    )
            # Start-up asks which leased ids have records (Journal.accounted_ids); an archive
            # made before this index gets it on first open (once, on a worker thread).
            with _Tx(conn):
                conn.execute("CREATE INDEX IF NOT EXISTS archive_order ON events (client_order_id)")
        except sqlite3.Error as exc:
            conn.close()
            raise JournalError(f"journal archive {self.archive_path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._archive = conn
        return conn

    # --- the owner -----------------------------------------------------------------------

    def header(self) -> Header:
        """The desk and the venue sessions/accounts this journal was stamped with."""
        with self._lock:
            desk = self._conn.execute("SELECT value FROM meta WHERE key = 'desk'").fetchone()
            rows = self._conn.execute("SELECT name, kind, identity, since FROM venues").fetchall()
        return Header(
            desk[0] if desk else None,
            {name: VenueStamp(kind, identity, since) for name, kind, identity, since in rows},
        )

    def stamp(self, desk: str | None, venues: Mapping[str, tuple[str, str]]) -> None:
        """Record the desk's name and, per venue, ``(kind, identity)`` (replacing earlier
        stamps of those venues)."""
        now = self._wall_clock()
        with self._lock, self._transaction():
            if desk is not None:
                self._conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('desk', ?)", (desk,)
                )
            self._conn.executemany(
                "INSERT OR REPLACE INTO venues (name, kind, identity, since) VALUES (?, ?, ?, ?)",
                [(name, kind, identity, now) for name, (kind, identity) in venues.items()],
            )

    def checkpoint_wal(self) -> None:
        """Write the WAL back into the database file (before the file is moved)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def read_header(path: str | Path) -> Header | None:
    """The header of the journal at ``path``, read-only; None when there is no journal (or
    it has no header yet)."""
    target = Path(path)
    if not target.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        tables = _tables(conn)
        if "venues" not in tables or "meta" not in tables:
            return None
        desk = conn.execute("SELECT value FROM meta WHERE key = 'desk'").fetchone()
        rows = conn.execute("SELECT name, kind, identity, since FROM venues").fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return Header(
        desk[0] if desk else None,
        {name: VenueStamp(kind, identity, since) for name, kind, identity, since in rows},
    )


def probe_journal(path: str | Path) -> str | None:
    """Why a journal at ``path`` could not be opened for writing, or None when it could.

    Proves it without changing anything: an existing file is opened read-only and its schema
    checked, and a scratch file is created and removed where SQLite will need to write (the
    journal's directory, for the file and its WAL; or, when that directory is still to be made,
    the nearest existing one above it).
    """
    import os
    import tempfile

    target = Path(path)
    if target.exists():
        if not target.is_file():
            return f"{target} exists and is not a file"
        try:
            conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
            try:
                tables = {
                    row[0]
                    for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                if tables and "meta" not in tables:
                    return f"{target} is not a journal (tables {sorted(tables)})"
                if tables:
                    meta = dict(conn.execute("SELECT key, value FROM meta"))
                    if meta.get("schema") != SCHEMA_NAME:
                        return f"{target} is not a journal (schema {meta.get('schema')!r})"
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return f"{target} cannot be read as a journal: {exc}"
        if not os.access(target, os.W_OK):
            return f"{target} is not writable"
    directory = target.parent
    existing = directory
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot create {directory}: {existing} is not a directory"
    try:
        if existing == directory:
            fd, scratch = tempfile.mkstemp(prefix=".actors-probe-", dir=directory)
            os.close(fd)
            os.unlink(scratch)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".actors-probe-", dir=existing))
    except OSError as exc:
        what = "write in" if existing == directory else f"create {directory} under"
        return f"cannot {what} {existing}: {exc.strerror or exc}"
    return None


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error (autocommit connection)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        else:
            self._conn.execute("ROLLBACK")
