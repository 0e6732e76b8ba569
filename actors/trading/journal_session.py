"""Which venue sessions and accounts a journal belongs to: keep it, start afresh, or refuse.

An embedded venue is a fresh exchange at every start: books, balances and orders start over.
A paper journal carried into the next run would bring positions and a HALTED state that no
venue knows about. So a journal records who it belongs to (its ``venues`` table, see
:mod:`actors.trading.journal`), and :func:`open_journal` compares that with the venues of
this run before anything replays it:

* an embedded venue is recognised by the session id it generates at start and serves as the
  ``uid`` of its account (``GET /api/v3/account``, read with ccxt: :func:`read_session`);
* a real exchange by its account, i.e. the fingerprint of the API key
  (:func:`account_identity`: the first 16 hex digits of its SHA-256; never the key).

A journal of other embedded-venue sessions is moved aside (renamed with a UTC timestamp,
with its archive; never deleted) and a fresh one started, unless the run resumes
(``desk.resume``, ``actors run --resume``). A journal of another real account is refused
(:class:`JournalOwnerMismatch`; ``actors run`` and ``actors check`` exit 2 with the reason,
:func:`account_problem`): its orders and positions must not be mixed with another account's.
A venue whose session cannot be read is left as the journal has it (and said so).

>>> account_identity("my-api-key").describe()
'account (key sha256:2e35b6583bdba19c)'
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import trio

from actors.trading.ccxt_bridge import aio, close_exchange, make_exchange
from actors.trading.config import VenueSpec
from actors.trading.journal import (
    Header,
    Journal,
    JournalError,
    VenueStamp,
    archive_path_of,
    read_header,
)
from actors.trading.leases import leases_path_of

Kind = Literal["session", "account"]
SESSION_TIMEOUT = 10.0
"""Seconds to read an embedded venue's session id at start."""


class JournalOwnerMismatch(JournalError):
    """The journal belongs to another real account: refused, never mixed."""


@dataclass(frozen=True, slots=True)
class VenueIdentity:
    """How a journal recognises a venue: an embedded venue's session, a real account."""

    kind: Kind
    value: str

    def describe(self) -> str:
        return describe(self.kind, self.value)


def describe(kind: str, value: str) -> str:
    """``session 123`` or ``account (key sha256:...)``."""
    return f"session {value}" if kind == "session" else f"account (key sha256:{value})"


def account_identity(api_key: str) -> VenueIdentity:
    """A real account, by the fingerprint of its API key (the key itself is never stored)."""
    return VenueIdentity("account", hashlib.sha256(api_key.encode()).hexdigest()[:16])


async def read_session(venue: VenueSpec, timeout: float = SESSION_TIMEOUT) -> VenueIdentity:
    """The session id an embedded venue serves: its account's ``uid``, read with ccxt.

    The embedded venue makes a new one at every start (Binance's ``GET /api/v3/account``
    carries the account's ``uid``; OKX's ``/api/v5/account/config`` too).
    """
    exchange = make_exchange(venue.exchange, venue.ccxt, None)
    try:
        with trio.fail_after(timeout):
            if exchange.id == "okx":
                reply = await aio(exchange.private_get_account_config)()
                uid = (reply.get("data") or [{}])[0].get("uid")
            else:
                uid = (await aio(exchange.private_get_account)()).get("uid")
    finally:
        await close_exchange(exchange)
    if uid is None or uid == "":
        raise ValueError("the venue's account carries no uid")
    return VenueIdentity("session", str(uid))


def static_identities(venues: Sequence[VenueSpec]) -> dict[str, VenueIdentity]:
    """The identities known without asking anyone: real accounts, from their keys."""
    out = {}
    for v in venues:
        key = v.ccxt.get("apiKey")
        if v.identity == "account" and isinstance(key, str) and key:
            out[v.name] = account_identity(key)
    return out


async def identify(
    venues: Sequence[VenueSpec], timeout: float = SESSION_TIMEOUT
) -> tuple[dict[str, VenueIdentity], list[str]]:
    """The identity of every venue that declares one, and a line per venue that could not
    be identified (its session could not be read)."""
    found = static_identities(venues)
    problems: list[str] = []

    async def one(venue: VenueSpec) -> None:
        try:
            found[venue.name] = await read_session(venue, timeout)
        except Exception as exc:
            problems.append(
                f"cannot read the session of venue {venue.name} ({type(exc).__name__}: {exc})"
            )

    async with trio.open_nursery() as nursery:
        for venue in venues:
            if venue.identity == "session":
                nursery.start_soon(one, venue)
    return found, problems


Identify = Callable[[], Awaitable[tuple[dict[str, VenueIdentity], list[str]]]]
"""What the journal actor calls at start to learn the venues' identities."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a journal, and the venues that decided it."""

    action: Literal["keep", "rotate", "refuse"]
    changed: list[str] = field(default_factory=list)
    """``name: <recorded> -> now <current>`` per venue whose session or account differs."""


def judge(header: Header | None, current: Mapping[str, VenueIdentity]) -> Verdict:
    """Keep a journal whose venues are the same (or new to it); start afresh when only
    embedded-venue sessions changed; refuse when a real account differs."""
    if header is None:
        return Verdict("keep")
    sessions, accounts = [], []
    for name, now in sorted(current.items()):
        stamp: VenueStamp | None = header.venues.get(name)
        if stamp is None or (stamp.kind == now.kind and stamp.identity == now.value):
            continue
        line = f"{name}: {describe(stamp.kind, stamp.identity)} -> now {now.describe()}"
        if stamp.kind == "session" and now.kind == "session":
            sessions.append(line)
        else:
            accounts.append(line)
    if accounts:
        return Verdict("refuse", accounts)
    if sessions:
        return Verdict("rotate", sessions)
    return Verdict("keep")


def refusal(path: str, verdict: Verdict) -> str:
    """The operator's line for a refused journal."""
    return (
        f"journal {path} belongs to another account ({'; '.join(verdict.changed)}): refused, "
        "so that two accounts' orders and positions are never mixed; point desk.journal at "
        "another file for this account"
    )


def account_problem(path: str | Path, venues: Sequence[VenueSpec]) -> str | None:
    """Why the journal at ``path`` cannot be used with these real accounts (None: it can).

    Read-only, before anything starts (``actors check`` and ``actors run``: exit 2).
    """
    verdict = judge(read_header(path), static_identities(venues))
    return refusal(str(path), verdict) if verdict.action == "refuse" else None


def rotate_aside(path: str, wall: float) -> str:
    """Rename the (closed) journal at ``path``, its archive and its client-id leases with a
    UTC timestamp; the new name of the journal."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall))
    aside = f"{path}.{stamp}"
    n = 0
    companions = (archive_path_of, leases_path_of)
    while any(os.path.exists(p) for p in (aside, *(c(aside) for c in companions))):
        n += 1
        aside = f"{path}.{stamp}-{n}"
    for source, target in ((path, aside), *((c(path), c(aside)) for c in companions)):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(source + suffix):
                os.rename(source + suffix, target + suffix)
    return aside


@dataclass(slots=True)
class Opened:
    """A journal opened for this run, and what the operator should read about it."""

    journal: Journal
    notes: list[tuple[str, str]] = field(default_factory=list)
    """(``info`` | ``warning``, line)."""
    rotated_to: str | None = None


def open_journal(
    path: str,
    *,
    desk: str | None,
    identities: Mapping[str, VenueIdentity],
    resume: bool = False,
    may_rotate: bool = True,
    wall_clock: Callable[[], float] = time.time,
    sync: str = "normal",
) -> Opened:
    """Open the journal at ``path`` for a run against venues of ``identities``.

    Rotates a journal of other embedded-venue sessions aside and opens a fresh one (unless
    ``resume``, or not ``may_rotate``: a restart of the journal actor within a run keeps the
    file the desk already reads); raises :class:`JournalOwnerMismatch` for another real
    account; stamps the journal with ``desk`` and ``identities``. ``sync`` as in
    :class:`Journal`.
    """
    journal = Journal(path, wall_clock=wall_clock, sync=sync)
    opened = Opened(journal)
    try:
        header = journal.header()
        verdict = judge(header, identities)
        if verdict.action == "refuse":
            raise JournalOwnerMismatch(refusal(path, verdict))
        if verdict.action == "rotate":
            changed = "; ".join(verdict.changed)
            if resume:
                opened.notes.append(
                    ("info", f"journal {path}: resumed although venue sessions changed ({changed})")
                )
            elif not may_rotate:
                opened.notes.append(
                    (
                        "warning",
                        f"journal {path}: venue sessions changed ({changed}); kept, as the "
                        "desk is already running on it",
                    )
                )
            elif path != ":memory:":
                journal.checkpoint_wal()
                journal.close()
                aside = rotate_aside(path, wall_clock())
                opened.rotated_to = aside
                opened.notes.append(
                    (
                        "warning",
                        f"journal {path} belongs to other venue sessions ({changed}): started "
                        f"a fresh journal; the old one is kept as {aside} (desk.resume = true "
                        "or `actors run --resume` continues a journal instead)",
                    )
                )
                journal = opened.journal = Journal(path, wall_clock=wall_clock, sync=sync)
        if header.desk is not None and desk is not None and header.desk != desk:
            opened.notes.append(
                ("warning", f"journal {path} was written by desk {header.desk!r}, now {desk!r}")
            )
        journal.stamp(desk, {name: (i.kind, i.value) for name, i in identities.items()})
    except BaseException:
        opened.journal.close()
        raise
    return opened


def identify_for(venues: Sequence[VenueSpec]) -> Identify | None:
    """The journal actor's ``identify`` for these venues (None: none declares an identity)."""
    declared = [v for v in venues if v.identity is not None]
    if not declared:
        return None

    async def run() -> tuple[dict[str, VenueIdentity], list[str]]:
        return await identify(declared)

    return run
