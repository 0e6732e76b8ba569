"""OKX order-book frames: ``books`` snapshot then updates chained by ``seqId``/``prevSeqId``,
each with the CRC32 ``checksum`` OKX documents, plus ``books5`` and ``bbo-tbt``.

Sequence ids are the engine book's update ids: an update covering ids ``first..last`` has
``seqId = last`` and ``prevSeqId = first - 1``, which is the previous frame's ``seqId`` when
nothing was skipped, so a sequence gap (``Faults.skip_update_ids``) is exactly what a client
sees on OKX: ``prevSeqId`` not equal to the last ``seqId`` it applied. A new subscriber's
snapshot goes out at the next depth tick, after that tick's diff, so the snapshot and the
updates that follow never overlap (``prevSeqId`` of a snapshot is ``-1``).

Checksum (OKX docs, "Checksum" of the order book channel): take up to 25 levels of each side,
best first, and join ``bidPx:bidSz:askPx:askSz:...`` level by level with ``:``, leaving out
whichever side has run out; the CRC32 of that string as a signed 32-bit integer. The strings
are those on the wire, so prices and sizes are written once and reused.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from actors.venues.engine import Book, DepthDiff
from actors.venues.okx.shapes import levels
from actors.venues.rules import Market

if TYPE_CHECKING:
    from actors.venues.server import Venue

CHECKSUM_LEVELS = 25
SNAPSHOT_LEVELS = 400
"""The ``books`` channel's depth: a snapshot carries at most this many levels per side."""


def checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's order-book checksum of levels ``[[price, size, ...], ...]`` (best first)."""
    parts: list[str] = []
    for i in range(CHECKSUM_LEVELS):
        if i < len(bids):
            parts += bids[i][:2]
        if i < len(asks):
            parts += asks[i][:2]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def book_checksum(m: Market, book: Book) -> int:
    """The checksum of ``book`` as it stands."""
    _, bids, asks = book.snapshot(CHECKSUM_LEVELS)
    return checksum(levels(m, book, True, bids), levels(m, book, False, asks))


def snapshot_frame(venue: Venue, m: Market, channel: str = "books") -> dict[str, Any]:
    """A ``books`` snapshot of the book now (``prevSeqId`` -1)."""
    book = venue.engine.books[m.id]
    seq, bids, asks = book.snapshot(SNAPSHOT_LEVELS)
    bid_rows, ask_rows = levels(m, book, True, bids), levels(m, book, False, asks)
    return {
        "arg": {"channel": channel, "instId": m.okx_id},
        "action": "snapshot",
        "data": [
            {
                "asks": ask_rows,
                "bids": bid_rows,
                "ts": str(venue.now_ms()),
                "checksum": checksum(bid_rows, ask_rows),
                "prevSeqId": -1,
                "seqId": seq,
            }
        ],
    }


def update_frame(venue: Venue, m: Market, diff: DepthDiff, now_ms: int) -> dict[str, Any]:
    """A ``books`` update with the levels ``diff`` changed (size ``"0"``: level removed)."""
    book = venue.engine.books[m.id]
    return {
        "arg": {"channel": "books", "instId": m.okx_id},
        "action": "update",
        "data": [
            {
                "asks": levels(m, book, False, sorted(diff.asks)),
                "bids": levels(m, book, True, sorted(diff.bids, reverse=True)),
                "ts": str(now_ms),
                "checksum": book_checksum(m, book),
                "prevSeqId": diff.first - 1,
                "seqId": diff.last,
            }
        ],
    }


def top_frame(venue: Venue, m: Market, channel: str, depth: int) -> dict[str, Any]:
    """A ``books5`` (depth 5) or ``bbo-tbt`` (depth 1) push: the top of the book, whole."""
    book = venue.engine.books[m.id]
    seq, bids, asks = book.snapshot(depth)
    data: dict[str, Any] = {
        "asks": levels(m, book, False, asks),
        "bids": levels(m, book, True, bids),
        "ts": str(venue.now_ms()),
        "seqId": seq,
    }
    if channel == "books5":
        data["instId"] = m.okx_id
    return {"arg": {"channel": channel, "instId": m.okx_id}, "data": [data]}
