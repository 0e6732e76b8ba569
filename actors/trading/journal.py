"""The durable, append-only journal of order events (SQLite, WAL, synchronous=FULL).

Every intent, risk decision, submit, ack, fill, cancel, status change, reconciliation and
trading-state change is appended *before* the next step acts on it; :meth:`Journal.append`
returns only after the transaction committed (fsync'd under ``synchronous=FULL``), so a killed
process restarts into the same order state with :meth:`Journal.rebuild`.

Schema version 1::

    meta(key TEXT PRIMARY KEY, value TEXT)         -- ('schema', 'actors.journal'), ('version', '1')
    events(seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL, kind TEXT,
           client_order_id TEXT, payload BLOB)     -- payload: msgspec JSON of the message

Replay is total: :meth:`Journal.recover` applies every record it can and quarantines the
rest (undecodable bytes, a kind that does not match its payload, invalid values, an event
out of order or for an unknown order, a duplicate): the record stays where it is, a copy and
the reason go to the ``quarantine`` table, and every later read skips it. A quarantined
record is reported (logged by the journal actor, counted), never a reason not to start::

    quarantine(seq INTEGER PRIMARY KEY, at REAL, kind TEXT, client_order_id TEXT,
               payload BLOB, reason TEXT)

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

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from actors.trading.messages import (
    AnyMessage,
    CancelOrder,
    CancelRejected,
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
SCHEMA_VERSION = 1
_PAGE = 512

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
}
"""Journal kinds and the message types each may carry."""

_ORDER_EVENTS = (
    OrderIntent,
    RiskApproved,
    RiskRejected,
    SubmitOrder,
    SubmitUnknown,
    CancelOrder,
    CancelRejected,
    OrderUpdate,
    Fill,
    ReconcileResult,
)


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


@dataclass(frozen=True, slots=True)
class JournalEvent:
    seq: int
    at: float
    """Wall-clock seconds (epoch) when appended."""
    kind: str
    client_order_id: str | None
    message: AnyMessage


class Journal:
    """An open journal file. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
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
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.path}: not an SQLite database ({exc})") from exc
        if tables and "meta" not in tables:
            raise JournalError(
                f"journal {self.path}: not a journal (tables {sorted(tables)}, no 'meta')"
            )
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
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"journal {self.path}: cannot switch to WAL (mode {mode})")
        conn.execute("PRAGMA synchronous=FULL")
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
        # Added after version 1 shipped; an older file gets it on first open.
        conn.execute(
            "CREATE TABLE IF NOT EXISTS quarantine ("
            " seq INTEGER PRIMARY KEY, at REAL, kind TEXT, client_order_id TEXT,"
            " payload BLOB, reason TEXT NOT NULL)"
        )

    def _transaction(self) -> _Tx:
        return _Tx(self._conn)

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
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
        with self._lock:
            row = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def events(
        self, since_seq: int = 0, client_order_id: str | None = None
    ) -> Iterator[JournalEvent]:
        """Events with seq > ``since_seq`` in order (read page by page, lock not held between).

        Quarantined records are skipped; a record that cannot be decoded and was not
        quarantined yet (no :meth:`recover` since it was written) raises
        :class:`JournalCorrupt`.
        """
        last = since_seq
        while True:
            rows = self._page(last, client_order_id)
            for seq, at, kind, cid, payload in rows:
                last = seq
                yield JournalEvent(seq, at, kind, cid, self._decode(seq, kind, payload))
            if len(rows) < _PAGE:
                return

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

    def recover(self, now: float = 0.0, unknown_grace: float = 30.0) -> Recovery:
        """Replay every record it can; quarantine the rest (never raises for a bad record).

        ``now`` is the caller's trio clock: replayed events get it as their time, and orders
        still in flight restart their reconciliation grace period from it (trio's clock has a
        new origin in a new process, so old clock values mean nothing).
        """
        table = OrderTable(unknown_grace=unknown_grace)
        portfolio = Portfolio()
        state: TradingState | None = None
        found: list[tuple[Quarantined, float, bytes | str]] = []
        last = 0
        while True:
            rows = self._page(last)
            for seq, at, kind, cid, payload in rows:
                last = seq
                try:
                    msg = self._decode(seq, kind, payload)
                    if isinstance(msg, _ORDER_EVENTS):
                        table.apply(msg, now)
                    if isinstance(msg, Fill):
                        portfolio.apply_fill(msg)
                    elif isinstance(msg, (SetTradingState, TradingStateChanged)):
                        state = msg.state
                except Exception as exc:  # total: whatever a record holds, it is set aside
                    reason = (
                        str(exc) if isinstance(exc, JournalCorrupt) else f"cannot replay: {exc}"
                    )
                    found.append((Quarantined(seq, kind, cid, reason), at, payload))
            if len(rows) < _PAGE:
                break
        if found:
            with self._lock, self._transaction():
                self._conn.executemany(
                    "INSERT OR IGNORE INTO quarantine"
                    " (seq, at, kind, client_order_id, payload, reason) VALUES (?, ?, ?, ?, ?, ?)",
                    [(q.seq, at, q.kind, q.client_order_id, p, q.reason) for q, at, p in found],
                )
        table.rebase_clock(now)
        return Recovery(table, portfolio, state, [q for q, _, _ in found], len(self.quarantined()))

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
