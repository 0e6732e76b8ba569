"""``actors verify CONFIG``: a desk's journal against what its venues say, over their REST APIs.

For the operator, after a run (or beside a running desk): every venue of the topology is asked,
with the desk's own keys, for every order and trade of its symbols (ccxt's unified
``fetch_orders`` / ``fetch_my_trades``, paged), and invariants 1-4 of
``actors.testing.invariants`` are checked against the journal file. An embedded venue lives
inside the desk's process: it can be asked only while that desk runs, on the fixed port of
its topology (``embedded.port``) or at a URL given with ``--venue NAME=URL`` (an
``actors sim-exchange`` next door, say). Invariants 5-7 are properties of a running process,
checked at the end of every chaos run (``actors run --duration N``) and written to its
``--report``.

>>> # report = verify_topology(load("config/chaos.toml"), urls={"sim-a": "http://127.0.0.1:8765"})
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt

from actors.testing.invariants import InvariantReport, InvariantResult, journal_invariants
from actors.testing.venues import Ledger, LedgerOrder
from actors.trading.ccxt_bridge import order_update_of
from actors.trading.journal import JournalError
from actors.venues.client import ccxt_config
from actors.venues.config import VenueConfig

PAGE = 1000
RUNTIME_ONLY = {
    "books": "a property of a running desk: checked at the end of `actors run --duration`",
    "accounting": "a property of a running desk: checked at the end of `actors run --duration`",
    "contained": "a property of a running desk: checked at the end of `actors run --duration`",
}


def rest_ledger(exchange: Any, venue: str, symbols: list[str], prefix: str) -> Ledger:
    """Every order of ``symbols`` whose client id starts with ``prefix``, and their trades,
    as the venue's REST API tells (Binance: paged by order id and trade id; other exchanges:
    the pages ccxt's ``since`` walks)."""
    ledger = Ledger(venue)
    for symbol in symbols:
        orders = _paged(exchange.fetch_orders, symbol, "orderId")
        ours: dict[str, str] = {}
        for raw in orders:
            update = order_update_of(venue, raw)
            if update is None or not update.client_order_id.startswith(prefix):
                continue
            ours[str(raw.get("id"))] = update.client_order_id
        fills: dict[str, int] = {}
        for trade in _paged(exchange.fetch_my_trades, symbol, "fromId"):
            cid = ours.get(str(trade.get("order")))
            if cid is None:
                continue
            fills[cid] = fills.get(cid, 0) + 1
            amount = Decimal(str(trade["amount"]))
            ledger.traded[symbol] += amount if trade["side"] == "buy" else -amount
        for raw in orders:
            update = order_update_of(venue, raw)
            if update is None or not update.client_order_id.startswith(prefix):
                continue
            ledger.orders.append(
                LedgerOrder(
                    update.client_order_id,
                    symbol,
                    update.status,
                    update.filled,
                    fills.get(update.client_order_id, 0),
                )
            )
    return ledger


def _paged(fetch: Callable[..., list[dict[str, Any]]], symbol: str, cursor: str) -> list[Any]:
    """All pages of a Binance-style listing (``orderId`` / ``fromId`` cursors)."""
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    while True:
        page = fetch(symbol, None, PAGE, params)
        rows += page
        if len(page) < PAGE:
            return rows
        last = max(int(r["id"]) for r in page)
        params = {cursor: last + 1}


def exchange_for(
    topology: Any, index: int, urls: Mapping[str, str], env: Mapping[str, str]
) -> tuple[Any | None, str | None]:
    """A ccxt REST client for venue ``index`` of ``topology``, or None and why not."""
    venue = topology.venues[index]
    if venue.kind == "embedded":
        embedded = venue.embedded
        url = urls.get(venue.name) or (
            f"http://127.0.0.1:{embedded.port}" if embedded.port else None
        )
        if url is None:
            return None, (
                f"embedded on a free port: give venues[{index}].embedded.port or "
                f"--venue {venue.name}=URL"
            )
        if embedded.api_key is None or embedded.secret is None:
            return None, (
                f"its credentials are generated for each run: give venues[{index}].embedded."
                "api_key and secret to check it from outside the desk"
            )
        defaults = VenueConfig(name=venue.name, protocol=embedded.protocol)
        config = ccxt_config(
            url,
            embedded.api_key,
            embedded.secret,
            protocol=embedded.protocol,
            password=defaults.passphrase,
        )
        return getattr(ccxt, embedded.protocol)(config), None
    options = dict(venue.options)
    for key, var in (("apiKey", venue.api_key_env), ("secret", venue.secret_env)):
        if var is not None:
            if not env.get(var):
                return None, f"environment variable {var} is not set"
            options[key] = env[var]
    return getattr(ccxt, venue.exchange)(options), None


def verify_topology(
    topology: Any,
    *,
    urls: Mapping[str, str] | None = None,
    env: Mapping[str, str] = os.environ,
    prefix: str = "ax",
) -> InvariantReport:
    """Invariants 1-4 of ``topology``'s journal against its venues (see the module doc).

    A venue that cannot be asked makes those invariants fail with the reason: a check that
    could not look is not a pass.
    """
    journal = topology.desk.journal
    if not Path(journal).is_file():
        results = [InvariantResult(n, False, (f"no journal at {journal}",)) for n in _FIRST_FOUR]
        return InvariantReport(results + _skipped())
    ledgers: dict[str, Ledger | None] = {}
    unreachable: list[str] = []
    for i, venue in enumerate(topology.venues):
        exchange, why = exchange_for(topology, i, urls or {}, env)
        if exchange is None:
            unreachable.append(f"venue {venue.name}: {why}")
            continue
        try:
            ledgers[venue.name] = rest_ledger(exchange, venue.name, list(venue.symbols), prefix)
        except ccxt.BaseError as exc:
            unreachable.append(f"venue {venue.name}: {type(exc).__name__}: {str(exc)[:200]}")
    try:
        results = journal_invariants(journal, ledgers)
    except JournalError as exc:
        results = [InvariantResult(n, False, (str(exc),)) for n in _FIRST_FOUR]
    if unreachable:
        results = [
            InvariantResult(r.name, False, (*unreachable, *r.evidence))
            if r.ok is not False
            else InvariantResult(r.name, False, (*r.evidence, *unreachable))
            for r in results
        ]
    return InvariantReport(results + _skipped())


_FIRST_FOUR = ("approved", "unique", "reconciled", "positions")


def _skipped() -> list[InvariantResult]:
    return [InvariantResult(name, None, (why,)) for name, why in RUNTIME_ONLY.items()]
