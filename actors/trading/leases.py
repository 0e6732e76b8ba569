"""Durable leases of client order ids: a block of ids is fsync'd before any id in it is used.

The journal commits with ``synchronous=NORMAL`` (:mod:`actors.trading.journal`): a commit
survives any crash of the process, but a power loss may take the journal's last records
with it, among them the write-ahead record of an order that did reach the venue. The venue
is the second source of truth, and the lease is how the desk knows what to ask it: a
strategy uses only client order ids it was leased, each lease (a block of counters of one
id stem, see :mod:`actors.trading.ids`) is written and fsync'd here before the strategy
gets it, and at start-up every leased id the journal lacks is looked up at the venue by
client order id and adopted (the router does it, :meth:`Router._recover_leases`).

A lease costs one fsync per block (``journal.id_block`` ids, 16 by default), on a worker
thread, requested before the strategy runs out, so an order never waits for one; what it
costs at start-up is one lookup per unused id of the last leases (per venue and symbol the
strategy trades): small blocks keep that short.

The store is its own SQLite file beside the journal (``<journal>.leases``,
``synchronous=FULL``), so its fsync never holds the journal's lock: the write-ahead commits
on the trio thread go on meanwhile.

>>> store = LeaseStore(":memory:")
>>> lease = store.grant("run1", "mm", "ax2mmloyw3v286sl", 16, ("sim",), ("BTC/USDT",))
>>> (lease.first, lease.end)
(0, 16)
>>> store.grant("run1", "mm", "ax2mmloyw3v286sl", 16, ("sim",), ("BTC/USDT",)).first
16
>>> [lease.strategy for lease in store.outstanding("run2")]
['mm', 'mm']
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from actors.trading.protocol import IdLease

SCHEMA_NAME = "actors.leases"


def leases_path_of(journal_path: str | Path) -> str:
    """Where the leases of the journal at ``journal_path`` live (``<journal>.leases``)."""
    path = str(journal_path)
    return path if path == ":memory:" else f"{path}.leases"


class LeaseError(Exception):
    """The lease file cannot be opened or written."""


class LeaseStore:
    """The leases of a journal; every :meth:`grant` is fsync'd before it returns.

    Synchronous and guarded by a lock (the journal actor calls it on a worker thread).
    """

    def __init__(self, path: str | Path, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._init()
        except sqlite3.Error as exc:
            raise LeaseError(f"leases {self.path}: {exc}") from exc

    def _init(self) -> None:
        conn = self._conn
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise LeaseError(f"leases {self.path}: not a lease file (tables {sorted(tables)})")
        conn.execute("PRAGMA journal_mode=WAL")
        # Every grant is on disk before its ids may be used: that is the whole point.
        conn.execute("PRAGMA synchronous=FULL")
        if tables:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            if meta.get("schema") != SCHEMA_NAME:
                raise LeaseError(f"leases {self.path}: not a lease file ({meta.get('schema')!r})")
            return
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute(
            "CREATE TABLE leases (seq INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL,"
            " strategy TEXT NOT NULL, stem TEXT NOT NULL, first INTEGER NOT NULL,"
            " end INTEGER NOT NULL, venues TEXT NOT NULL, symbols TEXT NOT NULL,"
            " at REAL NOT NULL)"
        )
        conn.execute("CREATE INDEX leases_stem ON leases (stem, end)")
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema", SCHEMA_NAME), ("version", "1")],
        )
        conn.execute("COMMIT")

    def grant(
        self,
        run: str,
        strategy: str,
        stem: str,
        count: int,
        venues: Iterable[str] = (),
        symbols: Iterable[str] = (),
    ) -> IdLease:
        """Lease the next ``count`` counters of ``stem`` (after its last lease), on disk when
        this returns; ``venues``/``symbols`` say where its ids may be used (looked up)."""
        if not 1 <= count <= 1_000_000:
            raise ValueError(f"count: expected 1..1000000 ids, got {count}")
        venues, symbols = tuple(venues), tuple(symbols)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT MAX(end) FROM leases WHERE stem = ?", (stem,)).fetchone()
                first = int(row[0] or 0)
                cur = conn.execute(
                    "INSERT INTO leases (run, strategy, stem, first, end, venues, symbols, at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run, strategy, stem, first, first + count, json.dumps(venues),
                     json.dumps(symbols), self._wall_clock()),
                )  # fmt: skip
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        assert cur.lastrowid is not None
        return IdLease(
            seq=cur.lastrowid, run=run, strategy=strategy, stem=stem, first=first,
            end=first + count, venues=venues, symbols=symbols,
        )  # fmt: skip

    def outstanding(self, run: str) -> list[IdLease]:
        """Leases granted by other runs than ``run`` (not settled yet), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, run, strategy, stem, first, end, venues, symbols FROM leases"
                " WHERE run != ? ORDER BY seq",
                (run,),
            ).fetchall()
        return [_lease_of(row) for row in rows]

    def settle(self, seqs: Iterable[int]) -> int:
        """Forget leases whose ids are all accounted for (journaled or looked up)."""
        marks = list(seqs)
        if not marks:
            return 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            cur = self._conn.executemany("DELETE FROM leases WHERE seq = ?", [(s,) for s in marks])
            self._conn.execute("COMMIT")
        return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> LeaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lease_of(row: tuple[Any, ...]) -> IdLease:
    seq, run, strategy, stem, first, end, venues, symbols = row
    return IdLease(
        seq=seq, run=run, strategy=strategy, stem=stem, first=first, end=end,
        venues=tuple(json.loads(venues)), symbols=tuple(json.loads(symbols)),
    )  # fmt: skip


def ids_of(lease: IdLease, format_id: Callable[[str, int], str]) -> Iterator[str]:
    """Every client order id of ``lease`` (``format_id(stem, counter)``)."""
    for counter in range(lease.first, lease.end):
        yield format_id(lease.stem, counter)
